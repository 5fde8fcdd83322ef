//! People in the office's registry: the search by name, fiscal code or card code; pupils,
//! guardians, family links and the payer; enrolments and their changes with an effective day;
//! and the school role's class lists of its own schools.
//!
//! The daily close reads only the enrolment row, so a change of class, band, diet or state is
//! kept in `enrolment_change` until its day and then written to the row: by the scheduler before
//! it closes that day ([`apply_due_changes`], also at start-up), or at once when it takes effect
//! today and today is not closed. A day already closed cannot be changed. Every change is
//! audited, with the row before and after.

use std::collections::HashMap;

use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::close;
use refettorio_db::registry::calendar;
use refettorio_db::registry::calendar::SchoolYear;

use refettorio_db::registry::family::NewGuardian;
use refettorio_db::registry::family::NewPupil;
use refettorio_db::registry::school;
use refettorio_db::registry::school::Class;
use refettorio_db::registry::service;
use refettorio_db::registry::service::Diet;
use refettorio_db::registry::service::Enrolment;
use refettorio_db::registry::service::EnrolmentChange;
use refettorio_db::registry::service::Service;
use refettorio_db::registry::service::TariffBand;
use refettorio_db::registry::tenant::Tenant;
use refettorio_domain::ClassId;
use refettorio_domain::CodiceFiscale;
use refettorio_domain::DietId;
use refettorio_domain::SchoolId;
use refettorio_domain::ServiceId;
use refettorio_domain::TariffBandId;
use serde_json::{Value, json};

use crate::AppError;
use crate::FieldError;

mod change;
mod enrolment;
mod family;
mod guardian;
mod pupil;
mod roster;
mod search;

/// The people's registry's values, as the pages show them.
pub use refettorio_db::registry::family::{Family, Guardian, Link, Pupil};

pub use change::{ChangeInput, Scheduled, apply_due_changes, enrolment_pupil, schedule_change};
pub use enrolment::{EnrolInput, enrol};
pub use family::{FamilyFile, add_delegate, add_family, change_payer, family_file};
pub use guardian::{GuardianInput, check_guardian, guardian_file, update_guardian};
pub use pupil::{PupilFile, PupilInput, add_pupil, pupil_file, update_pupil};
pub use roster::{Roster, RosterPupil, class_roster, school_classes, visible_schools};
pub use search::{FamilyHit, SEARCH_LIMIT, find_families, people_query};

fn field(name: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name,
        message: message.into(),
    }
}

fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Names of the things an enrolment points at, for pages.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub services: HashMap<ServiceId, String>,
    pub schools: HashMap<SchoolId, String>,
    pub classes: HashMap<ClassId, (String, SchoolId)>,
    pub bands: HashMap<TariffBandId, String>,
    pub diets: HashMap<DietId, String>,
}

impl Names {
    pub fn class(&self, id: ClassId) -> String {
        self.classes.get(&id).map_or_else(String::new, |(n, s)| {
            format!("{n} – {}", self.schools.get(s).map_or("", String::as_str))
        })
    }
    pub fn service(&self, id: ServiceId) -> &str {
        self.services.get(&id).map_or("", String::as_str)
    }
    pub fn band(&self, id: TariffBandId) -> &str {
        self.bands.get(&id).map_or("", String::as_str)
    }
    pub fn diet(&self, id: Option<DietId>) -> String {
        id.and_then(|d| self.diets.get(&d).cloned())
            .unwrap_or_else(|| "Nessuna".into())
    }

    /// "Classe: 2B – Scuola …; dieta: Nessuna" for a scheduled change.
    pub fn describe(&self, ch: &EnrolmentChange) -> String {
        let mut parts = Vec::new();
        if let Some(k) = ch.class_id {
            parts.push(format!("classe {}", self.class(k)));
        }
        if let Some(b) = ch.tariff_band_id {
            parts.push(format!("fascia {}", self.band(b)));
        }
        if ch.clear_diet {
            parts.push("nessuna dieta".into());
        } else if let Some(d) = ch.diet_id {
            parts.push(format!("dieta {}", self.diet(Some(d))));
        }
        if let Some(s) = ch.state {
            parts.push(format!("stato {}", s.label_it()));
        }
        parts.join("; ")
    }
}

/// What the enrolment forms offer: the school years not over yet, with their services,
/// classes, bands; the diets.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub services: Vec<(Service, SchoolYear)>,
    pub classes: Vec<Class>,
    pub bands: Vec<TariffBand>,
    pub diets: Vec<Diet>,
    pub names: Names,
}

async fn options(c: &mut Conn<'_>, tenant: &Tenant, day: Date) -> Result<Options, AppError> {
    let mut o = Options::default();
    let years = calendar::school_years(c, tenant.id).await?;
    for s in school::schools(c, tenant.id).await? {
        o.names.schools.insert(s.id, s.name);
    }
    for y in &years {
        for svc in service::services(c, tenant.id, y.id).await? {
            o.names
                .services
                .insert(svc.id, format!("{} {}", svc.name, y.label));
            for b in service::bands(c, tenant.id, svc.id).await? {
                o.names.bands.insert(b.id, b.name.clone());
                if y.ends_on >= day {
                    o.bands.push(b);
                }
            }
            if y.ends_on >= day {
                o.services.push((svc, y.clone()));
            }
        }
        for k in school::classes(c, tenant.id, y.id).await? {
            o.names.classes.insert(k.id, (k.name.clone(), k.school_id));
            if y.ends_on >= day {
                o.classes.push(k);
            }
        }
    }
    o.diets = service::diets(c, tenant.id).await?;
    for d in &o.diets {
        o.names
            .diets
            .insert(d.id, format!("{} – {}", d.code, d.name));
    }
    Ok(o)
}

/// The first day whose meals are not closed: today, or the day after the last closed one.
async fn first_open_day(c: &mut Conn<'_>, tenant: &Tenant, today: Date) -> Result<Date, AppError> {
    let last = close::last_closed_day(c, tenant.id).await?;
    Ok(match last {
        Some(d) if d >= today => d.tomorrow()?,
        _ => today,
    })
}

fn guardian_json(g: &NewGuardian) -> Value {
    json!({
        "fiscal_code": g.fiscal_code.as_str(),
        "first_name": g.first_name,
        "last_name": g.last_name,
        "email": g.email,
        "phone": g.phone,
        "address": g.address,
        "resident": g.resident,
    })
}

fn guardian_json_of(g: &Guardian) -> Value {
    guardian_json(&NewGuardian {
        fiscal_code: g.fiscal_code.clone(),
        first_name: g.first_name.clone(),
        last_name: g.last_name.clone(),
        email: g.email.clone(),
        phone: g.phone.clone(),
        address: g.address.clone(),
        resident: g.resident,
    })
}

fn pupil_json(p: &NewPupil) -> Value {
    json!({
        "family": p.family_id.get(),
        "fiscal_code": p.fiscal_code.as_ref().map(CodiceFiscale::as_str),
        "first_name": p.first_name,
        "last_name": p.last_name,
        "birth_date": p.birth_date.to_string(),
    })
}

fn enrolment_json(e: &Enrolment) -> Value {
    json!({
        "pupil": e.pupil_id.get(),
        "service": e.service_id.get(),
        "school": e.school_id.get(),
        "class": e.class_id.get(),
        "band": e.tariff_band_id.get(),
        "meal_price_cents": e.meal_price.get(),
        "fixed_fee_cents": e.fixed_fee.get(),
        "diet": e.diet_id.map(DietId::get),
        "state": e.state.as_str(),
        "start_date": e.start_date.to_string(),
        "card_code": e.card_code,
    })
}

use crate::audit::write as audit;

fn duplicate_cf(e: refettorio_db::DbError) -> AppError {
    if e.is_unique_violation() {
        AppError::Fields(vec![field(
            "codice-fiscale",
            "Questo codice fiscale è già registrato.",
        )])
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests;
