//! The real server on port 0 for the integration tests, with a clock the test moves.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
}

/// Monday 23 November 2026, 08:00 in Rome: a school day of the demo, before the cut-off.
pub const MONDAY_8AM: &str = "2026-11-23T07:00:00Z";

pub async fn spawn(t: &TestDb, demo: bool) -> App {
    let config = Config {
        database_url: t.url.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let clock = Arc::new(FixedClock::new(MONDAY_8AM.parse().unwrap()));
    let db = refettorio_server::open_database(&config).await.unwrap();
    if demo {
        refettorio_server::load_demo(&db, clock.as_ref())
            .await
            .unwrap();
    }
    let (stop, stopped) = oneshot::channel::<()>();
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
