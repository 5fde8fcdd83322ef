//! Login through the municipality's OpenID Connect provider at `/t/<slug>/oidc/…` (issue 16;
//! the use cases are `app::oidc`): the login sends the browser to the provider (302, with a
//! cookie that ties the answer to this browser); the provider sends it back to the callback
//! with a code, a top-level GET from its site (so the cookie is `SameSite=Lax`).

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use refettorio_app::oidc::{self, Callback};
use refettorio_domain::Actor;
use serde::Deserialize;

use crate::access::safe_next;
use crate::session::cookie;
use crate::spid::{endpoints, logged_in, refused, to_provider};
use crate::tenant::CurrentTenant;
use crate::{AppState, WebError};

/// The cookie that ties an answer to the browser that asked.
const BROWSER_COOKIE: &str = "refettorio_oidc";

/// How the refusal page names this way in.
const WAY: &str = "il servizio di accesso del Comune";

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// `GET /t/<slug>/oidc/login`: 302 to the provider.
pub(crate) async fn login(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let ep = endpoints(&state, &t, &headers)?;
    let next = safe_next(t.slug.as_str(), q.next.as_deref());
    let started = oidc::start_login(
        state.ctx(&t, Actor::Public),
        &state.config.oidc,
        &ep,
        next.as_deref(),
    )
    .await?;
    // The answer is a top-level GET from the provider's site: Lax lets the cookie travel.
    to_provider(&state, &t, &started, BROWSER_COOKIE, "Lax")
}

/// `GET /t/<slug>/oidc/callback?code=…&state=…`: the provider's answer. Success: the session
/// and the personal area; a refusal: 403 with why, in Italian.
pub(crate) async fn callback(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Result<Response, WebError> {
    let ep = endpoints(&state, &t, &headers)?;
    let result = oidc::finish_login(
        state.ctx(&t, Actor::Public),
        &state.config.oidc,
        &ep,
        &answer,
        cookie(&headers, BROWSER_COOKIE),
    )
    .await;
    match result {
        Ok(done) => Ok(logged_in(&state, &t, done, BROWSER_COOKIE)),
        Err(failed) => refused(&t, WAY, failed),
    }
}
