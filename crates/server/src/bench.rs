//! `refettorio bench …`: benchmarks that print their figures.

use std::time::Instant;

use anyhow::Context;
use refettorio_db::testing::with_database;
use refettorio_db::{Backend, Db, on_conn};
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
/// times it against a bare `INSERT … SELECT` of as many rows into a table equivalent to the
/// ledger (same columns, keys and indexes). Returns the summary line.
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
    let mut h = db.acquire().await?;
    let tenant = refettorio_db::registry::tenant::by_id(&mut h.conn(), syn.tenant)
        .await?
        .context("synthetic tenant missing")?;
    // Warm the caches the same way for both runs.
    on_conn!(&mut h.conn(), |c| {
        sqlx::query("SELECT COUNT(*) FROM enrolment")
            .execute(&mut *c)
            .await?;
    });
    drop(h);

    let t = Instant::now();
    let outcome = refettorio_app::meals::close_day(db, &clock, &tenant, day).await?;
    let close = t.elapsed();
    anyhow::ensure!(
        outcome.charged == u64::from(enrolments),
        "the close charged {} meals, expected {enrolments}",
        outcome.charged
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

/// The reference: the same number of rows written by one bare INSERT … SELECT into a copy of
/// the ledger's table (same columns, unique keys and indexes).
async fn reference(
    db: &Db,
    tenant: i64,
    day: jiff::civil::Date,
) -> anyhow::Result<std::time::Duration> {
    let (id, date) = match db.backend() {
        Backend::Postgres => ("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "DATE"),
        Backend::Sqlite => ("INTEGER PRIMARY KEY", "TEXT"),
    };
    let ddl = [
        format!(
            "CREATE TABLE bench_ledger (id {id}, tenant_id BIGINT NOT NULL, account_id BIGINT NOT NULL, \
             kind TEXT NOT NULL, amount_cents BIGINT NOT NULL, day {date} NOT NULL, pupil_id BIGINT, enrolment_id BIGINT, \
             school_id BIGINT, class_id BIGINT, meal TEXT, diet_id BIGINT, reverses_id BIGINT, reference TEXT, \
             idempotency_key TEXT NOT NULL, created_by TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', \
             created_at BIGINT NOT NULL, UNIQUE (tenant_id, id), UNIQUE (tenant_id, idempotency_key))"
        ),
        "CREATE INDEX bench_ledger_by_account ON bench_ledger (tenant_id, account_id, amount_cents)".to_string(),
        "CREATE INDEX bench_ledger_by_day ON bench_ledger (tenant_id, day, kind)".to_string(),
        "CREATE UNIQUE INDEX bench_ledger_reversal ON bench_ledger (tenant_id, reverses_id)".to_string(),
    ];
    let insert = "INSERT INTO bench_ledger (tenant_id, account_id, kind, amount_cents, day, pupil_id, enrolment_id, \
                  school_id, class_id, meal, diet_id, idempotency_key, created_by, reason, created_at) \
                  SELECT e.tenant_id, e.pupil_id, 'meal_charge', -e.meal_price_cents, $2, e.pupil_id, e.id, e.school_id, \
                  e.class_id, 'standard', e.diet_id, 'meal:' || $3 || ':' || CAST(e.id AS TEXT), 'close', '', 0 \
                  FROM enrolment e WHERE e.tenant_id = $1";
    let mut tx = db.begin().await?;
    on_conn!(&mut tx.conn(), |c| {
        for stmt in &ddl {
            sqlx::query(sqlx::AssertSqlSafe(stmt.clone()))
                .execute(&mut *c)
                .await?;
        }
    });
    tx.commit().await?;
    let day_sql = refettorio_db::SqlDate(day);
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
