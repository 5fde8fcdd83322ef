//! Step 4: the plan's writes, in the caller's transaction.

use std::collections::HashMap;

use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::import as db_import;
use refettorio_db::ledger;
use refettorio_db::ledger::NewEntry;
use refettorio_db::registry::family;
use refettorio_db::registry::family::NewGuardian;
use refettorio_db::registry::family::NewPupil;
use refettorio_db::registry::service as db_service;
use refettorio_domain::Actor;
use refettorio_domain::Billing;
use refettorio_domain::EntryKind;
use refettorio_domain::FamilyId;
use refettorio_domain::ServiceId;
use refettorio_domain::TenantId;

use super::parse::GuardianRow;
use super::plan::{Plan, Step};
use crate::AppError;

/// The reason written on an opening balance with no note.
pub const BALANCE_REASON: &str = "Saldo iniziale dal gestionale precedente";

/// Makes the plan's writes in the caller's transaction, through the registry and ledger
/// functions; `progress(done, total)` after each. Returns the rows written.
pub async fn apply(
    c: &mut Conn<'_>,
    tenant: TenantId,
    plan: &Plan,
    actor: Actor,
    now: jiff::Timestamp,
    today: Date,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<usize, AppError> {
    let total = plan.steps.len();
    let by = actor.to_string();
    let mut done = 0;
    // Payers before delegates: a delegate may name a payer further down the file.
    let mut families: HashMap<String, FamilyId> = HashMap::new();
    let mut delegates = Vec::new();
    let mut prepaid: Vec<ServiceId> = Vec::new();
    for step in &plan.steps {
        match step {
            Step::Guardian(g) => {
                if g.payer.is_some() {
                    delegates.push(g);
                    continue;
                }
                let id = family::insert_guardian(c, tenant, &new_guardian(g), None).await?;
                let f = family::insert_family(c, tenant, id, g.isee).await?;
                families.insert(g.cf.as_str().to_string(), f);
            }
            Step::Pupil { row, family } => {
                family::insert_pupil(
                    c,
                    tenant,
                    &NewPupil {
                        family_id: *family,
                        fiscal_code: Some(row.cf.clone()),
                        first_name: row.first_name.clone(),
                        last_name: row.last_name.clone(),
                        birth_date: row.birth_date,
                    },
                )
                .await?;
            }
            Step::Enrolment { new, billing, .. } => {
                db_service::insert_enrolment(c, tenant, new).await?;
                if *billing == Billing::Prepaid && !prepaid.contains(&new.service_id) {
                    prepaid.push(new.service_id);
                }
            }
            Step::Balance {
                row,
                family,
                service,
                key,
            } => {
                let account = db_import::open_account(c, tenant, *family, *service, now).await?;
                let reason = if row.note.is_empty() {
                    BALANCE_REASON
                } else {
                    row.note.as_str()
                };
                ledger::insert_entry(
                    c,
                    tenant,
                    &NewEntry::money(
                        account,
                        EntryKind::CarryOver,
                        row.amount,
                        row.day.unwrap_or(today),
                        key,
                    )
                    .by(&by, reason),
                    now,
                )
                .await?;
            }
        }
        done += 1;
        progress(done, total);
    }
    for g in delegates {
        let Some(payer) = &g.payer else { continue };
        let fam = match families.get(payer.as_str()) {
            Some(f) => Some(*f),
            None => match family::guardian_by_fiscal_code(c, tenant, payer).await? {
                Some(pg) => family::families_of_guardian(c, tenant, pg.id)
                    .await?
                    .into_iter()
                    .find(|(f, _)| f.payer_id == pg.id)
                    .map(|(f, _)| f.id),
                None => None,
            },
        };
        let Some(fam) = fam else {
            return Err(AppError::Invalid(format!(
                "Riga {}: intestatario {} non trovato.",
                g.row,
                payer.as_str()
            )));
        };
        let id = family::insert_guardian(c, tenant, &new_guardian(g), None).await?;
        family::add_delegate(c, tenant, fam, id, g.sees_payments).await?;
        done += 1;
        progress(done, total);
    }
    // Link the new enrolments to their families' accounts now (the close would do it too),
    // so the office sees the accounts at once.
    for service in prepaid {
        ledger::ensure_accounts(c, tenant, service, now).await?;
    }
    Ok(total)
}

fn new_guardian(g: &GuardianRow) -> NewGuardian {
    NewGuardian {
        fiscal_code: g.cf.clone(),
        first_name: g.first_name.clone(),
        last_name: g.last_name.clone(),
        email: g.email.clone(),
        phone: g.phone.clone(),
        address: g.address.clone(),
        resident: g.resident,
    }
}
