//! The municipality's channels besides e-mail: the SMS gateway (any provider's HTTP API, by
//! settings) and App IO. Secrets are write-only: the page says whether one is set, never
//! shows it. Checked and saved by [`refettorio_app::outbox::channels`].

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::outbox::channels::{self, ChannelsForm};
use serde::Deserialize;

use super::{Section, Staff};
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

pub(crate) const CHANNELS: Section = Section {
    path: "/canali",
    title: "SMS e App IO",
    summary: "Il gateway SMS del fornitore del Comune e il servizio App IO: indirizzi, campi, chiavi.",
    roles: super::OFFICE,
};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/channels.html")]
struct ChannelsPage<'a> {
    frame: Frame<'a>,
    form: ChannelsForm,
    sms_secret_set: bool,
    io_key_set: bool,
    done: bool,
    errors: FieldErrors,
    auths: [(&'static str, &'static str); 3],
    bodies: [(&'static str, &'static str); 2],
}
framed!(ChannelsPage);

impl ChannelsPage<'_> {
    fn sms_secret_label(&self) -> &'static str {
        if self.sms_secret_set {
            "Segreto (token o password) del gateway: già impostato, lascia vuoto per non cambiarlo"
        } else {
            "Segreto (token o password) del gateway"
        }
    }
    fn io_key_label(&self) -> &'static str {
        if self.io_key_set {
            "Chiave API del servizio IO: già impostata, lascia vuoto per non cambiarla"
        } else {
            "Chiave API del servizio IO (Ocp-Apim-Subscription-Key)"
        }
    }
}

const AUTHS: [(&str, &str); 3] = [
    ("none", "Nessuna"),
    ("header", "Intestazione HTTP con il segreto"),
    ("basic", "HTTP Basic (utente e password)"),
];
const BODIES: [(&str, &str); 2] = [
    ("json", "JSON"),
    ("form", "Modulo (application/x-www-form-urlencoded)"),
];

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    esito: Option<String>,
}

/// The form as posted: names are those of the field errors.
#[derive(Deserialize, Default)]
pub(crate) struct Posted {
    #[serde(default)]
    sms_url: String,
    #[serde(default)]
    sms_auth: String,
    #[serde(default)]
    sms_auth_header: String,
    #[serde(default)]
    sms_basic_user: String,
    #[serde(default)]
    sms_secret: String,
    sms_secret_clear: Option<String>,
    #[serde(default)]
    sms_recipient_field: String,
    #[serde(default)]
    sms_text_field: String,
    #[serde(default)]
    sms_sender_field: String,
    #[serde(default)]
    sms_sender: String,
    #[serde(default)]
    sms_body: String,
    #[serde(default)]
    io_service_id: String,
    #[serde(default)]
    io_base_url: String,
    #[serde(default)]
    io_key: String,
    io_key_clear: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl From<Posted> for ChannelsForm {
    fn from(p: Posted) -> ChannelsForm {
        ChannelsForm {
            sms_url: p.sms_url,
            sms_auth: p.sms_auth,
            sms_auth_header: p.sms_auth_header,
            sms_basic_user: p.sms_basic_user,
            sms_secret: p.sms_secret,
            sms_secret_clear: p.sms_secret_clear.is_some(),
            sms_recipient_field: p.sms_recipient_field,
            sms_text_field: p.sms_text_field,
            sms_sender_field: p.sms_sender_field,
            sms_sender: p.sms_sender,
            sms_body: p.sms_body,
            io_service_id: p.io_service_id,
            io_base_url: p.io_base_url,
            io_key: p.io_key,
            io_key_clear: p.io_key_clear.is_some(),
        }
    }
}

async fn page(
    state: &AppState,
    s: &Staff,
    form: ChannelsForm,
    done: bool,
    errors: FieldErrors,
) -> Result<Response, WebError> {
    let view = channels::view(s.ctx(state)).await?;
    let status = errors.status();
    // Secrets never go back to the browser.
    let form = ChannelsForm {
        sms_secret: String::new(),
        io_key: String::new(),
        ..form
    };
    let page = ChannelsPage {
        frame: s.frame(&CHANNELS),
        form,
        sms_secret_set: view.sms_secret_set,
        io_key_set: view.io_key_set,
        done,
        errors,
        auths: AUTHS,
        bodies: BODIES,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/canali`
pub(crate) async fn channels_page(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    s.require(CHANNELS.roles)?;
    let done = q.esito.as_deref() == Some("salvati");
    let form = ChannelsForm::of(&s.tenant.settings.messaging);
    page(&state, &s, form, done, FieldErrors::none()).await
}

/// `POST /t/<slug>/backoffice/canali`
pub(crate) async fn save_channels(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(CHANNELS.roles)?;
    s.check_csrf(&headers, &p.csrf)?;
    let form = ChannelsForm::from(p);
    channels::save(s.ctx(&state), &form)
        .await
        .map(|()| Redirect::to(&format!("/t/{}/backoffice/canali?esito=salvati", s.slug())))
        .or_form(|errors| page(&state, &s, form, false, errors))
        .await
}
