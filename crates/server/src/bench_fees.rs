//! `refettorio bench fees`: a month of post-paid fees for a synthetic municipality of N
//! families, issued (`app::fees::issue`, the office's and the command's path) and their notice
//! PDFs rendered (`app::pagopa::notice_document`, the families' and the office's path), in a
//! scratch database. Prints `fees families=<n> issue_ms=<a> pdf_ms_each=<b> pdf_batch_ms=<c>`:
//! the issue's wall time, one notice's median time rendered alone, and every notice rendered
//! with as many workers as cores.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use refettorio_app::Ctx;
use refettorio_app::fees::{self, IssueRequest};
use refettorio_db::Db;
use refettorio_db::registry::tenant;
use refettorio_domain::fees::{FeeRule, Frequency, ProRata};
use refettorio_domain::pagopa::{CATEGORY_TRANSPORT, Iban, PagoPaMode};
use refettorio_domain::{Actor, Cents, FixedClock, SegregationCode};

use crate::bench::scratch;

pub async fn fees(url: Option<&str>, families: u32) -> anyhow::Result<String> {
    let s = scratch(url).await?;
    let result = run(&s.db, families).await;
    s.db.close().await;
    (s.drop)().await;
    result
}

async fn run(db: &Db, families: u32) -> anyhow::Result<String> {
    db.migrate().await?;
    let clock = FixedClock::new("2026-11-23T12:00:00Z".parse()?);
    let now = refettorio_domain::Clock::now(&clock);
    let started = Instant::now();
    // One child per family, on a post-paid service with a 25,00 € monthly fee.
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let syn = refettorio_db::synthetic::build(c, "sintetico", families, now).await?;
    refettorio_db::synthetic::make_postpaid(c, syn, 2500).await?;
    let mut t = tenant::by_id(c, syn.tenant)
        .await?
        .context("synthetic tenant missing")?;
    let p = &mut t.settings.pagopa;
    p.mode = PagoPaMode::Sandbox;
    p.broker_id = "00000000000".into();
    p.station_id = "00000000000_01".into();
    p.segregation_code = SegregationCode::new(2).map_err(anyhow::Error::msg)?;
    p.ibans = vec![Iban::parse("IT61X0306909606100000012345").map_err(anyhow::Error::msg)?];
    tenant::set_settings(c, t.id, &t.settings).await?;
    refettorio_db::fees::put_rule(
        c,
        t.id,
        syn.service,
        &FeeRule {
            frequency: Frequency::Monthly,
            pro_rata: ProRata::Whole,
            enrolment_fee: Cents::ZERO,
            iban: "IT61X0306909606100000012345".into(),
            taxonomy: CATEGORY_TRANSPORT.into(),
            due_days: 30,
            expires: false,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    eprintln!(
        "bench: built {families} families in {} ms",
        started.elapsed().as_millis()
    );

    let ctx = Ctx::new(db, &clock, &t, Actor::Operator);
    let started = Instant::now();
    let issued = fees::issue(
        ctx,
        &IssueRequest {
            service: syn.service,
            period: "2026-12".into(),
            due: None,
            dry_run: false,
        },
    )
    .await?;
    let issue_ms = started.elapsed().as_millis();
    anyhow::ensure!(
        issued.issued == families as usize,
        "issued {} fees for {families} families",
        issued.issued
    );
    eprintln!("bench: {}", issued.summary_line(syn.service));

    let positions = {
        let mut h = db.acquire().await?;
        refettorio_db::pagopa::fees_of_service(&mut h.conn(), t.id, syn.service).await?
    };
    // One notice at a time: the median of 50.
    let mut each = Vec::new();
    for p in positions.iter().take(50) {
        let started = Instant::now();
        let pdf = refettorio_app::pagopa::notice_document(ctx, p).await?;
        each.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(pdf.starts_with(b"%PDF"), "not a PDF");
    }
    each.sort_by(f64::total_cmp);
    let pdf_ms_each = each.get(each.len() / 2).copied().unwrap_or(0.0);

    // Every notice, with as many workers as cores.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let positions = Arc::new(positions);
    let tenant = Arc::new(t);
    let clock = Arc::new(clock);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (db, positions, tenant, clock) =
            (db.clone(), positions.clone(), tenant.clone(), clock.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = Ctx::new(&db, clock.as_ref(), &tenant, Actor::Operator);
            let mut bytes = 0usize;
            for p in positions.iter().skip(w).step_by(workers) {
                bytes += refettorio_app::pagopa::notice_document(ctx, p).await?.len();
            }
            Ok::<usize, refettorio_app::AppError>(bytes)
        }));
    }
    let mut bytes = 0;
    for task in tasks {
        bytes += task.await??;
    }
    let pdf_batch_ms = started.elapsed().as_millis();
    eprintln!(
        "bench: {} notices, {} MB of PDF, {workers} workers",
        positions.len(),
        bytes / 1_000_000
    );
    Ok(format!(
        "fees families={families} issue_ms={issue_ms} pdf_ms_each={pdf_ms_each:.1} pdf_batch_ms={pdf_batch_ms}"
    ))
}
