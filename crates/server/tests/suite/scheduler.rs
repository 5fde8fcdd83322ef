//! The scheduler inside the real server (`refettorio_server::serve`, as the binary starts it):
//! the test only moves the server's clock and watches over HTTP and in the database; it never
//! calls the scheduler's functions. Also: two servers on one PostgreSQL database, the stop on
//! shutdown, the catch-up of missed days at start, days beyond the catch-up window shown to the
//! office, and `refettorio close-day` on the scheduler's path.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER};
use refettorio_db::testing::TestDb;
use refettorio_domain::FixedClock;

use crate::common::{App, MONDAY_8AM, browser, login, page, scalar, spawn_with};

/// Monday 23 November 2026, 09:31 in Rome: one minute after the demo's cut-off.
const MONDAY_AFTER_CUTOFF: &str = "2026-11-23T08:31:00Z";

/// The real server with the scheduler on, every second, its clock at `now`.
async fn serve_at(t: &TestDb, now: &str) -> App {
    spawn_with(t, true, now, |c| {
        c.scheduler = true;
        c.scheduler_tick_secs = 1;
    })
    .await
}

/// Polls `sql` (one integer) every 100 ms until it equals `expected`, for at most `secs`.
async fn wait_for(t: &TestDb, sql: &str, expected: i64, secs: u64) {
    let start = Instant::now();
    loop {
        let v = scalar(t, sql).await;
        if v == expected {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{sql}: {v} after {secs} s, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` every 100 ms until it holds, for at most `secs`.
async fn eventually(what: &str, secs: u64, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what}: not after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn closed(day: &str) -> String {
    format!("SELECT COUNT(*) FROM day_close WHERE day = '{day}'")
}

fn charges(day: &str) -> String {
    format!("SELECT COUNT(*) FROM ledger_entry WHERE kind = 'meal_charge' AND day = '{day}'")
}

async fn health(app: &App) -> serde_json::Value {
    let r = app.get("/health").await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn esempio(health: &serde_json::Value) -> serde_json::Value {
    health["municipalities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["slug"] == "esempio")
        .cloned()
        .unwrap()
}

/// Stops the server; it must end (server and scheduler) within `secs`.
async fn stop_within(app: App, secs: u64) {
    app.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(secs), app.running.task)
        .await
        .expect("the server and its scheduler stop promptly")
        .unwrap()
        .unwrap();
}

/// The text the server logs on this thread while the guard lives (`#[tokio::test]` runs the
/// server's tasks on the test's thread).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn serve_closes_the_day_after_its_cut_off() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let app = serve_at(&t, MONDAY_8AM).await;
        let client = browser();
        assert_eq!(
            login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD)
                .await
                .status(),
            303
        );
        let kitchen = "/t/esempio/backoffice/cucina?giorno=2026-11-23";
        let (_, html) = page(&client, &app, kitchen).await;
        assert!(html.contains("Previsione"), "{backend}: {html}");
        let h = esempio(&health(&app).await);
        assert!(h["last_closed_day"].is_null(), "{backend}: {h}");
        // Before the cut-off a few ticks pass and nothing is closed.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(scalar(&t, &closed("2026-11-23")).await, 0, "{backend}");

        // One minute past the cut-off: the server's scheduler closes the day by itself.
        app.clock.set(MONDAY_AFTER_CUTOFF.parse().unwrap());
        wait_for(&t, &closed("2026-11-23"), 1, 10).await;
        let charged = scalar(&t, "SELECT charged FROM day_close WHERE day = '2026-11-23'").await;
        assert!(charged > 0, "{backend}");
        // The low-balance warnings follow the close in their own transaction.
        wait_for(
            &t,
            "SELECT COUNT(*) FROM day_close WHERE day = '2026-11-23' AND warned_at IS NOT NULL",
            1,
            10,
        )
        .await;
        assert_eq!(
            scalar(&t, &charges("2026-11-23")).await,
            charged,
            "{backend}"
        );
        // The kitchen's numbers are final (a new login: the first one has been idle too long).
        let client = browser();
        login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let (status, html) = page(&client, &app, kitchen).await;
        assert_eq!(status, 200);
        assert!(html.contains("Definitivo"), "{backend}: {html}");
        assert!(!html.contains("Previsione"), "{backend}: {html}");
        let csv = refettorio_server::kitchen_report(
            &t.db,
            app.clock.as_ref(),
            "esempio",
            "2026-11-23".parse().unwrap(),
            "csv",
        )
        .await
        .unwrap();
        assert!(
            String::from_utf8_lossy(&csv).contains(&format!(";{charged}\r\n")),
            "{backend}"
        );
        // /health: the last closed day and the messages waiting (the kitchen's e-mails).
        let h = health(&app).await;
        assert_eq!(h["status"], "ok");
        assert_eq!(h["database"], backend);
        let m = esempio(&h);
        assert_eq!(m["last_closed_day"], "2026-11-23", "{backend}: {m}");
        assert_eq!(m["days_not_closed"], 0, "{backend}: {m}");
        let backlog = scalar(&t, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await;
        assert!(backlog > 0, "{backend}");
        assert_eq!(m["outbox_backlog"], backlog, "{backend}: {m}");
        // /metrics counts the scheduler's closes (once the run that closed the day is over).
        eventually("the scheduler's counters", 10, async || {
            let metrics = app.get("/metrics").await.text().await.unwrap();
            metrics.contains("scheduler_days_closed_total{tenant=\"esempio\"}")
                && metrics.contains("scheduler_runs_total{outcome=\"ok\"}")
        })
        .await;
        // Later ticks change nothing.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(
            scalar(&t, &charges("2026-11-23")).await,
            charged,
            "{backend}"
        );
        stop_within(app, 10).await;
        t.cleanup().await;
    }
}

/// The default test server has the scheduler off (`scheduler = false`): nothing closes.
#[tokio::test]
async fn a_server_with_the_scheduler_off_closes_nothing() {
    let t = TestDb::sqlite().await.unwrap();
    let app = crate::common::spawn(&t, true).await;
    app.clock.set(MONDAY_AFTER_CUTOFF.parse().unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(scalar(&t, "SELECT COUNT(*) FROM day_close").await, 0);
    stop_within(app, 10).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_database_charge_each_meal_once() {
    // Several nodes share PostgreSQL only (SQLite is one node's file).
    let Some(t) = TestDb::postgres().await.unwrap() else {
        return;
    };
    {
        let one = serve_at(&t, MONDAY_8AM).await;
        let two = serve_at(&t, MONDAY_8AM).await;
        // Both pass the cut-off at once, and both keep running their scheduler.
        one.clock.set(MONDAY_AFTER_CUTOFF.parse().unwrap());
        two.clock.set(MONDAY_AFTER_CUTOFF.parse().unwrap());
        wait_for(&t, &closed("2026-11-23"), 1, 10).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let charged = scalar(&t, "SELECT charged FROM day_close WHERE day = '2026-11-23'").await;
        assert!(charged > 0);
        assert_eq!(scalar(&t, &charges("2026-11-23")).await, charged);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(DISTINCT enrolment_id) FROM ledger_entry \
                 WHERE kind = 'meal_charge' AND day = '2026-11-23'"
            )
            .await,
            charged
        );
        // The node that lost the claim found the day closed: no close failed on either.
        let metrics = one.get("/metrics").await.text().await.unwrap();
        assert!(
            !metrics.contains("scheduler_close_failures_total"),
            "{metrics}"
        );
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM day_close WHERE warned_at IS NULL").await,
            0
        );
        stop_within(one, 10).await;
        stop_within(two, 10).await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_scheduler_stops_on_shutdown() {
    for t in TestDb::all().await.unwrap() {
        // A scheduler asleep for 30 s between runs: the stop wakes it, the task ends at once.
        let app = spawn_with(&t, true, MONDAY_8AM, |c| c.scheduler = true).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        stop_within(app, 5).await;
        assert!(started.elapsed() < Duration::from_secs(5));

        // Stopped, it closes nothing any more, whatever the time.
        let app = serve_at(&t, MONDAY_8AM).await;
        let clock = app.clock.clone();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop_within(app, 5).await;
        clock.set(MONDAY_AFTER_CUTOFF.parse().unwrap());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM day_close").await, 0);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_server_started_after_missed_days_catches_them_up() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        // Monday is closed by a first server; then no node runs until Friday 10:00.
        let app = serve_at(&t, MONDAY_8AM).await;
        app.clock.set(MONDAY_AFTER_CUTOFF.parse().unwrap());
        wait_for(&t, &closed("2026-11-23"), 1, 10).await;
        stop_within(app, 10).await;

        let logs = Logs::default();
        let _guard = logs.capture();
        let app = serve_at(&t, "2026-11-27T09:00:00Z").await;
        wait_for(
            &t,
            "SELECT COUNT(*) FROM day_close WHERE day > '2026-11-23'",
            4,
            20,
        )
        .await;
        // Each day is logged once its close and warnings are done.
        eventually("a log line for each day", 10, async || {
            logs.text()
                .lines()
                .filter(|l| l.contains("scheduled close"))
                .count()
                >= 4
        })
        .await;
        let text = logs.text();
        for day in ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"] {
            assert!(scalar(&t, &charges(day)).await > 0, "{backend}: {day}");
            let line = text
                .lines()
                .find(|l| l.contains("scheduled close") && l.contains(&format!("day={day}")))
                .unwrap_or_else(|| panic!("{backend}: no log of {day}: {text}"));
            // Today's close is not a catch-up; the days before are.
            let caught_up = day != "2026-11-27";
            assert!(
                line.contains(&format!("caught_up={caught_up}")),
                "{backend}: {line}"
            );
        }
        let m = esempio(&health(&app).await);
        assert_eq!(m["last_closed_day"], "2026-11-27", "{backend}: {m}");
        assert_eq!(m["days_not_closed"], 0, "{backend}: {m}");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("scheduler_days_caught_up_total{tenant=\"esempio\"}"),
            "{metrics}"
        );

        stop_within(app, 10).await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn days_beyond_the_catch_up_window_are_logged_and_shown_to_the_office() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        // Monday 23 November is closed; then no node runs until Friday 15 January 2027, 10:00:
        // 31 days back is 15 December, so 24 November – 14 December are beyond the window.
        let clock = FixedClock::new(MONDAY_AFTER_CUTOFF.parse().unwrap());
        refettorio_server::load_demo(&t.db, &clock).await.unwrap();
        refettorio_server::close_day(&t.db, &clock, "esempio", "2026-11-23".parse().unwrap())
            .await
            .unwrap();

        let logs = Logs::default();
        let _guard = logs.capture();
        let app = serve_at(&t, "2027-01-15T09:00:00Z").await;
        wait_for(&t, &closed("2027-01-15"), 1, 30).await;
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM day_close WHERE day > '2026-11-23' AND day < '2026-12-15'"
            )
            .await,
            0,
            "{backend}"
        );
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM day_close WHERE day >= '2026-12-15'"
            )
            .await,
            32,
            "{backend}"
        );
        let text = logs.text();
        assert!(
            text.lines().any(|l| l.contains("ERROR")
                && l.contains("not closed automatically")
                && l.contains("from=2026-11-24")
                && l.contains("to=2026-12-14")
                && l.contains("days=21")),
            "{backend}: {text}"
        );
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("scheduler_days_skipped_total{tenant=\"esempio\"}"),
            "{metrics}"
        );
        // /health and the office's home show them, with the command that closes them.
        assert_eq!(esempio(&health(&app).await)["days_not_closed"], 21);
        let client = browser();
        login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let (_, html) = page(&client, &app, "/t/esempio/backoffice").await;
        assert!(
            html.contains("Giornate non chiuse automaticamente"),
            "{html}"
        );
        assert!(
            html.contains("dal 24/11/2026 al 14/12/2026 (21 giorni)"),
            "{html}"
        );
        assert!(
            html.contains("refettorio close-day --tenant esempio --date 2026-11-24"),
            "{html}"
        );
        // Closed by hand, a day leaves the list.
        refettorio_server::close_day(
            &t.db,
            app.clock.as_ref(),
            "esempio",
            "2026-11-24".parse().unwrap(),
        )
        .await
        .unwrap();
        let (_, html) = page(&client, &app, "/t/esempio/backoffice").await;
        assert!(
            html.contains("dal 25/11/2026 al 14/12/2026 (20 giorni)"),
            "{html}"
        );
        assert_eq!(esempio(&health(&app).await)["days_not_closed"], 20);
        // Other roles do not see the warning.
        let kitchen = browser();
        login(&app, &kitchen, "cucina", "demo-cucina").await;
        let (status, html) = page(&kitchen, &app, "/t/esempio/backoffice").await;
        assert_eq!(status, 200);
        assert!(!html.contains("Giornate non chiuse"), "{html}");
        stop_within(app, 10).await;
        t.cleanup().await;
    }
}

/// `refettorio close-day` takes the scheduler's path: the day's enrolment changes first.
#[tokio::test]
async fn close_day_applies_the_days_enrolment_changes_first() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let clock = FixedClock::new(MONDAY_8AM.parse().unwrap());
        refettorio_server::load_demo(&t.db, &clock).await.unwrap();
        let tenant = {
            let mut h = t.db.acquire().await.unwrap();
            refettorio_db::registry::tenant::by_slug(&mut h.conn(), "esempio")
                .await
                .unwrap()
                .unwrap()
        };
        let enrolment = scalar(
            &t,
            "SELECT MIN(e.id) FROM enrolment e JOIN service s ON s.id = e.service_id \
             WHERE s.kind = 'refezione' AND e.state = 'attivo'",
        )
        .await;
        // Stopped from Tuesday on.
        refettorio_app::people::schedule_change(
            refettorio_app::Ctx::new(
                &t.db,
                &clock,
                &tenant,
                refettorio_domain::Actor::Staff(refettorio_domain::StaffUserId(1)),
            ),
            refettorio_domain::EnrolmentId(enrolment),
            &refettorio_app::people::ChangeInput {
                effective_on: "2026-11-24".into(),
                state: "disattivo".into(),
                reason: "trasferimento".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let tuesday: jiff::civil::Date = "2026-11-24".parse().unwrap();
        let applied = "SELECT COUNT(*) FROM enrolment_change WHERE applied_at IS NOT NULL";
        // Before Tuesday's cut-off the command refuses, and applies nothing early.
        clock.set("2026-11-23T13:00:00Z".parse().unwrap());
        let e = refettorio_server::close_day(&t.db, &clock, "esempio", tuesday)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("ora limite"), "{e:#}");
        assert_eq!(scalar(&t, applied).await, 0, "{backend}");
        // After it: the change is written, then the day closed without that meal.
        clock.set("2026-11-24T09:00:00Z".parse().unwrap());
        let outcome = refettorio_server::close_day(&t.db, &clock, "esempio", tuesday)
            .await
            .unwrap();
        assert!(outcome.charged > 0, "{backend}");
        assert_eq!(scalar(&t, applied).await, 1, "{backend}");
        assert_eq!(
            scalar(
                &t,
                &format!(
                    "SELECT COUNT(*) FROM ledger_entry WHERE kind = 'meal_charge' \
                     AND day = '2026-11-24' AND enrolment_id = {enrolment}"
                )
            )
            .await,
            0,
            "{backend}"
        );
        assert_eq!(
            scalar(&t, &charges("2026-11-24")).await as u64,
            outcome.charged
        );
        t.cleanup().await;
    }
}
