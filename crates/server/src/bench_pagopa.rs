//! `refettorio bench pagopa`: the station under the node's load, on loopback.
//!
//! Builds the demo municipality in a scratch database with a number of open recharge notices,
//! starts the real server on 127.0.0.1, and plays the pagoPA node: paVerifyPaymentNotice and
//! paGetPaymentV2 alternately, on random notices, sent at a fixed rate (an open loop: a request
//! leaves at its scheduled time whether or not the earlier ones have been answered, so a slow
//! server shows up as latency instead of slowing the load down). Every answer must be an OK;
//! the latency is measured by the client from send to the end of the body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::seq::IndexedRandom;
use refettorio_app::Ctx;
use refettorio_app::demo::DEMO_PARENT_CF;
use refettorio_app::pagopa::{self as pay, RechargeAmount};
use refettorio_db::Db;
use refettorio_db::registry::{family, tenant};
use refettorio_domain::{Actor, Cents, CodiceFiscale, FixedClock};
use refettorio_pagopa::{self as soap, GetPaymentRequest, StationHeader, VerifyRequest, Version};

use crate::bench::scratch;
use crate::{Config, serve};

/// Monday 23 November 2026, 08:00 in Rome.
const NOW: &str = "2026-11-23T07:00:00Z";

pub async fn pagopa(
    url: Option<&str>,
    rate: u32,
    seconds: u32,
    notices: u32,
) -> anyhow::Result<String> {
    let s = scratch(url).await?;
    let result = run(&s.db, url.is_some(), rate, seconds, notices).await;
    s.db.close().await;
    (s.drop)().await;
    result
}

/// Open notices of the demo's first family, and the SOAP bodies that ask about them.
async fn prepare(db: &Db, clock: &FixedClock, notices: u32) -> anyhow::Result<Vec<String>> {
    refettorio_app::load_demo(db, clock).await?;
    let mut h = db.acquire().await?;
    let t = tenant::by_slug(&mut h.conn(), "esempio")
        .await?
        .context("demo tenant missing")?;
    let cf = CodiceFiscale::parse(DEMO_PARENT_CF)?;
    let parent = family::guardian_by_fiscal_code(&mut h.conn(), t.id, &cf)
        .await?
        .context("demo parent missing")?;
    let access = refettorio_app::portal::access(&mut h.conn(), &t, parent.id).await?;
    drop(h);
    // A scratch database of demo data: the notices are the demo's.
    let ctx = Ctx::new(db, clock, &t, Actor::Demo);
    let account = pay::rechargeable(ctx, &access)
        .await?
        .first()
        .map(|(a, _, _)| *a)
        .context("no account to recharge")?;
    let s = &t.settings.pagopa;
    let header = StationHeader {
        id_pa: t.fiscal_code.as_str().to_string(),
        id_broker_pa: s.broker_id.clone(),
        id_station: s.station_id.clone(),
    };
    let mut bodies = Vec::new();
    for i in 0..notices {
        let amount = Cents(1000 + i64::from(i % 50) * 100);
        let p =
            pay::create_recharge(ctx, &access, account, &RechargeAmount::Amount(amount)).await?;
        let nav = p.notice_number.as_str().to_string();
        bodies.push(soap::render_verify_request(&VerifyRequest {
            header: header.clone(),
            fiscal_code: header.id_pa.clone(),
            notice_number: nav.clone(),
        })?);
        bodies.push(soap::render_get_payment_request(&GetPaymentRequest {
            version: Version::V2,
            header: header.clone(),
            fiscal_code: header.id_pa.clone(),
            notice_number: nav,
            amount: Some(amount),
            payment_note: Some(format!("bench-{i}")),
            transfer_type: None,
            due_date: None,
        })?);
    }
    Ok(bodies)
}

async fn run(
    db: &Db,
    postgres: bool,
    rate: u32,
    seconds: u32,
    notices: u32,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        rate > 0 && seconds > 0 && notices > 0,
        "rate, seconds and notices must be positive"
    );
    db.migrate().await?;
    let clock = Arc::new(FixedClock::new(NOW.parse()?));
    let started = Instant::now();
    let bodies = Arc::new(prepare(db, &clock, notices).await?);
    eprintln!(
        "bench: demo with {notices} open notices ready in {} ms",
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
    let url = Arc::new(format!("http://{}/pagopa/paForNode", running.addr));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(10))
        .build()?;

    // Warm-up (connections, caches), not measured.
    let warm = (rate / 2).max(50);
    let measured = run_load(&client, &url, &bodies, rate, warm).await?;
    drop(measured);
    let total = rate.saturating_mul(seconds);
    let began = Instant::now();
    let mut times = run_load(&client, &url, &bodies, rate, total).await?;
    let wall = began.elapsed();
    let _ = stop.send(());
    running.task.await??;

    times.sort();
    let n = times.len();
    let rps = n as f64 / wall.as_secs_f64();
    let (p50, p99, max) = (
        crate::bench::pct(&times, 50.0),
        crate::bench::pct(&times, 99.0),
        crate::bench::pct(&times, 100.0),
    );
    let backend = if postgres { "postgres" } else { "sqlite" };
    eprintln!("bench: database={backend} target_rps={rate} seconds={seconds} max_ms={max:.2}");
    Ok(format!(
        "pagopa requests={n} rps={rps:.0} p50_ms={p50:.2} p99_ms={p99:.2}"
    ))
}

/// Sends `count` requests at `rate` per second, each on its own task at its scheduled time;
/// returns each one's latency. Fails if any answer is not an OK.
async fn run_load(
    client: &reqwest::Client,
    url: &Arc<String>,
    bodies: &Arc<Vec<String>>,
    rate: u32,
    count: u32,
) -> anyhow::Result<Vec<Duration>> {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(count as usize);
    for i in 0..count {
        tokio::time::sleep_until(start + interval * i).await;
        let body = bodies
            .choose(&mut rand::rng())
            .context("no request bodies")?
            .clone();
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client
                .post(url.as_str())
                .header("content-type", "text/xml; charset=utf-8")
                .body(body)
                .send()
                .await?;
            let status = r.status();
            let text = r.bytes().await?;
            let elapsed = t.elapsed();
            anyhow::ensure!(status.is_success(), "the station answered {status}");
            match soap::parse_response(&text) {
                Ok(soap::Response::VerifyOk(_) | soap::Response::GetPaymentOk(..)) => Ok(elapsed),
                other => anyhow::bail!("the station did not answer OK: {other:?}"),
            }
        }));
    }
    let mut times = Vec::with_capacity(tasks.len());
    for t in tasks {
        times.push(t.await??);
    }
    Ok(times)
}
