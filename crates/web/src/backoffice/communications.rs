//! The office writes to families: to the families of a service, a school, a class or one
//! family; a preview says how many families and by which channels before anything is sent;
//! each communication lands in the families' Comunicazioni and has a delivery report.
//! The rules are in [`refettorio_app::outbox::families`].

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::outbox::families::{self, CommunicationForm, Preview};
use refettorio_app::outbox::{Communication, OfficeRow};
use refettorio_domain::messaging::Channel;
use serde::Deserialize;

use super::messages::{channel_label, status_label};
use super::{Section, Staff};
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

pub(crate) const COMMUNICATIONS: Section = Section {
    path: "/comunicazioni",
    title: "Comunicazioni alle famiglie",
    summary: "Scrivi alle famiglie di un servizio, di una scuola, di una classe o a una famiglia: anteprima dei destinatari e dei canali, poi l'esito di ogni invio.",
    roles: super::OFFICE,
};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/communications.html")]
struct CommunicationsPage<'a> {
    frame: Frame<'a>,
    audiences: Vec<(String, String)>,
    form: CommunicationForm,
    preview: Option<Preview>,
    errors: FieldErrors,
    sent: Vec<Communication>,
    tz: &'a jiff::tz::TimeZone,
}
framed!(CommunicationsPage);

impl CommunicationsPage<'_> {
    fn channel(&self, c: &Channel) -> &'static str {
        c.label_it()
    }
}

/// The form as posted.
#[derive(Deserialize, Default)]
pub(crate) struct Posted {
    #[serde(default)]
    audience: String,
    #[serde(default)]
    fiscal_code: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    /// `anteprima` or `invia`.
    #[serde(default)]
    azione: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

async fn page(
    state: &AppState,
    s: &Staff,
    form: CommunicationForm,
    preview: Option<Preview>,
    errors: FieldErrors,
) -> Result<Response, WebError> {
    let ctx = s.ctx(state);
    let mut audiences = families::audiences(ctx).await?;
    audiences.push((
        "famiglia".into(),
        "Una famiglia (codice fiscale del pagante)".into(),
    ));
    let sent = families::list(ctx).await?;
    let status = errors.status();
    let page = CommunicationsPage {
        frame: s.frame(&COMMUNICATIONS),
        audiences,
        form,
        preview,
        errors,
        sent,
        tz: &s.tenant.timezone,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/comunicazioni`
pub(crate) async fn communications(
    State(state): State<AppState>,
    s: Staff,
) -> Result<Response, WebError> {
    s.require(COMMUNICATIONS.roles)?;
    page(
        &state,
        &s,
        CommunicationForm::default(),
        None,
        FieldErrors::none(),
    )
    .await
}

/// `POST /t/<slug>/backoffice/comunicazioni`: `azione=anteprima` shows whom it reaches,
/// `azione=invia` sends it.
pub(crate) async fn post_communication(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(p): Form<Posted>,
) -> Result<Response, WebError> {
    s.require(COMMUNICATIONS.roles)?;
    s.check_csrf(&headers, &p.csrf)?;
    let form = CommunicationForm {
        audience: p.audience,
        fiscal_code: p.fiscal_code,
        subject: p.subject,
        body: p.body,
    };
    let ctx = s.ctx(&state);
    if p.azione == "invia" {
        return families::send(ctx, &form)
            .await
            .map(|id| Redirect::to(&format!("/t/{}/backoffice/comunicazioni/{id}", s.slug())))
            .or_form(|errors| page(&state, &s, form, None, errors))
            .await;
    }
    match families::preview(ctx, &form).await.or_errors()? {
        Ok(preview) => page(&state, &s, form, Some(preview), FieldErrors::none()).await,
        Err(errors) => page(&state, &s, form, None, errors).await,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/communication.html")]
struct ReportPage<'a> {
    frame: Frame<'a>,
    c: Communication,
    rows: Vec<OfficeRow>,
    tz: &'a jiff::tz::TimeZone,
}
framed!(ReportPage);

impl ReportPage<'_> {
    fn channel(&self, channel: &str) -> String {
        channel_label(channel).to_string()
    }
    fn status(&self, r: &OfficeRow) -> &'static str {
        status_label(r)
    }
}

/// `GET /t/<slug>/backoffice/comunicazioni/<id>`: the delivery report.
pub(crate) async fn communication_report(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    s.require(COMMUNICATIONS.roles)?;
    let (c, rows) = families::report(s.ctx(&state), id).await?;
    Ok(ReportPage {
        frame: s.frame(&COMMUNICATIONS),
        c,
        rows,
        tz: &s.tenant.timezone,
    }
    .into_response())
}
