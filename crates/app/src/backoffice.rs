//! Use cases of the municipality's back office: finding a family and its prepaid accounts,
//! adjustments and refunds (each with a reason, written once per form and audited), and the
//! audit log. Payments made elsewhere are [`crate::pagopa::record_office_payment`].
//!
//! The office sees a family's accounts through the same code as the family does
//! ([`portal::payments`]), as if it were the payer: one way to compute balances, summaries and
//! descriptions of movements.

use jiff::civil::Date;
use refettorio_db::Db;
use refettorio_db::audit::{self, AuditFilter, AuditRecord};
use refettorio_db::meals::{self, NewEntry};
use refettorio_db::registry::family::{self, Family, Guardian, Link, Pupil};
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::{AccountId, Cents, Clock, EntryKind, today};

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

fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Families whose payer's name or fiscal code, or one of whose pupils' names, contains `query`
/// (case-insensitive; at least two characters), at most [`SEARCH_LIMIT`], by payer name.
pub async fn search_families(
    db: &Db,
    tenant: &Tenant,
    query: &str,
) -> Result<Vec<FamilyHit>, AppError> {
    let q = fold(query);
    if q.chars().count() < 2 {
        return Ok(Vec::new());
    }
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    // A municipality has a few thousand families at most: one read of each table beats a
    // query per family, and keeps names matched the same way on both databases.
    let guardians = family::guardians(c, tenant.id).await?;
    let pupils = family::pupils(c, tenant.id).await?;
    let mut hits = Vec::new();
    for f in family::families(c, tenant.id).await? {
        let Some(payer) = guardians.iter().find(|g| g.id == f.payer_id) else {
            continue;
        };
        let names = |first: &str, last: &str| {
            [
                fold(&format!("{first} {last}")),
                fold(&format!("{last} {first}")),
            ]
        };
        let kids: Vec<Pupil> = pupils
            .iter()
            .filter(|p| p.family_id == f.id)
            .cloned()
            .collect();
        let found = names(&payer.first_name, &payer.last_name)
            .iter()
            .any(|n| n.contains(&q))
            || payer.fiscal_code.as_str().to_lowercase().contains(&q)
            || kids.iter().any(|p| {
                names(&p.first_name, &p.last_name)
                    .iter()
                    .any(|n| n.contains(&q))
                    || p.fiscal_code
                        .as_ref()
                        .is_some_and(|cf| cf.as_str().to_lowercase().contains(&q))
            });
        if found {
            hits.push((f, payer.clone(), kids));
        }
    }
    hits.sort_by(|a, b| {
        (&a.1.last_name, &a.1.first_name, a.0.id).cmp(&(&b.1.last_name, &b.1.first_name, b.0.id))
    });
    hits.truncate(SEARCH_LIMIT);
    let mut out = Vec::with_capacity(hits.len());
    for (f, payer, kids) in hits {
        let access = as_payer(f.clone());
        let mut accounts = Vec::new();
        for (a, svc, year) in portal::visible_accounts(c, tenant, &access).await? {
            let balance = meals::balance(c, tenant.id, a.id).await?;
            accounts.push((a.id, format!("{} {}", svc.name, year.label), balance));
        }
        out.push(FamilyHit {
            family: f,
            payer,
            pupils: kids,
            accounts,
        });
    }
    Ok(out)
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
    let reason = ch.reason.trim();
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

/// The actions written to the audit log, with what the office reads for each.
pub const AUDIT_ACTIONS: [(&str, &str); 7] = [
    ("office_payment", "Pagamento registrato dall'ufficio"),
    ("adjustment", "Rettifica"),
    ("refund", "Rimborso"),
    ("add_closure", "Chiusura del servizio"),
    ("correct_attendance", "Correzione delle presenze"),
    ("update_contacts", "Contatti modificati dalla famiglia"),
    ("activate", "Attivazione dell'accesso"),
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
    };
    let offset = u64::from(page.max(1) - 1) * u64::from(AUDIT_PAGE);
    let mut h = db.acquire().await?;
    let mut rows = audit::search(&mut h.conn(), tenant.id, &filter, AUDIT_PAGE + 1, offset).await?;
    let more = rows.len() > AUDIT_PAGE as usize;
    rows.truncate(AUDIT_PAGE as usize);
    Ok((rows, more))
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

    #[test]
    fn actions_have_labels() {
        assert_eq!(action_label("refund"), "Rimborso");
        assert_eq!(action_label("something_new"), "something_new");
    }
}
