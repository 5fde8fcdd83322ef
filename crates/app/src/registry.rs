//! Use cases of the office's registry of the service's structure: schools, classes and their
//! canteen weekdays, school years and their calendar, services, tariff bands, sibling
//! reductions and diet codes. Every form is checked here (Italian [`FieldError`]s, nothing
//! written when one is wrong) and every change is audited in its transaction, with the row
//! before and after (`registry_add`, `registry_edit`, `registry_delete`; the entity names the
//! table).
//!
//! **A band's price does not rewrite history.** Each enrolment keeps its own meal price and
//! fixed fee (`enrolment.meal_price_cents`, given at enrolment with the sibling reduction), and
//! every meal charged keeps its amount in the ledger. Changing a band therefore changes the
//! amounts given to enrolments made (or moved into the band) from then on. Only if the office
//! asks, the same change also reprices the band's active enrolments as a new enrolment would
//! be priced (the band's price with the sibling reduction of the pupil's rank among the
//! family's children enrolled in the service, eldest first; exempt: nothing): meals of days
//! already closed stay charged as they were, and the new price applies from the first day not
//! closed yet ([`price_from`]).
//!
//! Something still referenced (a school with classes, a band with enrolments, a diet in use…)
//! is never deleted: the office is told why, in Italian.

use jiff::civil::{Date, Weekday};
use refettorio_db::registry::calendar::{self, NewSchoolYear, SchoolYear};
use refettorio_db::registry::school::{self, Class, NewClass, NewSchool, School};
use refettorio_db::registry::service::{self, Diet, NewTariffBand, Service, TariffBand};
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::{Conn, Db, DbError, meals};
use refettorio_domain::{
    Billing, Cents, ClassId, Clock, DietId, DietKind, Residency, SchoolCalendar, SchoolId,
    SchoolKind, SchoolYearId, ServiceId, ServiceKind, TariffBandId, Weekdays,
    sibling_rank_reduction, today,
};

use serde_json::json;

use crate::{AppError, FieldError};

/// Audit actions of this module.
pub const ADD: &str = "registry_add";
pub const EDIT: &str = "registry_edit";
pub const DELETE: &str = "registry_delete";

/// The weekdays a class may eat at the canteen, as the form names them: (field, label).
pub const CANTEEN_WEEKDAYS: [(&str, &str, Weekday); 6] = [
    ("lun", "Lunedì", Weekday::Monday),
    ("mar", "Martedì", Weekday::Tuesday),
    ("mer", "Mercoledì", Weekday::Wednesday),
    ("gio", "Giovedì", Weekday::Thursday),
    ("ven", "Venerdì", Weekday::Friday),
    ("sab", "Sabato", Weekday::Saturday),
];

const NAME_MAX: usize = 120;
const TEXT_MAX: usize = 300;
/// The highest meal price and fixed fee accepted (1.000,00 € and 10.000,00 €).
const MEAL_PRICE_MAX: Cents = Cents(100_000);
const FIXED_FEE_MAX: Cents = Cents(1_000_000);

fn field(name: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name,
        message: message.into(),
    }
}

fn fields<T>(errors: Vec<FieldError>, ok: impl FnOnce() -> T) -> Result<T, AppError> {
    if errors.is_empty() {
        Ok(ok())
    } else {
        Err(AppError::Fields(errors))
    }
}

/// A refusal shown above the page (the form's `elimina` button).
fn refused(message: impl Into<String>) -> AppError {
    AppError::Fields(vec![field("elimina", message)])
}

/// The same name ignoring case and repeated spaces.
fn same_name(a: &str, b: &str) -> bool {
    let fold = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    fold(a) == fold(b)
}

/// A required name: trimmed, inner spaces folded, at most `max` characters.
fn required(
    errors: &mut Vec<FieldError>,
    name: &'static str,
    value: &str,
    max: usize,
    empty: &str,
) -> String {
    let v = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if v.is_empty() {
        errors.push(field(name, empty));
    } else if v.chars().count() > max {
        errors.push(field(
            name,
            format!("Il testo è troppo lungo (al massimo {max} caratteri)."),
        ));
    }
    v
}

// --- JSON of the audit log's before and after (serde_json escapes).

fn school_json(s: &NewSchool) -> String {
    json!({
        "name": s.name,
        "kind": s.kind.as_str(),
        "address": s.address,
        "kitchen_email": s.kitchen_email,
    })
    .to_string()
}

fn school_as_new(s: &School) -> NewSchool {
    NewSchool {
        name: s.name.clone(),
        kind: s.kind,
        address: s.address.clone(),
        kitchen_email: s.kitchen_email.clone(),
    }
}

fn class_json(k: &NewClass) -> String {
    json!({
        "school_year_id": k.school_year_id.get(),
        "school_id": k.school_id.get(),
        "name": k.name,
        "canteen_weekdays": k.canteen_weekdays.to_it(),
    })
    .to_string()
}

fn class_as_new(k: &Class) -> NewClass {
    NewClass {
        school_year_id: k.school_year_id,
        school_id: k.school_id,
        name: k.name.clone(),
        canteen_weekdays: k.canteen_weekdays,
    }
}

fn year_json(y: &NewSchoolYear) -> String {
    json!({
        "label": y.label,
        "starts_on": y.starts_on.to_string(),
        "ends_on": y.ends_on.to_string(),
        "first_day": y.first_day.to_string(),
        "last_day": y.last_day.to_string(),
    })
    .to_string()
}

fn year_as_new(y: &SchoolYear) -> NewSchoolYear {
    NewSchoolYear {
        label: y.label.clone(),
        starts_on: y.starts_on,
        ends_on: y.ends_on,
        first_day: y.first_day,
        last_day: y.last_day,
    }
}

fn service_json(year: SchoolYearId, kind: ServiceKind, billing: Billing, name: &str) -> String {
    json!({
        "school_year_id": year.get(),
        "kind": kind.as_str(),
        "billing": billing.as_str(),
        "name": name,
    })
    .to_string()
}

fn band_json(service: ServiceId, b: &NewTariffBand) -> String {
    json!({
        "service_id": service.get(),
        "name": b.name,
        "isee_min_cents": b.isee_min.get(),
        "isee_max_cents": b.isee_max.map(|c| c.get()),
        "residency": b.residency.as_str(),
        "meal_price_cents": b.meal_price.get(),
        "fixed_fee_cents": b.fixed_fee.get(),
        "exempt": b.exempt,
    })
    .to_string()
}

fn band_as_new(b: &TariffBand) -> NewTariffBand {
    NewTariffBand {
        name: b.name.clone(),
        isee_min: b.isee_min,
        isee_max: b.isee_max,
        residency: b.residency,
        meal_price: b.meal_price,
        fixed_fee: b.fixed_fee,
        exempt: b.exempt,
    }
}

fn diet_json(code: &str, name: &str, kind: DietKind) -> String {
    json!({"code": code, "name": name, "kind": kind.as_str()}).to_string()
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    actor: &str,
    action: &str,
    entity: &str,
    id: i64,
    before: Option<String>,
    after: Option<String>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    meals::audit(
        c,
        tenant.id,
        actor,
        action,
        entity,
        Some(id),
        before.as_deref(),
        after.as_deref(),
        "",
        now,
    )
    .await?;
    Ok(())
}

/// A unique index refused the row (two offices adding the same name at once): the field's
/// error, as if the check had found it.
fn duplicate(e: DbError, name: &'static str, message: &str) -> AppError {
    if e.is_unique_violation() {
        AppError::Fields(vec![field(name, message)])
    } else {
        e.into()
    }
}

/// A foreign key refused the delete (a table this module does not count points at the row).
fn still_used(e: DbError, message: &str) -> AppError {
    if e.is_foreign_key_violation() {
        refused(message)
    } else {
        e.into()
    }
}

// --- Schools.

/// The school form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchoolInput {
    pub name: String,
    pub kind: String,
    pub address: String,
    pub kitchen_email: String,
}

impl From<&School> for SchoolInput {
    fn from(s: &School) -> Self {
        SchoolInput {
            name: s.name.clone(),
            kind: s.kind.as_str().into(),
            address: s.address.clone(),
            kitchen_email: s.kitchen_email.clone().unwrap_or_default(),
        }
    }
}

const SCHOOL_DUPLICATE: &str = "Esiste già una scuola con questo nome.";

/// Checks a school form against the municipality's other schools.
pub fn check_school(
    input: &SchoolInput,
    schools: &[School],
    this: Option<SchoolId>,
) -> Result<NewSchool, AppError> {
    let mut errors = Vec::new();
    let name = required(
        &mut errors,
        "nome",
        &input.name,
        NAME_MAX,
        "Scrivi il nome della scuola.",
    );
    if !name.is_empty()
        && schools
            .iter()
            .any(|s| Some(s.id) != this && same_name(&s.name, &name))
    {
        errors.push(field("nome", SCHOOL_DUPLICATE));
    }
    let kind = SchoolKind::parse(input.kind.trim());
    if kind.is_none() {
        errors.push(field("tipo", "Scegli il tipo di scuola."));
    }
    let address = input.address.trim().to_string();
    if address.chars().count() > TEXT_MAX {
        errors.push(field(
            "indirizzo",
            "L'indirizzo è troppo lungo (al massimo 300 caratteri).",
        ));
    }
    let email = input.kitchen_email.trim();
    let kitchen_email = if email.is_empty() {
        None
    } else {
        match crate::auth::check_email(email) {
            Ok(e) => Some(e),
            Err(m) => {
                errors.push(field("email-cucina", m));
                None
            }
        }
    };
    match kind {
        Some(kind) if errors.is_empty() => Ok(NewSchool {
            name,
            kind,
            address,
            kitchen_email,
        }),
        _ => Err(AppError::Fields(errors)),
    }
}

pub async fn add_school(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    input: &SchoolInput,
) -> Result<SchoolId, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let all = school::schools(c, tenant.id).await?;
    let new = check_school(input, &all, None)?;
    let id = school::insert_school(c, tenant.id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", SCHOOL_DUPLICATE))?;
    let after = school_json(&new);
    audit(
        c,
        tenant,
        actor,
        ADD,
        "school",
        id.get(),
        None,
        Some(after),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn school_not_found() -> AppError {
    AppError::NotFound("Scuola non trovata.".into())
}

/// Changes a school; a form with nothing changed writes nothing. True if something changed.
pub async fn edit_school(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: SchoolId,
    input: &SchoolInput,
) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let all = school::schools(c, tenant.id).await?;
    let old = all
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(school_not_found)?;
    let new = check_school(input, &all, Some(id))?;
    let before = school_json(&school_as_new(old));
    let after = school_json(&new);
    if before == after {
        return Ok(false);
    }
    school::update_school(c, tenant.id, id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", SCHOOL_DUPLICATE))?;
    audit(
        c,
        tenant,
        actor,
        EDIT,
        "school",
        id.get(),
        Some(before),
        Some(after),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a school nothing points at; otherwise says what does.
pub async fn delete_school(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: SchoolId,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = school::school(c, tenant.id, id)
        .await?
        .ok_or_else(school_not_found)?;
    let (classes, enrolments, closures, ledger) =
        school::school_references(c, tenant.id, id).await?;
    let mut used = Vec::new();
    if classes > 0 {
        used.push(format!("{classes} classi"));
    }
    if enrolments > 0 {
        used.push(format!("{enrolments} iscrizioni"));
    }
    if closures > 0 {
        used.push(format!("{closures} chiusure"));
    }
    if ledger > 0 {
        used.push("pasti già addebitati".to_string());
    }
    let message = "La scuola è ancora usata e non si può eliminare.";
    if !used.is_empty() {
        return Err(refused(format!(
            "La scuola «{}» non si può eliminare: ha {}. Si elimina solo una scuola inserita per errore e mai usata.",
            old.name,
            used.join(", ")
        )));
    }
    school::delete_school(c, tenant.id, id)
        .await
        .map_err(|e| still_used(e, message))?;
    audit(
        c,
        tenant,
        actor,
        DELETE,
        "school",
        id.get(),
        Some(school_json(&school_as_new(&old))),
        None,
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// --- Classes.

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

fn class_not_found() -> AppError {
    AppError::NotFound("Classe non trovata.".into())
}

/// Adds a class to a school, in the school year chosen in the form.
pub async fn add_class(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    school_id: SchoolId,
    input: &ClassInput,
) -> Result<ClassId, AppError> {
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
        tenant,
        actor,
        ADD,
        "class",
        id.get(),
        None,
        Some(class_json(&new)),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes a class's name and canteen weekdays (its school and year stay). Meals already
/// charged keep their day; the weekdays decide the meals from the next close on. True if
/// something changed.
pub async fn edit_class(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: ClassId,
    input: &ClassInput,
) -> Result<bool, AppError> {
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
        tenant,
        actor,
        EDIT,
        "class",
        id.get(),
        Some(before),
        Some(after),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a class nothing points at; otherwise says what does. The class's school.
pub async fn delete_class(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: ClassId,
) -> Result<SchoolId, AppError> {
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
        tenant,
        actor,
        DELETE,
        "class",
        id.get(),
        Some(class_json(&class_as_new(&old))),
        None,
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(old.school_id)
}

// --- School years.

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

pub async fn add_year(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    input: &YearInput,
) -> Result<SchoolYearId, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let years = calendar::school_years(c, tenant.id).await?;
    let new = check_year(input, &years, None)?;
    let id = calendar::insert_school_year(c, tenant.id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", "Esiste già un anno scolastico con questo nome."))?;
    audit(
        c,
        tenant,
        actor,
        ADD,
        "school_year",
        id.get(),
        None,
        Some(year_json(&new)),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn year_not_found() -> AppError {
    AppError::NotFound("Anno scolastico non trovato.".into())
}

/// Changes a school year's name and dates. Days already closed keep their charges; a closure
/// left outside the new dates stays in the list and simply covers no lesson day. True if
/// something changed.
pub async fn edit_year(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: SchoolYearId,
    input: &YearInput,
) -> Result<bool, AppError> {
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
        tenant,
        actor,
        EDIT,
        "school_year",
        id.get(),
        Some(before),
        Some(after),
        clock.now(),
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

pub async fn year_calendar(
    db: &Db,
    tenant: &Tenant,
    id: SchoolYearId,
) -> Result<YearCalendar, AppError> {
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

// --- Services.

/// The service form as typed (the kind only when adding).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceInput {
    pub kind: String,
    pub billing: String,
    pub name: String,
}

fn check_service(input: &ServiceInput) -> (Vec<FieldError>, Option<Billing>, String) {
    let mut errors = Vec::new();
    let name = required(
        &mut errors,
        "nome",
        &input.name,
        NAME_MAX,
        "Scrivi il nome del servizio.",
    );
    let billing = Billing::parse(input.billing.trim());
    if billing.is_none() {
        errors.push(field("pagamento", "Scegli come si paga il servizio."));
    }
    (errors, billing, name)
}

pub async fn add_service(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    year: SchoolYearId,
    input: &ServiceInput,
) -> Result<ServiceId, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let y = calendar::school_year(c, tenant.id, year)
        .await?
        .ok_or_else(year_not_found)?;
    let (mut errors, billing, name) = check_service(input);
    let kind = ServiceKind::parse(input.kind.trim());
    let taken = format!("Questo servizio esiste già per l'anno {}.", y.label);
    match kind {
        None => errors.push(field("tipo", "Scegli il tipo di servizio.")),
        Some(k) => {
            if service::services(c, tenant.id, year)
                .await?
                .iter()
                .any(|s| s.kind == k)
            {
                errors.push(field("tipo", taken.clone()));
            }
        }
    }
    let (Some(kind), Some(billing), true) = (kind, billing, errors.is_empty()) else {
        return Err(AppError::Fields(errors));
    };
    let id = service::insert_service(c, tenant.id, year, kind, billing, &name)
        .await
        .map_err(|e| duplicate(e, "tipo", &taken))?;
    audit(
        c,
        tenant,
        actor,
        ADD,
        "service",
        id.get(),
        None,
        Some(service_json(year, kind, billing, &name)),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn service_not_found() -> AppError {
    AppError::NotFound("Servizio non trovato.".into())
}

/// Changes a service's name and billing. The billing of a service with enrolments stays: it
/// decides how every family of the service pays. True if something changed.
pub async fn edit_service(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: ServiceId,
    input: &ServiceInput,
) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = service::service(c, tenant.id, id)
        .await?
        .ok_or_else(service_not_found)?;
    let (mut errors, billing, name) = check_service(input);
    if let Some(b) = billing
        && b != old.billing
        && !service::enrolments(c, tenant.id, id).await?.is_empty()
    {
        errors.push(field(
            "pagamento",
            "Il servizio ha già iscrizioni: il modo di pagamento non si può cambiare durante l'anno.",
        ));
    }
    let (Some(billing), true) = (billing, errors.is_empty()) else {
        return Err(AppError::Fields(errors));
    };
    let before = service_json(old.school_year_id, old.kind, old.billing, &old.name);
    let after = service_json(old.school_year_id, old.kind, billing, &name);
    if before == after {
        return Ok(false);
    }
    service::update_service(c, tenant.id, id, billing, &name).await?;
    audit(
        c,
        tenant,
        actor,
        EDIT,
        "service",
        id.get(),
        Some(before),
        Some(after),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A service with its bands (and how many enrolments each has), reductions and year.
#[derive(Debug, Clone)]
pub struct ServiceView {
    pub service: Service,
    pub year: SchoolYear,
    /// Band, enrolments (all, active).
    pub bands: Vec<(TariffBand, i64, i64)>,
    /// (from rank, basis points).
    pub reductions: Vec<(u32, u32)>,
    /// The first day whose meals a repricing would change.
    pub price_from: Date,
}

pub async fn service_view(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    id: ServiceId,
) -> Result<ServiceView, AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let svc = service::service(c, tenant.id, id)
        .await?
        .ok_or_else(service_not_found)?;
    let year = calendar::school_year(c, tenant.id, svc.school_year_id)
        .await?
        .ok_or_else(service_not_found)?;
    let mut bands = Vec::new();
    for b in service::bands(c, tenant.id, id).await? {
        let (all, active) = service::band_enrolments(c, tenant.id, b.id).await?;
        bands.push((b, all, active));
    }
    let reductions = service::sibling_reductions(c, tenant.id, id).await?;
    let price_from = price_from(c, clock, tenant).await?;
    Ok(ServiceView {
        service: svc,
        year,
        bands,
        reductions,
        price_from,
    })
}

/// The first day not closed yet: today, or the day after the last closed day if that is
/// later. Meals before it are charged already.
pub async fn price_from(
    c: &mut Conn<'_>,
    clock: &dyn Clock,
    tenant: &Tenant,
) -> Result<Date, AppError> {
    let day = today(clock, &tenant.timezone);
    Ok(match meals::last_closed_day(c, tenant.id).await? {
        Some(last) if last >= day => last.tomorrow()?,
        _ => day,
    })
}

// --- Tariff bands.

/// The band form as typed. `reprice`: also give the band's active enrolments the new amounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BandInput {
    pub name: String,
    pub isee_min: String,
    pub isee_max: String,
    pub residency: String,
    pub meal_price: String,
    pub fixed_fee: String,
    pub exempt: bool,
    pub reprice: bool,
}

impl From<&TariffBand> for BandInput {
    fn from(b: &TariffBand) -> Self {
        let amount = |c: Cents| c.format_number_it();
        BandInput {
            name: b.name.clone(),
            isee_min: if b.isee_min.is_zero() {
                String::new()
            } else {
                amount(b.isee_min)
            },
            isee_max: b.isee_max.map(amount).unwrap_or_default(),
            residency: b.residency.as_str().into(),
            meal_price: amount(b.meal_price),
            fixed_fee: amount(b.fixed_fee),
            exempt: b.exempt,
            reprice: false,
        }
    }
}

/// An amount field: empty is `empty` (None = required), never negative, at most `max`.
fn amount_field(
    errors: &mut Vec<FieldError>,
    name: &'static str,
    value: &str,
    empty: Option<Cents>,
    max: Cents,
) -> Option<Cents> {
    if value.trim().is_empty() {
        if empty.is_none() {
            errors.push(field(name, "Scrivi l'importo in euro (ad esempio 4,50)."));
        }
        return empty;
    }
    match Cents::parse_it(value) {
        Ok(c) if c.is_negative() => {
            errors.push(field(name, "L'importo non può essere negativo."));
            None
        }
        Ok(c) if c > max => {
            errors.push(field(
                name,
                format!("L'importo è troppo alto (al massimo {}).", max.format_it()),
            ));
            None
        }
        Ok(c) => Some(c),
        Err(_) => {
            errors.push(field(
                name,
                "Scrivi l'importo in euro, con al massimo due decimali (ad esempio 4,50).",
            ));
            None
        }
    }
}

const BAND_DUPLICATE: &str = "Questo servizio ha già una fascia con questo nome.";

/// Checks a band form against the service's other bands. An exempt band pays nothing: its
/// price and fee are stored as zero.
pub fn check_band(
    input: &BandInput,
    bands: &[TariffBand],
    this: Option<TariffBandId>,
) -> Result<NewTariffBand, AppError> {
    let mut errors = Vec::new();
    let name = required(
        &mut errors,
        "nome",
        &input.name,
        NAME_MAX,
        "Scrivi il nome della fascia.",
    );
    if !name.is_empty()
        && bands
            .iter()
            .any(|b| Some(b.id) != this && same_name(&b.name, &name))
    {
        errors.push(field("nome", BAND_DUPLICATE));
    }
    let isee_cap = Cents(1_000_000_000);
    let isee_min = amount_field(
        &mut errors,
        "isee-da",
        &input.isee_min,
        Some(Cents::ZERO),
        isee_cap,
    );
    let isee_max = if input.isee_max.trim().is_empty() {
        Some(None)
    } else {
        amount_field(&mut errors, "isee-a", &input.isee_max, None, isee_cap).map(Some)
    };
    if let (Some(min), Some(Some(max))) = (isee_min, isee_max)
        && max < min
    {
        errors.push(field(
            "isee-a",
            "Il limite massimo dell'ISEE non può essere più basso del minimo.",
        ));
    }
    let residency = Residency::parse(input.residency.trim());
    if residency.is_none() {
        errors.push(field("residenza", "Scegli a chi si applica la fascia."));
    }
    let zero = input.exempt.then_some(Cents::ZERO);
    let meal_price = amount_field(
        &mut errors,
        "prezzo-pasto",
        &input.meal_price,
        zero,
        MEAL_PRICE_MAX,
    );
    let fixed_fee = amount_field(
        &mut errors,
        "quota-fissa",
        &input.fixed_fee,
        Some(Cents::ZERO),
        FIXED_FEE_MAX,
    );
    match (isee_min, isee_max, residency, meal_price, fixed_fee) {
        (Some(isee_min), Some(isee_max), Some(residency), Some(meal), Some(fee))
            if errors.is_empty() =>
        {
            let (meal_price, fixed_fee) = if input.exempt {
                (Cents::ZERO, Cents::ZERO)
            } else {
                (meal, fee)
            };
            Ok(NewTariffBand {
                name,
                isee_min,
                isee_max,
                residency,
                meal_price,
                fixed_fee,
                exempt: input.exempt,
            })
        }
        _ => Err(AppError::Fields(errors)),
    }
}

pub async fn add_band(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    service_id: ServiceId,
    input: &BandInput,
) -> Result<TariffBandId, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    service::service(c, tenant.id, service_id)
        .await?
        .ok_or_else(service_not_found)?;
    let bands = service::bands(c, tenant.id, service_id).await?;
    let new = check_band(input, &bands, None)?;
    let id = service::insert_band(c, tenant.id, service_id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", BAND_DUPLICATE))?;
    audit(
        c,
        tenant,
        actor,
        ADD,
        "tariff_band",
        id.get(),
        None,
        Some(band_json(service_id, &new)),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What a band change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandChange {
    pub service: ServiceId,
    pub changed: bool,
    /// Active enrolments given the new amounts, and the first day charged at them.
    pub repriced: Option<(u64, Date)>,
}

fn band_not_found() -> AppError {
    AppError::NotFound("Fascia non trovata.".into())
}

/// Changes a band. Its enrolments keep their amounts unless `input.reprice`: then the active
/// ones get the new amounts, priced as a new enrolment, from the first day not closed yet (see
/// the module's comment).
pub async fn edit_band(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: TariffBandId,
    input: &BandInput,
) -> Result<BandChange, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = service::band(c, tenant.id, id)
        .await?
        .ok_or_else(band_not_found)?;
    let bands = service::bands(c, tenant.id, old.service_id).await?;
    let new = check_band(input, &bands, Some(id))?;
    let before = band_json(old.service_id, &band_as_new(&old));
    let mut after = band_json(old.service_id, &new);
    let band_changed = before != after;
    // Repricing also brings in line enrolments left at an older price by an earlier change.
    let repriced = if input.reprice {
        let from = price_from(c, clock, tenant).await?;
        let reductions = service::sibling_reductions(c, tenant.id, old.service_id).await?;
        let mut n = 0u64;
        for (enrolment, rank) in service::band_enrolment_ranks(c, tenant.id, id).await? {
            let price = new
                .meal_price
                .apply_basis_points(sibling_rank_reduction(rank, &reductions))
                .ok_or_else(|| AppError::Invalid("Prezzo del pasto fuori scala.".into()))?;
            if service::set_enrolment_amounts(c, tenant.id, enrolment, price, new.fixed_fee).await?
            {
                n += 1;
            }
        }
        after = format!(
            "{},\"enrolments_repriced\":{n},\"repriced_from\":{}}}",
            after.trim_end_matches('}'),
            json!(from.to_string())
        );
        Some((n, from)).filter(|(n, _)| *n > 0)
    } else {
        None
    };
    if !band_changed && repriced.is_none() {
        // Nothing to write: the transaction is dropped (rolled back).
        return Ok(BandChange {
            service: old.service_id,
            changed: false,
            repriced: None,
        });
    }
    service::update_band(c, tenant.id, id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", BAND_DUPLICATE))?;
    audit(
        c,
        tenant,
        actor,
        EDIT,
        "tariff_band",
        id.get(),
        Some(before),
        Some(after),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(BandChange {
        service: old.service_id,
        changed: true,
        repriced,
    })
}

/// Deletes a band no enrolment names; otherwise says so. The band's service.
pub async fn delete_band(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: TariffBandId,
) -> Result<ServiceId, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = service::band(c, tenant.id, id)
        .await?
        .ok_or_else(band_not_found)?;
    let (all, _) = service::band_enrolments(c, tenant.id, id).await?;
    let message = format!(
        "La fascia «{}» non si può eliminare: è usata da {all} iscrizioni. Sposta prima le iscrizioni su un'altra fascia.",
        old.name
    );
    if all > 0 {
        return Err(refused(message));
    }
    service::delete_band(c, tenant.id, id)
        .await
        .map_err(|e| still_used(e, "La fascia è ancora usata e non si può eliminare."))?;
    audit(
        c,
        tenant,
        actor,
        DELETE,
        "tariff_band",
        id.get(),
        Some(band_json(old.service_id, &band_as_new(&old))),
        None,
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(old.service_id)
}

// --- Sibling reductions.

/// The reduction form as typed: from which child (2 = the second) and the percentage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReductionInput {
    pub rank: String,
    pub percent: String,
}

/// Reads a percentage (`50`, `12,5`) as basis points.
fn percent_bp(s: &str) -> Option<u32> {
    let c = Cents::parse_it(s.trim().trim_end_matches('%')).ok()?;
    u32::try_from(c.get()).ok().filter(|bp| *bp <= 10_000)
}

pub fn check_reduction(input: &ReductionInput) -> Result<(u32, u32), AppError> {
    let mut errors = Vec::new();
    let rank = input
        .rank
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|r| (2..=10).contains(r));
    if rank.is_none() {
        errors.push(field(
            "dal-figlio",
            "Scrivi da quale figlio vale la riduzione: un numero da 2 a 10.",
        ));
    }
    let bp = percent_bp(&input.percent);
    if bp.is_none() {
        errors.push(field(
            "percentuale",
            "Scrivi la riduzione in percentuale, tra 0 e 100 (ad esempio 30 o 12,5).",
        ));
    }
    match (rank, bp) {
        (Some(r), Some(bp)) => Ok((r, bp)),
        _ => Err(AppError::Fields(errors)),
    }
}

fn reduction_json(service: ServiceId, rank: u32, bp: u32) -> String {
    json!({"service_id": service.get(), "from_rank": rank, "basis_points": bp}).to_string()
}

/// Sets the reduction from a child on. It applies to enrolments made from then on: an
/// enrolment keeps the price it was given.
pub async fn set_reduction(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    service_id: ServiceId,
    input: &ReductionInput,
) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    service::service(c, tenant.id, service_id)
        .await?
        .ok_or_else(service_not_found)?;
    let (rank, bp) = check_reduction(input)?;
    let old = service::sibling_reductions(c, tenant.id, service_id)
        .await?
        .into_iter()
        .find(|(r, _)| *r == rank);
    if old.is_some_and(|(_, b)| b == bp) {
        return Ok(false);
    }
    service::set_sibling_reduction(c, tenant.id, service_id, rank, bp).await?;
    audit(
        c,
        tenant,
        actor,
        if old.is_some() { EDIT } else { ADD },
        "sibling_reduction",
        service_id.get(),
        old.map(|(r, b)| reduction_json(service_id, r, b)),
        Some(reduction_json(service_id, rank, bp)),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn delete_reduction(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    service_id: ServiceId,
    rank: u32,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = service::sibling_reductions(c, tenant.id, service_id)
        .await?
        .into_iter()
        .find(|(r, _)| *r == rank)
        .ok_or_else(|| AppError::NotFound("Riduzione non trovata.".into()))?;
    service::delete_sibling_reduction(c, tenant.id, service_id, rank).await?;
    audit(
        c,
        tenant,
        actor,
        DELETE,
        "sibling_reduction",
        service_id.get(),
        Some(reduction_json(service_id, old.0, old.1)),
        None,
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// --- Diets.

/// The diet form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DietInput {
    pub code: String,
    pub name: String,
    pub kind: String,
}

impl From<&Diet> for DietInput {
    fn from(d: &Diet) -> Self {
        DietInput {
            code: d.code.clone(),
            name: d.name.clone(),
            kind: d.kind.as_str().into(),
        }
    }
}

const DIET_DUPLICATE: &str = "Esiste già una dieta con questo codice.";

/// Checks a diet: a short code not taken (upper case, no spaces), a name, a kind.
pub fn check_diet(
    input: &DietInput,
    diets: &[Diet],
    this: Option<DietId>,
) -> Result<(String, String, DietKind), AppError> {
    let mut errors = Vec::new();
    let code = input.code.trim().to_uppercase();
    if code.is_empty() {
        errors.push(field(
            "codice",
            "Scrivi il codice della dieta (ad esempio D01).",
        ));
    } else if code.chars().count() > 20
        || !code
            .chars()
            .all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_')
    {
        errors.push(field(
            "codice",
            "Il codice ha al massimo 20 caratteri: lettere, cifre, trattino.",
        ));
    } else if diets
        .iter()
        .any(|d| Some(d.id) != this && same_name(&d.code, &code))
    {
        errors.push(field("codice", DIET_DUPLICATE));
    }
    let name = required(
        &mut errors,
        "nome",
        &input.name,
        NAME_MAX,
        "Scrivi il nome della dieta, come lo legge la cucina.",
    );
    let kind = DietKind::parse(input.kind.trim());
    if kind.is_none() {
        errors.push(field("tipo", "Scegli il tipo di dieta."));
    }
    match kind {
        Some(k) if errors.is_empty() => Ok((code, name, k)),
        _ => Err(AppError::Fields(errors)),
    }
}

pub async fn add_diet(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    input: &DietInput,
) -> Result<DietId, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let diets = service::diets(c, tenant.id).await?;
    let (code, name, kind) = check_diet(input, &diets, None)?;
    let id = service::insert_diet(c, tenant.id, &code, &name, kind)
        .await
        .map_err(|e| duplicate(e, "codice", DIET_DUPLICATE))?;
    audit(
        c,
        tenant,
        actor,
        ADD,
        "diet",
        id.get(),
        None,
        Some(diet_json(&code, &name, kind)),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn diet_not_found() -> AppError {
    AppError::NotFound("Dieta non trovata.".into())
}

/// Changes a diet. The kitchen's numbers of days already closed keep the diet they were
/// cooked with (its id); the new code and name show from now on. True if something changed.
pub async fn edit_diet(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: DietId,
    input: &DietInput,
) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let diets = service::diets(c, tenant.id).await?;
    let old = diets
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(diet_not_found)?;
    let (code, name, kind) = check_diet(input, &diets, Some(id))?;
    let before = diet_json(&old.code, &old.name, old.kind);
    let after = diet_json(&code, &name, kind);
    if before == after {
        return Ok(false);
    }
    service::update_diet(c, tenant.id, id, &code, &name, kind)
        .await
        .map_err(|e| duplicate(e, "codice", DIET_DUPLICATE))?;
    audit(
        c,
        tenant,
        actor,
        EDIT,
        "diet",
        id.get(),
        Some(before),
        Some(after),
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a diet nothing points at; otherwise says what does.
pub async fn delete_diet(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: DietId,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = service::diet(c, tenant.id, id)
        .await?
        .ok_or_else(diet_not_found)?;
    let (enrolments, ledger) = service::diet_references(c, tenant.id, id).await?;
    if enrolments > 0 || ledger > 0 {
        let what = if enrolments > 0 {
            format!("è assegnata a {enrolments} iscrizioni")
        } else {
            "la cucina l'ha già preparata in giorni chiusi".to_string()
        };
        return Err(refused(format!(
            "La dieta {} non si può eliminare: {what}.",
            old.code
        )));
    }
    service::delete_diet(c, tenant.id, id)
        .await
        .map_err(|e| still_used(e, "La dieta è ancora usata e non si può eliminare."))?;
    audit(
        c,
        tenant,
        actor,
        DELETE,
        "diet",
        id.get(),
        Some(diet_json(&old.code, &old.name, old.kind)),
        None,
        clock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(id: i64, name: &str) -> School {
        School {
            id: SchoolId(id),
            name: name.into(),
            kind: SchoolKind::Primaria,
            address: String::new(),
            kitchen_email: None,
        }
    }

    fn errors_of<T: std::fmt::Debug>(r: Result<T, AppError>) -> Vec<&'static str> {
        match r {
            Err(AppError::Fields(e)) => e.iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn school_names_are_required_and_unique_ignoring_case() {
        let all = [school(1, "Primaria Dante Alighieri")];
        let input = SchoolInput {
            name: "  primaria  dante alighieri ".into(),
            kind: "primaria".into(),
            ..Default::default()
        };
        assert_eq!(errors_of(check_school(&input, &all, None)), ["nome"]);
        // Its own name is not a duplicate.
        assert!(check_school(&input, &all, Some(SchoolId(1))).is_ok());
        let empty = SchoolInput {
            kitchen_email: "non-valida".into(),
            ..Default::default()
        };
        assert_eq!(
            errors_of(check_school(&empty, &all, None)),
            ["nome", "tipo", "email-cucina"]
        );
    }

    #[test]
    fn classes_need_a_weekday() {
        let input = ClassInput {
            year: "1".into(),
            name: "1A".into(),
            weekdays: vec![],
        };
        assert_eq!(
            errors_of(check_class(&input, Some(SchoolYearId(1)), &[], None)),
            ["giorni"]
        );
        let input = ClassInput {
            weekdays: vec!["lun".into(), "gio".into(), "dom".into()],
            ..input
        };
        let (_, days) = check_class(&input, Some(SchoolYearId(1)), &[], None).unwrap();
        assert_eq!(days.to_it(), Weekdays::parse_it("lun gio").unwrap().to_it());
    }

    #[test]
    fn band_amounts_are_never_negative_and_exempt_pays_nothing() {
        let input = BandInput {
            name: "Fascia A".into(),
            residency: "any".into(),
            meal_price: "-1,00".into(),
            isee_min: "10.000,00".into(),
            isee_max: "5.000,00".into(),
            ..Default::default()
        };
        assert_eq!(
            errors_of(check_band(&input, &[], None)),
            ["isee-a", "prezzo-pasto"]
        );
        let exempt = BandInput {
            name: "Esenti".into(),
            residency: "any".into(),
            meal_price: "3,00".into(),
            exempt: true,
            ..Default::default()
        };
        let b = check_band(&exempt, &[], None).unwrap();
        assert_eq!(
            (b.meal_price, b.fixed_fee, b.exempt),
            (Cents::ZERO, Cents::ZERO, true)
        );
    }

    #[test]
    fn years_are_in_order_and_do_not_overlap() {
        let input = YearInput {
            label: "2027/2028".into(),
            starts_on: "2027-09-01".into(),
            ends_on: "2028-08-31".into(),
            first_day: "2027-09-15".into(),
            last_day: "2027-09-10".into(),
        };
        assert_eq!(errors_of(check_year(&input, &[], None)), ["ultimo-giorno"]);
        let ok = YearInput {
            last_day: "2028-06-10".into(),
            ..input
        };
        let y = check_year(&ok, &[], None).unwrap();
        let existing = SchoolYear {
            id: SchoolYearId(1),
            label: "2026/2027".into(),
            starts_on: "2026-09-01".parse().unwrap(),
            ends_on: "2027-09-01".parse().unwrap(),
            first_day: y.first_day,
            last_day: y.first_day,
        };
        assert_eq!(errors_of(check_year(&ok, &[existing], None)), ["inizio"]);
    }

    #[test]
    fn reductions_and_diets() {
        assert_eq!(
            check_reduction(&ReductionInput {
                rank: "2".into(),
                percent: "12,5".into()
            })
            .unwrap(),
            (2, 1250)
        );
        assert_eq!(
            errors_of(check_reduction(&ReductionInput {
                rank: "1".into(),
                percent: "120".into()
            })),
            ["dal-figlio", "percentuale"]
        );
        let d = check_diet(
            &DietInput {
                code: " d01 ".into(),
                name: "Senza glutine".into(),
                kind: "health".into(),
            },
            &[],
            None,
        )
        .unwrap();
        assert_eq!(d.0, "D01");
    }
}
