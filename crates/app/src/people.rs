//! People in the office's registry: the search by name, fiscal code or card code; pupils,
//! guardians, family links and the payer; enrolments and their changes with an effective day;
//! and the school role's class lists of its own schools.
//!
//! The daily close reads only the enrolment row, so a change of class, band, diet or state is
//! kept in `enrolment_change` until its day and then written to the row: by the scheduler before
//! it closes that day ([`apply_due_changes`], also at start-up), or at once when it takes effect
//! today and today is not closed. A day already closed cannot be changed. Every change is
//! audited, with the row before and after.

use std::collections::{BTreeSet, HashMap};

use jiff::civil::Date;
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::family::{
    self, Family, Guardian, NewGuardian, NewPupil, PeopleQuery, Pupil,
};
use refettorio_db::registry::school::{self, Class, School};
use refettorio_db::registry::service::{
    self, Diet, Enrolment, EnrolmentChange, NewEnrolment, NewEnrolmentChange, Service, TariffBand,
};
use refettorio_db::registry::staff;
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::{Conn, Db, meals};
use refettorio_domain::{
    Cents, ClassId, Clock, CodiceFiscale, DietId, EnrolmentId, EnrolmentState, EntryKind, FamilyId,
    GuardianId, MealChoice, PupilId, SchoolId, ServiceId, TariffBandId, day_it,
    sibling_rank_reduction, today,
};
use serde_json::json;

use crate::search::{FamilyHit, SEARCH_LIMIT};
use crate::{AppError, FieldError};

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

/// What a search box's text asks for: a name prefix (two characters at least), a fiscal code
/// when it is one, a card code (as typed and upper case) when it has no spaces.
pub fn people_query(text: &str) -> PeopleQuery {
    let name = fold(text);
    let compact: String = text.split_whitespace().collect();
    let fiscal_code = CodiceFiscale::parse(&compact)
        .ok()
        .map(|cf| cf.as_str().to_string());
    let card_codes = if compact.is_empty() || text.trim().contains(char::is_whitespace) {
        Vec::new()
    } else {
        let up = compact.to_uppercase();
        if up == compact {
            vec![compact]
        } else {
            vec![compact, up]
        }
    };
    PeopleQuery {
        name_prefix: if name.chars().count() >= 2 {
            name
        } else {
            String::new()
        },
        fiscal_code,
        card_codes,
    }
}

/// Families with a pupil or guardian whose name ("surname name" or "name surname") starts with
/// `text`, or whose fiscal code or card code is `text`: at most [`SEARCH_LIMIT`], by payer
/// name, each with its pupils and prepaid accounts. One indexed query finds them.
pub async fn find_families(
    db: &Db,
    tenant: &Tenant,
    text: &str,
) -> Result<Vec<FamilyHit>, AppError> {
    let q = people_query(text);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let limit = u32::try_from(SEARCH_LIMIT).unwrap_or(u32::MAX);
    let ids = family::search_families(c, tenant.id, &q, limit).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(f) = family::family(c, tenant.id, id).await? else {
            continue;
        };
        let Some(payer) = family::guardian(c, tenant.id, f.payer_id).await? else {
            continue;
        };
        let pupils = family::pupils_of_family(c, tenant.id, f.id).await?;
        let access = crate::portal::Access {
            families: vec![(f.clone(), family::Link::Payer)],
        };
        let mut accounts = Vec::new();
        for (a, svc, year) in crate::portal::visible_accounts(c, tenant, &access).await? {
            let balance = meals::balance(c, tenant.id, a.id).await?;
            accounts.push((a.id, format!("{} {}", svc.name, year.label), balance));
        }
        out.push(FamilyHit {
            family: f,
            payer,
            pupils,
            accounts,
        });
    }
    Ok(out)
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

/// A pupil's page: its data, family, guardians, enrolments and their changes.
#[derive(Debug, Clone)]
pub struct PupilFile {
    pub pupil: Pupil,
    pub family: Family,
    pub payer: Guardian,
    /// Delegates, with whether each may see payments.
    pub delegates: Vec<(Guardian, bool)>,
    /// The other pupils of the family.
    pub siblings: Vec<Pupil>,
    pub enrolments: Vec<Enrolment>,
    /// Applied or not, by effective day.
    pub changes: Vec<EnrolmentChange>,
    pub options: Options,
    pub today: Date,
    /// The first day a change may take effect.
    pub first_change_day: Date,
}

/// The first day whose meals are not closed: today, or the day after the last closed one.
async fn first_open_day(c: &mut Conn<'_>, tenant: &Tenant, today: Date) -> Result<Date, AppError> {
    let last = meals::last_closed_day(c, tenant.id).await?;
    Ok(match last {
        Some(d) if d >= today => d.tomorrow()?,
        _ => today,
    })
}

pub async fn pupil_file(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    id: PupilId,
) -> Result<PupilFile, AppError> {
    let not_found = || AppError::NotFound("Alunno non trovato.".into());
    let day = today(clock, &tenant.timezone);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let pupil = family::pupil(c, tenant.id, id)
        .await?
        .ok_or_else(not_found)?;
    let fam = family::family(c, tenant.id, pupil.family_id)
        .await?
        .ok_or_else(not_found)?;
    let payer = family::guardian(c, tenant.id, fam.payer_id)
        .await?
        .ok_or_else(not_found)?;
    let delegates = family::delegates(c, tenant.id, fam.id).await?;
    let siblings = family::pupils_of_family(c, tenant.id, fam.id)
        .await?
        .into_iter()
        .filter(|p| p.id != id)
        .collect();
    let enrolments = service::enrolments_of_pupil(c, tenant.id, id).await?;
    let changes = service::changes_of_pupil(c, tenant.id, id).await?;
    let options = options(c, tenant, day).await?;
    let first_change_day = first_open_day(c, tenant, day).await?;
    Ok(PupilFile {
        pupil,
        family: fam,
        payer,
        delegates,
        siblings,
        enrolments,
        changes,
        options,
        today: day,
        first_change_day,
    })
}

/// A family's page: payer, delegates and pupils.
#[derive(Debug, Clone)]
pub struct FamilyFile {
    pub family: Family,
    pub payer: Guardian,
    pub delegates: Vec<(Guardian, bool)>,
    pub pupils: Vec<Pupil>,
}

pub async fn family_file(db: &Db, tenant: &Tenant, id: FamilyId) -> Result<FamilyFile, AppError> {
    let not_found = || AppError::NotFound("Famiglia non trovata.".into());
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let family = family::family(c, tenant.id, id)
        .await?
        .ok_or_else(not_found)?;
    let payer = family::guardian(c, tenant.id, family.payer_id)
        .await?
        .ok_or_else(not_found)?;
    let delegates = family::delegates(c, tenant.id, id).await?;
    let pupils = family::pupils_of_family(c, tenant.id, id).await?;
    Ok(FamilyFile {
        family,
        payer,
        delegates,
        pupils,
    })
}

/// A guardian as typed in a form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardianInput {
    pub fiscal_code: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    pub resident: bool,
}

const NAME_MAX: usize = 100;

fn check_name(errors: &mut Vec<FieldError>, name: &'static str, value: &str, what: &str) -> String {
    let v = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if v.is_empty() {
        errors.push(field(name, format!("Indica il {what}.")));
    } else if v.chars().count() > NAME_MAX {
        errors.push(field(
            name,
            format!("Il {what} è troppo lungo (al massimo {NAME_MAX} caratteri)."),
        ));
    } else if !v.chars().any(char::is_alphabetic) {
        errors.push(field(name, format!("Il {what} deve contenere lettere.")));
    }
    v
}

fn check_fiscal_code(
    errors: &mut Vec<FieldError>,
    name: &'static str,
    value: &str,
) -> Option<CodiceFiscale> {
    match CodiceFiscale::parse(value) {
        Ok(cf) => Some(cf),
        Err(e) => {
            errors.push(field(name, format!("{e}.")));
            None
        }
    }
}

/// Checks a guardian's form; field names are `prefix` + `codice-fiscale`, `nome`, `cognome`,
/// `email`, `telefono`.
pub fn check_guardian(g: &GuardianInput) -> Result<NewGuardian, Vec<FieldError>> {
    let mut errors = Vec::new();
    let cf = check_fiscal_code(&mut errors, "codice-fiscale", &g.fiscal_code);
    let first_name = check_name(&mut errors, "nome", &g.first_name, "nome");
    let last_name = check_name(&mut errors, "cognome", &g.last_name, "cognome");
    let email = g.email.trim().to_string();
    if !email.is_empty() && !is_email(&email) {
        errors.push(field(
            "email",
            "L'indirizzo e-mail non è valido (ad esempio nome@esempio.it).",
        ));
    }
    let phone = g.phone.trim().to_string();
    if !phone.is_empty()
        && (phone.chars().count() > 20
            || !phone
                .chars()
                .all(|ch| ch.is_ascii_digit() || " +-/().".contains(ch)))
    {
        errors.push(field(
            "telefono",
            "Il numero di telefono può contenere solo cifre, spazi e il segno +.",
        ));
    }
    let address = g.address.trim().to_string();
    if address.chars().count() > 200 {
        errors.push(field(
            "indirizzo",
            "L'indirizzo è troppo lungo (al massimo 200 caratteri).",
        ));
    }
    match cf {
        Some(fiscal_code) if errors.is_empty() => Ok(NewGuardian {
            fiscal_code,
            first_name,
            last_name,
            email: (!email.is_empty()).then_some(email),
            phone: (!phone.is_empty()).then_some(phone),
            address,
            resident: g.resident,
        }),
        _ => Err(errors),
    }
}

fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(user), Some(domain), None) => {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && s.len() <= 254
        }
        _ => false,
    }
}

/// A pupil as typed in a form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PupilInput {
    /// Optional: a newborn or a foreign child may not have one yet.
    pub fiscal_code: String,
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`
    pub birth_date: String,
}

fn check_pupil(p: &PupilInput, family: FamilyId, day: Date) -> Result<NewPupil, AppError> {
    let mut errors = Vec::new();
    let cf = if p.fiscal_code.trim().is_empty() {
        None
    } else {
        check_fiscal_code(&mut errors, "codice-fiscale", &p.fiscal_code)
    };
    let first_name = check_name(&mut errors, "nome", &p.first_name, "nome");
    let last_name = check_name(&mut errors, "cognome", &p.last_name, "cognome");
    let birth = match p.birth_date.trim().parse::<Date>() {
        Ok(d) if d > day => {
            errors.push(field("nascita", "La data di nascita è nel futuro."));
            None
        }
        Ok(d) if d.year() < day.year() - 25 => {
            errors.push(field("nascita", "La data di nascita non è plausibile."));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field(
                "nascita",
                "Indica la data di nascita (giorno, mese e anno).",
            ));
            None
        }
    };
    if let (Some(cf), Some(b)) = (&cf, birth)
        && cf.birth_date(day).is_some_and(|d| d != b)
    {
        errors.push(field(
            "codice-fiscale",
            "Il codice fiscale non corrisponde alla data di nascita.",
        ));
    }
    match birth {
        Some(birth_date) if errors.is_empty() => Ok(NewPupil {
            family_id: family,
            fiscal_code: cf,
            first_name,
            last_name,
            birth_date,
        }),
        _ => Err(AppError::Fields(errors)),
    }
}

fn guardian_json(g: &NewGuardian) -> String {
    json!({
        "fiscal_code": g.fiscal_code.as_str(),
        "first_name": g.first_name,
        "last_name": g.last_name,
        "email": g.email,
        "phone": g.phone,
        "address": g.address,
        "resident": g.resident,
    })
    .to_string()
}

fn guardian_json_of(g: &Guardian) -> String {
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

fn pupil_json(p: &NewPupil) -> String {
    json!({
        "family": p.family_id.get(),
        "fiscal_code": p.fiscal_code.as_ref().map(CodiceFiscale::as_str),
        "first_name": p.first_name,
        "last_name": p.last_name,
        "birth_date": p.birth_date.to_string(),
    })
    .to_string()
}

fn enrolment_json(e: &Enrolment) -> String {
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
    .to_string()
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    actor: &str,
    action: &str,
    entity: &str,
    id: i64,
    before: Option<&str>,
    after: Option<&str>,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    meals::audit(
        c,
        tenant.id,
        actor,
        action,
        entity,
        Some(id),
        before,
        after,
        reason,
        now,
    )
    .await?;
    Ok(())
}

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

/// A new family: its payer (a new guardian) and its ISEE. Returns the family.
pub async fn add_family(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    payer: &GuardianInput,
    isee: &str,
) -> Result<FamilyId, AppError> {
    let mut errors = Vec::new();
    let g = check_guardian(payer).map_err(|e| errors.extend(e)).ok();
    let isee = match isee.trim() {
        "" => None,
        s => match Cents::parse_it(s) {
            Ok(v) if !v.is_negative() => Some(v),
            _ => {
                errors.push(field(
                    "isee",
                    "Scrivi l'ISEE in euro (ad esempio 12500,00), oppure lascialo vuoto se non è dichiarato.",
                ));
                None
            }
        },
    };
    let Some(g) = g.filter(|_| errors.is_empty()) else {
        return Err(AppError::Fields(errors));
    };
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if family::guardian_by_fiscal_code(c, tenant.id, &g.fiscal_code)
        .await?
        .is_some()
    {
        return Err(AppError::Fields(vec![field(
            "codice-fiscale",
            "Questo genitore è già registrato: cercalo e aggiungi l'alunno alla sua famiglia.",
        )]));
    }
    let gid = family::insert_guardian(c, tenant.id, &g, None)
        .await
        .map_err(duplicate_cf)?;
    let fid = family::insert_family(c, tenant.id, gid, isee).await?;
    let after = json!({"payer": gid.get(), "guardian": serde_json::from_str::<serde_json::Value>(&guardian_json(&g)).unwrap_or_default(), "isee_cents": isee.map(Cents::get)}).to_string();
    audit(
        c,
        tenant,
        actor,
        "add_family",
        "family",
        fid.get(),
        None,
        Some(&after),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(fid)
}

/// Adds a pupil to a family. Returns the pupil.
pub async fn add_pupil(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    family_id: FamilyId,
    input: &PupilInput,
) -> Result<PupilId, AppError> {
    let day = today(clock, &tenant.timezone);
    let p = check_pupil(input, family_id, day)?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if family::family(c, tenant.id, family_id).await?.is_none() {
        return Err(AppError::NotFound("Famiglia non trovata.".into()));
    }
    let id = family::insert_pupil(c, tenant.id, &p)
        .await
        .map_err(duplicate_cf)?;
    audit(
        c,
        tenant,
        actor,
        "add_pupil",
        "pupil",
        id.get(),
        None,
        Some(&pupil_json(&p)),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Rewrites a pupil's data.
pub async fn update_pupil(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: PupilId,
    input: &PupilInput,
) -> Result<(), AppError> {
    let day = today(clock, &tenant.timezone);
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let before = family::pupil(c, tenant.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Alunno non trovato.".into()))?;
    let p = check_pupil(input, before.family_id, day)?;
    let old = NewPupil {
        family_id: before.family_id,
        fiscal_code: before.fiscal_code.clone(),
        first_name: before.first_name.clone(),
        last_name: before.last_name.clone(),
        birth_date: before.birth_date,
    };
    family::update_pupil(c, tenant.id, id, &p)
        .await
        .map_err(duplicate_cf)?;
    audit(
        c,
        tenant,
        actor,
        "update_pupil",
        "pupil",
        id.get(),
        Some(&pupil_json(&old)),
        Some(&pupil_json(&p)),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Rewrites a guardian's data.
pub async fn update_guardian(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    id: GuardianId,
    input: &GuardianInput,
) -> Result<(), AppError> {
    let g = check_guardian(input).map_err(AppError::Fields)?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let before = family::guardian(c, tenant.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Genitore non trovato.".into()))?;
    family::update_guardian(c, tenant.id, id, &g)
        .await
        .map_err(duplicate_cf)?;
    audit(
        c,
        tenant,
        actor,
        "update_guardian",
        "guardian",
        id.get(),
        Some(&guardian_json_of(&before)),
        Some(&guardian_json(&g)),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A guardian with the families it belongs to (for its page).
pub async fn guardian_file(
    db: &Db,
    tenant: &Tenant,
    id: GuardianId,
) -> Result<(Guardian, Vec<(Family, family::Link, Vec<Pupil>)>), AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let g = family::guardian(c, tenant.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Genitore non trovato.".into()))?;
    let mut fams = Vec::new();
    for (f, link) in family::families_of_guardian(c, tenant.id, id).await? {
        let kids = family::pupils_of_family(c, tenant.id, f.id).await?;
        fams.push((f, link, kids));
    }
    Ok((g, fams))
}

/// Links a guardian to a family as a delegate: an existing guardian found by fiscal code, or
/// a new one (then name and surname are needed).
pub async fn add_delegate(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    family_id: FamilyId,
    input: &GuardianInput,
    can_see_payments: bool,
) -> Result<GuardianId, AppError> {
    let mut errors = Vec::new();
    let Some(cf) = check_fiscal_code(&mut errors, "codice-fiscale", &input.fiscal_code) else {
        return Err(AppError::Fields(errors));
    };
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let fam = family::family(c, tenant.id, family_id)
        .await?
        .ok_or_else(|| AppError::NotFound("Famiglia non trovata.".into()))?;
    let gid = match family::guardian_by_fiscal_code(c, tenant.id, &cf).await? {
        Some(g) => {
            let linked = fam.payer_id == g.id
                || family::delegates(c, tenant.id, family_id)
                    .await?
                    .iter()
                    .any(|(d, _)| d.id == g.id);
            if linked {
                return Err(AppError::Fields(vec![field(
                    "codice-fiscale",
                    "Questo genitore è già collegato alla famiglia.",
                )]));
            }
            g.id
        }
        None => {
            let g = check_guardian(input).map_err(AppError::Fields)?;
            family::insert_guardian(c, tenant.id, &g, None)
                .await
                .map_err(duplicate_cf)?
        }
    };
    family::add_delegate(c, tenant.id, family_id, gid, can_see_payments).await?;
    let after = json!({"family": family_id.get(), "guardian": gid.get(), "can_see_payments": can_see_payments}).to_string();
    audit(
        c,
        tenant,
        actor,
        "add_delegate",
        "family",
        family_id.get(),
        None,
        Some(&after),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(gid)
}

/// Makes a delegate of the family its payer; the payer so far becomes a delegate who may see
/// payments. The family's accounts and balances stay the family's.
pub async fn change_payer(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    family_id: FamilyId,
    guardian: GuardianId,
) -> Result<(), AppError> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let fam = family::family(c, tenant.id, family_id)
        .await?
        .ok_or_else(|| AppError::NotFound("Famiglia non trovata.".into()))?;
    let delegates = family::delegates(c, tenant.id, family_id).await?;
    if !delegates.iter().any(|(d, _)| d.id == guardian) {
        return Err(AppError::Fields(vec![field(
            "intestatario",
            "Scegli uno dei genitori delegati della famiglia.",
        )]));
    }
    if family::families_of_guardian(c, tenant.id, guardian)
        .await?
        .iter()
        .any(|(_, l)| *l == family::Link::Payer)
    {
        return Err(AppError::Fields(vec![field(
            "intestatario",
            "Questo genitore è già intestatario di un'altra famiglia.",
        )]));
    }
    family::remove_delegate(c, tenant.id, family_id, guardian).await?;
    family::set_payer(c, tenant.id, family_id, guardian).await?;
    family::add_delegate(c, tenant.id, family_id, fam.payer_id, true).await?;
    let before = json!({"payer": fam.payer_id.get()}).to_string();
    let after = json!({"payer": guardian.get()}).to_string();
    audit(
        c,
        tenant,
        actor,
        "change_payer",
        "family",
        family_id.get(),
        Some(&before),
        Some(&after),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new enrolment as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolInput {
    pub service: String,
    pub class: String,
    pub band: String,
    pub diet: String,
    pub start_date: String,
    pub card_code: String,
}

fn pick<T: Copy>(
    errors: &mut Vec<FieldError>,
    name: &'static str,
    value: &str,
    ok: impl Fn(i64) -> Option<T>,
    message: &str,
) -> Option<T> {
    let found = value.trim().parse::<i64>().ok().and_then(ok);
    if found.is_none() {
        errors.push(field(name, message));
    }
    found
}

/// The meal price of a band for the pupil's rank among its family's enrolled children (eldest
/// first), with the service's sibling reduction; exempt bands pay nothing.
async fn meal_price(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    band: &TariffBand,
    pupil: &Pupil,
) -> Result<Cents, AppError> {
    if band.exempt {
        return Ok(Cents::ZERO);
    }
    let rank = service::sibling_rank(c, tenant.id, pupil.id, band.service_id).await?;
    let reductions = service::sibling_reductions(c, tenant.id, band.service_id).await?;
    band.meal_price
        .apply_basis_points(sibling_rank_reduction(rank, &reductions))
        .ok_or_else(|| AppError::Invalid("Prezzo del pasto fuori scala.".into()))
}

fn valid_card(s: &str) -> bool {
    (3..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Enrols a pupil in a service (active from its start date). Returns the enrolment.
pub async fn enrol(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    pupil_id: PupilId,
    input: &EnrolInput,
) -> Result<EnrolmentId, AppError> {
    let day = today(clock, &tenant.timezone);
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let pupil = family::pupil(c, tenant.id, pupil_id)
        .await?
        .ok_or_else(|| AppError::NotFound("Alunno non trovato.".into()))?;
    let o = options(c, tenant, day).await?;
    let mut errors = Vec::new();
    let svc = pick(
        &mut errors,
        "servizio",
        &input.service,
        |id| {
            o.services
                .iter()
                .find(|(s, _)| s.id.get() == id)
                .map(|(s, y)| (s.id, s.school_year_id, y.first_day, y.last_day))
        },
        "Scegli il servizio.",
    );
    let class = pick(
        &mut errors,
        "classe",
        &input.class,
        |id| {
            o.classes
                .iter()
                .find(|k| k.id.get() == id)
                .map(|k| (k.id, k.school_id, k.school_year_id))
        },
        "Scegli la classe.",
    );
    let band = pick(
        &mut errors,
        "fascia",
        &input.band,
        |id| o.bands.iter().position(|b| b.id.get() == id),
        "Scegli la fascia tariffaria.",
    );
    let diet = match input.diet.trim() {
        "" => None,
        v => pick(
            &mut errors,
            "dieta",
            v,
            |id| o.diets.iter().find(|d| d.id.get() == id).map(|d| d.id),
            "Scegli una dieta dell'elenco.",
        ),
    };
    let start = match input.start_date.trim().parse::<Date>() {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field("inizio", "Indica il giorno di inizio."));
            None
        }
    };
    let card = input.card_code.trim().to_uppercase();
    if !valid_card(&card) {
        errors.push(field(
            "tessera",
            "Il codice tessera ha da 3 a 32 caratteri: lettere, cifre e trattini.",
        ));
    }
    if let (Some((sid, year, first, last)), Some((_, _, kyear))) = (svc, class) {
        if kyear != year {
            errors.push(field(
                "classe",
                "La classe non è dell'anno scolastico del servizio.",
            ));
        }
        if let Some(b) = band.and_then(|i| o.bands.get(i))
            && b.service_id != sid
        {
            errors.push(field("fascia", "La fascia non è di questo servizio."));
        }
        if let Some(s) = start
            && (s < first.min(day) || s > last)
        {
            errors.push(field(
                "inizio",
                format!(
                    "Il giorno di inizio deve cadere nell'anno scolastico (dal {} al {}).",
                    day_it(first),
                    day_it(last)
                ),
            ));
        }
    }
    let first_open = first_open_day(c, tenant, day).await?;
    if let Some(s) = start
        && s < first_open
    {
        errors.push(field(
            "inizio",
            format!("I pasti fino al {} sono già chiusi: l'iscrizione può iniziare al più presto il {}.", day_it(first_open.yesterday()?), day_it(first_open)),
        ));
    }
    let (Some((sid, _, _, _)), Some((kid, school_id, _)), Some(b), Some(start)) =
        (svc, class, band.and_then(|i| o.bands.get(i)), start)
    else {
        return Err(AppError::Fields(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    if service::enrolments_of_pupil(c, tenant.id, pupil_id)
        .await?
        .iter()
        .any(|e| e.service_id == sid)
    {
        return Err(AppError::Fields(vec![field(
            "servizio",
            "L'alunno è già iscritto a questo servizio: cambia l'iscrizione che c'è.",
        )]));
    }
    if service::enrolment_by_card(c, tenant.id, &card)
        .await?
        .is_some()
    {
        return Err(AppError::Fields(vec![field(
            "tessera",
            "Questo codice tessera è già usato.",
        )]));
    }
    let price = meal_price(c, tenant, b, &pupil).await?;
    let new = NewEnrolment {
        pupil_id,
        service_id: sid,
        school_id,
        class_id: kid,
        tariff_band_id: b.id,
        meal_price: price,
        fixed_fee: b.fixed_fee,
        diet_id: diet,
        state: EnrolmentState::Attivo,
        start_date: start,
        card_code: card,
    };
    let id = service::insert_enrolment(c, tenant.id, &new).await?;
    let e = service::enrolment(c, tenant.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound("Iscrizione non trovata.".into()))?;
    audit(
        c,
        tenant,
        actor,
        "enrol",
        "enrolment",
        id.get(),
        None,
        Some(&enrolment_json(&e)),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

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
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    enrolment: EnrolmentId,
    input: &ChangeInput,
) -> Result<Scheduled, AppError> {
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
        meals::lock_day(c, tenant.id, d, false).await?;
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
    let id = service::insert_enrolment_change(c, tenant.id, &new, actor, now).await?;
    let after = json!({
        "effective_on": effective_on.to_string(),
        "class": class.map(ClassId::get),
        "band": band.map(TariffBandId::get),
        "diet": diet.map(DietId::get),
        "clear_diet": clear_diet,
        "state": state.map(EnrolmentState::as_str),
    })
    .to_string();
    audit(
        c,
        tenant,
        actor,
        "schedule_enrolment_change",
        "enrolment",
        enrolment.get(),
        Some(&enrolment_json(&e)),
        Some(&after),
        &reason,
        now,
    )
    .await?;
    let applied = if effective_on <= day {
        let changes = service::due_changes(c, tenant.id, day).await?;
        for ch in changes.iter().filter(|ch| ch.enrolment_id == enrolment) {
            apply_change(c, tenant, ch, now).await?;
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

/// Writes one change to its enrolment row and marks it applied; audited with the row before
/// and after. Changes are applied in day order, so a later one overrides an earlier one.
async fn apply_change(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    ch: &EnrolmentChange,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
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
        tenant,
        &format!("scheduler:change:{}", ch.id),
        "apply_enrolment_change",
        "enrolment",
        e.id.get(),
        Some(&enrolment_json(&before)),
        Some(&enrolment_json(&e)),
        &ch.reason,
        now,
    )
    .await?;
    Ok(())
}

/// Applies the changes of the tenant that take effect on `day` or before and are not applied
/// yet, in one transaction. The scheduler calls it before it closes `day`, and for today once
/// the days before are closed. Returns how many it applied.
pub async fn apply_due_changes(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    day: Date,
) -> Result<usize, AppError> {
    let now = clock.now();
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
    meals::lock_day(c, tenant.id, day, false).await?;
    let due = service::due_changes(c, tenant.id, day).await?;
    for ch in &due {
        apply_change(c, tenant, ch, now).await?;
    }
    tx.commit().await?;
    if !due.is_empty() {
        tracing::info!(tenant = %tenant.slug, %day, applied = due.len(), "enrolment changes applied");
    }
    Ok(due.len())
}

/// The schools a staff user may see: the school role its own schools, the office all.
pub async fn visible_schools(
    db: &Db,
    tenant: &Tenant,
    user: &staff::StaffUser,
) -> Result<Vec<School>, AppError> {
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
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    user: &staff::StaffUser,
) -> Result<Vec<(School, Vec<Class>)>, AppError> {
    let schools = visible_schools(db, tenant, user).await?;
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
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    user: &staff::StaffUser,
    class: ClassId,
) -> Result<Roster, AppError> {
    let schools = visible_schools(db, tenant, user).await?;
    let day = today(clock, &tenant.timezone);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(k) = school::class(c, tenant.id, class).await? else {
        return Err(AppError::NotFound("Classe non trovata.".into()));
    };
    let Some(sc) = schools.into_iter().find(|s| s.id == k.school_id) else {
        return Err(AppError::Forbidden);
    };
    let closed = meals::is_closed(c, tenant.id, day).await?;
    let eats_today = crate::meals::canteen_day(c, tenant, day)
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
            let entries = meals::entries_of_enrolment_day(c, tenant.id, e.id, day).await?;
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
            match meals::bookings(c, tenant.id, e.id, day, day)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_names_codes_and_cards() {
        let q = people_query("  Rossi   Mario ");
        assert_eq!(q.name_prefix, "rossi mario");
        assert!(q.fiscal_code.is_none());
        assert!(q.card_codes.is_empty());
        let q = people_query("rssmra80a01h501u");
        assert_eq!(q.fiscal_code.as_deref(), Some("RSSMRA80A01H501U"));
        let q = people_query("ese-0001");
        assert_eq!(q.card_codes, ["ese-0001", "ESE-0001"]);
        assert_eq!(people_query("r").name_prefix, "");
    }

    #[test]
    fn guardians_are_checked() {
        let bad = GuardianInput {
            fiscal_code: "RSSMRA80A01H501X".into(),
            first_name: " ".into(),
            last_name: "Rossi".into(),
            email: "nope".into(),
            ..GuardianInput::default()
        };
        let fields: Vec<_> = check_guardian(&bad)
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["codice-fiscale", "nome", "email"]);
        let ok = GuardianInput {
            fiscal_code: "rssmra80a01h501u".into(),
            first_name: "Mario".into(),
            last_name: "Rossi".into(),
            email: "m@example.org".into(),
            ..GuardianInput::default()
        };
        assert_eq!(
            check_guardian(&ok).unwrap().fiscal_code.as_str(),
            "RSSMRA80A01H501U"
        );
    }
}
