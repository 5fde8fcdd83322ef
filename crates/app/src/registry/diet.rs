//! Diet codes.

use crate::Ctx;
use refettorio_db::registry::service;
use refettorio_db::registry::service::Diet;
use refettorio_domain::DietId;
use refettorio_domain::DietKind;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};

use super::{
    NAME_MAX, audit, diet_json, duplicate, field, refused, required, same_name, still_used,
};
use crate::AppError;

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

pub async fn add_diet(ctx: Ctx<'_>, input: &DietInput) -> Result<DietId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let diets = service::diets(c, tenant.id).await?;
    let (code, name, kind) = check_diet(input, &diets, None)?;
    let id = service::insert_diet(c, tenant.id, &code, &name, kind)
        .await
        .map_err(|e| duplicate(e, "codice", DIET_DUPLICATE))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryAdd,
        AuditObject::new(ObjectKind::Diet, id.get()),
        None,
        Some(&diet_json(&code, &name, kind)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(super) fn diet_not_found() -> AppError {
    AppError::NotFound("Dieta non trovata.".into())
}

/// Changes a diet. The kitchen's numbers of days already closed keep the diet they were
/// cooked with (its id); the new code and name show from now on. True if something changed.
pub async fn edit_diet(ctx: Ctx<'_>, id: DietId, input: &DietInput) -> Result<bool, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryEdit,
        AuditObject::new(ObjectKind::Diet, id.get()),
        Some(&before),
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a diet nothing points at; otherwise says what does.
pub async fn delete_diet(ctx: Ctx<'_>, id: DietId) -> Result<(), AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryDelete,
        AuditObject::new(ObjectKind::Diet, id.get()),
        Some(&diet_json(&old.code, &old.name, old.kind)),
        None,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
