//! The office's messages: what the platform sent (or is trying to send) to families and to the
//! kitchen, with the state of each and, for a failed one, the mail server's reason. The content
//! is never shown (its links are credentials), except in the test mailbox of an installation
//! without SMTP, where nothing is sent and the office reads the simulated e-mails.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use refettorio_app::outbox::{self, Counts, Full, Row};
use serde::Deserialize;

use super::{MESSAGES, Staff};
use crate::filters;
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/messages.html")]
struct MessagesPage<'a> {
    frame: Frame<'a>,
    counts: Counts,
    rows: Vec<Row>,
    failed_only: bool,
    simulated: bool,
    tz: &'a jiff::tz::TimeZone,
}
framed!(MessagesPage);

impl MessagesPage<'_> {
    fn kind(&self, kind: &str) -> String {
        kind_label(kind).to_string()
    }
    fn channel(&self, channel: &str) -> String {
        channel_label(channel).to_string()
    }
    fn status(&self, r: &Row) -> &'static str {
        status_label(r)
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Filter {
    stato: Option<String>,
}

/// `GET /t/<slug>/backoffice/messaggi[?stato=non-consegnati]`
pub(crate) async fn messages(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<Filter>,
) -> Result<Response, WebError> {
    s.require(MESSAGES.roles)?;
    let failed_only = q.stato.as_deref() == Some("non-consegnati");
    let found = outbox::office_messages(&state.db, s.tenant.id, failed_only).await?;
    Ok(MessagesPage {
        frame: s.frame(&MESSAGES),
        counts: found.counts,
        rows: found.rows,
        failed_only,
        simulated: state.config.mail_simulated,
        tz: &s.tenant.timezone,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/mailbox_message.html")]
struct MailboxMessagePage<'a> {
    frame: Frame<'a>,
    m: Full,
    tz: &'a jiff::tz::TimeZone,
}
framed!(MailboxMessagePage);

/// `GET /t/<slug>/backoffice/messaggi/casella/<id>`: a simulated e-mail of the test mailbox;
/// 404 when a mail server is configured (nothing is simulated then) or the e-mail is not of
/// this municipality.
pub(crate) async fn mailbox_message(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    s.require(MESSAGES.roles)?;
    if !state.config.mail_simulated {
        return Err(WebError::NotFound("Pagina non trovata.".into()));
    }
    let m = outbox::mailbox_message(&state.db, Some(s.tenant.id), id).await?;
    Ok(MailboxMessagePage {
        frame: s.frame(&MESSAGES).titled("Casella di prova"),
        m,
        tz: &s.tenant.timezone,
    }
    .into_response())
}

/// How the office reads a message's kind.
pub(crate) fn kind_label(kind: &str) -> &str {
    match kind {
        "activation" => "Attivazione dell'account",
        "password_reset" => "Recupero della password",
        "low_balance" => "Credito basso",
        "kitchen_numbers" => "Numeri della cucina",
        "communication" => "Comunicazione dell'ufficio",
        "payment_received" => "Pagamento ricevuto",
        "payment_notice" => "Avviso di pagamento",
        "closure" => "Chiusura o sciopero",
        other => other,
    }
}

/// How the office reads a message's channel.
pub(crate) fn channel_label(channel: &str) -> &str {
    match channel {
        "email" => "E-mail",
        "sms" => "SMS",
        "app_io" => "App IO",
        other => other,
    }
}

/// The state of a message in words.
pub(crate) fn status_label(r: &Row) -> &'static str {
    match (r.status.as_str(), r.channel.as_str()) {
        ("sent", _) => "Inviato",
        ("simulated", _) => "Nella casella di prova (simulazione: non inviato)",
        ("failed", _) => "Non consegnato",
        ("pending", _) if r.attempts > 0 => "In attesa di un nuovo tentativo",
        ("pending", _) => "In attesa di invio",
        _ => "Sconosciuto",
    }
}
