//! Post-paid fees (issue 17): a service's fee rule, and the issuing run ("emissione") that
//! makes one pagoPA notice per family for a service and a period (`2026-12`, `anno`,
//! `iscrizione`). The amounts are `domain::fees::fee`; a fee is a payment position of kind
//! `fee`, unique per family, service and period, so a period issued again (twice, concurrently,
//! after an interruption) issues only what is missing.

use std::collections::{BTreeMap, HashSet};

use jiff::civil::Date;
use refettorio_db::fees as store;
use refettorio_db::pagopa::{self as positions, NewPosition, PositionKind};
use refettorio_db::registry::{calendar, service};
use refettorio_domain::fees::{Enrolled, FeeRule, Period, due_date, fee};
use refettorio_domain::pricing::{Sibling, sibling_rank};
use refettorio_domain::registry::Billing;
use refettorio_domain::{
    AuditAction, AuditEntry, AuditObject, Cents, FamilyId, NoticeNumber, ObjectKind, PositionId,
    ServiceId,
};

use crate::{AppError, Ctx, FieldError};

/// Families issued per transaction: an interrupted run keeps what it committed, and a run
/// again issues the rest.
const BATCH: usize = 200;

/// A service's fee rule as the office sets it; `None`: the service has none yet.
pub async fn rule(ctx: Ctx<'_>, service: ServiceId) -> Result<Option<FeeRule>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(store::rule(&mut h.conn(), ctx.tenant.id, service).await?)
}

/// Sets a post-paid service's fee rule (checked: an IBAN and a taxonomy code among the rest),
/// audited.
pub async fn set_rule(ctx: Ctx<'_>, service: ServiceId, r: &FeeRule) -> Result<(), AppError> {
    let errors: Vec<FieldError> = r
        .check()
        .into_iter()
        .map(|(field, message)| FieldError { field, message })
        .collect();
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    postpaid(c, ctx, service).await?;
    let before = store::rule(c, ctx.tenant.id, service).await?;
    store::put_rule(c, ctx.tenant.id, service, r, now).await?;
    refettorio_db::audit::record(
        c,
        ctx.tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::FeeRule,
            AuditObject::new(ObjectKind::Service, service.get()),
        )
        .before(serde_json::to_value(before).unwrap_or_default())
        .after(serde_json::to_value(r).unwrap_or_default()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The post-paid service `id` of the municipality.
async fn postpaid(
    c: &mut refettorio_db::Conn<'_>,
    ctx: Ctx<'_>,
    id: ServiceId,
) -> Result<service::Service, AppError> {
    let svc = service::service(c, ctx.tenant.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Servizio non trovato.".into()))?;
    if svc.billing != Billing::Postpaid {
        return Err(AppError::Invalid(format!(
            "Il servizio «{}» è prepagato: le quote si emettono solo per i servizi a pagamento posticipato.",
            svc.name
        )));
    }
    Ok(svc)
}

/// An issuing run as asked: the service, the period (`2026-12`, `anno`, `iscrizione`), a due
/// date other than the rule's, and whether only to preview it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    pub service: ServiceId,
    pub period: String,
    pub due: Option<Date>,
    pub dry_run: bool,
}

/// One family's fee of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyFee {
    pub family: FamilyId,
    pub payer_fiscal_code: String,
    pub payer_name: String,
    pub children: u32,
    pub amount: Cents,
    /// Issued before (by an earlier run): nothing new.
    pub already: bool,
}

/// What a run issued (or, previewing, would issue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub service: String,
    pub period: String,
    pub due: Date,
    /// Every family that owes something for the period.
    pub fees: Vec<FamilyFee>,
    /// Fees this run issued (previewing: would issue).
    pub issued: usize,
    /// Their total.
    pub total: Cents,
    /// What the office should look at (a payer without an address for the notice).
    pub exceptions: Vec<String>,
}

impl Issued {
    /// The command's last line: `fees-issue service=… period=… families=… fees=… total_cents=…`.
    pub fn summary_line(&self, service: ServiceId) -> String {
        format!(
            "fees-issue service={} period={} families={} fees={} total_cents={}",
            service.get(),
            self.period,
            self.fees.len(),
            self.issued,
            self.total.get()
        )
    }
}

/// Issues (or previews) the fees of a service for a period: each family's enrolments in the
/// service, priced by [`fee`] (the band's fixed fee, the sibling reduction, exemptions, pro
/// rata), one notice per family with a total above zero. The notice carries no child's data;
/// the transfer goes to the rule's IBAN with its taxonomy code. A family that chose App IO
/// gets the notice there (through the outbox). Refused, with nothing issued: a service without
/// a valid rule, a period outside its school year, a due date before today, pagoPA not set up.
pub async fn issue(ctx: Ctx<'_>, req: &IssueRequest) -> Result<Issued, AppError> {
    let tenant = ctx.tenant;
    let settings = &tenant.settings.pagopa;
    if !crate::pagopa::enabled(tenant) {
        return Err(AppError::Invalid(
            "pagoPA non è configurato per questo Comune (IBAN, stazione, intermediario): nessuna quota emessa.".into(),
        ));
    }
    let period = Period::parse(&req.period).ok_or_else(|| {
        AppError::Invalid(format!(
            "Periodo «{}» non valido: un mese come 2026-12, «anno» o «iscrizione».",
            req.period
        ))
    })?;
    let today = ctx.today();
    let now = ctx.now();
    let (svc, year, rule, days, enrolled, reductions, issued_before) = {
        let mut h = ctx.db.acquire().await?;
        let c = &mut h.conn();
        let svc = postpaid(c, ctx, req.service).await?;
        let year = calendar::school_year(c, tenant.id, svc.school_year_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Anno scolastico non trovato.".into()))?;
        let rule = store::rule(c, tenant.id, svc.id).await?.ok_or_else(|| {
            AppError::Invalid(format!(
                "Il servizio «{}» non ha ancora la regola delle quote (IBAN, codice tassonomico, frequenza): nessuna quota emessa.",
                svc.name
            ))
        })?;
        if let Some((_, why)) = rule.check().into_iter().next() {
            return Err(AppError::Invalid(format!(
                "Regola delle quote non valida: {why} Nessuna quota emessa."
            )));
        }
        let days = period
            .days(&rule, (year.starts_on, year.ends_on))
            .map_err(AppError::Invalid)?;
        let enrolled = store::enrolled(c, tenant.id, svc.id, days.1).await?;
        let reductions = service::sibling_reductions(c, tenant.id, svc.id).await?;
        let before: HashSet<FamilyId> =
            positions::fee_families(c, tenant.id, svc.id, &period.key())
                .await?
                .into_iter()
                .collect();
        (svc, year, rule, days, enrolled, reductions, before)
    };
    let due = due_date(&rule, today, req.due).map_err(AppError::Invalid)?;
    // Family by family: the children enrolled within the period, ranked eldest first.
    let mut by_family: BTreeMap<FamilyId, Vec<&store::Enrolled>> = BTreeMap::new();
    for e in &enrolled {
        let ends = e.until.map_or(days.1, |u| u.yesterday().unwrap_or(u));
        if e.from <= days.1 && ends >= days.0 {
            by_family.entry(e.family).or_default().push(e);
        }
    }
    let mut fees = Vec::new();
    let mut exceptions = Vec::new();
    for (family, children) in &by_family {
        let siblings: Vec<Sibling> = children
            .iter()
            .map(|e| Sibling {
                id: e.pupil,
                birth_date: e.birth_date,
            })
            .collect();
        let mut amount = Cents::ZERO;
        for (e, me) in children.iter().zip(&siblings) {
            amount = fee(
                &Enrolled {
                    fixed_fee: e.fixed_fee,
                    exempt: e.exempt,
                    rank: sibling_rank(*me, siblings.iter().copied()),
                    from: e.from,
                    until: e.until,
                },
                &rule,
                period,
                days,
                &reductions,
            )
            .and_then(|c| amount.checked_add(c))
            .ok_or_else(|| AppError::Invalid("Importo fuori scala.".into()))?;
        }
        if amount.is_zero() {
            continue;
        }
        let first = children[0];
        if first.payer_address.trim().is_empty() {
            exceptions.push(format!(
                "{} ({}): manca l'indirizzo del pagatore sull'avviso.",
                first.payer_name, first.payer_fiscal_code
            ));
        }
        fees.push(FamilyFee {
            family: *family,
            payer_fiscal_code: first.payer_fiscal_code.clone(),
            payer_name: first.payer_name.clone(),
            children: u32::try_from(children.len()).unwrap_or(u32::MAX),
            amount,
            already: issued_before.contains(family),
        });
    }
    let description = format!(
        "{} a.s. {} - {}",
        svc.name,
        year.label,
        period.label_it(&year.label)
    );
    let description: String = description.chars().take(140).collect();
    let mut issued = 0;
    let mut total = Cents::ZERO;
    if req.dry_run {
        for f in fees.iter().filter(|f| !f.already) {
            issued += 1;
            total = total.checked_add(f.amount).unwrap_or(total);
        }
    } else {
        let by = ctx.actor.to_string();
        let key = period.key();
        for batch in fees.chunks(BATCH) {
            let mut tx = ctx.db.begin().await?;
            let c = &mut tx.conn();
            for f in batch.iter().filter(|f| !f.already) {
                let base =
                    positions::next_iuv_base(c, tenant.id, settings.segregation_code).await?;
                let notice = NoticeNumber::generate(settings.segregation_code, base)
                    .map_err(|e| AppError::Invalid(e.to_string()))?;
                let made = positions::insert_position(
                    c,
                    tenant.id,
                    &NewPosition {
                        kind: PositionKind::Fee,
                        notice_number: &notice,
                        family: f.family,
                        account: None,
                        debtor_fiscal_code: &f.payer_fiscal_code,
                        debtor_name: &f.payer_name,
                        description: &description,
                        amount: f.amount,
                        due_date: due,
                        iban: rule.iban.trim(),
                        transfer_category: rule.taxonomy.trim(),
                        created_by: &by,
                        fee_of: Some((svc.id, &key)),
                        expires: rule.expires,
                    },
                    now,
                )
                .await?;
                // None: another run issued it meanwhile.
                if made.is_some() {
                    issued += 1;
                    total = total.checked_add(f.amount).unwrap_or(total);
                    let io = crate::outbox::families::Notice {
                        family: f.family,
                        notice: &notice,
                        amount: f.amount,
                        due,
                        description: &description,
                    };
                    crate::outbox::families::queue_payment_notice(c, tenant, &io, now).await?;
                }
            }
            tx.commit().await?;
        }
        if issued > 0 {
            let mut h = ctx.db.acquire().await?;
            refettorio_db::audit::record(
                &mut h.conn(),
                tenant.id,
                &AuditEntry::new(
                    ctx.actor,
                    AuditAction::IssueFees,
                    AuditObject::new(ObjectKind::Service, svc.id.get()),
                )
                .reason(format!(
                    "{description}: {issued} avvisi, {}",
                    total.format_it()
                )),
                now,
            )
            .await?;
        }
    }
    tracing::info!(
        tenant = %tenant.slug,
        service = svc.id.get(),
        period = %period.key(),
        families = fees.len(),
        issued,
        total_cents = total.get(),
        dry_run = req.dry_run,
        "fees issued"
    );
    Ok(Issued {
        service: svc.name,
        period: period.key(),
        due,
        fees,
        issued,
        total,
        exceptions,
    })
}

/// A post-paid service of the current school year as the fees page shows it.
#[derive(Debug, Clone)]
pub struct ServiceFees {
    pub id: ServiceId,
    pub name: String,
    pub year: String,
    pub rule: Option<FeeRule>,
    /// Its fees, newest period first.
    pub fees: Vec<positions::Position>,
}

/// The post-paid services of the school year under way (or the next), with their rules and
/// fees.
pub async fn overview(ctx: Ctx<'_>) -> Result<Vec<ServiceFees>, AppError> {
    let today = ctx.today();
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let years = calendar::school_years(c, ctx.tenant.id).await?;
    let Some(year) = years
        .iter()
        .find(|y| y.starts_on <= today && today <= y.ends_on)
        .or_else(|| {
            years
                .iter()
                .filter(|y| y.starts_on > today)
                .min_by_key(|y| y.starts_on)
        })
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for svc in service::services(c, ctx.tenant.id, year.id).await? {
        if svc.billing != Billing::Postpaid {
            continue;
        }
        out.push(ServiceFees {
            id: svc.id,
            rule: store::rule(c, ctx.tenant.id, svc.id).await?,
            fees: positions::fees_of_service(c, ctx.tenant.id, svc.id).await?,
            name: svc.name,
            year: year.label.clone(),
        });
    }
    Ok(out)
}

/// One fee of the municipality, for the office's page of it.
pub async fn issued_fee(ctx: Ctx<'_>, id: PositionId) -> Result<positions::Position, AppError> {
    let mut h = ctx.db.acquire().await?;
    positions::position(&mut h.conn(), ctx.tenant.id, id)
        .await?
        .filter(|p| p.kind == PositionKind::Fee)
        .ok_or_else(|| AppError::NotFound("Quota non trovata.".into()))
}

/// What the office changes on an open fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeeChange {
    /// Cancelled, with the reason (the station then answers `PAA_PAGAMENTO_ANNULLATO`).
    Cancel(String),
    /// A new due date (not before today).
    Due(Date),
    /// Paid elsewhere (a bank transfer, at the counter): how (one of
    /// `pagopa::OFFICE_CHANNELS`) and the payment's reference, which pays one fee only.
    PaidElsewhere { channel: String, reference: String },
}

/// Cancels an open fee or moves its due date, audited. Refused with a reason in Italian: an
/// empty reason, a due date before today, a fee no longer open.
pub async fn change_fee(ctx: Ctx<'_>, id: PositionId, change: &FeeChange) -> Result<(), AppError> {
    let field = |field: &'static str, message: &str| {
        AppError::Fields(vec![FieldError {
            field,
            message: message.into(),
        }])
    };
    match change {
        FeeChange::Cancel(r) if r.trim().is_empty() || r.chars().count() > 500 => {
            return Err(field(
                "motivo",
                "Scrivi il motivo dell'annullamento (al massimo 500 caratteri).",
            ));
        }
        FeeChange::Due(d) if *d < ctx.today() => {
            return Err(field(
                "scadenza",
                "La nuova scadenza non può essere nel passato.",
            ));
        }
        _ => {}
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let before = positions::position(c, ctx.tenant.id, id)
        .await?
        .filter(|p| p.kind == PositionKind::Fee)
        .ok_or_else(|| AppError::NotFound("Quota non trovata.".into()))?;
    let (done, action, reason, after) = match change {
        FeeChange::Cancel(r) => (
            positions::cancel_fee(c, ctx.tenant.id, id, r.trim()).await?,
            AuditAction::CancelFee,
            r.trim().to_string(),
            serde_json::json!({"status": "cancelled"}),
        ),
        FeeChange::Due(d) => (
            positions::set_fee_due_date(c, ctx.tenant.id, id, *d).await?,
            AuditAction::FeeDueDate,
            String::new(),
            serde_json::json!({"due_date": d.to_string()}),
        ),
        FeeChange::PaidElsewhere { channel, reference } => {
            let normalised = refettorio_domain::pagopa::payment_reference(reference);
            let label = crate::pagopa::OFFICE_CHANNELS
                .iter()
                .find(|(k, _)| k == channel)
                .map_or("", |(_, l)| l);
            (
                positions::pay_fee_elsewhere(c, ctx.tenant.id, id, &normalised, now).await?,
                AuditAction::FeePaidElsewhere,
                format!("{label}, rif. {normalised}"),
                serde_json::json!({"status": "paid", "reference": normalised}),
            )
        }
    };
    if !done {
        return Err(AppError::Invalid(
            "Nessuna modifica: la quota non è più da pagare (pagata o annullata), oppure quel riferimento ha già pagato un'altra quota.".into(),
        ));
    }
    refettorio_db::audit::record(
        c,
        ctx.tenant.id,
        &AuditEntry::new(
            ctx.actor,
            action,
            AuditObject::new(ObjectKind::Position, id.get()),
        )
        .before(serde_json::json!({
            "status": before.status.as_str(),
            "due_date": before.due_date.to_string(),
        }))
        .after(after)
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A service's fees as a table (the office's CSV and XLSX export): period, payer, notice,
/// amount, due date, state.
pub async fn fees_table(
    ctx: Ctx<'_>,
    service: ServiceId,
) -> Result<crate::reports::Table, AppError> {
    use crate::reports::{Cell, Table};
    let today = ctx.today();
    let (svc, fees) = {
        let mut h = ctx.db.acquire().await?;
        let c = &mut h.conn();
        let svc = postpaid(c, ctx, service).await?;
        (
            svc,
            positions::fees_of_service(c, ctx.tenant.id, service).await?,
        )
    };
    let mut table = Table::new(
        format!("Quote emesse – {}", svc.name),
        &[
            "Periodo",
            "Codice fiscale del pagatore",
            "Pagatore",
            "Codice avviso",
            "Importo",
            "Scadenza",
            "Stato",
        ],
    );
    let mut total = 0;
    for p in &fees {
        total += p.amount.get();
        table.rows.push(vec![
            Cell::text(p.fee_of.as_ref().map_or("", |(_, k)| k.as_str())),
            Cell::text(p.debtor_fiscal_code.as_str()),
            Cell::text(p.debtor_name.as_str()),
            Cell::text(p.notice_number.as_str()),
            Cell::Money(p.amount.get()),
            Cell::Date(p.due_date),
            Cell::text(p.state_it(today)),
        ]);
    }
    table.totals.push(vec![
        Cell::text("Totale"),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
        Cell::Money(total),
        Cell::Empty,
        Cell::Empty,
    ]);
    Ok(table)
}

/// A family's fees at a glance, as the payments page sums them up (the lines of the previous
/// vendors' statements: notices issued, the enrolment fee, paid, still to pay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeeSummary {
    /// Every fee issued and not cancelled.
    pub issued: Cents,
    /// Of which the yearly enrolment fees.
    pub enrolment: Cents,
    pub paid: Cents,
    pub to_pay: Cents,
}

/// Sums up the fees among `positions` (recharges are left out); `None` when there is none.
pub fn summary(positions: &[positions::Position]) -> Option<FeeSummary> {
    let mut s = FeeSummary::default();
    let mut any = false;
    for p in positions.iter().filter(|p| p.kind == PositionKind::Fee) {
        if p.status == positions::PositionStatus::Cancelled {
            continue;
        }
        any = true;
        let add = |a: Cents| a.checked_add(p.amount).unwrap_or(a);
        s.issued = add(s.issued);
        if p.fee_of.as_ref().is_some_and(|(_, k)| k == "iscrizione") {
            s.enrolment = add(s.enrolment);
        }
        if p.status == positions::PositionStatus::Paid {
            s.paid = add(s.paid);
        } else {
            s.to_pay = add(s.to_pay);
        }
    }
    any.then_some(s)
}
