//! The school's validation of enrolments (as eCivis gives the school): the school confirms
//! that a pupil enrolled in the canteen is really in the class the enrolment says, or reports
//! it to the office with a reason. An enrolment the office or the import creates starts not
//! validated, and a class change makes it not validated again. Meals never depend on it: a
//! child is never left without a meal while the school has not confirmed.

use refettorio_db::registry::staff::StaffUser;
use refettorio_db::registry::validation;
/// An enrolment waiting for its school, as the pages show it.
pub use refettorio_db::registry::validation::Pending;
use refettorio_db::registry::{school::School, service};
use refettorio_domain::{
    Actor, AuditAction, AuditEntry, AuditObject, EnrolmentId, ObjectKind, StaffRole,
};
use serde_json::json;

use crate::people::visible_schools;
use crate::{AppError, Ctx, FieldError};

/// The enrolments to validate of the schools `user` sees, with those schools.
pub async fn pending_for(
    ctx: Ctx<'_>,
    user: &StaffUser,
) -> Result<(Vec<School>, Vec<Pending>), AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let schools = visible_schools(ctx, user).await?;
    let mut h = db.acquire().await?;
    let all = validation::pending(&mut h.conn(), tenant.id).await?;
    let mine = all
        .into_iter()
        .filter(|p| schools.iter().any(|s| s.id == p.school_id))
        .collect();
    Ok((schools, mine))
}

/// For the office: how many enrolments wait for the school's validation, and how many of
/// them the school reported.
pub async fn office_counts(ctx: Ctx<'_>) -> Result<(usize, usize), AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut h = db.acquire().await?;
    let all = validation::pending(&mut h.conn(), tenant.id).await?;
    let reported = all.iter().filter(|p| p.report_reason.is_some()).count();
    Ok((all.len(), reported))
}

/// What the school does with an enrolment to validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The pupil is in that class.
    Confirm,
    /// Something is wrong: the reason, for the office.
    Report(String),
}

/// The school user `user` confirms or reports enrolment `id`. Only the school role, only an
/// enrolment of its own schools ([`AppError::Forbidden`], nothing written); a report needs a
/// reason; an enrolment validated already is refused. Audited with the user as actor.
pub async fn decide(
    ctx: Ctx<'_>,
    user: &StaffUser,
    id: EnrolmentId,
    verdict: &Verdict,
) -> Result<(), AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    if user.role != StaffRole::School {
        return Err(AppError::Forbidden);
    }
    let schools = visible_schools(ctx, user).await?;
    let now = clock.now();
    let actor = format!("staff:{}", user.id.get());
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let Some(e) = service::enrolment(c, tenant.id, id).await? else {
        return Err(AppError::NotFound("Iscrizione non trovata.".into()));
    };
    if !schools.iter().any(|s| s.id == e.school_id) {
        return Err(AppError::Forbidden);
    }
    let class = json!({ "class": e.class_id.get(), "school": e.school_id.get() });
    let (action, reason, done) = match verdict {
        Verdict::Confirm => (
            AuditAction::ValidateEnrolment,
            String::new(),
            validation::validate(c, tenant.id, id, &actor, now).await?,
        ),
        Verdict::Report(reason) => {
            let reason = reason.trim().to_string();
            if reason.is_empty() {
                return Err(AppError::Fields(vec![FieldError {
                    field: "motivo",
                    message: "Scrivi che cosa non va, per l'ufficio scuola.".into(),
                }]));
            }
            if reason.chars().count() > 500 {
                return Err(AppError::Fields(vec![FieldError {
                    field: "motivo",
                    message: "Al massimo 500 caratteri.".into(),
                }]));
            }
            let done = validation::report(c, tenant.id, id, &actor, &reason, now).await?;
            (AuditAction::ReportEnrolment, reason, done)
        }
    };
    if !done {
        return Err(AppError::Invalid(
            "L'iscrizione è già stata validata.".into(),
        ));
    }
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            Actor::Staff(user.id),
            action,
            AuditObject {
                kind: ObjectKind::Enrolment,
                id: Some(id.get()),
            },
        )
        .after(class)
        .reason(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
