//! School years and their calendar.

use crate::Ctx;
use jiff::civil::Date;
use refettorio_db::registry::calendar;
use refettorio_db::registry::calendar::NewSchoolYear;
use refettorio_db::registry::calendar::SchoolYear;
use refettorio_domain::SchoolCalendar;
use refettorio_domain::SchoolYearId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};

use super::{audit, duplicate, field, fields, required, same_name, year_as_new, year_json};
use crate::AppError;
use crate::FieldError;

/// The school year form as typed (dates as `YYYY-MM-DD`, as a date input sends them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YearInput {
    pub label: String,
    pub starts_on: String,
    pub ends_on: String,
    pub first_day: String,
    pub last_day: String,
}

impl From<&SchoolYear> for YearInput {
    fn from(y: &SchoolYear) -> Self {
        YearInput {
            label: y.label.clone(),
            starts_on: y.starts_on.to_string(),
            ends_on: y.ends_on.to_string(),
            first_day: y.first_day.to_string(),
            last_day: y.last_day.to_string(),
        }
    }
}

fn date_field(errors: &mut Vec<FieldError>, name: &'static str, value: &str) -> Option<Date> {
    match value.trim().parse::<Date>() {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field(name, "Scrivi una data valida."));
            None
        }
    }
}

/// Checks a school year: a new label, dates in order (start ≤ first day of lessons ≤ last
/// day ≤ end), not overlapping another year (a day belongs to one school year).
pub fn check_year(
    input: &YearInput,
    years: &[SchoolYear],
    this: Option<SchoolYearId>,
) -> Result<NewSchoolYear, AppError> {
    let mut errors = Vec::new();
    let label = required(
        &mut errors,
        "nome",
        &input.label,
        40,
        "Scrivi il nome dell'anno scolastico (ad esempio 2027/2028).",
    );
    if !label.is_empty()
        && years
            .iter()
            .any(|y| Some(y.id) != this && same_name(&y.label, &label))
    {
        errors.push(field(
            "nome",
            "Esiste già un anno scolastico con questo nome.",
        ));
    }
    let starts_on = date_field(&mut errors, "inizio", &input.starts_on);
    let first_day = date_field(&mut errors, "primo-giorno", &input.first_day);
    let last_day = date_field(&mut errors, "ultimo-giorno", &input.last_day);
    let ends_on = date_field(&mut errors, "fine", &input.ends_on);
    let (Some(starts_on), Some(first_day), Some(last_day), Some(ends_on)) =
        (starts_on, first_day, last_day, ends_on)
    else {
        return Err(AppError::Fields(errors));
    };
    if ends_on <= starts_on {
        errors.push(field(
            "fine",
            "La fine dell'anno deve venire dopo l'inizio.",
        ));
    } else if ends_on
        .since(starts_on)
        .map_or(true, |s| s.get_days() > 366)
    {
        errors.push(field("fine", "Un anno scolastico dura al massimo un anno."));
    }
    if first_day < starts_on || first_day > ends_on {
        errors.push(field(
            "primo-giorno",
            "Il primo giorno di lezione deve cadere dentro l'anno scolastico.",
        ));
    }
    if last_day < first_day {
        errors.push(field(
            "ultimo-giorno",
            "L'ultimo giorno di lezione non può venire prima del primo.",
        ));
    } else if last_day > ends_on {
        errors.push(field(
            "ultimo-giorno",
            "L'ultimo giorno di lezione deve cadere dentro l'anno scolastico.",
        ));
    }
    if errors.is_empty()
        && let Some(other) = years
            .iter()
            .find(|y| Some(y.id) != this && y.starts_on <= ends_on && starts_on <= y.ends_on)
    {
        errors.push(field(
            "inizio",
            format!(
                "Le date si sovrappongono all'anno scolastico {} ({} – {}).",
                other.label,
                other.starts_on.strftime("%d/%m/%Y"),
                other.ends_on.strftime("%d/%m/%Y")
            ),
        ));
    }
    fields(errors, || NewSchoolYear {
        label,
        starts_on,
        ends_on,
        first_day,
        last_day,
    })
}

pub async fn add_year(ctx: Ctx<'_>, input: &YearInput) -> Result<SchoolYearId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let years = calendar::school_years(c, tenant.id).await?;
    let new = check_year(input, &years, None)?;
    let id = calendar::insert_school_year(c, tenant.id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", "Esiste già un anno scolastico con questo nome."))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryAdd,
        AuditObject::new(ObjectKind::SchoolYear, id.get()),
        None,
        Some(&year_json(&new)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(super) fn year_not_found() -> AppError {
    AppError::NotFound("Anno scolastico non trovato.".into())
}

/// Changes a school year's name and dates. Days already closed keep their charges; a closure
/// left outside the new dates stays in the list and simply covers no lesson day. True if
/// something changed.
pub async fn edit_year(
    ctx: Ctx<'_>,
    id: SchoolYearId,
    input: &YearInput,
) -> Result<bool, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let years = calendar::school_years(c, tenant.id).await?;
    let old = years
        .iter()
        .find(|y| y.id == id)
        .ok_or_else(year_not_found)?;
    let new = check_year(input, &years, Some(id))?;
    let before = year_json(&year_as_new(old));
    let after = year_json(&new);
    if before == after {
        return Ok(false);
    }
    calendar::update_school_year(c, tenant.id, id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", "Esiste già un anno scolastico con questo nome."))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryEdit,
        AuditObject::new(ObjectKind::SchoolYear, id.get()),
        Some(&before),
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A school year with its calendar (national holidays, patron saint, closures).
#[derive(Debug, Clone)]
pub struct YearCalendar {
    pub year: SchoolYear,
    pub calendar: SchoolCalendar,
}

pub async fn year_calendar(ctx: Ctx<'_>, id: SchoolYearId) -> Result<YearCalendar, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let year = calendar::school_year(c, tenant.id, id)
        .await?
        .ok_or_else(year_not_found)?;
    let cal = calendar::load_calendar(c, tenant, &year).await?;
    Ok(YearCalendar {
        year,
        calendar: cal,
    })
}
