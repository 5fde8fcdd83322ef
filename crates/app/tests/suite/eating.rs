//! "Who eats on a day" is written twice: in Rust (`refettorio_domain::Attending`, the rule the
//! portal's meal calendar shows families) and in SQL (`eating!` in `refettorio_db`, which the
//! close charges, the kitchen's forecast counts and the closures' notices reach). This test
//! generates municipalities (enrolments active or not and starting on various days, classes
//! eating on various weekdays, closures of the whole municipality, of a school or of a class,
//! absent and bland bookings) from the demo, on SQLite and PostgreSQL, and checks that the SQL
//! answers exactly what the Rust rule says, day by day, before and after the close.
//!
//! A failing case prints its seed; `REFETTORIO_EATING_SEED=<n>` runs that one seed again.

use std::collections::{BTreeMap, BTreeSet};

use jiff::ToSpan;
use jiff::civil::{Date, date};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refettorio_app::Ctx;
use refettorio_app::close::{canteen_day, close};
use refettorio_app::load_demo;
use refettorio_db::kitchen as dbm;
use refettorio_db::registry::calendar;
use refettorio_db::registry::family;
use refettorio_db::registry::school;
use refettorio_db::registry::service::{self, Enrolment};
use refettorio_db::registry::tenant;
use refettorio_db::testing::TestDb;
use refettorio_db::{Db, SqlDate, on_conn};
use refettorio_domain::{
    Actor, Attending, ClassId, DietId, EnrolmentId, EnrolmentState, FamilyId, FixedClock,
    MealChoice, SchoolId, ServiceKind,
};

/// The days checked: four weeks around the Immacolata (8 December, a national holiday), with
/// their Saturdays and Sundays.
fn days() -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = date(2026, 11, 30);
    while d <= date(2026, 12, 24) {
        out.push(d);
        d = d.checked_add(1.day()).unwrap();
    }
    out
}

async fn exec(db: &Db, sql: &'static str, binds: &[Bind]) {
    let mut h = db.acquire().await.unwrap();
    on_conn!(&mut h.conn(), |c| {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = match b {
                Bind::Int(n) => q.bind(*n),
                Bind::OptInt(n) => q.bind(*n),
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Day(d) => q.bind(SqlDate(*d)),
            };
        }
        q.execute(&mut *c).await.unwrap();
    });
}

enum Bind {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    Day(Date),
}

/// The demo, then a random shake of everything the rule reads. Returns the bookings written.
async fn generate(
    db: &Db,
    rng: &mut ChaCha8Rng,
    tenant: &tenant::Tenant,
) -> BTreeMap<(EnrolmentId, Date), MealChoice> {
    let mut h = db.acquire().await.unwrap();
    let c = &mut h.conn();
    let year = calendar::school_years(c, tenant.id)
        .await
        .unwrap()
        .remove(0);
    let service = service::services(c, tenant.id, year.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.kind == ServiceKind::Refezione)
        .unwrap();
    let classes = school::classes(c, tenant.id, year.id).await.unwrap();
    let enrolments = service::enrolments(c, tenant.id, service.id).await.unwrap();
    drop(h);
    let days = days();
    // Classes: any set of weekdays (Saturdays and Sundays too, which the calendar refuses).
    for k in &classes {
        let bits: u8 = rng.random_range(0..128);
        exec(
            db,
            "UPDATE class SET canteen_weekdays = $1 WHERE tenant_id = $2 AND id = $3",
            &[
                Bind::Int(i64::from(bits)),
                Bind::Int(tenant.id.get()),
                Bind::Int(k.id.get()),
            ],
        )
        .await;
    }
    // Enrolments: one in five not active; first days from before to inside the period.
    for e in &enrolments {
        let state = if rng.random_bool(0.2) {
            EnrolmentState::Disattivo
        } else {
            EnrolmentState::Attivo
        };
        let start = date(2026, 11, 20)
            .checked_add(rng.random_range(0..30).days())
            .unwrap();
        exec(
            db,
            "UPDATE enrolment SET state = $1, start_date = $2 WHERE tenant_id = $3 AND id = $4",
            &[
                Bind::Text(state.as_str().into()),
                Bind::Day(start),
                Bind::Int(tenant.id.get()),
                Bind::Int(e.id.get()),
            ],
        )
        .await;
    }
    // Closures: of the municipality, of a school, of a class; one to four days.
    let schools: Vec<SchoolId> = classes
        .iter()
        .map(|k| k.school_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for _ in 0..rng.random_range(2..8) {
        let from = days[rng.random_range(0..days.len())];
        let to = from.checked_add(rng.random_range(0..4).days()).unwrap();
        let (school, class) = match rng.random_range(0..3) {
            0 => (None, None),
            1 => (
                Some(schools[rng.random_range(0..schools.len())].get()),
                None,
            ),
            _ => (
                None,
                Some(classes[rng.random_range(0..classes.len())].id.get()),
            ),
        };
        exec(
            db,
            "INSERT INTO closure (tenant_id, school_year_id, school_id, class_id, starts_on, ends_on, \
             kind, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'other', 'Prova', 0)",
            &[
                Bind::Int(tenant.id.get()),
                Bind::Int(year.id.get()),
                Bind::OptInt(school),
                Bind::OptInt(class),
                Bind::Day(from),
                Bind::Day(to),
            ],
        )
        .await;
    }
    // Bookings: on any day (canteen day or not), absent, bland or present again.
    let mut bookings = BTreeMap::new();
    for e in &enrolments {
        for d in &days {
            if rng.random_bool(0.3) {
                let choice = match rng.random_range(0..3) {
                    0 => MealChoice::Absent,
                    1 => MealChoice::Bland,
                    _ => MealChoice::Present,
                };
                bookings.insert((e.id, *d), choice);
                exec(
                    db,
                    "INSERT INTO booking (tenant_id, enrolment_id, day, choice, changed_at, changed_by) \
                     VALUES ($1, $2, $3, $4, 0, 'test')",
                    &[
                        Bind::Int(tenant.id.get()),
                        Bind::Int(e.id.get()),
                        Bind::Day(*d),
                        Bind::Text(choice.as_str().into()),
                    ],
                )
                .await;
            }
        }
    }
    bookings
}

type Count = BTreeMap<(SchoolId, ClassId, bool, Option<DietId>), u32>;

async fn check_seed(t: &TestDb, seed: u64) {
    let db = &t.db;
    let clock = FixedClock::new("2026-11-23T07:00:00Z".parse().unwrap());
    load_demo(db, &clock).await.unwrap();
    let mut h = db.acquire().await.unwrap();
    let tn = tenant::by_slug(&mut h.conn(), "esempio")
        .await
        .unwrap()
        .unwrap();
    drop(h);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bookings = generate(db, &mut rng, &tn).await;

    let mut h = db.acquire().await.unwrap();
    let c = &mut h.conn();
    let year = calendar::school_years(c, tn.id).await.unwrap().remove(0);
    let cal = calendar::load_calendar(c, &tn, &year).await.unwrap();
    let classes = school::classes(c, tn.id, year.id).await.unwrap();
    let service = service::services(c, tn.id, year.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.kind == ServiceKind::Refezione)
        .unwrap();
    let enrolments: Vec<Enrolment> = service::enrolments(c, tn.id, service.id).await.unwrap();
    let family_of: BTreeMap<_, FamilyId> = family::pupils(c, tn.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.id, p.family_id))
        .collect();
    drop(h);
    let class_of = |id: ClassId| classes.iter().find(|k| k.id == id).unwrap();
    let mut some_eat = 0;
    let mut some_skip = 0;
    // After every cut-off: each day may be closed.
    clock.set("2027-07-01T12:00:00Z".parse().unwrap());
    for day in days() {
        // The Rust rule, as the portal applies it.
        let eating: Vec<(&Enrolment, MealChoice)> = enrolments
            .iter()
            .filter_map(|e| {
                let k = class_of(e.class_id);
                let who = Attending {
                    state: e.state,
                    start: e.start_date,
                    school: k.school_id,
                    class: k.id,
                    weekdays: k.canteen_weekdays,
                };
                let choice = bookings
                    .get(&(e.id, day))
                    .copied()
                    .unwrap_or(MealChoice::Present);
                who.eats(&cal, day, choice).then_some((e, choice))
            })
            .collect();
        some_eat += eating.len();
        some_skip += enrolments.len() - eating.len();
        let mut expected_counts = Count::new();
        for (e, choice) in &eating {
            let k = class_of(e.class_id);
            *expected_counts
                .entry((k.school_id, k.id, *choice == MealChoice::Bland, e.diet_id))
                .or_default() += 1;
        }
        let expected_families: BTreeSet<FamilyId> =
            eating.iter().map(|(e, _)| family_of[&e.pupil_id]).collect();
        let mut expected_charges: Vec<(EnrolmentId, String)> = eating
            .iter()
            .map(|(e, ch)| {
                let meal = if *ch == MealChoice::Bland {
                    "bland"
                } else {
                    "standard"
                };
                (e.id, meal.to_string())
            })
            .collect();
        expected_charges.sort();

        // The SQL: the classes the close takes (the calendar, in Rust), then `eating!`.
        let mut h = db.acquire().await.unwrap();
        let c = &mut h.conn();
        let eating_classes: Vec<ClassId> = canteen_day(c, &tn, day)
            .await
            .unwrap()
            .map(|cd| cd.classes.iter().map(|k| k.id).collect())
            .unwrap_or_default();
        let forecast: Count = dbm::forecast_counts(c, tn.id, service.id, day, &eating_classes)
            .await
            .unwrap()
            .into_iter()
            .map(|m| ((m.school, m.class, m.bland, m.diet), m.count))
            .collect();
        let families: BTreeSet<FamilyId> =
            dbm::families_of_meals(c, tn.id, service.id, day, &eating_classes, false)
                .await
                .unwrap()
                .into_iter()
                .collect();
        drop(h);
        let ctx = format!("seed {seed}, {day}, {:?}", t.db.backend());
        assert_eq!(forecast, expected_counts, "forecast, {ctx}");
        assert_eq!(families, expected_families, "families, {ctx}");

        // The close charges exactly those meals.
        close(Ctx::new(db, &clock, &tn, Actor::Close), day)
            .await
            .unwrap();
        let mut h = db.acquire().await.unwrap();
        let rows: Vec<(i64, String)> = on_conn!(&mut h.conn(), |c| {
            sqlx::query_as(
                "SELECT enrolment_id, meal FROM ledger_entry \
                 WHERE tenant_id = $1 AND day = $2 AND kind = 'meal_charge'",
            )
            .bind(tn.id.get())
            .bind(SqlDate(day))
            .fetch_all(&mut *c)
            .await
            .unwrap()
        });
        let mut charged: Vec<(EnrolmentId, String)> =
            rows.into_iter().map(|(e, m)| (EnrolmentId(e), m)).collect();
        charged.sort();
        assert_eq!(charged, expected_charges, "close, {ctx}");
    }
    // The generated cases are not degenerate.
    assert!(
        some_eat > 0 && some_skip > 0,
        "seed {seed}: {some_eat} / {some_skip}"
    );
}

#[tokio::test]
async fn who_eats_is_the_same_in_sql_and_in_rust() {
    let seeds: Vec<u64> = match std::env::var("REFETTORIO_EATING_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => vec![1, 2, 3],
    };
    for seed in seeds {
        for t in TestDb::all().await.unwrap() {
            check_seed(&t, seed).await;
            t.cleanup().await;
        }
    }
}
