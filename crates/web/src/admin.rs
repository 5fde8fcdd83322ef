//! The platform administrator's pages at `/admin`: login and logout, the list of
//! municipalities with the form to add one (with its first office user), and a
//! municipality's staff with the forms to add, deactivate and reactivate a user and to set the
//! schools a school user works for; its digital identity (SPID, CIE, OpenID Connect:
//! [`identity`]).
//!
//! Every handler takes [`PlatformAdmin`]: a session with no municipality of an active staff
//! user whose role is `platform_admin`. A municipality's session (staff or family) gets 403;
//! no session, the login. Every POST checks the session's CSRF token.

mod identity;

pub(crate) use identity::{identity, save_identity};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::Tenant;
use refettorio_app::auth::{Session, StaffUser, Subject};
use refettorio_app::outbox::{Full, Row};
use refettorio_app::platform::{self, StaffInput, TENANT_ROLES, TenantInput, TenantRow};
use refettorio_domain::Actor;
use refettorio_domain::{StaffRole, StaffUserId};
use serde::Deserialize;

use crate::access::with_csrf_cookie;
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::Layout;
use crate::session::{
    SESSION_COOKIE, anonymous_csrf, check_anonymous_csrf, current_session, same_origin,
    same_secret, set_cookie,
};
use crate::{AppState, WebError};

const LOGIN: &str = "/admin/accedi";

/// A logged-in platform administrator.
pub(crate) struct PlatformAdmin {
    pub user: StaffUser,
    pub session: Session,
}

impl PlatformAdmin {
    pub(crate) fn check_csrf(&self, headers: &HeaderMap, submitted: &str) -> Result<(), WebError> {
        (same_origin(headers) && same_secret(&self.session.csrf_token, submitted))
            .then_some(())
            .ok_or(WebError::Forbidden)
    }

    /// The use cases' context for a change to a municipality, written in its audit log as
    /// the platform administrator's.
    pub(crate) fn ctx<'a>(&self, state: &'a AppState, t: &'a Tenant) -> refettorio_app::Ctx<'a> {
        state.ctx(t, Actor::PlatformAdmin)
    }
}

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let found = current_session(state, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some((session, _)) = found else {
            return Err(Redirect::to(LOGIN).into_response());
        };
        // A municipality's session (its staff or a family) never opens these pages.
        let (None, Subject::Staff(id)) = (session.tenant, session.subject) else {
            return Err(WebError::Forbidden.into_response());
        };
        match platform::admin(state.installation(), id).await {
            Ok(Some(user)) => Ok(PlatformAdmin { user, session }),
            Ok(None) => Err(WebError::Forbidden.into_response()),
            Err(e) => Err(WebError::from(e).into_response()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Login and logout

#[derive(Template, WebTemplate)]
#[template(path = "admin/login.html")]
struct LoginPage<'a> {
    layout: Layout<'a>,
    csrf: String,
    username: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
pub(crate) struct LoginQuery {
    esito: Option<String>,
}

/// `GET /admin/accedi`
pub(crate) async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = LoginPage {
        layout: Layout::plain("Accesso amministrazione"),
        csrf: csrf.clone(),
        username: String::new(),
        error: None,
        notice: (q.esito.as_deref() == Some("uscito"))
            .then_some("Sei uscito dall'amministrazione della piattaforma."),
    }
    .into_response();
    Ok(with_csrf_cookie(&state, page, &csrf, new))
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /admin/accedi`
pub(crate) async fn login(
    State(state): State<AppState>,
    ip: crate::access::ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    match platform::login(state.installation(), &f.username, &f.password, &ip.source())
        .await
        .or_errors()?
    {
        Ok(s) => {
            let mut r = Redirect::to("/admin").into_response();
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    &s.token,
                    state.config.secure_cookies(),
                    None,
                ),
            );
            Ok(r)
        }
        // Wrong credentials (401) or too many attempts (429): the form again, with why.
        Err(refused) => Ok((
            refused.status(),
            LoginPage {
                layout: Layout::plain("Accesso amministrazione"),
                csrf: f.csrf,
                username: f.username,
                error: refused.first().map(str::to_owned),
                notice: None,
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

/// `POST /admin/esci`
pub(crate) async fn logout(
    State(state): State<AppState>,
    a: PlatformAdmin,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    a.check_csrf(&headers, &f.csrf)?;
    if let Some(token) = crate::session::cookie(&headers, SESSION_COOKIE) {
        refettorio_app::auth::logout(state.installation(), token).await?;
    }
    let mut r = Redirect::to("/admin/accedi?esito=uscito").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", state.config.secure_cookies(), Some(0)),
    );
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// Municipalities

/// The form of a new municipality, as typed.
#[derive(Deserialize, Default)]
pub(crate) struct TenantForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    fiscal_code: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    cutoff: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl TenantForm {
    fn input(&self) -> TenantInput {
        TenantInput {
            slug: self.slug.clone(),
            name: self.name.clone(),
            fiscal_code: self.fiscal_code.clone(),
            timezone: self.timezone.clone(),
            cutoff: self.cutoff.clone(),
            office: StaffInput {
                username: self.username.clone(),
                display_name: self.display_name.clone(),
                role: String::new(),
                password: self.password.clone(),
            },
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/home.html")]
struct HomePage<'a> {
    layout: Layout<'a>,
    name: &'a str,
    csrf: &'a str,
    /// No SMTP server: the test mailbox is linked.
    mail_simulated: bool,
    tenants: Vec<TenantRow>,
    form: TenantForm,
    errors: FieldErrors,
}

async fn render_home(
    state: &AppState,
    a: &PlatformAdmin,
    form: TenantForm,
    errors: FieldErrors,
) -> Result<Response, WebError> {
    let tenants = platform::tenants(state.installation()).await?;
    let status = errors.status();
    let form = TenantForm {
        timezone: if form.timezone.is_empty() {
            "Europe/Rome".into()
        } else {
            form.timezone
        },
        cutoff: if form.cutoff.is_empty() {
            "09:30".into()
        } else {
            form.cutoff
        },
        // A password is never shown back.
        password: String::new(),
        ..form
    };
    let page = HomePage {
        layout: Layout::plain("Amministrazione della piattaforma"),
        name: &a.user.display_name,
        csrf: &a.session.csrf_token,
        mail_simulated: state.config.mail_simulated,
        tenants,
        form,
        errors,
    };
    Ok((status, page).into_response())
}

/// `GET /admin`
pub(crate) async fn home(
    State(state): State<AppState>,
    a: PlatformAdmin,
) -> Result<Response, WebError> {
    render_home(&state, &a, TenantForm::default(), FieldErrors::none()).await
}

/// `POST /admin/comuni`: a new municipality with its first office user.
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    a: PlatformAdmin,
    headers: HeaderMap,
    Form(f): Form<TenantForm>,
) -> Result<Response, WebError> {
    a.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    platform::create_tenant(state.installation(), Actor::PlatformAdmin, &input)
        .await
        .map(|t| Redirect::to(&format!("/admin/comuni/{}?esito=creato", t.slug)))
        .or_form(|errors| render_home(&state, &a, f, errors))
        .await
}

// ---------------------------------------------------------------------------------------------
// A municipality's staff

#[derive(Deserialize, Default)]
pub(crate) struct StaffForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct TenantQuery {
    esito: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/tenant.html")]
struct TenantPage<'a> {
    layout: Layout<'a>,
    name: &'a str,
    csrf: &'a str,
    tenant: Tenant,
    users: Vec<StaffUser>,
    /// Each school user with the municipality's schools: (id, name, works for it).
    school_users: Vec<SchoolUser>,
    roles: Vec<(&'static str, &'static str)>,
    form: StaffForm,
    errors: FieldErrors,
    /// The school user whose schools were refused, with why.
    schools_error: Option<(i64, String)>,
    notice: Option<&'static str>,
}

struct SchoolUser {
    id: i64,
    username: String,
    display_name: String,
    schools: Vec<(i64, String, bool)>,
}

impl TenantPage<'_> {
    /// A refusal about a user who has no school form (not of the school role).
    fn schools_error_elsewhere(&self) -> Option<String> {
        self.schools_error
            .as_ref()
            .filter(|(id, _)| !self.school_users.iter().any(|u| u.id == *id))
            .map(|(_, m)| m.clone())
    }

    fn schools_error_of(&self, user: &i64) -> Option<String> {
        self.schools_error
            .as_ref()
            .filter(|(id, _)| id == user)
            .map(|(_, m)| m.clone())
    }
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "creato" => Some("Comune creato con il primo utente dell'ufficio scuola."),
        "aggiunto" => Some("Utente aggiunto."),
        "disattivato" => Some("Utente disattivato: non può più accedere."),
        "riattivato" => Some("Utente riattivato."),
        "scuole" => Some("Scuole dell'utente salvate."),
        _ => None,
    }
}

async fn render_tenant(
    state: &AppState,
    a: &PlatformAdmin,
    slug: &str,
    form: StaffForm,
    errors: FieldErrors,
    schools_error: Option<(i64, String)>,
    notice: Option<&'static str>,
) -> Result<Response, WebError> {
    let (tenant, users) = platform::tenant_staff(state.installation(), slug).await?;
    let assignments =
        platform::school_assignments(state.ctx(&tenant, Actor::PlatformAdmin)).await?;
    let school_users = users
        .iter()
        .filter(|u| u.role == StaffRole::School)
        .map(|u| SchoolUser {
            id: u.id.get(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            schools: assignments
                .of(u.id)
                .into_iter()
                .map(|(k, on)| (k.id.get(), k.name.clone(), on))
                .collect(),
        })
        .collect();
    let status = if schools_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        errors.status()
    };
    let page = TenantPage {
        layout: Layout::plain("Personale del Comune"),
        name: &a.user.display_name,
        csrf: &a.session.csrf_token,
        tenant,
        users,
        school_users,
        roles: TENANT_ROLES
            .iter()
            .map(|r| (r.as_str(), r.label_it()))
            .collect(),
        form: StaffForm {
            password: String::new(),
            ..form
        },
        errors,
        schools_error,
        notice,
    };
    Ok((status, page).into_response())
}

/// `GET /admin/comuni/<slug>`
pub(crate) async fn tenant(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path(slug): Path<String>,
    Query(q): Query<TenantQuery>,
) -> Result<Response, WebError> {
    render_tenant(
        &state,
        &a,
        &slug,
        StaffForm::default(),
        FieldErrors::none(),
        None,
        notice(q.esito.as_deref()),
    )
    .await
}

/// `POST /admin/comuni/<slug>/personale`: a new staff user of any municipality role.
pub(crate) async fn add_staff(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(f): Form<StaffForm>,
) -> Result<Response, WebError> {
    a.check_csrf(&headers, &f.csrf)?;
    let (t, _) = platform::tenant_staff(state.installation(), &slug).await?;
    let input = StaffInput {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        role: f.role.clone(),
        password: f.password.clone(),
    };
    platform::add_staff(a.ctx(&state, &t), &input)
        .await
        .map(|_| Redirect::to(&format!("/admin/comuni/{}?esito=aggiunto", t.slug)))
        .or_form(|errors| render_tenant(&state, &a, &slug, f, errors, None, None))
        .await
}

async fn set_active(
    state: AppState,
    a: PlatformAdmin,
    slug: String,
    id: i64,
    headers: HeaderMap,
    f: CsrfOnly,
    active: bool,
) -> Result<Response, WebError> {
    a.check_csrf(&headers, &f.csrf)?;
    let (t, _) = platform::tenant_staff(state.installation(), &slug).await?;
    platform::set_staff_active(a.ctx(&state, &t), StaffUserId(id), active).await?;
    let esito = if active { "riattivato" } else { "disattivato" };
    Ok(Redirect::to(&format!("/admin/comuni/{}?esito={esito}", t.slug)).into_response())
}

/// `POST /admin/comuni/<slug>/personale/<id>/scuole`: the schools a school user works for,
/// one `scuola` field per ticked school (none: it sees no school).
pub(crate) async fn staff_schools(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path((slug, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map_or("", |(_, v)| v.as_str());
    a.check_csrf(&headers, csrf)?;
    let (t, _) = platform::tenant_staff(state.installation(), &slug).await?;
    let mut chosen = Vec::new();
    for (k, v) in &fields {
        if k == "scuola" {
            // A value that is not a number names no school of this municipality either.
            chosen.push(v.trim().parse::<i64>().unwrap_or(0));
        }
    }
    platform::set_staff_schools(a.ctx(&state, &t), StaffUserId(id), &chosen)
        .await
        .map(|()| Redirect::to(&format!("/admin/comuni/{}?esito=scuole", t.slug)))
        .or_form(|errors| {
            let message = errors.first().unwrap_or_default().to_string();
            render_tenant(
                &state,
                &a,
                &slug,
                StaffForm::default(),
                FieldErrors::none(),
                Some((id, message)),
                None,
            )
        })
        .await
}

/// `POST /admin/comuni/<slug>/personale/<id>/disattiva`
pub(crate) async fn deactivate(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path((slug, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    set_active(state, a, slug, id, headers, f, false).await
}

/// `POST /admin/comuni/<slug>/personale/<id>/riattiva`
pub(crate) async fn reactivate(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path((slug, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    set_active(state, a, slug, id, headers, f, true).await
}

// ---------------------------------------------------------------------------------------------
// The test mailbox (no SMTP server configured: nothing is sent)

/// The platform's pages show times in Italy's time zone.
fn rome() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/Rome").unwrap_or(jiff::tz::TimeZone::UTC)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/mailbox.html")]
struct MailboxPage<'a> {
    layout: Layout<'a>,
    name: &'a str,
    csrf: &'a str,
    rows: Vec<Row>,
    tz: jiff::tz::TimeZone,
}

/// `GET /admin/posta`: every municipality's simulated e-mails; 404 with a mail server.
pub(crate) async fn mailbox(
    State(state): State<AppState>,
    a: PlatformAdmin,
) -> Result<Response, WebError> {
    if !state.config.mail_simulated {
        return Err(WebError::NotFound("Pagina non trovata.".into()));
    }
    let rows = refettorio_app::outbox::mailbox(&state.db, None).await?;
    Ok(MailboxPage {
        layout: Layout::plain("Casella di prova"),
        name: &a.user.display_name,
        csrf: &a.session.csrf_token,
        rows,
        tz: rome(),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/mailbox_message.html")]
struct MailboxMessagePage<'a> {
    layout: Layout<'a>,
    name: &'a str,
    csrf: &'a str,
    m: Full,
    tz: jiff::tz::TimeZone,
}

/// `GET /admin/posta/<id>`: one simulated e-mail; 404 with a mail server.
pub(crate) async fn mailbox_message(
    State(state): State<AppState>,
    a: PlatformAdmin,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    if !state.config.mail_simulated {
        return Err(WebError::NotFound("Pagina non trovata.".into()));
    }
    let m = refettorio_app::outbox::mailbox_message(&state.db, None, id).await?;
    Ok(MailboxMessagePage {
        layout: Layout::plain("Casella di prova"),
        name: &a.user.display_name,
        csrf: &a.session.csrf_token,
        m,
        tz: rome(),
    }
    .into_response())
}
