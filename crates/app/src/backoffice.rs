//! Use cases of the municipality's back office: finding a family and its prepaid accounts,
//! adjustments and refunds (each with a reason, written once per form and audited), and the
//! audit log. Payments made elsewhere are [`crate::pagopa::record_office_payment`].
//!
//! The office sees a family's accounts through the same code as the family does
//! ([`portal::payments`]), as if it were the payer: one way to compute balances, summaries and
//! descriptions of movements.

use std::collections::BTreeSet;

use jiff::civil::Date;
use refettorio_db::Db;
use refettorio_db::audit::{self, AuditFilter, AuditRecord};
use refettorio_db::meals::{self, NewEntry};
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::family::{self, Family, Guardian, Link, Pupil};
use refettorio_db::registry::school::{self, Class, School};
use refettorio_db::registry::service;
use refettorio_db::registry::staff::{self, StaffUser};
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::{
    AccountId, Cents, ClassId, Clock, Closure, ClosureId, ClosureKind, ClosureScope,
    EnrolmentState, EntryKind, SchoolId, ServiceId, today,
};

use crate::portal::{self, Access, PaymentsView};
use crate::{AppError, FieldError};

/// How many families a search shows at most.
pub const SEARCH_LIMIT: usize = 20;

/// A family found by a search, with its prepaid accounts.
#[derive(Debug, Clone)]
pub struct FamilyHit {
    pub family: Family,
    pub payer: Guardian,
    pub pupils: Vec<Pupil>,
    /// Account, "Refezione scolastica 2026/2027", balance.
    pub accounts: Vec<(AccountId, String, Cents)>,
}

/// The access the office has to one family: everything the payer sees.
fn as_payer(family: Family) -> Access {
    Access {
        families: vec![(family, Link::Payer)],
    }
}

/// Families with a pupil or guardian whose name starts with `query`, or whose fiscal code or
/// card code is `query`, at most [`SEARCH_LIMIT`], by payer name: one indexed query
/// ([`crate::people::find_families`]).
pub async fn search_families(
    db: &Db,
    tenant: &Tenant,
    query: &str,
) -> Result<Vec<FamilyHit>, AppError> {
    crate::people::find_families(db, tenant, query).await
}

/// One account as the office sees it: its payer, and the view the payer has (balance,
/// summary, movements newest first, the family's other accounts).
#[derive(Debug, Clone)]
pub struct OfficeAccount {
    pub payer: Guardian,
    pub pupils: Vec<Pupil>,
    pub view: PaymentsView,
}

pub async fn account(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    id: AccountId,
) -> Result<OfficeAccount, AppError> {
    let not_found = || AppError::NotFound("Conto non trovato.".into());
    let (fam, payer, pupils) = {
        let mut h = db.acquire().await?;
        let c = &mut h.conn();
        let acc = meals::account_by_id(c, tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        let fam = family::family(c, tenant.id, acc.family)
            .await?
            .ok_or_else(not_found)?;
        let payer = family::guardian(c, tenant.id, fam.payer_id)
            .await?
            .ok_or_else(not_found)?;
        let pupils = family::pupils_of_family(c, tenant.id, fam.id).await?;
        (fam, payer, pupils)
    };
    let view = portal::payments(db, clock, tenant, &as_payer(fam), Some(id), None, None)
        .await?
        .ok_or_else(not_found)?;
    Ok(OfficeAccount {
        payer,
        pupils,
        view,
    })
}

/// A change of balance the office makes by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A correction, credit (positive) or debit (negative).
    Adjustment,
    /// Residual credit paid back to the family: typed positive, written negative.
    Refund,
}

impl ChangeKind {
    fn entry_kind(self) -> EntryKind {
        match self {
            ChangeKind::Adjustment => EntryKind::Adjustment,
            ChangeKind::Refund => EntryKind::Refund,
        }
    }
}

/// An adjustment or refund as typed in its form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyChange {
    pub account: AccountId,
    pub kind: ChangeKind,
    /// As typed: `-5,00`, `12,50`.
    pub amount: String,
    pub reason: String,
    /// The random token of the form that was shown: the same form submitted twice is written
    /// once.
    pub form_token: String,
}

/// What happened to a [`MoneyChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written: the new entry's id.
    New(i64),
    /// This form was already written (a double submit): nothing written again.
    Repeated,
}

fn field(name: &'static str, message: &str) -> FieldError {
    FieldError {
        field: name,
        message: message.into(),
    }
}

/// A form token as the back office makes them (64 hex digits).
pub fn valid_form_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The longest reason accepted.
const REASON_MAX: usize = 500;

/// The reason of a money change, trimmed; an error on `causale` when it is empty or too long.
fn check_reason<'a>(errors: &mut Vec<FieldError>, typed: &'a str) -> &'a str {
    let reason = typed.trim();
    if reason.is_empty() {
        errors.push(field(
            "causale",
            "Indica il motivo: resta nel registro delle modifiche.",
        ));
    } else if reason.chars().count() > REASON_MAX {
        errors.push(field(
            "causale",
            "Il motivo è troppo lungo (al massimo 500 caratteri).",
        ));
    }
    reason
}

/// Checks the amount and reason of an adjustment or refund: the signed amount to write.
fn check_change(ch: &MoneyChange) -> Result<(Cents, &str), AppError> {
    let mut errors = Vec::new();
    let amount = match (Cents::parse_it(&ch.amount), ch.kind) {
        (Ok(a), _) if a.is_zero() => {
            errors.push(field("importo", "L'importo non può essere zero."));
            None
        }
        (Ok(a), ChangeKind::Adjustment) => Some(a),
        (Ok(a), ChangeKind::Refund) if a.is_negative() => {
            errors.push(field(
                "importo",
                "Scrivi l'importo da rimborsare senza segno (ad esempio 20,00).",
            ));
            None
        }
        (Ok(a), ChangeKind::Refund) => a.checked_neg(),
        (Err(_), ChangeKind::Adjustment) => {
            errors.push(field(
                "importo",
                "Scrivi l'importo in euro, con al massimo due decimali (ad esempio 5,50, oppure -5,50 per un addebito).",
            ));
            None
        }
        (Err(_), ChangeKind::Refund) => {
            errors.push(field(
                "importo",
                "Scrivi l'importo in euro, con al massimo due decimali (ad esempio 20,00).",
            ));
            None
        }
    };
    let reason = check_reason(&mut errors, &ch.reason);
    match amount {
        Some(a) if errors.is_empty() => Ok((a, reason)),
        _ => Err(AppError::Fields(errors)),
    }
}

/// Writes an adjustment or a refund on an account, dated today, under the key of its form
/// (`office:adjustment:<account>:<form token>`), and audits it. A refund may not take the
/// balance below zero. A form already written is [`Recorded::Repeated`] and writes nothing.
pub async fn record_change(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    ch: &MoneyChange,
) -> Result<Recorded, AppError> {
    if !valid_form_token(&ch.form_token) {
        // Not a form we showed: not a validation error the user can fix.
        return Err(AppError::Forbidden);
    }
    let (amount, reason) = check_change(ch)?;
    let kind = ch.kind.entry_kind();
    let now = clock.now();
    let day = today(clock, &tenant.timezone);
    let key = format!(
        "office:{}:{}:{}",
        kind.as_str(),
        ch.account.get(),
        ch.form_token.to_ascii_lowercase()
    );
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if meals::account_by_id(c, tenant.id, ch.account)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("Conto non trovato.".into()));
    }
    meals::lock_accounts(c, tenant.id, &[ch.account]).await?;
    let entry = meals::insert_entry(
        c,
        tenant.id,
        &NewEntry {
            account: ch.account,
            kind,
            amount,
            day,
            pupil: None,
            enrolment: None,
            school: None,
            class: None,
            bland: None,
            diet: None,
            reverses: None,
            reference: None,
            idempotency_key: &key,
            created_by: actor,
            reason,
        },
        now,
    )
    .await?;
    let Some(entry) = entry else {
        return Ok(Recorded::Repeated);
    };
    if ch.kind == ChangeKind::Refund {
        // Checked after the insert, in its transaction: a double submit is `Repeated` above,
        // not refused here for the credit the first submit already paid back.
        let after = meals::balance(c, tenant.id, ch.account).await?;
        if after.is_negative() {
            let before = after.checked_sub(amount).unwrap_or(after);
            return Err(AppError::Fields(vec![field(
                "importo",
                &format!(
                    "Il rimborso supera il credito del conto ({}).",
                    before.format_it()
                ),
            )]));
        }
    }
    let after = format!(
        "{{\"account\":{},\"kind\":\"{}\",\"amount_cents\":{},\"day\":\"{day}\"}}",
        ch.account,
        kind.as_str(),
        amount.get()
    );
    meals::audit(
        c,
        tenant.id,
        actor,
        kind.as_str(),
        "ledger_entry",
        Some(entry),
        None,
        Some(&after),
        reason,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Recorded::New(entry))
}

/// A transfer of credit between two accounts (giroconto) as typed in its form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferInput {
    pub from: AccountId,
    /// The destination as typed: an account number, or the fiscal code of the payer of
    /// another family (their account for the same service).
    pub to: String,
    /// As typed: `12,50`.
    pub amount: String,
    pub reason: String,
    /// The random token of the form that was shown.
    pub form_token: String,
}

/// An account as the office types it: its number, or the fiscal code of a payer (their
/// account for `service`, or their only account when no service is given). `Err` is the
/// Italian message for the form.
pub async fn find_account(
    c: &mut refettorio_db::Conn<'_>,
    tenant: &Tenant,
    typed: &str,
    service: Option<ServiceId>,
) -> Result<Result<meals::Account, &'static str>, AppError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(Err(
            "Indica il conto: il numero del conto o il codice fiscale dell'intestatario.",
        ));
    }
    let number = typed
        .strip_prefix("n.")
        .or_else(|| typed.strip_prefix("N."))
        .unwrap_or(typed)
        .trim();
    let found = if let Ok(n) = number.parse::<i64>() {
        meals::account_by_id(c, tenant.id, AccountId(n)).await?
    } else if let Ok(cf) = refettorio_domain::CodiceFiscale::parse(typed) {
        let Some(g) = family::guardian_by_fiscal_code(c, tenant.id, &cf).await? else {
            return Ok(Err("Nessun intestatario con questo codice fiscale."));
        };
        let mut accounts = Vec::new();
        for (f, _) in family::families_of_guardian(c, tenant.id, g.id).await? {
            if f.payer_id == g.id {
                accounts.extend(meals::accounts_of_family(c, tenant.id, f.id).await?);
            }
        }
        accounts.retain(|a| service.is_none_or(|s| a.service == s));
        match accounts.as_slice() {
            [] => return Ok(Err("Questa persona non è intestataria di un conto.")),
            [a] => Some(a.clone()),
            _ => {
                return Ok(Err(
                    "Questa persona è intestataria di più conti: scrivi il numero del conto.",
                ));
            }
        }
    } else {
        return Ok(Err(
            "Scrivi il numero del conto (ad esempio 12) o un codice fiscale valido.",
        ));
    };
    Ok(found.ok_or("Conto non trovato."))
}

/// Moves credit from one account to another (giroconto), dated today: a negative transfer
/// entry on the first and a positive one on the second, in one transaction, under the keys
/// of the form (`office:transfer:<from>:<form token>:out|in`), audited. The amount may not
/// exceed the credit of the first account; both accounts are locked while it is checked. A
/// form already written is [`Recorded::Repeated`] and writes nothing.
pub async fn record_transfer(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    t: &TransferInput,
) -> Result<Recorded, AppError> {
    if !valid_form_token(&t.form_token) {
        return Err(AppError::Forbidden);
    }
    let mut errors = Vec::new();
    let amount = match Cents::parse_it(&t.amount) {
        Ok(a) if a.is_zero() || a.is_negative() => {
            errors.push(field(
                "importo",
                "Scrivi un importo maggiore di zero, senza segno (ad esempio 20,00).",
            ));
            None
        }
        Ok(a) => Some(a),
        Err(_) => {
            errors.push(field(
                "importo",
                "Scrivi l'importo in euro, con al massimo due decimali (ad esempio 20,00).",
            ));
            None
        }
    };
    let reason = check_reason(&mut errors, &t.reason);
    let now = clock.now();
    let day = today(clock, &tenant.timezone);
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let from = meals::account_by_id(c, tenant.id, t.from)
        .await?
        .ok_or_else(|| AppError::NotFound("Conto non trovato.".into()))?;
    let to = match find_account(c, tenant, &t.to, Some(from.service)).await? {
        Ok(a) if a.id == from.id => {
            errors.push(field(
                "destinazione",
                "Il conto di destinazione è quello di partenza.",
            ));
            None
        }
        Ok(a) => Some(a),
        Err(m) => {
            errors.push(field("destinazione", m));
            None
        }
    };
    let (Some(amount), Some(to)) = (amount, to) else {
        return Err(AppError::Fields(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    let token = t.form_token.to_ascii_lowercase();
    let out_key = format!("office:transfer:{}:{token}:out", from.id);
    let in_key = format!("office:transfer:{}:{token}:in", from.id);
    let out_ref = format!("giroconto:{}", to.id);
    let in_ref = format!("giroconto:{}", from.id);
    meals::lock_accounts(c, tenant.id, &[from.id, to.id]).await?;
    let kind = EntryKind::Transfer;
    let Some(out) = meals::insert_entry(
        c,
        tenant.id,
        &NewEntry::money(
            from.id,
            kind,
            Cents(-amount.get()),
            day,
            Some(&out_ref),
            &out_key,
            actor,
            reason,
        ),
        now,
    )
    .await?
    else {
        return Ok(Recorded::Repeated);
    };
    // Checked after the insert, in its transaction and under the lock: a double submit is
    // `Repeated` above, and two transfers at once see each other.
    let after = meals::balance(c, tenant.id, from.id).await?;
    if after.is_negative() {
        let before = after.checked_add(amount).unwrap_or(after);
        return Err(AppError::Fields(vec![field(
            "importo",
            &format!(
                "Il giroconto supera il credito del conto ({}).",
                before.format_it()
            ),
        )]));
    }
    meals::insert_entry(
        c,
        tenant.id,
        &NewEntry::money(
            to.id,
            kind,
            amount,
            day,
            Some(&in_ref),
            &in_key,
            actor,
            reason,
        ),
        now,
    )
    .await?
    .ok_or_else(|| {
        AppError::Invalid("Giroconto già registrato a metà: avvisa l'assistenza.".into())
    })?;
    let after = format!(
        "{{\"from\":{},\"to\":{},\"amount_cents\":{},\"day\":\"{day}\"}}",
        from.id,
        to.id,
        amount.get()
    );
    meals::audit(
        c,
        tenant.id,
        actor,
        kind.as_str(),
        "ledger_entry",
        Some(out),
        None,
        Some(&after),
        reason,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Recorded::New(out))
}

/// The actions written to the audit log, with what the office reads for each.
pub const AUDIT_ACTIONS: &[(&str, &str)] = &[
    ("office_payment", "Pagamento registrato dall'ufficio"),
    ("reconcile_receipt", "Ricevuta pagoPA riconciliata"),
    ("adjustment", "Rettifica"),
    ("refund", "Rimborso"),
    ("transfer", "Giroconto"),
    ("add_closure", "Chiusura del servizio"),
    ("correct_attendance", "Correzione delle presenze"),
    ("validate_enrolment", "Iscrizione confermata dalla scuola"),
    ("report_enrolment", "Iscrizione segnalata dalla scuola"),
    ("update_contacts", "Contatti modificati dalla famiglia"),
    ("activate", "Attivazione dell'accesso"),
    (
        "activate_with_code",
        "Attivazione dell'accesso con il codice dell'ufficio",
    ),
    ("activation_code", "Codice di attivazione dato al genitore"),
    (
        "confirm_login",
        "Account registrato online confermato dall'ufficio",
    ),
    ("settings", "Impostazioni del servizio"),
    ("publish_news", "Notizia pubblicata"),
    ("withdraw_news", "Notizia ritirata"),
    ("publish_document", "Documento pubblicato"),
    ("withdraw_document", "Documento ritirato"),
    ("import", "Importazione dal gestionale precedente"),
    ("registry_add", "Anagrafica: inserimento"),
    ("registry_edit", "Anagrafica: modifica"),
    ("registry_delete", "Anagrafica: eliminazione"),
    ("add_family", "Famiglia aggiunta"),
    ("update_guardian", "Genitore modificato"),
    ("add_pupil", "Alunno aggiunto"),
    ("update_pupil", "Alunno modificato"),
    ("add_delegate", "Delegato aggiunto alla famiglia"),
    ("change_payer", "Cambio dell'intestatario"),
    ("enrol", "Iscrizione a un servizio"),
    (
        "schedule_enrolment_change",
        "Variazione dell'iscrizione programmata",
    ),
    (
        "apply_enrolment_change",
        "Variazione dell'iscrizione applicata",
    ),
    (
        "create_tenant",
        "Comune creato dall'amministratore della piattaforma",
    ),
    ("add_staff", "Utente del personale aggiunto"),
    ("deactivate_staff", "Utente del personale disattivato"),
    ("reactivate_staff", "Utente del personale riattivato"),
    ("set_staff_schools", "Scuole di un utente della scuola"),
];

/// The label of an action, or the action itself when it has none.
pub fn action_label(action: &str) -> &str {
    AUDIT_ACTIONS
        .iter()
        .find(|(k, _)| *k == action)
        .map_or(action, |(_, l)| l)
}

/// Rows of the audit log shown per page.
pub const AUDIT_PAGE: u32 = 50;

/// A page of the audit log (1-based), newest first, for an action and the days `from..=to`
/// in the municipality's time zone; and whether there is a next page.
pub async fn audit_log(
    db: &Db,
    tenant: &Tenant,
    action: Option<&str>,
    actor: Option<&str>,
    from: Option<Date>,
    to: Option<Date>,
    page: u32,
) -> Result<(Vec<AuditRecord>, bool), AppError> {
    let start = |d: Date| -> Result<jiff::Timestamp, AppError> {
        Ok(d.to_zoned(tenant.timezone.clone())?.timestamp())
    };
    let filter = AuditFilter {
        action,
        from: from.map(start).transpose()?,
        before: to.map(|d| start(d.tomorrow()?)).transpose()?,
        actor,
    };
    let offset = u64::from(page.max(1) - 1) * u64::from(AUDIT_PAGE);
    let mut h = db.acquire().await?;
    let mut rows = audit::search(&mut h.conn(), tenant.id, &filter, AUDIT_PAGE + 1, offset).await?;
    let more = rows.len() > AUDIT_PAGE as usize;
    rows.truncate(AUDIT_PAGE as usize);
    Ok((rows, more))
}

/// The kinds of closure the office enters by hand (a break comes with the school year).
pub const CLOSURE_KINDS: [ClosureKind; 5] = [
    ClosureKind::Holiday,
    ClosureKind::Strike,
    ClosureKind::Trip,
    ClosureKind::SchoolClosed,
    ClosureKind::Other,
];

/// The current school year with what its closures page needs: schools, classes, closures.
#[derive(Debug, Clone)]
pub struct ClosureYear {
    pub year: SchoolYear,
    pub schools: Vec<School>,
    pub classes: Vec<Class>,
    pub closures: Vec<(ClosureId, Closure)>,
}

impl ClosureYear {
    /// "Tutto il Comune", "Scuola Primaria Rodari", "Classe 1A (Scuola Primaria Rodari)".
    pub fn scope_label(&self, scope: ClosureScope) -> String {
        let school = |id: SchoolId| {
            self.schools
                .iter()
                .find(|s| s.id == id)
                .map_or_else(String::new, |s| s.name.clone())
        };
        match scope {
            ClosureScope::Tenant => "Tutto il Comune".into(),
            ClosureScope::School(id) => school(id),
            ClosureScope::Class(id) => self
                .classes
                .iter()
                .find(|k| k.id == id)
                .map_or_else(String::new, |k| {
                    format!("Classe {} ({})", k.name, school(k.school_id))
                }),
        }
    }
}

/// The school year of today with its schools, classes and closures; `None` between years.
pub async fn closure_year(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
) -> Result<Option<ClosureYear>, AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let day = today(clock, &tenant.timezone);
    let Some(year) = calendar::school_year_at(c, tenant.id, day).await? else {
        return Ok(None);
    };
    let schools = school::schools(c, tenant.id).await?;
    let classes = school::classes(c, tenant.id, year.id).await?;
    let closures = calendar::closures(c, tenant.id, year.id).await?;
    Ok(Some(ClosureYear {
        year,
        schools,
        classes,
        closures,
    }))
}

/// A closure as typed in the office's form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClosureInput {
    /// `comune`, `scuola-<id>` or `classe-<id>`.
    pub scope: String,
    /// `YYYY-MM-DD`
    pub from: String,
    pub to: String,
    /// [`ClosureKind::as_str`] of one of [`CLOSURE_KINDS`].
    pub kind: String,
    pub reason: String,
}

/// Checks a closure form against the current school year (`cy`): the closure to enter, or the
/// Italian errors by field (`ambito`, `dal`, `al`, `tipo`, `motivo`). A school or class that is
/// not this municipality's (or, for a class, not this year's) is an error of `ambito`.
pub fn check_closure(cy: &ClosureYear, input: &ClosureInput) -> Result<Closure, AppError> {
    let mut errors = Vec::new();
    let id = |prefix: &str| {
        input
            .scope
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<i64>().ok())
    };
    let scope = if input.scope == "comune" {
        Some(ClosureScope::Tenant)
    } else if let Some(n) = id("scuola-") {
        cy.schools
            .iter()
            .find(|s| s.id.get() == n)
            .map(|s| ClosureScope::School(s.id))
    } else if let Some(n) = id("classe-") {
        cy.classes
            .iter()
            .find(|k| k.id.get() == n)
            .map(|k| ClosureScope::Class(k.id))
    } else {
        None
    };
    if scope.is_none() {
        errors.push(field(
            "ambito",
            "Scegli dall'elenco dove vale la chiusura: tutto il Comune, una scuola o una classe.",
        ));
    }
    let date = |name: &'static str, v: &str, errors: &mut Vec<FieldError>| match v
        .trim()
        .parse::<Date>()
    {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field(name, "Data non valida: usa il formato gg/mm/aaaa."));
            None
        }
    };
    let from = date("dal", &input.from, &mut errors);
    let to = date("al", &input.to, &mut errors);
    if let (Some(a), Some(b)) = (from, to) {
        let y = &cy.year;
        if b < a {
            errors.push(field(
                "al",
                "La data finale viene prima di quella iniziale.",
            ));
        } else if a < y.starts_on || b > y.ends_on {
            errors.push(field(
                "dal",
                &format!(
                    "La chiusura deve cadere nell'anno scolastico {} (dal {} al {}).",
                    y.label,
                    y.starts_on.strftime("%d/%m/%Y"),
                    y.ends_on.strftime("%d/%m/%Y")
                ),
            ));
        }
    }
    let kind = ClosureKind::parse(&input.kind).filter(|k| CLOSURE_KINDS.contains(k));
    if kind.is_none() {
        errors.push(field("tipo", "Scegli il tipo di chiusura."));
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        errors.push(field(
            "motivo",
            "Indica il motivo: lo leggono le famiglie e resta nel registro delle modifiche.",
        ));
    } else if reason.chars().count() > REASON_MAX {
        errors.push(field(
            "motivo",
            "Il motivo è troppo lungo (al massimo 500 caratteri).",
        ));
    }
    match (scope, from, to, kind) {
        (Some(scope), Some(from), Some(to), Some(kind)) if errors.is_empty() => Ok(Closure {
            scope,
            from,
            to,
            kind,
            reason: reason.to_string(),
        }),
        _ => Err(AppError::Fields(errors)),
    }
}

/// What a closure would touch, computed as the kitchen's numbers are: on days not closed yet,
/// the forecast meals of the classes in scope (they will not be charged); on days already
/// closed, the meals charged (they will be reversed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClosurePreview {
    /// Meals of days not closed yet that will not be served nor charged.
    pub meals: u64,
    /// Meals already charged, on closed days, whose charges will be reversed.
    pub charged: u64,
    /// Families with at least one of those meals (a pupil booked absent on every day of the
    /// range, or not charged, does not make its family counted).
    pub families: u64,
    /// Canteen days of the range with at least one class in scope.
    pub days: u64,
}

/// The preview of `closure` on the data of now (nothing written).
pub async fn closure_preview(
    db: &Db,
    tenant: &Tenant,
    closure: &Closure,
) -> Result<ClosurePreview, AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let mut families = BTreeSet::new();
    let mut out = ClosurePreview::default();
    let mut d = closure.from;
    while d <= closure.to {
        if let Some(cd) = crate::meals::canteen_day(c, tenant, d).await? {
            let ids: Vec<ClassId> = cd
                .classes
                .iter()
                .filter(|k| closure.scope.applies_to(k.school_id, k.id))
                .map(|k| k.id)
                .collect();
            if !ids.is_empty() {
                out.days += 1;
                let closed = meals::is_closed(c, tenant.id, d).await?;
                if closed {
                    let lines = meals::frozen_counts(c, tenant.id, d).await?;
                    out.charged += lines
                        .iter()
                        .filter(|l| ids.contains(&l.class))
                        .map(|l| u64::from(l.count))
                        .sum::<u64>();
                } else {
                    let lines =
                        meals::forecast_counts(c, tenant.id, cd.service.id, d, &ids).await?;
                    out.meals += lines.iter().map(|l| u64::from(l.count)).sum::<u64>();
                }
                families.extend(
                    meals::families_of_meals(c, tenant.id, cd.service.id, d, &ids, closed).await?,
                );
            }
        }
        d = d.tomorrow()?;
    }
    out.families = families.len() as u64;
    Ok(out)
}

/// What entering a closure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosureDone {
    pub closure: ClosureId,
    /// Meals of days not closed yet that will not be charged (as previewed just before).
    pub cancelled: u64,
    /// Charges reversed on days already closed.
    pub reversed: u64,
}

/// Checks and enters a closure of the current school year ([`crate::meals::add_closure`]).
pub async fn confirm_closure(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    input: &ClosureInput,
) -> Result<ClosureDone, AppError> {
    let cy = closure_year(db, clock, tenant).await?.ok_or_else(|| {
        AppError::Fields(vec![field("dal", "Non c'è un anno scolastico in corso.")])
    })?;
    let closure = check_closure(&cy, input)?;
    let preview = closure_preview(db, tenant, &closure).await?;
    let touched = crate::outbox::families::closure_families(db, tenant, &closure).await?;
    let outcome = crate::meals::add_closure(db, clock, tenant, cy.year.id, &closure, actor).await?;
    // The families it touches are told at once (a failure here leaves the closure entered).
    let told = crate::outbox::families::notify_closure;
    if let Err(e) = told(db, tenant, outcome.closure, &closure, &touched, clock.now()).await {
        tracing::warn!(error = %e, "closure entered but its notices were not queued");
    }
    Ok(ClosureDone {
        closure: outcome.closure,
        cancelled: preview.meals,
        reversed: outcome.reversed,
    })
}

/// The format of the kitchen's numbers as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KitchenFormat {
    Csv,
    Xlsx,
    Pdf,
}

/// The kitchen's numbers of `day` as a CSV, XLSX or PDF file (the CSV as the CLI `refettorio
/// kitchen` makes it). The PDF is rendered off the async threads.
pub async fn kitchen_file(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    day: Date,
    format: KitchenFormat,
) -> Result<Vec<u8>, AppError> {
    let numbers = crate::meals::kitchen_numbers(db, tenant, day).await?;
    let now = clock.now().to_zoned(tenant.timezone.clone());
    let report = numbers.report(
        &tenant.name,
        &format!("Generato il {}", now.strftime("%d/%m/%Y alle %H:%M")),
    );
    match format {
        KitchenFormat::Csv => Ok(refettorio_documents::kitchen::kitchen_csv(&report)),
        KitchenFormat::Xlsx => {
            crate::reports::export(report.table(), crate::reports::ExportFormat::Xlsx).await
        }
        KitchenFormat::Pdf => {
            tokio::task::spawn_blocking(move || refettorio_documents::kitchen::kitchen_pdf(&report))
                .await
                .map_err(|e| AppError::Invalid(format!("kitchen pdf task: {e}")))?
                .map_err(|e| AppError::Invalid(format!("kitchen pdf: {e}")))
        }
    }
}

/// A class that eats today, for the canteen staff's chooser.
#[derive(Debug, Clone)]
pub struct TodayClass {
    pub class: Class,
    pub school: String,
}

/// One pupil of a class list: no diagnosis, only the diet's code.
#[derive(Debug, Clone)]
pub struct ListPupil {
    pub enrolment: refettorio_domain::EnrolmentId,
    pub name: String,
    /// Before the close: booked (not marked absent). After it: a meal charged and not reversed.
    pub present: bool,
    pub bland: bool,
    pub diet: Option<String>,
}

/// Today's class list of the canteen staff.
#[derive(Debug, Clone)]
pub struct ClassList {
    pub day: Date,
    /// The close has run: corrections make a reversal or a charge.
    pub closed: bool,
    /// The classes eating today (for the chooser).
    pub classes: Vec<TodayClass>,
    /// The class chosen, with its pupils by surname.
    pub chosen: Option<(TodayClass, Vec<ListPupil>)>,
}

/// The schools whose attendance `user` may see and correct: a school user (fallback when the
/// canteen staff did not correct) only the schools it is linked to, every other role all
/// (`None`).
async fn attendance_schools(
    c: &mut refettorio_db::Conn<'_>,
    tenant: &Tenant,
    user: &StaffUser,
) -> Result<Option<BTreeSet<SchoolId>>, AppError> {
    if user.role != refettorio_domain::StaffRole::School {
        return Ok(None);
    }
    Ok(Some(
        staff::schools_of_staff(c, tenant.id, user.id)
            .await?
            .into_iter()
            .collect(),
    ))
}

/// Today's classes that `user` may see (a school user: of its own schools) and, for `class`
/// (one of them), its pupils with what they eat. A class of another municipality, or one that
/// does not eat today, is [`AppError::NotFound`]; a class of a school that a school user is
/// not linked to is [`AppError::Forbidden`].
pub async fn class_list(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    user: &StaffUser,
    class: Option<ClassId>,
) -> Result<ClassList, AppError> {
    let day = today(clock, &tenant.timezone);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let allowed = attendance_schools(c, tenant, user).await?;
    // A class of a school this user does not see: refused, whether it eats today or not.
    if let Some(id) = class
        && let Some(k) = school::class(c, tenant.id, id).await?
        && !may_correct(allowed.as_ref(), k.school_id)
    {
        return Err(AppError::Forbidden);
    }
    let closed = meals::is_closed(c, tenant.id, day).await?;
    let Some(cd) = crate::meals::canteen_day(c, tenant, day).await? else {
        if class.is_some() {
            return Err(AppError::NotFound("Oggi la classe non ha il pasto.".into()));
        }
        return Ok(ClassList {
            day,
            closed,
            classes: Vec::new(),
            chosen: None,
        });
    };
    let schools = school::schools(c, tenant.id).await?;
    let mut classes: Vec<TodayClass> = cd
        .classes
        .iter()
        .map(|k| TodayClass {
            class: k.clone(),
            school: schools
                .iter()
                .find(|s| s.id == k.school_id)
                .map_or_else(String::new, |s| s.name.clone()),
        })
        .collect();
    classes.sort_by(|a, b| (&a.school, &a.class.name).cmp(&(&b.school, &b.class.name)));
    classes.retain(|k| may_correct(allowed.as_ref(), k.class.school_id));
    let Some(id) = class else {
        return Ok(ClassList {
            day,
            closed,
            classes,
            chosen: None,
        });
    };
    let Some(chosen) = classes.iter().find(|k| k.class.id == id).cloned() else {
        return Err(AppError::NotFound("Oggi la classe non ha il pasto.".into()));
    };
    let pupils = family::pupils(c, tenant.id).await?;
    let diets = service::diets(c, tenant.id).await?;
    let mut rows = Vec::new();
    for e in service::enrolments(c, tenant.id, cd.service.id).await? {
        if e.class_id != id || e.state != EnrolmentState::Attivo || e.start_date > day {
            continue;
        }
        let Some(p) = pupils.iter().find(|p| p.id == e.pupil_id) else {
            continue;
        };
        let choice = meals::bookings(c, tenant.id, e.id, day, day)
            .await?
            .into_iter()
            .next()
            .map(|(_, ch)| ch);
        let present = if closed {
            let entries = meals::entries_of_enrolment_day(c, tenant.id, e.id, day).await?;
            let reversed: BTreeSet<i64> = entries.iter().filter_map(|x| x.reverses).collect();
            entries
                .iter()
                .any(|x| x.kind == EntryKind::MealCharge && !reversed.contains(&x.id))
        } else {
            choice != Some(refettorio_domain::MealChoice::Absent)
        };
        rows.push((
            (p.last_name.clone(), p.first_name.clone()),
            ListPupil {
                enrolment: e.id,
                name: format!("{} {}", p.last_name, p.first_name),
                present,
                bland: choice == Some(refettorio_domain::MealChoice::Bland),
                diet: e
                    .diet_id
                    .and_then(|d| diets.iter().find(|x| x.id == d))
                    .map(|d| d.code.clone()),
            },
        ));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(ClassList {
        day,
        closed,
        classes,
        chosen: Some((chosen, rows.into_iter().map(|(_, r)| r).collect())),
    })
}

/// A correction of today's attendance as posted by the canteen staff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrectionInput {
    pub enrolment: i64,
    /// `assente` or `presente`.
    pub correction: String,
    pub reason: String,
}

/// `school` is among `allowed` (`None`: every school).
fn may_correct(allowed: Option<&BTreeSet<SchoolId>>, school: SchoolId) -> bool {
    allowed.is_none_or(|a| a.contains(&school))
}

/// Applies a correction of today ([`crate::meals::correct_attendance`]) made by `user`. An
/// enrolment of another municipality, or (for a school user) of a school it is not linked to,
/// is [`AppError::Forbidden`]; a bad correction, a missing reason, a day not closed yet or a
/// repeated correction are errors of the field `motivo` and write nothing.
pub async fn correct_today(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    user: &StaffUser,
    actor: &str,
    input: &CorrectionInput,
) -> Result<(), AppError> {
    let day = today(clock, &tenant.timezone);
    let enrolment = {
        let mut h = db.acquire().await?;
        let c = &mut h.conn();
        let allowed = attendance_schools(c, tenant, user).await?;
        let enrolment = service::enrolment(
            c,
            tenant.id,
            refettorio_domain::EnrolmentId(input.enrolment),
        )
        .await?
        .ok_or(AppError::Forbidden)?;
        if !may_correct(allowed.as_ref(), enrolment.school_id) {
            return Err(AppError::Forbidden);
        }
        enrolment
    };
    let correction = match input.correction.as_str() {
        "assente" => crate::meals::Correction::Absent,
        "presente" => crate::meals::Correction::Present,
        _ => return Err(AppError::Forbidden),
    };
    let reason = input.reason.trim();
    if reason.chars().count() > REASON_MAX {
        return Err(AppError::Fields(vec![field(
            "motivo",
            "Il motivo è troppo lungo (al massimo 500 caratteri).",
        )]));
    }
    match crate::meals::correct_attendance(
        db, clock, tenant, &enrolment, day, correction, reason, actor,
    )
    .await
    {
        Err(AppError::Invalid(m)) => Err(AppError::Fields(vec![field("motivo", &m)])),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: ChangeKind, amount: &str, reason: &str) -> MoneyChange {
        MoneyChange {
            account: AccountId(1),
            kind,
            amount: amount.into(),
            reason: reason.into(),
            form_token: "a".repeat(64),
        }
    }

    fn fields(r: Result<(Cents, &str), AppError>) -> Vec<&'static str> {
        match r {
            Err(AppError::Fields(e)) => e.iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn amounts_and_reasons_are_checked() {
        use ChangeKind::*;
        let ok = change(Adjustment, "-5,50", " errore di addebito ");
        assert_eq!(
            check_change(&ok).unwrap(),
            (Cents(-550), "errore di addebito")
        );
        let ok = change(Refund, "20", "fine anno");
        assert_eq!(check_change(&ok).unwrap().0, Cents(-2000));
        assert_eq!(
            fields(check_change(&change(Adjustment, "abc", ""))),
            ["importo", "causale"]
        );
        assert_eq!(
            fields(check_change(&change(Adjustment, "1,234", "x"))),
            ["importo"]
        );
        assert_eq!(
            fields(check_change(&change(Adjustment, "0", "x"))),
            ["importo"]
        );
        assert_eq!(
            fields(check_change(&change(Refund, "-3", "x"))),
            ["importo"]
        );
        assert_eq!(
            fields(check_change(&change(Refund, "3", &"x".repeat(501)))),
            ["causale"]
        );
    }

    #[test]
    fn form_tokens_are_ours() {
        assert!(valid_form_token(&"0f".repeat(32)));
        assert!(!valid_form_token(""));
        assert!(!valid_form_token(&"z".repeat(64)));
        assert!(!valid_form_token(&"a".repeat(63)));
    }

    fn year_of(tenant_class: i64) -> ClosureYear {
        let d = |s: &str| s.parse::<Date>().unwrap();
        ClosureYear {
            year: SchoolYear {
                id: refettorio_domain::SchoolYearId(1),
                label: "2026/2027".into(),
                starts_on: d("2026-09-01"),
                ends_on: d("2027-08-31"),
                first_day: d("2026-09-14"),
                last_day: d("2027-06-08"),
            },
            schools: vec![School {
                id: SchoolId(3),
                name: "Rodari".into(),
                kind: refettorio_domain::SchoolKind::Primaria,
                address: String::new(),
                kitchen_email: None,
            }],
            classes: vec![Class {
                id: ClassId(tenant_class),
                school_year_id: refettorio_domain::SchoolYearId(1),
                school_id: SchoolId(3),
                name: "1A".into(),
                canteen_weekdays: refettorio_domain::Weekdays::MON_FRI,
            }],
            closures: Vec::new(),
        }
    }

    fn closure_fields(cy: &ClosureYear, scope: &str, from: &str, to: &str) -> Vec<&'static str> {
        let input = ClosureInput {
            scope: scope.into(),
            from: from.into(),
            to: to.into(),
            kind: "strike".into(),
            reason: "sciopero".into(),
        };
        match check_closure(cy, &input) {
            Ok(_) => Vec::new(),
            Err(AppError::Fields(e)) => e.iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn closures_are_checked_against_the_year_and_the_municipality() {
        let cy = year_of(7);
        let ok = check_closure(
            &cy,
            &ClosureInput {
                scope: "classe-7".into(),
                from: "2026-11-24".into(),
                to: "2026-11-25".into(),
                kind: "trip".into(),
                reason: " gita ".into(),
            },
        )
        .unwrap();
        assert_eq!(ok.scope, ClosureScope::Class(ClassId(7)));
        assert_eq!((ok.kind, ok.reason.as_str()), (ClosureKind::Trip, "gita"));
        assert!(closure_fields(&cy, "comune", "2026-11-24", "2026-11-24").is_empty());
        assert!(closure_fields(&cy, "scuola-3", "2026-11-24", "2026-11-24").is_empty());
        assert_eq!(
            closure_fields(&cy, "classe-8", "2026-11-24", "2026-11-24"),
            ["ambito"]
        );
        assert_eq!(
            closure_fields(&cy, "scuola-x", "2026-11-24", "2026-11-24"),
            ["ambito"]
        );
        assert_eq!(
            closure_fields(&cy, "", "2026-11-24", "2026-11-24"),
            ["ambito"]
        );
        assert_eq!(
            closure_fields(&cy, "comune", "2026-11-25", "2026-11-24"),
            ["al"]
        );
        assert_eq!(
            closure_fields(&cy, "comune", "24/11/2026", ""),
            ["dal", "al"]
        );
        assert_eq!(
            closure_fields(&cy, "comune", "2027-09-01", "2027-09-02"),
            ["dal"]
        );
        let bad = ClosureInput {
            scope: "comune".into(),
            from: "2026-11-24".into(),
            to: "2026-11-24".into(),
            kind: "break".into(),
            reason: "  ".into(),
        };
        match check_closure(&cy, &bad) {
            Err(AppError::Fields(e)) => {
                assert_eq!(
                    e.iter().map(|e| e.field).collect::<Vec<_>>(),
                    ["tipo", "motivo"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn actions_have_labels() {
        assert_eq!(action_label("refund"), "Rimborso");
        assert_eq!(action_label("something_new"), "something_new");
    }
}
