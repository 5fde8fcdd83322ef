//! The school role's class lists of its own schools.

use crate::Ctx;
use std::collections::BTreeSet;

use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::booking;
use refettorio_db::close;
use refettorio_db::ledger;
use refettorio_db::registry::calendar;
use refettorio_db::registry::calendar::SchoolYear;
use refettorio_db::registry::family;
use refettorio_db::registry::school;
use refettorio_db::registry::school::Class;
use refettorio_db::registry::school::School;
use refettorio_db::registry::service;
use refettorio_db::registry::staff;
use refettorio_domain::ClassId;
use refettorio_domain::EnrolmentState;
use refettorio_domain::EntryKind;
use refettorio_domain::MealChoice;
use refettorio_domain::SchoolId;
use refettorio_domain::today;

use crate::AppError;
use crate::Tenant;

/// The schools a staff user may see: the school role its own schools, the office all.
pub async fn visible_schools(
    ctx: Ctx<'_>,
    user: &staff::StaffUser,
) -> Result<Vec<School>, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let all = school::schools(c, tenant.id).await?;
    if user.role == refettorio_domain::StaffRole::School {
        let mine: BTreeSet<SchoolId> = staff::schools_of_staff(c, tenant.id, user.id)
            .await?
            .into_iter()
            .collect();
        Ok(all.into_iter().filter(|s| mine.contains(&s.id)).collect())
    } else {
        Ok(all)
    }
}

/// The classes of the current school year of the schools a user sees, by school.
pub async fn school_classes(
    ctx: Ctx<'_>,
    user: &staff::StaffUser,
) -> Result<Vec<(School, Vec<Class>)>, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let schools = visible_schools(ctx, user).await?;
    let day = today(clock, &tenant.timezone);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(year) = current_year(c, tenant, day).await? else {
        return Ok(Vec::new());
    };
    let classes = school::classes(c, tenant.id, year.id).await?;
    Ok(schools
        .into_iter()
        .map(|s| {
            let mut ks: Vec<Class> = classes
                .iter()
                .filter(|k| k.school_id == s.id)
                .cloned()
                .collect();
            ks.sort_by(|a, b| a.name.cmp(&b.name));
            (s, ks)
        })
        .collect())
}

/// The school year containing `day`, or else the next one to start.
async fn current_year(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
) -> Result<Option<SchoolYear>, AppError> {
    if let Some(y) = calendar::school_year_at(c, tenant.id, day).await? {
        return Ok(Some(y));
    }
    let mut years: Vec<SchoolYear> = calendar::school_years(c, tenant.id)
        .await?
        .into_iter()
        .filter(|y| y.starts_on > day)
        .collect();
    years.sort_by_key(|y| y.starts_on);
    Ok(years.into_iter().next())
}

/// One pupil of a school's class list.
#[derive(Debug, Clone)]
pub struct RosterPupil {
    pub name: String,
    pub diet: Option<String>,
    pub card_code: String,
    /// "Presente", "Assente", "Pasto in bianco", "Non iscritto oggi"…
    pub today: &'static str,
}

/// A class list for the school: its pupils with the diet code and today's booking state.
#[derive(Debug, Clone)]
pub struct Roster {
    pub school: School,
    pub class: Class,
    pub day: Date,
    /// The class eats at the canteen today.
    pub eats_today: bool,
    pub closed: bool,
    pub pupils: Vec<RosterPupil>,
}

/// The class list of `class`, if the user sees its school; another school's class is
/// [`AppError::Forbidden`].
pub async fn class_roster(
    ctx: Ctx<'_>,
    user: &staff::StaffUser,
    class: ClassId,
) -> Result<Roster, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let schools = visible_schools(ctx, user).await?;
    let day = today(clock, &tenant.timezone);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(k) = school::class(c, tenant.id, class).await? else {
        return Err(AppError::NotFound("Classe non trovata.".into()));
    };
    let Some(sc) = schools.into_iter().find(|s| s.id == k.school_id) else {
        return Err(AppError::Forbidden);
    };
    let closed = close::is_closed(c, tenant.id, day).await?;
    let eats_today = crate::close::canteen_day(c, tenant, day)
        .await?
        .is_some_and(|cd| cd.classes.iter().any(|x| x.id == k.id));
    let diets = service::diets(c, tenant.id).await?;
    let mut rows = Vec::new();
    for e in service::enrolments_of_class(c, tenant.id, k.id).await? {
        let Some(p) = family::pupil(c, tenant.id, e.pupil_id).await? else {
            continue;
        };
        let service_kind = service::services(c, tenant.id, k.school_year_id)
            .await?
            .into_iter()
            .find(|s| s.id == e.service_id)
            .map(|s| s.kind);
        if service_kind != Some(refettorio_domain::ServiceKind::Refezione) {
            continue;
        }
        let state = if e.state != EnrolmentState::Attivo || e.start_date > day {
            "Iscrizione non attiva"
        } else if !eats_today {
            "Nessun pasto oggi"
        } else if closed {
            let entries = ledger::entries_of_enrolment_day(c, tenant.id, e.id, day).await?;
            let reversed: BTreeSet<i64> = entries.iter().filter_map(|x| x.reverses).collect();
            if entries
                .iter()
                .any(|x| x.kind == EntryKind::MealCharge && !reversed.contains(&x.id))
            {
                "Presente"
            } else {
                "Assente"
            }
        } else {
            match booking::bookings(c, tenant.id, e.id, day, day)
                .await?
                .into_iter()
                .next()
                .map(|(_, ch)| ch)
            {
                Some(MealChoice::Absent) => "Assente",
                Some(MealChoice::Bland) => "Pasto in bianco",
                _ => "Presente",
            }
        };
        rows.push((
            (p.last_name.clone(), p.first_name.clone()),
            RosterPupil {
                name: format!("{} {}", p.last_name, p.first_name),
                diet: e
                    .diet_id
                    .and_then(|d| diets.iter().find(|x| x.id == d))
                    .map(|d| d.code.clone()),
                card_code: e.card_code.clone(),
                today: state,
            },
        ));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Roster {
        school: sc,
        class: k,
        day,
        eats_today,
        closed,
        pupils: rows.into_iter().map(|(_, r)| r).collect(),
    })
}
