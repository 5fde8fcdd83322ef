//! The account each enrolment is charged to (`enrolment.account_id`): migration 0003 on a
//! database with data, `ledger::ensure_accounts`, and the synthetic tenant of the benchmark.
//! Run on SQLite and (when configured) PostgreSQL.

use std::path::PathBuf;

use refettorio_db::testing::{POSTGRES_ENV, TestDb, with_database};
use refettorio_db::{Backend, Db, ledger, on_conn, synthetic};
use refettorio_domain::{ServiceId, TenantId};

fn t0() -> jiff::Timestamp {
    "2026-09-01T08:00:00Z".parse().unwrap()
}

/// A database with only the migrations before 0003 applied, and how to remove it.
struct Old {
    db: Db,
    file: Option<PathBuf>,
    postgres: Option<(String, String)>,
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Applies the migrations before 0003.
async fn migrate_before_0003(db: &Db) {
    match db {
        Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite")
            .run_to(2, p)
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::migrate!("./migrations/postgres")
            .run_to(2, p)
            .await
            .unwrap(),
    }
}

async fn old_databases() -> Vec<Old> {
    let path = std::env::temp_dir().join(format!("{}.sqlite", unique("refettorio_old")));
    let db = Db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    migrate_before_0003(&db).await;
    let mut out = vec![Old {
        db,
        file: Some(path),
        postgres: None,
    }];
    if let Ok(admin_url) = std::env::var(POSTGRES_ENV) {
        let name = unique("refettorio_old");
        let admin = Db::connect_with(&admin_url, 1).await.unwrap();
        if let Db::Postgres(p) = &admin {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(p)
                .await
                .unwrap();
        }
        admin.close().await;
        let db = Db::connect_with(&with_database(&admin_url, &name).unwrap(), 2)
            .await
            .unwrap();
        migrate_before_0003(&db).await;
        out.push(Old {
            db,
            file: None,
            postgres: Some((admin_url, name)),
        });
    } else {
        eprintln!("note: {POSTGRES_ENV} is not set: this test runs on SQLite only");
    }
    out
}

impl Old {
    async fn cleanup(self) {
        self.db.close().await;
        if let Some(path) = self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((admin_url, name)) = self.postgres
            && let Ok(Db::Postgres(p)) = Db::connect_with(&admin_url, 1).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&p)
            .await;
        }
    }
}

/// Runs `INSERT … RETURNING id`.
async fn insert(db: &Db, sql: &str) -> i64 {
    let mut h = db.acquire().await.unwrap();
    let sql = format!("{sql} RETURNING id");
    on_conn!(&mut h.conn(), |c| sqlx::query_scalar(sqlx::AssertSqlSafe(
        sql
    ))
    .fetch_one(&mut *c)
    .await
    .unwrap())
}

async fn execute(db: &Db, sql: &str) -> Result<u64, sqlx::Error> {
    let mut h = db.acquire().await.unwrap();
    let sql = sql.to_string();
    on_conn!(&mut h.conn(), |c| Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

async fn ids(db: &Db, sql: &str) -> Vec<Option<i64>> {
    let mut h = db.acquire().await.unwrap();
    let sql = sql.to_string();
    on_conn!(&mut h.conn(), |c| sqlx::query_scalar(sqlx::AssertSqlSafe(
        sql
    ))
    .fetch_all(&mut *c)
    .await
    .unwrap())
}

/// Enrolments whose account is not the account of their pupil's family for their service.
async fn wrongly_linked(db: &Db) -> i64 {
    let v = ids(
        db,
        "SELECT COUNT(*) FROM enrolment e \
         JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
         LEFT JOIN account a ON a.tenant_id = e.tenant_id AND a.family_id = p.family_id \
           AND a.service_id = e.service_id \
         WHERE e.account_id IS NOT NULL AND (a.id IS NULL OR a.id <> e.account_id)",
    )
    .await;
    v[0].unwrap()
}

#[tokio::test]
async fn migration_0003_links_the_enrolments_of_a_database_with_data() {
    for old in old_databases().await {
        let db = &old.db;
        let backend = db.backend();
        let t = insert(
            db,
            "INSERT INTO tenant (slug, name, fiscal_code, timezone, cutoff_time, settings, created_at) \
             VALUES ('alfa', 'Comune di Alfa', '80012345678', 'Europe/Rome', '09:30', '{}', 0)",
        )
        .await;
        let year = insert(
            db,
            &format!(
                "INSERT INTO school_year (tenant_id, label, starts_on, ends_on, first_day, last_day) \
                 VALUES ({t}, '2026/2027', '2026-09-01', '2027-08-31', '2026-09-14', '2027-06-08')"
            ),
        )
        .await;
        let school = insert(
            db,
            &format!(
                "INSERT INTO school (tenant_id, name, kind) VALUES ({t}, 'Primaria', 'primaria')"
            ),
        )
        .await;
        let class = insert(
            db,
            &format!(
                "INSERT INTO class (tenant_id, school_year_id, school_id, name, canteen_weekdays) \
                 VALUES ({t}, {year}, {school}, '1 A', 31)"
            ),
        )
        .await;
        let service = insert(
            db,
            &format!(
                "INSERT INTO service (tenant_id, school_year_id, kind, billing, name) \
                 VALUES ({t}, {year}, 'refezione', 'prepaid', 'Refezione')"
            ),
        )
        .await;
        let band = insert(
            db,
            &format!(
                "INSERT INTO tariff_band (tenant_id, service_id, name, residency, meal_price_cents, fixed_fee_cents) \
                 VALUES ({t}, {service}, 'Unica', 'any', 450, 0)"
            ),
        )
        .await;
        let mut families = Vec::new();
        for (n, cf) in ["RSSMRA80A01H501U", "BNCLRA82B42F205M"].iter().enumerate() {
            let g = insert(
                db,
                &format!(
                    "INSERT INTO guardian (tenant_id, fiscal_code, first_name, last_name) \
                     VALUES ({t}, '{cf}', 'Genitore', 'N{n}')"
                ),
            )
            .await;
            families.push(
                insert(
                    db,
                    &format!("INSERT INTO family (tenant_id, payer_id) VALUES ({t}, {g})"),
                )
                .await,
            );
        }
        // Two children in the first family, one in the second.
        let mut enrolments = Vec::new();
        for (n, family) in [families[0], families[0], families[1]].iter().enumerate() {
            let p = insert(
                db,
                &format!(
                    "INSERT INTO pupil (tenant_id, family_id, first_name, last_name, birth_date) \
                     VALUES ({t}, {family}, 'Alunno', 'N{n}', '2019-03-02')"
                ),
            )
            .await;
            enrolments.push(
                insert(
                    db,
                    &format!(
                        "INSERT INTO enrolment (tenant_id, pupil_id, service_id, school_id, class_id, \
                           tariff_band_id, meal_price_cents, fixed_fee_cents, state, start_date, card_code) \
                         VALUES ({t}, {p}, {service}, {school}, {class}, {band}, 450, 0, 'attivo', \
                           '2026-09-14', 'CARD-{n}')"
                    ),
                )
                .await,
            );
        }
        // Only the first family has an account (the second enrolled after the last close).
        let account = insert(
            db,
            &format!(
                "INSERT INTO account (tenant_id, family_id, service_id, created_at) \
                 VALUES ({t}, {}, {service}, 0)",
                families[0]
            ),
        )
        .await;
        for e in &enrolments {
            execute(
                db,
                &format!(
                    "INSERT INTO booking (tenant_id, enrolment_id, day, choice, changed_at, changed_by) \
                     VALUES ({t}, {e}, '2026-11-23', 'absent', 0, 'genitore')"
                ),
            )
            .await
            .unwrap();
        }
        let charge = insert(
            db,
            &format!(
                "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, enrolment_id, \
                   idempotency_key, created_by, created_at) \
                 VALUES ({t}, {account}, 'meal_charge', -450, '2026-11-20', {}, 'meal:2026-11-20:{}', 'close', 0)",
                enrolments[0], enrolments[0]
            ),
        )
        .await;
        insert(
            db,
            &format!(
                "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, reverses_id, \
                   idempotency_key, created_by, created_at) \
                 VALUES ({t}, {account}, 'reversal', 450, '2026-11-20', {charge}, 'reversal:{charge}', 'x', 0)"
            ),
        )
        .await;

        db.migrate().await.unwrap();

        let linked = ids(db, "SELECT account_id FROM enrolment ORDER BY id").await;
        assert_eq!(
            linked,
            vec![Some(account), Some(account), None],
            "{backend:?}"
        );
        assert_eq!(wrongly_linked(db).await, 0);
        assert_eq!(
            ids(db, "SELECT COUNT(*) FROM booking").await,
            vec![Some(3)],
            "{backend:?}"
        );
        if backend == Backend::Sqlite {
            assert_eq!(
                ids(db, "SELECT COUNT(*) FROM pragma_foreign_key_check").await,
                vec![Some(0)]
            );
        }
        // An entry is still reversed at most once.
        let again = execute(
            db,
            &format!(
                "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, reverses_id, \
                   idempotency_key, created_by, created_at) \
                 VALUES ({t}, {account}, 'reversal', 450, '2026-11-20', {charge}, 'reversal-2', 'x', 0)"
            ),
        )
        .await;
        assert!(
            again.is_err_and(|e| e
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation())),
            "{backend:?}"
        );
        // The composite foreign key: no account of another tenant, none that does not exist.
        assert!(
            execute(
                db,
                &format!(
                    "UPDATE enrolment SET account_id = {} WHERE id = {}",
                    account + 1000,
                    enrolments[2]
                )
            )
            .await
            .is_err(),
            "{backend:?}"
        );

        // The close's first step opens the second family's account and links its enrolment.
        let (tenant, service) = (TenantId(t), ServiceId(service));
        let mut tx = db.begin().await.unwrap();
        let opened = ledger::ensure_accounts(&mut tx.conn(), tenant, service, t0())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(opened, 1, "{backend:?}");
        let linked = ids(db, "SELECT account_id FROM enrolment ORDER BY id").await;
        assert!(linked.iter().all(Option::is_some), "{linked:?}");
        assert_ne!(linked[2], Some(account));
        assert_eq!(wrongly_linked(db).await, 0, "{backend:?}");
        let mut tx = db.begin().await.unwrap();
        let opened = ledger::ensure_accounts(&mut tx.conn(), tenant, service, t0())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(opened, 0);
        assert_eq!(
            ids(db, "SELECT account_id FROM enrolment ORDER BY id").await,
            linked
        );
        old.cleanup().await;
    }
}

#[tokio::test]
async fn the_synthetic_tenant_is_linked_and_has_its_opening_credit() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let mut tx = db.begin().await.unwrap();
        let syn = synthetic::build(&mut tx.conn(), "sintetico", 60, t0())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let tenant = syn.tenant.get();
        assert_eq!(
            ids(
                db,
                &format!(
                    "SELECT COUNT(*) FROM enrolment WHERE tenant_id = {tenant} AND account_id IS NOT NULL"
                )
            )
            .await,
            vec![Some(60)]
        );
        assert_eq!(wrongly_linked(db).await, 0);
        // One opening entry per account: 2 meals for every tenth account, 30 for the others.
        let credits = ids(
            db,
            &format!(
                "SELECT amount_cents FROM ledger_entry WHERE tenant_id = {tenant} AND kind = 'carry_over' \
                 ORDER BY account_id"
            ),
        )
        .await;
        assert_eq!(credits.len(), 60);
        assert_eq!(credits.iter().filter(|c| **c == Some(900)).count(), 6);
        assert_eq!(credits.iter().filter(|c| **c == Some(13_500)).count(), 54);
        assert_eq!(
            ids(
                db,
                &format!(
                    "SELECT COUNT(*) FROM guardian WHERE tenant_id = {tenant} AND email IS NOT NULL"
                )
            )
            .await,
            vec![Some(60)]
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_ledger_entry_needs_an_account_of_its_tenant_and_accounts_stay() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let mut tx = db.begin().await.unwrap();
        let syn = synthetic::build(&mut tx.conn(), "sintetico", 5, t0())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let tenant = syn.tenant.get();
        let account = ids(db, "SELECT MIN(id) FROM account").await[0].unwrap();
        let entries = || ids(db, "SELECT COUNT(*) FROM ledger_entry");
        let before = entries().await;
        let row = |account: i64, key: &str| {
            format!(
                "({tenant}, {account}, 'adjustment', 100, '2026-11-23', '{key}', 'test', '', 0)"
            )
        };
        let insert = "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, \
                      idempotency_key, created_by, reason, created_at) VALUES ";
        // One good row and one naming no account: the statement fails whole, on both databases.
        let bad = format!(
            "{insert}{}, {}",
            row(account, "good"),
            row(999_999_999, "bad")
        );
        assert!(execute(db, &bad).await.is_err(), "{:?}", t.db.backend());
        // An account of this tenant under another tenant's id: refused too.
        let other = format!(
            "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, \
             idempotency_key, created_by, reason, created_at) \
             SELECT id, {account}, 'adjustment', 100, '2026-11-23', 'other', 'test', '', 0 \
             FROM tenant WHERE id <> {tenant}"
        );
        execute(
            db,
            "INSERT INTO tenant (slug, name, fiscal_code, timezone, cutoff_time, settings, created_at) \
             VALUES ('altro', 'Altro', '80001111220', 'Europe/Rome', '09:30', '{}', 0)",
        )
        .await
        .unwrap();
        assert!(execute(db, &other).await.is_err(), "{:?}", t.db.backend());
        assert_eq!(entries().await, before, "nothing written");
        // The good row alone is written.
        let good = format!("{insert}{}", row(account, "good"));
        assert_eq!(execute(db, &good).await.unwrap(), 1);
        // An account with entries is never deleted.
        let delete = format!("DELETE FROM account WHERE id = {account}");
        assert!(execute(db, &delete).await.is_err(), "{:?}", t.db.backend());
        if t.db.backend() == Backend::Postgres {
            // On PostgreSQL no account is deleted, truncated or moved at all (the ledger's
            // check takes no lock on it, so that must hold).
            let same = format!("UPDATE account SET tenant_id = tenant_id WHERE id = {account}");
            assert_eq!(execute(db, &same).await.unwrap(), 1, "same values: allowed");
            let moved = format!(
                "UPDATE account SET tenant_id = (SELECT id FROM tenant WHERE slug = 'altro') \
                 WHERE id = {account}"
            );
            assert!(execute(db, &moved).await.is_err());
            assert!(execute(db, "TRUNCATE account CASCADE").await.is_err());
            assert!(
                execute(db, "DELETE FROM account WHERE false")
                    .await
                    .is_err()
            );
        }
        t.cleanup().await;
    }
}
