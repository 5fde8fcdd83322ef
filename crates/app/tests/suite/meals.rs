//! The money paths of the canteen, on SQLite and (when configured) PostgreSQL: the daily close
//! (once, concurrent, after a crash), meal changes around the cut-off, closures entered after
//! the close, canteen-staff corrections, low-balance warnings and the kitchen's numbers.
//!
//! Expected charges are computed here from the registry (an oracle independent of the close's
//! SQL): active refezione enrolments started by the day, in classes that eat that weekday, not
//! on a holiday or closure, minus the bookings marked absent, at the enrolment's meal price.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::civil::{Date, Weekday, date};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refettorio_app::attendance::{self, Correction};
use refettorio_app::close::{self, CloseOutcome};
use refettorio_app::kitchen::{self, Counts, KitchenNumbers};
use refettorio_app::{AppError, DemoOutcome, load_demo};
use refettorio_app::{Ctx, booking, closure};
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::family;
use refettorio_db::registry::school::{self, Class, School};
use refettorio_db::registry::service::{self, Enrolment, Service};
use refettorio_db::registry::tenant::{self, Tenant};
use refettorio_db::testing::TestDb;
use refettorio_db::{Backend, Db, SqlDate, on_conn};
use refettorio_domain::ledger::Key;
use refettorio_domain::{Actor, GuardianId, StaffUserId, SystemClock};
use refettorio_domain::{
    BookingError, Cents, ClassId, Clock, Closure, ClosureKind, ClosureScope, CodiceFiscale,
    EnrolmentId, EnrolmentState, EntryKind, FamilyId, FixedClock, MealChoice, PupilId, SchoolId,
    ServiceKind, national_holiday,
};

/// A use case's context for a test.
fn cx<'a>(db: &'a Db, clock: &'a dyn Clock, tenant: &'a Tenant, actor: Actor) -> Ctx<'a> {
    Ctx::new(db, clock, tenant, actor)
}

// ---------------------------------------------------------------------------------------------
// Time

/// Monday 23 November 2026, a school day for every MON_FRI class of the demo.
fn monday() -> Date {
    date(2026, 11, 23)
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn clock(s: &str) -> FixedClock {
    FixedClock::new(ts(s))
}

/// 09:30 in Rome on a day in standard time (CET, UTC+1): the close may run.
fn cutoff_cet(day: Date) -> FixedClock {
    clock(&format!("{day}T08:30:00Z"))
}

/// 08:00 in Rome on a day in standard time: families may still change that day.
fn morning_cet(day: Date) -> FixedClock {
    clock(&format!("{day}T07:00:00Z"))
}

// ---------------------------------------------------------------------------------------------
// The demo and the oracle

struct Demo {
    tenant: Tenant,
    year: SchoolYear,
    service: Service,
    schools: Vec<School>,
    classes: Vec<Class>,
    /// The refezione enrolments.
    enrolments: Vec<Enrolment>,
    family_of: BTreeMap<PupilId, FamilyId>,
    closures: Vec<Closure>,
    mario_family: FamilyId,
    luca: Enrolment,
    sofia: Enrolment,
}

impl Demo {
    async fn load(db: &Db, clock: &FixedClock) -> Demo {
        let out = load_demo(db, clock).await.unwrap();
        assert!(matches!(out, DemoOutcome::Loaded { .. }), "{out:?}");
        Demo::read(db).await
    }

    async fn read(db: &Db) -> Demo {
        let mut h = db.acquire().await.unwrap();
        let c = &mut h.conn();
        let tenant = tenant::by_slug(c, "esempio").await.unwrap().unwrap();
        let years = calendar::school_years(c, tenant.id).await.unwrap();
        assert_eq!(years.len(), 1);
        let year = years[0].clone();
        let service = service::services(c, tenant.id, year.id)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.kind == ServiceKind::Refezione)
            .unwrap();
        let schools = school::schools(c, tenant.id).await.unwrap();
        let classes = school::classes(c, tenant.id, year.id).await.unwrap();
        let enrolments = service::enrolments(c, tenant.id, service.id).await.unwrap();
        let family_of = family::pupils(c, tenant.id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.family_id))
            .collect();
        let closures = calendar::closures(c, tenant.id, year.id)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        let mario = family::guardian_by_fiscal_code(
            c,
            tenant.id,
            &CodiceFiscale::parse(refettorio_app::demo::DEMO_PARENT_CF).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        let (fam, _) = family::families_of_guardian(c, tenant.id, mario.id)
            .await
            .unwrap()
            .remove(0);
        let children = family::pupils_of_family(c, tenant.id, fam.id)
            .await
            .unwrap();
        let child = |name: &str| {
            let p = children.iter().find(|p| p.first_name == name).unwrap();
            enrolments
                .iter()
                .find(|e| e.pupil_id == p.id)
                .unwrap()
                .clone()
        };
        let luca = child("Luca");
        let sofia = child("Sofia");
        Demo {
            tenant,
            year,
            service,
            schools,
            classes,
            enrolments,
            family_of,
            closures,
            mario_family: fam.id,
            luca,
            sofia,
        }
    }

    fn class(&self, id: ClassId) -> &Class {
        self.classes.iter().find(|k| k.id == id).unwrap()
    }

    fn school_named(&self, prefix: &str) -> &School {
        self.schools
            .iter()
            .find(|s| s.name.starts_with(prefix))
            .unwrap()
    }

    fn class_named(&self, school: SchoolId, name: &str) -> &Class {
        self.classes
            .iter()
            .find(|k| k.school_id == school && k.name == name)
            .unwrap()
    }

    fn enrolment(&self, id: EnrolmentId) -> &Enrolment {
        self.enrolments.iter().find(|e| e.id == id).unwrap()
    }

    fn family(&self, e: &Enrolment) -> FamilyId {
        self.family_of[&e.pupil_id]
    }

    /// Whether the pupil of `e` is expected at the canteen on `day` (before any booking).
    fn eats(&self, e: &Enrolment, day: Date) -> bool {
        let k = self.class(e.class_id);
        e.state == EnrolmentState::Attivo
            && e.start_date <= day
            && self.year.first_day <= day
            && day <= self.year.last_day
            && day.weekday() != Weekday::Sunday
            && k.canteen_weekdays.contains(day.weekday())
            && national_holiday(day).is_none()
            && self.tenant.patron_day != Some((day.month(), day.day()))
            && !self.closures.iter().any(|c| {
                c.from <= day
                    && day <= c.to
                    && match c.scope {
                        ClosureScope::Tenant => true,
                        ClosureScope::School(s) => s == k.school_id,
                        ClosureScope::Class(x) => x == k.id,
                    }
            })
    }

    /// Active enrolments eating on `day` (no booking considered), in id order.
    fn eaters(&self, day: Date) -> Vec<&Enrolment> {
        self.enrolments
            .iter()
            .filter(|e| self.eats(e, day))
            .collect()
    }

    /// The charges a close of `day` must write, given the bookings.
    fn expected(
        &self,
        day: Date,
        bookings: &BTreeMap<(EnrolmentId, Date), MealChoice>,
    ) -> Vec<Charge> {
        let mut out: Vec<Charge> = self
            .eaters(day)
            .into_iter()
            .filter_map(|e| {
                let choice = bookings
                    .get(&(e.id, day))
                    .copied()
                    .unwrap_or(MealChoice::Present);
                let bland = choice == MealChoice::Bland;
                let amount = if bland && self.tenant.settings.bland_meal_free {
                    0
                } else {
                    -e.meal_price.get()
                };
                (choice != MealChoice::Absent).then(|| Charge {
                    card: e.card_code.clone(),
                    day,
                    amount,
                    meal: if bland { "bland" } else { "standard" }.to_string(),
                })
            })
            .collect();
        out.sort();
        out
    }
}

/// A meal charge not reversed, keyed by what is stable across databases.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Charge {
    card: String,
    day: Date,
    amount: i64,
    meal: String,
}

// ---------------------------------------------------------------------------------------------
// Reading the database directly

async fn scalar(db: &Db, sql: &str) -> i64 {
    let mut h = db.acquire().await.unwrap();
    let sql = sql.to_string();
    on_conn!(&mut h.conn(), |c| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *c)
            .await
            .unwrap()
    })
}

/// The meal charges not reversed (as a sorted multiset: a double charge shows twice).
async fn charges(db: &Db, day: Option<Date>) -> Vec<Charge> {
    let mut h = db.acquire().await.unwrap();
    let sql = "SELECT e.card_code, m.day, m.amount_cents, m.meal FROM ledger_entry m \
               JOIN enrolment e ON e.tenant_id = m.tenant_id AND e.id = m.enrolment_id \
               WHERE m.kind = 'meal_charge' \
                 AND NOT EXISTS (SELECT 1 FROM ledger_entry r WHERE r.tenant_id = m.tenant_id AND r.reverses_id = m.id)";
    let rows: Vec<(String, SqlDate, i64, String)> = on_conn!(&mut h.conn(), |c| {
        sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap()
    });
    let mut out: Vec<Charge> = rows
        .into_iter()
        .filter(|r| day.is_none_or(|d| r.1.0 == d))
        .map(|(card, d, amount, meal)| Charge {
            card,
            day: d.0,
            amount,
            meal,
        })
        .collect();
    out.sort();
    out
}

/// Every ledger row, in a form comparable across databases (ids are not).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    kind: String,
    day: Date,
    card: Option<String>,
    family: i64,
    amount: i64,
    meal: Option<String>,
    reverses: bool,
    key: String,
    by: String,
}

async fn ledger(db: &Db) -> Vec<Row> {
    let mut h = db.acquire().await.unwrap();
    let sql = "SELECT l.kind, l.day, e.card_code, a.family_id, l.amount_cents, l.meal, l.reverses_id, \
                 l.idempotency_key, l.created_by FROM ledger_entry l \
               JOIN account a ON a.tenant_id = l.tenant_id AND a.id = l.account_id \
               LEFT JOIN enrolment e ON e.tenant_id = l.tenant_id AND e.id = l.enrolment_id";
    type R = (
        String,
        SqlDate,
        Option<String>,
        i64,
        i64,
        Option<String>,
        Option<i64>,
        String,
        String,
    );
    let rows: Vec<R> = on_conn!(&mut h.conn(), |c| {
        sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap()
    });
    let mut out: Vec<Row> = rows
        .into_iter()
        .map(|r| Row {
            kind: r.0,
            day: r.1.0,
            card: r.2,
            family: r.3,
            amount: r.4,
            meal: r.5,
            reverses: r.6.is_some(),
            key: r.7,
            by: r.8,
        })
        .collect();
    out.sort();
    out
}

/// The balance of every account, by family, computed here from the raw rows.
async fn balances(db: &Db) -> BTreeMap<FamilyId, i64> {
    let mut h = db.acquire().await.unwrap();
    let sql = "SELECT a.family_id, l.amount_cents FROM account a \
               LEFT JOIN ledger_entry l ON l.tenant_id = a.tenant_id AND l.account_id = a.id";
    let rows: Vec<(i64, Option<i64>)> = on_conn!(&mut h.conn(), |c| {
        sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap()
    });
    let mut out = BTreeMap::new();
    for (f, amount) in rows {
        *out.entry(FamilyId(f)).or_insert(0) += amount.unwrap_or(0);
    }
    out
}

type BookingRow = (i64, Date, String, i64, String);

async fn booking_rows(db: &Db) -> Vec<BookingRow> {
    let mut h = db.acquire().await.unwrap();
    let sql = "SELECT enrolment_id, day, choice, changed_at, changed_by FROM booking";
    let rows: Vec<(i64, SqlDate, String, i64, String)> = on_conn!(&mut h.conn(), |c| {
        sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap()
    });
    let mut out: Vec<BookingRow> = rows
        .into_iter()
        .map(|r| (r.0, r.1.0, r.2, r.3, r.4))
        .collect();
    out.sort();
    out
}

async fn bookings(db: &Db) -> BTreeMap<(EnrolmentId, Date), MealChoice> {
    booking_rows(db)
        .await
        .into_iter()
        .map(|(e, d, ch, _, _)| ((EnrolmentId(e), d), MealChoice::parse(&ch).unwrap()))
        .collect()
}

async fn outbox_rows(db: &Db, kind: &str) -> Vec<(String, String, String, String)> {
    let mut h = db.acquire().await.unwrap();
    let sql =
        "SELECT recipient, subject, body, idempotency_key FROM outbox WHERE kind = $1 ORDER BY id";
    on_conn!(&mut h.conn(), |c| {
        sqlx::query_as(sql)
            .bind(kind)
            .fetch_all(&mut *c)
            .await
            .unwrap()
    })
}

/// Row counts of every table the meal paths write.
async fn meal_tables(db: &Db) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for t in [
        "booking",
        "account",
        "ledger_entry",
        "day_close",
        "outbox",
        "audit_log",
        "closure",
    ] {
        out.push((t, scalar(db, &format!("SELECT COUNT(*) FROM {t}")).await));
    }
    out
}

/// The ledger property: for every account, `ledger::balance` is the sum of `ledger::entries`.
async fn check_balances_are_sums(db: &Db, d: &Demo) {
    let mut h = db.acquire().await.unwrap();
    let c = &mut h.conn();
    let ids: Vec<i64> = on_conn!(c, |x| {
        sqlx::query_scalar("SELECT id FROM account")
            .fetch_all(&mut *x)
            .await
            .unwrap()
    });
    for id in ids {
        let a = refettorio_domain::AccountId(id);
        let entries = refettorio_db::ledger::entries(c, d.tenant.id, a)
            .await
            .unwrap();
        let sum: i64 = entries.iter().map(|e| e.amount.get()).sum();
        assert_eq!(
            refettorio_db::ledger::balance(c, d.tenant.id, a)
                .await
                .unwrap(),
            Cents(sum)
        );
    }
}

async fn close(db: &Db, d: &Demo, day: Date) -> CloseOutcome {
    close::close_day(cx(db, &cutoff_cet(day), &d.tenant, Actor::Close), day)
        .await
        .unwrap()
}

async fn change(
    db: &Db,
    clock: &FixedClock,
    d: &Demo,
    e: &Enrolment,
    from: Date,
    to: Date,
    choice: MealChoice,
) -> Result<Vec<Date>, AppError> {
    booking::change_meals(
        cx(db, clock, &d.tenant, Actor::Guardian(GuardianId(1))),
        e,
        from,
        to,
        choice,
    )
    .await
}

/// A fresh database on the same backend.
async fn fresh(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => TestDb::sqlite().await.unwrap(),
        Backend::Postgres => TestDb::postgres().await.unwrap().unwrap(),
    }
}

/// Some changes for Monday: a few absent, a few bland (one with a diet), Mario's Sofia absent.
async fn some_changes(db: &Db, d: &Demo) -> BTreeMap<(EnrolmentId, Date), MealChoice> {
    let day = monday();
    let clock = morning_cet(day);
    let eaters: Vec<Enrolment> = d.eaters(day).into_iter().cloned().collect();
    let with_diet = eaters
        .iter()
        .find(|e| e.diet_id.is_some() && e.id != d.sofia.id)
        .unwrap();
    change(db, &clock, d, with_diet, day, day, MealChoice::Bland)
        .await
        .unwrap();
    for e in eaters.iter().filter(|e| e.id != d.luca.id).step_by(17) {
        change(db, &clock, d, e, day, day, MealChoice::Absent)
            .await
            .unwrap();
    }
    for e in eaters.iter().skip(5).step_by(23) {
        change(db, &clock, d, e, day, day, MealChoice::Bland)
            .await
            .unwrap();
    }
    change(db, &clock, d, &d.sofia, day, day, MealChoice::Absent)
        .await
        .unwrap();
    bookings(db).await
}

// ---------------------------------------------------------------------------------------------
// 1. Close twice = close once

#[tokio::test]
async fn closing_twice_charges_once() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let d = Demo::load(db, &morning_cet(monday())).await;
        let booked = some_changes(db, &d).await;
        let expected = d.expected(monday(), &booked);
        assert!(expected.len() > 100, "{backend}: {}", expected.len());
        assert!(expected.iter().any(|c| c.meal == "bland"));

        let first = close(db, &d, monday()).await;
        assert_eq!(
            first,
            CloseOutcome {
                charged: expected.len() as u64,
                already: 0
            },
            "{backend}"
        );
        assert_eq!(charges(db, None).await, expected, "{backend}");
        let rows = ledger(db).await;
        let bal = balances(db).await;
        let outbox = scalar(db, "SELECT COUNT(*) FROM outbox").await;

        let second = close(db, &d, monday()).await;
        assert_eq!(
            second,
            CloseOutcome {
                charged: 0,
                already: first.charged
            },
            "{backend}"
        );
        // A later run (a retry the next hour) is the same no-op.
        let later = clock(&format!("{}T15:00:00Z", monday()));
        let third = close::close_day(cx(db, &later, &d.tenant, Actor::Close), monday())
            .await
            .unwrap();
        assert_eq!(third, second, "{backend}");
        assert_eq!(ledger(db).await, rows, "{backend}");
        assert_eq!(balances(db).await, bal, "{backend}");
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM outbox").await,
            outbox,
            "{backend}"
        );
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM day_close").await, 1);
        check_balances_are_sums(db, &d).await;
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Concurrent closes

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_closes_charge_once() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let d = Arc::new(Demo::load(db, &morning_cet(monday())).await);
        let booked = some_changes(db, &d).await;
        let expected = d.expected(monday(), &booked);
        // The demo's opening balances.
        let base = scalar(db, "SELECT COUNT(*) FROM ledger_entry").await;

        // Two closes in the same task.
        let c = cutoff_cet(monday());
        let (a, b) = tokio::join!(
            close::close_day(cx(db, &c, &d.tenant, Actor::Close), monday()),
            close::close_day(cx(db, &c, &d.tenant, Actor::Close), monday())
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        let n = expected.len() as u64;
        let mut sorted = outcomes.to_vec();
        sorted.sort_by_key(|o| o.charged);
        assert_eq!(
            sorted,
            vec![
                CloseOutcome {
                    charged: 0,
                    already: n
                },
                CloseOutcome {
                    charged: n,
                    already: 0
                }
            ],
            "{backend}"
        );
        assert_eq!(charges(db, None).await, expected, "{backend}");

        // Eight closes of the next day from separate tasks, as several nodes would.
        let tuesday = date(2026, 11, 24);
        let expected_tue = d.expected(tuesday, &booked);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                let d = d.clone();
                tokio::spawn(async move {
                    close::close_day(
                        cx(&db, &cutoff_cet(tuesday), &d.tenant, Actor::Close),
                        tuesday,
                    )
                    .await
                })
            })
            .collect();
        let mut charged = Vec::new();
        for task in tasks {
            let o = task.await.unwrap().unwrap();
            if o.charged > 0 {
                charged.push(o);
            } else {
                assert_eq!(o.already, expected_tue.len() as u64, "{backend}");
            }
        }
        assert_eq!(charged.len(), 1, "{backend}: {charged:?}");
        assert_eq!(charged[0].charged, expected_tue.len() as u64);
        let mut all = expected.clone();
        all.extend(expected_tue);
        all.sort();
        assert_eq!(charges(db, None).await, all, "{backend}");
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM ledger_entry").await,
            base + all.len() as i64
        );
        check_balances_are_sums(db, &d).await;
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 3. A crash in the middle of a close

#[tokio::test]
async fn a_crash_in_the_middle_loses_nothing_and_charges_once() {
    for crashed in TestDb::all().await.unwrap() {
        let backend = crashed.db.backend();
        let clean = fresh(backend).await;
        let day = monday();

        let d = Demo::load(&crashed.db, &morning_cet(day)).await;
        let booked = some_changes(&crashed.db, &d).await;
        let before = meal_tables(&crashed.db).await;
        {
            // The close's steps by hand, then the process dies before the commit.
            let now = cutoff_cet(day).now();
            let mut tx = crashed.db.begin().await.unwrap();
            let c = &mut tx.conn();
            refettorio_db::close::lock_day(c, d.tenant.id, day, true)
                .await
                .unwrap();
            assert!(
                refettorio_db::close::claim_close(c, d.tenant.id, day, now)
                    .await
                    .unwrap()
            );
            let cd = close::canteen_day(c, &d.tenant, day)
                .await
                .unwrap()
                .unwrap();
            let ids: Vec<ClassId> = cd.classes.iter().map(|k| k.id).collect();
            refettorio_db::ledger::ensure_accounts(c, d.tenant.id, d.service.id, now)
                .await
                .unwrap();
            let charged = refettorio_db::close::charge_day(
                c,
                d.tenant.id,
                d.service.id,
                day,
                &ids,
                false,
                now,
            )
            .await
            .unwrap();
            assert!(!charged.is_empty());
            // What the charge says it charged is what the ledger now holds for the kitchen.
            let mut read = refettorio_db::kitchen::frozen_counts(c, d.tenant.id, day)
                .await
                .unwrap();
            let mut said = charged.clone();
            let key = |l: &refettorio_db::kitchen::MealCount| (l.school, l.class, l.bland, l.diet);
            read.sort_by_key(key);
            said.sort_by_key(key);
            assert_eq!(said, read, "{backend:?}");
            assert!(
                refettorio_db::close::is_closed(c, d.tenant.id, day)
                    .await
                    .unwrap()
            );
            drop(tx);
        }
        assert_eq!(meal_tables(&crashed.db).await, before, "{backend:?}");
        let mut h = crashed.db.acquire().await.unwrap();
        assert!(
            !refettorio_db::close::is_closed(&mut h.conn(), d.tenant.id, day)
                .await
                .unwrap()
        );
        drop(h);
        let after_crash = close(&crashed.db, &d, day).await;

        let d2 = Demo::load(&clean.db, &morning_cet(day)).await;
        let booked2 = some_changes(&clean.db, &d2).await;
        assert_eq!(booked, booked2);
        let reference = close(&clean.db, &d2, day).await;

        assert_eq!(after_crash, reference, "{backend:?}");
        assert_eq!(reference.charged as usize, d.expected(day, &booked).len());
        assert_eq!(ledger(&crashed.db).await, ledger(&clean.db).await);
        assert_eq!(balances(&crashed.db).await, balances(&clean.db).await);
        assert_eq!(
            outbox_rows(&crashed.db, "low_balance").await.len(),
            outbox_rows(&clean.db, "low_balance").await.len()
        );
        crashed.cleanup().await;
        clean.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The order of changes before the cut-off does not matter

#[tokio::test]
async fn the_order_of_changes_does_not_matter() {
    for a in TestDb::all().await.unwrap() {
        let backend = a.db.backend();
        let b = fresh(backend).await;
        let week: Vec<Date> = (23..=27).map(|n| date(2026, 11, n)).collect();
        let now = morning_cet(week[0]);
        let da = Demo::load(&a.db, &now).await;
        let db_ = Demo::load(&b.db, &now).await;

        // Distinct (enrolment, day) pairs of the week; at most three bland days per pupil, so
        // that no order can make a run of four (the rule is order-independent then).
        let mut rng = ChaCha8Rng::seed_from_u64(0x0005_EED0_2026);
        let mut pairs: Vec<(EnrolmentId, Date)> = week
            .iter()
            .flat_map(|day| da.eaters(*day).into_iter().map(|e| (e.id, *day)))
            .collect();
        pairs.shuffle(&mut rng);
        pairs.truncate(160);
        let mut bland_days: BTreeMap<EnrolmentId, usize> = BTreeMap::new();
        let changes: Vec<(EnrolmentId, Date, MealChoice)> = pairs
            .into_iter()
            .map(|(e, day)| {
                let mut choice = match rng.random_range(0..3) {
                    0 => MealChoice::Present,
                    1 => MealChoice::Absent,
                    _ => MealChoice::Bland,
                };
                if choice == MealChoice::Bland {
                    let n = bland_days.entry(e).or_default();
                    if *n >= 3 {
                        choice = MealChoice::Absent;
                    } else {
                        *n += 1;
                    }
                }
                (e, day, choice)
            })
            .collect();
        assert!(changes.iter().any(|c| c.2 == MealChoice::Bland));
        assert!(changes.iter().any(|c| c.2 == MealChoice::Absent));
        let mut order_a = changes.clone();
        order_a.shuffle(&mut rng);
        let mut order_b = changes.clone();
        order_b.shuffle(&mut rng);
        assert_ne!(order_a, order_b);
        for (e, day, choice) in &order_a {
            change(&a.db, &now, &da, da.enrolment(*e), *day, *day, *choice)
                .await
                .unwrap();
        }
        for (e, day, choice) in &order_b {
            change(&b.db, &now, &db_, db_.enrolment(*e), *day, *day, *choice)
                .await
                .unwrap();
        }
        let booked: BTreeMap<(EnrolmentId, Date), MealChoice> =
            changes.iter().map(|(e, d, c)| ((*e, *d), *c)).collect();
        assert_eq!(bookings(&a.db).await, booked);
        assert_eq!(bookings(&b.db).await, booked);

        for day in &week {
            let oa = close(&a.db, &da, *day).await;
            let ob = close(&b.db, &db_, *day).await;
            assert_eq!(oa, ob, "{backend:?} {day}");
        }
        let ca = charges(&a.db, None).await;
        assert_eq!(ca, charges(&b.db, None).await, "{backend:?}");
        let mut expected: Vec<Charge> = week
            .iter()
            .flat_map(|day| da.expected(*day, &booked))
            .collect();
        expected.sort();
        assert_eq!(ca, expected, "{backend:?}");
        assert_eq!(balances(&a.db).await, balances(&b.db).await);
        check_balances_are_sums(&a.db, &da).await;
        a.cleanup().await;
        b.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The cut-off second, in winter and across the change of daylight-saving time

fn is_past_cutoff(e: &AppError, day: Date) -> bool {
    matches!(e, AppError::Booking(BookingError::PastCutoff { day: d, .. }) if *d == day)
        && e.to_string().contains("09:30")
}

#[tokio::test]
async fn the_cutoff_second_decides() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let d = Demo::load(db, &morning_cet(day)).await;
        let ok = change(
            db,
            &clock("2026-11-23T08:29:59Z"),
            &d,
            &d.luca,
            day,
            day,
            MealChoice::Absent,
        )
        .await
        .unwrap();
        assert_eq!(ok, vec![day]);
        let before = booking_rows(db).await;
        let at_cutoff = clock("2026-11-23T08:30:00Z");
        let e = change(db, &at_cutoff, &d, &d.luca, day, day, MealChoice::Present)
            .await
            .unwrap_err();
        assert!(is_past_cutoff(&e, day), "{backend}: {e}");
        // A range that starts today is refused as a whole.
        let e = change(
            db,
            &at_cutoff,
            &d,
            &d.sofia,
            day,
            date(2026, 11, 27),
            MealChoice::Absent,
        )
        .await
        .unwrap_err();
        assert!(is_past_cutoff(&e, day), "{backend}: {e}");
        assert_eq!(booking_rows(db).await, before, "{backend}");
        // Tomorrow is still open at that instant.
        let tue = date(2026, 11, 24);
        assert_eq!(
            change(db, &at_cutoff, &d, &d.luca, tue, tue, MealChoice::Absent)
                .await
                .unwrap(),
            vec![tue]
        );
        assert_eq!(
            bookings(db).await.get(&(d.luca.id, day)),
            Some(&MealChoice::Absent)
        );
        t.cleanup().await;
    }

    // Summer time ends on Sunday 25 October 2026: 09:30 in Rome is 07:30Z on Friday 23 and
    // 08:30Z on Monday 26.
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let d = Demo::load(db, &clock("2026-10-22T06:00:00Z")).await;
        let fri = date(2026, 10, 23);
        let mon = date(2026, 10, 26);
        assert!(d.eats(&d.luca, fri) && d.eats(&d.luca, mon));
        for (day, before, at) in [
            (fri, "2026-10-23T07:29:59Z", "2026-10-23T07:30:00Z"),
            (mon, "2026-10-26T08:29:59Z", "2026-10-26T08:30:00Z"),
        ] {
            assert_eq!(
                change(
                    db,
                    &clock(before),
                    &d,
                    &d.luca,
                    day,
                    day,
                    MealChoice::Absent
                )
                .await
                .unwrap(),
                vec![day],
                "{backend} {before}"
            );
            let e = change(db, &clock(at), &d, &d.luca, day, day, MealChoice::Present)
                .await
                .unwrap_err();
            assert!(is_past_cutoff(&e, day), "{backend} {at}: {e}");
            // The close follows the same instant.
            let e = close::close_day(cx(db, &clock(before), &d.tenant, Actor::Close), day)
                .await
                .unwrap_err();
            assert!(
                matches!(&e, AppError::Invalid(m) if m.contains("09:30")),
                "{e}"
            );
            let o = close::close_day(cx(db, &clock(at), &d.tenant, Actor::Close), day)
                .await
                .unwrap();
            let booked = bookings(db).await;
            assert_eq!(booked.get(&(d.luca.id, day)), Some(&MealChoice::Absent));
            assert_eq!(o.charged as usize, d.expected(day, &booked).len());
            assert_eq!(charges(db, Some(day)).await, d.expected(day, &booked));
        }
        // An hour's slip either way would show: Monday at 07:30Z (08:30 in Rome) is still open.
        let e = d.sofia.clone();
        let next = date(2026, 10, 27);
        assert!(
            change(
                db,
                &clock("2026-10-27T07:30:00Z"),
                &d,
                &e,
                next,
                next,
                MealChoice::Absent
            )
            .await
            .is_ok()
        );
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A cancellation racing the close

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancellation_racing_the_close_counts_or_is_refused() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let d = Arc::new(Demo::load(db, &morning_cet(monday())).await);
        let mut days = Vec::new();
        let mut day = monday();
        while day <= date(2026, 12, 22) {
            if d.eats(&d.luca, day) {
                days.push(day);
            }
            day = day.tomorrow().unwrap();
        }
        assert!(days.len() >= 20, "{days:?}");
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let (mut accepted, mut refused) = (0, 0);
        let start = Instant::now();
        for day in days {
            let mut racers: Vec<Enrolment> = d
                .eaters(day)
                .into_iter()
                .filter(|e| e.meal_price.get() > 0)
                .cloned()
                .collect();
            racers.shuffle(&mut rng);
            racers.truncate(6);
            let close_delay = rng.random_range(0..4_000u64);
            let closer = {
                let db = db.clone();
                let d = d.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(close_delay)).await;
                    let c = clock(&format!("{day}T08:30:00Z"));
                    close::close_day(cx(&db, &c, &d.tenant, Actor::Close), day).await
                })
            };
            let changers: Vec<_> = racers
                .iter()
                .map(|e| {
                    let db = db.clone();
                    let d = d.clone();
                    let e = e.clone();
                    let delay = rng.random_range(0..4_000u64);
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_micros(delay)).await;
                        let c = clock(&format!("{day}T08:29:59Z"));
                        change(&db, &c, &d, &e, day, day, MealChoice::Absent).await
                    })
                })
                .collect();
            let closed = closer.await.unwrap().unwrap();
            let results: Vec<_> = futures_join(changers).await;
            let booked = bookings(db).await;
            let charged = charges(db, Some(day)).await;
            assert_eq!(charged, d.expected(day, &booked), "{backend} {day}");
            assert_eq!(closed.charged as usize, charged.len(), "{backend} {day}");
            for (e, r) in racers.iter().zip(results) {
                let n = charged.iter().filter(|c| c.card == e.card_code).count();
                match r {
                    Ok(days) => {
                        assert_eq!(days, vec![day]);
                        assert_eq!(n, 0, "{backend} {day}: accepted and charged");
                        assert_eq!(booked.get(&(e.id, day)), Some(&MealChoice::Absent));
                        accepted += 1;
                    }
                    Err(err) => {
                        assert!(is_past_cutoff(&err, day), "{backend} {day}: {err}");
                        assert_eq!(n, 1, "{backend} {day}: refused and not charged");
                        assert_eq!(booked.get(&(e.id, day)), None);
                        refused += 1;
                    }
                }
            }
        }
        eprintln!(
            "{backend}: race: {accepted} cancellations landed before the close, {refused} after, in {:?}",
            start.elapsed()
        );
        t.cleanup().await;
    }
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 7. A closure entered after the close

/// The keys SQL builds (the close's charges, the reversals) are the typed keys' text.
async fn sql_keys_agree(db: &Db) {
    let mut h = db.acquire().await.unwrap();
    let sql = "SELECT idempotency_key, kind, day, enrolment_id, reverses_id, created_by \
               FROM ledger_entry WHERE created_by = 'close' OR kind = 'reversal'";
    type R = (String, String, SqlDate, Option<i64>, Option<i64>, String);
    let rows: Vec<R> = on_conn!(&mut h.conn(), |c| {
        sqlx::query_as(sql).fetch_all(&mut *c).await.unwrap()
    });
    let (mut meals, mut reversals) = (0, 0);
    for (text, kind, day, enrolment, reverses, by) in rows {
        let want = match kind.as_str() {
            "reversal" => {
                reversals += 1;
                Key::Reversal {
                    entry: reverses.unwrap(),
                }
            }
            _ => {
                assert_eq!(by, "close");
                meals += 1;
                Key::Meal {
                    day: day.0,
                    enrolment: EnrolmentId(enrolment.unwrap()),
                }
            }
        };
        assert_eq!(text, want.to_string());
        assert_eq!(text.parse::<Key>(), Ok(want));
    }
    assert!(meals > 0 && reversals > 0, "{meals} {reversals}");
}

fn closure(scope: ClosureScope, from: Date, to: Date) -> Closure {
    Closure {
        scope,
        from,
        to,
        kind: ClosureKind::Strike,
        reason: "Sciopero del personale".to_string(),
    }
}

#[tokio::test]
async fn a_closure_after_the_close_reverses_exactly_its_scope() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let d = Demo::load(db, &morning_cet(day)).await;
        let booked = some_changes(db, &d).await;
        close(db, &d, day).await;
        let charged = charges(db, Some(day)).await;
        let bal0 = balances(db).await;
        let kitchen0 = kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), day)
            .await
            .unwrap();
        assert!(kitchen0.frozen);
        assert_eq!(kitchen0.total.total as usize, charged.len());
        let office = clock("2026-11-23T10:00:00Z");

        // What each scope should give back, from the oracle.
        let refunds = |pred: &dyn Fn(&Enrolment) -> bool| {
            let mut by_family: BTreeMap<FamilyId, i64> = BTreeMap::new();
            let mut n = 0;
            for e in d.eaters(day) {
                if pred(e) && booked.get(&(e.id, day)) != Some(&MealChoice::Absent) {
                    *by_family.entry(d.family(e)).or_default() += e.meal_price.get();
                    n += 1;
                }
            }
            (n, by_family)
        };
        let rodari = d.school_named("Scuola primaria Gianni Rodari").id;
        let infanzia = d.school_named("Scuola dell'infanzia").id;
        let sez_a = d.class_named(infanzia, "Sezione A").id;
        let (n_school, back_school) = refunds(&|e| e.school_id == rodari);
        let (n_class, back_class) = refunds(&|e| e.class_id == sez_a);
        assert!(n_school > 20 && n_class > 5, "{n_school} {n_class}");

        let out = closure::add_closure(
            cx(db, &office, &d.tenant, Actor::Staff(StaffUserId(1))),
            d.year.id,
            &closure(ClosureScope::School(rodari), day, day),
        )
        .await
        .unwrap();
        assert_eq!(out.reversed, n_school, "{backend}");
        let bal1 = balances(db).await;
        for (f, b) in &bal0 {
            let back = back_school.get(f).copied().unwrap_or(0);
            assert_eq!(bal1[f], b + back, "{backend}: family {f:?}");
        }
        let kitchen1 = kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), day)
            .await
            .unwrap();
        assert_eq!(
            kitchen1.total.total as usize,
            charged.len() - n_school as usize
        );
        assert!(kitchen1.schools.iter().all(|s| s.school != rodari));

        let out = closure::add_closure(
            cx(db, &office, &d.tenant, Actor::Staff(StaffUserId(1))),
            d.year.id,
            &closure(ClosureScope::Class(sez_a), day, day),
        )
        .await
        .unwrap();
        assert_eq!(out.reversed, n_class, "{backend}");
        let bal2 = balances(db).await;
        for (f, b) in &bal1 {
            let back = back_class.get(f).copied().unwrap_or(0);
            assert_eq!(bal2[f], b + back, "{backend}: family {f:?}");
        }
        let kitchen2 = kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), day)
            .await
            .unwrap();
        assert_eq!(
            kitchen2.total.total as usize,
            charged.len() - (n_school + n_class) as usize
        );
        assert!(
            kitchen2
                .schools
                .iter()
                .flat_map(|s| &s.classes)
                .all(|k| k.class != sez_a)
        );

        // Overlapping closures give back nothing more.
        let rows = ledger(db).await;
        for scope in [
            ClosureScope::School(rodari),
            ClosureScope::Class(d.luca.class_id),
            ClosureScope::Class(sez_a),
            ClosureScope::School(infanzia),
        ] {
            let again = closure::add_closure(
                cx(db, &office, &d.tenant, Actor::Staff(StaffUserId(1))),
                d.year.id,
                &closure(scope, day, date(2026, 11, 24)),
            )
            .await
            .unwrap();
            let expect = if scope == ClosureScope::School(infanzia) {
                refunds(&|e| e.school_id == infanzia && e.class_id != sez_a).0
            } else {
                0
            };
            assert_eq!(again.reversed, expect, "{backend}: {scope:?}");
        }
        let new_rows = ledger(db).await;
        assert_eq!(
            new_rows.len() - rows.len(),
            refunds(&|e| e.school_id == infanzia && e.class_id != sez_a).0 as usize
        );
        // Every reversal points at a charge of the closed scope and mirrors its amount.
        assert!(
            new_rows
                .iter()
                .filter(|r| r.kind == "reversal")
                .all(|r| r.amount >= 0 && r.by == "staff:1")
        );
        assert_eq!(
            kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), day)
                .await
                .unwrap()
                .total
                .total as usize,
            charges(db, Some(day)).await.len()
        );
        sql_keys_agree(db).await;

        // Tuesday, not closed yet, is covered by the same closures: its close skips them.
        let d2 = Demo::read(db).await;
        let tue = date(2026, 11, 24);
        close(db, &d2, tue).await;
        let tue_charges = charges(db, Some(tue)).await;
        assert_eq!(tue_charges, d2.expected(tue, &booked));
        let cards: BTreeSet<&str> = d
            .enrolments
            .iter()
            .filter(|e| e.school_id == rodari || e.school_id == infanzia)
            .map(|e| e.card_code.as_str())
            .collect();
        assert!(tue_charges.iter().all(|c| !cards.contains(c.card.as_str())));
        assert!(!tue_charges.is_empty());
        assert_eq!(
            scalar(
                db,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'add_closure'"
            )
            .await,
            6
        );
        check_balances_are_sums(db, &d).await;
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Canteen-staff corrections

type AuditRow = (
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
);

async fn audit_rows(db: &Db, action: &str) -> Vec<AuditRow> {
    let mut h = db.acquire().await.unwrap();
    let sql = "SELECT actor, action, entity, entity_id, before, after, reason FROM audit_log \
               WHERE action = $1 ORDER BY id";
    on_conn!(&mut h.conn(), |c| {
        sqlx::query_as(sql)
            .bind(action)
            .fetch_all(&mut *c)
            .await
            .unwrap()
    })
}

#[tokio::test]
async fn corrections_reverse_or_charge_once_and_are_audited() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let d = Demo::load(db, &morning_cet(day)).await;
        let (luca, sofia) = (d.luca.clone(), d.sofia.clone());
        change(
            db,
            &morning_cet(day),
            &d,
            &sofia,
            day,
            day,
            MealChoice::Absent,
        )
        .await
        .unwrap();
        let correct = |e: &Enrolment, c: Correction, reason: &'static str| {
            let e = e.clone();
            let tenant = d.tenant.clone();
            async move {
                attendance::correct_attendance(
                    cx(
                        db,
                        &clock("2026-11-23T11:30:00Z"),
                        &tenant,
                        Actor::Staff(StaffUserId(2)),
                    ),
                    &e,
                    day,
                    c,
                    reason,
                )
                .await
            }
        };

        // Before the close the day belongs to the families: refused, nothing written.
        let before = meal_tables(db).await;
        for (e, c) in [(&luca, Correction::Absent), (&sofia, Correction::Present)] {
            let err = correct(e, c, "prova").await.unwrap_err();
            assert!(
                matches!(&err, AppError::Invalid(m) if m.contains("non è ancora chiusa")),
                "{backend}: {err}"
            );
        }
        // A correction without a reason is refused too.
        assert!(matches!(
            correct(&luca, Correction::Absent, "  ").await,
            Err(AppError::Invalid(_))
        ));
        assert_eq!(meal_tables(db).await, before, "{backend}");

        let opening = balances(db).await[&d.mario_family];
        close(db, &d, day).await;
        let mario = |b: &BTreeMap<FamilyId, i64>| b[&d.mario_family] - opening;
        let (pl, ps) = (luca.meal_price.get(), sofia.meal_price.get());
        assert!(pl > 0 && ps > 0);
        assert_eq!(mario(&balances(db).await), -pl);

        // Absent: the charge is reversed and the balance is back.
        correct(&luca, Correction::Absent, "Uscito prima di pranzo")
            .await
            .unwrap();
        assert_eq!(mario(&balances(db).await), 0, "{backend}");
        // A second Absent is refused and writes nothing.
        let snapshot = (ledger(db).await, meal_tables(db).await);
        let err = correct(&luca, Correction::Absent, "di nuovo")
            .await
            .unwrap_err();
        assert!(matches!(&err, AppError::Invalid(m) if m.contains("già assente")));
        assert_eq!((ledger(db).await, meal_tables(db).await), snapshot);

        // Present on a pupil marked absent: charged once.
        correct(&sofia, Correction::Present, "Presente a pranzo")
            .await
            .unwrap();
        assert_eq!(mario(&balances(db).await), -ps, "{backend}");
        let snapshot = (ledger(db).await, meal_tables(db).await);
        let err = correct(&sofia, Correction::Present, "di nuovo")
            .await
            .unwrap_err();
        assert!(matches!(&err, AppError::Invalid(m) if m.contains("già presente")));
        assert_eq!((ledger(db).await, meal_tables(db).await), snapshot);

        // Back and forth: one entry each time, never a double charge.
        for c in [Correction::Present, Correction::Absent, Correction::Present] {
            let n = scalar(db, "SELECT COUNT(*) FROM ledger_entry").await;
            correct(&luca, c, "Rettifica").await.unwrap();
            assert_eq!(scalar(db, "SELECT COUNT(*) FROM ledger_entry").await, n + 1);
        }
        assert_eq!(mario(&balances(db).await), -pl - ps, "{backend}");
        let mine: Vec<Charge> = charges(db, Some(day))
            .await
            .into_iter()
            .filter(|c| c.card == luca.card_code || c.card == sofia.card_code)
            .collect();
        assert_eq!(mine.len(), 2, "{backend}: {mine:?}");
        assert!(mine.iter().all(|c| c.meal == "standard"));
        let mut amounts: Vec<i64> = mine.iter().map(|c| c.amount).collect();
        amounts.sort();
        let mut want = vec![-pl, -ps];
        want.sort();
        assert_eq!(amounts, want);

        // The audit log has every accepted correction, with who, before, after and why.
        let rows = audit_rows(db, "correct_attendance").await;
        let row = |e: &Enrolment, before: &str, after: &str, reason: &str| -> AuditRow {
            (
                "staff:2".into(),
                "correct_attendance".into(),
                "enrolment".into(),
                Some(e.id.get()),
                Some(format!("{{\"attendance\":\"{before}\"}}")),
                Some(format!("{{\"attendance\":\"{after}\"}}")),
                reason.into(),
            )
        };
        assert_eq!(
            rows,
            vec![
                row(&luca, "presente", "assente", "Uscito prima di pranzo"),
                row(&sofia, "assente", "presente", "Presente a pranzo"),
                row(&luca, "assente", "presente", "Rettifica"),
                row(&luca, "presente", "assente", "Rettifica"),
                row(&luca, "assente", "presente", "Rettifica"),
            ],
            "{backend}"
        );
        // The money rows say who and why too.
        let mut h = db.acquire().await.unwrap();
        let entries = refettorio_db::ledger::entries_of_enrolment_day(
            &mut h.conn(),
            d.tenant.id,
            luca.id,
            day,
        )
        .await
        .unwrap();
        drop(h);
        assert_eq!(entries.len(), 5);
        assert!(
            entries
                .iter()
                .skip(1)
                .all(|e| e.created_by == "staff:2" && !e.reason.is_empty())
        );
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.kind == EntryKind::Reversal)
                .count(),
            2
        );
        check_balances_are_sums(db, &d).await;
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Low-balance warnings and the kitchen's e-mail

#[tokio::test]
async fn low_balance_warnings_once_per_payer_and_kitchen_mail_per_school() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let mut d = Demo::load(db, &morning_cet(day)).await;
        let mut daily: BTreeMap<FamilyId, i64> = BTreeMap::new();
        for e in d
            .enrolments
            .iter()
            .filter(|e| e.state == EnrolmentState::Attivo)
        {
            *daily.entry(d.family(e)).or_default() += e.meal_price.get();
        }
        let mut today: BTreeMap<FamilyId, i64> = BTreeMap::new();
        for e in d.eaters(day) {
            *today.entry(d.family(e)).or_default() += e.meal_price.get();
        }
        // The demo's opening balances (last year's credit or debt).
        let opening = balances(db).await;
        // Three payers recharge: one to exactly three days after today's meals (not low),
        // one to a cent below (low), and Mario well above.
        let target = |f: &FamilyId| 3 * daily[f] + today[f] - opening.get(f).copied().unwrap_or(0);
        let mut paying = today
            .iter()
            .filter(|(f, cost)| **cost > 0 && **f != d.mario_family && target(f) > 1)
            .map(|(f, _)| *f);
        let at_limit = paying.next().unwrap();
        let below = paying.next().unwrap();
        let recharges = [
            (at_limit, target(&at_limit)),
            (below, target(&below) - 1),
            (d.mario_family, 10_000),
        ];
        {
            let now = morning_cet(day).now();
            let mut tx = db.begin().await.unwrap();
            let c = &mut tx.conn();
            refettorio_db::ledger::ensure_accounts(c, d.tenant.id, d.service.id, now)
                .await
                .unwrap();
            for (f, amount) in recharges {
                let a = refettorio_db::ledger::account_of(c, d.tenant.id, f, d.service.id)
                    .await
                    .unwrap()
                    .unwrap();
                let key = Key::PagoPaReceipt {
                    receipt_id: format!("recharge-{}", f.get()),
                };
                refettorio_db::ledger::insert_entry(
                    c,
                    d.tenant.id,
                    &refettorio_db::ledger::NewEntry {
                        account: a.id,
                        kind: EntryKind::Recharge,
                        amount: Cents(amount),
                        day,
                        pupil: None,
                        enrolment: None,
                        school: None,
                        class: None,
                        bland: None,
                        diet: None,
                        reverses: None,
                        reference: Some("pagoPA"),
                        key: &key,
                        created_by: "pagopa",
                        reason: "Ricarica",
                    },
                    now,
                )
                .await
                .unwrap()
                .unwrap();
            }
            tx.commit().await.unwrap();
        }
        // The municipality sends SMS, and the payer below the limit chose SMS only: the
        // warning goes there, under its own key, and not by e-mail.
        d.tenant.settings.messaging.sms.url = "https://sms.example.it/api/send".into();
        {
            let mut h = db.acquire().await.unwrap();
            let sql = "UPDATE guardian SET phone = $1, notify_sms = $2, notify_email = $3 \
                       WHERE tenant_id = $4 AND id = \
                       (SELECT payer_id FROM family WHERE tenant_id = $4 AND id = $5)";
            on_conn!(&mut h.conn(), |c| {
                sqlx::query(sql)
                    .bind("333 123 4567")
                    .bind(true)
                    .bind(false)
                    .bind(d.tenant.id.get())
                    .bind(below.get())
                    .execute(&mut *c)
                    .await
                    .unwrap();
            });
        }
        close(db, &d, day).await;

        // The oracle: every family charged today whose balance pays for fewer than three days.
        let mut credit = opening.clone();
        for (f, amount) in recharges {
            *credit.entry(f).or_default() += amount;
        }
        let mut h = db.acquire().await.unwrap();
        let families = family::families(&mut h.conn(), d.tenant.id).await.unwrap();
        let guardians = family::guardians(&mut h.conn(), d.tenant.id).await.unwrap();
        drop(h);
        let email_of = |f: FamilyId| {
            let fam = families.iter().find(|x| x.id == f).unwrap();
            guardians
                .iter()
                .find(|g| g.id == fam.payer_id)
                .unwrap()
                .email
                .clone()
                .unwrap()
        };
        let mut expected: Vec<String> = today
            .iter()
            .filter(|(f, cost)| {
                let bal = credit.get(f).copied().unwrap_or(0) - **cost;
                bal < 0 || bal < 3 * daily[f]
            })
            .map(|(f, _)| {
                if *f == below {
                    "+393331234567".to_string()
                } else {
                    email_of(*f)
                }
            })
            .collect();
        expected.sort();
        let rows = outbox_rows(db, "low_balance").await;
        let mut got: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        got.sort();
        assert_eq!(got, expected, "{backend}");
        assert!(got.contains(&"+393331234567".to_string()));
        assert!(!got.contains(&email_of(below)));
        assert_eq!(
            rows.iter().filter(|r| r.3.ends_with(":sms")).count(),
            1,
            "{backend}: the SMS has its own key"
        );
        assert!(!got.contains(&email_of(at_limit)));
        assert!(!got.contains(&email_of(d.mario_family)));
        // Exempt families (price 0, balance 0) are not warned.
        assert!(today.values().any(|c| *c == 0));
        let keys: BTreeSet<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        assert_eq!(keys.len(), rows.len());
        assert!(
            rows.iter()
                .all(|r| r.1 == "Conto mensa in negativo" || r.1 == "Credito mensa in esaurimento")
        );

        // The kitchen: one e-mail per school that eats today, with its numbers.
        let kitchen = kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), day)
            .await
            .unwrap();
        let mails = outbox_rows(db, "kitchen_numbers").await;
        let eating: BTreeSet<SchoolId> = d.eaters(day).iter().map(|e| e.school_id).collect();
        assert_eq!(mails.len(), eating.len(), "{backend}");
        assert_eq!(kitchen.schools.len(), eating.len());
        for s in &kitchen.schools {
            let school = d.schools.iter().find(|x| x.id == s.school).unwrap();
            let mine: Vec<_> = mails
                .iter()
                .filter(|m| m.3 == format!("kitchen:{day}:{}", s.school.get()))
                .collect();
            assert_eq!(mine.len(), 1, "{}", s.name);
            let (to, subject, body, _) = mine[0];
            assert_eq!(Some(to), school.kitchen_email.as_ref());
            assert!(subject.contains("23/11/2026") && subject.contains(&s.name));
            assert!(body.contains(&format!("Totale {}: {}", s.name, s.total.describe())));
            for k in &s.classes {
                assert!(body.contains(&format!("{}: {}", k.name, k.counts.describe())));
            }
        }

        // Closing again adds no message.
        let all = scalar(db, "SELECT COUNT(*) FROM outbox").await;
        close(db, &d, day).await;
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM outbox").await, all);
        assert_eq!(outbox_rows(db, "low_balance").await, rows);
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Bad input writes nothing

#[tokio::test]
async fn bad_changes_are_refused_and_write_nothing() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let now = morning_cet(day);
        let d = Demo::load(db, &now).await;
        let luca = d.luca.clone();
        // A little state to protect: Luca bland on Monday to Wednesday.
        change(
            db,
            &now,
            &d,
            &luca,
            day,
            date(2026, 11, 25),
            MealChoice::Bland,
        )
        .await
        .unwrap();
        let before = booking_rows(db).await;
        assert_eq!(before.len(), 3);

        let refused = async |clock: &FixedClock, e: &Enrolment, from, to, choice| {
            let err = change(db, clock, &d, e, from, to, choice)
                .await
                .unwrap_err();
            assert_eq!(booking_rows(db).await, before, "{backend}: {err}");
            err
        };
        let booking = |e: AppError| match e {
            AppError::Booking(b) => b,
            other => panic!("{backend}: not a booking error: {other}"),
        };
        let (tue, wed, thu) = (date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26));

        let e = refused(&now, &luca, thu, tue, MealChoice::Absent).await;
        assert_eq!(booking(e), BookingError::RangeBackwards);
        let e = refused(&now, &luca, tue, date(2027, 1, 25), MealChoice::Absent).await;
        assert_eq!(booking(e), BookingError::RangeTooLong { max_days: 62 });
        let e = refused(
            &now,
            &luca,
            date(2027, 1, 25),
            date(2027, 1, 25),
            MealChoice::Absent,
        )
        .await;
        assert_eq!(booking(e), BookingError::TooFarAhead { max_days: 60 });

        // Saturday, a holiday, a weekend.
        let sat = date(2026, 11, 28);
        let e = booking(refused(&now, &luca, sat, sat, MealChoice::Absent).await);
        assert!(
            matches!(&e, BookingError::NotCanteenDay { day, reason } if *day == sat && reason.contains("rientro")),
            "{e:?}"
        );
        let immacolata = date(2026, 12, 8);
        let e = booking(refused(&now, &luca, immacolata, immacolata, MealChoice::Absent).await);
        assert_eq!(
            e,
            BookingError::NotCanteenDay {
                day: immacolata,
                reason: "Festività: Immacolata Concezione".into()
            }
        );
        assert!(e.to_string().contains("Martedì 8 dicembre 2026"));
        let christmas = date(2026, 12, 28);
        let e = booking(refused(&now, &luca, christmas, christmas, MealChoice::Absent).await);
        assert!(
            matches!(&e, BookingError::NotCanteenDay { reason, .. } if reason.contains("Vacanze di Natale")),
            "{e:?}"
        );
        let e = refused(&now, &luca, sat, date(2026, 11, 29), MealChoice::Absent).await;
        assert_eq!(booking(e), BookingError::NoCanteenDays);
        // A class without a rientro on Monday (Montessori eats on Tuesday and Thursday).
        let montessori = d
            .enrolments
            .iter()
            .find(|e| {
                e.state == EnrolmentState::Attivo
                    && d.class(e.class_id).canteen_weekdays.bits() == 0b1010
            })
            .unwrap()
            .clone();
        let e = booking(refused(&now, &montessori, day, day, MealChoice::Absent).await);
        assert!(matches!(e, BookingError::NotCanteenDay { .. }), "{e:?}");

        // Outside the school year: at the end of August, a range into September.
        let august = clock("2027-08-25T07:00:00Z");
        let e = refused(
            &august,
            &luca,
            date(2027, 8, 30),
            date(2027, 9, 2),
            MealChoice::Absent,
        )
        .await;
        assert_eq!(booking(e), BookingError::OutsideSchoolYear);
        let e = refused(
            &august,
            &luca,
            date(2027, 9, 13),
            date(2027, 9, 13),
            MealChoice::Absent,
        )
        .await;
        assert_eq!(booking(e), BookingError::OutsideSchoolYear);

        // A fourth consecutive bland day, alone or as a range (all days or none).
        let e = refused(&now, &luca, thu, thu, MealChoice::Bland).await;
        assert_eq!(booking(e), BookingError::BlandTooLong { max: 3 });
        let e = refused(&now, &luca, day, date(2026, 11, 26), MealChoice::Bland).await;
        assert_eq!(booking(e), BookingError::BlandTooLong { max: 3 });
        let sofia = d.sofia.clone();
        let e = refused(&now, &sofia, day, date(2026, 11, 30), MealChoice::Bland).await;
        assert_eq!(booking(e), BookingError::BlandTooLong { max: 3 });
        // ...but the same day as absent is fine, and a run broken by it may go on.
        // (checked on a fresh copy of the state below, to keep `before` meaningful)

        // A disattivo enrolment.
        let off = d
            .enrolments
            .iter()
            .find(|e| e.state == EnrolmentState::Disattivo)
            .unwrap()
            .clone();
        let e = refused(&now, &off, tue, tue, MealChoice::Absent).await;
        assert_eq!(booking(e), BookingError::NotEnrolled);

        // A day already closed, seen by a node whose clock is behind: refused as past the
        // cut-off; a range containing it writes none of its days.
        close(db, &d, day).await;
        let e = refused(&now, &sofia, day, day, MealChoice::Absent).await;
        assert!(is_past_cutoff(&e, day), "{e}");
        let e = refused(&now, &sofia, day, wed, MealChoice::Absent).await;
        assert!(is_past_cutoff(&e, day), "{e}");
        let e = refused(&now, &luca, day, day, MealChoice::Present).await;
        assert!(is_past_cutoff(&e, day), "{e}");

        // After all this the valid changes still work.
        assert_eq!(
            change(db, &now, &d, &luca, wed, thu, MealChoice::Absent)
                .await
                .unwrap(),
            vec![wed, thu]
        );
        assert_eq!(
            change(
                db,
                &now,
                &d,
                &luca,
                date(2026, 11, 27),
                date(2026, 11, 27),
                MealChoice::Bland
            )
            .await
            .unwrap(),
            vec![date(2026, 11, 27)]
        );
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 11. The kitchen's numbers

fn check_sums(k: &KitchenNumbers) {
    let line = |c: &Counts| c.standard + c.bland + c.diets.values().sum::<u32>();
    let mut total = Counts::default();
    for s in &k.schools {
        let mut st = Counts::default();
        for c in &s.classes {
            assert_eq!(line(&c.counts), c.counts.total, "{}", c.name);
            st.standard += c.counts.standard;
            st.bland += c.counts.bland;
            st.total += c.counts.total;
            for (code, n) in &c.counts.diets {
                *st.diets.entry(code.clone()).or_default() += n;
            }
        }
        assert_eq!(st, s.total, "{}", s.name);
        total.standard += st.standard;
        total.bland += st.bland;
        total.total += st.total;
        for (code, n) in &st.diets {
            *total.diets.entry(code.clone()).or_default() += n;
        }
    }
    assert_eq!(total, k.total);
    let codes: BTreeSet<&String> = k.total.diets.keys().collect();
    let listed: BTreeSet<&String> = k.diets.iter().map(|(c, _)| c).collect();
    assert_eq!(codes, listed);
}

#[tokio::test]
async fn kitchen_forecast_equals_the_frozen_numbers() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let d = Demo::load(db, &morning_cet(day)).await;
        let booked = some_changes(db, &d).await;
        let forecast = kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), day)
            .await
            .unwrap();
        assert!(!forecast.frozen);
        close(db, &d, day).await;
        let frozen = kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), day)
            .await
            .unwrap();
        assert!(frozen.frozen);
        assert_eq!(
            KitchenNumbers {
                frozen: false,
                ..frozen.clone()
            },
            forecast,
            "{backend}"
        );
        check_sums(&frozen);

        // Against the oracle: per class, standard / bland / diet (a bland diet meal is a diet).
        let mut h = db.acquire().await.unwrap();
        let diets = service::diets(&mut h.conn(), d.tenant.id).await.unwrap();
        drop(h);
        let mut want: BTreeMap<ClassId, Counts> = BTreeMap::new();
        for e in d.eaters(day) {
            let choice = booked
                .get(&(e.id, day))
                .copied()
                .unwrap_or(MealChoice::Present);
            if choice == MealChoice::Absent {
                continue;
            }
            let c = want.entry(e.class_id).or_default();
            match e.diet_id {
                Some(id) => {
                    let code = &diets.iter().find(|x| x.id == id).unwrap().code;
                    *c.diets.entry(code.clone()).or_default() += 1;
                }
                None if choice == MealChoice::Bland => c.bland += 1,
                None => c.standard += 1,
            }
            c.total += 1;
        }
        let got: BTreeMap<ClassId, Counts> = frozen
            .schools
            .iter()
            .flat_map(|s| s.classes.iter().map(|k| (k.class, k.counts.clone())))
            .collect();
        assert_eq!(got, want, "{backend}");
        assert!(frozen.total.bland > 0);
        assert!(!frozen.total.diets.is_empty());
        assert_eq!(frozen.total.total as usize, d.expected(day, &booked).len());
        // A day nobody eats: empty numbers, before and after its close.
        let sunday = date(2026, 11, 22);
        let k = kitchen::kitchen_numbers(cx(db, &SystemClock, &d.tenant, Actor::Close), sunday)
            .await
            .unwrap();
        assert_eq!(k.total, Counts::default());
        check_balances_are_sums(db, &d).await;
        t.cleanup().await;
    }
}

/// Bland meals cost as a standard meal, unless the municipality makes them free.
#[tokio::test]
async fn bland_meals_are_free_only_if_the_setting_says_so() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let (mon, tue) = (monday(), date(2026, 11, 24));
        let d = Demo::load(db, &morning_cet(mon)).await;
        change(
            db,
            &morning_cet(mon),
            &d,
            &d.luca,
            mon,
            tue,
            MealChoice::Bland,
        )
        .await
        .unwrap();
        close(db, &d, mon).await;
        let mut h = db.acquire().await.unwrap();
        on_conn!(&mut h.conn(), |c| {
            sqlx::query("UPDATE tenant SET settings = $1 WHERE id = $2")
                .bind(r#"{"citizen_local_login": true, "bland_meal_free": true}"#)
                .bind(d.tenant.id.get())
                .execute(&mut *c)
                .await
                .unwrap();
        });
        drop(h);
        let d2 = Demo::read(db).await;
        assert!(d2.tenant.settings.bland_meal_free);
        close(db, &d2, tue).await;
        let booked = bookings(db).await;
        let luca: Vec<Charge> = charges(db, None)
            .await
            .into_iter()
            .filter(|c| c.card == d.luca.card_code)
            .collect();
        assert_eq!(
            luca,
            vec![
                Charge {
                    card: d.luca.card_code.clone(),
                    day: mon,
                    amount: -d.luca.meal_price.get(),
                    meal: "bland".into()
                },
                Charge {
                    card: d.luca.card_code.clone(),
                    day: tue,
                    amount: 0,
                    meal: "bland".into()
                },
            ],
            "{backend}"
        );
        assert_eq!(charges(db, Some(tue)).await, d2.expected(tue, &booked));
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 12. The close waits for the cut-off

#[tokio::test]
async fn the_close_refuses_to_run_before_the_cutoff() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let d = Demo::load(db, &morning_cet(day)).await;
        some_changes(db, &d).await;
        let before = meal_tables(db).await;
        for early in [
            "2026-11-23T08:29:59Z",
            "2026-11-23T08:29:00Z",
            "2026-11-22T20:00:00Z",
        ] {
            let e = close::close_day(cx(db, &clock(early), &d.tenant, Actor::Close), day)
                .await
                .unwrap_err();
            assert!(
                matches!(&e, AppError::Invalid(m) if m.contains("09:30") && m.contains("23 novembre 2026")),
                "{backend}: {e}"
            );
        }
        // Nor a later day with today's clock.
        assert!(
            close::close_day(
                cx(db, &cutoff_cet(day), &d.tenant, Actor::Close),
                date(2026, 11, 24)
            )
            .await
            .is_err()
        );
        assert_eq!(meal_tables(db).await, before, "{backend}");
        let mut h = db.acquire().await.unwrap();
        assert!(
            !refettorio_db::close::is_closed(&mut h.conn(), d.tenant.id, day)
                .await
                .unwrap()
        );
        drop(h);
        // The families can still change the day.
        assert!(
            change(
                db,
                &clock("2026-11-23T08:29:59Z"),
                &d,
                &d.luca,
                day,
                day,
                MealChoice::Absent
            )
            .await
            .is_ok()
        );
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 13. A closure entered while the day is being closed

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closure_racing_the_close_leaves_no_charge_in_its_scope() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let d = Arc::new(Demo::load(db, &morning_cet(monday())).await);
        let rodari = d.school_named("Scuola primaria Gianni Rodari").id;
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let mut day = monday();
        let mut rounds = 0;
        while day <= date(2026, 12, 22) {
            if !d.eats(&d.luca, day) {
                day = day.tomorrow().unwrap();
                continue;
            }
            rounds += 1;
            let (delay_a, delay_b) = (rng.random_range(0..3_000u64), rng.random_range(0..3_000u64));
            let closer = {
                let (db, d) = (db.clone(), d.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(delay_a)).await;
                    close::close_day(cx(&db, &cutoff_cet(day), &d.tenant, Actor::Close), day).await
                })
            };
            let office = {
                let (db, d) = (db.clone(), d.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_micros(delay_b)).await;
                    closure::add_closure(
                        cx(
                            &db,
                            &clock(&format!("{day}T08:30:00Z")),
                            &d.tenant,
                            Actor::Staff(StaffUserId(1)),
                        ),
                        d.year.id,
                        &closure(ClosureScope::School(rodari), day, day),
                    )
                    .await
                })
            };
            closer.await.unwrap().unwrap();
            office.await.unwrap().unwrap();
            let cards: BTreeSet<&str> = d
                .enrolments
                .iter()
                .filter(|e| e.school_id == rodari)
                .map(|e| e.card_code.as_str())
                .collect();
            let left: Vec<Charge> = charges(db, Some(day))
                .await
                .into_iter()
                .filter(|c| cards.contains(c.card.as_str()))
                .collect();
            assert!(
                left.is_empty(),
                "{backend} {day}: {} Rodari meals charged on a closure day",
                left.len()
            );
            let d2 = Demo::read(db).await;
            assert_eq!(
                charges(db, Some(day)).await,
                d2.expected(day, &BTreeMap::new())
            );
            day = day.tomorrow().unwrap();
        }
        assert!(rounds >= 20);
        check_balances_are_sums(db, &d).await;
        t.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// 14. The account each enrolment is charged to

/// Enrolments whose `account_id` is not the account of their pupil's family for their service.
async fn wrongly_linked(db: &Db) -> i64 {
    scalar(
        db,
        "SELECT COUNT(*) FROM enrolment e \
         JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
         LEFT JOIN account a ON a.tenant_id = e.tenant_id AND a.family_id = p.family_id \
           AND a.service_id = e.service_id \
         WHERE e.account_id IS NOT NULL AND (a.id IS NULL OR a.id <> e.account_id)",
    )
    .await
}

#[tokio::test]
async fn enrolments_added_after_the_accounts_are_charged_to_their_familys_account() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let d = Demo::load(db, &morning_cet(day)).await;
        // The demo loader links every refezione enrolment to its family's account.
        let unlinked = format!(
            "SELECT COUNT(*) FROM enrolment WHERE service_id = {} AND account_id IS NULL",
            d.service.id.get()
        );
        assert_eq!(scalar(db, &unlinked).await, 0, "{backend}");
        assert_eq!(wrongly_linked(db).await, 0, "{backend}");

        // After the accounts exist: a third child for Mario's family (which has an account) and
        // the only child of a new family (which has none), in a class that eats on Monday.
        let model = d.eaters(day)[0].clone();
        let (sibling, newcomer, new_family) = {
            let mut tx = db.begin().await.unwrap();
            let c = &mut tx.conn();
            let guardian = family::insert_guardian(
                c,
                d.tenant.id,
                &family::NewGuardian {
                    fiscal_code: CodiceFiscale::parse("VRDGPP75C15L219H").unwrap(),
                    first_name: "Giuseppe".into(),
                    last_name: "Verdi".into(),
                    email: Some("giuseppe.verdi@example.org".into()),
                    phone: None,
                    address: String::new(),
                    resident: true,
                },
                None,
            )
            .await
            .unwrap();
            let new_family = family::insert_family(c, d.tenant.id, guardian, None)
                .await
                .unwrap();
            let mut enrolments = Vec::new();
            for (n, (fam, name)) in [(d.mario_family, "Anna"), (new_family, "Pietro")]
                .into_iter()
                .enumerate()
            {
                let pupil = family::insert_pupil(
                    c,
                    d.tenant.id,
                    &family::NewPupil {
                        family_id: fam,
                        fiscal_code: None,
                        first_name: name.into(),
                        last_name: "Nuovo".into(),
                        birth_date: date(2019, 1, 10),
                    },
                )
                .await
                .unwrap();
                let id = service::insert_enrolment(
                    c,
                    d.tenant.id,
                    &service::NewEnrolment {
                        pupil_id: pupil,
                        service_id: d.service.id,
                        school_id: model.school_id,
                        class_id: model.class_id,
                        tariff_band_id: model.tariff_band_id,
                        meal_price: Cents(517 + n as i64),
                        fixed_fee: Cents(0),
                        diet_id: None,
                        state: EnrolmentState::Attivo,
                        start_date: date(2026, 11, 16),
                        card_code: format!("NUOVO-{n}"),
                    },
                )
                .await
                .unwrap();
                enrolments.push(id);
            }
            tx.commit().await.unwrap();
            (enrolments[0], enrolments[1], new_family)
        };
        assert_eq!(scalar(db, &unlinked).await, 2, "{backend}");
        let accounts_before = scalar(db, "SELECT COUNT(*) FROM account").await;

        let outcome = close(db, &d, day).await;
        assert_eq!(
            outcome.charged as usize,
            d.expected(day, &BTreeMap::new()).len() + 2,
            "{backend}"
        );
        assert_eq!(scalar(db, &unlinked).await, 0, "{backend}");
        assert_eq!(wrongly_linked(db).await, 0, "{backend}");
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM account").await,
            accounts_before + 1,
            "{backend}: one account opened, for the new family"
        );
        let mut h = db.acquire().await.unwrap();
        let c = &mut h.conn();
        for (enrolment, fam, price) in [(sibling, d.mario_family, 517), (newcomer, new_family, 518)]
        {
            let account = refettorio_db::ledger::account_of(c, d.tenant.id, fam, d.service.id)
                .await
                .unwrap()
                .unwrap();
            let entries =
                refettorio_db::ledger::entries_of_enrolment_day(c, d.tenant.id, enrolment, day)
                    .await
                    .unwrap();
            assert_eq!(entries.len(), 1, "{backend}: {entries:?}");
            assert_eq!(entries[0].kind, EntryKind::MealCharge);
            assert_eq!(entries[0].account, account.id, "{backend}");
            assert_eq!(entries[0].amount, Cents(-price));
        }
        drop(h);
        check_balances_are_sums(db, &d).await;
        t.cleanup().await;
    }
}

/// The benchmark's tenant, small: every enrolment charged once, every tenth family (2 meals of
/// credit left) warned, nobody else.
#[tokio::test]
async fn the_synthetic_tenant_closes_like_the_benchmark_expects() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let clock = clock("2026-11-23T12:00:00Z");
        let mut tx = db.begin().await.unwrap();
        let syn = refettorio_db::synthetic::build(&mut tx.conn(), "sintetico", 120, clock.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut h = db.acquire().await.unwrap();
        let tenant = tenant::by_id(&mut h.conn(), syn.tenant)
            .await
            .unwrap()
            .unwrap();
        drop(h);
        let outcome = close::close_day(cx(db, &clock, &tenant, Actor::Close), monday())
            .await
            .unwrap();
        assert_eq!(
            outcome,
            CloseOutcome {
                charged: 120,
                already: 0
            },
            "{backend}"
        );
        let warned = scalar(
            db,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'low_balance' AND subject = 'Credito mensa in esaurimento'",
        )
        .await;
        let low = scalar(
            db,
            "SELECT COUNT(*) FROM (SELECT account_id FROM ledger_entry GROUP BY account_id \
             HAVING SUM(amount_cents) < 3 * 450) x",
        )
        .await;
        assert_eq!(low, 12, "{backend}");
        assert_eq!(warned, low, "{backend}");
        // And one kitchen e-mail, for the one school.
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM outbox").await, low + 1);
        assert_eq!(
            scalar(
                db,
                "SELECT COUNT(*) FROM ledger_entry WHERE kind = 'meal_charge' AND amount_cents = -450"
            )
            .await,
            120
        );
        t.cleanup().await;
    }
}

/// The warnings follow the close in their own transaction: a node that stops between the two
/// leaves them to the next run (the scheduler's, or a close run again), which queues them once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn warnings_left_by_a_stopped_node_are_queued_once_by_the_next_run() {
    for t in TestDb::all().await.unwrap() {
        let db = &t.db;
        let backend = db.backend().as_str();
        let day = monday();
        let d = Arc::new(Demo::load(db, &morning_cet(day)).await);
        let reference = fresh(db.backend()).await;
        let d2 = Demo::load(&reference.db, &morning_cet(day)).await;
        close(&reference.db, &d2, day).await;
        let expected = outbox_rows(&reference.db, "low_balance").await;
        assert!(!expected.is_empty(), "{backend}");
        reference.cleanup().await;

        // The close commits, then the node stops.
        let outcome = close::close(cx(db, &cutoff_cet(day), &d.tenant, Actor::Close), day)
            .await
            .unwrap();
        assert!(outcome.charged > 0);
        assert!(outbox_rows(db, "low_balance").await.is_empty(), "{backend}");
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM day_close WHERE warned_at IS NULL").await,
            1
        );

        // Four nodes catch up at once; then a close run again, and the scheduler.
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                let d = d.clone();
                tokio::spawn(async move {
                    close::warn_pending(cx(&db, &cutoff_cet(day), &d.tenant, Actor::Close)).await
                })
            })
            .collect();
        let mut queued = Vec::new();
        for task in tasks {
            for (_, n) in task.await.unwrap().unwrap() {
                queued.push(n);
            }
        }
        assert_eq!(
            queued.iter().sum::<u64>(),
            expected.len() as u64,
            "{backend}: {queued:?}"
        );
        assert_eq!(queued.iter().filter(|n| **n > 0).count(), 1, "{backend}");
        let again = close(db, &d, day).await;
        assert_eq!(again.already, outcome.charged);
        let done = refettorio_app::scheduler::run_due_closes(db, &cutoff_cet(day))
            .await
            .unwrap();
        assert!(done.iter().all(|(_, _, o)| o.charged == 0), "{done:?}");

        let rows = outbox_rows(db, "low_balance").await;
        let strip = |rows: &[(String, String, String, String)]| {
            let mut v: Vec<(String, String)> =
                rows.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
            v.sort();
            v
        };
        assert_eq!(strip(&rows), strip(&expected), "{backend}");
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM day_close WHERE warned_at IS NULL").await,
            0
        );
        t.cleanup().await;
    }
}
