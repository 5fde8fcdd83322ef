//! pagoPA receipts the station could not match to a notice of ours: the office looks at them
//! and credits each to the account it belongs to, with a reason.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::pagopa::{Reconciled, reconcile_receipt};
use refettorio_app::{AppError, FieldError};
use refettorio_db::pagopa::{self, ReceiptStatus, StoredReceipt};
use serde::Deserialize;

use super::{RECEIPTS, Staff};
use crate::pages::Layout;
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/receipts.html")]
struct ReceiptsPage<'a> {
    layout: Layout<'a>,
    nav: Vec<(String, &'static str, bool)>,
    slug: &'a str,
    csrf: &'a str,
    receipts: Vec<StoredReceipt>,
    tz: &'a jiff::tz::TimeZone,
    done: Option<&'static str>,
    /// The receipt whose form was refused, what was typed, and the errors.
    failed: Option<(i64, ReconcileForm, Vec<FieldError>)>,
}

impl ReceiptsPage<'_> {
    fn typed(&self, receipt: &i64, name: &str) -> String {
        match &self.failed {
            Some((id, f, _)) if id == receipt => match name {
                "conto" => f.conto.clone(),
                _ => f.motivo.clone(),
            },
            _ => String::new(),
        }
    }
    fn error(&self, receipt: &i64, name: &str) -> Option<String> {
        match &self.failed {
            Some((id, _, errors)) if id == receipt => errors
                .iter()
                .find(|e| e.field == name)
                .map(|e| e.message.clone()),
            _ => None,
        }
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
    failed: Option<(i64, ReconcileForm, Vec<FieldError>)>,
) -> Result<Response, WebError> {
    let receipts = {
        let mut h = state.db.acquire().await?;
        pagopa::receipts_with_status(&mut h.conn(), s.tenant.id, ReceiptStatus::Unmatched).await?
    };
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ReceiptsPage {
        layout: s.layout(RECEIPTS.title),
        nav: s.nav(&RECEIPTS),
        slug: s.slug(),
        csrf: &s.session.csrf_token,
        receipts,
        tz: &s.tenant.timezone,
        done,
        failed,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/pagopa/ricevute`, newest first.
pub(crate) async fn unmatched(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<Outcome>,
) -> Result<Response, WebError> {
    s.require(RECEIPTS.roles)?;
    let done = match q.esito.as_deref() {
        Some("accreditata") => {
            Some("Ricevuta riconciliata: l'importo è stato accreditato sul conto.")
        }
        Some("gia") => {
            Some("Questa ricevuta era già stata riconciliata: non è stata accreditata di nuovo.")
        }
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
    match reconcile_receipt(
        &state.db,
        state.clock.as_ref(),
        &s.tenant,
        &s.actor(),
        id,
        &f.conto,
        &f.motivo,
    )
    .await
    {
        Ok(Reconciled::Credited(_)) => {
            Ok(Redirect::to(&format!("{base}?esito=accreditata")).into_response())
        }
        Ok(Reconciled::AlreadyDone) => {
            Ok(Redirect::to(&format!("{base}?esito=gia")).into_response())
        }
        Err(AppError::Fields(e)) => page(&state, &s, None, Some((id, f, e))).await,
        Err(e) => Err(e.into()),
    }
}
