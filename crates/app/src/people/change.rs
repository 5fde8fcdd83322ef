//! Changes of an enrolment with an effective day, applied when their day comes.

use crate::Ctx;
use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::close;
use refettorio_db::registry::family;
use refettorio_db::registry::school;
use refettorio_db::registry::service;
use refettorio_db::registry::service::EnrolmentChange;
use refettorio_db::registry::service::NewEnrolmentChange;
use refettorio_domain::Actor;
use refettorio_domain::ClassId;
use refettorio_domain::DietId;
use refettorio_domain::EnrolmentId;
use refettorio_domain::EnrolmentState;
use refettorio_domain::TariffBandId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};
use refettorio_domain::day_it;
use refettorio_domain::today;
use serde_json::json;

use super::enrolment::{meal_price, pick};
use super::{audit, enrolment_json, field, first_open_day, options};
use crate::AppError;

/// A change of an enrolment as typed: empty fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeInput {
    /// `YYYY-MM-DD`
    pub effective_on: String,
    pub class: String,
    pub band: String,
    /// A diet's id, `nessuna` to remove it, empty to keep it.
    pub diet: String,
    /// `attivo`, `disattivo` or empty.
    pub state: String,
    pub reason: String,
}

/// What scheduling a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    pub change: i64,
    /// It took effect today, at once.
    pub applied: bool,
}

/// Schedules a change of an enrolment from a day on. The day must be today or later and after
/// the last closed day (a closed day's meals are charged as they were). When it is today, the
/// change is written to the enrolment at once, in the same transaction, which holds the day's
/// lock, so it lands before today's close or is refused.
pub async fn schedule_change(
    ctx: Ctx<'_>,
    enrolment: EnrolmentId,
    input: &ChangeInput,
) -> Result<Scheduled, AppError> {
    let Ctx {
        db,
        clock,
        tenant,
        actor,
    } = ctx;
    let day = today(clock, &tenant.timezone);
    let now = clock.now();
    let mut errors = Vec::new();
    let effective = match input.effective_on.trim().parse::<Date>() {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field(
                "decorrenza",
                "Indica da quale giorno vale la modifica.",
            ));
            None
        }
    };
    let reason = input.reason.trim().to_string();
    if reason.is_empty() {
        errors.push(field(
            "motivo",
            "Indica il motivo: resta nel registro delle modifiche.",
        ));
    } else if reason.chars().count() > 500 {
        errors.push(field(
            "motivo",
            "Il motivo è troppo lungo (al massimo 500 caratteri).",
        ));
    }
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if let Some(d) = effective {
        close::lock_day(c, tenant.id, d, false).await?;
    }
    let e = service::enrolment(c, tenant.id, enrolment)
        .await?
        .ok_or_else(|| AppError::NotFound("Iscrizione non trovata.".into()))?;
    let o = options(c, tenant, day).await?;
    let year = o
        .services
        .iter()
        .find(|(s, _)| s.id == e.service_id)
        .map(|(s, _)| s.school_year_id);
    let class = match input.class.trim() {
        "" => None,
        v => pick(
            &mut errors,
            "classe",
            v,
            |id| {
                o.classes
                    .iter()
                    .find(|k| k.id.get() == id && Some(k.school_year_id) == year)
                    .map(|k| k.id)
            },
            "Scegli una classe dell'anno scolastico dell'iscrizione.",
        ),
    };
    let band = match input.band.trim() {
        "" => None,
        v => pick(
            &mut errors,
            "fascia",
            v,
            |id| {
                o.bands
                    .iter()
                    .find(|b| b.id.get() == id && b.service_id == e.service_id)
                    .map(|b| b.id)
            },
            "Scegli una fascia del servizio dell'iscrizione.",
        ),
    };
    let (diet, clear_diet) = match input.diet.trim() {
        "" => (None, false),
        "nessuna" => (None, true),
        v => (
            pick(
                &mut errors,
                "dieta",
                v,
                |id| o.diets.iter().find(|d| d.id.get() == id).map(|d| d.id),
                "Scegli una dieta dell'elenco.",
            ),
            false,
        ),
    };
    let state = match input.state.trim() {
        "" => None,
        v => match EnrolmentState::parse(v) {
            Some(s) => Some(s),
            None => {
                errors.push(field("stato", "Scegli lo stato dell'iscrizione."));
                None
            }
        },
    };
    if errors.is_empty()
        && class.is_none()
        && band.is_none()
        && diet.is_none()
        && !clear_diet
        && state.is_none()
    {
        errors.push(field(
            "classe",
            "Indica almeno una cosa da cambiare: classe, fascia, dieta o stato.",
        ));
    }
    if let Some(d) = effective {
        let first_open = first_open_day(c, tenant, day).await?;
        if d < day {
            errors.push(field(
                "decorrenza",
                format!(
                    "La modifica non può valere da un giorno passato: al più presto dal {}.",
                    day_it(first_open)
                ),
            ));
        } else if d < first_open {
            errors.push(field(
                "decorrenza",
                format!(
                    "I pasti del {} sono già chiusi: la modifica può valere al più presto dal {}.",
                    day_it(first_open.yesterday()?),
                    day_it(first_open)
                ),
            ));
        }
    }
    let Some(effective_on) = effective.filter(|_| errors.is_empty()) else {
        return Err(AppError::Fields(errors));
    };
    let new = NewEnrolmentChange {
        enrolment_id: enrolment,
        effective_on,
        class_id: class,
        tariff_band_id: band,
        diet_id: diet,
        clear_diet,
        state,
        reason: reason.clone(),
    };
    let id = service::insert_enrolment_change(c, tenant.id, &new, &actor.to_string(), now).await?;
    let after = json!({
        "effective_on": effective_on.to_string(),
        "class": class.map(ClassId::get),
        "band": band.map(TariffBandId::get),
        "diet": diet.map(DietId::get),
        "clear_diet": clear_diet,
        "state": state.map(EnrolmentState::as_str),
    });
    audit(
        c,
        ctx,
        AuditAction::ScheduleEnrolmentChange,
        AuditObject::new(ObjectKind::Enrolment, enrolment.get()),
        Some(&enrolment_json(&e)),
        Some(&after),
        &reason,
    )
    .await?;
    let applied = if effective_on <= day {
        let changes = service::due_changes(c, tenant.id, day).await?;
        for ch in changes.iter().filter(|ch| ch.enrolment_id == enrolment) {
            apply_change(c, ctx, ch).await?;
        }
        true
    } else {
        false
    };
    tx.commit().await?;
    Ok(Scheduled {
        change: id,
        applied,
    })
}

/// The pupil of enrolment `id` (the page of a change goes back to the pupil's file).
pub async fn enrolment_pupil(
    ctx: Ctx<'_>,
    id: EnrolmentId,
) -> Result<refettorio_domain::PupilId, AppError> {
    let mut h = ctx.db.acquire().await?;
    service::enrolment(&mut h.conn(), ctx.tenant.id, id)
        .await?
        .map(|e| e.pupil_id)
        .ok_or_else(|| AppError::NotFound("Iscrizione non trovata.".into()))
}

/// Writes one change to its enrolment row and marks it applied; audited with the row before
/// and after. Changes are applied in day order, so a later one overrides an earlier one.
async fn apply_change(
    c: &mut Conn<'_>,
    ctx: Ctx<'_>,
    ch: &EnrolmentChange,
) -> Result<(), AppError> {
    let (tenant, now) = (ctx.tenant, ctx.now());
    if !service::mark_change_applied(c, tenant.id, ch.id, now).await? {
        return Ok(());
    }
    let Some(before) = service::enrolment(c, tenant.id, ch.enrolment_id).await? else {
        return Ok(());
    };
    let mut e = before.clone();
    if let Some(k) = ch.class_id
        && let Some(class) = school::class(c, tenant.id, k).await?
    {
        e.class_id = class.id;
        e.school_id = class.school_id;
    }
    if let Some(s) = ch.state {
        e.state = s;
    }
    if ch.clear_diet {
        e.diet_id = None;
    } else if let Some(d) = ch.diet_id {
        e.diet_id = Some(d);
    }
    if let Some(b) = ch.tariff_band_id
        && let Some(band) = service::bands(c, tenant.id, e.service_id)
            .await?
            .into_iter()
            .find(|x| x.id == b)
        && let Some(pupil) = family::pupil(c, tenant.id, e.pupil_id).await?
    {
        e.tariff_band_id = band.id;
        e.meal_price = meal_price(c, tenant, &band, &pupil).await?;
        e.fixed_fee = band.fixed_fee;
    }
    service::update_enrolment(c, tenant.id, &e).await?;
    if e.class_id != before.class_id {
        // Another class: the school validates the enrolment again (meals go on meanwhile).
        refettorio_db::registry::validation::reset(c, tenant.id, e.id).await?;
    }
    audit(
        c,
        ctx.as_actor(Actor::Close),
        AuditAction::ApplyEnrolmentChange,
        AuditObject::new(ObjectKind::Enrolment, e.id.get()),
        Some(&enrolment_json(&before)),
        Some(&enrolment_json(&e)),
        &ch.reason,
    )
    .await?;
    Ok(())
}

/// Applies the changes of the tenant that take effect on `day` or before and are not applied
/// yet, in one transaction. The scheduler calls it before it closes `day`, and for today once
/// the days before are closed. Returns how many it applied.
pub async fn apply_due_changes(ctx: Ctx<'_>, day: Date) -> Result<usize, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    {
        // A cheap look first: most runs find nothing and take no write lock.
        let mut h = db.acquire().await?;
        if service::due_changes(&mut h.conn(), tenant.id, day)
            .await?
            .is_empty()
        {
            return Ok(0);
        }
    }
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    close::lock_day(c, tenant.id, day, false).await?;
    let due = service::due_changes(c, tenant.id, day).await?;
    for ch in &due {
        apply_change(c, ctx, ch).await?;
    }
    tx.commit().await?;
    if !due.is_empty() {
        tracing::info!(tenant = %tenant.slug, %day, applied = due.len(), "enrolment changes applied");
    }
    Ok(due.len())
}
