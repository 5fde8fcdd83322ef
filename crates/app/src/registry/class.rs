//! Classes and their canteen weekdays.

use crate::Ctx;
use refettorio_db::registry::calendar;
use refettorio_db::registry::school;
use refettorio_db::registry::school::Class;
use refettorio_db::registry::school::NewClass;
use refettorio_domain::ClassId;
use refettorio_domain::SchoolId;
use refettorio_domain::SchoolYearId;
use refettorio_domain::Weekdays;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};

use super::school::school_not_found;
use super::{
    CANTEEN_WEEKDAYS, audit, class_as_new, class_json, duplicate, field, fields, refused, required,
    same_name, still_used,
};
use crate::AppError;

/// The class form as typed: the year (only when adding), the name and the ticked weekdays
/// (the fields of [`CANTEEN_WEEKDAYS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassInput {
    pub year: String,
    pub name: String,
    pub weekdays: Vec<String>,
}

impl ClassInput {
    pub fn weekdays(&self) -> Weekdays {
        CANTEEN_WEEKDAYS
            .iter()
            .filter(|(f, _, _)| self.weekdays.iter().any(|w| w == f))
            .fold(Weekdays::EMPTY, |acc, (_, _, d)| acc.with(*d))
    }
}

impl From<&Class> for ClassInput {
    fn from(k: &Class) -> Self {
        ClassInput {
            year: k.school_year_id.get().to_string(),
            name: k.name.clone(),
            weekdays: CANTEEN_WEEKDAYS
                .iter()
                .filter(|(_, _, d)| k.canteen_weekdays.contains(*d))
                .map(|(f, _, _)| (*f).to_string())
                .collect(),
        }
    }
}

const CLASS_DUPLICATE: &str = "Questa scuola ha già una classe con questo nome in quell'anno.";

/// Checks a class form: a name not taken in the same school and year, at least one weekday.
/// `classes` are the school's classes.
pub fn check_class(
    input: &ClassInput,
    year: Option<SchoolYearId>,
    classes: &[Class],
    this: Option<ClassId>,
) -> Result<(String, Weekdays), AppError> {
    let mut errors = Vec::new();
    if year.is_none() {
        errors.push(field("anno", "Scegli l'anno scolastico."));
    }
    let name = required(
        &mut errors,
        "nome",
        &input.name,
        40,
        "Scrivi il nome della classe (ad esempio 1A).",
    );
    if !name.is_empty()
        && classes.iter().any(|k| {
            Some(k.id) != this && Some(k.school_year_id) == year && same_name(&k.name, &name)
        })
    {
        errors.push(field("nome", CLASS_DUPLICATE));
    }
    let days = input.weekdays();
    if days.is_empty() {
        errors.push(field(
            "giorni",
            "Scegli almeno un giorno in cui la classe mangia a mensa.",
        ));
    }
    fields(errors, || (name, days))
}

pub(super) fn class_not_found() -> AppError {
    AppError::NotFound("Classe non trovata.".into())
}

/// Adds a class to a school, in the school year chosen in the form.
pub async fn add_class(
    ctx: Ctx<'_>,
    school_id: SchoolId,
    input: &ClassInput,
) -> Result<ClassId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    school::school(c, tenant.id, school_id)
        .await?
        .ok_or_else(school_not_found)?;
    let year = match input.year.trim().parse::<i64>() {
        Ok(y) => calendar::school_year(c, tenant.id, SchoolYearId(y))
            .await?
            .map(|y| y.id),
        Err(_) => None,
    };
    let classes = school::classes_of_school(c, tenant.id, school_id).await?;
    let (name, days) = check_class(input, year, &classes, None)?;
    let Some(school_year_id) = year else {
        return Err(AppError::Fields(vec![field(
            "anno",
            "Scegli l'anno scolastico.",
        )]));
    };
    let new = NewClass {
        school_year_id,
        school_id,
        name,
        canteen_weekdays: days,
    };
    let id = school::insert_class(c, tenant.id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", CLASS_DUPLICATE))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryAdd,
        AuditObject::new(ObjectKind::Class, id.get()),
        None,
        Some(&class_json(&new)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes a class's name and canteen weekdays (its school and year stay). Meals already
/// charged keep their day; the weekdays decide the meals from the next close on. True if
/// something changed.
pub async fn edit_class(ctx: Ctx<'_>, id: ClassId, input: &ClassInput) -> Result<bool, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = school::class(c, tenant.id, id)
        .await?
        .ok_or_else(class_not_found)?;
    let classes = school::classes_of_school(c, tenant.id, old.school_id).await?;
    let (name, days) = check_class(input, Some(old.school_year_id), &classes, Some(id))?;
    let new = NewClass {
        name,
        canteen_weekdays: days,
        ..class_as_new(&old)
    };
    let before = class_json(&class_as_new(&old));
    let after = class_json(&new);
    if before == after {
        return Ok(false);
    }
    school::update_class(c, tenant.id, id, &new.name, new.canteen_weekdays)
        .await
        .map_err(|e| duplicate(e, "nome", CLASS_DUPLICATE))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryEdit,
        AuditObject::new(ObjectKind::Class, id.get()),
        Some(&before),
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a class nothing points at; otherwise says what does. The class's school.
pub async fn delete_class(ctx: Ctx<'_>, id: ClassId) -> Result<SchoolId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = school::class(c, tenant.id, id)
        .await?
        .ok_or_else(class_not_found)?;
    let (enrolments, closures, ledger) = school::class_references(c, tenant.id, id).await?;
    let mut used = Vec::new();
    if enrolments > 0 {
        used.push(format!("{enrolments} iscrizioni"));
    }
    if closures > 0 {
        used.push(format!("{closures} chiusure"));
    }
    if ledger > 0 {
        used.push("pasti già addebitati".to_string());
    }
    if !used.is_empty() {
        return Err(refused(format!(
            "La classe {} non si può eliminare: ha {}. Per non farla più mangiare a mensa togli i suoi giorni di mensa o sposta gli alunni in un'altra classe.",
            old.name,
            used.join(", ")
        )));
    }
    school::delete_class(c, tenant.id, id)
        .await
        .map_err(|e| still_used(e, "La classe è ancora usata e non si può eliminare."))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryDelete,
        AuditObject::new(ObjectKind::Class, id.get()),
        Some(&class_json(&class_as_new(&old))),
        None,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(old.school_id)
}
