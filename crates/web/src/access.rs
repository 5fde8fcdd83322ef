//! Getting in: login (local credentials; SPID and CIE offered), logout, registration with an
//! e-mailed activation link, and password reset.

use askama::Template;
use askama_web::WebTemplate;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::auth::{self, Registration};
use refettorio_app::{AppError, FieldError};
use refettorio_db::auth::Subject;
use refettorio_db::registry::tenant::Tenant;
use serde::Deserialize;

use crate::pages::Layout;
use crate::session::{
    CSRF_COOKIE, SESSION_COOKIE, anonymous_csrf, check_anonymous_csrf, current_session,
    same_origin, same_token, set_cookie,
};
use crate::tenant::CurrentTenant;
use crate::{AppState, WebError};

/// Only paths inside this municipality are honoured as a return address.
fn safe_next(t: &Tenant, next: Option<&str>) -> Option<String> {
    let prefix = format!("/t/{}/", t.slug);
    next.filter(|n| n.starts_with(&prefix) && !n.contains("//") && !n.contains('\\'))
        .map(str::to_string)
}

/// The address e-mailed links start with: the configured public URL, or this request's host.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.config.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn message_of(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.clone())
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
        next: safe_next(&t, q.next.as_deref()),
        csrf: csrf.clone(),
        identifier: String::new(),
        error: None,
        local_login: t.settings.citizen_local_login,
        notice: notice(q.esito.as_deref()),
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
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    let next = safe_next(&t, f.next.as_deref());
    match auth::login(
        &state.db,
        state.clock.as_ref(),
        &t,
        &f.identifier,
        &f.password,
    )
    .await
    {
        Ok(s) => {
            let home = match s.session.subject {
                Subject::Guardian(_) => format!("/t/{}/area-personale", t.slug),
                Subject::Staff(_) => format!("/t/{}/backoffice", t.slug),
            };
            let to = match (&s.session.subject, next) {
                (Subject::Guardian(_), Some(n)) if n.contains("/area-personale") => n,
                (Subject::Staff(_), Some(n)) if n.contains("/backoffice") => n,
                _ => home,
            };
            let mut r = Redirect::to(&to).into_response();
            let secure = state.config.secure_cookies();
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &s.token, secure, None),
            );
            Ok(r)
        }
        Err(e @ (AppError::Unauthorized(_) | AppError::Throttled(_))) => {
            let status = match e {
                AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            Ok((
                status,
                LoginPage {
                    layout: Layout::tenant("Accedi", &t),
                    slug: t.slug.as_str(),
                    next,
                    csrf: f.csrf,
                    identifier: f.identifier,
                    error: Some(e.to_string()),
                    local_login: t.settings.citizen_local_login,
                    notice: None,
                },
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
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
    if let Some((session, token)) = current_session(&state, &headers).await? {
        if !same_origin(&headers) || !same_token(&session.csrf_token, &f.csrf) {
            return Err(WebError::Forbidden);
        }
        auth::logout(&state.db, &token).await?;
    }
    let mut r = Redirect::to(&format!("/t/{}/accedi?esito=uscito", t.slug)).into_response();
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
    errors: Vec<FieldError>,
    general: Option<String>,
}

impl RegisterPage<'_> {
    fn error(&self, field: &str) -> Option<String> {
        message_of(&self.errors, field)
    }
}

pub(crate) async fn register_form(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = RegisterPage {
        layout: Layout::tenant("Registrati", &t),
        slug: t.slug.as_str(),
        csrf: csrf.clone(),
        form: Registration::default(),
        errors: Vec::new(),
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
    #[serde(rename = "_csrf", default)]
    csrf: String,
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
    };
    let base = base_url(&state, &headers);
    match auth::register(&state.db, state.clock.as_ref(), &t, &form, &base).await {
        Ok(()) => Ok(MessagePage {
            layout: Layout::tenant("Registrazione", &t),
            heading: "Controlla la tua casella di posta",
            text: if state.config.mail_simulated {
                "Se i dati sono corretti abbiamo preparato l'e-mail con il collegamento per attivare \
                 l'account. Il collegamento vale due ore. Se il codice fiscale è già registrato all'ufficio, \
                 usa l'indirizzo e-mail che l'ufficio conosce."
            } else {
                "Se i dati sono corretti ti abbiamo inviato un'e-mail con il collegamento per attivare \
                 l'account. Il collegamento vale due ore. Se il codice fiscale è già registrato all'ufficio, \
                 usa l'indirizzo e-mail che l'ufficio conosce."
            },
            link: Some((format!("/t/{}/accedi", t.slug), "Vai alla pagina di accesso")),
            simulation: simulation_note(&state, &t),
        }
        .into_response()),
        Err(AppError::Fields(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            RegisterPage {
                layout: Layout::tenant("Registrati", &t),
                slug: t.slug.as_str(),
                csrf: f.csrf,
                form: Registration {
                    password: String::new(),
                    confirm: String::new(),
                    ..form
                },
                errors,
                general: Some("Correggi i campi indicati.".into()),
            },
        )
            .into_response()),
        Err(AppError::Invalid(m)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            RegisterPage {
                layout: Layout::tenant("Registrati", &t),
                slug: t.slug.as_str(),
                csrf: f.csrf,
                form: Registration::default(),
                errors: Vec::new(),
                general: Some(m),
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
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
    match auth::activate(&state.db, state.clock.as_ref(), &t, &q.token).await {
        Ok(()) => Ok(Redirect::to(&format!("/t/{}/accedi?esito=attivato", t.slug)).into_response()),
        Err(AppError::Invalid(m)) => Ok((
            StatusCode::BAD_REQUEST,
            MessagePage {
                layout: Layout::tenant("Attivazione", &t),
                heading: "Collegamento non valido",
                text: &m,
                link: Some((
                    format!("/t/{}/registrati", t.slug),
                    "Ripeti la registrazione",
                )),
                simulation: None,
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
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
}

pub(crate) async fn reset_request_form(
    State(state): State<AppState>,
    Extension(CurrentTenant(t)): Extension<CurrentTenant>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = ResetRequestPage {
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
    let base = base_url(&state, &headers);
    match auth::request_reset(&state.db, state.clock.as_ref(), &t, &f.fiscal_code, &base).await {
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
        Err(AppError::Fields(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            ResetRequestPage {
                layout: Layout::tenant("Recupera la password", &t),
                slug: t.slug.as_str(),
                csrf: f.csrf,
                fiscal_code: f.fiscal_code,
                error: message_of(&errors, "fiscal_code"),
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
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
    if !auth::reset_link_is_valid(&state.db, state.clock.as_ref(), &t, &q.token).await? {
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
        &state.db,
        state.clock.as_ref(),
        &t,
        &f.token,
        &f.password,
        &f.confirm,
    )
    .await;
    let error = match done {
        Ok(()) => {
            return Ok(
                Redirect::to(&format!("/t/{}/accedi?esito=password", t.slug)).into_response(),
            );
        }
        Err(AppError::Fields(errors)) => message_of(&errors, "password"),
        Err(AppError::Invalid(m)) => Some(m),
        Err(e) => return Err(e.into()),
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
