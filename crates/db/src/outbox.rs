//! Delivery of the outbox (migration 0014): a node claims due pending e-mails with a lease
//! (`claimed_by`, `claimed_until`) in one statement, so that two nodes never take the same row
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the statement holds the write lock), then
//! marks each sent, simulated (the demo's test mailbox), retried later or failed. A node that
//! dies mid-send leaves its rows to the next claim once the lease ends.
//!
//! Times of delivery (`next_attempt_at`, `claimed_until`, `sent_at`, `failed_at`) are the real
//! time of the node, microseconds since the epoch, as `created_at`.

use refettorio_domain::TenantId;

use crate::registry::corrupt;
use crate::{Conn, Result, from_micros, micros, on_conn};

/// What a message says: its subject, plain text and (e-mail only) HTML alternative.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Content {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// A claimed e-mail, ready to send.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub body_html: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// The claim: the oldest due pending e-mails that no live lease holds, `$4` at most. The outer
/// WHERE repeats the conditions so that PostgreSQL re-checks them on a row another node just
/// claimed (READ COMMITTED re-evaluates the UPDATE's own WHERE on the newest row version).
macro_rules! claim_sql {
    ($ids:literal, $lock:literal) => {
        concat!(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
             WHERE id ",
            $ids,
            "(SELECT id FROM outbox \
               WHERE status = 'pending' AND channel = 'email' AND next_attempt_at <= $3 \
                 AND (claimed_until IS NULL OR claimed_until <= $3) \
               ORDER BY next_attempt_at, id LIMIT $4",
            $lock,
            ") AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= $3) \
             RETURNING id, tenant_id, kind, recipient, subject, body, body_html, attempts"
        )
    };
}

/// Claims up to `limit` due e-mails for `node` until `until`.
pub async fn claim_due(
    conn: &mut Conn<'_>,
    node: &str,
    now: jiff::Timestamp,
    until: jiff::Timestamp,
    limit: i64,
) -> Result<Vec<Claimed>> {
    let sql = match conn {
        Conn::Postgres(_) => claim_sql!("= ANY(ARRAY", " FOR UPDATE SKIP LOCKED)"),
        Conn::Sqlite(_) => claim_sql!("IN ", ""),
    };
    let mut rows: Vec<Claimed> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(node)
        .bind(micros(until))
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Marks a claimed message delivered: `sent` (SMTP) or `simulated` (the test mailbox).
/// `false` when `node` no longer holds it.
pub async fn mark_delivered(
    conn: &mut Conn<'_>,
    id: i64,
    node: &str,
    simulated: bool,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE outbox SET status = $3, sent_at = $4, last_error = NULL, \
               claimed_by = NULL, claimed_until = NULL \
               WHERE id = $1 AND claimed_by = $2 AND status = 'pending'";
    let status = if simulated { "simulated" } else { "sent" };
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(id)
        .bind(node)
        .bind(status)
        .bind(micros(now))
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// Gives a claimed message back after a temporary failure, to try again at `next`.
pub async fn retry_later(
    conn: &mut Conn<'_>,
    id: i64,
    node: &str,
    error: &str,
    next: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE outbox SET next_attempt_at = $3, last_error = $4, \
               claimed_by = NULL, claimed_until = NULL \
               WHERE id = $1 AND claimed_by = $2 AND status = 'pending'";
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(id)
        .bind(node)
        .bind(micros(next))
        .bind(error)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// Gives back a claimed message that was not tried (the node stops, or its lease is running
/// out): free to claim at once, its attempt not counted.
pub async fn release(conn: &mut Conn<'_>, id: i64, node: &str) -> Result<bool> {
    let sql = "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, attempts = attempts - 1 \
               WHERE id = $1 AND claimed_by = $2 AND status = 'pending'";
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(id)
        .bind(node)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// Marks a claimed message failed for good, with the reason.
pub async fn mark_failed(
    conn: &mut Conn<'_>,
    id: i64,
    node: &str,
    error: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE outbox SET status = 'failed', failed_at = $3, last_error = $4, \
               claimed_by = NULL, claimed_until = NULL \
               WHERE id = $1 AND claimed_by = $2 AND status = 'pending'";
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(id)
        .bind(node)
        .bind(micros(now))
        .bind(error)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// Pending messages of the whole installation by channel (for the metrics).
pub async fn waiting_by_channel(conn: &mut Conn<'_>) -> Result<Vec<(String, i64)>> {
    let sql = "SELECT channel, CAST(COUNT(*) AS BIGINT) FROM outbox WHERE status = 'pending' GROUP BY channel";
    let rows: Vec<(String, i64)> =
        on_conn!(conn, |c| sqlx::query_as(sql).fetch_all(&mut *c).await?);
    Ok(rows)
}

/// How many messages of a municipality are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub simulated: i64,
}

pub async fn counts(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Counts> {
    let sql =
        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM outbox WHERE tenant_id = $1 GROUP BY status";
    let rows: Vec<(String, i64)> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(tenant.get())
        .fetch_all(&mut *c)
        .await?);
    let mut out = Counts::default();
    for (status, n) in rows {
        match status.as_str() {
            "pending" => out.pending = n,
            "sent" => out.sent = n,
            "failed" => out.failed = n,
            "simulated" => out.simulated = n,
            _ => {}
        }
    }
    Ok(out)
}

/// A message as the office's list shows it (never its body: links in it are credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    pub tenant_slug: String,
    pub tenant_name: String,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: jiff::Timestamp,
    pub sent_at: Option<jiff::Timestamp>,
    pub failed_at: Option<jiff::Timestamp>,
    pub next_attempt_at: jiff::Timestamp,
}

type RawRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i32,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
);

fn row(r: RawRow) -> Result<Row> {
    Ok(Row {
        id: r.0,
        tenant_slug: r.1,
        tenant_name: r.2,
        kind: r.3,
        channel: r.4,
        recipient: r.5,
        subject: r.6,
        status: r.7,
        attempts: r.8,
        last_error: r.9,
        created_at: from_micros(r.10)?,
        sent_at: r.11.map(from_micros).transpose()?,
        failed_at: r.12.map(from_micros).transpose()?,
        next_attempt_at: from_micros(r.13)?,
    })
}

const ROW_COLUMNS: &str = "o.id, t.slug, t.name, o.kind, o.channel, o.recipient, o.subject, o.status, \
     o.attempts, o.last_error, o.created_at, o.sent_at, o.failed_at, o.next_attempt_at";

/// The newest messages: of one municipality, or of every one (`None`, the platform's test
/// mailbox); of one status when given. At most `limit`.
pub async fn list(
    conn: &mut Conn<'_>,
    tenant: Option<TenantId>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<Row>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ROW_COLUMNS} FROM outbox o JOIN tenant t ON t.id = o.tenant_id \
         WHERE ($1 IS NULL OR o.tenant_id = $1) AND ($2 IS NULL OR o.status = $2) \
         ORDER BY o.id DESC LIMIT $3"
    ));
    let tenant = tenant.map(|t| t.get());
    let raw: Vec<RawRow> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(tenant)
        .bind(status)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    raw.into_iter().map(row).collect()
}

/// One message with its content, as the test mailbox shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Full {
    pub row: Row,
    pub body: String,
    pub body_html: Option<String>,
}

/// A message by id, with its content, when it has `status` (and is of `tenant` when given).
pub async fn message(
    conn: &mut Conn<'_>,
    tenant: Option<TenantId>,
    id: i64,
    status: &str,
) -> Result<Option<Full>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ROW_COLUMNS}, o.body, o.body_html FROM outbox o JOIN tenant t ON t.id = o.tenant_id \
         WHERE o.id = $1 AND ($2 IS NULL OR o.tenant_id = $2) AND o.status = $3"
    ));
    let tenant = tenant.map(|t| t.get());
    type WithBody = (
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i32,
        Option<String>,
        i64,
        Option<i64>,
        Option<i64>,
        i64,
        String,
        Option<String>,
    );
    let found: Option<WithBody> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(id)
        .bind(tenant)
        .bind(status)
        .fetch_optional(&mut *c)
        .await?);
    found
        .map(|r| {
            Ok(Full {
                row: row((
                    r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13,
                ))?,
                body: r.14,
                body_html: r.15,
            })
        })
        .transpose()
}

/// How many queued messages of a tenant are not sent yet (`sent_at` empty).
pub async fn outbox_backlog(conn: &mut Conn<'_>, tenant: TenantId) -> Result<u64> {
    let sql = "SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL";
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_one(&mut *c)
            .await?
    });
    u64::try_from(n).map_err(corrupt("outbox count"))
}

/// Queues a message; `false` when one with the same key was already queued.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    kind: &str,
    channel: &str,
    recipient: &str,
    content: &crate::outbox::Content,
    idempotency_key: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "INSERT INTO outbox (tenant_id, kind, channel, recipient, subject, body, body_html, idempotency_key, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(kind)
            .bind(channel)
            .bind(recipient)
            .bind(&content.subject)
            .bind(&content.text)
            .bind(content.html.as_deref())
            .bind(idempotency_key)
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// A message for [`enqueue_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub recipient: String,
    pub content: crate::outbox::Content,
    pub idempotency_key: String,
}

/// Queues many messages of one kind and channel with one statement (the messages travel as one
/// JSON parameter); those whose key was already used are skipped. Returns how many were queued.
pub async fn enqueue_many(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    kind: &str,
    channel: &str,
    messages: &[NewMessage],
    now: jiff::Timestamp,
) -> Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let rows: Vec<[Option<&str>; 5]> = messages
        .iter()
        .map(|m| {
            [
                Some(m.recipient.as_str()),
                Some(m.content.subject.as_str()),
                Some(m.content.text.as_str()),
                Some(m.idempotency_key.as_str()),
                m.content.html.as_deref(),
            ]
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(corrupt("outbox messages"))?;
    // `WHERE true`: SQLite needs a WHERE before an upsert's ON CONFLICT in an INSERT … SELECT.
    let sql = match conn {
        Conn::Postgres(_) => {
            "INSERT INTO outbox (tenant_id, kind, channel, recipient, subject, body, idempotency_key, body_html, created_at) \
             SELECT $1, $2, $3, m ->> 0, m ->> 1, m ->> 2, m ->> 3, m ->> 4, $4 \
             FROM jsonb_array_elements(CAST($5 AS JSONB)) WITH ORDINALITY AS j(m, n) WHERE true ORDER BY n \
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"
        }
        Conn::Sqlite(_) => {
            "INSERT INTO outbox (tenant_id, kind, channel, recipient, subject, body, idempotency_key, body_html, created_at) \
             SELECT $1, $2, $3, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
               json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), $4 \
             FROM json_each($5) WHERE true ORDER BY key \
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"
        }
    };
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(kind)
            .bind(channel)
            .bind(micros(now))
            .bind(&json)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n)
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: i64,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub body_html: Option<String>,
    pub idempotency_key: String,
    /// `pending`, `sent`, `failed` or `simulated` (migration 0014).
    pub status: String,
}

pub async fn outbox(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<OutboxMessage>> {
    let sql = "SELECT id, kind, channel, recipient, subject, body, body_html, idempotency_key, status FROM outbox WHERE tenant_id = $1 ORDER BY id";
    let rows: Vec<OutboxMessage> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(tenant.get())
        .fetch_all(&mut *c)
        .await?);
    Ok(rows)
}
