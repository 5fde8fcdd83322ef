//! Guardians: the form's checks, their page and changes.

use crate::Ctx;
use refettorio_db::registry::family;
use refettorio_db::registry::family::Family;
use refettorio_db::registry::family::Guardian;
use refettorio_db::registry::family::NewGuardian;
use refettorio_db::registry::family::Pupil;
use refettorio_domain::CodiceFiscale;
use refettorio_domain::GuardianId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};

use super::{audit, duplicate_cf, field, guardian_json, guardian_json_of};
use crate::AppError;
use crate::FieldError;

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

pub(super) fn check_name(
    errors: &mut Vec<FieldError>,
    name: &'static str,
    value: &str,
    what: &str,
) -> String {
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

pub(super) fn check_fiscal_code(
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

/// Rewrites a guardian's data.
pub async fn update_guardian(
    ctx: Ctx<'_>,
    id: GuardianId,
    input: &GuardianInput,
) -> Result<(), AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let g = check_guardian(input).map_err(AppError::Fields)?;
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
        ctx,
        AuditAction::UpdateGuardian,
        AuditObject::new(ObjectKind::Guardian, id.get()),
        Some(&guardian_json_of(&before)),
        Some(&guardian_json(&g)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A guardian with the families it belongs to (for its page).
pub async fn guardian_file(
    ctx: Ctx<'_>,
    id: GuardianId,
) -> Result<(Guardian, Vec<(Family, family::Link, Vec<Pupil>)>), AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
