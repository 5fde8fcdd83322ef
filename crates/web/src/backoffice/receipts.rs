//! pagoPA receipts the station could not match to a notice of ours: the office looks at them
//! (and reconciles them by hand, for now through an office payment).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use refettorio_db::pagopa::{self, ReceiptStatus, StoredReceipt};

use super::{RECEIPTS, Staff};
use crate::pages::Layout;
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/receipts.html")]
struct ReceiptsPage<'a> {
    layout: Layout<'a>,
    nav: Vec<(String, &'static str, bool)>,
    receipts: Vec<StoredReceipt>,
    tz: &'a jiff::tz::TimeZone,
}

/// `GET /t/<slug>/backoffice/pagopa/ricevute`, newest first.
pub(crate) async fn unmatched(
    State(state): State<AppState>,
    s: Staff,
) -> Result<Response, WebError> {
    s.require(RECEIPTS.roles)?;
    let mut h = state.db.acquire().await?;
    let receipts =
        pagopa::receipts_with_status(&mut h.conn(), s.tenant.id, ReceiptStatus::Unmatched).await?;
    Ok(ReceiptsPage {
        layout: s.layout(RECEIPTS.title),
        nav: s.nav(&RECEIPTS),
        receipts,
        tz: &s.tenant.timezone,
    }
    .into_response())
}
