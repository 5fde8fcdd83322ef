//! Throw-away databases for tests, on SQLite always and on PostgreSQL when
//! `REFETTORIO_TEST_POSTGRES_URL` is set (CI always sets it). Used by this crate's tests and by
//! the integration tests of the other crates, behind the `testing` feature (their
//! dev-dependencies enable it; the shipped binary does not).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::synthetic::with_database;
use crate::{Db, DbError, Result};

/// The environment variable naming a PostgreSQL server (any database on it) for tests.
pub const POSTGRES_ENV: &str = "REFETTORIO_TEST_POSTGRES_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // The real clock, through the one type allowed to read it: only to tell apart the names
    // of databases made by different runs.
    let nanos = refettorio_domain::Clock::now(&refettorio_domain::SystemClock).subsec_nanosecond();
    format!("refettorio_t_{}_{n}_{nanos}", std::process::id())
}

/// A migrated, empty database that is removed by [`TestDb::cleanup`].
pub struct TestDb {
    pub db: Db,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh SQLite file in the temporary folder.
    pub async fn sqlite() -> Result<TestDb> {
        let path = std::env::temp_dir().join(format!("{}.sqlite", unique_name()));
        let url = format!("sqlite://{}", path.display());
        let db = Db::connect(&url).await?;
        db.migrate().await?;
        Ok(TestDb {
            db,
            url,
            cleanup: Cleanup::File(path),
        })
    }

    /// A fresh database on the PostgreSQL server of `REFETTORIO_TEST_POSTGRES_URL`, or `None`
    /// (with a note on stderr) when the variable is not set.
    pub async fn postgres() -> Result<Option<TestDb>> {
        let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
            eprintln!("note: {POSTGRES_ENV} is not set: this test runs on SQLite only");
            return Ok(None);
        };
        let name = unique_name();
        let admin = Db::connect_with(&admin_url, 1).await?;
        if let Db::Postgres(pool) = &admin {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(pool)
                .await?;
        } else {
            return Err(DbError::Url(format!(
                "{POSTGRES_ENV} must be a postgres:// URL"
            )));
        }
        admin.close().await;
        let url = with_database(&admin_url, &name)?;
        let db = Db::connect_with(&url, 8).await?;
        db.migrate().await?;
        Ok(Some(TestDb {
            db,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }))
    }

    /// SQLite, plus PostgreSQL when configured: a test runs its body on each.
    pub async fn all() -> Result<Vec<TestDb>> {
        let mut dbs = vec![TestDb::sqlite().await?];
        if let Some(pg) = TestDb::postgres().await? {
            dbs.push(pg);
        }
        Ok(dbs)
    }

    /// Closes the pool and removes the database.
    pub async fn cleanup(self) {
        self.db.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(Db::Postgres(pool)) = Db::connect_with(&admin_url, 1).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                    pool.close().await;
                }
            }
        }
    }
}
