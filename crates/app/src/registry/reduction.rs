//! Sibling reductions of a service.

use crate::Ctx;
use refettorio_db::registry::service;
use refettorio_domain::Cents;
use refettorio_domain::ServiceId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};
use serde_json::json;

use super::service::service_not_found;
use super::{audit, field};
use crate::AppError;

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

fn reduction_json(service: ServiceId, rank: u32, bp: u32) -> serde_json::Value {
    json!({"service_id": service.get(), "from_rank": rank, "basis_points": bp})
}

/// Sets the reduction from a child on. It applies to enrolments made from then on: an
/// enrolment keeps the price it was given.
pub async fn set_reduction(
    ctx: Ctx<'_>,
    service_id: ServiceId,
    input: &ReductionInput,
) -> Result<bool, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        if old.is_some() {
            AuditAction::RegistryEdit
        } else {
            AuditAction::RegistryAdd
        },
        AuditObject::new(ObjectKind::SiblingReduction, service_id.get()),
        old.map(|(r, b)| reduction_json(service_id, r, b)).as_ref(),
        Some(&reduction_json(service_id, rank, bp)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn delete_reduction(
    ctx: Ctx<'_>,
    service_id: ServiceId,
    rank: u32,
) -> Result<(), AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryDelete,
        AuditObject::new(ObjectKind::SiblingReduction, service_id.get()),
        Some(&reduction_json(service_id, old.0, old.1)),
        None,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
