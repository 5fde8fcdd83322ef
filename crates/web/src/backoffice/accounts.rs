//! The office's pages on families' accounts: search, one account with its movements, and the
//! three forms that change a balance (a payment received elsewhere, an adjustment, a refund).
//! Every change needs a reason and is audited by the use case that writes it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::auth;
use refettorio_app::ledger::{
    self, ChangeKind, MoneyChange, OfficeAccount, Recorded, TransferInput,
};
use refettorio_app::pagopa::{OFFICE_CHANNELS, OfficePayment, record_office_payment};
use refettorio_app::people::FamilyHit;
use refettorio_app::people::find_families;
use refettorio_domain::{AccountId, today};
use serde::Deserialize;

use super::{ACCOUNTS, Staff};
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/accounts.html")]
struct SearchPage<'a> {
    frame: Frame<'a>,
    q: String,
    error: Option<String>,
    /// None before a search.
    hits: Option<Vec<FamilyHit>>,
}
framed!(SearchPage);

/// `GET /t/<slug>/backoffice/conti?q=…`: families by payer name, fiscal code or pupil name.
pub(crate) async fn search(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<SearchQuery>,
) -> Result<Response, WebError> {
    s.require(ACCOUNTS.roles)?;
    let text = q.q.unwrap_or_default().trim().to_string();
    let (hits, error) = if text.is_empty() {
        (None, None)
    } else if text.chars().count() < 2 {
        (None, Some("Scrivi almeno due caratteri.".to_string()))
    } else {
        (Some(find_families(s.ctx(&state), &text).await?), None)
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = SearchPage {
        frame: s.frame(&ACCOUNTS),
        q: text,
        error,
        hits,
    };
    Ok((status, page).into_response())
}

/// What the payment form shows (as typed, after an error).
#[derive(Deserialize, Default)]
pub(crate) struct PaymentForm {
    #[serde(rename = "pagamento-data", default)]
    data: String,
    #[serde(rename = "pagamento-importo", default)]
    importo: String,
    #[serde(rename = "pagamento-canale", default)]
    canale: String,
    #[serde(rename = "pagamento-riferimento", default)]
    riferimento: String,
    #[serde(rename = "pagamento-note", default)]
    note: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// What an adjustment or refund form shows, with the token that makes it count once.
#[derive(Deserialize, Default)]
pub(crate) struct ChangeForm {
    #[serde(alias = "rettifica-importo", alias = "rimborso-importo", default)]
    importo: String,
    #[serde(alias = "rettifica-causale", alias = "rimborso-causale", default)]
    causale: String,
    #[serde(rename = "_modulo", default)]
    token: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// What the transfer (giroconto) form shows, with the token that makes it count once.
#[derive(Deserialize, Default)]
pub(crate) struct TransferForm {
    #[serde(rename = "giroconto-destinazione", default)]
    destinazione: String,
    #[serde(rename = "giroconto-importo", default)]
    importo: String,
    #[serde(rename = "giroconto-causale", default)]
    causale: String,
    #[serde(rename = "_modulo", default)]
    token: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// Which form of the account page a set of errors belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Payment,
    Adjustment,
    Refund,
    Transfer,
}

/// What was typed in the form that was refused.
enum Typed {
    Payment(PaymentForm),
    Change(ChangeForm),
    Transfer(TransferForm),
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/account.html")]
struct AccountPage<'a> {
    frame: Frame<'a>,
    id: i64,
    acc: OfficeAccount,
    done: Option<&'static str>,
    failed: Option<Which>,
    errors: FieldErrors,
    payment: PaymentForm,
    adjustment: ChangeForm,
    refund: ChangeForm,
    transfer: TransferForm,
    channels: &'static [(&'static str, &'static str)],
}
framed!(AccountPage);

#[derive(Deserialize, Default)]
pub(crate) struct AccountQuery {
    esito: Option<String>,
}

fn new_form() -> Result<ChangeForm, WebError> {
    Ok(ChangeForm {
        token: auth::new_token()?.0,
        ..ChangeForm::default()
    })
}

/// The account page; after a refused form, that form as typed with its errors (422).
async fn account_page(
    state: &AppState,
    s: &Staff,
    id: i64,
    done: Option<&'static str>,
    failed: Option<(Which, FieldErrors)>,
    typed: Option<Typed>,
) -> Result<Response, WebError> {
    let acc = ledger::account(s.ctx(state), AccountId(id)).await?;
    let (failed, errors) = match failed {
        Some((w, e)) => {
            let form = match w {
                Which::Payment => "pagamento",
                Which::Adjustment => "rettifica",
                Which::Refund => "rimborso",
                Which::Transfer => "giroconto",
            };
            (Some(w), e.in_form(form))
        }
        None => (None, FieldErrors::none()),
    };
    let mut payment = PaymentForm {
        data: today(state.clock.as_ref(), &s.tenant.timezone).to_string(),
        ..PaymentForm::default()
    };
    let (mut adjustment, mut refund) = (new_form()?, new_form()?);
    let mut transfer = TransferForm {
        token: auth::new_token()?.0,
        ..TransferForm::default()
    };
    match (failed, typed) {
        (Some(Which::Payment), Some(Typed::Payment(f))) => payment = f,
        (Some(Which::Adjustment), Some(Typed::Change(f))) => adjustment = f,
        (Some(Which::Refund), Some(Typed::Change(f))) => refund = f,
        (Some(Which::Transfer), Some(Typed::Transfer(f))) => transfer = f,
        _ => {}
    }
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = AccountPage {
        frame: s.frame(&ACCOUNTS).titled("Conto"),
        id,
        acc,
        done,
        failed,
        errors,
        payment,
        adjustment,
        refund,
        transfer,
        channels: &OFFICE_CHANNELS,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/conti/<id>`
pub(crate) async fn account(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(q): Query<AccountQuery>,
) -> Result<Response, WebError> {
    s.require(ACCOUNTS.roles)?;
    let done = match q.esito.as_deref() {
        Some("pagamento") => Some("Pagamento registrato: il saldo è aggiornato."),
        Some("rettifica") => Some("Rettifica registrata: il saldo è aggiornato."),
        Some("rimborso") => Some("Rimborso registrato: il saldo è aggiornato."),
        Some("giroconto") => {
            Some("Giroconto registrato: il credito è passato al conto di destinazione.")
        }
        Some("ripetuto") => {
            Some("Questo modulo era già stato registrato: l'operazione non è stata ripetuta.")
        }
        _ => None,
    };
    account_page(&state, &s, id, done, None, None).await
}

fn back_to(s: &Staff, id: i64, esito: &str) -> Response {
    Redirect::to(&format!(
        "/t/{}/backoffice/conti/{id}?esito={esito}",
        s.slug()
    ))
    .into_response()
}

/// `POST …/conti/<id>/pagamento`: a payment received elsewhere, once per channel and reference.
pub(crate) async fn office_payment(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<PaymentForm>,
) -> Result<Response, WebError> {
    s.require(ACCOUNTS.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let p = OfficePayment {
        account: AccountId(id),
        amount: f.importo.clone(),
        day: f.data.clone(),
        channel: f.canale.clone(),
        reference: f.riferimento.clone(),
        note: f.note.clone(),
    };
    match record_office_payment(s.ctx(&state), &p).await.or_errors()? {
        Ok(_) => Ok(back_to(&s, id, "pagamento")),
        Err(e) => {
            account_page(
                &state,
                &s,
                id,
                None,
                Some((Which::Payment, e)),
                Some(Typed::Payment(f)),
            )
            .await
        }
    }
}

async fn change(
    state: AppState,
    s: Staff,
    headers: HeaderMap,
    id: i64,
    kind: ChangeKind,
    f: ChangeForm,
) -> Result<Response, WebError> {
    s.require(ACCOUNTS.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let ch = MoneyChange {
        account: AccountId(id),
        kind,
        amount: f.importo.clone(),
        reason: f.causale.clone(),
        form_token: f.token.clone(),
    };
    let (which, esito) = match kind {
        ChangeKind::Adjustment => (Which::Adjustment, "rettifica"),
        ChangeKind::Refund => (Which::Refund, "rimborso"),
    };
    match ledger::record_change(s.ctx(&state), &ch)
        .await
        .or_errors()?
    {
        Ok(Recorded::New(_)) => Ok(back_to(&s, id, esito)),
        Ok(Recorded::Repeated) => Ok(back_to(&s, id, "ripetuto")),
        Err(e) => {
            account_page(
                &state,
                &s,
                id,
                None,
                Some((which, e)),
                Some(Typed::Change(f)),
            )
            .await
        }
    }
}

/// `POST …/conti/<id>/rettifica`
pub(crate) async fn adjustment(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<ChangeForm>,
) -> Result<Response, WebError> {
    change(state, s, headers, id, ChangeKind::Adjustment, f).await
}

/// `POST …/conti/<id>/rimborso`
pub(crate) async fn refund(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<ChangeForm>,
) -> Result<Response, WebError> {
    change(state, s, headers, id, ChangeKind::Refund, f).await
}

/// `POST …/conti/<id>/giroconto`: credit moved to another account, once per form.
pub(crate) async fn transfer(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<TransferForm>,
) -> Result<Response, WebError> {
    s.require(ACCOUNTS.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let t = TransferInput {
        from: AccountId(id),
        to: f.destinazione.clone(),
        amount: f.importo.clone(),
        reason: f.causale.clone(),
        form_token: f.token.clone(),
    };
    match ledger::record_transfer(s.ctx(&state), &t)
        .await
        .or_errors()?
    {
        Ok(Recorded::New(_)) => Ok(back_to(&s, id, "giroconto")),
        Ok(Recorded::Repeated) => Ok(back_to(&s, id, "ripetuto")),
        Err(e) => {
            account_page(
                &state,
                &s,
                id,
                None,
                Some((Which::Transfer, e)),
                Some(Typed::Transfer(f)),
            )
            .await
        }
    }
}
