//! SPID and CIE (migration 0017): a municipality's keys, the requests sent to identity
//! providers until their answer arrives, and the assertions already used.

use refettorio_domain::TenantId;

use crate::{Conn, Result, from_micros, micros, on_conn};

/// A stored key: PKCS#8 and X.509 DER, base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub private_key: String,
    pub certificate: String,
    pub not_after: jiff::Timestamp,
}

/// The key of `purpose` (`sp`, `sandbox_idp`), if the municipality has one.
pub async fn key(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    purpose: &str,
) -> Result<Option<StoredKey>> {
    let sql = "SELECT private_key, certificate, not_after FROM saml_key \
               WHERE tenant_id = $1 AND purpose = $2";
    let row: Option<(String, String, i64)> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(tenant.get())
        .bind(purpose)
        .fetch_optional(&mut *c)
        .await?);
    row.map(|(private_key, certificate, not_after)| {
        Ok(StoredKey {
            private_key,
            certificate,
            not_after: from_micros(not_after)?,
        })
    })
    .transpose()
}

/// Stores a key; without `replace`, an existing one is kept and `false` returned.
pub async fn put_key(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    purpose: &str,
    key: &StoredKey,
    replace: bool,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = if replace {
        "INSERT INTO saml_key (tenant_id, purpose, private_key, certificate, not_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, purpose) DO UPDATE SET \
         private_key = excluded.private_key, certificate = excluded.certificate, \
         not_after = excluded.not_after, created_at = excluded.created_at"
    } else {
        "INSERT INTO saml_key (tenant_id, purpose, private_key, certificate, not_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, purpose) DO NOTHING"
    };
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(tenant.get())
        .bind(purpose)
        .bind(&key.private_key)
        .bind(&key.certificate)
        .bind(micros(key.not_after))
        .bind(micros(now))
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// A request sent to an identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    /// `login` or `logout`.
    pub kind: String,
    pub profile: String,
    pub provider: String,
    pub level: u8,
    /// The `IssueInstant` it carried (to the millisecond).
    pub issued_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    /// The hash of the cookie given to the browser that sent it.
    pub browser_hash: String,
    /// Where to go after the login (a path of this municipality).
    pub next_path: Option<String>,
}

pub async fn insert_request(conn: &mut Conn<'_>, tenant: TenantId, r: &Request) -> Result<()> {
    let sql = "INSERT INTO saml_request (id, tenant_id, profile, provider, level, issued_at, \
               expires_at, browser_hash, next_path, kind) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(&r.id)
            .bind(tenant.get())
            .bind(&r.profile)
            .bind(&r.provider)
            .bind(i64::from(r.level))
            .bind(micros(r.issued_at))
            .bind(micros(r.expires_at))
            .bind(&r.browser_hash)
            .bind(r.next_path.as_deref())
            .bind(&r.kind)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Takes the pending request `id` of `kind` (once: a second answer to it finds nothing), if
/// it has not expired.
pub async fn consume_request(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    kind: &str,
    id: &str,
    now: jiff::Timestamp,
) -> Result<Option<Request>> {
    let sql = "UPDATE saml_request SET consumed_at = $3 \
               WHERE id = $1 AND tenant_id = $2 AND consumed_at IS NULL AND expires_at > $3 \
               AND kind = $4 \
               RETURNING id, profile, provider, level, issued_at, expires_at, browser_hash, \
               next_path, kind";
    type Row = (
        String,
        String,
        String,
        i64,
        i64,
        i64,
        String,
        Option<String>,
        String,
    );
    let row: Option<Row> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(id)
        .bind(tenant.get())
        .bind(micros(now))
        .bind(kind)
        .fetch_optional(&mut *c)
        .await?);
    row.map(
        |(id, profile, provider, level, issued_at, expires_at, browser_hash, next_path, kind)| {
            Ok(Request {
                id,
                kind,
                profile,
                provider,
                level: u8::try_from(level).unwrap_or(u8::MAX),
                issued_at: from_micros(issued_at)?,
                expires_at: from_micros(expires_at)?,
                browser_hash,
                next_path,
            })
        },
    )
    .transpose()
}

/// Records an assertion as used until `expires_at`; `false` if it already was (a replay).
pub async fn use_assertion(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    provider: &str,
    assertion_id: &str,
    expires_at: jiff::Timestamp,
) -> Result<bool> {
    let sql = "INSERT INTO saml_replay (tenant_id, provider, assertion_id, expires_at) \
               VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, provider, assertion_id) DO NOTHING";
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(tenant.get())
        .bind(provider)
        .bind(assertion_id)
        .bind(micros(expires_at))
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n > 0)
}

/// Deletes requests and used assertions past their expiry, and what is left of ended
/// sessions.
pub async fn purge(conn: &mut Conn<'_>, now: jiff::Timestamp) -> Result<()> {
    for sql in [
        "DELETE FROM saml_request WHERE expires_at <= $1",
        "DELETE FROM saml_replay WHERE expires_at <= $1",
    ] {
        on_conn!(conn, |c| {
            sqlx::query(sql).bind(micros(now)).execute(&mut *c).await?;
        });
    }
    // The SPID/CIE side of sessions that ended (expired, or logged out locally).
    let orphans = "DELETE FROM saml_session WHERE NOT EXISTS \
                   (SELECT 1 FROM web_session w WHERE w.token_hash = saml_session.token_hash)";
    on_conn!(conn, |c| {
        sqlx::query(orphans).execute(&mut *c).await?;
    });
    Ok(())
}

/// What single logout needs of a session opened by SPID or CIE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub profile: String,
    pub provider: String,
    pub name_id: String,
    pub name_qualifier: String,
    pub session_index: Option<String>,
}

pub async fn insert_session(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    token_hash: &str,
    s: &Session,
    now: jiff::Timestamp,
) -> Result<()> {
    let sql = "INSERT INTO saml_session (token_hash, tenant_id, profile, provider, name_id, \
               name_qualifier, session_index, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(token_hash)
            .bind(tenant.get())
            .bind(&s.profile)
            .bind(&s.provider)
            .bind(&s.name_id)
            .bind(&s.name_qualifier)
            .bind(s.session_index.as_deref())
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The SPID/CIE side of a session, taken away (the session itself is ended by `auth`).
pub async fn take_session(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    token_hash: &str,
) -> Result<Option<Session>> {
    let sql = "DELETE FROM saml_session WHERE token_hash = $1 AND tenant_id = $2 \
               RETURNING profile, provider, name_id, name_qualifier, session_index";
    let row: Option<(String, String, String, String, Option<String>)> =
        on_conn!(conn, |c| sqlx::query_as(sql)
            .bind(token_hash)
            .bind(tenant.get())
            .fetch_optional(&mut *c)
            .await?);
    Ok(row.map(
        |(profile, provider, name_id, name_qualifier, session_index)| Session {
            profile,
            provider,
            name_id,
            name_qualifier,
            session_index,
        },
    ))
}

/// Ends every session the provider opened for `name_id` (its logout request): the sessions
/// and their SPID/CIE side. Returns how many.
pub async fn end_sessions_of(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    provider: &str,
    name_id: &str,
) -> Result<u64> {
    let sessions = "DELETE FROM web_session WHERE token_hash IN (SELECT token_hash FROM \
                    saml_session WHERE tenant_id = $1 AND provider = $2 AND name_id = $3)";
    let sides = "DELETE FROM saml_session WHERE tenant_id = $1 AND provider = $2 AND name_id = $3";
    let n = on_conn!(conn, |c| {
        let n = sqlx::query(sessions)
            .bind(tenant.get())
            .bind(provider)
            .bind(name_id)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query(sides)
            .bind(tenant.get())
            .bind(provider)
            .bind(name_id)
            .execute(&mut *c)
            .await?;
        n
    });
    Ok(n)
}
