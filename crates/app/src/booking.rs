//! Meal changes by families (or staff) before the cut-off.

use std::collections::BTreeSet;

use jiff::ToSpan;
use jiff::civil::Date;
use refettorio_db::registry::calendar;
use refettorio_db::registry::school;
use refettorio_db::registry::service::Enrolment;
use refettorio_db::{booking, close};
use refettorio_domain::{BookingError, DayStatus, EnrolmentState, MealChoice};

use crate::close::refezione;
use crate::{AppError, Ctx};

/// Changes `from..=to` of a refezione enrolment to `choice`, for every canteen day of the pupil
/// in the range, if the municipality's rules allow it now. All days or none are written.
pub async fn change_meals(
    ctx: Ctx<'_>,
    enrolment: &Enrolment,
    from: Date,
    to: Date,
    choice: MealChoice,
) -> Result<Vec<Date>, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let by = ctx.actor.to_string();
    let by = by.as_str();
    let now = clock.now();
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let school = school::school(c, tenant.id, enrolment.school_id)
        .await?
        .ok_or_else(|| AppError::NotFound("Scuola non trovata".into()))?;
    let rules = tenant.booking_rules(school.kind);
    rules.check_range(now, &tenant.timezone, from, to)?;
    if enrolment.state != EnrolmentState::Attivo {
        return Err(BookingError::NotEnrolled.into());
    }
    let year = calendar::school_year_at(c, tenant.id, from)
        .await?
        .ok_or(BookingError::OutsideSchoolYear)?;
    if to > year.ends_on {
        return Err(BookingError::OutsideSchoolYear.into());
    }
    let Some(service) = refezione(c, tenant, year.id).await? else {
        return Err(BookingError::NotEnrolled.into());
    };
    if enrolment.service_id != service.id {
        return Err(BookingError::NotEnrolled.into());
    }
    let class = school::class(c, tenant.id, enrolment.class_id)
        .await?
        .ok_or_else(|| AppError::NotFound("Classe non trovata".into()))?;
    let cal = calendar::load_calendar(c, tenant, &year).await?;
    let pupil_days = |a: Date, b: Date| -> Vec<Date> {
        cal.canteen_days(class.school_id, class.id, class.canteen_weekdays, a, b)
            .into_iter()
            .filter(|d| *d >= enrolment.start_date)
            .collect()
    };
    let days = pupil_days(from, to);
    if days.is_empty() {
        if from == to {
            let reason = match cal.day_status(from, class.school_id, class.id) {
                DayStatus::SchoolDay if from < enrolment.start_date => {
                    "il servizio inizia dopo".to_string()
                }
                DayStatus::SchoolDay => "la classe non ha il rientro in quel giorno".to_string(),
                other => other.label_it(),
            };
            return Err(BookingError::NotCanteenDay { day: from, reason }.into());
        }
        return Err(BookingError::NoCanteenDays.into());
    }
    if choice == MealChoice::Bland {
        if !rules.bland_enabled {
            return Err(BookingError::BlandDisabled.into());
        }
        // Look at the canteen days around the range: a run may join earlier or later bland days.
        let around_from = from.checked_sub(45.days())?;
        let around_to = to.checked_add(45.days())?;
        let window = pupil_days(around_from, around_to);
        let mut bland: BTreeSet<Date> =
            booking::bookings(c, tenant.id, enrolment.id, around_from, around_to)
                .await?
                .into_iter()
                .filter(|(d, ch)| *ch == MealChoice::Bland && (*d < from || *d > to))
                .map(|(d, _)| d)
                .collect();
        bland.extend(days.iter().copied());
        rules.check_bland_run(&window, &bland)?;
    }
    drop(h);
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    for day in &days {
        close::lock_day(c, tenant.id, *day, false).await?;
        if close::is_closed(c, tenant.id, *day).await? {
            return Err(BookingError::PastCutoff {
                day: *day,
                cutoff: rules.cutoff,
            }
            .into());
        }
        booking::set_booking(c, tenant.id, enrolment.id, *day, choice, now, by).await?;
    }
    tx.commit().await?;
    Ok(days)
}
