//! A full disk fails writes cleanly, and once space is back every write succeeds again, with
//! nothing half-written: no connection goes back to the pool inside a failed transaction.
//! Run on SQLite and (when configured) PostgreSQL.
//!
//! The full disk is injected so that it works anywhere (no loop-mounted file system):
//! * SQLite: `PRAGMA max_page_count` set to the pages the file has, so a write that needs one
//!   more page fails with SQLITE_FULL, as on a full disk; raising it is the space coming back.
//!   The limit belongs to a connection, so the pool under test has one connection and the
//!   limit is set again on it (or on the fresh one that replaced it) before each write.
//! * PostgreSQL: a trigger raising SQLSTATE 53100 (`disk_full`, what PostgreSQL answers when it
//!   cannot extend a file) while a flag is set.

use refettorio_db::testing::TestDb;
use refettorio_db::{Db, DbError, on_conn};

/// Two tables a write fills in one transaction, like a booking and its audit row: the head row
/// fits in the pages the file has, the body needs new ones.
async fn create_tables(db: &Db) {
    let mut h = db.acquire().await.unwrap();
    on_conn!(&mut h.conn(), |c| {
        sqlx::raw_sql(
            "CREATE TABLE t_head (n BIGINT PRIMARY KEY);
             CREATE TABLE t_body (n BIGINT PRIMARY KEY, body TEXT NOT NULL);",
        )
        .execute(&mut *c)
        .await
        .unwrap();
    });
    if let refettorio_db::Conn::Postgres(c) = &mut h.conn() {
        sqlx::raw_sql(
            "CREATE TABLE t_disk (is_full BOOLEAN NOT NULL);
             INSERT INTO t_disk VALUES (FALSE);
             CREATE FUNCTION t_no_space() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF (SELECT is_full FROM t_disk) THEN
                 RAISE EXCEPTION 'could not extend file: No space left on device'
                   USING ERRCODE = 'disk_full';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER t_no_space BEFORE INSERT ON t_body
               FOR EACH ROW EXECUTE FUNCTION t_no_space();",
        )
        .execute(&mut **c)
        .await
        .unwrap();
    }
}

/// Fills the disk (`full`) or gives the space back.
async fn disk(db: &Db, full: bool) {
    let mut h = db.acquire().await.unwrap();
    match &mut h.conn() {
        refettorio_db::Conn::Sqlite(c) => {
            let pages: i64 = if full {
                sqlx::query_scalar("SELECT page_count FROM pragma_page_count()")
                    .fetch_one(&mut **c)
                    .await
                    .unwrap()
            } else {
                1_073_741_823
            };
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "PRAGMA max_page_count = {pages}"
            )))
            .execute(&mut **c)
            .await
            .unwrap();
        }
        refettorio_db::Conn::Postgres(c) => {
            sqlx::query("UPDATE t_disk SET is_full = $1")
                .bind(full)
                .execute(&mut **c)
                .await
                .unwrap();
        }
    }
}

/// One write: a head row and a body of 64 KiB, in one transaction.
async fn write(db: &Db, n: i64) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    let body = "x".repeat(64 * 1024);
    on_conn!(&mut tx.conn(), |c| {
        sqlx::query("INSERT INTO t_head (n) VALUES ($1)")
            .bind(n)
            .execute(&mut *c)
            .await?;
        sqlx::query("INSERT INTO t_body (n, body) VALUES ($1, $2)")
            .bind(n)
            .bind(&body)
            .execute(&mut *c)
            .await?;
    });
    tx.commit().await
}

/// SQLITE_FULL (13) or PostgreSQL's disk_full (53100).
fn is_disk_full(e: &DbError) -> bool {
    match e {
        DbError::Sqlx(sqlx::Error::Database(d)) => {
            matches!(d.code().as_deref(), Some("13") | Some("53100"))
        }
        _ => false,
    }
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    let mut h = db.acquire().await.unwrap();
    on_conn!(&mut h.conn(), |c| {
        sqlx::query_scalar(sql).fetch_one(&mut *c).await.unwrap()
    })
}

#[tokio::test]
async fn writes_succeed_again_once_a_full_disk_has_space() {
    for t in TestDb::all().await.unwrap() {
        // One connection: the steps below know which connection each write uses.
        let db = Db::connect_with(&t.url, 1).await.unwrap();
        create_tables(&db).await;
        write(&db, 1).await.unwrap();

        // The disk is full: each write fails with the disk-full error, and cleanly.
        for n in 10..13 {
            disk(&db, true).await;
            let e = write(&db, n).await.unwrap_err();
            assert!(is_disk_full(&e), "{} on {:?}: {e}", n, db.backend());
        }

        // Space is back: ten writes in a row all succeed.
        disk(&db, false).await;
        for n in 100..110 {
            if let Err(e) = write(&db, n).await {
                panic!("write {n} on {:?} after space came back: {e}", db.backend());
            }
        }

        // Nothing half-written: no head without its body, none of the failed writes.
        assert_eq!(count(&db, "SELECT COUNT(*) FROM t_head").await, 11);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM t_body").await, 11);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM t_head WHERE n BETWEEN 10 AND 12").await,
            0
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM t_head h LEFT JOIN t_body b ON b.n = h.n WHERE b.n IS NULL"
            )
            .await,
            0
        );
        db.close().await;
        t.cleanup().await;
    }
}
