//! pagoPA use cases: a family's recharge (a spontaneous payment position with its notice
//! number), what the station answers the node (verify, get payment), receipts applied to the
//! ledger exactly once, payments the office records by hand, and the documents (the printed
//! notice, the receipt).

use jiff::ToSpan;
use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::ledger;
use refettorio_db::ledger::NewEntry;
use refettorio_db::pagopa::{self as store, NewPosition, NewReceipt};
use refettorio_db::registry::family;
use refettorio_db::registry::service;
use refettorio_db::registry::tenant;
use refettorio_documents::notice::{
    NoticeCreditor, NoticeDebtor, NoticeInstalment, NoticeView, ReceiptView, notice_pdf,
    receipt_pdf,
};
use refettorio_domain::ledger::Key;
use refettorio_domain::pagopa::{
    CATEGORY_CANTEEN, CATEGORY_TRANSPORT, HoldReason, ReceiptFacts, check_recharge, receipt_hold,
};
use refettorio_domain::{
    AccountId, Actor, Cents, CodiceFiscale, EnrolmentId, EnrolmentState, EntryKind, FamilyId,
    NoticeNumber, PositionId, ServiceId, ServiceKind, local_now,
};
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, ObjectKind};

use crate::portal::{Access, visible_accounts};
use crate::{AppError, Ctx, FieldError, Installation};

/// The rows of this concept, as the web layer shows them (positions, receipts), and the
/// municipality the station's calls are for.
pub use refettorio_db::pagopa::{
    Position, PositionKind, PositionStatus, ReceiptStatus, StoredReceipt,
};
pub use refettorio_db::registry::tenant::Tenant;

/// How a family chose the amount of a recharge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RechargeAmount {
    /// An amount typed by the family.
    Amount(Cents),
    /// A number of meals per child, each at the child's meal price (as in Halley).
    Meals(Vec<(EnrolmentId, u32)>),
}

/// The children whose meals a recharge of `account` can buy, with their meal price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MealPrice {
    pub enrolment: EnrolmentId,
    pub child: String,
    pub price: Cents,
}

/// The active enrolments of a family's children in a service, with their meal price: what a
/// recharge by meals may buy.
async fn meal_prices(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    family: FamilyId,
    service: ServiceId,
) -> Result<Vec<MealPrice>, AppError> {
    let mut prices = Vec::new();
    for p in family::pupils_of_family(c, tenant.id, family).await? {
        for e in service::enrolments_of_pupil(c, tenant.id, p.id).await? {
            if e.service_id == service && e.state == EnrolmentState::Attivo {
                prices.push(MealPrice {
                    enrolment: e.id,
                    child: p.first_name.clone(),
                    price: e.meal_price,
                });
            }
        }
    }
    Ok(prices)
}

/// The accounts a guardian may recharge, each with the meal prices of its children.
pub async fn rechargeable(
    ctx: Ctx<'_>,
    access: &Access,
) -> Result<Vec<(AccountId, String, Vec<MealPrice>)>, AppError> {
    let tenant = ctx.tenant;
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let mut out = Vec::new();
    for (acc, svc, year) in visible_accounts(c, tenant, access).await? {
        let prices = meal_prices(c, tenant, acc.family, svc.id).await?;
        out.push((acc.id, format!("{} {}", svc.name, year.label), prices));
    }
    Ok(out)
}

/// Whether the municipality can take pagoPA payments (an IBAN and a station are set).
pub fn enabled(tenant: &Tenant) -> bool {
    let p = &tenant.settings.pagopa;
    !p.ibans.is_empty() && !p.station_id.is_empty() && !p.broker_id.is_empty()
}

/// Creates the payment position of a recharge of one of the guardian's accounts: a new notice
/// number from the tenant's sequence, the family's payer as debtor, a description without
/// pupils' data, the canteen's transfer category.
pub async fn create_recharge(
    ctx: Ctx<'_>,
    access: &Access,
    account: AccountId,
    amount: &RechargeAmount,
) -> Result<Position, AppError> {
    recharge(ctx, access, account, amount, false).await
}

/// The position of a recharge to pay online now: an earlier online attempt of the same account
/// and amount that the parent abandoned (sent to Checkout, still open, made in the last day) is
/// used again, so cancelled payments do not leave one open notice each; otherwise a new one
/// ([`create_recharge`]).
pub async fn recharge_online(
    ctx: Ctx<'_>,
    access: &Access,
    account: AccountId,
    amount: &RechargeAmount,
) -> Result<Position, AppError> {
    recharge(ctx, access, account, amount, true).await
}

async fn recharge(
    ctx: Ctx<'_>,
    access: &Access,
    account: AccountId,
    amount: &RechargeAmount,
    reuse_abandoned: bool,
) -> Result<Position, AppError> {
    let tenant = ctx.tenant;
    let settings = &tenant.settings.pagopa;
    let Some(iban) = settings.ibans.first().filter(|_| enabled(tenant)) else {
        return Err(AppError::Invalid(
            "I pagamenti con pagoPA non sono ancora attivi per questo Comune: rivolgiti all'ufficio scuola."
                .into(),
        ));
    };
    let now = ctx.now();
    let day = ctx.today();
    let by = ctx.actor.to_string();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let visible = visible_accounts(c, tenant, access).await?;
    let (acc, svc, year) = visible
        .into_iter()
        .find(|(a, _, _)| a.id == account)
        .ok_or(AppError::Forbidden)?;
    let max = Cents(settings.max_recharge_cents);
    let total = match amount {
        RechargeAmount::Amount(a) => *a,
        RechargeAmount::Meals(items) => {
            let prices = meal_prices(c, tenant, acc.family, svc.id).await?;
            let mut total = Cents::ZERO;
            for (enrolment, n) in items {
                let price = prices
                    .iter()
                    .find(|m| m.enrolment == *enrolment)
                    .map(|m| m.price)
                    .ok_or(AppError::Forbidden)?;
                total = price
                    .checked_mul(i64::from(*n))
                    .and_then(|x| total.checked_add(x))
                    .ok_or_else(|| {
                        AppError::Invalid("Il numero di pasti è troppo grande.".into())
                    })?;
            }
            total
        }
    };
    let total = check_recharge(total, max).map_err(|e| {
        AppError::Fields(vec![FieldError {
            field: "importo",
            message: e.to_string(),
        }])
    })?;
    if reuse_abandoned {
        let since = now
            .checked_sub(jiff::SignedDuration::from_hours(24))
            .map_err(|_| AppError::Invalid("Data fuori scala.".into()))?;
        let abandoned = store::positions_of_family(c, tenant.id, acc.family)
            .await?
            .into_iter()
            .find(|p| {
                p.kind == PositionKind::Recharge
                    && p.account == Some(acc.id)
                    && p.status == PositionStatus::Open
                    && p.amount == total
                    && p.cart_id.is_some()
                    && p.created_at >= since
                    && p.due_date >= day
            });
        if let Some(p) = abandoned {
            // Nothing written: the transaction is dropped.
            return Ok(p);
        }
    }
    let fam = family::family(c, tenant.id, acc.family)
        .await?
        .ok_or_else(|| AppError::NotFound("Famiglia non trovata.".into()))?;
    let payer = family::guardian(c, tenant.id, fam.payer_id)
        .await?
        .ok_or_else(|| AppError::NotFound("Pagatore non trovato.".into()))?;
    let base = store::next_iuv_base(c, tenant.id, settings.segregation_code).await?;
    let notice = NoticeNumber::generate(settings.segregation_code, base)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let description = format!("Ricarica {} a.s. {}", svc.name.to_lowercase(), year.label);
    let category = match svc.kind {
        ServiceKind::Trasporto => CATEGORY_TRANSPORT,
        _ => CATEGORY_CANTEEN,
    };
    let debtor_name = format!("{} {}", payer.first_name, payer.last_name);
    let due = day.checked_add(i64::from(settings.recharge_due_days).days())?;
    let id = store::insert_position(
        c,
        tenant.id,
        &NewPosition {
            kind: PositionKind::Recharge,
            notice_number: &notice,
            family: acc.family,
            account: Some(acc.id),
            debtor_fiscal_code: payer.fiscal_code.as_str(),
            debtor_name: &debtor_name,
            description: &description,
            amount: total,
            due_date: due,
            iban: iban.as_str(),
            transfer_category: category,
            created_by: &by,
            fee_of: None,
            expires: true,
        },
        now,
    )
    .await?
    .ok_or_else(|| AppError::Unavailable("Avviso non creato: riprova.".into()))?;
    let position = store::position(c, tenant.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Posizione non trovata.".into()))?;
    let io = crate::outbox::families::Notice {
        family: acc.family,
        notice: &notice,
        amount: total,
        due,
        description: &description,
    };
    crate::outbox::families::queue_payment_notice(c, tenant, &io, now).await?;
    tx.commit().await?;
    Ok(position)
}

/// Why the station refuses a request (each is one of pagoPA's faults).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StationFault {
    #[error("unknown creditor (idPA)")]
    UnknownTenant,
    #[error("wrong broker (idBrokerPA)")]
    WrongBroker,
    #[error("wrong station (idStation)")]
    WrongStation,
    #[error("unknown notice number")]
    UnknownNotice,
    #[error("the notice is already paid")]
    AlreadyPaid,
    #[error("the notice has expired")]
    Expired,
    #[error("the notice was cancelled")]
    Cancelled,
    #[error("{0}")]
    Semantics(String),
    #[error("system error")]
    System,
}

/// The tenant a call of the node is for: its idPA, then broker and station must match.
pub async fn station_tenant(
    inst: Installation<'_>,
    id_pa: &str,
    broker: &str,
    station: &str,
) -> Result<Tenant, StationFault> {
    let t = known_tenant(inst, id_pa).await?;
    let s = &t.settings.pagopa;
    if s.broker_id != broker {
        return Err(StationFault::WrongBroker);
    }
    if s.station_id != station {
        return Err(StationFault::WrongStation);
    }
    Ok(t)
}

/// The tenant of an idPA, whatever broker and station the call names (a receipt is never
/// refused for a known tenant).
pub async fn known_tenant(inst: Installation<'_>, id_pa: &str) -> Result<Tenant, StationFault> {
    let mut h = inst.db.acquire().await.map_err(system)?;
    tenant::by_fiscal_code(&mut h.conn(), id_pa)
        .await
        .map_err(system)?
        .ok_or(StationFault::UnknownTenant)
}

/// The municipality a fiscal code names, if any (the sandbox finds the creditor of a cart's
/// notices this way).
pub async fn tenant_by_fiscal_code(
    inst: Installation<'_>,
    fiscal_code: &str,
) -> Result<Option<Tenant>, AppError> {
    let mut h = inst.db.acquire().await?;
    Ok(tenant::by_fiscal_code(&mut h.conn(), fiscal_code).await?)
}

/// Records the Checkout cart a position was sent in.
pub async fn set_cart(ctx: Ctx<'_>, position: PositionId, cart_id: &str) -> Result<(), AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(store::set_cart(&mut h.conn(), ctx.tenant.id, position, cart_id).await?)
}

fn system<E: std::fmt::Display>(e: E) -> StationFault {
    tracing::error!(error = %e, "pagoPA station: database error");
    StationFault::System
}

/// The open position of a notice the node asks about (paVerifyPaymentNotice, paGetPayment).
/// Read only: asking again changes nothing.
pub async fn payable(
    ctx: Ctx<'_>,
    fiscal_code: &str,
    notice_number: &str,
) -> Result<Position, StationFault> {
    let tenant = ctx.tenant;
    if fiscal_code != tenant.fiscal_code.as_str() {
        return Err(StationFault::UnknownTenant);
    }
    let mut h = ctx.db.acquire().await.map_err(system)?;
    let p = store::position_by_notice(&mut h.conn(), tenant.id, notice_number)
        .await
        .map_err(system)?
        .ok_or(StationFault::UnknownNotice)?;
    match p.status {
        PositionStatus::Paid => Err(StationFault::AlreadyPaid),
        PositionStatus::Cancelled => Err(StationFault::Cancelled),
        PositionStatus::Open if p.is_expired(ctx.today()) => Err(StationFault::Expired),
        PositionStatus::Open => Ok(p),
    }
}

/// paGetPayment: the position, checked against the amount the node verified (when it says).
pub async fn payment(
    ctx: Ctx<'_>,
    fiscal_code: &str,
    notice_number: &str,
    amount: Option<Cents>,
) -> Result<Position, StationFault> {
    let p = payable(ctx, fiscal_code, notice_number).await?;
    if let Some(a) = amount
        && a != p.amount
    {
        return Err(StationFault::Semantics(format!(
            "amount {} differs from the notice's {}",
            a.get(),
            p.amount.get()
        )));
    }
    Ok(p)
}

/// A receipt as the node delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingReceipt {
    pub receipt_id: String,
    pub notice_number: String,
    /// The creditor's fiscal code the receipt names (must be the municipality's).
    pub fiscal_code: String,
    /// idBrokerPA and idStation of the request's header.
    pub broker_id: String,
    pub station_id: String,
    pub outcome_ok: bool,
    pub amount: Cents,
    /// Whether the receipt's transfers add up to its amount (checked by the SOAP reader).
    pub transfers_add_up: bool,
    pub psp_id: String,
    pub psp_name: String,
    pub payment_method: Option<String>,
    pub paid_at: Option<jiff::Timestamp>,
    pub standin: bool,
    /// The message as received, kept for the office and the auditors.
    pub payload: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Stored and applied (a recharge credited, a fee marked paid).
    Applied,
    /// Stored for the office, with the reason: nothing credited.
    Held(HoldReason),
    /// A negative outcome, stored; nothing was paid.
    Ko,
    /// The same receipt id came before: nothing written.
    Duplicate,
}

/// Applies a receipt exactly once, and only as far as its position allows. In one transaction:
/// the position is claimed (open → paid; a concurrent payment of the same notice waits and finds
/// it paid), the receipt id is claimed (a unique key: a second copy, from a retry or another
/// node at the same moment, finds it and writes nothing), then a recharge is credited to its
/// account (idempotency key `pagopa:rt:<receiptId>`).
///
/// A positive receipt is applied only when it names the municipality's broker and station, its
/// transfers add up, and it pays exactly its open position ([`receipt_hold`]); otherwise it is
/// acknowledged and held for the office with the reason, and nothing is credited. A Stand-In
/// receipt (no paGetPayment before it) follows the same rules.
///
/// The credit is always pagoPA's ([`Actor::PagoPa`]), whoever hands the receipt over.
pub async fn apply_receipt(ctx: Ctx<'_>, r: &IncomingReceipt) -> Result<ReceiptOutcome, AppError> {
    let tenant = ctx.tenant;
    let now = ctx.now();
    let by = Actor::PagoPa.to_string();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let position = if r.fiscal_code == tenant.fiscal_code.as_str() {
        store::position_by_notice(c, tenant.id, &r.notice_number).await?
    } else {
        None
    };
    let settings = &tenant.settings.pagopa;
    let mut hold = receipt_hold(&ReceiptFacts {
        broker: &r.broker_id,
        station: &r.station_id,
        our_broker: &settings.broker_id,
        our_station: &settings.station_id,
        transfers_add_up: r.transfers_add_up,
        amount: r.amount,
        position: position.as_ref().map(|p| (p.amount, p.status)),
    });
    if let (true, None, Some(p)) = (r.outcome_ok, hold, &position) {
        // Another receipt of the same notice may have paid it since we read it.
        if !store::mark_paid(c, tenant.id, p.id, now).await? {
            hold = Some(HoldReason::AlreadyPaid);
        }
    }
    let status = match (r.outcome_ok, hold) {
        (false, _) => ReceiptStatus::Ko,
        (true, Some(_)) => ReceiptStatus::Held,
        (true, None) => ReceiptStatus::Applied,
    };
    let Some(stored) = store::insert_receipt(
        c,
        tenant.id,
        &NewReceipt {
            receipt_id: &r.receipt_id,
            notice_number: &r.notice_number,
            position: position.as_ref().map(|p| p.id),
            outcome_ok: r.outcome_ok,
            amount: r.amount,
            status,
            hold_reason: if r.outcome_ok { hold } else { None },
            psp_id: &r.psp_id,
            psp_name: &r.psp_name,
            payment_method: r.payment_method.as_deref(),
            paid_at: r.paid_at,
            standin: r.standin,
            payload: &r.payload,
        },
        now,
    )
    .await?
    else {
        // Dropped without commit: the position's claim above is rolled back too.
        return Ok(ReceiptOutcome::Duplicate);
    };
    let outcome = match (status, hold, position) {
        (ReceiptStatus::Applied, _, Some(p)) => {
            if let (PositionKind::Recharge, Some(account)) = (p.kind, p.account) {
                let day = r
                    .paid_at
                    .map(|t| t.to_zoned(tenant.timezone.clone()).date())
                    .unwrap_or_else(|| ctx.today());
                let key = Key::PagoPaReceipt {
                    receipt_id: r.receipt_id.clone(),
                };
                let reference = format!("pagopa:{}", p.notice_number);
                let reason = format!("Ricarica pagoPA – {}", r.psp_name);
                let entry = ledger::insert_entry(
                    c,
                    tenant.id,
                    &NewEntry::money(account, EntryKind::Recharge, p.amount, day, &key)
                        .by(&by, &reason)
                        .reference(Some(&reference)),
                    now,
                )
                .await?
                .ok_or_else(|| {
                    AppError::Invalid(format!("receipt {} was already credited", r.receipt_id))
                })?;
                store::set_receipt_entry(c, tenant.id, stored, entry).await?;
                let paid = crate::outbox::families::Payment {
                    account,
                    amount: p.amount,
                    day,
                    notice_number: p.notice_number.as_str(),
                    receipt_id: &r.receipt_id,
                };
                crate::outbox::families::queue_payment_received(c, tenant, &paid, now).await?;
            }
            ReceiptOutcome::Applied
        }
        (ReceiptStatus::Held, Some(h), _) => ReceiptOutcome::Held(h),
        _ => ReceiptOutcome::Ko,
    };
    tx.commit().await?;
    Ok(outcome)
}

/// The ways a payment made elsewhere reaches the municipality.
pub const OFFICE_CHANNELS: [(&str, &str); 5] = [
    ("bonifico", "Bonifico bancario"),
    ("contanti", "Contanti allo sportello"),
    ("pos", "POS allo sportello"),
    ("bollettino", "Bollettino postale"),
    ("altro", "Altro"),
];

/// A payment made elsewhere that the office records, with its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficePayment {
    pub account: AccountId,
    /// As typed: `25,50`.
    pub amount: String,
    /// As typed: `2026-11-20`.
    pub day: String,
    pub channel: String,
    /// The proof: the transfer's CRO/TRN, the receipt number of the counter...
    pub reference: String,
    pub note: String,
}

/// Records a payment made elsewhere: a recharge in the ledger under the key
/// `office:payment:<reference>` (whatever the channel), so the same proof can never be credited
/// twice; audited.
/// Returns the new entry's id.
pub async fn record_office_payment(ctx: Ctx<'_>, p: &OfficePayment) -> Result<i64, AppError> {
    let tenant = ctx.tenant;
    let mut errors = Vec::new();
    let amount = match Cents::parse_it(&p.amount) {
        Ok(a) if a.get() > 0 => Some(a),
        Ok(_) => {
            errors.push(field("importo", "L'importo deve essere maggiore di zero."));
            None
        }
        Err(_) => {
            errors.push(field(
                "importo",
                "Scrivi l'importo in euro, con al massimo due decimali (ad esempio 25,50).",
            ));
            None
        }
    };
    let today = ctx.today();
    let day = match p.day.trim().parse::<Date>() {
        Ok(d) if d > today => {
            errors.push(field(
                "data",
                "La data del pagamento non può essere futura.",
            ));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field("data", "Indica la data del pagamento."));
            None
        }
    };
    let channel = OFFICE_CHANNELS
        .iter()
        .find(|(k, _)| *k == p.channel)
        .map(|(k, label)| (*k, *label));
    if channel.is_none() {
        errors.push(field("canale", "Scegli come è stato fatto il pagamento."));
    }
    let reference = p.reference.trim();
    if reference.is_empty() {
        errors.push(field(
            "riferimento",
            "Indica il riferimento del pagamento (CRO/TRN del bonifico, numero della ricevuta...).",
        ));
    } else if reference.chars().count() > 100 {
        errors.push(field(
            "riferimento",
            "Il riferimento è troppo lungo (al massimo 100 caratteri).",
        ));
    }
    let (Some(amount), Some(day), Some((channel, channel_label)), true) =
        (amount, day, channel, errors.is_empty())
    else {
        return Err(AppError::Fields(errors));
    };
    let now = ctx.now();
    let actor = ctx.actor.to_string();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    if !account_exists(c, tenant, p.account).await? {
        return Err(AppError::NotFound("Conto non trovato.".into()));
    }
    let key = Key::OfficePayment {
        reference: refettorio_domain::pagopa::payment_reference(reference),
    };
    let reason = if p.note.trim().is_empty() {
        format!("{channel_label}, rif. {reference}")
    } else {
        format!("{channel_label}, rif. {reference}: {}", p.note.trim())
    };
    let ledger_reference = format!("ufficio:{channel}:{reference}");
    let entry = ledger::insert_entry(
        c,
        tenant.id,
        &NewEntry::money(p.account, EntryKind::Recharge, amount, day, &key)
            .by(&actor, &reason)
            .reference(Some(&ledger_reference)),
        now,
    )
    .await?;
    let Some(entry) = entry else {
        return Err(AppError::Fields(vec![field(
            "riferimento",
            "Un pagamento con questo riferimento è già stato registrato (con qualunque canale): non viene accreditato due volte.",
        )]));
    };
    let after = serde_json::json!({
        "account": p.account.get(),
        "amount_cents": amount.get(),
        "day": day.to_string(),
        "channel": channel,
        "reference": reference,
    });
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::OfficePayment,
            AuditObject {
                kind: ObjectKind::LedgerEntry,
                id: Some(entry),
            },
        )
        .after(after)
        .reason(&reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(entry)
}

/// What became of a receipt the office tried to reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// Credited now: the new ledger entry.
    Credited(i64),
    /// Another operator (or a second click) reconciled it first: nothing written.
    AlreadyDone,
}

/// Credits a held receipt to the account the office names (its number, or its payer's
/// fiscal code), with a reason: a recharge under the receipt's own key `pagopa:rt:<receiptId>`,
/// so a receipt is credited once whichever way it arrives; the receipt becomes applied and the
/// change is audited. Only held, positive receipts can be reconciled.
pub async fn reconcile_receipt(
    ctx: Ctx<'_>,
    receipt: i64,
    account: &str,
    reason: &str,
) -> Result<Reconciled, AppError> {
    let tenant = ctx.tenant;
    let now = ctx.now();
    let actor = ctx.actor.to_string();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let mut errors = Vec::new();
    let acc = match crate::ledger::find_account(c, tenant, account, None).await? {
        Ok(a) => Some(a),
        Err(m) => {
            errors.push(field("conto", m));
            None
        }
    };
    let reason = check_decision_reason(
        &mut errors,
        reason,
        "Indica perché il pagamento spetta a questo conto: resta nel registro delle modifiche.",
    );
    let (Some(acc), true) = (acc, errors.is_empty()) else {
        return Err(AppError::Fields(errors));
    };
    let r = store::receipt(c, tenant.id, receipt)
        .await?
        .ok_or_else(|| AppError::NotFound("Ricevuta non trovata.".into()))?;
    if r.status != ReceiptStatus::Held {
        return Ok(Reconciled::AlreadyDone);
    }
    let day = r
        .paid_at
        .map(|t| t.to_zoned(tenant.timezone.clone()).date())
        .unwrap_or_else(|| ctx.today());
    let key = Key::PagoPaReceipt {
        receipt_id: r.receipt_id.clone(),
    };
    let reference = format!("pagopa:{}", r.notice_number);
    let why = format!("Ricarica pagoPA riconciliata dall'ufficio: {reason}");
    let Some(entry) = ledger::insert_entry(
        c,
        tenant.id,
        &NewEntry::money(acc.id, EntryKind::Recharge, r.amount, day, &key)
            .by(&actor, &why)
            .reference(Some(&reference)),
        now,
    )
    .await?
    else {
        return Ok(Reconciled::AlreadyDone);
    };
    if !store::reconcile(c, tenant.id, r.id, entry).await? {
        return Ok(Reconciled::AlreadyDone);
    }
    // The family hears of its payment as when the station applies a receipt (same key: once).
    let paid = crate::outbox::families::Payment {
        account: acc.id,
        amount: r.amount,
        day,
        notice_number: r.notice_number.as_str(),
        receipt_id: &r.receipt_id,
    };
    crate::outbox::families::queue_payment_received(c, tenant, &paid, now).await?;
    let after = serde_json::json!({
        "receipt": r.receipt_id,
        "account": acc.id.get(),
        "amount_cents": r.amount.get(),
        "status": "applied",
    });
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::ReconcileReceipt,
            AuditObject {
                kind: ObjectKind::PagopaReceipt,
                id: Some(r.id),
            },
        )
        .before(serde_json::json!({"status": "held"}))
        .after(after)
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Reconciled::Credited(entry))
}

/// The reason the office gives for a decision on a held receipt, trimmed; an error on `motivo`
/// when it is empty (`missing` says what to write) or too long.
fn check_decision_reason<'a>(
    errors: &mut Vec<FieldError>,
    typed: &'a str,
    missing: &str,
) -> &'a str {
    let reason = typed.trim();
    if reason.is_empty() {
        errors.push(field("motivo", missing));
    } else if reason.chars().count() > 500 {
        errors.push(field(
            "motivo",
            "Il motivo è troppo lungo (al massimo 500 caratteri).",
        ));
    }
    reason
}

/// The receipts held for the office, newest first.
pub async fn held_receipts(ctx: Ctx<'_>) -> Result<Vec<StoredReceipt>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(store::receipts_with_status(&mut h.conn(), ctx.tenant.id, ReceiptStatus::Held).await?)
}

/// Sets a held receipt aside: the office decided it is not to be credited (an inflated or
/// forged amount, a second payment to be refunded outside pagoPA). Nothing is credited; the
/// receipt becomes dismissed and the decision is audited with its reason. `false` when the
/// receipt was no longer held (another operator decided first): nothing written.
pub async fn dismiss_receipt(ctx: Ctx<'_>, receipt: i64, reason: &str) -> Result<bool, AppError> {
    let tenant = ctx.tenant;
    let mut errors = Vec::new();
    let reason = check_decision_reason(
        &mut errors,
        reason,
        "Indica perché la ricevuta non va accreditata: resta nel registro delle modifiche.",
    );
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let r = store::receipt(c, tenant.id, receipt)
        .await?
        .ok_or_else(|| AppError::NotFound("Ricevuta non trovata.".into()))?;
    if !store::dismiss(c, tenant.id, r.id).await? {
        return Ok(false);
    }
    let after = serde_json::json!({
        "receipt": r.receipt_id,
        "amount_cents": r.amount.get(),
        "status": "dismissed",
    });
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::DismissReceipt,
            AuditObject {
                kind: ObjectKind::PagopaReceipt,
                id: Some(r.id),
            },
        )
        .before(serde_json::json!({"status": "held"}))
        .after(after)
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

fn field(name: &'static str, message: &str) -> FieldError {
    FieldError {
        field: name,
        message: message.into(),
    }
}

async fn account_exists(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    account: AccountId,
) -> Result<bool, AppError> {
    Ok(ledger::account_by_id(c, tenant.id, account)
        .await?
        .is_some())
}

/// A family's positions the guardian may see (payments visible), newest first.
pub async fn positions(ctx: Ctx<'_>, access: &Access) -> Result<Vec<Position>, AppError> {
    let tenant = ctx.tenant;
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let mut out = Vec::new();
    for (fam, _) in &access.families {
        if access.sees_payments(fam.id) {
            out.extend(store::positions_of_family(c, tenant.id, fam.id).await?);
        }
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// One of the guardian's positions (another family's is "not found").
pub async fn position_of(
    ctx: Ctx<'_>,
    access: &Access,
    id: PositionId,
) -> Result<Position, AppError> {
    let mut h = ctx.db.acquire().await?;
    store::position(&mut h.conn(), ctx.tenant.id, id)
        .await?
        .filter(|p| access.sees_payments(p.family))
        .ok_or_else(|| AppError::NotFound("Avviso non trovato.".into()))
}

fn creditor(tenant: &Tenant) -> NoticeCreditor {
    let s = &tenant.settings;
    let contacts = [s.office_email.as_deref(), s.office_phone.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" – ");
    NoticeCreditor {
        name: tenant.name.clone(),
        fiscal_code: tenant.fiscal_code.as_str().to_string(),
        sector: s.pagopa.sector.clone(),
        contacts,
        cbill: s.pagopa.cbill.clone(),
        postal_account: s.pagopa.postal_account.clone(),
        postal_holder: s.pagopa.postal_holder.clone(),
    }
}

/// The printed notice (avviso di pagamento) of a position.
pub async fn notice_document(ctx: Ctx<'_>, p: &Position) -> Result<Vec<u8>, AppError> {
    let tenant = ctx.tenant;
    let mut h = ctx.db.acquire().await?;
    let mut address = None;
    if let Ok(cf) = CodiceFiscale::parse(&p.debtor_fiscal_code)
        && let Some(g) = family::guardian_by_fiscal_code(&mut h.conn(), tenant.id, &cf).await?
        && !g.address.trim().is_empty()
    {
        address = Some(g.address);
    }
    let view = NoticeView {
        creditor: creditor(tenant),
        debtor: NoticeDebtor {
            fiscal_code: p.debtor_fiscal_code.clone(),
            full_name: p.debtor_name.clone(),
            address,
        },
        subject: p.description.clone(),
        instalments: vec![NoticeInstalment {
            notice_number: p.notice_number.as_str().to_string(),
            amount_cents: p.amount.get(),
            due_date: Some(p.due_date),
        }],
        issued_on: ctx.today(),
    };
    notice_pdf(&view).map_err(|e| AppError::Invalid(format!("notice PDF: {e}")))
}

/// The receipt (ricevuta) of a paid position.
pub async fn receipt_document(ctx: Ctx<'_>, p: &Position) -> Result<Vec<u8>, AppError> {
    let tenant = ctx.tenant;
    let mut h = ctx.db.acquire().await?;
    let receipts = store::receipts_of_position(&mut h.conn(), tenant.id, p.id).await?;
    let r = receipts
        .into_iter()
        .find(|r| r.status == ReceiptStatus::Applied)
        .ok_or_else(|| {
            AppError::NotFound("Ricevuta non trovata: il pagamento non risulta ancora.".into())
        })?;
    let paid = r
        .paid_at
        .unwrap_or(r.received_at)
        .to_zoned(tenant.timezone.clone());
    let view = ReceiptView {
        creditor_name: tenant.name.clone(),
        creditor_fiscal_code: tenant.fiscal_code.as_str().to_string(),
        debtor_fiscal_code: p.debtor_fiscal_code.clone(),
        debtor_name: p.debtor_name.clone(),
        subject: p.description.clone(),
        notice_number: p.notice_number.as_str().to_string(),
        iuv: p.iuv.clone(),
        receipt_id: r.receipt_id,
        amount_cents: r.amount.get(),
        paid_at_label: paid.strftime("%d/%m/%Y alle %H:%M").to_string(),
        psp_name: r.psp_name,
        payment_method: r.payment_method,
        issued_on: local_now(ctx.clock, &tenant.timezone).date(),
    };
    receipt_pdf(&view).map_err(|e| AppError::Invalid(format!("receipt PDF: {e}")))
}
