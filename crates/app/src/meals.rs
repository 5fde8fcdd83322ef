//! The canteen's day: meal changes by families before the cut-off, closures, the daily close
//! that charges each meal exactly once, canteen-staff corrections and the kitchen's numbers.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::ToSpan;
use jiff::civil::Date;
use refettorio_db::meals::{self, ChargeScope, MealCount};
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::family;
use refettorio_db::registry::school::{self, Class};
use refettorio_db::registry::service::{self, Enrolment, Service};
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::{Conn, Db};
use refettorio_domain::{
    BookingError, Cents, ClassId, Clock, Closure, ClosureId, ClosureScope, DayStatus,
    EnrolmentState, EntryKind, MealChoice, SchoolCalendar, SchoolYearId, ServiceKind, day_it,
    deadline,
};

use crate::AppError;

/// What a day of the canteen looks like for the municipality: its year, the canteen service,
/// the calendar and the classes that eat that day.
pub struct CanteenDay {
    pub year: SchoolYear,
    pub service: Service,
    pub calendar: SchoolCalendar,
    /// The classes that eat that day.
    pub classes: Vec<Class>,
    /// Every class of the year (for the names on the kitchen's numbers).
    pub year_classes: Vec<Class>,
}

/// The canteen service of the year that contains `day`, with the classes eating that day.
pub async fn canteen_day(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
) -> Result<Option<CanteenDay>, AppError> {
    let Some(year) = calendar::school_year_at(conn, tenant.id, day).await? else {
        return Ok(None);
    };
    let Some(service) = refezione(conn, tenant, year.id).await? else {
        return Ok(None);
    };
    let calendar = calendar::load_calendar(conn, tenant, &year).await?;
    let year_classes = school::classes(conn, tenant.id, year.id).await?;
    let classes = year_classes
        .iter()
        .filter(|c| calendar.is_canteen_day(day, c.school_id, c.id, c.canteen_weekdays))
        .cloned()
        .collect();
    Ok(Some(CanteenDay {
        year,
        service,
        calendar,
        classes,
        year_classes,
    }))
}

async fn refezione(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    year: SchoolYearId,
) -> Result<Option<Service>, AppError> {
    Ok(service::services(conn, tenant.id, year)
        .await?
        .into_iter()
        .find(|s| s.kind == ServiceKind::Refezione))
}

/// The result of a close: meals charged by this run, and meals charged by an earlier run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseOutcome {
    pub charged: u64,
    pub already: u64,
}

/// Closes `day` for the municipality ([`close`]) and then queues its low-balance warnings
/// ([`warn_low_balances`]). Both happen once however many times, and on however many nodes, this
/// runs; a run that finds the day closed but its warnings not queued (a node stopped between
/// the two) queues them.
pub async fn close_day(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    day: Date,
) -> Result<CloseOutcome, AppError> {
    let outcome = close(db, clock, tenant, day).await?;
    warn_low_balances(db, clock, tenant, day).await?;
    Ok(outcome)
}

/// Refuses a close of `day` before its cut-off has passed.
pub fn check_closable(clock: &dyn Clock, tenant: &Tenant, day: Date) -> Result<(), AppError> {
    let due = deadline(day, tenant.latest_cutoff(), &tenant.timezone);
    if due.is_none_or(|d| clock.now() < d) {
        return Err(AppError::Invalid(format!(
            "La giornata di {} non si può chiudere prima dell'ora limite ({}).",
            day_it(day),
            tenant.latest_cutoff().strftime("%H:%M")
        )));
    }
    Ok(())
}

/// The close of `day`, in one transaction: freezes the attendance, charges each meal to the
/// payer's account and queues the kitchen's e-mail. Exactly once: a second run (or a concurrent
/// one on another node) charges nothing and reports what the first charged; a crash in the
/// middle rolls the whole close back. The low-balance warnings follow in their own transaction
/// ([`warn_low_balances`]): they read every charged account's balance, which is not work to do
/// while holding the day's lock (and, on SQLite, the database's only writer).
pub async fn close(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    day: Date,
) -> Result<CloseOutcome, AppError> {
    check_closable(clock, tenant, day)?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    meals::lock_day(c, tenant.id, day, true).await?;
    if !meals::claim_close(c, tenant.id, day, now).await? {
        let already = meals::close_count(c, tenant.id, day).await?.unwrap_or(0);
        tx.commit().await?;
        return Ok(CloseOutcome {
            charged: 0,
            already,
        });
    }
    let mut charged = 0;
    if let Some(cd) = canteen_day(c, tenant, day).await? {
        let class_ids: Vec<ClassId> = cd.classes.iter().map(|k| k.id).collect();
        meals::ensure_accounts(c, tenant.id, cd.service.id, now).await?;
        let lines = meals::charge_day(
            c,
            tenant.id,
            cd.service.id,
            day,
            &class_ids,
            tenant.settings.bland_meal_free,
            now,
        )
        .await?;
        charged = lines.iter().map(|l| u64::from(l.count)).sum();
        meals::set_close_count(c, tenant.id, day, charged).await?;
        if charged > 0 {
            queue_kitchen_mail(c, tenant, day, &cd, lines, now).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(tenant = %tenant.slug, %day, charged, "day closed");
    Ok(CloseOutcome {
        charged,
        already: 0,
    })
}

/// Queues the kitchen's e-mail of a close, from the meals the close just charged.
async fn queue_kitchen_mail(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
    cd: &CanteenDay,
    charged: Vec<MealCount>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let numbers = kitchen_numbers_of(conn, tenant, day, true, Some(cd), Some(charged)).await?;
    let schools = school::schools(conn, tenant.id).await?;
    for s in &numbers.schools {
        let Some(email) = schools
            .iter()
            .find(|x| x.id == s.school)
            .and_then(|x| x.kitchen_email.clone())
        else {
            continue;
        };
        let content = crate::mail::kitchen_numbers(&crate::mail::KitchenNumbers {
            tenant: &tenant.name,
            school: &s.name,
            day_short: day.strftime("%d/%m/%Y").to_string(),
            day_long: day_it(day),
            classes: s
                .classes
                .iter()
                .map(|k| (k.name.clone(), k.counts.describe()))
                .collect(),
            total: s.total.describe(),
        })?;
        let key = format!("kitchen:{day}:{}", s.school.get());
        meals::enqueue(
            conn,
            tenant.id,
            "kitchen_numbers",
            "email",
            &email,
            &content,
            &key,
            now,
        )
        .await?;
    }
    Ok(())
}

/// The low-balance warnings of a closed day: one e-mail to each payer whose account was charged
/// that day and whose balance is negative or pays for fewer than the tenant's number of days of
/// the family's meals. Once per close: the transaction claims the day's warnings
/// (`day_close.warned_at`) and queues them all, or rolls back and leaves them to the next run
/// (each message's key, `low-balance:<account>:<day>`, is unique as well). Returns how many
/// were queued: 0 when the day is not closed or its warnings were queued already.
pub async fn warn_low_balances(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    day: Date,
) -> Result<u64, AppError> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if !meals::claim_warnings(c, tenant.id, day, now).await? {
        return Ok(0);
    }
    let mut queued = 0;
    if let Some(year) = calendar::school_year_at(c, tenant.id, day).await?
        && let Some(service) = refezione(c, tenant, year.id).await?
    {
        queued = queue_low_balance(c, tenant, service.id, day, now).await?;
    }
    tx.commit().await?;
    Ok(queued)
}

/// Queues the warnings of the closed days whose warnings are not queued (a node stopped
/// between a close and its warnings). Returns the days and how many warnings each queued.
pub async fn warn_pending(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
) -> Result<Vec<(Date, u64)>, AppError> {
    let days = {
        let mut h = db.acquire().await?;
        meals::days_to_warn(&mut h.conn(), tenant.id).await?
    };
    let mut done = Vec::new();
    for day in days {
        done.push((day, warn_low_balances(db, clock, tenant, day).await?));
    }
    Ok(done)
}

async fn queue_low_balance(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    service: refettorio_domain::ServiceId,
    day: Date,
    now: jiff::Timestamp,
) -> Result<u64, AppError> {
    let threshold = tenant.settings.low_balance_meals;
    let mut messages = Vec::new();
    for a in meals::balances_charged_on(conn, tenant.id, service, day, threshold).await? {
        if !refettorio_domain::ledger::is_low(a.balance, a.daily_cost, threshold) {
            continue;
        }
        let Some(email) = a.payer_email else {
            continue;
        };
        let content = crate::mail::low_balance(&crate::mail::LowBalance {
            tenant: &tenant.name,
            first_name: &a.payer_first_name,
            last_name: &a.payer_last_name,
            balance: a.balance.to_string(),
            negative: a.balance.is_negative(),
            day: day.strftime("%d/%m/%Y").to_string(),
        })?;
        messages.push(meals::NewMessage {
            recipient: email,
            content,
            idempotency_key: format!("low-balance:{}:{day}", a.account.get()),
        });
    }
    Ok(meals::enqueue_many(conn, tenant.id, "low_balance", "email", &messages, now).await?)
}

/// Changes `from..=to` of a refezione enrolment to `choice`, for every canteen day of the pupil
/// in the range, if the municipality's rules allow it now. All days or none are written.
#[allow(clippy::too_many_arguments)]
pub async fn change_meals(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    enrolment: &Enrolment,
    from: Date,
    to: Date,
    choice: MealChoice,
    by: &str,
) -> Result<Vec<Date>, AppError> {
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
            meals::bookings(c, tenant.id, enrolment.id, around_from, around_to)
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
        meals::lock_day(c, tenant.id, *day, false).await?;
        if meals::is_closed(c, tenant.id, *day).await? {
            return Err(BookingError::PastCutoff {
                day: *day,
                cutoff: rules.cutoff,
            }
            .into());
        }
        meals::set_booking(c, tenant.id, enrolment.id, *day, choice, now, by).await?;
    }
    tx.commit().await?;
    Ok(days)
}

/// The result of a closure entered by the office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosureOutcome {
    pub closure: ClosureId,
    /// Meal charges reversed because their day was already closed.
    pub reversed: u64,
}

/// Enters a closure (holiday, strike, trip, school closed): its meals are not charged, and
/// where a day is already closed the charges in its scope are reversed, in the same transaction.
pub async fn add_closure(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    year: SchoolYearId,
    closure: &Closure,
    by: &str,
) -> Result<ClosureOutcome, AppError> {
    let now = clock.now();
    if closure.to < closure.from {
        return Err(BookingError::RangeBackwards.into());
    }
    if closure.reason.trim().is_empty() {
        return Err(AppError::Invalid("Indica il motivo della chiusura.".into()));
    }
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let y = calendar::school_year(c, tenant.id, year)
        .await?
        .ok_or_else(|| AppError::NotFound("Anno scolastico non trovato".into()))?;
    if closure.from < y.starts_on || closure.to > y.ends_on {
        return Err(BookingError::OutsideSchoolYear.into());
    }
    // Serialise with a close of any day in the range (in day order, as change_meals does):
    // otherwise a close that read the calendar before this commit would charge the closed
    // days after this reversal ran, and those charges would stay.
    let mut d = closure.from;
    while d <= closure.to {
        meals::lock_day(c, tenant.id, d, true).await?;
        d = d.tomorrow()?;
    }
    let id = calendar::insert_closure(c, tenant.id, year, closure, now).await?;
    let scope = match closure.scope {
        ClosureScope::Tenant => ChargeScope::Tenant,
        ClosureScope::School(s) => ChargeScope::School(s),
        ClosureScope::Class(k) => ChargeScope::Class(k),
    };
    let reason = format!("{}: {}", closure.kind.label_it(), closure.reason);
    let reversed = meals::reverse_charges(
        c,
        tenant.id,
        closure.from,
        closure.to,
        scope,
        &reason,
        by,
        now,
    )
    .await?;
    let after = format!(
        "{} {}..{} {:?} reversed={reversed}",
        closure.kind.as_str(),
        closure.from,
        closure.to,
        closure.scope
    );
    meals::audit(
        c,
        tenant.id,
        by,
        "add_closure",
        "closure",
        Some(id.get()),
        None,
        Some(&after),
        &closure.reason,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ClosureOutcome {
        closure: id,
        reversed,
    })
}

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
#[allow(clippy::too_many_arguments)]
pub async fn correct_attendance(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    enrolment: &Enrolment,
    day: Date,
    correction: Correction,
    reason: &str,
    by: &str,
) -> Result<(), AppError> {
    let now = clock.now();
    if reason.trim().is_empty() {
        return Err(AppError::Invalid(
            "Indica il motivo della correzione.".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    meals::lock_day(c, tenant.id, day, true).await?;
    if !meals::is_closed(c, tenant.id, day).await? {
        return Err(AppError::Invalid(format!(
            "La giornata di {} non è ancora chiusa: fino all'ora limite le presenze le modifica la famiglia.",
            day_it(day)
        )));
    }
    let entries = meals::entries_of_enrolment_day(c, tenant.id, enrolment.id, day).await?;
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
            meals::reverse_charges(
                c,
                tenant.id,
                day,
                day,
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
            meals::ensure_accounts(c, tenant.id, enrolment.service_id, now).await?;
            let account = meals::account_of(c, tenant.id, pupil.family_id, enrolment.service_id)
                .await?
                .ok_or_else(|| AppError::NotFound("Conto non trovato".into()))?;
            let charges = entries
                .iter()
                .filter(|e| e.kind == EntryKind::MealCharge)
                .count();
            let key = format!("meal:{day}:{}:{charges}", enrolment.id.get());
            let amount = Cents(0)
                .checked_sub(enrolment.meal_price)
                .unwrap_or(Cents(0));
            meals::insert_entry(
                c,
                tenant.id,
                &meals::NewEntry {
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
                    idempotency_key: &key,
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
    meals::audit(
        c,
        tenant.id,
        by,
        "correct_attendance",
        "enrolment",
        Some(enrolment.id.get()),
        Some(before),
        Some(after),
        reason,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Counts of one class or school: standard meals, bland meals, and meals per diet code (the
/// documents crate's type, so the report renders what the kitchen numbers hold).
pub use refettorio_documents::kitchen::KitchenCounts as Counts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCounts {
    pub class: ClassId,
    pub name: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolCounts {
    pub school: refettorio_domain::SchoolId,
    pub name: String,
    pub classes: Vec<ClassCounts>,
    pub total: Counts,
}

/// The kitchen's numbers of a day: per school and class, no names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitchenNumbers {
    pub day: Date,
    /// True after the close (final), false before (forecast).
    pub frozen: bool,
    pub schools: Vec<SchoolCounts>,
    pub total: Counts,
    /// (code, name) of the diets that appear.
    pub diets: Vec<(String, String)>,
}

/// The kitchen's numbers: final after the close, a forecast before it. A diet meal that is
/// also bland counts under its diet (the kitchen prepares the diet).
pub async fn kitchen_numbers(
    db: &Db,
    tenant: &Tenant,
    day: Date,
) -> Result<KitchenNumbers, AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let frozen = meals::is_closed(c, tenant.id, day).await?;
    kitchen_numbers_of(c, tenant, day, frozen, None, None).await
}

/// The kitchen's numbers, with the canteen day and the day's counts when the caller has them
/// already.
async fn kitchen_numbers_of(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
    frozen: bool,
    cd: Option<&CanteenDay>,
    lines: Option<Vec<MealCount>>,
) -> Result<KitchenNumbers, AppError> {
    let loaded;
    let cd = match cd {
        Some(cd) => Some(cd),
        None => {
            loaded = canteen_day(conn, tenant, day).await?;
            loaded.as_ref()
        }
    };
    let lines: Vec<MealCount> = match (lines, cd, frozen) {
        (Some(lines), _, _) => lines,
        (None, _, true) => meals::frozen_counts(conn, tenant.id, day).await?,
        (None, Some(cd), false) => {
            let ids: Vec<ClassId> = cd.classes.iter().map(|k| k.id).collect();
            meals::forecast_counts(conn, tenant.id, cd.service.id, day, &ids).await?
        }
        (None, None, false) => Vec::new(),
    };
    let schools = school::schools(conn, tenant.id).await?;
    let diets = service::diets(conn, tenant.id).await?;
    let school_names: HashMap<refettorio_domain::SchoolId, &str> =
        schools.iter().map(|s| (s.id, s.name.as_str())).collect();
    let class_names: HashMap<ClassId, &str> = cd
        .map(|cd| {
            cd.year_classes
                .iter()
                .map(|k| (k.id, k.name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let diet_codes: HashMap<refettorio_domain::DietId, &str> =
        diets.iter().map(|d| (d.id, d.code.as_str())).collect();
    let mut by_school: BTreeMap<(String, i64), BTreeMap<(String, i64), Counts>> = BTreeMap::new();
    let mut used_diets = BTreeSet::new();
    for l in &lines {
        let sname = school_names.get(&l.school).copied().unwrap_or_default();
        let cname = class_names.get(&l.class).copied().unwrap_or_default();
        let code = l.diet.and_then(|d| diet_codes.get(&d).copied());
        if let Some(code) = code {
            used_diets.insert(code.to_string());
        }
        by_school
            .entry((sname.to_string(), l.school.get()))
            .or_default()
            .entry((cname.to_string(), l.class.get()))
            .or_default()
            .count(l.bland, code, l.count);
    }
    let mut total = Counts::default();
    let schools = by_school
        .into_iter()
        .map(|((name, sid), classes)| {
            let mut st = Counts::default();
            let classes = classes
                .into_iter()
                .map(|((cname, cid), counts)| {
                    st.add(&counts);
                    ClassCounts {
                        class: ClassId(cid),
                        name: cname,
                        counts,
                    }
                })
                .collect();
            total.add(&st);
            SchoolCounts {
                school: refettorio_domain::SchoolId(sid),
                name,
                classes,
                total: st,
            }
        })
        .collect();
    let diets = diets
        .into_iter()
        .filter(|d| used_diets.contains(&d.code))
        .map(|d| (d.code, d.name))
        .collect();
    Ok(KitchenNumbers {
        day,
        frozen,
        schools,
        total,
        diets,
    })
}

impl KitchenNumbers {
    /// The view model of the kitchen's report (CSV and PDF), without names of pupils.
    pub fn report(
        &self,
        tenant_name: &str,
        generated_at_label: &str,
    ) -> refettorio_documents::kitchen::KitchenReport {
        use refettorio_documents::kitchen::{
            DietLegend, KitchenClass, KitchenReport, KitchenSchool,
        };
        KitchenReport {
            tenant_name: tenant_name.to_string(),
            date: self.day,
            date_label: day_it(self.day),
            frozen: self.frozen,
            generated_at_label: generated_at_label.to_string(),
            schools: self
                .schools
                .iter()
                .map(|s| KitchenSchool {
                    name: s.name.clone(),
                    classes: s
                        .classes
                        .iter()
                        .map(|k| KitchenClass {
                            name: k.name.clone(),
                            counts: k.counts.clone(),
                        })
                        .collect(),
                    total: s.total.clone(),
                })
                .collect(),
            diet_codes: self
                .diets
                .iter()
                .map(|(code, name)| DietLegend {
                    code: code.clone(),
                    name: name.clone(),
                })
                .collect(),
        }
    }
}
