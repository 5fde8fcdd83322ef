//! Login through an OpenID Connect provider (migration 0018): the logins sent to it until
//! their answer arrives.

use refettorio_domain::TenantId;

use crate::{Conn, Result, from_micros, micros, on_conn};

/// A login sent to a municipality's OpenID provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The `state` it carried (random, unguessable).
    pub state: String,
    /// The provider it went to (its issuer), so that a change of settings in between does not
    /// let another provider answer it.
    pub issuer: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// PKCE: the secret whose hash the authorization request carried.
    pub pkce_verifier: String,
    /// The hash of the cookie given to the browser that sent it.
    pub browser_hash: String,
    /// Where to go after the login (a path of this municipality).
    pub next_path: Option<String>,
    pub expires_at: jiff::Timestamp,
}

pub async fn insert_request(conn: &mut Conn<'_>, tenant: TenantId, r: &Request) -> Result<()> {
    let sql = "INSERT INTO oidc_request (state, tenant_id, issuer, nonce, pkce_verifier, \
               browser_hash, next_path, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(&r.state)
            .bind(tenant.get())
            .bind(&r.issuer)
            .bind(&r.nonce)
            .bind(&r.pkce_verifier)
            .bind(&r.browser_hash)
            .bind(r.next_path.as_deref())
            .bind(micros(r.expires_at))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Takes the pending login `state` (once: a second answer with it finds nothing), if it has
/// not expired.
pub async fn take_request(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    state: &str,
    now: jiff::Timestamp,
) -> Result<Option<Request>> {
    let sql = "DELETE FROM oidc_request WHERE state = $1 AND tenant_id = $2 AND expires_at > $3 \
               RETURNING state, issuer, nonce, pkce_verifier, browser_hash, next_path, expires_at";
    type Row = (String, String, String, String, String, Option<String>, i64);
    let row: Option<Row> = on_conn!(conn, |c| sqlx::query_as(sql)
        .bind(state)
        .bind(tenant.get())
        .bind(micros(now))
        .fetch_optional(&mut *c)
        .await?);
    row.map(
        |(state, issuer, nonce, pkce_verifier, browser_hash, next_path, expires_at)| {
            Ok(Request {
                state,
                issuer,
                nonce,
                pkce_verifier,
                browser_hash,
                next_path,
                expires_at: from_micros(expires_at)?,
            })
        },
    )
    .transpose()
}

/// Forgets the logins whose answer never came.
pub async fn purge(conn: &mut Conn<'_>, now: jiff::Timestamp) -> Result<()> {
    let sql = "DELETE FROM oidc_request WHERE expires_at <= $1";
    on_conn!(conn, |c| {
        sqlx::query(sql).bind(micros(now)).execute(&mut *c).await?;
    });
    Ok(())
}
