//! `refettorio bench …`: benchmarks that print their figures.

use std::time::Instant;

use anyhow::Context;
use refettorio_db::synthetic::with_database;
use refettorio_db::{Conn, Db, on_conn};
use refettorio_domain::FixedClock;

/// A scratch database: a new SQLite file, or a new database on the given PostgreSQL server;
/// removed afterwards.
pub(crate) struct Scratch {
    pub(crate) db: Db,
    pub(crate) drop:
        Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>,
}

pub(crate) async fn scratch(url: Option<&str>) -> anyhow::Result<Scratch> {
    let name = format!("refettorio_bench_{}", std::process::id());
    match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            let admin = Db::connect_with(u, 1).await?;
            if let Db::Postgres(p) = &admin {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(p)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(p)
                    .await?;
            }
            admin.close().await;
            let db = Db::connect_with(&with_database(u, &name)?, 4).await?;
            let admin_url = u.to_string();
            Ok(Scratch {
                db,
                drop: Box::new(move || {
                    Box::pin(async move {
                        if let Ok(Db::Postgres(p)) = Db::connect_with(&admin_url, 1).await {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&p)
                            .await;
                        }
                    })
                }),
            })
        }
        Some(u) => anyhow::bail!(
            "bench needs a postgres:// URL, or none for a scratch SQLite file (got '{u}')"
        ),
        None => {
            let path = std::env::temp_dir().join(format!("{name}.sqlite"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            let db = Db::connect(&format!("sqlite://{}", path.display())).await?;
            Ok(Scratch {
                db,
                drop: Box::new(move || {
                    Box::pin(async move {
                        for suffix in ["", "-wal", "-shm"] {
                            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                        }
                    })
                }),
            })
        }
    }
}

/// Builds a synthetic municipality with `enrolments` enrolments, closes Monday 23 Nov 2026 and
/// times the close (`app::close::close`: claim, accounts, charges, kitchen e-mail, commit) against a
/// bare `INSERT … SELECT` of as many rows into a copy of the ledger's table (see [`reference`]).
/// The low-balance warnings that follow the close in their own transaction are timed apart and
/// printed on stderr. Returns the summary line.
pub async fn close_day(url: Option<&str>, enrolments: u32) -> anyhow::Result<String> {
    let s = scratch(url).await?;
    let result = run(&s.db, enrolments).await;
    s.db.close().await;
    (s.drop)().await;
    result
}

async fn run(db: &Db, enrolments: u32) -> anyhow::Result<String> {
    db.migrate().await?;
    let clock = FixedClock::new("2026-11-23T12:00:00Z".parse()?);
    let day = jiff::civil::date(2026, 11, 23);
    let started = Instant::now();
    let mut tx = db.begin().await?;
    let syn =
        refettorio_db::synthetic::build(&mut tx.conn(), "sintetico", enrolments, clock_now(&clock))
            .await?;
    tx.commit().await?;
    eprintln!(
        "bench: built {enrolments} enrolments in {} ms",
        started.elapsed().as_millis()
    );
    let tenant = {
        let mut h = db.acquire().await?;
        refettorio_db::registry::tenant::by_id(&mut h.conn(), syn.tenant)
            .await?
            .context("synthetic tenant missing")?
    };

    settle(db).await?;
    let t = Instant::now();
    let outcome = refettorio_app::close::close(
        refettorio_app::Ctx::new(db, &clock, &tenant, refettorio_domain::Actor::Close),
        day,
    )
    .await?;
    let close = t.elapsed();
    anyhow::ensure!(
        outcome.charged == u64::from(enrolments),
        "the close charged {} meals, expected {enrolments}",
        outcome.charged
    );
    // What follows each close, in its own transaction: timed apart, and printed.
    let t = Instant::now();
    let warnings = refettorio_app::close::warn_low_balances(
        refettorio_app::Ctx::new(db, &clock, &tenant, refettorio_domain::Actor::Close),
        day,
    )
    .await?;
    let warn = t.elapsed();
    let kitchen: i64 = {
        let mut h = db.acquire().await?;
        on_conn!(&mut h.conn(), |c| {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'kitchen_numbers'")
                .fetch_one(&mut *c)
                .await?
        })
    };
    eprintln!(
        "bench: the close charged {} meals and queued {kitchen} kitchen e-mail(s) in {} ms; \
         the low-balance warnings after it queued {warnings} e-mails in {} ms (both: {} ms)",
        outcome.charged,
        close.as_millis(),
        warn.as_millis(),
        (close + warn).as_millis()
    );

    let reference = reference(db, syn.tenant.get(), day).await?;
    let close_ms = close.as_secs_f64() * 1000.0;
    let reference_ms = reference.as_secs_f64() * 1000.0;
    Ok(format!(
        "close-day enrolments={enrolments} close_ms={close_ms:.0} reference_ms={reference_ms:.0} ratio={:.2}",
        close_ms / reference_ms.max(0.001)
    ))
}

fn clock_now(c: &FixedClock) -> jiff::Timestamp {
    refettorio_domain::Clock::now(c)
}

/// Puts the database in the same state before each timed run: written pages checkpointed (on
/// PostgreSQL only when the user may run CHECKPOINT) and the enrolments read once.
async fn settle(db: &Db) -> anyhow::Result<()> {
    let mut h = db.acquire().await?;
    match &mut h.conn() {
        Conn::Postgres(c) => {
            if let Err(e) = sqlx::query("CHECKPOINT").execute(&mut **c).await {
                eprintln!("bench: no CHECKPOINT before the timed run ({e})");
            }
        }
        Conn::Sqlite(c) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut **c)
                .await?;
        }
    }
    on_conn!(&mut h.conn(), |c| {
        sqlx::query("SELECT COUNT(*), SUM(meal_price_cents) FROM enrolment")
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The reference: the same rows as the close's charges written by one bare `INSERT … SELECT`
/// from the enrolments (no bookings, no classes, no accounts to open, no messages) into
/// `bench_ledger_entry`, a copy of `ledger_entry` made from the database's own definition of
/// it: the same columns, checks, keys, indexes, foreign keys and triggers (SQLite: its
/// `CREATE` statements with the names changed; PostgreSQL: `LIKE … INCLUDING ALL` plus the
/// foreign keys and triggers), holding the same rows the ledger held before the close. Timed
/// with its commit, as the close is.
async fn reference(
    db: &Db,
    tenant: i64,
    day: jiff::civil::Date,
) -> anyhow::Result<std::time::Duration> {
    let ddl: Vec<String> = {
        let mut h = db.acquire().await?;
        match &mut h.conn() {
            Conn::Sqlite(c) => {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'ledger_entry' AND sql IS NOT NULL \
                     ORDER BY type DESC, name",
                )
                .fetch_all(&mut **c)
                .await?;
                rows.iter()
                    .map(|s| s.replace("ledger_", "bench_ledger_"))
                    .collect()
            }
            Conn::Postgres(c) => {
                let fks: Vec<String> = sqlx::query_scalar(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
                     WHERE conrelid = 'ledger_entry'::regclass AND contype = 'f' ORDER BY conname",
                )
                .fetch_all(&mut **c)
                .await?;
                let mut ddl = vec![
                    "CREATE TABLE bench_ledger_entry (LIKE ledger_entry INCLUDING ALL)".to_string(),
                ];
                ddl.extend(fks.iter().map(|fk| {
                    format!(
                        "ALTER TABLE bench_ledger_entry ADD {}",
                        fk.replace("REFERENCES ledger_entry(", "REFERENCES bench_ledger_entry(")
                    )
                }));
                // The ledger's own triggers (its set-based account check).
                let triggers: Vec<String> = sqlx::query_scalar(
                    "SELECT pg_get_triggerdef(oid) FROM pg_trigger \
                     WHERE tgrelid = 'ledger_entry'::regclass AND NOT tgisinternal ORDER BY tgname",
                )
                .fetch_all(&mut **c)
                .await?;
                ddl.extend(triggers.iter().map(|t| {
                    t.replacen("CREATE TRIGGER ", "CREATE TRIGGER bench_", 1)
                        .replace(" ON public.ledger_entry ", " ON bench_ledger_entry ")
                        .replace(" ON ledger_entry ", " ON bench_ledger_entry ")
                }));
                ddl
            }
        }
    };
    // SQLite: the table and its three indexes; PostgreSQL: the table, its foreign key (the
    // reversed entry) and its trigger (the accounts' check).
    anyhow::ensure!(ddl.len() >= 3, "the ledger's definition was not found");
    let columns = "tenant_id, account_id, kind, amount_cents, day, pupil_id, enrolment_id, school_id, class_id, \
                   meal, diet_id, reverses_id, reference, idempotency_key, created_by, reason, created_at";
    let fill = format!(
        "INSERT INTO bench_ledger_entry ({columns}) SELECT {columns} FROM ledger_entry \
         WHERE tenant_id = $1 AND NOT (day = $2 AND kind = 'meal_charge') ORDER BY id"
    );
    let insert = "INSERT INTO bench_ledger_entry (tenant_id, account_id, kind, amount_cents, day, pupil_id, \
                  enrolment_id, school_id, class_id, meal, diet_id, idempotency_key, created_by, reason, created_at) \
                  SELECT e.tenant_id, e.account_id, 'meal_charge', -e.meal_price_cents, $2, e.pupil_id, e.id, \
                  e.school_id, e.class_id, 'standard', e.diet_id, 'meal:' || $3 || ':' || CAST(e.id AS TEXT), \
                  'close', '', 0 \
                  FROM enrolment e WHERE e.tenant_id = $1";
    let day_sql = refettorio_db::SqlDate(day);
    let mut tx = db.begin().await?;
    on_conn!(&mut tx.conn(), |c| {
        for stmt in &ddl {
            sqlx::query(sqlx::AssertSqlSafe(stmt.clone()))
                .execute(&mut *c)
                .await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(fill.clone()))
            .bind(tenant)
            .bind(day_sql)
            .execute(&mut *c)
            .await?;
    });
    tx.commit().await?;
    settle(db).await?;
    let day_text = day.to_string();
    let t = Instant::now();
    let mut tx = db.begin().await?;
    on_conn!(&mut tx.conn(), |c| {
        sqlx::query(insert)
            .bind(tenant)
            .bind(day_sql)
            .bind(&day_text)
            .execute(&mut *c)
            .await?;
    });
    tx.commit().await?;
    Ok(t.elapsed())
}

/// The `p`-th percentile of sorted latencies, in milliseconds (nearest rank).
pub(crate) fn pct(sorted: &[std::time::Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let last = sorted.len() - 1;
    let i = ((p / 100.0) * last as f64).round() as usize;
    sorted[i.min(last)].as_secs_f64() * 1000.0
}
