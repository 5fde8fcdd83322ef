//! Login sessions, failed-login records for throttling, password-reset tokens and the
//! guardian's credentials and contact preferences. Tokens arrive here already hashed.

use refettorio_domain::{GuardianId, StaffUserId, TenantId};

use crate::{Conn, Result, from_micros, micros, on_conn};

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Guardian(GuardianId),
    Staff(StaffUserId),
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The municipality the session was opened in; `None` only for a platform administrator's
    /// session (opened at `/admin/accedi`), which opens no municipality's pages: every tenant
    /// page compares `session.tenant == Some(tenant.id)`.
    pub tenant: Option<TenantId>,
    pub subject: Subject,
    pub csrf_token: String,
    pub expires_at: jiff::Timestamp,
    pub absolute_expiry: jiff::Timestamp,
}

pub async fn insert_session(
    conn: &mut Conn<'_>,
    token_hash: &str,
    s: &Session,
    now: jiff::Timestamp,
) -> Result<()> {
    let (guardian, staff) = match s.subject {
        Subject::Guardian(g) => (Some(g.get()), None),
        Subject::Staff(u) => (None, Some(u.get())),
    };
    let sql = "INSERT INTO web_session (token_hash, tenant_id, guardian_id, staff_id, csrf_token, created_at, \
               expires_at, absolute_expiry) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(token_hash)
            .bind(s.tenant.map(TenantId::get))
            .bind(guardian)
            .bind(staff)
            .bind(&s.csrf_token)
            .bind(micros(now))
            .bind(micros(s.expires_at))
            .bind(micros(s.absolute_expiry))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The session with this token hash, if it has not expired at `now`.
pub async fn session(
    conn: &mut Conn<'_>,
    token_hash: &str,
    now: jiff::Timestamp,
) -> Result<Option<Session>> {
    let sql = "SELECT tenant_id, guardian_id, staff_id, csrf_token, expires_at, absolute_expiry \
               FROM web_session WHERE token_hash = $1 AND expires_at > $2";
    #[derive(sqlx::FromRow)]
    struct Row {
        tenant_id: Option<i64>,
        guardian_id: Option<i64>,
        staff_id: Option<i64>,
        csrf_token: String,
        expires_at: i64,
        absolute_expiry: i64,
    }
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(token_hash)
            .bind(micros(now))
            .fetch_optional(&mut *c)
            .await?
    });
    let Some(r) = row else { return Ok(None) };
    let subject = match (r.guardian_id, r.staff_id) {
        (Some(g), None) => Subject::Guardian(GuardianId(g)),
        (None, Some(u)) => Subject::Staff(StaffUserId(u)),
        _ => {
            return Err(crate::DbError::Corrupt(
                "session without one subject".into(),
            ));
        }
    };
    Ok(Some(Session {
        tenant: r.tenant_id.map(TenantId),
        subject,
        csrf_token: r.csrf_token,
        expires_at: from_micros(r.expires_at)?,
        absolute_expiry: from_micros(r.absolute_expiry)?,
    }))
}

/// Moves a session's idle expiry forward.
pub async fn extend_session(
    conn: &mut Conn<'_>,
    token_hash: &str,
    expires_at: jiff::Timestamp,
) -> Result<()> {
    let sql = "UPDATE web_session SET expires_at = $2 WHERE token_hash = $1";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(token_hash)
            .bind(micros(expires_at))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn delete_session(conn: &mut Conn<'_>, token_hash: &str) -> Result<()> {
    let sql = "DELETE FROM web_session WHERE token_hash = $1";
    on_conn!(conn, |c| {
        sqlx::query(sql).bind(token_hash).execute(&mut *c).await?;
    });
    Ok(())
}

/// Ends every session of a guardian (after a password change or reset), but `keep`.
pub async fn delete_guardian_sessions(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    keep: Option<&str>,
) -> Result<u64> {
    let sql =
        "DELETE FROM web_session WHERE tenant_id = $1 AND guardian_id = $2 AND token_hash <> $3";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(keep.unwrap_or(""))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n)
}

/// Removes expired sessions and old failure records.
pub async fn purge_expired(conn: &mut Conn<'_>, now: jiff::Timestamp) -> Result<u64> {
    let n = on_conn!(conn, |c| {
        let a = sqlx::query("DELETE FROM web_session WHERE expires_at <= $1")
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected();
        let day = micros(now) - 86_400_000_000;
        let b = sqlx::query("DELETE FROM login_failure WHERE failed_at < $1")
            .bind(day)
            .execute(&mut *c)
            .await?
            .rows_affected();
        a + b
    });
    Ok(n)
}

/// Records a failed login for `subject` (upper case) coming from `source` (the peer's IP
/// address, or empty when unknown); `tenant` `None`: at `/admin/accedi`.
pub async fn record_failure(
    conn: &mut Conn<'_>,
    tenant: Option<TenantId>,
    subject: &str,
    source: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    let sql =
        "INSERT INTO login_failure (tenant_id, subject, source, failed_at) VALUES ($1, $2, $3, $4)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.map(TenantId::get))
            .bind(subject)
            .bind(source)
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Failed logins since some time: how many, and the oldest of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub count: u32,
    pub first: Option<jiff::Timestamp>,
}

/// The condition on `login_failure.tenant_id` for `$1`: a municipality's id, or the platform
/// administrators' login (`$1` bound to 0, failures kept with no tenant). Both use the index
/// on (tenant_id, subject, failed_at).
fn tenant_is(tenant: Option<TenantId>) -> (&'static str, i64) {
    match tenant {
        Some(t) => ("tenant_id = $1", t.get()),
        None => ("tenant_id IS NULL AND $1 = 0", 0),
    }
}

/// Failures for `subject` since `since`: those from `source`, and those from anywhere.
/// `tenant` `None`: the platform administrators' login (`/admin/accedi`).
pub async fn failures_since(
    conn: &mut Conn<'_>,
    tenant: Option<TenantId>,
    subject: &str,
    source: &str,
    since: jiff::Timestamp,
) -> Result<(Failures, Failures)> {
    let (cond, t) = tenant_is(tenant);
    // One indexed range (tenant, subject, failed_at); the source is counted on the way.
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN source = $3 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         MIN(CASE WHEN source = $3 THEN failed_at END), COUNT(*), MIN(failed_at) \
         FROM login_failure WHERE {cond} AND subject = $2 AND failed_at > $4"
    );
    let row: (i64, Option<i64>, i64, Option<i64>) = on_conn!(conn, |c| {
        // Built only from constant parts; values are bound.
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(t)
            .bind(subject)
            .bind(source)
            .bind(micros(since))
            .fetch_one(&mut *c)
            .await?
    });
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok((
        Failures {
            count: count(row.0),
            first: row.1.map(from_micros).transpose()?,
        },
        Failures {
            count: count(row.2),
            first: row.3.map(from_micros).transpose()?,
        },
    ))
}

/// Forgets the failures of `subject` from `source` (after a successful login from there); the
/// failures from elsewhere still count towards the identifier's ceiling.
pub async fn clear_failures(
    conn: &mut Conn<'_>,
    tenant: Option<TenantId>,
    subject: &str,
    source: &str,
) -> Result<()> {
    let (cond, t) = tenant_is(tenant);
    let sql = format!("DELETE FROM login_failure WHERE {cond} AND subject = $2 AND source = $3");
    on_conn!(conn, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(t)
            .bind(subject)
            .bind(source)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// A guardian's stored password hash (None: no local credentials).
pub async fn guardian_password(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
) -> Result<Option<String>> {
    let sql = "SELECT password_hash FROM guardian WHERE tenant_id = $1 AND id = $2";
    let h: Option<Option<String>> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(h.flatten())
}

pub async fn set_guardian_password(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    password_hash: &str,
) -> Result<()> {
    let sql = "UPDATE guardian SET password_hash = $3 WHERE tenant_id = $1 AND id = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(password_hash)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// A guardian's contacts and channel preferences.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Contacts {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub notify_email: bool,
    pub notify_sms: bool,
    /// Messages in the IO app, by fiscal code (migration 0016).
    pub notify_app_io: bool,
}

pub async fn contacts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
) -> Result<Option<Contacts>> {
    let sql = "SELECT email, phone, notify_email, notify_sms, notify_app_io FROM guardian \
               WHERE tenant_id = $1 AND id = $2";
    let row: Option<Contacts> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row)
}

pub async fn set_contacts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    k: &Contacts,
) -> Result<()> {
    let sql = "UPDATE guardian SET email = $3, phone = $4, notify_email = $5, notify_sms = $6, \
               notify_app_io = $7 WHERE tenant_id = $1 AND id = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(&k.email)
            .bind(&k.phone)
            .bind(k.notify_email)
            .bind(k.notify_sms)
            .bind(k.notify_app_io)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn insert_reset(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    token_hash: &str,
    new_password_hash: Option<&str>,
    now: jiff::Timestamp,
    expires_at: jiff::Timestamp,
) -> Result<()> {
    let sql = "INSERT INTO password_reset (token_hash, tenant_id, guardian_id, created_at, expires_at, \
               new_password_hash) VALUES ($1, $2, $3, $4, $5, $6)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(token_hash)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(micros(now))
            .bind(micros(expires_at))
            .bind(new_password_hash)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Marks a token used and returns its guardian and the password waiting for activation (if
/// any): only once, only before it expires.
pub async fn use_reset(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    token_hash: &str,
    now: jiff::Timestamp,
) -> Result<Option<(GuardianId, Option<String>)>> {
    let sql = "UPDATE password_reset SET used_at = $3 \
               WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > $3 \
               RETURNING guardian_id, new_password_hash";
    let g: Option<(i64, Option<String>)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(token_hash)
            .bind(micros(now))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(g.map(|(g, h)| (GuardianId(g), h)))
}

/// Whether a reset token can still be used (for showing the form).
pub async fn reset_is_valid(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    token_hash: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "SELECT COUNT(*) FROM password_reset WHERE tenant_id = $1 AND token_hash = $2 \
               AND used_at IS NULL AND expires_at > $3";
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(token_hash)
            .bind(micros(now))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(n > 0)
}

/// Marks every unused token of a guardian used (after one of them was used, or when the
/// credentials change another way): a reset link ends all the older ones.
pub async fn end_resets(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    now: jiff::Timestamp,
) -> Result<u64> {
    let sql = "UPDATE password_reset SET used_at = $3 \
               WHERE tenant_id = $1 AND guardian_id = $2 AND used_at IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n)
}

/// Whether a guardian's login was self-registered and not proven to be the registry's guardian
/// (then the personal area shows no family). `None`: no such guardian.
pub async fn login_unproven(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
) -> Result<Option<bool>> {
    let sql = "SELECT login_unproven FROM guardian WHERE tenant_id = $1 AND id = $2";
    let v: Option<bool> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(v)
}

pub async fn set_login_unproven(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    unproven: bool,
) -> Result<bool> {
    let sql = "UPDATE guardian SET login_unproven = $3 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(unproven)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Stores a new activation code of a guardian (its hash) and ends the unused older ones.
pub async fn insert_activation_code(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    code_hash: &str,
    created_by: &str,
    now: jiff::Timestamp,
    expires_at: jiff::Timestamp,
) -> Result<()> {
    let end = "UPDATE activation_code SET used_at = $3 \
               WHERE tenant_id = $1 AND guardian_id = $2 AND used_at IS NULL";
    let insert = "INSERT INTO activation_code (tenant_id, guardian_id, code_hash, created_at, created_by, \
                  expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
    on_conn!(conn, |c| {
        sqlx::query(end)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
        sqlx::query(insert)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(code_hash)
            .bind(micros(now))
            .bind(created_by)
            .bind(micros(expires_at))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Uses a guardian's activation code: true only once, only before it expires.
pub async fn use_activation_code(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    guardian: GuardianId,
    code_hash: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE activation_code SET used_at = $4 \
               WHERE tenant_id = $1 AND guardian_id = $2 AND code_hash = $3 AND used_at IS NULL \
               AND expires_at > $4";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(guardian.get())
            .bind(code_hash)
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}
