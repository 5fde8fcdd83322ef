//! Schools.

use crate::Ctx;
use refettorio_db::registry::school;
use refettorio_db::registry::school::NewSchool;
use refettorio_db::registry::school::School;
use refettorio_domain::SchoolId;
use refettorio_domain::SchoolKind;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};

use super::{
    NAME_MAX, TEXT_MAX, audit, duplicate, field, refused, required, same_name, school_as_new,
    school_json, still_used,
};
use crate::AppError;

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

pub async fn add_school(ctx: Ctx<'_>, input: &SchoolInput) -> Result<SchoolId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryAdd,
        AuditObject::new(ObjectKind::School, id.get()),
        None,
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(super) fn school_not_found() -> AppError {
    AppError::NotFound("Scuola non trovata.".into())
}

/// Changes a school; a form with nothing changed writes nothing. True if something changed.
pub async fn edit_school(
    ctx: Ctx<'_>,
    id: SchoolId,
    input: &SchoolInput,
) -> Result<bool, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryEdit,
        AuditObject::new(ObjectKind::School, id.get()),
        Some(&before),
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a school nothing points at; otherwise says what does.
pub async fn delete_school(ctx: Ctx<'_>, id: SchoolId) -> Result<(), AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryDelete,
        AuditObject::new(ObjectKind::School, id.get()),
        Some(&school_json(&school_as_new(&old))),
        None,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
