//! Tariff bands, and the repricing of their enrolments.

use crate::Ctx;
use jiff::civil::Date;
use refettorio_db::registry::service;
use refettorio_db::registry::service::NewTariffBand;
use refettorio_db::registry::service::TariffBand;
use refettorio_domain::Cents;
use refettorio_domain::Residency;
use refettorio_domain::ServiceId;
use refettorio_domain::TariffBandId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};
use refettorio_domain::pricing;
use refettorio_domain::pricing::BandPrice;
use serde_json::json;

use super::service::{price_from, service_not_found};
use super::{
    FIXED_FEE_MAX, MEAL_PRICE_MAX, NAME_MAX, audit, band_as_new, band_json, duplicate, field,
    refused, required, same_name, still_used,
};
use crate::AppError;
use crate::FieldError;

/// The band form as typed. `reprice`: also give the band's active enrolments the new amounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BandInput {
    pub name: String,
    pub isee_min: String,
    pub isee_max: String,
    pub residency: String,
    pub meal_price: String,
    pub fixed_fee: String,
    pub exempt: bool,
    pub reprice: bool,
}

impl From<&TariffBand> for BandInput {
    fn from(b: &TariffBand) -> Self {
        let amount = |c: Cents| c.format_number_it();
        BandInput {
            name: b.name.clone(),
            isee_min: if b.isee_min.is_zero() {
                String::new()
            } else {
                amount(b.isee_min)
            },
            isee_max: b.isee_max.map(amount).unwrap_or_default(),
            residency: b.residency.as_str().into(),
            meal_price: amount(b.meal_price),
            fixed_fee: amount(b.fixed_fee),
            exempt: b.exempt,
            reprice: false,
        }
    }
}

/// An amount field: empty is `empty` (None = required), never negative, at most `max`.
fn amount_field(
    errors: &mut Vec<FieldError>,
    name: &'static str,
    value: &str,
    empty: Option<Cents>,
    max: Cents,
) -> Option<Cents> {
    if value.trim().is_empty() {
        if empty.is_none() {
            errors.push(field(name, "Scrivi l'importo in euro (ad esempio 4,50)."));
        }
        return empty;
    }
    match Cents::parse_it(value) {
        Ok(c) if c.is_negative() => {
            errors.push(field(name, "L'importo non può essere negativo."));
            None
        }
        Ok(c) if c > max => {
            errors.push(field(
                name,
                format!("L'importo è troppo alto (al massimo {}).", max.format_it()),
            ));
            None
        }
        Ok(c) => Some(c),
        Err(_) => {
            errors.push(field(
                name,
                "Scrivi l'importo in euro, con al massimo due decimali (ad esempio 4,50).",
            ));
            None
        }
    }
}

const BAND_DUPLICATE: &str = "Questo servizio ha già una fascia con questo nome.";

/// Checks a band form against the service's other bands. An exempt band pays nothing: its
/// price and fee are stored as zero.
pub fn check_band(
    input: &BandInput,
    bands: &[TariffBand],
    this: Option<TariffBandId>,
) -> Result<NewTariffBand, AppError> {
    let mut errors = Vec::new();
    let name = required(
        &mut errors,
        "nome",
        &input.name,
        NAME_MAX,
        "Scrivi il nome della fascia.",
    );
    if !name.is_empty()
        && bands
            .iter()
            .any(|b| Some(b.id) != this && same_name(&b.name, &name))
    {
        errors.push(field("nome", BAND_DUPLICATE));
    }
    let isee_cap = Cents(1_000_000_000);
    let isee_min = amount_field(
        &mut errors,
        "isee-da",
        &input.isee_min,
        Some(Cents::ZERO),
        isee_cap,
    );
    let isee_max = if input.isee_max.trim().is_empty() {
        Some(None)
    } else {
        amount_field(&mut errors, "isee-a", &input.isee_max, None, isee_cap).map(Some)
    };
    if let (Some(min), Some(Some(max))) = (isee_min, isee_max)
        && max < min
    {
        errors.push(field(
            "isee-a",
            "Il limite massimo dell'ISEE non può essere più basso del minimo.",
        ));
    }
    let residency = Residency::parse(input.residency.trim());
    if residency.is_none() {
        errors.push(field("residenza", "Scegli a chi si applica la fascia."));
    }
    let zero = input.exempt.then_some(Cents::ZERO);
    let meal_price = amount_field(
        &mut errors,
        "prezzo-pasto",
        &input.meal_price,
        zero,
        MEAL_PRICE_MAX,
    );
    let fixed_fee = amount_field(
        &mut errors,
        "quota-fissa",
        &input.fixed_fee,
        Some(Cents::ZERO),
        FIXED_FEE_MAX,
    );
    match (isee_min, isee_max, residency, meal_price, fixed_fee) {
        (Some(isee_min), Some(isee_max), Some(residency), Some(meal), Some(fee))
            if errors.is_empty() =>
        {
            let (meal_price, fixed_fee) = if input.exempt {
                (Cents::ZERO, Cents::ZERO)
            } else {
                (meal, fee)
            };
            Ok(NewTariffBand {
                name,
                isee_min,
                isee_max,
                residency,
                meal_price,
                fixed_fee,
                exempt: input.exempt,
            })
        }
        _ => Err(AppError::Fields(errors)),
    }
}

pub async fn add_band(
    ctx: Ctx<'_>,
    service_id: ServiceId,
    input: &BandInput,
) -> Result<TariffBandId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    service::service(c, tenant.id, service_id)
        .await?
        .ok_or_else(service_not_found)?;
    let bands = service::bands(c, tenant.id, service_id).await?;
    let new = check_band(input, &bands, None)?;
    let id = service::insert_band(c, tenant.id, service_id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", BAND_DUPLICATE))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryAdd,
        AuditObject::new(ObjectKind::TariffBand, id.get()),
        None,
        Some(&band_json(service_id, &new)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What a band change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandChange {
    pub service: ServiceId,
    pub changed: bool,
    /// Active enrolments given the new amounts, and the first day charged at them.
    pub repriced: Option<(u64, Date)>,
}

pub(super) fn band_not_found() -> AppError {
    AppError::NotFound("Fascia non trovata.".into())
}

/// Changes a band. Its enrolments keep their amounts unless `input.reprice`: then the active
/// ones get the new amounts, priced as a new enrolment, from the first day not closed yet (see
/// the module's comment).
pub async fn edit_band(
    ctx: Ctx<'_>,
    id: TariffBandId,
    input: &BandInput,
) -> Result<BandChange, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = service::band(c, tenant.id, id)
        .await?
        .ok_or_else(band_not_found)?;
    let bands = service::bands(c, tenant.id, old.service_id).await?;
    let new = check_band(input, &bands, Some(id))?;
    let before = band_json(old.service_id, &band_as_new(&old));
    let mut after = band_json(old.service_id, &new);
    let band_changed = before != after;
    // Repricing also brings in line enrolments left at an older price by an earlier change.
    let repriced = if input.reprice {
        let from = price_from(c, clock, tenant).await?;
        let reductions = service::sibling_reductions(c, tenant.id, old.service_id).await?;
        let mut n = 0u64;
        for (enrolment, rank) in service::band_enrolment_ranks(c, tenant.id, id).await? {
            let band = BandPrice {
                meal_price: new.meal_price,
                exempt: new.exempt,
            };
            let price = pricing::meal_price(band, rank, &reductions)
                .ok_or_else(|| AppError::Invalid("Prezzo del pasto fuori scala.".into()))?;
            if service::set_enrolment_amounts(c, tenant.id, enrolment, price, new.fixed_fee).await?
            {
                n += 1;
            }
        }
        after["enrolments_repriced"] = json!(n);
        after["repriced_from"] = json!(from.to_string());
        Some((n, from)).filter(|(n, _)| *n > 0)
    } else {
        None
    };
    if !band_changed && repriced.is_none() {
        // Nothing to write: the transaction is dropped (rolled back).
        return Ok(BandChange {
            service: old.service_id,
            changed: false,
            repriced: None,
        });
    }
    service::update_band(c, tenant.id, id, &new)
        .await
        .map_err(|e| duplicate(e, "nome", BAND_DUPLICATE))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryEdit,
        AuditObject::new(ObjectKind::TariffBand, id.get()),
        Some(&before),
        Some(&after),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(BandChange {
        service: old.service_id,
        changed: true,
        repriced,
    })
}

/// Deletes a band no enrolment names; otherwise says so. The band's service.
pub async fn delete_band(ctx: Ctx<'_>, id: TariffBandId) -> Result<ServiceId, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let old = service::band(c, tenant.id, id)
        .await?
        .ok_or_else(band_not_found)?;
    let (all, _) = service::band_enrolments(c, tenant.id, id).await?;
    let message = format!(
        "La fascia «{}» non si può eliminare: è usata da {all} iscrizioni. Sposta prima le iscrizioni su un'altra fascia.",
        old.name
    );
    if all > 0 {
        return Err(refused(message));
    }
    service::delete_band(c, tenant.id, id)
        .await
        .map_err(|e| still_used(e, "La fascia è ancora usata e non si può eliminare."))?;
    audit(
        c,
        ctx,
        AuditAction::RegistryDelete,
        AuditObject::new(ObjectKind::TariffBand, id.get()),
        Some(&band_json(old.service_id, &band_as_new(&old))),
        None,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(old.service_id)
}
