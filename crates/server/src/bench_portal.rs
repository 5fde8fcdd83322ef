//! `refettorio bench portal`: the personal area's pages under load, on loopback.
//!
//! Builds the demo municipality, or a synthetic one with N pupils and some weeks of closed days
//! (so that accounts have a realistic ledger), in a scratch database; starts the real server on
//! 127.0.0.1; logs in as several parents; then requests the home, the meal calendar and the
//! payments page one after another, spreading the requests over the parents, and prints each
//! page's latency percentiles. The latency is measured by the client around each request on
//! loopback, so it is an upper bound of the server's time.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use refettorio_db::registry::{family, tenant};
use refettorio_db::{Db, on_conn};
use refettorio_domain::{CodiceFiscale, FixedClock};

use crate::bench::scratch;
use crate::{Config, serve};

/// Monday 23 November 2026, 08:00 in Rome: before the cut-off of a school day.
const NOW: &str = "2026-11-23T07:00:00Z";
const PASSWORD: &str = "bench-password-1";

/// One logged-in parent: the session cookie and the paths of their pages.
struct Parent {
    cookie: String,
    pages: [String; 3],
}

pub async fn portal(
    url: Option<&str>,
    pupils: Option<u32>,
    history_days: u32,
    requests: usize,
) -> anyhow::Result<String> {
    let s = scratch(url).await?;
    let result = run(&s.db, url.is_some(), pupils, history_days, requests).await;
    s.db.close().await;
    (s.drop)().await;
    result
}

async fn run(
    db: &Db,
    postgres: bool,
    pupils: Option<u32>,
    history_days: u32,
    requests: usize,
) -> anyhow::Result<String> {
    db.migrate().await?;
    let clock = Arc::new(FixedClock::new(NOW.parse()?));
    let started = Instant::now();
    let (slug, label) = match pupils {
        None => {
            refettorio_app::load_demo(db, clock.as_ref()).await?;
            ("esempio".to_string(), "demo".to_string())
        }
        Some(n) => {
            let mut tx = db.begin().await?;
            let now = refettorio_domain::Clock::now(clock.as_ref());
            refettorio_db::synthetic::build(&mut tx.conn(), "sintetico", n, now).await?;
            // Synthetic parents log in with fiscal code and password.
            on_conn!(&mut tx.conn(), |c| {
                sqlx::query("UPDATE tenant SET settings = $1 WHERE slug = 'sintetico'")
                    .bind(r#"{"citizen_local_login":true}"#)
                    .execute(&mut *c)
                    .await?;
            });
            tx.commit().await?;
            ("sintetico".to_string(), n.to_string())
        }
    };
    let t = {
        let mut h = db.acquire().await?;
        tenant::by_slug(&mut h.conn(), &slug)
            .await?
            .context("bench tenant missing")?
    };
    // Weeks of closed days before today, so that every account has a ledger to read.
    let mut closed = 0;
    let mut day = jiff::civil::date(2026, 11, 20);
    while closed < history_days && day >= jiff::civil::date(2026, 9, 14) {
        let at = FixedClock::new(
            day.at(12, 0, 0, 0)
                .to_zoned(t.timezone.clone())?
                .timestamp(),
        );
        let out = refettorio_app::close::close_day(
            refettorio_app::Ctx::new(db, &at, &t, refettorio_domain::Actor::Close),
            day,
        )
        .await?;
        if out.charged > 0 {
            closed += 1;
        }
        day = day.yesterday()?;
    }
    let parents = prepare_parents(db, &t, 40).await?;
    eprintln!(
        "bench: {label} tenant with {closed} closed days ready in {} ms",
        started.elapsed().as_millis()
    );

    let config = Config {
        bind: "127.0.0.1:0".parse()?,
        // No scheduled close beside the measured requests.
        scheduler: false,
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = serve(&config, db.clone(), clock, async {
        let _ = stopped.await;
    })
    .await?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut logged = Vec::new();
    for (cf, enrolment) in &parents {
        logged.push(log_in(&client, &base, &slug, cf, *enrolment).await?);
    }
    anyhow::ensure!(!logged.is_empty(), "no parent could log in");

    let names = ["home", "calendar", "payments"];
    let mut lines = Vec::new();
    let mut p99s = Vec::new();
    for (i, name) in names.iter().enumerate() {
        // Warm-up, then the measured run.
        for k in 0..requests.min(200) {
            get(&client, &base, &logged[k % logged.len()], i).await?;
        }
        let mut times = Vec::with_capacity(requests);
        for k in 0..requests {
            let t = Instant::now();
            get(&client, &base, &logged[k % logged.len()], i).await?;
            times.push(t.elapsed());
        }
        times.sort();
        let (p50, p99, max) = (
            crate::bench::pct(&times, 50.0),
            crate::bench::pct(&times, 99.0),
            crate::bench::pct(&times, 100.0),
        );
        let line = format!(
            "portal page={name} requests={requests} parents={} p50_ms={p50:.2} p99_ms={p99:.2} max_ms={max:.2}",
            logged.len()
        );
        eprintln!("{line}");
        lines.push(line);
        p99s.push(p99);
    }
    let _ = stop.send(());
    running.task.await??;
    let backend = if postgres { "postgres" } else { "sqlite" };
    Ok(format!(
        "portal tenant={label} database={backend} home_p99_ms={:.2} calendar_p99_ms={:.2} payments_p99_ms={:.2}",
        p99s[0], p99s[1], p99s[2]
    ))
}

/// Gives `n` parents spread over the tenant a valid fiscal code and the bench password; returns
/// each one's fiscal code and the first enrolment of their first child.
async fn prepare_parents(
    db: &Db,
    t: &tenant::Tenant,
    n: usize,
) -> anyhow::Result<Vec<(String, i64)>> {
    let hash = refettorio_app::password::hash(PASSWORD)?;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let families = family::families(c, t.id).await?;
    let step = (families.len() / n.max(1)).max(1);
    let mut out = Vec::new();
    let first = jiff::civil::date(1975, 1, 1);
    for (k, f) in families.iter().step_by(step).take(n).enumerate() {
        let birth = first.checked_add(jiff::Span::new().days(i64::try_from(k)?))?;
        let cf = CodiceFiscale::compute("Sintetico", "Genitore", birth, false, "H501")?;
        let pupils = family::pupils_of_family(c, t.id, f.id).await?;
        let Some(p) = pupils.first() else { continue };
        let enrolments =
            refettorio_db::registry::service::enrolments_of_pupil(c, t.id, p.id).await?;
        let Some(e) = enrolments.first() else {
            continue;
        };
        let payer = f.payer_id.get();
        on_conn!(c, |x| {
            sqlx::query(
                "UPDATE guardian SET fiscal_code = $3, password_hash = $4 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t.id.get())
            .bind(payer)
            .bind(cf.as_str())
            .bind(&hash)
            .execute(&mut *x)
            .await?;
        });
        out.push((cf.as_str().to_string(), e.id.get()));
    }
    Ok(out)
}

fn cookie_value(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

async fn log_in(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    cf: &str,
    enrolment: i64,
) -> anyhow::Result<Parent> {
    let r = client.get(format!("{base}/t/{slug}/accedi")).send().await?;
    let csrf = cookie_value(&r, "refettorio_csrf").context("no CSRF cookie")?;
    let body = format!("identifier={cf}&password={PASSWORD}&_csrf={csrf}");
    let r = client
        .post(format!("{base}/t/{slug}/accedi"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("refettorio_csrf={csrf}"))
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(
        r.status().as_u16() == 303,
        "login of {cf} answered {}",
        r.status()
    );
    let sid = cookie_value(&r, "refettorio_sid").context("no session cookie")?;
    let area = format!("/t/{slug}/area-personale");
    Ok(Parent {
        cookie: format!("refettorio_sid={sid}"),
        pages: [
            area.clone(),
            format!("{area}/prenotazioni?iscrizione={enrolment}"),
            format!("{area}/pagamenti"),
        ],
    })
}

async fn get(client: &reqwest::Client, base: &str, p: &Parent, page: usize) -> anyhow::Result<()> {
    let path = p.pages.get(page).context("no such page")?;
    let r = client
        .get(format!("{base}{path}"))
        .header("cookie", &p.cookie)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    anyhow::ensure!(status.is_success(), "{path} answered {status}");
    anyhow::ensure!(!body.is_empty(), "{path} answered an empty page");
    Ok(())
}
