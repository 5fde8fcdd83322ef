//! Attendance of a closed day: today's class lists of the canteen staff and their corrections,
//! each with the matching reversal or charge.

use std::collections::BTreeSet;

use jiff::civil::Date;
use refettorio_db::audit;
use refettorio_db::ledger::ChargeScope;
use refettorio_db::registry::family;
use refettorio_db::registry::school::{self, Class};
use refettorio_db::registry::service::{self, Enrolment};
use refettorio_db::registry::staff::{self, StaffUser};
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::{booking, close, ledger};
use refettorio_domain::ledger::Key;
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, ObjectKind};
use refettorio_domain::{Cents, ClassId, EnrolmentState, EntryKind, SchoolId, day_it, today};

use crate::ledger::{REASON_MAX, field};
use crate::{AppError, Ctx};

/// What canteen staff mark on today's class list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Correction {
    /// Booked (and charged) but did not eat: the charge is reversed.
    Absent,
    /// Ate without a booking: the meal is charged.
    Present,
}

/// Applies a canteen-staff correction to a closed day, with the matching reversal or charge,
/// and records it in the audit log. Repeating it is refused and writes nothing.
pub async fn correct_attendance(
    ctx: Ctx<'_>,
    enrolment: &Enrolment,
    day: Date,
    correction: Correction,
    reason: &str,
) -> Result<(), AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let by = ctx.actor.to_string();
    let by = by.as_str();
    let now = clock.now();
    if reason.trim().is_empty() {
        return Err(AppError::Invalid(
            "Indica il motivo della correzione.".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    close::lock_day(c, tenant.id, day, true).await?;
    if !close::is_closed(c, tenant.id, day).await? {
        return Err(AppError::Invalid(format!(
            "La giornata di {} non è ancora chiusa: fino all'ora limite le presenze le modifica la famiglia.",
            day_it(day)
        )));
    }
    let entries = ledger::entries_of_enrolment_day(c, tenant.id, enrolment.id, day).await?;
    let reversed: BTreeSet<i64> = entries.iter().filter_map(|e| e.reverses).collect();
    let active = entries
        .iter()
        .find(|e| e.kind == EntryKind::MealCharge && !reversed.contains(&e.id));
    let before = if active.is_some() {
        "presente"
    } else {
        "assente"
    };
    match (correction, active) {
        (Correction::Absent, None) => {
            return Err(AppError::Invalid(
                "L'alunno risulta già assente: nessun pasto da stornare.".into(),
            ));
        }
        (Correction::Present, Some(_)) => {
            return Err(AppError::Invalid(
                "L'alunno risulta già presente: il pasto è già addebitato.".into(),
            ));
        }
        (Correction::Absent, Some(_)) => {
            ledger::reverse_charges(
                c,
                tenant.id,
                day..=day,
                ChargeScope::Enrolment(enrolment.id),
                reason,
                by,
                now,
            )
            .await?;
        }
        (Correction::Present, None) => {
            let pupil = family::pupil(c, tenant.id, enrolment.pupil_id)
                .await?
                .ok_or_else(|| AppError::NotFound("Alunno non trovato".into()))?;
            ledger::ensure_accounts(c, tenant.id, enrolment.service_id, now).await?;
            let account = ledger::account_of(c, tenant.id, pupil.family_id, enrolment.service_id)
                .await?
                .ok_or_else(|| AppError::NotFound("Conto non trovato".into()))?;
            let charges = entries
                .iter()
                .filter(|e| e.kind == EntryKind::MealCharge)
                .count();
            let key = Key::MealAgain {
                day,
                enrolment: enrolment.id,
                charges: u32::try_from(charges).unwrap_or(u32::MAX),
            };
            let amount = Cents(0)
                .checked_sub(enrolment.meal_price)
                .unwrap_or(Cents(0));
            ledger::insert_entry(
                c,
                tenant.id,
                &ledger::NewEntry {
                    account: account.id,
                    kind: EntryKind::MealCharge,
                    amount,
                    day,
                    pupil: Some(enrolment.pupil_id),
                    enrolment: Some(enrolment.id),
                    school: Some(enrolment.school_id),
                    class: Some(enrolment.class_id),
                    bland: Some(false),
                    diet: enrolment.diet_id,
                    reverses: None,
                    reference: None,
                    key: &key,
                    created_by: by,
                    reason,
                },
                now,
            )
            .await?;
        }
    }
    let after = match correction {
        Correction::Absent => "assente",
        Correction::Present => "presente",
    };
    audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::CorrectAttendance,
            AuditObject {
                kind: ObjectKind::Enrolment,
                id: Some(enrolment.id.get()),
            },
        )
        .before(serde_json::json!({"attendance": before}))
        .after(serde_json::json!({"attendance": after}))
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
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
    ctx: Ctx<'_>,
    user: &StaffUser,
    class: Option<ClassId>,
) -> Result<ClassList, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
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
    let closed = close::is_closed(c, tenant.id, day).await?;
    let Some(cd) = crate::close::canteen_day(c, tenant, day).await? else {
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
        let choice = booking::bookings(c, tenant.id, e.id, day, day)
            .await?
            .into_iter()
            .next()
            .map(|(_, ch)| ch);
        let present = if closed {
            let entries = ledger::entries_of_enrolment_day(c, tenant.id, e.id, day).await?;
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

/// Applies a correction of today ([`crate::attendance::correct_attendance`]) made by `user`. An
/// enrolment of another municipality, or (for a school user) of a school it is not linked to,
/// is [`AppError::Forbidden`]; a bad correction, a missing reason, a day not closed yet or a
/// repeated correction are errors of the field `motivo` and write nothing.
pub async fn correct_today(
    ctx: Ctx<'_>,
    user: &StaffUser,
    input: &CorrectionInput,
) -> Result<(), AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
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
        "assente" => Correction::Absent,
        "presente" => Correction::Present,
        _ => return Err(AppError::Forbidden),
    };
    let reason = input.reason.trim();
    if reason.chars().count() > REASON_MAX {
        return Err(AppError::Fields(vec![field(
            "motivo",
            "Il motivo è troppo lungo (al massimo 500 caratteri).",
        )]));
    }
    match correct_attendance(ctx, &enrolment, day, correction, reason).await {
        Err(AppError::Invalid(m)) => Err(AppError::Fields(vec![field("motivo", &m)])),
        other => other,
    }
}
