//! The login session in a cookie, the [`Citizen`] extractor for the personal area, and CSRF
//! protection.
//!
//! * The session cookie (`refettorio_sid`) holds a random token; the session itself lives in the
//!   database, so any node can serve any request. `HttpOnly`, `SameSite=Lax`, `Path=/`, and
//!   `Secure` when the public URL is https.
//! * Every form carries a CSRF token in the hidden field `_csrf`. After login it is the
//!   session's token; before login (login, registration, reset forms) it is a random value also
//!   set in the `refettorio_csrf` cookie (double submit). In both cases a POST without the right
//!   token is refused with 403 and writes nothing. A POST whose `Origin` is another site is
//!   refused too.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::Tenant;
use refettorio_app::auth::{self, Session, Subject};
use refettorio_app::portal::{self, Access, Guardian};
use refettorio_domain::Actor;

use crate::tenant::CurrentTenant;
use crate::{AppState, WebError};

pub(crate) const SESSION_COOKIE: &str = "refettorio_sid";
pub(crate) const CSRF_COOKIE: &str = "refettorio_csrf";

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    secure: bool,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        s.push_str("; Secure");
    }
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Compares two tokens in constant time (the one implementation is `app::auth::same_secret`).
pub(crate) use refettorio_app::auth::same_secret;

/// Refuses a POST that comes from another site (`Origin` or `Referer` naming another host).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match (origin, host) {
        (None, _) => true,
        (Some("null"), _) => false,
        (Some(o), Some(host)) => o
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// The pre-login CSRF token: the one in the cookie, or a new one to set.
pub(crate) fn anonymous_csrf(headers: &HeaderMap) -> Result<(String, bool), WebError> {
    if let Some(t) = cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 64) {
        return Ok((t.to_string(), false));
    }
    let (t, _) = auth::new_token()?;
    Ok((t, true))
}

/// Checks the double-submit token of a pre-login form.
pub(crate) fn check_anonymous_csrf(headers: &HeaderMap, submitted: &str) -> Result<(), WebError> {
    match cookie(headers, CSRF_COOKIE) {
        Some(c) if same_origin(headers) && same_secret(c, submitted) => Ok(()),
        _ => Err(WebError::Forbidden),
    }
}

/// A logged-in family member on a page of their municipality.
pub(crate) struct Citizen {
    pub tenant: Arc<Tenant>,
    pub guardian: Guardian,
    pub access: Access,
    pub session: Session,
    pub token: String,
}

impl Citizen {
    /// Checks the CSRF token of a form posted in this session.
    pub fn check_csrf(&self, headers: &HeaderMap, submitted: &str) -> Result<(), WebError> {
        if same_origin(headers) && same_secret(&self.session.csrf_token, submitted) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// The use cases' context for this guardian's requests.
    pub fn ctx<'a>(&'a self, state: &'a crate::AppState) -> refettorio_app::Ctx<'a> {
        state.ctx(&self.tenant, Actor::Guardian(self.guardian.id))
    }

    /// "Nome Cognome", as the pages greet the guardian.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.guardian.first_name, self.guardian.last_name)
    }

    /// Whether the guardian may see the payments of at least one family (as payer, or as a
    /// delegate the payer allowed).
    pub fn sees_any_payments(&self) -> bool {
        self.access
            .families
            .iter()
            .any(|(f, _)| self.access.sees_payments(f.id))
    }

    /// Refuses (403) a guardian who may see no family's payments.
    pub fn require_payments(&self) -> Result<(), WebError> {
        if self.sees_any_payments() {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

/// Where an anonymous visitor goes: the login, then back to the page asked for.
pub(crate) fn to_login(t: &Tenant, uri: &axum::http::Uri) -> Response {
    let back = match uri.query() {
        Some(q) => format!("{}?{q}", uri.path()),
        None => uri.path().to_string(),
    };
    Redirect::to(&format!(
        "/t/{}/accedi?next={}",
        t.slug,
        percent_encode(&back)
    ))
    .into_response()
}

pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The session of the request, whoever it belongs to (None when absent or expired).
pub(crate) async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Session, String)>, WebError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(auth::session(state.installation(), token)
        .await?
        .map(|s| (s, token.to_string())))
}

impl FromRequestParts<AppState> for Citizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(CurrentTenant(tenant)) = parts.extensions.get::<CurrentTenant>().cloned() else {
            return Err(WebError::NotFound("Comune non trovato.".into()).into_response());
        };
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let found = current_session(state, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some((session, token)) = found else {
            return Err(to_login(&tenant, &uri));
        };
        let guardian_id = match session.subject {
            Subject::Guardian(g) if session.tenant == Some(tenant.id) => g,
            // The municipality's staff have the back office instead (the header's user button
            // points here on every page).
            Subject::Staff(_) if session.tenant == Some(tenant.id) => {
                return Err(axum::response::Redirect::to(&format!(
                    "/t/{}/backoffice",
                    tenant.slug
                ))
                .into_response());
            }
            // A session of another municipality, or the platform administrator's (no
            // municipality): not this area.
            _ => return Err(to_login(&tenant, &uri)),
        };
        let loaded = portal::guardian_access(
            state.ctx(&tenant, Actor::Guardian(guardian_id)),
            guardian_id,
        )
        .await
        .map_err(|e| WebError::from(e).into_response())?;
        let Some((guardian, access)) = loaded else {
            return Err(to_login(&tenant, &uri));
        };
        Ok(Citizen {
            tenant,
            guardian,
            access,
            session,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; refettorio_sid=abc; b="),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn tokens_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }

    #[test]
    fn return_paths_are_encoded() {
        assert_eq!(
            percent_encode("/t/esempio/area-personale"),
            "/t/esempio/area-personale"
        );
        assert_eq!(percent_encode("/t/x/a b?c"), "/t/x/a%20b%3Fc");
    }
}
