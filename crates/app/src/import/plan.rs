//! Step 3: the rows against what the municipality already has ([`Snapshot`]): every write
//! an import would make, the rows already present and the rows that refer to something unknown.

use std::collections::HashMap;
use std::collections::HashSet;

use jiff::civil::Date;
use refettorio_db::Conn;
use refettorio_db::import as db_import;
use refettorio_db::registry::calendar;
use refettorio_db::registry::family;
use refettorio_db::registry::school;
use refettorio_db::registry::service as db_service;
use refettorio_db::registry::service::NewEnrolment;
use refettorio_domain::Billing;
use refettorio_domain::Cents;
use refettorio_domain::ClassId;
use refettorio_domain::CodiceFiscale;
use refettorio_domain::DietId;
use refettorio_domain::EnrolmentState;
use refettorio_domain::FamilyId;
use refettorio_domain::GuardianId;
use refettorio_domain::PupilId;
use refettorio_domain::SchoolId;
use refettorio_domain::SchoolYearId;
use refettorio_domain::ServiceId;
use refettorio_domain::ServiceKind;
use refettorio_domain::TariffBandId;
use refettorio_domain::TenantId;
use refettorio_domain::ledger::Key;
use refettorio_domain::pricing;
use refettorio_domain::pricing::BandPrice;
use refettorio_domain::pricing::Sibling;

use super::kind::ImportKind;
use super::parse::{BalanceRow, EnrolmentRow, GuardianRow, PupilRow, Rows, fold};
use super::read::{RowError, row_error};
use crate::AppError;

/// A tariff band as an enrolment row needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandInfo {
    pub id: TariffBandId,
    pub meal_price: Cents,
    pub fixed_fee: Cents,
    pub exempt: bool,
}

/// What the municipality already has, as the rows of a file are checked against it. Names
/// (schools, classes, bands, diet codes) are keys as [`fold`] makes them.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub guardians: HashMap<String, GuardianId>,
    /// The family of each payer.
    pub payer_family: HashMap<GuardianId, FamilyId>,
    pub pupils: HashMap<String, PupilId>,
    pub years: HashMap<String, SchoolYearId>,
    pub services: HashMap<(SchoolYearId, ServiceKind), (ServiceId, Billing)>,
    pub schools: HashMap<String, SchoolId>,
    pub classes: HashMap<(SchoolYearId, SchoolId, String), ClassId>,
    pub bands: HashMap<(ServiceId, String), BandInfo>,
    pub diets: HashMap<String, DietId>,
    pub enrolled: HashSet<(PupilId, ServiceId)>,
    /// The enrolments in state active: the siblings a blank price's reduction counts.
    pub active: HashSet<(PupilId, ServiceId)>,
    /// Each pupil's family and birth date, for the sibling rank.
    pub siblings: HashMap<PupilId, (FamilyId, Date)>,
    /// Each service's sibling reductions, `(from rank, basis points)`.
    pub reductions: HashMap<ServiceId, Vec<(u32, u32)>>,
    /// Card code (upper case) → the pupil whose enrolment has it.
    pub cards: HashMap<String, PupilId>,
    /// Ledger keys of the opening balances already credited.
    pub balance_keys: HashSet<String>,
}

impl Snapshot {
    fn family_of_payer(&self, cf: &CodiceFiscale) -> Option<FamilyId> {
        self.guardians
            .get(cf.as_str())
            .and_then(|g| self.payer_family.get(g))
            .copied()
    }
}

/// The ledger key of an opening balance: one per payer and service, ever.
pub fn balance_key(payer: &CodiceFiscale, service: ServiceId) -> Key {
    Key::ImportBalance {
        payer: payer.clone(),
        service,
    }
}

/// A write an import will make.
#[derive(Debug, Clone)]
pub enum Step {
    Guardian(GuardianRow),
    Pupil {
        row: PupilRow,
        family: FamilyId,
    },
    Enrolment {
        row: EnrolmentRow,
        new: NewEnrolment,
        billing: Billing,
    },
    Balance {
        row: BalanceRow,
        family: FamilyId,
        service: ServiceId,
        key: Key,
    },
}

/// What an import of the file would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Rows already present (or with nothing to write): skipped.
    pub present: Vec<usize>,
    pub errors: Vec<RowError>,
}

/// Checks the rows against the municipality's registry: every write the import would make,
/// the rows already present, and the rows that refer to something unknown.
pub fn plan(rows: &Rows, s: &Snapshot) -> Plan {
    let mut p = Plan::default();
    match rows {
        Rows::Guardians(rows) => {
            let new_payers: HashSet<&str> = rows
                .iter()
                .filter(|r| r.payer.is_none() && !s.guardians.contains_key(r.cf.as_str()))
                .map(|r| r.cf.as_str())
                .collect();
            for r in rows {
                if s.guardians.contains_key(r.cf.as_str()) {
                    p.present.push(r.row);
                    continue;
                }
                if let Some(payer) = &r.payer
                    && s.family_of_payer(payer).is_none()
                    && !new_payers.contains(payer.as_str())
                {
                    p.errors.push(row_error(
                        r.row,
                        format!(
                            "Intestatario sconosciuto ({}): deve essere già presente come intestatario o in questo file senza «Codice fiscale intestatario».",
                            payer.as_str()
                        ),
                    ));
                    continue;
                }
                p.steps.push(Step::Guardian(r.clone()));
            }
        }
        Rows::Pupils(rows) => {
            for r in rows {
                if s.pupils.contains_key(r.cf.as_str()) {
                    p.present.push(r.row);
                    continue;
                }
                match s.family_of_payer(&r.payer) {
                    Some(family) => p.steps.push(Step::Pupil {
                        row: r.clone(),
                        family,
                    }),
                    None => p.errors.push(row_error(
                        r.row,
                        format!(
                            "Intestatario sconosciuto ({}): importa prima il file dei genitori.",
                            r.payer.as_str()
                        ),
                    )),
                }
            }
        }
        Rows::Enrolments(rows) => {
            // The rows with a blank price, priced once every step is known.
            let mut unpriced: Vec<(usize, BandInfo)> = Vec::new();
            for r in rows {
                let before = p.errors.len();
                let mut fail = |m: String| p.errors.push(row_error(r.row, m));
                let pupil = s.pupils.get(r.pupil.as_str()).copied();
                if pupil.is_none() {
                    fail(format!(
                        "Alunno sconosciuto ({}): importa prima il file degli alunni.",
                        r.pupil.as_str()
                    ));
                }
                let year = s.years.get(&r.year).copied();
                if year.is_none() {
                    fail(format!("Anno scolastico sconosciuto: {}.", r.year));
                }
                let service = year.and_then(|y| s.services.get(&(y, r.service)).copied());
                if year.is_some() && service.is_none() {
                    fail(format!(
                        "Il servizio {} non c'è nell'anno {}.",
                        r.service.label_it(),
                        r.year
                    ));
                }
                let school = s.schools.get(&fold(&r.school)).copied();
                if school.is_none() {
                    fail(format!("Scuola sconosciuta: «{}».", r.school));
                }
                let class = match (year, school) {
                    (Some(y), Some(sc)) => {
                        let k = s.classes.get(&(y, sc, fold(&r.class))).copied();
                        if k.is_none() {
                            fail(format!(
                                "Classe sconosciuta: «{}» non c'è nella scuola «{}» nell'anno {}.",
                                r.class, r.school, r.year
                            ));
                        }
                        k
                    }
                    _ => None,
                };
                let band = service.and_then(|(sv, _)| s.bands.get(&(sv, fold(&r.band))).copied());
                if service.is_some() && band.is_none() {
                    fail(format!(
                        "Fascia sconosciuta per il servizio {}: «{}».",
                        r.service.label_it(),
                        r.band
                    ));
                }
                let diet = match &r.diet {
                    None => Some(None),
                    Some(code) => match s.diets.get(&fold(code)) {
                        Some(d) => Some(Some(*d)),
                        None => {
                            fail(format!("Codice dieta sconosciuto: «{code}»."));
                            None
                        }
                    },
                };
                if let (Some(pupil), Some(other)) = (pupil, s.cards.get(&r.card.to_uppercase()))
                    && *other != pupil
                {
                    fail(format!("La tessera {} è già di un altro alunno.", r.card));
                }
                if p.errors.len() != before {
                    continue;
                }
                let (
                    Some(pupil),
                    Some((service, billing)),
                    Some(school),
                    Some(class),
                    Some(band),
                    Some(diet),
                ) = (pupil, service, school, class, band, diet)
                else {
                    continue;
                };
                if s.enrolled.contains(&(pupil, service)) {
                    p.present.push(r.row);
                    continue;
                }
                if s.cards.contains_key(&r.card.to_uppercase()) {
                    // The same pupil's card on another service's enrolment.
                    p.errors.push(row_error(
                        r.row,
                        format!("La tessera {} è già usata per un'altra iscrizione.", r.card),
                    ));
                    continue;
                }
                if r.meal_price.is_none() {
                    unpriced.push((p.steps.len(), band));
                }
                p.steps.push(Step::Enrolment {
                    row: r.clone(),
                    new: NewEnrolment {
                        pupil_id: pupil,
                        service_id: service,
                        school_id: school,
                        class_id: class,
                        tariff_band_id: band.id,
                        meal_price: r.meal_price.unwrap_or(band.meal_price),
                        fixed_fee: band.fixed_fee,
                        diet_id: diet,
                        state: r.state,
                        start_date: r.start_date,
                        card_code: r.card.clone(),
                    },
                    billing,
                });
            }
            price_by_rank(&mut p, &unpriced, s);
        }
        Rows::Balances(rows) => {
            for r in rows {
                let before = p.errors.len();
                let family = s.family_of_payer(&r.payer);
                if family.is_none() {
                    p.errors.push(row_error(
                        r.row,
                        format!(
                            "Intestatario sconosciuto ({}): importa prima il file dei genitori.",
                            r.payer.as_str()
                        ),
                    ));
                }
                let year = s.years.get(&r.year).copied();
                let service = year.and_then(|y| s.services.get(&(y, r.service)).copied());
                match (year, service) {
                    (None, _) => p.errors.push(row_error(
                        r.row,
                        format!("Anno scolastico sconosciuto: {}.", r.year),
                    )),
                    (Some(_), None) => p.errors.push(row_error(
                        r.row,
                        format!(
                            "Il servizio {} non c'è nell'anno {}.",
                            r.service.label_it(),
                            r.year
                        ),
                    )),
                    _ => {}
                }
                if p.errors.len() != before {
                    continue;
                }
                let (Some(family), Some((service, _))) = (family, service) else {
                    continue;
                };
                let key = balance_key(&r.payer, service);
                if r.amount.is_zero() || s.balance_keys.contains(&key.to_string()) {
                    p.present.push(r.row);
                    continue;
                }
                p.steps.push(Step::Balance {
                    row: r.clone(),
                    family,
                    service,
                    key,
                });
            }
        }
    }
    p.errors.sort_by_key(|e| e.row);
    p
}

/// Gives the enrolments of rows with a blank price the price the office's form would give
/// them ([`pricing::meal_price`]): the band's price with the sibling reduction of the pupil's
/// rank among its family's children actively enrolled in the service once the file is
/// imported (those enrolled already and those of the file), eldest first.
fn price_by_rank(p: &mut Plan, unpriced: &[(usize, BandInfo)], s: &Snapshot) {
    let mut enrolled: HashMap<(ServiceId, FamilyId), Vec<Sibling>> = HashMap::new();
    let planned = p.steps.iter().filter_map(|step| match step {
        Step::Enrolment { new, .. } if new.state == EnrolmentState::Attivo => {
            Some((new.pupil_id, new.service_id))
        }
        _ => None,
    });
    for (pupil, service) in s.active.iter().copied().chain(planned) {
        if let Some((family, birth_date)) = s.siblings.get(&pupil) {
            enrolled
                .entry((service, *family))
                .or_default()
                .push(Sibling {
                    id: pupil,
                    birth_date: *birth_date,
                });
        }
    }
    for (i, band) in unpriced {
        let Some(Step::Enrolment { row, new, .. }) = p.steps.get_mut(*i) else {
            continue;
        };
        let rank = match s.siblings.get(&new.pupil_id) {
            Some((family, birth_date)) => pricing::sibling_rank(
                Sibling {
                    id: new.pupil_id,
                    birth_date: *birth_date,
                },
                enrolled
                    .get(&(new.service_id, *family))
                    .into_iter()
                    .flatten()
                    .copied(),
            ),
            None => 1,
        };
        let reductions = s
            .reductions
            .get(&new.service_id)
            .map_or(&[][..], Vec::as_slice);
        let price = BandPrice {
            meal_price: band.meal_price,
            exempt: band.exempt,
        };
        match pricing::meal_price(price, rank, reductions) {
            Some(price) => new.meal_price = price,
            None => p
                .errors
                .push(row_error(row.row, "Prezzo del pasto fuori scala.")),
        }
    }
}

/// Reads what [`plan`] needs for a kind, through the registry's functions.
pub async fn load_snapshot(
    c: &mut Conn<'_>,
    tenant: TenantId,
    kind: ImportKind,
) -> Result<Snapshot, AppError> {
    let mut s = Snapshot::default();
    for g in family::guardians(c, tenant).await? {
        s.guardians.insert(g.fiscal_code.as_str().to_string(), g.id);
    }
    for f in family::families(c, tenant).await? {
        s.payer_family.insert(f.payer_id, f.id);
    }
    if kind == ImportKind::Guardians {
        return Ok(s);
    }
    for p in family::pupils(c, tenant).await? {
        if let Some(cf) = &p.fiscal_code {
            s.pupils.insert(cf.as_str().to_string(), p.id);
        }
        s.siblings.insert(p.id, (p.family_id, p.birth_date));
    }
    if kind == ImportKind::Pupils {
        return Ok(s);
    }
    for y in calendar::school_years(c, tenant).await? {
        s.years.insert(y.label.clone(), y.id);
        for sv in db_service::services(c, tenant, y.id).await? {
            s.services.insert((y.id, sv.kind), (sv.id, sv.billing));
            if kind == ImportKind::Enrolments {
                for b in db_service::bands(c, tenant, sv.id).await? {
                    s.bands.insert(
                        (sv.id, fold(&b.name)),
                        BandInfo {
                            id: b.id,
                            meal_price: b.meal_price,
                            fixed_fee: b.fixed_fee,
                            exempt: b.exempt,
                        },
                    );
                }
                s.reductions.insert(
                    sv.id,
                    db_service::sibling_reductions(c, tenant, sv.id).await?,
                );
                for e in db_service::enrolments(c, tenant, sv.id).await? {
                    s.enrolled.insert((e.pupil_id, e.service_id));
                    if e.state == EnrolmentState::Attivo {
                        s.active.insert((e.pupil_id, e.service_id));
                    }
                    s.cards.insert(e.card_code.to_uppercase(), e.pupil_id);
                }
            }
        }
        if kind == ImportKind::Enrolments {
            for k in school::classes(c, tenant, y.id).await? {
                s.classes.insert((y.id, k.school_id, fold(&k.name)), k.id);
            }
        }
    }
    if kind == ImportKind::Enrolments {
        for sc in school::schools(c, tenant).await? {
            s.schools.insert(fold(&sc.name), sc.id);
        }
        for d in db_service::diets(c, tenant).await? {
            s.diets.insert(fold(&d.code), d.id);
        }
    }
    if kind == ImportKind::Balances {
        s.balance_keys = db_import::ledger_keys_with_prefix(c, tenant, Key::IMPORT_BALANCE_PREFIX)
            .await?
            .into_iter()
            .collect();
    }
    Ok(s)
}
