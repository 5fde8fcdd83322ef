//! The real server on port 0 for the integration tests, with a clock the test moves.
#![allow(dead_code)]

use std::sync::Arc;

use refettorio_db::testing::TestDb;
use refettorio_domain::FixedClock;
use refettorio_server::{Config, Running};
use tokio::sync::oneshot;

pub struct App {
    pub running: Running,
    pub base: String,
    pub stop: oneshot::Sender<()>,
    pub client: reqwest::Client,
    pub clock: Arc<FixedClock>,
    /// The server's own pool (a clone): closing it makes the database unavailable to the server.
    pub db: refettorio_db::Db,
}

/// Monday 23 November 2026, 08:00 in Rome: a school day of the demo, before the cut-off.
pub const MONDAY_8AM: &str = "2026-11-23T07:00:00Z";

/// The server with its clock at [`MONDAY_8AM`] and the scheduler off: these tests close days
/// themselves, at the moment they choose, and check each close's own outcome; a background
/// close would race with them. The scheduler's tests use [`spawn_with`].
pub async fn spawn(t: &TestDb, demo: bool) -> App {
    spawn_with(t, demo, MONDAY_8AM, |c| c.scheduler = false).await
}

/// The server with its clock at `now` and the configuration as `tweak` leaves it (by default
/// the scheduler runs, every 30 seconds).
pub async fn spawn_with(t: &TestDb, demo: bool, now: &str, tweak: impl FnOnce(&mut Config)) -> App {
    let mut config = Config {
        database_url: t.url.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        // The tests' SMS gateways and App IO are stand-ins on 127.0.0.1.
        channels_allow_private_hosts: true,
        ..Config::default()
    };
    tweak(&mut config);
    let clock = Arc::new(FixedClock::new(now.parse().unwrap()));
    let db = refettorio_server::open_database(&config).await.unwrap();
    if demo {
        refettorio_server::load_demo(&db, clock.as_ref())
            .await
            .unwrap();
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let server_db = db.clone();
    let running = refettorio_server::serve(&config, db, clock.clone(), async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let base = format!("http://{}", running.addr);
    App {
        running,
        base,
        stop,
        client: browser(),
        clock,
        db: server_db,
    }
}

/// A client like a browser: keeps cookies, does not follow redirects (the tests check them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.running.task.await.unwrap().unwrap();
    }
}

/// The value of the first `name="_csrf"` field of a page.
pub fn csrf_of(html: &str) -> String {
    value_of(html, "_csrf")
}

/// The value of the first field named `name` in a page.
pub fn value_of(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the field") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The CSRF token of the form on `path` (setting the pre-login cookie, as a browser would).
pub async fn form_csrf(app: &App, client: &reqwest::Client, path: &str) -> String {
    csrf_of(&page(client, app, path).await.1)
}

pub async fn login_page_csrf(app: &App, client: &reqwest::Client) -> String {
    form_csrf(app, client, "/t/esempio/accedi").await
}

pub async fn login(app: &App, client: &reqwest::Client, id: &str, pw: &str) -> reqwest::Response {
    let csrf = login_page_csrf(app, client).await;
    post(
        client,
        app,
        "/t/esempio/accedi",
        &[("identifier", id), ("password", pw), ("_csrf", &csrf)],
    )
    .await
}

/// The platform administrator's login form, posted with `pw`.
pub async fn admin_login(app: &App, client: &reqwest::Client, pw: &str) -> reqwest::Response {
    let csrf = form_csrf(app, client, "/admin/accedi").await;
    post(
        client,
        app,
        "/admin/accedi",
        &[
            ("username", refettorio_app::demo::DEMO_ADMIN_USER),
            ("password", pw),
            ("_csrf", &csrf),
        ],
    )
    .await
}

/// A logged-in administrator's client and the session's CSRF token.
pub async fn admin(app: &App) -> (reqwest::Client, String) {
    let client = browser();
    let r = admin_login(app, &client, refettorio_app::demo::DEMO_ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin");
    let (status, html) = page(&client, app, "/admin").await;
    assert_eq!(status, 200, "{html}");
    (client, csrf_of(&html))
}

/// Posts a form as a browser does.
pub async fn post(
    client: &reqwest::Client,
    app: &App,
    path: impl AsRef<str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path.as_ref()))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn page(client: &reqwest::Client, app: &App, path: &str) -> (u16, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// One integer read with one SQL query, on either database, as BIGINT (INTEGER columns are
/// INT4 on PostgreSQL).
pub async fn scalar(t: &TestDb, sql: &str) -> i64 {
    let mut h = t.db.acquire().await.unwrap();
    let sql = sqlx::AssertSqlSafe(format!("SELECT CAST(({sql}) AS BIGINT)"));
    match &mut h.conn() {
        refettorio_db::Conn::Postgres(c) => {
            sqlx::query_scalar(sql).fetch_one(&mut **c).await.unwrap()
        }
        refettorio_db::Conn::Sqlite(c) => {
            sqlx::query_scalar(sql).fetch_one(&mut **c).await.unwrap()
        }
    }
}

/// A text read with one SQL query, on either database.
pub async fn text(t: &TestDb, sql: &str) -> String {
    let mut h = t.db.acquire().await.unwrap();
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match &mut h.conn() {
        refettorio_db::Conn::Postgres(c) => {
            sqlx::query_scalar(sql).fetch_one(&mut **c).await.unwrap()
        }
        refettorio_db::Conn::Sqlite(c) => {
            sqlx::query_scalar(sql).fetch_one(&mut **c).await.unwrap()
        }
    }
}

/// The value of the `nth` (0-based) hidden field `name` of a page.
pub fn hidden(html: &str, name: &str, nth: usize) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.match_indices(&marker).nth(nth).expect(name).0 + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// Runs each backend's own SQL (test set-up only, e.g. a trigger that injects a failure, or a
/// booking written directly); pass the same text twice for SQL both databases read.
pub async fn exec(t: &TestDb, postgres: &str, sqlite: &str) {
    let mut h = t.db.acquire().await.unwrap();
    match &mut h.conn() {
        refettorio_db::Conn::Postgres(c) => {
            let sql = sqlx::AssertSqlSafe(postgres.to_string());
            sqlx::raw_sql(sql).execute(&mut **c).await.unwrap();
        }
        refettorio_db::Conn::Sqlite(c) => {
            let sql = sqlx::AssertSqlSafe(sqlite.to_string());
            sqlx::raw_sql(sql).execute(&mut **c).await.unwrap();
        }
    }
}

/// Percent-encodes everything but unreserved characters (for a query value).
pub fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The demo municipality.
pub async fn demo_tenant(t: &TestDb) -> refettorio_db::registry::tenant::Tenant {
    let mut h = t.db.acquire().await.unwrap();
    refettorio_db::registry::tenant::by_slug(&mut h.conn(), "esempio")
        .await
        .unwrap()
        .unwrap()
}

/// The demo municipality and Mario Rossi's first prepaid account (found as the office finds
/// it).
pub async fn marios_account(
    t: &TestDb,
) -> (
    refettorio_db::registry::tenant::Tenant,
    refettorio_domain::AccountId,
) {
    let tn = demo_tenant(t).await;
    let hits = refettorio_app::people::find_families(
        refettorio_app::Ctx::new(
            &t.db,
            &refettorio_domain::SystemClock,
            &tn,
            refettorio_domain::Actor::Demo,
        ),
        refettorio_app::demo::DEMO_PARENT_CF,
    )
    .await
    .unwrap();
    assert_eq!(hits.len(), 1);
    let account = hits[0].accounts[0].0;
    (tn, account)
}

/// The demo's canteen service, its first band, and the first and last class of the Rodari
/// school.
pub struct Canteen {
    pub service: i64,
    pub band: i64,
    pub class_a: i64,
    pub class_b: i64,
}

pub async fn demo_canteen(t: &TestDb) -> Canteen {
    let service = scalar(t, "SELECT id FROM service WHERE kind = 'refezione'").await;
    let band = scalar(
        t,
        &format!("SELECT MIN(id) FROM tariff_band WHERE service_id = {service}"),
    )
    .await;
    let rodari = "(SELECT id FROM school WHERE name = 'Scuola primaria Gianni Rodari')";
    let class_a = scalar(
        t,
        &format!("SELECT MIN(id) FROM class WHERE school_id = {rodari}"),
    )
    .await;
    let class_b = scalar(
        t,
        &format!("SELECT MAX(id) FROM class WHERE school_id = {rodari}"),
    )
    .await;
    assert_ne!(class_a, class_b);
    Canteen {
        service,
        band,
        class_a,
        class_b,
    }
}

impl Canteen {
    /// Posts the office's enrolment form at `path` (a pupil's `…/iscrizioni`): this canteen,
    /// class A, the first band, no diet, from 2026-11-24, card `card`.
    pub async fn enrol(
        &self,
        client: &reqwest::Client,
        app: &App,
        path: String,
        card: &str,
        csrf: &str,
    ) -> reqwest::Response {
        let (s, c, b) = (
            self.service.to_string(),
            self.class_a.to_string(),
            self.band.to_string(),
        );
        post(
            client,
            app,
            path,
            &[
                ("iscrizione-servizio", s.as_str()),
                ("iscrizione-classe", c.as_str()),
                ("iscrizione-fascia", b.as_str()),
                ("iscrizione-dieta", ""),
                ("iscrizione-inizio", "2026-11-24"),
                ("iscrizione-tessera", card),
                ("_csrf", csrf),
            ],
        )
        .await
    }
}
