//! Registry tests, run on SQLite and (when configured) PostgreSQL.

use std::collections::BTreeSet;

use jiff::civil::{Time, date};
use refettorio_db::registry::{calendar, family, school, service, staff, tenant};
use refettorio_db::testing::TestDb;
use refettorio_db::{Backend, Db, on_conn};
use refettorio_domain::{
    Billing, Cents, ClassId, Closure, ClosureKind, ClosureScope, CodiceFiscale, DietKind,
    EnrolmentState, EnteFiscalCode, Residency, SchoolKind, ServiceKind, Slug, StaffRole, TenantId,
    Weekdays,
};

fn t0() -> jiff::Timestamp {
    "2026-09-01T08:00:00Z".parse().unwrap()
}

/// A tenant with one of everything; returns its id and the ids worth probing.
struct Fixture {
    tenant: TenantId,
    year: refettorio_domain::SchoolYearId,
    school: refettorio_domain::SchoolId,
    class: ClassId,
    guardian: refettorio_domain::GuardianId,
    family: refettorio_domain::FamilyId,
    pupil: refettorio_domain::PupilId,
    service: refettorio_domain::ServiceId,
}

async fn fixture(
    db: &Db,
    slug: &str,
    fiscal_code: &str,
    cf: &str,
    pupil_cf: &str,
    card: &str,
) -> Fixture {
    let mut tx = db.begin().await.unwrap();
    let c = &mut tx.conn();
    let tenant = tenant::insert(
        c,
        &tenant::NewTenant {
            slug: Slug::parse(slug).unwrap(),
            name: format!("Comune di {slug}"),
            fiscal_code: EnteFiscalCode::parse(fiscal_code).unwrap(),
            timezone: "Europe/Rome".into(),
            cutoff_time: Time::constant(9, 30, 0, 0),
            patron_day: Some((6, 24)),
            patron_name: Some("San Giovanni".into()),
            settings: Default::default(),
        },
        t0(),
    )
    .await
    .unwrap()
    .unwrap();
    let year = calendar::insert_school_year(
        c,
        tenant,
        &calendar::NewSchoolYear {
            label: "2026/2027".into(),
            starts_on: date(2026, 9, 1),
            ends_on: date(2027, 8, 31),
            first_day: date(2026, 9, 14),
            last_day: date(2027, 6, 8),
        },
    )
    .await
    .unwrap();
    let school = school::insert_school(
        c,
        tenant,
        &school::NewSchool {
            name: "Primaria Dante".into(),
            kind: SchoolKind::Primaria,
            address: "Via Roma 1".into(),
            kitchen_email: None,
        },
    )
    .await
    .unwrap();
    let class = school::insert_class(
        c,
        tenant,
        &school::NewClass {
            school_year_id: year,
            school_id: school,
            name: "1 A".into(),
            canteen_weekdays: Weekdays::MON_FRI,
        },
    )
    .await
    .unwrap();
    calendar::insert_closure(
        c,
        tenant,
        year,
        &Closure {
            scope: ClosureScope::School(school),
            from: date(2026, 11, 2),
            to: date(2026, 11, 3),
            kind: ClosureKind::Break,
            reason: "Ponte".into(),
        },
        t0(),
    )
    .await
    .unwrap();
    let guardian = family::insert_guardian(
        c,
        tenant,
        &family::NewGuardian {
            fiscal_code: CodiceFiscale::parse(cf).unwrap(),
            first_name: "Mario".into(),
            last_name: "Rossi".into(),
            email: Some("mario@example.org".into()),
            phone: None,
            address: String::new(),
            resident: true,
        },
        None,
    )
    .await
    .unwrap();
    let family = family::insert_family(c, tenant, guardian, Some(Cents(1_200_000)))
        .await
        .unwrap();
    let pupil = family::insert_pupil(
        c,
        tenant,
        &family::NewPupil {
            family_id: family,
            fiscal_code: Some(CodiceFiscale::parse(pupil_cf).unwrap()),
            first_name: "Luca".into(),
            last_name: "Rossi".into(),
            birth_date: date(2019, 3, 2),
        },
    )
    .await
    .unwrap();
    let service = service::insert_service(
        c,
        tenant,
        year,
        ServiceKind::Refezione,
        Billing::Prepaid,
        "Refezione",
    )
    .await
    .unwrap();
    let band = service::insert_band(
        c,
        tenant,
        service,
        &service::NewTariffBand {
            name: "Fascia A".into(),
            isee_min: Cents(0),
            isee_max: None,
            residency: Residency::Any,
            meal_price: Cents(450),
            fixed_fee: Cents(0),
            exempt: false,
        },
    )
    .await
    .unwrap();
    service::set_sibling_reduction(c, tenant, service, 2, 2000)
        .await
        .unwrap();
    let diet = service::insert_diet(c, tenant, "CEL", "Senza glutine", DietKind::Health)
        .await
        .unwrap();
    service::insert_enrolment(
        c,
        tenant,
        &service::NewEnrolment {
            pupil_id: pupil,
            service_id: service,
            school_id: school,
            class_id: class,
            tariff_band_id: band,
            meal_price: Cents(450),
            fixed_fee: Cents(0),
            diet_id: Some(diet),
            state: EnrolmentState::Attivo,
            start_date: date(2026, 9, 14),
            card_code: card.into(),
        },
    )
    .await
    .unwrap();
    staff::insert_staff(
        c,
        tenant,
        "ufficio",
        "Ufficio Scuola",
        StaffRole::Office,
        "$argon2id$x",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    Fixture {
        tenant,
        year,
        school,
        class,
        guardian,
        family,
        pupil,
        service,
    }
}

async fn two_tenants(db: &Db) -> (Fixture, Fixture) {
    let a = fixture(
        db,
        "alfa",
        "01199250158",
        "RSSMRA80A01H501U",
        "RSSLCU19C02H501J",
        "CARD-1",
    )
    .await;
    let b = fixture(
        db,
        "beta",
        "02438750586",
        "RSSMRA85T10A562S",
        "CSRGGL44L13H501E",
        "CARD-2",
    )
    .await;
    (a, b)
}

#[tokio::test]
async fn migrations_apply_twice_on_every_backend() {
    for t in TestDb::all().await.unwrap() {
        // migrate() already ran once in TestDb; a second run is a no-op.
        t.db.migrate().await.unwrap();
        t.db.ping().await.unwrap();
        t.cleanup().await;
    }
}

async fn columns(db: &Db) -> BTreeSet<(String, String)> {
    let mut h = db.acquire().await.unwrap();
    let rows: Vec<(String, String)> = on_conn!(&mut h.conn(), |c| {
        let sql = match db.backend() {
            Backend::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'"
            }
            Backend::Postgres => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'"
            }
        };
        sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap()
    });
    rows.into_iter().collect()
}

#[tokio::test]
async fn both_schemas_have_the_same_tables_and_columns() {
    let lite = TestDb::sqlite().await.unwrap();
    let Some(pg) = TestDb::postgres().await.unwrap() else {
        eprintln!(
            "skipped: schema parity needs PostgreSQL ({})",
            refettorio_db::testing::POSTGRES_ENV
        );
        lite.cleanup().await;
        return;
    };
    let a = columns(&lite.db).await;
    let b = columns(&pg.db).await;
    assert!(a.len() > 50, "too few columns found: {}", a.len());
    let only_sqlite: Vec<_> = a.difference(&b).collect();
    let only_pg: Vec<_> = b.difference(&a).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_pg:?}"
    );
    lite.cleanup().await;
    pg.cleanup().await;
}

#[tokio::test]
async fn a_tenant_never_reads_another_tenants_rows() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let (a, b) = two_tenants(db).await;
        let mut h = db.acquire().await.unwrap();
        let c = &mut h.conn();
        for (me, other) in [(&a, &b), (&b, &a)] {
            let years = calendar::school_years(c, me.tenant).await.unwrap();
            assert_eq!(
                years.iter().map(|y| y.id).collect::<Vec<_>>(),
                vec![me.year]
            );
            assert!(
                calendar::school_year(c, me.tenant, other.year)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(
                calendar::closures(c, me.tenant, me.year)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(
                calendar::closures(c, me.tenant, other.year)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                school::schools(c, me.tenant)
                    .await
                    .unwrap()
                    .iter()
                    .map(|s| s.id)
                    .collect::<Vec<_>>(),
                vec![me.school]
            );
            assert!(
                school::school(c, me.tenant, other.school)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                school::classes(c, me.tenant, other.year)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                school::class(c, me.tenant, other.class)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(
                school::classes(c, me.tenant, me.year).await.unwrap().len(),
                1
            );
            assert_eq!(
                family::guardians(c, me.tenant)
                    .await
                    .unwrap()
                    .iter()
                    .map(|g| g.id)
                    .collect::<Vec<_>>(),
                vec![me.guardian]
            );
            assert!(
                family::guardian(c, me.tenant, other.guardian)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(family::families(c, me.tenant).await.unwrap().len(), 1);
            assert!(
                family::family(c, me.tenant, other.family)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                family::families_of_guardian(c, me.tenant, other.guardian)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                family::pupils_of_family(c, me.tenant, other.family)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                family::pupil(c, me.tenant, other.pupil)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(
                family::pupils(c, me.tenant)
                    .await
                    .unwrap()
                    .iter()
                    .map(|p| p.id)
                    .collect::<Vec<_>>(),
                vec![me.pupil]
            );
            assert!(
                service::services(c, me.tenant, other.year)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                service::bands(c, me.tenant, other.service)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                service::sibling_reductions(c, me.tenant, other.service)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(service::diets(c, me.tenant).await.unwrap().len(), 1);
            assert!(
                service::enrolments(c, me.tenant, other.service)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                service::enrolments_of_pupil(c, me.tenant, other.pupil)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                service::enrolments(c, me.tenant, me.service)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(staff::staff(c, me.tenant).await.unwrap().len(), 1);
        }
        // The same card code in two tenants is fine; the other tenant's card is not found.
        assert!(
            service::enrolment_by_card(c, a.tenant, "CARD-2")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            service::enrolment_by_card(c, a.tenant, "CARD-1")
                .await
                .unwrap()
                .is_some()
        );
        drop(h);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn rows_cannot_point_at_another_tenants_rows() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let (a, b) = two_tenants(db).await;
        // A class of tenant A in a school of tenant B: refused by the composite foreign key.
        let mut tx = db.begin().await.unwrap();
        let r = school::insert_class(
            &mut tx.conn(),
            a.tenant,
            &school::NewClass {
                school_year_id: a.year,
                school_id: b.school,
                name: "X".into(),
                canteen_weekdays: Weekdays::MON_FRI,
            },
        )
        .await;
        assert!(
            r.is_err(),
            "{:?}: cross-tenant class accepted",
            db.backend()
        );
        drop(tx);
        // A pupil of tenant A in tenant B's family: refused.
        let mut tx = db.begin().await.unwrap();
        let r = family::insert_pupil(
            &mut tx.conn(),
            a.tenant,
            &family::NewPupil {
                family_id: b.family,
                fiscal_code: None,
                first_name: "X".into(),
                last_name: "Y".into(),
                birth_date: date(2020, 1, 1),
            },
        )
        .await;
        assert!(
            r.is_err(),
            "{:?}: cross-tenant pupil accepted",
            db.backend()
        );
        drop(tx);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn uniqueness_rules_hold() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let (a, _b) = two_tenants(db).await;
        let mut h = db.acquire().await.unwrap();
        let c = &mut h.conn();
        // Same slug again: nothing written, None returned.
        let again = tenant::insert(
            c,
            &tenant::NewTenant {
                slug: Slug::parse("alfa").unwrap(),
                name: "Altro".into(),
                fiscal_code: EnteFiscalCode::parse("00514490010").unwrap(),
                timezone: "Europe/Rome".into(),
                cutoff_time: Time::constant(9, 0, 0, 0),
                patron_day: None,
                patron_name: None,
                settings: Default::default(),
            },
            t0(),
        )
        .await
        .unwrap();
        assert_eq!(again, None);
        assert_eq!(tenant::list(c).await.unwrap().len(), 2);
        // A pupil fiscal code is unique per tenant; pupils without one are many.
        let dup = family::insert_pupil(
            c,
            a.tenant,
            &family::NewPupil {
                family_id: a.family,
                fiscal_code: Some(CodiceFiscale::parse("RSSLCU19C02H501J").unwrap()),
                first_name: "A".into(),
                last_name: "B".into(),
                birth_date: date(2019, 3, 2),
            },
        )
        .await;
        assert!(
            dup.as_ref().is_err_and(|e| e.is_unique_violation()),
            "{dup:?}"
        );
        for _ in 0..2 {
            family::insert_pupil(
                c,
                a.tenant,
                &family::NewPupil {
                    family_id: a.family,
                    fiscal_code: None,
                    first_name: "Nuovo".into(),
                    last_name: "Nato".into(),
                    birth_date: date(2026, 1, 1),
                },
            )
            .await
            .unwrap();
        }
        assert_eq!(
            family::pupils_of_family(c, a.tenant, a.family)
                .await
                .unwrap()
                .len(),
            3
        );
        // Round trip of the stored tenant.
        let ta = tenant::by_slug(c, "alfa").await.unwrap().unwrap();
        assert_eq!(ta.cutoff_time, Time::constant(9, 30, 0, 0));
        assert_eq!(ta.patron_day, Some((6, 24)));
        assert_eq!(ta.timezone.iana_name(), Some("Europe/Rome"));
        assert!(tenant::by_slug(c, "gamma").await.unwrap().is_none());
        drop(h);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_calendar_comes_back_from_the_database() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let (a, _) = two_tenants(db).await;
        let mut h = db.acquire().await.unwrap();
        let c = &mut h.conn();
        let ten = tenant::by_id(c, a.tenant).await.unwrap().unwrap();
        let year = calendar::school_year_at(c, a.tenant, date(2026, 11, 2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(year.id, a.year);
        assert!(
            calendar::school_year_at(c, a.tenant, date(2027, 9, 1))
                .await
                .unwrap()
                .is_none()
        );
        let cal = calendar::load_calendar(c, &ten, &year).await.unwrap();
        // 2 Nov 2026 is a Monday closed for the school; 4 Nov is a plain Wednesday.
        assert!(!cal.is_canteen_day(date(2026, 11, 2), a.school, a.class, Weekdays::MON_FRI));
        assert!(cal.is_canteen_day(date(2026, 11, 4), a.school, a.class, Weekdays::MON_FRI));
        // 8 Dec is a national holiday, 24 Jun is after the last day anyway.
        assert!(!cal.is_canteen_day(date(2026, 12, 8), a.school, a.class, Weekdays::MON_FRI));
        drop(h);
        t.cleanup().await;
    }
}
