//! Payments (an account's movements and summary, the pagoPA notices) and the family's
//! communications.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use refettorio_app::content::{self, DocumentInfo};
use refettorio_app::outbox::families::{self as letters, FamilyCommunication};
use refettorio_app::portal::{self, PaymentsView};
use refettorio_domain::{AccountId, FamilyId};
use serde::Deserialize;

use super::nav::Section;
use crate::files::download;
use crate::filters;
use crate::filters::dmy_it as dmy;
use crate::form::parse_day;
use crate::pages::{Frame, framed};
use crate::session::Citizen;
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct PaymentsQuery {
    conto: Option<i64>,
    dal: Option<String>,
    al: Option<String>,
    /// Back from Checkout after paying several notices together.
    esito: Option<String>,
    /// Why a cart was not sent.
    carrello: Option<String>,
}

/// What the page says about a cart of notices: `(alert kind, text)`.
fn cart_message(q: &PaymentsQuery) -> Option<(&'static str, &'static str)> {
    match (q.carrello.as_deref(), q.esito.as_deref()) {
        (Some("vuoto"), _) => Some(("warning", "Scegli almeno un avviso da pagare.")),
        (Some("troppi"), _) => Some(("warning", "Si possono pagare insieme al massimo 5 avvisi.")),
        (Some("non-pagabile"), _) => Some((
            "warning",
            "Uno degli avvisi scelti non è più da pagare (pagato, annullato o scaduto).",
        )),
        (_, Some("ok")) => Some((
            "info",
            "Pagamento inviato: ogni avviso risulta pagato appena arriva la sua ricevuta da pagoPA.",
        )),
        (_, Some("annullato")) => Some((
            "warning",
            "Pagamento annullato: non è stato addebitato nulla. Puoi riprovare quando vuoi.",
        )),
        (_, Some("errore")) => Some((
            "danger",
            "Il pagamento non è andato a buon fine. Non è stato addebitato nulla: riprova più tardi.",
        )),
        (_, Some("non-disponibile")) => Some((
            "danger",
            "Il pagamento online non è disponibile in questo momento: riprova più tardi o paga gli avvisi stampati.",
        )),
        _ => None,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/payments.html")]
struct PaymentsPage<'a> {
    frame: Frame<'a>,
    view: Option<PaymentsView>,
    updated: String,
    from: String,
    to: String,
    error: Option<String>,
    /// The pagoPA notices of the guardian's families (recharges and fees).
    positions: Vec<crate::recharge::positions::PositionRow>,
    pagopa: bool,
    /// How a cart of several notices went.
    cart: Option<(&'static str, &'static str)>,
    /// The post-paid services' fees summed up.
    fees: Option<refettorio_app::fees::FeeSummary>,
}
framed!(PaymentsPage);

impl PaymentsPage<'_> {
    /// More than one notice can be paid now: the page offers to pay them together.
    fn cart_offered(&self) -> bool {
        self.pagopa && self.positions.iter().filter(|p| p.open).count() > 1
    }
}

pub(crate) async fn payments(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<PaymentsQuery>,
) -> Result<Response, WebError> {
    let blank = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (from_s, to_s) = (blank(&q.dal), blank(&q.al));
    let from = from_s.as_deref().map(parse_day);
    let to = to_s.as_deref().map(parse_day);
    let mut error = None;
    if matches!(from, Some(None)) || matches!(to, Some(None)) {
        error = Some("Date non valide: usa il formato gg/mm/aaaa.".to_string());
    }
    let (from, to) = (from.flatten(), to.flatten());
    if let (Some(a), Some(b)) = (from, to)
        && b < a
    {
        error = Some("La data finale viene prima di quella iniziale.".into());
    }
    c.require_payments()?;
    let view = portal::payments(c.ctx(&state), &c.access, q.conto.map(AccountId), from, to).await?;
    let updated = view
        .as_ref()
        .map(|v| {
            let z = v.updated_at.to_zoned(c.tenant.timezone.clone());
            format!("{} alle {}", dmy(&z.date()), z.strftime("%H:%M"))
        })
        .unwrap_or_default();
    let (positions, fees) = crate::recharge::positions::of_citizen(&state, &c).await?;
    let name = c.full_name();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        PaymentsPage {
            frame: c.frame(Section::Payments, "Pagamenti", &name),
            view,
            updated,
            from: from_s.unwrap_or_default(),
            to: to_s.unwrap_or_default(),
            error,
            positions,
            pagopa: refettorio_app::pagopa::enabled(&c.tenant),
            cart: cart_message(&q),
            fees,
        },
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/messages.html")]
struct MessagesPage<'a> {
    frame: Frame<'a>,
    documents: Vec<DocumentInfo>,
    /// What the office wrote to the user's families.
    letters: Vec<FamilyCommunication>,
    tz: &'a jiff::tz::TimeZone,
}
framed!(MessagesPage);

fn families(c: &Citizen) -> Vec<FamilyId> {
    c.access.families.iter().map(|(f, _)| f.id).collect()
}

pub(crate) async fn messages(
    State(state): State<AppState>,
    c: Citizen,
) -> Result<Response, WebError> {
    let documents = content::family_documents(c.ctx(&state), &families(&c)).await?;
    let letters = letters::of_families(c.ctx(&state), &families(&c)).await?;
    let name = c.full_name();
    Ok(MessagesPage {
        frame: c.frame(Section::Messages, "Comunicazioni", &name),
        documents,
        letters,
        tz: &c.tenant.timezone,
    }
    .into_response())
}

pub(crate) async fn message_file(
    State(state): State<AppState>,
    c: Citizen,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    match content::family_document(c.ctx(&state), id, &families(&c)).await? {
        Some((info, bytes)) => Ok(download(&info, bytes)),
        None => Err(WebError::NotFound("Documento non trovato.".into())),
    }
}
