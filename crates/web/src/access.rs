//! Getting in: login (local credentials; SPID and CIE offered), logout, registration with an
//! e-mailed activation link, and password reset.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::Tenant;
use refettorio_app::auth::Subject;
use refettorio_app::auth::{self, Registered, Registration};
use refettorio_domain::Actor;
use serde::Deserialize;

use crate::form::{FieldErrors, FormResult};
use crate::pages::Layout;
use crate::session::{
    CSRF_COOKIE, SESSION_COOKIE, anonymous_csrf, check_anonymous_csrf, current_session,
    same_origin, same_secret, set_cookie,
};
use crate::tenant::CurrentTenant;
use crate::{AppState, WebConfig, WebError};

/// Only paths inside this municipality are honoured as a return address: a local path of
/// visible ASCII characters (no CR/LF or other control characters, no spaces), with no `//`
/// or `\` (which a browser could read as another host). Anything else is ignored.
pub(crate) fn safe_next(slug: &str, next: Option<&str>) -> Option<String> {
    let prefix = format!("/t/{slug}/");
    next.filter(|n| {
        n.starts_with(&prefix)
            && n.len() <= 2048
            && n.bytes().all(|b| b.is_ascii_graphic())
            && !n.contains("//")
            && !n.contains('\\')
            && HeaderValue::from_str(n).is_ok()
    })
    .map(str::to_string)
}

/// A 303 to `to`, or to `fallback` if `to` cannot be a `Location` (never a panic).
pub(crate) fn see_other(to: &str, fallback: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(_) => Redirect::to(to).into_response(),
        Err(_) => Redirect::to(fallback).into_response(),
    }
}

/// Where a request comes from, for the login throttling: the peer address of the connection
/// (`ConnectInfo`, set by the server) or, when the peer is one of the configured
/// `trusted_proxies`, the last `X-Forwarded-For` hop that is not a proxy
/// ([`crate::pagopa::caller::client_ip`], the same rule the station uses). Anyone else's
/// `X-Forwarded-For` is ignored: anyone can write that header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(peer.and_then(|p| {
            crate::pagopa::caller::client_ip(p, &parts.headers, &state.config.trusted_proxies)
        })))
    }
}

impl ClientIp {
    /// The throttling key of the source: an IPv4 address, or the /64 network of an IPv6 one
    /// (one subscriber usually has a whole /64); empty when unknown.
    pub(crate) fn source(&self) -> String {
        match self.0 {
            None => String::new(),
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    format!("{net}/64")
                }
            },
        }
    }
}

/// Whether a `Host` header names this machine (`localhost`, `127.0.0.1`, `[::1]`, with or
/// without a port): the demo's only way to get working links without configuration.
fn loopback_host(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, "")) => (ip, None),
            Some((ip, tail)) => match tail.strip_prefix(':') {
                Some(port) => (ip, Some(port)),
                None => return false,
            },
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    port_ok && name_ok
}

/// The address e-mailed links (activation, password reset) start with, never taken from an
/// arbitrary `Host` header (anyone can send `Host: attacker.example`):
///
/// 1. the configured `public_url`;
/// 2. else, with `base_domain`, the municipality's own host `https://<slug>.<base_domain>`;
/// 3. else only a loopback `Host` (the demo on `127.0.0.1` or `localhost`), over http.
///
/// `None`: no link can be built; the caller refuses to send one.
pub(crate) fn link_base(config: &WebConfig, slug: &str, headers: &HeaderMap) -> Option<String> {
    if let Some(b) = refettorio_app::spid::public_base(
        config.public_url.as_deref(),
        config.base_domain.as_deref(),
        slug,
    ) {
        return Some(b);
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| loopback_host(h))
        .map(|h| format!("http://{h}"))
}

/// Adds the pre-login CSRF cookie to a form page when it is new.
pub(crate) fn with_csrf_cookie(
    state: &AppState,
    mut r: Response,
    token: &str,
    new: bool,
) -> Response {
    if new {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, token, state.config.secure_cookies(), None),
        );
    }
    r
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout<'a>,
    slug: &'a str,
    next: Option<String>,
    csrf: String,
    identifier: String,
    error: Option<String>,
    local_login: bool,
    notice: Option<&'static str>,
    /// SPID and CIE, each with its identity providers (name, login address).
    identity: Vec<crate::spid::Choice>,
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    esito: Option<String>,
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "uscito" => Some("Sei uscito dall'area personale."),
        "attivato" => Some("Account attivato: ora puoi accedere con codice fiscale e password."),
        "password" => Some("Password reimpostata: accedi con la nuova password."),
        "scaduta" => Some("La sessione è scaduta: accedi di nuovo per continuare."),
        _ => None,
    }
}

pub(crate) async fn login_form(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = LoginPage {
        layout: Layout::tenant("Accedi", &t),
        slug: t.slug.as_str(),
        next: safe_next(t.slug.as_str(), q.next.as_deref()),
        csrf: csrf.clone(),
        identifier: String::new(),
        error: None,
        local_login: t.settings.citizen_local_login,
        notice: notice(q.esito.as_deref()),
        identity: crate::spid::choices(&state, &t, &headers, q.next.as_deref()).await,
    }
    .into_response();
    Ok(with_csrf_cookie(&state, page, &csrf, new))
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    let next = safe_next(t.slug.as_str(), f.next.as_deref());
    match auth::login(
        state.ctx(&t, Actor::Public),
        &f.identifier,
        &f.password,
        &ip.source(),
    )
    .await
    .or_errors()?
    {
        Ok(s) => {
            let home = match s.session.subject {
                Subject::Guardian(_) => format!("/t/{}/area-personale", t.slug),
                Subject::Staff(_) => format!("/t/{}/backoffice", t.slug),
            };
            let to = match (&s.session.subject, next) {
                (Subject::Guardian(_), Some(n)) if n.contains("/area-personale") => n,
                (Subject::Staff(_), Some(n)) if n.contains("/backoffice") => n,
                _ => home.clone(),
            };
            let mut r = see_other(&to, &home);
            let secure = state.config.secure_cookies();
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &s.token, secure, None),
            );
            Ok(r)
        }
        // Wrong credentials (401) or too many attempts (429): the form again, with why.
        Err(refused) => Ok((
            refused.status(),
            LoginPage {
                layout: Layout::tenant("Accedi", &t),
                slug: t.slug.as_str(),
                next,
                csrf: f.csrf,
                identifier: f.identifier,
                error: refused.first().map(str::to_owned),
                local_login: t.settings.citizen_local_login,
                notice: None,
                identity: crate::spid::choices(&state, &t, &headers, f.next.as_deref()).await,
            },
        )
            .into_response()),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    // A session opened with SPID or CIE: the provider is asked to end its own too.
    let mut provider = None;
    if let Some((session, token)) = current_session(&state, &headers).await? {
        if !same_origin(&headers) || !same_secret(&session.csrf_token, &f.csrf) {
            return Err(WebError::Forbidden);
        }
        provider = crate::spid::logout_at_provider(&state, &t, &headers, &token).await;
        auth::logout(state.installation(), &token).await?;
    }
    let to = provider.unwrap_or_else(|| format!("/t/{}/accedi?esito=uscito", t.slug));
    let mut r = Redirect::to(&to).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", state.config.secure_cookies(), Some(0)),
    );
    Ok(r)
}

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    layout: Layout<'a>,
    slug: &'a str,
    csrf: String,
    form: Registration,
    errors: FieldErrors,
    general: Option<String>,
    /// No SMTP server: the e-mail goes to the test mailbox, and the page says so.
    simulated: bool,
}

pub(crate) async fn register_form(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = RegisterPage {
     simulated: state.config.mail_simulated,
        layout: Layout::tenant("Registrati", &t),
        slug: t.slug.as_str(),
        csrf: csrf.clone(),
        form: Registration::default(),
        errors: FieldErrors::none(),
        general: (!t.settings.citizen_local_login).then(|| {
            "In questo Comune le famiglie accedono con SPID o CIE: la registrazione non è necessaria."
                .to_string()
        }),
    }
    .into_response();
    Ok(with_csrf_cookie(&state, page, &csrf, new))
}

#[derive(Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    fiscal_code: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    privacy: Option<String>,
    #[serde(default)]
    activation_code: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// What the registration's answer says after its first sentence, whether the e-mail was sent or
/// only prepared (no mail server).
macro_rules! registration_mail_tail {
    () => {
        "Il collegamento vale due ore. Se l'ufficio ha già i tuoi dati (ad esempio perché ha \
         iscritto tuo figlio), usa l'indirizzo e-mail che l'ufficio conosce; se all'ufficio non hai \
         dato un indirizzo e-mail non riceverai nulla: chiedi all'ufficio il codice di attivazione \
         e scrivilo nel modulo di registrazione."
    };
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    layout: Layout<'a>,
    heading: &'a str,
    text: &'a str,
    link: Option<(String, &'a str)>,
    /// Without a mail server: where the simulated e-mail can be read.
    simulation: Option<String>,
}

/// What the page says after an e-mail was queued when no mail server is configured: nothing
/// was sent, and where the test mailbox is (with the demo's office login in the demo).
fn simulation_note(state: &AppState, t: &Tenant) -> Option<String> {
    if !state.config.mail_simulated {
        return None;
    }
    let demo = if t.slug.as_str() == refettorio_app::demo::DEMO_SLUG {
        format!(
            " Nella demo: accedi al back office come ufficio scuola (utente «{}», password «{}») e apri Messaggi, poi il messaggio.",
            refettorio_app::demo::DEMO_OFFICE_USER,
            refettorio_app::demo::DEMO_OFFICE_PASSWORD
        )
    } else {
        String::new()
    };
    Some(format!(
        "SIMULAZIONE: nessuna e-mail è stata davvero inviata. Questa installazione non ha un server di posta: \
         il messaggio è nella casella di prova, che l'ufficio scuola legge nel back office (Messaggi) e \
         l'amministratore della piattaforma in /admin.{demo}"
    ))
}

pub(crate) async fn register(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Form(f): Form<RegisterForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    let form = Registration {
        fiscal_code: f.fiscal_code.trim().to_uppercase(),
        first_name: f.first_name,
        last_name: f.last_name,
        email: f.email,
        password: f.password,
        confirm: f.confirm,
        privacy: f.privacy.is_some(),
        activation_code: f.activation_code,
    };
    let base = link_base(&state.config, t.slug.as_str(), &headers);
    match auth::register(state.ctx(&t, Actor::Public), &form, base.as_deref())
        .await
        .or_errors()?
    {
        Ok(Registered::CheckMail) => Ok(MessagePage {
            layout: Layout::tenant("Registrazione", &t),
            heading: "Controlla la tua casella di posta",
            text: if state.config.mail_simulated {
                concat!(
                    "Se i dati sono corretti abbiamo preparato l'e-mail con il collegamento per attivare l'account. ",
                    registration_mail_tail!()
                )
            } else {
                concat!(
                    "Se i dati sono corretti ti abbiamo inviato un'e-mail con il collegamento per attivare l'account. ",
                    registration_mail_tail!()
                )
            },
            link: Some((format!("/t/{}/accedi", t.slug), "Vai alla pagina di accesso")),
            simulation: simulation_note(&state, &t),
        }
        .into_response()),
        Ok(Registered::Activated) => Ok(MessagePage {
            layout: Layout::tenant("Registrazione", &t),
            heading: "Account attivato",
            text: "Il codice di attivazione è corretto: ora puoi accedere con il codice fiscale e la \
                   password che hai scelto.",
            link: Some((format!("/t/{}/accedi", t.slug), "Vai alla pagina di accesso")),
            simulation: None,
        }
        .into_response()),
        // Fields to correct keep the form as typed (not the passwords); a refusal of the
        // whole registration (422, or 503 with no public address: the operator's problem,
        // not the form's) starts it again.
        Err(refused) => Ok((
            refused.status(),
            RegisterPage {
                simulated: state.config.mail_simulated,
                layout: Layout::tenant("Registrati", &t),
                slug: t.slug.as_str(),
                csrf: f.csrf,
                form: if refused.message().is_some() {
                    Registration::default()
                } else {
                    Registration {
                        password: String::new(),
                        confirm: String::new(),
                        activation_code: String::new(),
                        ..form
                    }
                },
                general: Some(
                    refused
                        .message()
                        .unwrap_or("Correggi i campi indicati.")
                        .to_owned(),
                ),
                errors: refused,
            },
        )
            .into_response()),
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub(crate) async fn activate(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    // A link is no form: one no longer valid is a bad request (400), with the way on.
    match auth::activate(state.ctx(&t, Actor::Public), &q.token)
        .await
        .or_errors()?
    {
        Ok(()) => Ok(Redirect::to(&format!("/t/{}/accedi?esito=attivato", t.slug)).into_response()),
        Err(refused) => Ok((
            StatusCode::BAD_REQUEST,
            MessagePage {
                layout: Layout::tenant("Attivazione", &t),
                heading: "Collegamento non valido",
                text: refused.first().unwrap_or_default(),
                link: Some((
                    format!("/t/{}/registrati", t.slug),
                    "Ripeti la registrazione",
                )),
                simulation: None,
            },
        )
            .into_response()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reset_request.html")]
struct ResetRequestPage<'a> {
    layout: Layout<'a>,
    slug: &'a str,
    csrf: String,
    fiscal_code: String,
    error: Option<String>,
    /// No SMTP server: the e-mail goes to the test mailbox, and the page says so.
    simulated: bool,
}

pub(crate) async fn reset_request_form(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = ResetRequestPage {
        simulated: state.config.mail_simulated,
        layout: Layout::tenant("Recupera la password", &t),
        slug: t.slug.as_str(),
        csrf: csrf.clone(),
        fiscal_code: String::new(),
        error: None,
    }
    .into_response();
    Ok(with_csrf_cookie(&state, page, &csrf, new))
}

#[derive(Deserialize)]
pub(crate) struct ResetRequestForm {
    #[serde(default)]
    fiscal_code: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub(crate) async fn reset_request(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Form(f): Form<ResetRequestForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    let base = link_base(&state.config, t.slug.as_str(), &headers);
    match auth::request_reset(
        state.ctx(&t, Actor::Public),
        &f.fiscal_code,
        base.as_deref(),
    )
    .await
    .or_errors()?
    {
        Ok(()) => Ok(MessagePage {
            layout: Layout::tenant("Recupera la password", &t),
            heading: "Controlla la tua casella di posta",
            text: if state.config.mail_simulated {
                "Se il codice fiscale è registrato con un indirizzo e-mail, abbiamo preparato l'e-mail \
                 con il collegamento per scegliere una nuova password. Il collegamento vale due ore."
            } else {
                "Se il codice fiscale è registrato con un indirizzo e-mail, ti abbiamo inviato un \
                 collegamento per scegliere una nuova password. Il collegamento vale due ore."
            },
            link: Some((format!("/t/{}/accedi", t.slug), "Torna alla pagina di accesso")),
            simulation: simulation_note(&state, &t),
        }
        .into_response()),
        // A fiscal code to correct (422), or no public address for the link (503).
        Err(refused) => Ok((
            refused.status(),
            ResetRequestPage {
                simulated: state.config.mail_simulated,
                layout: Layout::tenant("Recupera la password", &t),
                slug: t.slug.as_str(),
                csrf: f.csrf,
                fiscal_code: f.fiscal_code,
                error: refused
                    .get("fiscal_code")
                    .or(refused.message())
                    .map(str::to_owned),
            },
        )
            .into_response()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reset_new.html")]
struct ResetNewPage<'a> {
    layout: Layout<'a>,
    slug: &'a str,
    csrf: String,
    token: String,
    error: Option<String>,
}

pub(crate) async fn reset_new_form(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    if !auth::reset_link_is_valid(state.ctx(&t, Actor::Public), &q.token).await? {
        return Ok((
            StatusCode::BAD_REQUEST,
            MessagePage {
                layout: Layout::tenant("Nuova password", &t),
                heading: "Collegamento non valido",
                text: "Il collegamento non è valido o è scaduto: chiedi un nuovo collegamento.",
                link: Some((
                    format!("/t/{}/password/recupera", t.slug),
                    "Chiedi un nuovo collegamento",
                )),
                simulation: None,
            },
        )
            .into_response());
    }
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = ResetNewPage {
        layout: Layout::tenant("Nuova password", &t),
        slug: t.slug.as_str(),
        csrf: csrf.clone(),
        token: q.token,
        error: None,
    }
    .into_response();
    Ok(with_csrf_cookie(&state, page, &csrf, new))
}

#[derive(Deserialize)]
pub(crate) struct ResetNewForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub(crate) async fn reset_new(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
    Form(f): Form<ResetNewForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    let done = auth::complete_reset(
        state.ctx(&t, Actor::Public),
        &f.token,
        &f.password,
        &f.confirm,
    )
    .await;
    let error = match done.or_errors()? {
        Ok(()) => {
            return Ok(
                Redirect::to(&format!("/t/{}/accedi?esito=password", t.slug)).into_response(),
            );
        }
        Err(refused) => refused
            .get("password")
            .or(refused.message())
            .map(str::to_owned),
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        ResetNewPage {
            layout: Layout::tenant("Nuova password", &t),
            slug: t.slug.as_str(),
            csrf: f.csrf,
            token: f.token,
            error,
        },
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn next_must_be_a_local_path_of_the_municipality() {
        let ok = "/t/esempio/area-personale/pagamenti?dal=01/11/2026";
        assert_eq!(safe_next("esempio", Some(ok)).as_deref(), Some(ok));
        for bad in [
            "/t/esempio/area-personale\r\nSet-Cookie: x=1",
            "/t/esempio/area-personale\n",
            "/t/esempio/area personale",
            "/t/esempio/\u{e8}",
            "//evil.example/t/esempio/",
            "/\\evil.example/t/esempio/",
            "/t/esempio/\\evil.example",
            "/t/esempio//evil.example",
            "https://evil.example/t/esempio/",
            "/t/altro/area-personale",
            "",
        ] {
            assert_eq!(safe_next("esempio", Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next("esempio", None), None);
    }

    #[test]
    fn loopback_hosts_only() {
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.attacker.example",
            "127.0.0.1:80@attacker.example",
            "127.0.0.1:",
            "[::1]x",
            "10.0.0.1",
            "",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn links_come_from_the_configuration_or_a_loopback_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("attacker.example"));
        let none = WebConfig::default();
        assert_eq!(link_base(&none, "esempio", &h), None);
        let public = WebConfig {
            public_url: Some("https://mensa.example.it/".into()),
            ..WebConfig::default()
        };
        assert_eq!(
            link_base(&public, "esempio", &h).as_deref(),
            Some("https://mensa.example.it")
        );
        let domain = WebConfig {
            base_domain: Some("mensa.example.it".into()),
            ..WebConfig::default()
        };
        assert_eq!(
            link_base(&domain, "esempio", &h).as_deref(),
            Some("https://esempio.mensa.example.it")
        );
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(
            link_base(&none, "esempio", &h).as_deref(),
            Some("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn throttling_sources() {
        assert_eq!(ClientIp(None).source(), "");
        assert_eq!(
            ClientIp(Some("203.0.113.7".parse().unwrap())).source(),
            "203.0.113.7"
        );
        assert_eq!(
            ClientIp(Some("::ffff:203.0.113.7".parse().unwrap())).source(),
            "203.0.113.7"
        );
        assert_eq!(
            ClientIp(Some("2001:db8:1:2:3:4:5:6".parse().unwrap())).source(),
            "2001:db8:1:2::/64"
        );
    }
}
