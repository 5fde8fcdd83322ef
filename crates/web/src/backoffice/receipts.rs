//! pagoPA receipts the station held instead of applying (a notice we do not know, an amount other
//! than the notice's, a second payment, another station named, transfers that do not add up):
//! the office looks at each, with the reason, and credits it to the account it belongs to or
//! sets it aside, with a reason either way.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::pagopa::{
    Reconciled, StoredReceipt, dismiss_receipt, held_receipts, reconcile_receipt,
};
use serde::Deserialize;

use super::{RECEIPTS, Staff};
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/receipts.html")]
struct ReceiptsPage<'a> {
    frame: Frame<'a>,
    receipts: Vec<StoredReceipt>,
    tz: &'a jiff::tz::TimeZone,
    done: Option<&'static str>,
    /// The receipt whose form was refused, which form, what was typed, and the errors.
    failed: Option<Failed>,
}
framed!(ReceiptsPage);

/// A decision form the office sent back with errors.
struct Failed {
    receipt: i64,
    form: Decision,
    typed: ReconcileForm,
    errors: FieldErrors,
}

/// The two decisions on a held receipt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Credit,
    Dismiss,
}

impl ReceiptsPage<'_> {
    fn failed_on(&self, receipt: &i64, form: &str) -> Option<&Failed> {
        let form = if form == "scarta" {
            Decision::Dismiss
        } else {
            Decision::Credit
        };
        self.failed
            .as_ref()
            .filter(|f| f.receipt == *receipt && f.form == form)
    }
    fn typed(&self, receipt: &i64, form: &str, name: &str) -> String {
        match self.failed_on(receipt, form) {
            Some(f) if name == "conto" => f.typed.conto.clone(),
            Some(f) => f.typed.motivo.clone(),
            None => String::new(),
        }
    }
    /// The errors of one receipt's form (none unless it is the one sent back).
    fn errors_on(&self, receipt: &i64, form: &str) -> &FieldErrors {
        self.failed_on(receipt, form)
            .map_or(FieldErrors::empty(), |f| &f.errors)
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Outcome {
    esito: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub(crate) struct ReconcileForm {
    #[serde(default)]
    conto: String,
    #[serde(default)]
    motivo: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

async fn page(
    state: &AppState,
    s: &Staff,
    done: Option<&'static str>,
    failed: Option<Failed>,
) -> Result<Response, WebError> {
    let receipts = held_receipts(s.ctx(state)).await?;
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ReceiptsPage {
        frame: s.frame(&RECEIPTS),
        receipts,
        tz: &s.tenant.timezone,
        done,
        failed,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/pagopa/ricevute`, newest first.
pub(crate) async fn held(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<Outcome>,
) -> Result<Response, WebError> {
    s.require(RECEIPTS.roles)?;
    let done = match q.esito.as_deref() {
        Some("accreditata") => {
            Some("Ricevuta riconciliata: l'importo è stato accreditato sul conto.")
        }
        Some("gia") => Some(
            "Su questa ricevuta era già stata presa una decisione: non è stato accreditato nulla di nuovo.",
        ),
        Some("scartata") => Some(
            "Ricevuta messa da parte: non è stata accreditata. La restituzione al pagatore avviene fuori da pagoPA.",
        ),
        _ => None,
    };
    page(&state, &s, done, None).await
}

/// `POST /t/<slug>/backoffice/pagopa/ricevute/<id>/riconcilia`: credits the receipt once.
pub(crate) async fn reconcile(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<ReconcileForm>,
) -> Result<Response, WebError> {
    s.require(RECEIPTS.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let base = format!("/t/{}/backoffice/pagopa/ricevute", s.slug());
    match reconcile_receipt(s.ctx(&state), id, &f.conto, &f.motivo)
        .await
        .or_errors()?
    {
        Ok(Reconciled::Credited(_)) => {
            Ok(Redirect::to(&format!("{base}?esito=accreditata")).into_response())
        }
        Ok(Reconciled::AlreadyDone) => {
            Ok(Redirect::to(&format!("{base}?esito=gia")).into_response())
        }
        Err(errors) => {
            let failed = Failed {
                receipt: id,
                form: Decision::Credit,
                typed: f,
                errors,
            };
            page(&state, &s, None, Some(failed)).await
        }
    }
}

/// `POST /t/<slug>/backoffice/pagopa/ricevute/<id>/scarta`: sets the receipt aside, crediting
/// nothing.
pub(crate) async fn dismiss(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<ReconcileForm>,
) -> Result<Response, WebError> {
    s.require(RECEIPTS.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let base = format!("/t/{}/backoffice/pagopa/ricevute", s.slug());
    match dismiss_receipt(s.ctx(&state), id, &f.motivo)
        .await
        .or_errors()?
    {
        Ok(true) => Ok(Redirect::to(&format!("{base}?esito=scartata")).into_response()),
        Ok(false) => Ok(Redirect::to(&format!("{base}?esito=gia")).into_response()),
        Err(errors) => {
            let failed = Failed {
                receipt: id,
                form: Decision::Dismiss,
                typed: f,
                errors,
            };
            page(&state, &s, None, Some(failed)).await
        }
    }
}
