//! The office's side of the ledger: a family's prepaid accounts as the office sees them,
//! adjustments and refunds (each with a reason, written once per form and audited), and
//! transfers between accounts. Payments made elsewhere are
//! [`crate::pagopa::record_office_payment`].
//!
//! The office sees a family's accounts through the same code as the family does
//! ([`portal::payments`]), as if it were the payer: one way to compute balances, summaries and
//! descriptions of movements.

use refettorio_db::audit;
use refettorio_db::ledger;
use refettorio_db::ledger::NewEntry;
use refettorio_db::registry::family::{self, Family, Guardian, Link, Pupil};
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::ledger::{Key, OfficeChange, Side};
use refettorio_domain::{AccountId, Cents, EntryKind, ServiceId, today};
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, ObjectKind};

use crate::portal::{self, Access, PaymentsView};
use crate::{AppError, Ctx, FieldError};

/// The access the office has to one family: everything the payer sees.
fn as_payer(family: Family) -> Access {
    Access {
        families: vec![(family, Link::Payer)],
    }
}

/// One account as the office sees it: its payer, and the view the payer has (balance,
/// summary, movements newest first, the family's other accounts).
#[derive(Debug, Clone)]
pub struct OfficeAccount {
    pub payer: Guardian,
    pub pupils: Vec<Pupil>,
    pub view: PaymentsView,
    /// Who wrote each movement, in words ("Anna Bianchi", "pagoPA"), by stored actor key.
    pub authors: std::collections::HashMap<String, String>,
}

impl OfficeAccount {
    /// "Inserito da" of a movement: a person's name or a job's label, never a stored key.
    pub fn author(&self, created_by: &str) -> String {
        self.authors
            .get(created_by)
            .cloned()
            .unwrap_or_else(|| created_by.to_string())
    }
}

pub async fn account(ctx: Ctx<'_>, id: AccountId) -> Result<OfficeAccount, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let not_found = || AppError::NotFound("Conto non trovato.".into());
    let (fam, payer, pupils) = {
        let mut h = db.acquire().await?;
        let c = &mut h.conn();
        let acc = ledger::account_by_id(c, tenant.id, id)
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
    let view = portal::payments(ctx, &as_payer(fam), Some(id), None, None)
        .await?
        .ok_or_else(not_found)?;
    let keys: std::collections::BTreeSet<&str> = view
        .movements
        .iter()
        .map(|m| m.entry.created_by.as_str())
        .collect();
    let names = crate::audit::names_of(ctx, keys.iter().copied()).await?;
    let authors = keys
        .iter()
        .map(|k| (k.to_string(), crate::audit::who_it(k, &names)))
        .collect();
    Ok(OfficeAccount {
        payer,
        pupils,
        view,
        authors,
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

    fn key_kind(self) -> OfficeChange {
        match self {
            ChangeKind::Adjustment => OfficeChange::Adjustment,
            ChangeKind::Refund => OfficeChange::Refund,
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

pub(crate) fn field(name: &'static str, message: &str) -> FieldError {
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
pub(crate) const REASON_MAX: usize = 500;

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
pub async fn record_change(ctx: Ctx<'_>, ch: &MoneyChange) -> Result<Recorded, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let actor = ctx.actor.to_string();
    let actor = actor.as_str();
    if !valid_form_token(&ch.form_token) {
        // Not a form we showed: not a validation error the user can fix.
        return Err(AppError::Forbidden);
    }
    let (amount, reason) = check_change(ch)?;
    let kind = ch.kind.entry_kind();
    let now = clock.now();
    let day = today(clock, &tenant.timezone);
    let key = Key::Office {
        change: ch.kind.key_kind(),
        account: ch.account,
        token: ch.form_token.to_ascii_lowercase(),
    };
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if ledger::account_by_id(c, tenant.id, ch.account)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("Conto non trovato.".into()));
    }
    ledger::lock_accounts(c, tenant.id, &[ch.account]).await?;
    let entry = ledger::insert_entry(
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
            key: &key,
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
        let after = ledger::balance(c, tenant.id, ch.account).await?;
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
    let after = serde_json::json!({
        "account": ch.account.get(),
        "kind": kind.as_str(),
        "amount_cents": amount.get(),
        "day": day.to_string(),
    });
    audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            match ch.kind {
                ChangeKind::Adjustment => AuditAction::Adjustment,
                ChangeKind::Refund => AuditAction::Refund,
            },
            AuditObject {
                kind: ObjectKind::LedgerEntry,
                id: Some(entry),
            },
        )
        .after(after)
        .reason(reason),
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
) -> Result<Result<ledger::Account, &'static str>, AppError> {
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
        ledger::account_by_id(c, tenant.id, AccountId(n)).await?
    } else if let Ok(cf) = refettorio_domain::CodiceFiscale::parse(typed) {
        let Some(g) = family::guardian_by_fiscal_code(c, tenant.id, &cf).await? else {
            return Ok(Err("Nessun intestatario con questo codice fiscale."));
        };
        let mut accounts = Vec::new();
        for (f, _) in family::families_of_guardian(c, tenant.id, g.id).await? {
            if f.payer_id == g.id {
                accounts.extend(ledger::accounts_of_family(c, tenant.id, f.id).await?);
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
pub async fn record_transfer(ctx: Ctx<'_>, t: &TransferInput) -> Result<Recorded, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let actor = ctx.actor.to_string();
    let actor = actor.as_str();
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
    let from = ledger::account_by_id(c, tenant.id, t.from)
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
    let out_key = Key::Transfer {
        from: from.id,
        token: token.clone(),
        side: Side::Out,
    };
    let in_key = Key::Transfer {
        from: from.id,
        token,
        side: Side::In,
    };
    let out_ref = format!("giroconto:{}", to.id);
    let in_ref = format!("giroconto:{}", from.id);
    ledger::lock_accounts(c, tenant.id, &[from.id, to.id]).await?;
    let kind = EntryKind::Transfer;
    let Some(out) = ledger::insert_entry(
        c,
        tenant.id,
        &NewEntry::money(from.id, kind, Cents(-amount.get()), day, &out_key)
            .by(actor, reason)
            .reference(Some(&out_ref)),
        now,
    )
    .await?
    else {
        return Ok(Recorded::Repeated);
    };
    // Checked after the insert, in its transaction and under the lock: a double submit is
    // `Repeated` above, and two transfers at once see each other.
    let after = ledger::balance(c, tenant.id, from.id).await?;
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
    ledger::insert_entry(
        c,
        tenant.id,
        &NewEntry::money(to.id, kind, amount, day, &in_key)
            .by(actor, reason)
            .reference(Some(&in_ref)),
        now,
    )
    .await?
    .ok_or_else(|| {
        AppError::Invalid("Giroconto già registrato a metà: avvisa l'assistenza.".into())
    })?;
    let after = serde_json::json!({
        "from": from.id.get(),
        "to": to.id.get(),
        "amount_cents": amount.get(),
        "day": day.to_string(),
    });
    audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::Transfer,
            AuditObject {
                kind: ObjectKind::LedgerEntry,
                id: Some(out),
            },
        )
        .after(after)
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Recorded::New(out))
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
}
