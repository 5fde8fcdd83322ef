//! A local stand-in for pagoPA Checkout, for the demo and development (sandbox mode). It takes
//! carts on the same API as Checkout, shows a page plainly marked as a simulation, and when
//! the family presses pay it plays the pagoPA node against our own station over HTTP with real
//! SOAP: paVerifyPaymentNotice, paGetPaymentV2, paSendRTV2. So the whole journey, receipt
//! included, runs on one machine through the same code as in production. For a tenant in live
//! mode it refuses everything.
//!
//! The cart travels in the page's address (base64url JSON): the stand-in keeps no state, so any
//! node can serve any step.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use refettorio_app::pagopa::{self as pay, Tenant};
use refettorio_domain::{Cents, NoticeNumber, PagoPaMode};
use serde::Deserialize;

use super::checkout::{CartRequest, client, public_base};
use crate::pages::Layout;
use crate::session::{anonymous_csrf, check_anonymous_csrf};
use crate::{AppState, WebError};
use refettorio_pagopa::{
    self as soap, GetPaymentRequest, Outcome, Receipt, ReceiptTransfer, Response as SoapResponse,
    SendRtRequest, StationHeader, VerifyRequest, Version,
};

/// RFC 9457 problem, as Checkout answers a bad cart.
fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// The tenants of a cart's notices, each checked to be in sandbox mode.
async fn sandbox_tenants(state: &AppState, cart: &CartRequest) -> Result<Vec<Tenant>, Response> {
    let n = cart.payment_notices.len();
    if n == 0 || n > 5 {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "paymentNotices must hold 1 to 5 notices",
        ));
    }
    let mut out = Vec::new();
    for p in &cart.payment_notices {
        if NoticeNumber::parse(&p.notice_number).is_err()
            || p.fiscal_code.len() != 11
            || p.amount < 1
            || p.company_name.chars().count() > 140
            || p.description.chars().count() > 140
        {
            return Err(problem(StatusCode::BAD_REQUEST, "invalid payment notice"));
        }
        let t = pay::tenant_by_fiscal_code(state.installation(), &p.fiscal_code)
            .await
            .map_err(|_| problem(StatusCode::INTERNAL_SERVER_ERROR, "try again"))?;
        match t {
            Some(t) if t.settings.pagopa.mode == PagoPaMode::Sandbox => out.push(t),
            _ => {
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    "no sandbox for this creditor",
                ));
            }
        }
    }
    let base = public_base(state);
    let ours = |u: &str| {
        u.starts_with('/') && !u.starts_with("//")
            || (!base.is_empty() && u.starts_with(&format!("{base}/")))
    };
    let r = &cart.return_urls;
    if !(ours(&r.return_ok_url) && ours(&r.return_cancel_url) && ours(&r.return_error_url)) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "the sandbox only returns to this installation",
        ));
    }
    Ok(out)
}

/// `POST /pagopa/sandbox/checkout/ec/v1/carts`: Checkout's cart API.
pub(crate) async fn carts(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let cart: CartRequest = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &format!("invalid cart: {e}")),
    };
    if let Err(r) = sandbox_tenants(&state, &cart).await {
        return r;
    }
    let Ok(json) = serde_json::to_vec(&cart) else {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "try again");
    };
    let location = format!(
        "/pagopa/sandbox/pagamento?carrello={}",
        URL_SAFE_NO_PAD.encode(json)
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn decode_cart(s: &str) -> Option<CartRequest> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

struct NoticeLine {
    company: String,
    description: String,
    notice: String,
    amount: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sandbox.html")]
struct SandboxPage<'a> {
    layout: Layout<'a>,
    cart: String,
    csrf: String,
    lines: Vec<NoticeLine>,
    total: String,
    email: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    carrello: String,
}

/// `GET /pagopa/sandbox/pagamento`: the simulated payment page.
pub(crate) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let cart = decode_cart(&q.carrello)
        .ok_or_else(|| WebError::NotFound("Carrello non valido.".into()))?;
    if sandbox_tenants(&state, &cart).await.is_err() {
        return Err(WebError::NotFound("Carrello non valido.".into()));
    }
    let total = Cents::checked_sum(cart.payment_notices.iter().map(|n| Cents(n.amount)))
        .unwrap_or(Cents::ZERO);
    let lines = cart
        .payment_notices
        .iter()
        .map(|n| NoticeLine {
            company: n.company_name.clone(),
            description: n.description.clone(),
            notice: NoticeNumber::parse(&n.notice_number)
                .map(|x| x.grouped())
                .unwrap_or_else(|_| n.notice_number.clone()),
            amount: Cents(n.amount).format_it(),
        })
        .collect();
    let (csrf, new) = anonymous_csrf(&headers)?;
    let page = SandboxPage {
        layout: Layout::plain("Simulazione di pagamento pagoPA"),
        cart: q.carrello.trim().to_string(),
        csrf: csrf.clone(),
        lines,
        total: total.format_it(),
        email: cart.email_notice.clone(),
    }
    .into_response();
    Ok(crate::access::with_csrf_cookie(&state, page, &csrf, new))
}

#[derive(Deserialize)]
pub(crate) struct PayForm {
    #[serde(default)]
    carrello: String,
    #[serde(default)]
    esito: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /pagopa/sandbox/pagamento`: pay (playing the node) or cancel, then back to the portal.
pub(crate) async fn pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<PayForm>,
) -> Result<Response, WebError> {
    check_anonymous_csrf(&headers, &f.csrf)?;
    let cart = decode_cart(&f.carrello)
        .ok_or_else(|| WebError::NotFound("Carrello non valido.".into()))?;
    let tenants = sandbox_tenants(&state, &cart)
        .await
        .map_err(|_| WebError::NotFound("Carrello non valido.".into()))?;
    let urls = &cart.return_urls;
    if f.esito != "paga" {
        return Ok(Redirect::to(&urls.return_cancel_url).into_response());
    }
    let mut ok = true;
    for (notice, tenant) in cart.payment_notices.iter().zip(&tenants) {
        if let Err(e) = play_node(
            &state,
            tenant,
            &notice.notice_number,
            cart.id_cart.as_deref(),
        )
        .await
        {
            tracing::warn!(error = %e, notice = %notice.notice_number, "sandbox payment failed");
            ok = false;
            break;
        }
    }
    let to = if ok {
        &urls.return_ok_url
    } else {
        &urls.return_error_url
    };
    Ok(Redirect::to(to).into_response())
}

/// One SOAP exchange with our own station.
async fn call(state: &AppState, body: String) -> Result<SoapResponse, String> {
    let own = state.config.self_url.as_deref().ok_or("no self address")?;
    let resp = client()
        .map_err(|e| e.to_string())?
        .post(format!("{}/pagopa/paForNode", own.trim_end_matches('/')))
        .header(header::CONTENT_TYPE.as_str(), "text/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    soap::parse_response(&bytes).map_err(|e| e.detail)
}

/// What the node does for one notice of a cart: verify, get the payment, send the receipt.
pub(crate) async fn play_node(
    state: &AppState,
    tenant: &Tenant,
    notice_number: &str,
    id_cart: Option<&str>,
) -> Result<(), String> {
    let s = &tenant.settings.pagopa;
    let header = StationHeader {
        id_pa: tenant.fiscal_code.as_str().to_string(),
        id_broker_pa: s.broker_id.clone(),
        id_station: s.station_id.clone(),
    };
    let fiscal_code = tenant.fiscal_code.as_str().to_string();
    let verify = soap::render_verify_request(&VerifyRequest {
        header: header.clone(),
        fiscal_code: fiscal_code.clone(),
        notice_number: notice_number.to_string(),
    })
    .map_err(|e| e.to_string())?;
    let amount = match call(state, verify).await? {
        SoapResponse::VerifyOk(v) => v.amount,
        other => return Err(format!("paVerifyPaymentNotice: {other:?}")),
    };
    let get = soap::render_get_payment_request(&GetPaymentRequest {
        version: Version::V2,
        header: header.clone(),
        fiscal_code: fiscal_code.clone(),
        notice_number: notice_number.to_string(),
        amount: Some(amount),
        payment_note: id_cart.map(str::to_string),
        transfer_type: None,
        due_date: None,
    })
    .map_err(|e| e.to_string())?;
    let data = match call(state, get).await? {
        SoapResponse::GetPaymentOk(_, d) => d,
        other => return Err(format!("paGetPaymentV2: {other:?}")),
    };
    let now = state.clock.now();
    let receipt = Receipt {
        receipt_id: uuid::Uuid::new_v4().simple().to_string(),
        notice_number: notice_number.to_string(),
        fiscal_code,
        outcome: Outcome::Ok,
        creditor_reference_id: data.creditor_reference_id.clone(),
        payment_amount: data.payment_amount,
        description: data.description.clone(),
        company_name: data.company_name.clone(),
        office_name: data.office_name.clone(),
        debtor: data.debtor.clone(),
        transfers: data
            .transfers
            .iter()
            .map(|t| ReceiptTransfer {
                id_transfer: t.id_transfer,
                amount: t.amount,
                fiscal_code_pa: t.fiscal_code_pa.clone(),
                company_name: None,
                iban: Some(t.iban.clone()),
                mbd_attachment: None,
                remittance_information: t.remittance_information.clone(),
                transfer_category: t.transfer_category.clone(),
                metadata: Vec::new(),
            })
            .collect(),
        id_psp: "SANDBOX".into(),
        psp_fiscal_code: None,
        psp_partita_iva: None,
        psp_company_name: "Simulatore pagoPA (sandbox)".into(),
        id_channel: "SANDBOX_01".into(),
        channel_description: "Simulazione".into(),
        payer: Some(data.debtor.clone()),
        payment_method: Some("CP".into()),
        payment_note: id_cart.map(str::to_string),
        fee: Some(Cents::ZERO),
        primary_ci_incurred_fee: None,
        id_bundle: None,
        id_ci_bundle: None,
        payment_date_time: Some(
            now.to_zoned(tenant.timezone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string(),
        ),
        application_date: Some(now.to_zoned(tenant.timezone.clone()).date()),
        transfer_date: Some(now.to_zoned(tenant.timezone.clone()).date()),
        metadata: Vec::new(),
        standin: false,
    };
    let rt = soap::render_send_rt_request(&SendRtRequest {
        version: Version::V2,
        header,
        receipt,
    })
    .map_err(|e| e.to_string())?;
    match call(state, rt).await? {
        SoapResponse::SendRtOk(_) => Ok(()),
        other => Err(format!("paSendRTV2: {other:?}")),
    }
}
