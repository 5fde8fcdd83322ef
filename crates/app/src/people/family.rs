//! Families: their page, a new family with its payer, delegates and a change of payer.

use crate::Ctx;
use refettorio_db::registry::family;
use refettorio_db::registry::family::Family;
use refettorio_db::registry::family::Guardian;
use refettorio_db::registry::family::Pupil;
use refettorio_domain::Cents;
use refettorio_domain::FamilyId;
use refettorio_domain::GuardianId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};
use serde_json::json;

use super::guardian::{GuardianInput, check_fiscal_code, check_guardian};
use super::{audit, duplicate_cf, field, guardian_json};
use crate::AppError;

/// A family's page: payer, delegates and pupils.
#[derive(Debug, Clone)]
pub struct FamilyFile {
    pub family: Family,
    pub payer: Guardian,
    pub delegates: Vec<(Guardian, bool)>,
    pub pupils: Vec<Pupil>,
}

pub async fn family_file(ctx: Ctx<'_>, id: FamilyId) -> Result<FamilyFile, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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

/// A new family: its payer (a new guardian) and its ISEE. Returns the family.
pub async fn add_family(
    ctx: Ctx<'_>,
    payer: &GuardianInput,
    isee: &str,
) -> Result<FamilyId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
    let after = json!({"payer": gid.get(), "guardian": guardian_json(&g), "isee_cents": isee.map(Cents::get)});
    audit(
        c,
        ctx,
        AuditAction::AddFamily,
        AuditObject::new(ObjectKind::Family, fid.get()),
        None,
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(fid)
}

/// Links a guardian to a family as a delegate: an existing guardian found by fiscal code, or
/// a new one (then name and surname are needed).
pub async fn add_delegate(
    ctx: Ctx<'_>,
    family_id: FamilyId,
    input: &GuardianInput,
    can_see_payments: bool,
) -> Result<GuardianId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut errors = Vec::new();
    let Some(cf) = check_fiscal_code(&mut errors, "codice-fiscale", &input.fiscal_code) else {
        return Err(AppError::Fields(errors));
    };
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
    let after = json!({"family": family_id.get(), "guardian": gid.get(), "can_see_payments": can_see_payments});
    audit(
        c,
        ctx,
        AuditAction::AddDelegate,
        AuditObject::new(ObjectKind::Family, family_id.get()),
        None,
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(gid)
}

/// Makes a delegate of the family its payer; the payer so far becomes a delegate who may see
/// payments. The family's accounts and balances stay the family's.
pub async fn change_payer(
    ctx: Ctx<'_>,
    family_id: FamilyId,
    guardian: GuardianId,
) -> Result<(), AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
    let before = json!({"payer": fam.payer_id.get()});
    let after = json!({"payer": guardian.get()});
    audit(
        c,
        ctx,
        AuditAction::ChangePayer,
        AuditObject::new(ObjectKind::Family, family_id.get()),
        Some(&before),
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
