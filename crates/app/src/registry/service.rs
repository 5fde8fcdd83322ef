//! Services of a school year.

use crate::Ctx;
use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::close;
use refettorio_db::registry::calendar;
use refettorio_db::registry::calendar::SchoolYear;
use refettorio_db::registry::service;
use refettorio_db::registry::service::Service;
use refettorio_db::registry::service::TariffBand;
use refettorio_domain::Billing;
use refettorio_domain::SchoolYearId;
use refettorio_domain::ServiceId;
use refettorio_domain::ServiceKind;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};
use refettorio_domain::today;

use super::year::year_not_found;
use super::{NAME_MAX, audit, duplicate, field, required, service_json};
use crate::AppError;
use crate::FieldError;
use crate::Tenant;
use refettorio_domain::Clock;

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
    ctx: Ctx<'_>,
    year: SchoolYearId,
    input: &ServiceInput,
) -> Result<ServiceId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryAdd,
        AuditObject::new(ObjectKind::Service, id.get()),
        None,
        Some(&service_json(year, kind, billing, &name)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(super) fn service_not_found() -> AppError {
    AppError::NotFound("Servizio non trovato.".into())
}

/// Changes a service's name and billing. The billing of a service with enrolments stays: it
/// decides how every family of the service pays. True if something changed.
pub async fn edit_service(
    ctx: Ctx<'_>,
    id: ServiceId,
    input: &ServiceInput,
) -> Result<bool, AppError> {
    let Ctx { db, tenant, .. } = ctx;
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
        ctx,
        AuditAction::RegistryEdit,
        AuditObject::new(ObjectKind::Service, id.get()),
        Some(&before),
        Some(&after),
        "",
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

pub async fn service_view(ctx: Ctx<'_>, id: ServiceId) -> Result<ServiceView, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
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
    Ok(match close::last_closed_day(c, tenant.id).await? {
        Some(last) if last >= day => last.tomorrow()?,
        _ => day,
    })
}
