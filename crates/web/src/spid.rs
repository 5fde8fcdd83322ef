//! SPID and CIE at `/t/<slug>/spid/…` and `/t/<slug>/cie/…` (issue 16; the use cases are
//! `app::spid`): the metadata, the login that sends the browser to the chosen identity
//! provider (302, with a cookie that ties the answer to this browser), and the assertion
//! consumer service, which the provider's page posts to from another site (so no CSRF token
//! and no same-origin check: the signed answer, the pending request and the cookie are the
//! proof). In sandbox mode, `/t/<slug>/spid-prova/sso` is the stand-in provider.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Form, MatchedPath, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use refettorio_app::identity::{LoggedIn, LoginFailed, Started};
use refettorio_app::spid::{self, Endpoints, Profile, SandboxPerson};
use refettorio_domain::Actor;
use serde::Deserialize;

use crate::access::{link_base, safe_next, see_other, with_csrf_cookie};
use crate::pages::Layout;
use crate::session::{SESSION_COOKIE, anonymous_csrf, check_anonymous_csrf, cookie, set_cookie};
use crate::tenant::CurrentTenant;
use crate::{AppState, WebError};

/// The cookie that ties an answer to the browser that asked.
const BROWSER_COOKIE: &str = "refettorio_saml";

/// The municipality's SPID/CIE addresses, from the configured public address (or, for the
/// demo, a loopback host): never from an arbitrary `Host` header.
pub(crate) fn endpoints(
    state: &AppState,
    t: &refettorio_app::Tenant,
    headers: &HeaderMap,
) -> Result<Endpoints, WebError> {
    let base = link_base(&state.config, t.slug.as_str(), headers).ok_or_else(|| {
        WebError::App(refettorio_app::AppError::Unavailable(
            "L'accesso con SPID o CIE richiede l'indirizzo pubblico del servizio (public_url)."
                .into(),
        ))
    })?;
    Ok(Endpoints {
        base: format!("{base}/t/{}", t.slug),
    })
}

/// 302 to `to` (SAML's bindings and spid-sp-test expect 302, not axum's 303).
pub(crate) fn found(to: &str) -> Result<Response, WebError> {
    let location = HeaderValue::from_str(to).map_err(|_| WebError::NotFound("address".into()))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// `spid` or `cie`, from the route.
fn profile(path: &MatchedPath) -> Profile {
    if path.as_str().contains("/cie/") {
        Profile::Cie
    } else {
        Profile::Spid
    }
}

/// A way in on the login page: SPID or CIE with its providers' names and login addresses, or
/// the municipality's OpenID provider (one button, `href`, whose words are `label`).
pub(crate) struct Choice {
    pub label: String,
    pub href: Option<String>,
    pub providers: Vec<(String, String)>,
}

/// The ways in the municipality offers, for the login page; none when it offers none or they
/// cannot be shown now (logged: the local login still works).
pub(crate) async fn choices(
    state: &AppState,
    t: &refettorio_app::Tenant,
    headers: &HeaderMap,
    next: Option<&str>,
) -> Vec<Choice> {
    let ctx = state.ctx(t, Actor::Public);
    let next = safe_next(t.slug.as_str(), next);
    let mut all = Vec::new();
    if let Some(o) = refettorio_app::oidc::offered(ctx) {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(n) = &next {
            q.append_pair("next", n);
        }
        all.push(Choice {
            label: o.label().to_string(),
            href: Some(format!("/t/{}/oidc/login?{}", t.slug, q.finish())),
            providers: Vec::new(),
        });
    }
    let offered = spid::offered(ctx, &state.config.federation);
    if offered.is_empty() {
        return all;
    }
    // Live without a key or providers: not offered (the office's settings say why).
    match spid::status(ctx, &state.config.federation).await {
        Ok(s) if s.usable() => {}
        Ok(_) => return all,
        Err(e) => {
            tracing::warn!(error = %e, "identity status not available");
            return all;
        }
    }
    let Ok(ep) = endpoints(state, t, headers) else {
        return all;
    };
    for profile in offered {
        match spid::providers(ctx, &ep, &state.config.federation, profile).await {
            Ok(list) => all.push(Choice {
                label: profile.label_it().to_string(),
                href: None,
                providers: list
                    .into_iter()
                    .map(|p| {
                        let mut q = form_urlencoded::Serializer::new(String::new());
                        q.append_pair("idp", &p.entity_id);
                        if let Some(n) = &next {
                            q.append_pair("next", n);
                        }
                        (
                            format!("/t/{}/{}/login?{}", t.slug, profile.as_str(), q.finish()),
                            p.name,
                        )
                    })
                    .collect(),
            }),
            Err(e) => tracing::warn!(error = %e, "identity providers not available"),
        }
    }
    all
}

/// `GET /t/<slug>/{spid,cie}/metadata`
pub(crate) async fn metadata(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    path: MatchedPath,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let ep = endpoints(&state, &t, &headers)?;
    let xml = spid::metadata(
        state.ctx(&t, Actor::Public),
        &ep,
        &state.config.federation,
        profile(&path),
    )
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/samlmetadata+xml; charset=utf-8",
        )],
        xml,
    )
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    idp: String,
    next: Option<String>,
}

/// `GET /t/<slug>/{spid,cie}/login?idp=<entityID>`: 302 to the provider.
pub(crate) async fn login(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    path: MatchedPath,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let ep = endpoints(&state, &t, &headers)?;
    let next = safe_next(t.slug.as_str(), q.next.as_deref());
    let started = spid::start_login(
        state.ctx(&t, Actor::Public),
        &ep,
        &state.config.federation,
        profile(&path),
        &q.idp,
        next.as_deref(),
    )
    .await?;
    // The answer comes back in a POST from the provider's site: on https the cookie must be
    // SameSite=None to travel with it; over plain http (the demo) the stand-in is same-site.
    to_provider(&state, &t, &started, BROWSER_COOKIE, "None")
}

/// 302 to the provider where a login `started`, with the cookie `name` that ties the answer to
/// this browser (half an hour, this municipality's paths only). `same_site` is what the
/// answer's way back needs on https (`None` for a cross-site POST, `Lax` for a top-level GET);
/// over plain http (the demo) it is `Lax`.
pub(crate) fn to_provider(
    state: &AppState,
    t: &refettorio_app::Tenant,
    started: &Started,
    name: &str,
    same_site: &str,
) -> Result<Response, WebError> {
    let same_site = if state.config.secure_cookies() {
        format!("{same_site}; Secure")
    } else {
        "Lax".to_string()
    };
    let cookie = format!(
        "{name}={}; Path=/t/{}/; HttpOnly; SameSite={same_site}; Max-Age=1800",
        started.browser_token, t.slug
    );
    let mut r = found(&started.location)?;
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Deserialize)]
pub(crate) struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    saml_response: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "spid_refused.html")]
struct RefusedPage<'a> {
    layout: Layout<'a>,
    slug: &'a str,
    way: &'a str,
    text: String,
}

/// `POST /t/<slug>/{spid,cie}/acs`: the provider's answer. Success: the session and the
/// personal area; a refusal: 403 with why, in Italian.
pub(crate) async fn acs(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    path: MatchedPath,
    headers: HeaderMap,
    Form(f): Form<AcsForm>,
) -> Result<Response, WebError> {
    let ep = endpoints(&state, &t, &headers)?;
    let profile = profile(&path);
    let result = spid::finish_login(
        state.ctx(&t, Actor::Public),
        &ep,
        &state.config.federation,
        profile,
        &f.saml_response,
        cookie(&headers, BROWSER_COOKIE),
    )
    .await;
    match result {
        Ok(done) => Ok(logged_in(&state, &t, done, BROWSER_COOKIE)),
        Err(failed) => refused(&t, profile.label_it(), failed),
    }
}

/// A login that succeeded (SPID, CIE or the OpenID provider): the session cookie, the
/// browser's one-login cookie `browser_cookie` cleared, and the personal area (or the page
/// the person was going to there).
pub(crate) fn logged_in(
    state: &AppState,
    t: &refettorio_app::Tenant,
    done: LoggedIn,
    browser_cookie: &str,
) -> Response {
    let home = format!("/t/{}/area-personale", t.slug);
    let to = done
        .next
        .filter(|n| n.contains("/area-personale"))
        .unwrap_or_else(|| home.clone());
    let mut r = see_other(&to, &home);
    let secure = state.config.secure_cookies();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &done.session.token, secure, None),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{browser_cookie}=; Path=/t/{}/; HttpOnly; Max-Age=0",
        t.slug
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// A login that failed: 403 with why, in Italian (the provider's words for SPID's error
/// codes), the reason logged; `way` names the way in ("SPID", "CIE", the OpenID button's
/// words).
pub(crate) fn refused(
    t: &refettorio_app::Tenant,
    way: &str,
    failed: LoginFailed,
) -> Result<Response, WebError> {
    let text = match failed {
        LoginFailed::App(e) => return Err(e.into()),
        LoginFailed::Provider(code) => {
            tracing::info!(tenant = %t.slug, code = ?code, "identity provider refused the login");
            code.and_then(spid::error_message_it)
                .unwrap_or(
                    "Il gestore dell'identità digitale non ha confermato l'accesso. Riprova.",
                )
                .to_string()
        }
        LoginFailed::Invalid(why) => {
            tracing::warn!(tenant = %t.slug, reason = %why, "identity provider answer refused");
            "Accesso non riuscito: la risposta del gestore dell'identità digitale non è valida o è scaduta. Riprova dall'inizio; se il problema continua, contatta il Comune.".to_string()
        }
    };
    Ok((
        StatusCode::FORBIDDEN,
        RefusedPage {
            layout: Layout::tenant("Accesso non riuscito", t),
            slug: t.slug.as_str(),
            way,
            text,
        },
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Single logout.

/// Where a person leaving goes so that the provider that logged them in ends its session too;
/// `None` for a session not opened by SPID or CIE (or when the provider cannot be reached: our
/// own session ends anyway, and that is logged).
pub(crate) async fn logout_at_provider(
    state: &AppState,
    t: &refettorio_app::Tenant,
    headers: &HeaderMap,
    token: &str,
) -> Option<String> {
    let ep = endpoints(state, t, headers).ok()?;
    match spid::logout(
        state.ctx(t, Actor::Public),
        &ep,
        &state.config.federation,
        token,
    )
    .await
    {
        Ok(to) => to,
        Err(e) => {
            tracing::warn!(error = %e, "logout not sent to the identity provider");
            None
        }
    }
}

/// `GET /t/<slug>/{spid,cie}/slo`: the provider's answer to our logout, or its own request.
pub(crate) async fn slo(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    path: MatchedPath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let ep = endpoints(&state, &t, &headers)?;
    let outcome = spid::slo(
        state.ctx(&t, Actor::Public),
        &ep,
        &state.config.federation,
        profile(&path),
        &query.unwrap_or_default(),
    )
    .await?;
    let to = match outcome {
        spid::Slo::LoggedOut => format!("/t/{}/accedi?esito=uscito", t.slug),
        spid::Slo::Answer(url) => url,
    };
    let mut r = found(&to)?;
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", state.config.secure_cookies(), Some(0)),
    );
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// The stand-in identity provider (sandbox mode).

#[derive(Template, WebTemplate)]
#[template(path = "spid_sandbox.html")]
struct SandboxPage<'a> {
    layout: Layout<'a>,
    slug: &'a str,
    csrf: String,
    /// The request as received (the raw query string), sent back with the answer.
    request: String,
    profile: &'static str,
    level: u8,
    person: SandboxPerson,
    error: Option<String>,
}

/// `GET /t/<slug>/spid-prova/sso?SAMLRequest=…`: the stand-in provider's login page.
pub(crate) async fn sandbox(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let ep = endpoints(&state, &t, &headers)?;
    let query = query.unwrap_or_default();
    // Our logout request: answered at once, back to our logout address.
    if let Some(back) = spid::sandbox_logout(state.ctx(&t, Actor::Public), &ep, &query).await? {
        return found(&back);
    }
    let request = spid::sandbox_request(state.ctx(&t, Actor::Public), &ep, &query).await?;
    let (csrf, new) = anonymous_csrf(&headers)?;
    // The demo's parent, ready to log in; elsewhere the fields are left to fill.
    let (fiscal_code, first_name, last_name) = if t.slug.as_str() == refettorio_app::demo::DEMO_SLUG
    {
        (refettorio_app::demo::DEMO_PARENT_CF, "Mario", "Rossi")
    } else {
        ("", "", "")
    };
    let page = SandboxPage {
        layout: Layout::tenant("IdP di prova", &t),
        slug: t.slug.as_str(),
        csrf: csrf.clone(),
        request: query,
        profile: request.profile.label_it(),
        level: request.received.level.number(),
        person: SandboxPerson {
            fiscal_code: fiscal_code.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            email: String::new(),
        },
        error: None,
    }
    .into_response();
    Ok(with_csrf_cookie(&state, page, &csrf, new))
}

#[derive(Deserialize)]
pub(crate) struct SandboxForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    richiesta: String,
    #[serde(default)]
    codice_fiscale: String,
    #[serde(default)]
    nome: String,
    #[serde(default)]
    cognome: String,
    #[serde(default)]
    email: String,
    /// `annulla`: the person cancels (SPID error 25).
    #[serde(default)]
    azione: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "spid_post.html")]
struct PostPage<'a> {
    layout: Layout<'a>,
    action: String,
    saml_response: String,
    relay_state: String,
}

/// `POST /t/<slug>/spid-prova/sso`: the stand-in provider's answer, posted to our assertion
/// consumer service by the browser (a form it submits by itself; a button without scripts).
pub(crate) async fn sandbox_answer(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Form(f): Form<SandboxForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    let ep = endpoints(&state, &t, &headers)?;
    let person = SandboxPerson {
        fiscal_code: f.codice_fiscale.trim().to_uppercase(),
        first_name: f.nome,
        last_name: f.cognome,
        email: f.email,
    };
    let ctx = state.ctx(&t, Actor::Public);
    match spid::sandbox_answer(ctx, &ep, &f.richiesta, &person, f.azione == "annulla").await {
        Ok((saml_response, relay_state, action)) => Ok(PostPage {
            layout: Layout::tenant("Ritorno al Comune", &t),
            action,
            saml_response,
            relay_state,
        }
        .into_response()),
        Err(refettorio_app::AppError::Fields(errors)) => {
            let request = spid::sandbox_request(ctx, &ep, &f.richiesta).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                SandboxPage {
                    layout: Layout::tenant("IdP di prova", &t),
                    slug: t.slug.as_str(),
                    csrf: f.csrf,
                    request: f.richiesta,
                    profile: request.profile.label_it(),
                    level: request.received.level.number(),
                    person,
                    error: errors.first().map(|e| e.message.clone()),
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}
