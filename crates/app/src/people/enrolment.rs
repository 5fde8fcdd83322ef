//! Enrolments in a service, priced by `domain::pricing`.

use crate::Ctx;
use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::registry::family;
use refettorio_db::registry::family::Pupil;
use refettorio_db::registry::service;
use refettorio_db::registry::service::NewEnrolment;
use refettorio_db::registry::service::TariffBand;
use refettorio_domain::Cents;
use refettorio_domain::EnrolmentId;
use refettorio_domain::EnrolmentState;
use refettorio_domain::PupilId;
use refettorio_domain::audit::{AuditAction, AuditObject, ObjectKind};
use refettorio_domain::day_it;
use refettorio_domain::pricing;
use refettorio_domain::pricing::BandPrice;
use refettorio_domain::today;

use super::{audit, enrolment_json, field, first_open_day, options};
use crate::AppError;
use crate::FieldError;
use crate::Tenant;

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

pub(super) fn pick<T: Copy>(
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
pub(super) async fn meal_price(
    c: &mut Conn<'_>,
    tenant: &Tenant,
    band: &TariffBand,
    pupil: &Pupil,
) -> Result<Cents, AppError> {
    let rank = service::sibling_rank(c, tenant.id, pupil.id, band.service_id).await?;
    let reductions = service::sibling_reductions(c, tenant.id, band.service_id).await?;
    let band = BandPrice {
        meal_price: band.meal_price,
        exempt: band.exempt,
    };
    pricing::meal_price(band, rank, &reductions)
        .ok_or_else(|| AppError::Invalid("Prezzo del pasto fuori scala.".into()))
}

fn valid_card(s: &str) -> bool {
    (3..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Enrols a pupil in a service (active from its start date). Returns the enrolment.
pub async fn enrol(
    ctx: Ctx<'_>,
    pupil_id: PupilId,
    input: &EnrolInput,
) -> Result<EnrolmentId, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let day = today(clock, &tenant.timezone);
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
        ctx,
        AuditAction::Enrol,
        AuditObject::new(ObjectKind::Enrolment, id.get()),
        None,
        Some(&enrolment_json(&e)),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
