//! Persistence for Refettorio on PostgreSQL or SQLite from one codebase.
//!
//! [`Db`] is chosen from the URL at start. Queries are written once and run on either backend
//! through the [`on_conn!`] macro, which expands the same code for each driver: `$1` placeholders,
//! `ON CONFLICT` and `RETURNING` work on both. Every function that touches tenant-owned rows takes
//! the [`TenantId`](refettorio_domain::TenantId) first.

pub mod attendance;
pub mod audit;
pub mod auth;
pub mod booking;
pub mod close;
pub mod content;
pub mod fees;
pub mod import;
pub mod kitchen;
pub mod ledger;
pub mod oidc;
pub mod outbox;
pub mod pagopa;
pub mod platform;
pub mod registry;
pub mod reports;
pub mod saml;
pub mod synthetic;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod types;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::{PoolConnection, PoolConnectionMetadata};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool};

pub use types::{SqlDate, from_micros, micros};

/// Which database the installation runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Errors of the persistence layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl DbError {
    /// True when the error is a violation of a unique constraint (a duplicate).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }

    /// True when the error is a violation of a foreign key (a row still referenced).
    pub fn is_foreign_key_violation(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) => e.is_foreign_key_violation(),
            _ => false,
        }
    }

    /// True when the database could not serve the request: unreachable, closed, out of
    /// connections, out of disk, locked, or failing a statement for a reason of its own. The
    /// web layer answers these 503 (try again later). False for what is a bug of ours rather
    /// than the database's state (a constraint the code should have checked, a row or column
    /// that does not decode, a bad URL or migration, corrupt stored data): those stay 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sqlx(e) => match e {
                sqlx::Error::Database(d) => d.kind() == sqlx::error::ErrorKind::Other,
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::BeginFailed
                | sqlx::Error::InvalidSavePointStatement => true,
                _ => false,
            },
            DbError::Io(_) => true,
            DbError::Url(_) | DbError::Migrate(_) | DbError::Corrupt(_) => false,
        }
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// A connection pool on one of the two backends.
#[derive(Debug, Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A borrowed connection (from the pool or inside a transaction) on either backend.
pub enum Conn<'c> {
    Postgres(&'c mut PgConnection),
    Sqlite(&'c mut SqliteConnection),
}

/// Runs the same code on whichever backend `$conn` (a `&mut Conn`) is; inside the body `$c` is
/// `&mut PgConnection` or `&mut SqliteConnection` (pass `&mut *$c` to each query).
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Postgres(inner) => {
                let $c: &mut ::sqlx::PgConnection = &mut **inner;
                $body
            }
            $crate::Conn::Sqlite(inner) => {
                let $c: &mut ::sqlx::SqliteConnection = &mut **inner;
                $body
            }
        }
    };
}

/// A connection held from the pool.
pub enum Handle {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
}

impl Handle {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Handle::Postgres(c) => Conn::Postgres(c),
            Handle::Sqlite(c) => Conn::Sqlite(c),
        }
    }
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so it takes the write lock
/// up front instead of failing later with SQLITE_BUSY when it upgrades. Dropped without
/// [`Tx::commit`], it rolls back; a connection whose rollback fails is closed by the pool
/// (see [`clean_or_close`]), never handed out again.
pub enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Postgres(t) => Conn::Postgres(t),
            Tx::Sqlite(t) => Conn::Sqlite(t),
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Postgres(t) => t.commit().await?,
            Tx::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// The pool hook (run when a connection is released and again before it is handed out) that
/// keeps a connection left inside a transaction out of the pool: `Ok(false)` makes the pool
/// close it and open a fresh one in its place.
///
/// Why: sqlx counts the transaction depth on its side and lowers it only when its `ROLLBACK`
/// succeeds. When SQLite fails a write with SQLITE_FULL or SQLITE_IOERR (a full disk) it may
/// roll the whole transaction back by itself; sqlx's `ROLLBACK` then fails ("no transaction is
/// active") and the connection went back to the pool still counting one transaction, so every
/// later `BEGIN IMMEDIATE` on it failed with "attempted to call begin_with at non-zero
/// transaction depth" until a restart. The same holds for any connection, on either backend,
/// whose rollback fails. A pending rollback (a [`Tx`] just dropped) is flushed by the ping
/// first, so only a connection whose rollback really failed is closed.
fn clean_or_close<C: sqlx::Connection>(
    conn: &mut C,
    _meta: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        conn.ping().await?;
        if conn.is_in_transaction() {
            tracing::warn!("a connection was left inside a failed transaction: closed");
            return Ok(false);
        }
        Ok(true)
    })
}

/// Where a SQLite URL points.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    Some(path)
}

impl Db {
    /// Connects to `sqlite://path/to/file.sqlite` (created with its folder if missing) or
    /// `postgres://…` / `postgresql://…`.
    pub async fn connect(url: &str) -> Result<Db> {
        Self::connect_with(url, 16).await
    }

    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Db> {
        let url = url.trim();
        if let Some(path) = sqlite_path(url) {
            if path.is_empty() || path == ":memory:" {
                return Err(DbError::Url(format!(
                    "'{url}' names no file: use sqlite://path/to/refettorio.sqlite"
                )));
            }
            if let Some(parent) = Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    DbError::Url(format!(
                        "cannot create the folder {}: {e}",
                        parent.display()
                    ))
                })?;
            }
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| DbError::Url(format!("'{url}': {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .after_release(clean_or_close)
                .before_acquire(clean_or_close)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| DbError::Url(format!("'{}': {e}", redact(url))))?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .after_release(clean_or_close)
                .before_acquire(clean_or_close)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(DbError::Url(format!(
                "unsupported scheme '{scheme}' in '{}': use sqlite://… or postgres://…",
                redact(url)
            )))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Postgres(_) => Backend::Postgres,
            Db::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
            Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
        }
        Ok(())
    }

    pub async fn acquire(&self) -> Result<Handle> {
        Ok(match self {
            Db::Postgres(p) => Handle::Postgres(p.acquire().await?),
            Db::Sqlite(p) => Handle::Sqlite(p.acquire().await?),
        })
    }

    /// A new transaction, never a savepoint: on a connection still counting a transaction
    /// (which [`clean_or_close`] keeps out of the pool) `begin_with` fails instead of nesting.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Postgres(p) => Tx::Postgres(p.begin_with("BEGIN").await?),
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        let mut h = self.acquire().await?;
        on_conn!(&mut h.conn(), |c| {
            sqlx::query("SELECT 1").execute(&mut *c).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Postgres(p) => p.close().await,
            Db::Sqlite(p) => p.close().await,
        }
    }
}

/// The URL with any password replaced, for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/x.sqlite"), "sqlite://data/x.sqlite");
    }

    #[test]
    fn finds_sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://./data/r.sqlite"),
            Some("./data/r.sqlite")
        );
        assert_eq!(sqlite_path("sqlite:r.sqlite?mode=rwc"), Some("r.sqlite"));
        assert_eq!(sqlite_path("postgres://x"), None);
    }

    #[tokio::test]
    async fn refuses_unknown_schemes_and_memory() {
        let e = Db::connect("mysql://root@localhost/x")
            .await
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("unsupported scheme 'mysql'")));
        let e = Db::connect("sqlite::memory:")
            .await
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("names no file")));
    }
}
