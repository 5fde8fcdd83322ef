//! Pupils: their page, a new pupil and changes.

use crate::Ctx;
use jiff::civil::Date;
use refettorio_db::registry::family;
use refettorio_db::registry::family::Family;
use refettorio_db::registry::family::Guardian;
use refettorio_db::registry::family::NewPupil;
use refettorio_db::registry::family::Pupil;
use refettorio_db::registry::service;
use refettorio_db::registry::service::Enrolment;
use refettorio_db::registry::service::EnrolmentChange;
use refettorio_domain::FamilyId;
use refettorio_domain::PupilId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};
use refettorio_domain::today;

use super::guardian::{check_fiscal_code, check_name};
use super::{Options, audit, duplicate_cf, field, first_open_day, options, pupil_json};
use crate::AppError;

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

pub async fn pupil_file(ctx: Ctx<'_>, id: PupilId) -> Result<PupilFile, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
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

/// Adds a pupil to a family. Returns the pupil.
pub async fn add_pupil(
    ctx: Ctx<'_>,
    family_id: FamilyId,
    input: &PupilInput,
) -> Result<PupilId, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let day = today(clock, &tenant.timezone);
    let p = check_pupil(input, family_id, day)?;
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
        ctx,
        AuditAction::AddPupil,
        AuditObject::new(ObjectKind::Pupil, id.get()),
        None,
        Some(&pupil_json(&p)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Rewrites a pupil's data.
pub async fn update_pupil(ctx: Ctx<'_>, id: PupilId, input: &PupilInput) -> Result<(), AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let day = today(clock, &tenant.timezone);
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
        ctx,
        AuditAction::UpdatePupil,
        AuditObject::new(ObjectKind::Pupil, id.get()),
        Some(&pupil_json(&old)),
        Some(&pupil_json(&p)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
