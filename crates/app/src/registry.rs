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

use jiff::civil::Weekday;
use refettorio_db::DbError;
use refettorio_db::registry::calendar::NewSchoolYear;
use refettorio_db::registry::school::NewClass;
use refettorio_db::registry::school::NewSchool;
use refettorio_db::registry::service::NewTariffBand;
use refettorio_domain::Billing;
use refettorio_domain::Cents;
use refettorio_domain::DietKind;
use refettorio_domain::SchoolYearId;
use refettorio_domain::ServiceId;
use refettorio_domain::ServiceKind;
use serde_json::{Value, json};

use crate::AppError;
use crate::FieldError;

mod band;
mod class;
mod diet;
mod read;
mod reduction;
mod school;
mod service;
mod year;

pub use band::{BandChange, BandInput, add_band, check_band, delete_band, edit_band};
pub use class::{ClassInput, add_class, check_class, delete_class, edit_class};
pub use diet::{DietInput, add_diet, check_diet, delete_diet, edit_diet};
pub use read::{
    RegistryCounts, band, class_file, counts, current_or_last, diet, diets, school_file,
    school_years, schools, schools_and_classes, services_of_year,
};
pub use reduction::{ReductionInput, check_reduction, delete_reduction, set_reduction};
/// The registry's values, as the pages show them.
pub use refettorio_db::registry::calendar::SchoolYear;
pub use refettorio_db::registry::school::{Class, School};
pub use refettorio_db::registry::service::{Diet, Service, TariffBand};
pub use school::{SchoolInput, add_school, check_school, delete_school, edit_school};
pub use service::{ServiceInput, ServiceView, add_service, edit_service, price_from, service_view};
pub use year::{YearCalendar, YearInput, add_year, check_year, edit_year, year_calendar};

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

fn school_json(s: &NewSchool) -> Value {
    json!({
        "name": s.name,
        "kind": s.kind.as_str(),
        "address": s.address,
        "kitchen_email": s.kitchen_email,
    })
}

fn school_as_new(s: &School) -> NewSchool {
    NewSchool {
        name: s.name.clone(),
        kind: s.kind,
        address: s.address.clone(),
        kitchen_email: s.kitchen_email.clone(),
    }
}

fn class_json(k: &NewClass) -> Value {
    json!({
        "school_year_id": k.school_year_id.get(),
        "school_id": k.school_id.get(),
        "name": k.name,
        "canteen_weekdays": k.canteen_weekdays.to_it(),
    })
}

fn class_as_new(k: &Class) -> NewClass {
    NewClass {
        school_year_id: k.school_year_id,
        school_id: k.school_id,
        name: k.name.clone(),
        canteen_weekdays: k.canteen_weekdays,
    }
}

fn year_json(y: &NewSchoolYear) -> Value {
    json!({
        "label": y.label,
        "starts_on": y.starts_on.to_string(),
        "ends_on": y.ends_on.to_string(),
        "first_day": y.first_day.to_string(),
        "last_day": y.last_day.to_string(),
    })
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

fn service_json(year: SchoolYearId, kind: ServiceKind, billing: Billing, name: &str) -> Value {
    json!({
        "school_year_id": year.get(),
        "kind": kind.as_str(),
        "billing": billing.as_str(),
        "name": name,
    })
}

fn band_json(service: ServiceId, b: &NewTariffBand) -> Value {
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

fn diet_json(code: &str, name: &str, kind: DietKind) -> Value {
    json!({"code": code, "name": name, "kind": kind.as_str()})
}

use crate::audit::write as audit;

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

#[cfg(test)]
mod tests;
