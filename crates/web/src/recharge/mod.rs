//! The family's pagoPA pages: recharge an account (an amount, or meals × each child's price),
//! then pay online through Checkout or print the notice; the notices with their state, the
//! notice and receipt PDFs, and the page Checkout sends the family back to.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::FieldError;
use refettorio_app::pagopa::{self as pay, MealPrice, Position, PositionStatus, RechargeAmount};
use refettorio_domain::pagopa::recharge_amount;
use refettorio_domain::{AccountId, Cents, EnrolmentId, PositionId};
use serde::Deserialize;

use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::pagopa::checkout;
use crate::portal::nav::Section;
use crate::session::Citizen;
use crate::{AppState, WebError};

pub(crate) mod positions;

use positions::{PositionRow, rows};

struct AccountChoice {
    id: i64,
    label: String,
    prices: Vec<MealPrice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/recharge.html")]
struct RechargePage<'a> {
    frame: Frame<'a>,
    accounts: Vec<AccountChoice>,
    chosen: i64,
    amount: String,
    meals: Vec<(i64, String)>,
    max: String,
    enabled: bool,
    errors: FieldErrors,
    error: Option<String>,
}
framed!(RechargePage);

impl RechargePage<'_> {
    fn meals_of(&self, enrolment: &EnrolmentId) -> String {
        self.meals
            .iter()
            .find(|(id, _)| *id == enrolment.get())
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn chosen_account(&self) -> Option<&AccountChoice> {
        self.accounts.iter().find(|a| a.id == self.chosen)
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct RechargeQuery {
    conto: Option<i64>,
}

async fn recharge_page(
    state: &AppState,
    c: &Citizen,
    chosen: Option<i64>,
    amount: String,
    meals: Vec<(i64, String)>,
    errors: FieldErrors,
) -> Result<Response, WebError> {
    let accounts: Vec<AccountChoice> = pay::rechargeable(c.ctx(state), &c.access)
        .await?
        .into_iter()
        .map(|(id, label, prices)| AccountChoice {
            id: id.get(),
            label,
            prices,
        })
        .collect();
    let chosen = match chosen {
        Some(id) if accounts.iter().any(|a| a.id == id) => id,
        Some(_) => return Err(WebError::NotFound("Conto non trovato.".into())),
        None => accounts.first().map(|a| a.id).unwrap_or_default(),
    };
    let name = c.full_name();
    let status = errors.status();
    Ok((
        status,
        RechargePage {
            frame: c.frame(Section::Payments, "Ricarica", &name),
            accounts,
            chosen,
            amount,
            meals,
            max: Cents(c.tenant.settings.pagopa.max_recharge_cents).format_it(),
            enabled: pay::enabled(&c.tenant),
            error: errors.message().map(str::to_owned),
            errors,
        },
    )
        .into_response())
}

pub(crate) async fn recharge_form(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<RechargeQuery>,
) -> Result<Response, WebError> {
    c.require_payments()?;
    recharge_page(
        &state,
        &c,
        q.conto,
        String::new(),
        Vec::new(),
        FieldErrors::none(),
    )
    .await
}

/// The recharge form: `conto`, `importo` or `pasti_<enrolment>` fields, `azione` = `online` or
/// `avviso`, `_csrf`.
pub(crate) async fn recharge(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    c.check_csrf(&headers, get("_csrf"))?;
    c.require_payments()?;
    let account: i64 = get("conto")
        .trim()
        .parse()
        .map_err(|_| WebError::Forbidden)?;
    let typed = get("importo").trim().to_string();
    let mut meals = Vec::new();
    let mut meal_values = Vec::new();
    let mut errors = Vec::new();
    for (k, v) in &fields {
        let Some(id) = k.strip_prefix("pasti_") else {
            continue;
        };
        let id: i64 = id.parse().map_err(|_| WebError::Forbidden)?;
        let v = v.trim();
        meal_values.push((id, v.to_string()));
        if v.is_empty() {
            continue;
        }
        match v.parse::<u32>() {
            Ok(0) => {}
            Ok(n) if n <= 400 => meals.push((EnrolmentId(id), n)),
            _ => errors.push(FieldError {
                field: "pasti",
                message: "Il numero di pasti deve essere un numero intero fra 0 e 400.".into(),
            }),
        }
    }
    let max = Cents(c.tenant.settings.pagopa.max_recharge_cents);
    let amount = match (typed.is_empty(), meals.is_empty()) {
        _ if !errors.is_empty() => None,
        (false, false) => {
            errors.push(FieldError {
                field: "importo",
                message: "Indica un importo oppure un numero di pasti, non entrambi.".into(),
            });
            None
        }
        (true, true) => {
            errors.push(FieldError {
                field: "importo",
                message: "Indica l'importo da ricaricare oppure quanti pasti vuoi pagare.".into(),
            });
            None
        }
        (false, true) => match recharge_amount(&typed, max) {
            Ok(a) => Some(RechargeAmount::Amount(a)),
            Err(e) => {
                errors.push(FieldError {
                    field: "importo",
                    message: e.to_string(),
                });
                None
            }
        },
        (true, false) => Some(RechargeAmount::Meals(meals)),
    };
    let Some(amount) = amount else {
        let errors = errors.into();
        return recharge_page(&state, &c, Some(account), typed, meal_values, errors).await;
    };
    let online = get("azione") == "online";
    let created = if online {
        pay::recharge_online(c.ctx(&state), &c.access, AccountId(account), &amount).await
    } else {
        pay::create_recharge(c.ctx(&state), &c.access, AccountId(account), &amount).await
    };
    let position = match created.or_errors()? {
        Ok(p) => p,
        Err(refused) => {
            return recharge_page(&state, &c, Some(account), typed, meal_values, refused).await;
        }
    };
    if online {
        return pay_online(&state, &c, &position).await;
    }
    Ok(Redirect::to(&format!(
        "/t/{}/area-personale/avvisi/{}?esito=creato",
        c.tenant.slug, position.id
    ))
    .into_response())
}

/// Sends a position to Checkout and the family after it.
async fn pay_online(state: &AppState, c: &Citizen, p: &Position) -> Result<Response, WebError> {
    let back = format!("/t/{}/area-personale/avvisi/{}", c.tenant.slug, p.id);
    to_checkout(state, c, std::slice::from_ref(p), &back).await
}

/// Sends a cart to Checkout and the family after it; if Checkout cannot take it, back to
/// `back` saying so.
async fn to_checkout(
    state: &AppState,
    c: &Citizen,
    positions: &[Position],
    back: &str,
) -> Result<Response, WebError> {
    let email = c.guardian.email.as_deref();
    match checkout::start(state, c.ctx(state), positions, back, email).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => {
            tracing::warn!(error = %e, notices = positions.len(), "checkout cart refused");
            Ok(Redirect::to(&format!("{back}?esito=non-disponibile")).into_response())
        }
    }
}

/// `POST /t/<slug>/area-personale/pagamenti/carrello`: several open notices (`avviso`, one
/// field each, at most five) paid together in one Checkout cart.
pub(crate) async fn pay_cart(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "_csrf")
        .map_or("", |(_, v)| v.as_str());
    c.check_csrf(&headers, csrf)?;
    c.require_payments()?;
    let back = format!("/t/{}/area-personale/pagamenti", c.tenant.slug);
    let day = c.ctx(&state).today();
    let refused =
        |esito: &str| Ok(Redirect::to(&format!("{back}?carrello={esito}")).into_response());
    // Counted before anything is read: a form with many notices costs no queries.
    let mut ids: Vec<PositionId> = Vec::new();
    for (_, v) in fields.iter().filter(|(k, _)| k == "avviso") {
        let id = position_id(v)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > checkout::MAX_CART {
            return refused("troppi");
        }
    }
    if ids.is_empty() {
        return refused("vuoto");
    }
    let mut chosen: Vec<Position> = Vec::new();
    for id in ids {
        chosen.push(
            pay::position_of(c.ctx(&state), &c.access, id)
                .await
                .map_err(WebError::not_yours)?,
        );
    }
    if chosen
        .iter()
        .any(|p| p.status != PositionStatus::Open || p.is_expired(day))
    {
        return refused("non-pagabile");
    }
    to_checkout(&state, &c, &chosen, &back).await
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/notice.html")]
struct NoticePage<'a> {
    frame: Frame<'a>,
    row: PositionRow,
    iuv: String,
    message: Option<(&'static str, &'static str)>,
}
framed!(NoticePage);

#[derive(Deserialize, Default)]
pub(crate) struct NoticeQuery {
    esito: Option<String>,
}

fn position_id(raw: &str) -> Result<PositionId, WebError> {
    raw.parse::<i64>()
        .map(PositionId)
        .map_err(|_| WebError::NotFound("Avviso non trovato.".into()))
}

pub(crate) async fn notice(
    State(state): State<AppState>,
    c: Citizen,
    Path((_, id)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, WebError> {
    c.require_payments()?;
    let p = pay::position_of(c.ctx(&state), &c.access, position_id(&id)?).await?;
    let day = c.ctx(&state).today();
    let row = rows(std::slice::from_ref(&p), day)
        .pop()
        .ok_or_else(|| WebError::NotFound("Avviso non trovato.".into()))?;
    let recharge = p.kind == pay::PositionKind::Recharge;
    let message = match (q.esito.as_deref(), row.paid) {
        (Some("ok"), true) if !recharge => Some((
            "success",
            "Pagamento ricevuto: la quota risulta pagata. La ricevuta è qui sotto.",
        )),
        (Some("ok"), false) if !recharge => Some((
            "info",
            "Stiamo aspettando la conferma di pagoPA: l'avviso risulterà pagato appena arriva la ricevuta.",
        )),
        (Some("creato"), _) => Some((
            "success",
            "Avviso creato: scaricalo e pagalo dove preferisci, oppure paga subito online.",
        )),
        (Some("ok"), true) => Some((
            "success",
            "Pagamento ricevuto: la ricarica è già nel saldo. La ricevuta è qui sotto.",
        )),
        (Some("ok"), false) => Some((
            "info",
            "Stiamo aspettando la conferma di pagoPA: la ricarica comparirà nel saldo appena arriva la ricevuta.",
        )),
        (Some("annullato"), _) => Some((
            "warning",
            "Pagamento annullato: non è stato addebitato nulla. Puoi riprovare quando vuoi.",
        )),
        (Some("errore"), _) => Some((
            "danger",
            "Il pagamento non è andato a buon fine. Non è stato addebitato nulla: riprova più tardi.",
        )),
        (Some("non-disponibile"), _) => Some((
            "danger",
            "Il pagamento online non è disponibile in questo momento. Puoi stampare l'avviso e pagarlo dove preferisci, oppure riprovare più tardi.",
        )),
        _ => None,
    };
    let name = c.full_name();
    Ok(NoticePage {
        frame: c.frame(Section::Payments, "Avviso di pagamento", &name),
        iuv: p.iuv.clone(),
        row,
        message,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PayForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// Pays an open notice online.
pub(crate) async fn pay(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    Form(f): Form<PayForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
    c.require_payments()?;
    let id = position_id(&id).map_err(|_| WebError::Forbidden)?;
    let p = pay::position_of(c.ctx(&state), &c.access, id)
        .await
        .map_err(WebError::not_yours)?;
    let day = c.ctx(&state).today();
    if p.status != PositionStatus::Open || p.is_expired(day) {
        return Ok(Redirect::to(&format!(
            "/t/{}/area-personale/avvisi/{}",
            c.tenant.slug, p.id
        ))
        .into_response());
    }
    pay_online(&state, &c, &p).await
}

fn pdf(bytes: Vec<u8>, name: &str) -> Response {
    crate::files::attachment(bytes, "application/pdf", name)
}

pub(crate) async fn notice_pdf(
    State(state): State<AppState>,
    c: Citizen,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    c.require_payments()?;
    let p = pay::position_of(c.ctx(&state), &c.access, position_id(&id)?).await?;
    let bytes = pay::notice_document(c.ctx(&state), &p).await?;
    Ok(pdf(bytes, &format!("avviso-{}.pdf", p.notice_number)))
}

pub(crate) async fn receipt_pdf(
    State(state): State<AppState>,
    c: Citizen,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    c.require_payments()?;
    let p = pay::position_of(c.ctx(&state), &c.access, position_id(&id)?).await?;
    let bytes = pay::receipt_document(c.ctx(&state), &p).await?;
    Ok(pdf(bytes, &format!("ricevuta-{}.pdf", p.notice_number)))
}
