//! The demo: writing.

use super::*;

pub(super) struct Band {
    pub(super) id: TariffBandId,
    pub(super) range: IseeRange,
    pub(super) residency: Residency,
    pub(super) meal_price: Cents,
    pub(super) fixed_fee: Cents,
    pub(super) exempt: bool,
}

/// A refezione band: name, ISEE min and max (cents), residency, meal price (cents), exempt.
pub(super) type MealBand = (&'static str, i64, Option<i64>, Residency, i64, bool);

pub(super) const MEAL_BANDS: [MealBand; 7] = [
    (
        "Fascia 1 - Esenzione (ISEE fino a 3.000 €)",
        0,
        Some(300_000),
        Residency::Resident,
        0,
        true,
    ),
    (
        "Fascia 2 (ISEE da 3.000,01 a 8.000 €)",
        300_001,
        Some(800_000),
        Residency::Resident,
        200,
        false,
    ),
    (
        "Fascia 3 (ISEE da 8.000,01 a 13.000 €)",
        800_001,
        Some(1_300_000),
        Residency::Resident,
        300,
        false,
    ),
    (
        "Fascia 4 (ISEE da 13.000,01 a 19.000 €)",
        1_300_001,
        Some(1_900_000),
        Residency::Resident,
        400,
        false,
    ),
    (
        "Fascia 5 (ISEE da 19.000,01 a 25.000 €)",
        1_900_001,
        Some(2_500_000),
        Residency::Resident,
        500,
        false,
    ),
    (
        "Fascia 6 (ISEE oltre 25.000 € o non dichiarato)",
        2_500_001,
        None,
        Residency::Resident,
        580,
        false,
    ),
    ("Non residenti", 0, None, Residency::NonResident, 580, false),
];

/// Transport bands: name, residency, monthly fee (cents).
pub(super) const TRANSPORT_BANDS: [(&str, Residency, i64); 2] = [
    ("Residenti - quota mensile", Residency::Resident, 2_500),
    (
        "Non residenti - quota mensile",
        Residency::NonResident,
        3_500,
    ),
];

/// Sibling reductions on the refezione: (from rank, basis points).
pub(super) const SIBLING_REDUCTIONS: [(u32, u32); 2] = [(2, 2_000), (3, 3_000)];

pub(super) async fn insert_bands(
    c: &mut Conn<'_>,
    t: TenantId,
    service: refettorio_domain::ServiceId,
    specs: impl Iterator<Item = service::NewTariffBand>,
) -> Result<Vec<Band>, AppError> {
    let mut out = Vec::new();
    for b in specs {
        let id = service::insert_band(c, t, service, &b).await?;
        out.push(Band {
            id,
            range: IseeRange {
                min: b.isee_min,
                max: b.isee_max,
            },
            residency: b.residency,
            meal_price: b.meal_price,
            fixed_fee: b.fixed_fee,
            exempt: b.exempt,
        });
    }
    Ok(out)
}

pub(super) fn new_guardian(g: &PlanGuardian, f: &PlanFamily) -> family::NewGuardian {
    family::NewGuardian {
        fiscal_code: g.person.cf.clone(),
        first_name: g.person.first_name.clone(),
        last_name: g.person.last_name.clone(),
        email: Some(g.email.clone()),
        phone: Some(g.phone.clone()),
        address: f.address.clone(),
        resident: f.resident,
    }
}

pub(super) fn no_band() -> AppError {
    AppError::Invalid("demo: no tariff band fits".to_string())
}

/// Writes the plan; `None` when the slug is taken (the caller then rolls back).
pub(super) async fn write(
    c: &mut Conn<'_>,
    plan: &Plan,
    hashes: &Hashes,
    now: jiff::Timestamp,
) -> Result<Option<TenantId>, AppError> {
    let slug = Slug::parse(DEMO_SLUG).map_err(|e| AppError::Invalid(e.to_string()))?;
    let fiscal_code = EnteFiscalCode::with_check_digit("8000215047")
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let broker = fiscal_code.as_str().to_string();
    let new_tenant = tenant::NewTenant {
        slug,
        name: DEMO_NAME.to_string(),
        fiscal_code,
        timezone: TIMEZONE.to_string(),
        cutoff_time: Time::new(9, 30, 0, 0)?,
        patron_day: Some((4, 23)),
        patron_name: Some("San Giorgio".to_string()),
        settings: tenant::TenantSettings {
            office_email: Some("ufficio.scuola@example.org".to_string()),
            office_phone: Some("+39 0123 456789".to_string()),
            citizen_local_login: true,
            // Sandbox: payments go through the local stand-in for Checkout, which plays the
            // pagoPA node against our own station. The IBAN is a made-up one with valid
            // check digits.
            pagopa: PagoPaSettings {
                mode: PagoPaMode::Sandbox,
                station_id: format!("{broker}_01"),
                broker_id: broker,
                segregation_code: SegregationCode::new(2)
                    .map_err(|e| AppError::Invalid(e.to_string()))?,
                ibans: vec![
                    Iban::parse("IT61X0306909606100000012345")
                        .map_err(|e| AppError::Invalid(e.to_string()))?,
                ],
                cbill: Some("A1B2C".to_string()),
                ..PagoPaSettings::default()
            },
            // SPID and CIE through the stand-in identity provider, clearly marked.
            identity: IdentitySettings {
                mode: IdentityMode::Sandbox,
                ipa_code: "c_esempio".into(),
                cadastral_code: "X000".into(),
                contact_email: "ufficio.scuola@example.org".into(),
                contact_phone: Some("+390123456789".into()),
                website: "https://www.comune.esempio.it".into(),
                cie: true,
                ..IdentitySettings::default()
            },
            ..Default::default()
        },
    };
    let Some(t) = tenant::insert(c, &new_tenant, now).await? else {
        return Ok(None);
    };

    let year = calendar::insert_school_year(
        c,
        t,
        &calendar::NewSchoolYear {
            label: school_year_label(plan.year),
            starts_on: Date::new(plan.year, 9, 1)?,
            ends_on: Date::new(plan.last_day.year(), 8, 31)?,
            first_day: plan.first_day,
            last_day: plan.last_day,
        },
    )
    .await?;

    let mut schools: Vec<SchoolId> = Vec::with_capacity(SCHOOLS.len());
    for (name, kind, address) in SCHOOLS {
        let s = school::NewSchool {
            name: name.to_string(),
            kind,
            address: address.to_string(),
            kitchen_email: Some(KITCHEN_EMAIL.to_string()),
        };
        schools.push(school::insert_school(c, t, &s).await?);
    }
    let school_id = |i: usize| {
        schools
            .get(i)
            .copied()
            .ok_or_else(|| AppError::Invalid(format!("demo: no school {i}")))
    };
    let mut classes: Vec<ClassId> = Vec::with_capacity(plan.classes.len());
    for k in &plan.classes {
        let new = school::NewClass {
            school_year_id: year,
            school_id: school_id(k.school)?,
            name: k.name.clone(),
            canteen_weekdays: k.weekdays,
        };
        classes.push(school::insert_class(c, t, &new).await?);
    }

    for &(school, from, to, kind, reason) in &plan.closures {
        let scope = match school {
            Some(i) => ClosureScope::School(school_id(i)?),
            None => ClosureScope::Tenant,
        };
        let closure = Closure {
            scope,
            from,
            to,
            kind,
            reason: reason.to_string(),
        };
        calendar::insert_closure(c, t, year, &closure, now).await?;
    }

    let meals = service::insert_service(
        c,
        t,
        year,
        ServiceKind::Refezione,
        Billing::Prepaid,
        ServiceKind::Refezione.label_it(),
    )
    .await?;
    let meal_bands = insert_bands(
        c,
        t,
        meals,
        MEAL_BANDS
            .iter()
            .map(
                |&(name, min, max, residency, price, exempt)| service::NewTariffBand {
                    name: name.to_string(),
                    isee_min: Cents(min),
                    isee_max: max.map(Cents),
                    residency,
                    meal_price: Cents(price),
                    fixed_fee: Cents::ZERO,
                    exempt,
                },
            ),
    )
    .await?;
    for (rank, bp) in SIBLING_REDUCTIONS {
        service::set_sibling_reduction(c, t, meals, rank, bp).await?;
    }
    let bus = service::insert_service(
        c,
        t,
        year,
        ServiceKind::Trasporto,
        Billing::Postpaid,
        ServiceKind::Trasporto.label_it(),
    )
    .await?;
    let bus_bands = insert_bands(
        c,
        t,
        bus,
        TRANSPORT_BANDS
            .iter()
            .map(|&(name, residency, fee)| service::NewTariffBand {
                name: name.to_string(),
                isee_min: Cents::ZERO,
                isee_max: None,
                residency,
                meal_price: Cents::ZERO,
                fixed_fee: Cents(fee),
                exempt: false,
            }),
    )
    .await?;
    // The transport's fees: monthly, a begun month paid whole, a yearly enrolment fee, paid to
    // the demo's IBAN under school transport's taxonomy code (issued from the back office or
    // `refettorio fees issue`).
    refettorio_db::fees::put_rule(
        c,
        t,
        bus,
        &refettorio_domain::fees::FeeRule {
            frequency: refettorio_domain::fees::Frequency::Monthly,
            pro_rata: refettorio_domain::fees::ProRata::Whole,
            enrolment_fee: Cents(3000),
            iban: "IT61X0306909606100000012345".into(),
            taxonomy: refettorio_domain::pagopa::CATEGORY_TRANSPORT.into(),
            due_days: 30,
            expires: false,
        },
        now,
    )
    .await?;

    let mut diets: Vec<DietId> = Vec::with_capacity(DIETS.len());
    for (code, name, kind, _) in DIETS {
        diets.push(service::insert_diet(c, t, code, name, kind).await?);
    }

    // The platform administrator, unless one with that username is already there.
    refettorio_db::platform::insert_admin(c, DEMO_ADMIN_USER, DEMO_ADMIN_NAME, &hashes.admin)
        .await?;
    for ((username, _, display, role), hash) in DEMO_STAFF.iter().zip(&hashes.staff) {
        let id = staff::insert_staff(c, t, username, display, *role, hash).await?;
        if *role == StaffRole::School {
            // The school's secretary sees the primary school Gianni Rodari only.
            staff::add_staff_school(c, t, id, school_id(DEMO_SCHOOL)?).await?;
        }
    }

    let key = |b: &Band| (b.range, b.residency);
    let mut card = 0u32;
    let mut opening = Vec::with_capacity(plan.families.len());
    let mut demo_family = None;
    for (index, f) in plan.families.iter().enumerate() {
        let hash = f.demo_parent.then_some(hashes.parent.as_str());
        let payer = family::insert_guardian(c, t, &new_guardian(&f.payer, f), hash).await?;
        let fam = family::insert_family(c, t, payer, f.isee).await?;
        opening.push((fam, opening_balance(index, f.demo_parent)));
        if f.demo_parent {
            demo_family = Some(fam);
        }
        if let Some((g, can_see_payments)) = &f.delegate {
            let g = family::insert_guardian(c, t, &new_guardian(g, f), None).await?;
            family::add_delegate(c, t, fam, g, *can_see_payments).await?;
        }
        let meal_band = band_for(&meal_bands, f.isee, f.resident, key).ok_or_else(no_band)?;
        let bus_band = band_for(&bus_bands, f.isee, f.resident, key).ok_or_else(no_band)?;
        for (i, child) in f.children.iter().enumerate() {
            let pupil = family::insert_pupil(
                c,
                t,
                &family::NewPupil {
                    family_id: fam,
                    fiscal_code: child.cf.clone(),
                    first_name: child.first_name.clone(),
                    last_name: child.last_name.clone(),
                    birth_date: child.birth,
                },
            )
            .await?;
            let spec = plan
                .classes
                .get(child.class)
                .ok_or_else(|| AppError::Invalid("demo: no class".to_string()))?;
            let school = school_id(spec.school)?;
            let class = classes
                .get(child.class)
                .copied()
                .ok_or_else(|| AppError::Invalid("demo: no class".to_string()))?;
            let rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let band = BandPrice {
                meal_price: meal_band.meal_price,
                exempt: meal_band.exempt,
            };
            let meal_price =
                pricing::meal_price(band, rank, &SIBLING_REDUCTIONS).ok_or_else(no_band)?;
            card += 1;
            service::insert_enrolment(
                c,
                t,
                &service::NewEnrolment {
                    pupil_id: pupil,
                    service_id: meals,
                    school_id: school,
                    class_id: class,
                    tariff_band_id: meal_band.id,
                    meal_price,
                    fixed_fee: meal_band.fixed_fee,
                    diet_id: child.diet.and_then(|d| diets.get(d).copied()),
                    state: if child.active {
                        EnrolmentState::Attivo
                    } else {
                        EnrolmentState::Disattivo
                    },
                    start_date: plan.first_day,
                    card_code: format!("ESE-{card:04}"),
                },
            )
            .await?;
            if child.transport {
                card += 1;
                service::insert_enrolment(
                    c,
                    t,
                    &service::NewEnrolment {
                        pupil_id: pupil,
                        service_id: bus,
                        school_id: school,
                        class_id: class,
                        tariff_band_id: bus_band.id,
                        meal_price: Cents::ZERO,
                        fixed_fee: bus_band.fixed_fee,
                        diet_id: None,
                        state: EnrolmentState::Attivo,
                        start_date: plan.first_day,
                        card_code: format!("ESE-{card:04}"),
                    },
                )
                .await?;
            }
        }
    }
    // The demo stands for a running service: the school has validated its enrolments.
    refettorio_db::registry::validation::validate_all(c, t, "demo", now).await?;
    // Each family's meal account starts with last year's credit (a few with a debt), so the
    // balances look like a running service.
    refettorio_db::ledger::ensure_accounts(c, t, meals, now).await?;
    for (fam, amount) in opening {
        let Some(account) = refettorio_db::ledger::account_of(c, t, fam, meals).await? else {
            continue;
        };
        let key = refettorio_domain::ledger::Key::DemoCarryOver {
            account: account.id,
        };
        refettorio_db::ledger::insert_entry(
            c,
            t,
            &refettorio_db::ledger::NewEntry {
                account: account.id,
                kind: refettorio_domain::EntryKind::CarryOver,
                amount,
                day: plan.first_day,
                pupil: None,
                enrolment: None,
                school: None,
                class: None,
                bland: None,
                diet: None,
                reverses: None,
                reference: None,
                key: &key,
                created_by: "demo",
                reason: "Saldo dell'anno scolastico precedente",
            },
            now,
        )
        .await?;
    }
    write_content(c, t, plan, demo_family, now).await?;
    Ok(Some(t))
}

/// The public pages' news and documents, and a letter to the demo family.
pub(super) async fn write_content(
    c: &mut Conn<'_>,
    t: TenantId,
    plan: &Plan,
    demo_family: Option<FamilyId>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    use refettorio_db::content::{self, NewDocument, NewNews};
    let opening = plan.first_day.checked_sub(jiff::ToSpan::days(10))?;
    content::insert_news(
        c,
        t,
        &NewNews {
            title: "Al via la refezione scolastica",
            body: "Il servizio di refezione comincia con il primo giorno di scuola. I pasti sono prenotati in \
                   automatico: se tuo figlio è assente, disdici il pasto dall'area personale entro l'ora limite.",
            published_on: opening,
            visible_from: opening,
            visible_to: None,
        },
        now,
    )
    .await?;
    let menu_day = plan.first_day.checked_add(jiff::ToSpan::days(50))?;
    content::insert_news(
        c,
        t,
        &NewNews {
            title: "Nuovo menù autunno-inverno",
            body: "Dal 2 novembre è in vigore il menù autunno-inverno, approvato dal servizio di igiene degli \
                   alimenti dell'ASL. Lo trovi tra i documenti.",
            published_on: menu_day,
            visible_from: menu_day,
            visible_to: None,
        },
        now,
    )
    .await?;
    let mut tariffs = String::from("Tariffe della refezione scolastica (costo di un pasto)\n\n");
    for (name, _, _, _, price, _) in MEAL_BANDS {
        tariffs.push_str(&format!("{name}: {}\n", Cents(price).format_it()));
    }
    tariffs.push_str("\nRiduzioni per fratelli: dal secondo figlio iscritto.\n");
    let regulation = "Regolamento del servizio di refezione scolastica\n\n\
        Art. 1 - Il servizio è prepagato: ogni pasto consumato è addebitato sul conto della famiglia.\n\
        Art. 2 - Il pasto è prenotato in automatico in ogni giorno di mensa; la famiglia lo disdice \
        entro l'ora limite del giorno stesso.\n\
        Art. 3 - Il saldo negativo non sospende il servizio: il Comune invia un sollecito.\n";
    let privacy = "Informativa sul trattamento dei dati personali (art. 13 del Regolamento UE 2016/679)\n\n\
        Titolare del trattamento: Comune di Esempio. I dati dei genitori e degli alunni sono trattati \
        per l'erogazione dei servizi scolastici e non sono comunicati a terzi, salvo obblighi di legge.\n";
    let docs = [
        (
            "regolamento",
            "Regolamento del servizio di refezione",
            "regolamento-refezione.txt",
            regulation.to_string(),
        ),
        (
            "tariffe",
            "Tariffe della refezione scolastica",
            "tariffe-refezione.txt",
            tariffs,
        ),
        (
            "privacy",
            "Informativa privacy",
            "informativa-privacy.txt",
            privacy.to_string(),
        ),
    ];
    for (category, title, file_name, text) in &docs {
        content::insert_document(
            c,
            t,
            &NewDocument {
                family: None,
                category,
                title,
                file_name,
                content_type: "text/plain; charset=utf-8",
                content: text.as_bytes(),
                published_on: opening,
            },
            now,
        )
        .await?;
    }
    if let Some(fam) = demo_family {
        let letter = "Gentile famiglia,\n\ncon l'inizio dell'anno scolastico riparte la refezione. Il saldo \
            dell'anno precedente è stato riportato sul conto. Buon anno scolastico!\n\nL'Ufficio Scuola\n";
        content::insert_document(
            c,
            t,
            &NewDocument {
                family: Some(fam),
                category: "comunicazione",
                title: "Comunicazione di inizio anno scolastico",
                file_name: "comunicazione-inizio-anno.txt",
                content_type: "text/plain; charset=utf-8",
                content: letter.as_bytes(),
                published_on: plan.first_day,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// Last year's balance of the `index`-th family: from -5,00 € to 54,50 €, 45,00 € for the demo
/// parent.
pub(super) fn opening_balance(index: usize, demo_parent: bool) -> Cents {
    if demo_parent {
        return Cents(4500);
    }
    let step = i64::try_from(index.wrapping_mul(7919) % 120).unwrap_or(0);
    Cents((step - 10) * 50)
}
