//! The municipality's station: `POST /pagopa/paForNode`, one endpoint for every tenant of the
//! installation, routed by idPA. It reads the SOAP request with [`soap`], asks the use cases
//! in `refettorio_app::pagopa`, and answers with the operation's response or its fault. Every
//! answer is HTTP 200 with a SOAP body (a fault is an `outcome` KO, as the node expects); a
//! body we cannot read gets `PAA_SINTASSI_EXTRAXSD`, a database failure `PAA_SYSTEM_ERROR` (the
//! node retries), never a page with internals.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use refettorio_app::pagopa::{
    self as pay, IncomingReceipt, Position, ReceiptOutcome, StationFault, Tenant,
};
use refettorio_domain::{Actor, PagoPaMode};

use super::caller::{self, Caller, PeerAddr};
use crate::AppState;
use refettorio_pagopa::{
    self as soap, AmountOption, FaultCode, GetPaymentRequest, Operation, PaymentData,
    PaymentTransfer, Request, SendRtRequest, Subject, SubjectKind, VerifyOk, VerifyRequest,
};

fn xml(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

fn fault_code(f: &StationFault) -> FaultCode {
    match f {
        StationFault::UnknownTenant => FaultCode::IdDominioErrato,
        StationFault::WrongBroker => FaultCode::IdIntermediarioErrato,
        StationFault::WrongStation => FaultCode::StazioneIntErrata,
        StationFault::UnknownNotice => FaultCode::PagamentoSconosciuto,
        StationFault::AlreadyPaid => FaultCode::PagamentoDuplicato,
        StationFault::Expired => FaultCode::PagamentoScaduto,
        StationFault::Cancelled => FaultCode::PagamentoAnnullato,
        StationFault::Semantics(_) => FaultCode::Semantica,
        StationFault::System => FaultCode::SystemError,
    }
}

fn fault(op: Operation, f: &StationFault, id_pa: &str) -> Response {
    metrics::counter!("pagopa_station_faults_total", "code" => fault_code(f).as_str()).increment(1);
    xml(soap::render_fault(op, fault_code(f), &f.to_string(), id_pa))
}

/// The answer to a caller that is not the node: nothing of the message is read.
fn refused(why: &'static str) -> Response {
    metrics::counter!("pagopa_station_refused_total", "why" => why).increment(1);
    (
        StatusCode::FORBIDDEN,
        "Accesso negato: solo il Nodo dei Pagamenti pagoPA può chiamare la stazione.",
    )
        .into_response()
}

/// Whether `caller` may act for `tenant`: the node always, the local sandbox only for a
/// municipality in sandbox mode.
fn admitted(caller: Caller, tenant: &Tenant) -> bool {
    match caller {
        Caller::Node => true,
        Caller::Local => tenant.settings.pagopa.mode == PagoPaMode::Sandbox,
        Caller::Stranger => false,
    }
}

pub(crate) async fn pa_for_node(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = &state.config;
    let caller = caller::identify(
        &config.station_access,
        &config.trusted_proxies,
        peer,
        &headers,
    );
    if caller == Caller::Stranger {
        tracing::warn!(peer = ?peer, "pagoPA station: a caller that is not the node was refused");
        return refused("stranger");
    }
    let request = match soap::parse_request(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(detail = %e.detail, code = e.code.as_str(), "pagoPA station: unreadable request");
            metrics::counter!("pagopa_station_faults_total", "code" => e.code.as_str())
                .increment(1);
            return match e.operation {
                Some(op) => xml(soap::render_fault(op, e.code, &e.detail, "")),
                // Not even the operation could be read: a SOAP 1.1 Fault, which goes with
                // HTTP 500 as SOAP requires (its text names the fault code, nothing internal).
                None => {
                    let mut r = xml(soap::render_soap_fault(e.code, &e.detail));
                    *r.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    r
                }
            };
        }
    };
    match request {
        Request::Verify(r) => verify(&state, caller, r).await,
        Request::GetPayment(r) => get_payment(&state, caller, r).await,
        Request::SendRt(r) => send_rt(&state, caller, r, &body).await,
    }
}

/// A live municipality's station called from this machine without the node's proof.
fn not_admitted(tenant: &Tenant) -> Response {
    tracing::warn!(tenant = %tenant.slug, "pagoPA station: a local caller for a municipality in live mode was refused");
    refused("live")
}

async fn verify(state: &AppState, caller: Caller, r: VerifyRequest) -> Response {
    let op = Operation::Verify;
    let h = &r.header;
    let tenant = match pay::station_tenant(
        state.installation(),
        &h.id_pa,
        &h.id_broker_pa,
        &h.id_station,
    )
    .await
    {
        Ok(t) => t,
        Err(f) => return fault(op, &f, &h.id_pa),
    };
    if !admitted(caller, &tenant) {
        return not_admitted(&tenant);
    }
    let ctx = state.ctx(&tenant, Actor::PagoPa);
    match pay::payable(ctx, &r.fiscal_code, &r.notice_number).await {
        Ok(p) => rendered(
            op,
            &h.id_pa,
            soap::render_verify_ok(&VerifyOk {
                amount: p.amount,
                options: AmountOption::Eq,
                due_date: Some(p.due_date),
                detail_description: None,
                all_ccp: false,
                description: p.description.clone(),
                fiscal_code_pa: tenant.fiscal_code.as_str().to_string(),
                company_name: tenant.name.clone(),
                office_name: Some(tenant.settings.pagopa.sector.clone()),
            }),
        ),
        Err(f) => fault(op, &f, &h.id_pa),
    }
}

/// An answer we could write, or the system fault when our own data does not fit the XSD.
fn rendered(op: Operation, id_pa: &str, r: Result<String, soap::RenderError>) -> Response {
    match r {
        Ok(body) => xml(body),
        Err(e) => {
            tracing::error!(error = %e, "pagoPA station: answer not written");
            fault(op, &StationFault::System, id_pa)
        }
    }
}

/// What the node needs to take the payment of a position.
pub(crate) fn payment_data(tenant: &Tenant, p: &Position) -> PaymentData {
    PaymentData {
        creditor_reference_id: p.iuv.clone(),
        payment_amount: p.amount,
        due_date: p.due_date,
        description: p.description.clone(),
        company_name: tenant.name.clone(),
        office_name: Some(tenant.settings.pagopa.sector.clone()),
        retention_date: None,
        last_payment: true,
        debtor: Subject::new(SubjectKind::F, &p.debtor_fiscal_code, &p.debtor_name),
        transfers: vec![PaymentTransfer {
            id_transfer: 1,
            amount: p.amount,
            fiscal_code_pa: tenant.fiscal_code.as_str().to_string(),
            company_name: None,
            iban: p.iban.clone(),
            remittance_information: p.description.clone(),
            transfer_category: p.transfer_category.clone(),
            metadata: Vec::new(),
        }],
        metadata: Vec::new(),
    }
}

async fn get_payment(state: &AppState, caller: Caller, r: GetPaymentRequest) -> Response {
    let op = Operation::GetPayment(r.version);
    let h = &r.header;
    let tenant = match pay::station_tenant(
        state.installation(),
        &h.id_pa,
        &h.id_broker_pa,
        &h.id_station,
    )
    .await
    {
        Ok(t) => t,
        Err(f) => return fault(op, &f, &h.id_pa),
    };
    if !admitted(caller, &tenant) {
        return not_admitted(&tenant);
    }
    let ctx = state.ctx(&tenant, Actor::PagoPa);
    match pay::payment(ctx, &r.fiscal_code, &r.notice_number, r.amount).await {
        Ok(p) => rendered(
            op,
            &h.id_pa,
            soap::render_get_payment_ok(r.version, &payment_data(&tenant, &p)),
        ),
        Err(f) => fault(op, &f, &h.id_pa),
    }
}

async fn send_rt(state: &AppState, caller: Caller, r: SendRtRequest, body: &[u8]) -> Response {
    let op = Operation::SendRt(r.version);
    let h = &r.header;
    // A receipt is never refused for a known tenant, whatever broker or station it names: one
    // that the station cannot apply by itself is held for the office.
    let tenant = match pay::known_tenant(state.installation(), &h.id_pa).await {
        Ok(t) => t,
        Err(f) => return fault(op, &f, &h.id_pa),
    };
    if !admitted(caller, &tenant) {
        return not_admitted(&tenant);
    }
    let rt = &r.receipt;
    let paid_at = rt
        .payment_date_time
        .as_deref()
        .and_then(|s| parse_instant(s, &tenant));
    let transfers = rt.check_transfers();
    if let Err(e) = &transfers {
        tracing::warn!(receipt = %rt.receipt_id, detail = %e, "pagoPA receipt whose transfers do not add up: held for the office");
    }
    let incoming = IncomingReceipt {
        receipt_id: rt.receipt_id.clone(),
        notice_number: rt.notice_number.clone(),
        fiscal_code: rt.fiscal_code.clone(),
        broker_id: h.id_broker_pa.clone(),
        station_id: h.id_station.clone(),
        outcome_ok: rt.outcome == soap::Outcome::Ok,
        amount: rt.payment_amount,
        transfers_add_up: transfers.is_ok(),
        psp_id: rt.id_psp.clone(),
        psp_name: rt.psp_company_name.clone(),
        payment_method: rt.payment_method.clone(),
        paid_at,
        standin: rt.standin,
        payload: String::from_utf8_lossy(body).into_owned(),
    };
    let ctx = state.ctx(&tenant, Actor::PagoPa);
    match pay::apply_receipt(ctx, &incoming).await {
        Ok(ReceiptOutcome::Duplicate) => {
            metrics::counter!("pagopa_receipts_total", "outcome" => "duplicate").increment(1);
            xml(soap::render_fault(
                op,
                FaultCode::ReceiptDuplicata,
                "receipt already received",
                &h.id_pa,
            ))
        }
        Ok(outcome) => {
            let label = match outcome {
                ReceiptOutcome::Applied => "applied",
                ReceiptOutcome::Held(_) => "held",
                _ => "ko",
            };
            metrics::counter!("pagopa_receipts_total", "outcome" => label).increment(1);
            if let ReceiptOutcome::Held(reason) = outcome {
                tracing::warn!(receipt = %rt.receipt_id, notice = %rt.notice_number, reason = reason.as_str(), "pagoPA receipt held for the office: nothing credited");
            }
            xml(soap::render_send_rt_ok(r.version))
        }
        Err(e) => {
            tracing::error!(error = %e, receipt = %rt.receipt_id, "pagoPA receipt not stored; the node will retry");
            fault(op, &StationFault::System, &h.id_pa)
        }
    }
}

/// `paymentDateTime` is an `xs:dateTime`, with or without an offset (without: Italian time).
fn parse_instant(s: &str, tenant: &Tenant) -> Option<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let dt = s.parse::<jiff::civil::DateTime>().ok()?;
    dt.to_zoned(tenant.timezone.clone())
        .ok()
        .map(|z| z.timestamp())
}
