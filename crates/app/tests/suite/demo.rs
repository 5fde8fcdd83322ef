//! The demo municipality, on SQLite and (when configured) PostgreSQL.

use std::collections::BTreeSet;
use std::time::Instant;

use refettorio_app::demo::{
    DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF, DEMO_PARENT_EMAIL,
    DEMO_PARENT_PASSWORD, DEMO_SLUG, DEMO_STAFF,
};
use refettorio_app::{DemoOutcome, load_demo, password};
use refettorio_db::registry::{calendar, family, school, service, staff, tenant};
use refettorio_db::testing::TestDb;
use refettorio_db::{Db, on_conn};
use refettorio_domain::{
    CodiceFiscale, EnrolmentState, FixedClock, SchoolKind, ServiceKind, StaffRole, TenantId,
    Weekdays, today,
};

fn clock() -> FixedClock {
    FixedClock::new("2026-11-23T08:00:00Z".parse().unwrap())
}

const TABLES: [&str; 13] = [
    "tenant",
    "school_year",
    "school",
    "class",
    "closure",
    "guardian",
    "family",
    "family_delegate",
    "pupil",
    "service",
    "tariff_band",
    "enrolment",
    "staff_user",
];

async fn counts(db: &Db) -> Vec<(&'static str, i64)> {
    let mut h = db.acquire().await.unwrap();
    let mut out = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = on_conn!(&mut h.conn(), |c| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *c)
                .await
                .unwrap()
        });
        out.push((table, n));
    }
    out
}

/// Stored fiscal codes and password hashes, read raw (the db crate has no credential lookup).
async fn guardian_rows(db: &Db, t: TenantId) -> Vec<(String, Option<String>)> {
    let mut h = db.acquire().await.unwrap();
    on_conn!(&mut h.conn(), |c| {
        sqlx::query_as("SELECT fiscal_code, password_hash FROM guardian WHERE tenant_id = $1")
            .bind(t.get())
            .fetch_all(&mut *c)
            .await
            .unwrap()
    })
}

async fn pupil_codes(db: &Db, t: TenantId) -> Vec<Option<String>> {
    let mut h = db.acquire().await.unwrap();
    on_conn!(&mut h.conn(), |c| {
        sqlx::query_scalar("SELECT fiscal_code FROM pupil WHERE tenant_id = $1")
            .bind(t.get())
            .fetch_all(&mut *c)
            .await
            .unwrap()
    })
}

#[tokio::test]
async fn loads_once_sequentially() {
    let clock = clock();
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let start = Instant::now();
        let first = load_demo(&t.db, &clock).await.unwrap();
        eprintln!("{backend}: demo loaded in {:?}", start.elapsed());
        let DemoOutcome::Loaded {
            families, pupils, ..
        } = first
        else {
            panic!("{backend}: first load: {first:?}");
        };
        let before = counts(&t.db).await;
        assert!(before.iter().all(|(_, n)| *n > 0), "{backend}: {before:?}");
        assert_eq!(
            before.iter().find(|(t, _)| *t == "family").map(|x| x.1),
            Some(families as i64)
        );
        assert_eq!(
            before.iter().find(|(t, _)| *t == "pupil").map(|x| x.1),
            Some(pupils as i64)
        );
        let start = Instant::now();
        assert_eq!(
            load_demo(&t.db, &clock).await.unwrap(),
            DemoOutcome::AlreadyPresent,
            "{backend}"
        );
        eprintln!("{backend}: second call in {:?}", start.elapsed());
        assert_eq!(counts(&t.db).await, before, "{backend}");
        t.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_loads_write_once() {
    let clock = clock();
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let start = Instant::now();
        let (a, b) = tokio::join!(load_demo(&t.db, &clock), load_demo(&t.db, &clock));
        eprintln!("{backend}: two concurrent loads in {:?}", start.elapsed());
        let outcomes = [a.unwrap(), b.unwrap()];
        let loaded = outcomes
            .iter()
            .filter(|o| matches!(o, DemoOutcome::Loaded { .. }))
            .count();
        assert_eq!(loaded, 1, "{backend}: {outcomes:?}");
        assert!(outcomes.contains(&DemoOutcome::AlreadyPresent), "{backend}");
        let c = counts(&t.db).await;
        assert_eq!(c[0], ("tenant", 1), "{backend}");
        let mut h = t.db.acquire().await.unwrap();
        let tenant = tenant::by_slug(&mut h.conn(), DEMO_SLUG)
            .await
            .unwrap()
            .unwrap();
        let n = family::pupils(&mut h.conn(), tenant.id)
            .await
            .unwrap()
            .len();
        assert!((350..=450).contains(&n), "{backend}: {n} pupils");
        drop(h);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_loads_from_separate_tasks() {
    // As two server processes starting together would: separate tasks on the runtime.
    let clock = std::sync::Arc::new(clock());
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let db = t.db.clone();
                let clock = clock.clone();
                tokio::spawn(async move { load_demo(&db, clock.as_ref()).await })
            })
            .collect();
        let mut loaded = 0;
        for task in tasks {
            if let DemoOutcome::Loaded { .. } = task.await.unwrap().unwrap() {
                loaded += 1;
            }
        }
        assert_eq!(loaded, 1, "{backend}");
        assert_eq!(counts(&t.db).await[0], ("tenant", 1), "{backend}");
        t.cleanup().await;
    }
}

#[tokio::test]
async fn content_is_complete_and_valid() {
    let clock = clock();
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let DemoOutcome::Loaded {
            tenant: tid,
            families,
            pupils,
        } = load_demo(&t.db, &clock).await.unwrap()
        else {
            panic!("{backend}: not loaded");
        };
        assert!((260..=340).contains(&families), "{backend}: {families}");
        assert!((350..=450).contains(&pupils), "{backend}: {pupils}");

        let mut h = t.db.acquire().await.unwrap();
        let c = &mut h.conn();
        let tenant = tenant::by_slug(c, DEMO_SLUG).await.unwrap().unwrap();
        assert_eq!(tenant.id, tid);
        assert_eq!(tenant.name, "Comune di Esempio");
        assert!(tenant.settings.citizen_local_login);
        assert_eq!(tenant.patron_day, Some((4, 23)));
        assert_eq!(tenant.cutoff_time.to_string(), "09:30:00");

        // The school year contains the clock's date and fits the regional rules.
        let local = today(&clock, &tenant.timezone);
        let year = calendar::school_year_at(c, tid, local)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(year.label, "2026/2027");
        assert!(year.first_day <= local && local <= year.last_day);
        let cal = calendar::load_calendar(c, &tenant, &year).await.unwrap();
        assert_eq!(cal.validate(), Ok(()));
        assert!(cal.closures.len() >= 3);

        let schools = school::schools(c, tid).await.unwrap();
        assert_eq!(schools.len(), 4, "{backend}");
        let kinds: BTreeSet<&str> = schools.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds.len(), 3);
        let classes = school::classes(c, tid, year.id).await.unwrap();
        assert!((18..=24).contains(&classes.len()), "{}", classes.len());
        let weekday_sets: BTreeSet<u8> =
            classes.iter().map(|k| k.canteen_weekdays.bits()).collect();
        assert!(weekday_sets.len() >= 3, "{weekday_sets:?}");

        // Every stored fiscal code parses; the only password is Mario Rossi's.
        let guardians = guardian_rows(&t.db, tid).await;
        assert!(guardians.len() >= families);
        for (cf, _) in &guardians {
            CodiceFiscale::parse(cf).unwrap_or_else(|e| panic!("{cf}: {e}"));
        }
        let with_password: Vec<_> = guardians.iter().filter(|g| g.1.is_some()).collect();
        assert_eq!(with_password.len(), 1, "{backend}");
        assert_eq!(with_password[0].0, DEMO_PARENT_CF);
        let phc = with_password[0].1.as_deref().unwrap();
        assert!(password::verify(phc, DEMO_PARENT_PASSWORD));
        assert!(!password::verify(phc, "x"));

        let codes = pupil_codes(&t.db, tid).await;
        assert_eq!(codes.len(), pupils);
        let missing = codes.iter().filter(|c| c.is_none()).count();
        assert!((1..=10).contains(&missing), "{backend}: {missing}");
        for cf in codes.iter().flatten() {
            CodiceFiscale::parse(cf).unwrap_or_else(|e| panic!("{cf}: {e}"));
        }

        // Mario Rossi: payer of two children in two schools, both eating at the canteen.
        let cf = CodiceFiscale::parse(DEMO_PARENT_CF).unwrap();
        let mario = family::guardian_by_fiscal_code(c, tid, &cf)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (mario.first_name.as_str(), mario.last_name.as_str()),
            ("Mario", "Rossi")
        );
        assert_eq!(mario.email.as_deref(), Some(DEMO_PARENT_EMAIL));
        let links = family::families_of_guardian(c, tid, mario.id)
            .await
            .unwrap();
        assert_eq!(links.len(), 1);
        let (fam, link) = &links[0];
        assert_eq!(*link, family::Link::Payer);
        let children = family::pupils_of_family(c, tid, fam.id).await.unwrap();
        assert_eq!(children.len(), 2);
        let services = service::services(c, tid, year.id).await.unwrap();
        let meals = services
            .iter()
            .find(|s| s.kind == ServiceKind::Refezione)
            .unwrap();
        let mut child_schools = BTreeSet::new();
        for child in &children {
            assert!(child.fiscal_code.is_some());
            let e = service::enrolments_of_pupil(c, tid, child.id)
                .await
                .unwrap();
            let meal = e.iter().find(|e| e.service_id == meals.id).unwrap();
            assert_eq!(meal.state, EnrolmentState::Attivo);
            assert!(meal.meal_price.get() > 0);
            child_schools.insert(meal.school_id);
        }
        assert_eq!(child_schools.len(), 2);
        let primaria = schools
            .iter()
            .find(|s| child_schools.contains(&s.id) && s.kind == SchoolKind::Primaria);
        assert!(primaria.is_some());
        let full_time = classes
            .iter()
            .filter(|k| k.canteen_weekdays == Weekdays::MON_FRI)
            .count();
        assert!(full_time > 0);
        // The delegate (the mother) sees payments.
        let delegate_cf = CodiceFiscale::parse(refettorio_app::demo::DEMO_DELEGATE_CF).unwrap();
        let giulia = family::guardian_by_fiscal_code(c, tid, &delegate_cf)
            .await
            .unwrap()
            .unwrap();
        let links = family::families_of_guardian(c, tid, giulia.id)
            .await
            .unwrap();
        assert_eq!(
            links,
            vec![(
                fam.clone(),
                family::Link::Delegate {
                    can_see_payments: true
                }
            )]
        );

        // Enrolments: every pupil in the canteen, card codes unique, sibling prices reduced.
        let meal_enrolments = service::enrolments(c, tid, meals.id).await.unwrap();
        assert_eq!(meal_enrolments.len(), pupils);
        let cards: BTreeSet<&str> = meal_enrolments
            .iter()
            .map(|e| e.card_code.as_str())
            .collect();
        assert_eq!(cards.len(), pupils);
        let inactive = meal_enrolments
            .iter()
            .filter(|e| e.state == EnrolmentState::Disattivo)
            .count();
        assert!(inactive < 20, "{inactive}");
        let with_diet = meal_enrolments
            .iter()
            .filter(|e| e.diet_id.is_some())
            .count();
        assert!((30..=100).contains(&with_diet), "{with_diet}");
        let bands = service::bands(c, tid, meals.id).await.unwrap();
        assert_eq!(bands.len(), 7);
        for e in &meal_enrolments {
            let band = bands.iter().find(|b| b.id == e.tariff_band_id).unwrap();
            if band.exempt {
                assert_eq!(e.meal_price.get(), 0);
            } else {
                assert!(e.meal_price <= band.meal_price && e.meal_price.get() > 0);
            }
            assert_eq!(e.start_date, year.first_day);
        }
        let bus = services
            .iter()
            .find(|s| s.kind == ServiceKind::Trasporto)
            .unwrap();
        let bus_enrolments = service::enrolments(c, tid, bus.id).await.unwrap();
        assert!(
            (30..=110).contains(&bus_enrolments.len()),
            "{}",
            bus_enrolments.len()
        );
        assert!(bus_enrolments.iter().all(|e| e.fixed_fee.get() >= 2_500));
        assert_eq!(
            service::sibling_reductions(c, tid, meals.id).await.unwrap(),
            vec![(2, 2000), (3, 3000)]
        );
        assert_eq!(service::diets(c, tid).await.unwrap().len(), 5);

        // Staff accounts.
        let office = staff::staff_by_username(c, tid, DEMO_OFFICE_USER)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(office.role, StaffRole::Office);
        assert_eq!(office.display_name, "Ufficio Scuola");
        assert!(password::verify(
            &office.password_hash,
            DEMO_OFFICE_PASSWORD
        ));
        assert!(!password::verify(
            &office.password_hash,
            DEMO_PARENT_PASSWORD
        ));
        for (user, pw, _, role) in DEMO_STAFF {
            let s = staff::staff_by_username(c, tid, user)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(s.role, role);
            assert!(password::verify(&s.password_hash, pw), "{user}");
        }
        drop(h);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn later_school_years_work_too() {
    for t in TestDb::all().await.unwrap() {
        let clock = FixedClock::new("2031-03-02T10:00:00Z".parse().unwrap());
        let DemoOutcome::Loaded { tenant: tid, .. } = load_demo(&t.db, &clock).await.unwrap()
        else {
            panic!("not loaded");
        };
        let mut h = t.db.acquire().await.unwrap();
        let year = calendar::school_year_at(&mut h.conn(), tid, jiff::civil::date(2031, 3, 2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(year.label, "2030/2031");
        drop(h);
        t.cleanup().await;
    }
}

#[test]
fn demo_parent_code_is_mario_rossi() {
    let cf = CodiceFiscale::compute(
        "Rossi",
        "Mario",
        jiff::civil::date(1980, 1, 1),
        false,
        "H501",
    )
    .unwrap();
    assert_eq!(cf.as_str(), DEMO_PARENT_CF);
}

/// The load future must be `Send`, for `tokio::spawn` in the server.
#[allow(dead_code)]
fn load_is_send(db: &Db, clock: &FixedClock) {
    fn send<T: Send>(_: T) {}
    send(load_demo(db, clock));
}
