//! The guardian's profile: contacts and password.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::auth;
use refettorio_app::portal::{self, Contacts, ContactsInput};
use serde::Deserialize;

use super::nav::Section;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::session::Citizen;
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "portal/profile.html")]
struct ProfilePage<'a> {
    frame: Frame<'a>,
    fiscal_code: &'a str,
    contacts: Contacts,
    errors: FieldErrors,
    saved: Option<&'static str>,
    local_login: bool,
    /// The municipality sends messages through App IO: the profile offers it as a channel.
    app_io: bool,
}
framed!(ProfilePage);

#[derive(Deserialize, Default)]
pub(crate) struct ProfileQuery {
    esito: Option<String>,
}

async fn profile_page(
    state: &AppState,
    c: &Citizen,
    contacts: Option<Contacts>,
    errors: FieldErrors,
    saved: Option<&'static str>,
) -> Result<Response, WebError> {
    let contacts = match contacts {
        Some(k) => k,
        None => portal::contacts(c.ctx(state), c.guardian.id)
            .await?
            .ok_or(WebError::Forbidden)?,
    };
    let name = c.full_name();
    let status = errors.status();
    Ok((
        status,
        ProfilePage {
            frame: c.frame(Section::Profile, "Profilo", &name),
            fiscal_code: c.guardian.fiscal_code.as_str(),
            contacts,
            errors,
            saved,
            local_login: c.tenant.settings.citizen_local_login,
            app_io: c.tenant.settings.messaging.app_io.enabled(),
        },
    )
        .into_response())
}

pub(crate) async fn profile(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<ProfileQuery>,
) -> Result<Response, WebError> {
    let saved = match q.esito.as_deref() {
        Some("contatti") => Some("Contatti salvati."),
        Some("password") => Some("Password cambiata. Le altre sessioni aperte sono state chiuse."),
        _ => None,
    };
    profile_page(&state, &c, None, FieldErrors::none(), saved).await
}

#[derive(Deserialize)]
pub(crate) struct ContactsForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    notify_email: Option<String>,
    notify_sms: Option<String>,
    notify_app_io: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub(crate) async fn save_contacts(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(f): Form<ContactsForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
    let input = ContactsInput {
        email: f.email,
        phone: f.phone,
        notify_email: f.notify_email.is_some(),
        notify_sms: f.notify_sms.is_some(),
        notify_app_io: c
            .tenant
            .settings
            .messaging
            .app_io
            .enabled()
            .then_some(f.notify_app_io.is_some()),
    };
    if let Err(errors) = portal::save_contacts(c.ctx(&state), c.guardian.id, &input)
        .await
        .or_errors()?
    {
        // The form comes back as typed.
        let shown = Contacts {
            email: Some(input.email),
            phone: Some(input.phone),
            notify_email: input.notify_email,
            notify_sms: input.notify_sms,
            notify_app_io: input.notify_app_io.unwrap_or(false),
        };
        return profile_page(&state, &c, Some(shown), errors, None).await;
    }
    Ok(Redirect::to(&format!(
        "/t/{}/area-personale/profilo?esito=contatti",
        c.tenant.slug
    ))
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
    auth::change_password(
        c.ctx(&state),
        c.guardian.id,
        &c.token,
        &f.current,
        &f.password,
        &f.confirm,
    )
    .await
    .map(|()| {
        Redirect::to(&format!(
            "/t/{}/area-personale/profilo?esito=password",
            c.tenant.slug
        ))
    })
    .or_form(|errors| profile_page(&state, &c, None, errors, None))
    .await
}
