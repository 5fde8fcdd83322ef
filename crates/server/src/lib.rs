//! The `refettorio` program: configuration, telemetry, wiring and the commands of the CLI.

pub mod bench;
pub mod bench_fees;
pub mod bench_pagopa;
pub mod bench_portal;
pub mod config;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::ServiceExt as _;
use refettorio_app::demo::{self, DemoOutcome};
use refettorio_db::{Backend, Db};
use refettorio_domain::Clock;
use refettorio_web::{AppState, WebConfig};
use tokio::net::TcpListener;

pub use config::Config;

/// Connects to the configured database and applies the migrations.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            refettorio_db::redact(&config.database_url)
        )
    })?;
    db.migrate()
        .await
        .context("cannot apply the database migrations")?;
    Ok(db)
}

/// Loads the demo municipality unless it is already there; logs what happened.
pub async fn load_demo(db: &Db, clock: &dyn Clock) -> anyhow::Result<DemoOutcome> {
    let outcome = demo::load_demo(db, clock)
        .await
        .context("cannot load the demo municipality")?;
    match &outcome {
        DemoOutcome::Loaded {
            families, pupils, ..
        } => {
            tracing::info!(families, pupils, "demo municipality 'esempio' loaded")
        }
        DemoOutcome::AlreadyPresent => {
            tracing::info!("demo municipality 'esempio' already present")
        }
    }
    Ok(outcome)
}

/// A running server: its address and a way to wait for it.
pub struct Running {
    pub addr: SocketAddr,
    /// Ends when the server has drained its open requests after the shutdown *and* the
    /// scheduler has stopped (after the close in hand, if any): await it before closing the
    /// database.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `config.bind` and serves until `shutdown` completes, then drains open requests. Unless
/// `config.scheduler` is false it also runs the scheduler (`app::scheduler::run`, every
/// `config.scheduler_tick_secs`), which closes each municipality's day after its cut-off and
/// stops when `shutdown` completes.
pub async fn serve(
    config: &Config,
    db: Db,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    match db.backend() {
        Backend::Sqlite => tracing::info!(
            database = %refettorio_db::redact(&config.database_url),
            "database mode: SQLite (single node: run one instance only)"
        ),
        Backend::Postgres => tracing::info!(
            database = %refettorio_db::redact(&config.database_url),
            "database mode: PostgreSQL (any number of nodes may share it)"
        ),
    }
    let mail = config
        .mail()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    if mail.simulated() {
        tracing::warn!(
            "no smtp_url: e-mails are not sent, they go to the test mailbox (a simulation)"
        );
    }
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    // The node reaches itself on loopback when it listens on every interface.
    let own = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    if config.public_url.is_none() && config.base_domain.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "public_url is not set: e-mailed links (activation, password reset) are only built for \
             requests to a loopback host; set public_url (or base_domain) in production"
        );
    }
    let metrics =
        refettorio_web::install_metrics().context("cannot install the metrics recorder")?;
    let web_config = Arc::new(WebConfig {
        base_domain: config.base_domain.clone(),
        public_url: config.public_url.clone(),
        self_url: Some(format!("http://{own}")),
        trusted_proxies: config.proxies().map_err(anyhow::Error::msg)?,
        station_access: config.station_access().map_err(anyhow::Error::msg)?,
        mail_simulated: mail.simulated(),
        federation: config.federation(),
        oidc: refettorio_app::oidc::RelyingParty::new(config.channels_allow_private_hosts),
    });
    // The outbox's sender runs beside the web server and stops after it.
    let (stop_sender, sender_stop) = tokio::sync::watch::channel(false);
    let sender = tokio::spawn(refettorio_app::outbox::run(db.clone(), mail, sender_stop));
    let (stop_scheduler, stopped) = tokio::sync::watch::channel(false);
    let scheduler = if config.scheduler {
        Some(tokio::spawn(refettorio_app::scheduler::run(
            db.clone(),
            clock.clone(),
            std::time::Duration::from_secs(config.scheduler_tick_secs.max(1)),
            stopped,
        )))
    } else {
        tracing::warn!("scheduler off (scheduler = false): this node closes no day");
        None
    };
    let stop_scheduler = Arc::new(stop_scheduler);
    let shutdown = {
        let stop_scheduler = stop_scheduler.clone();
        async move {
            shutdown.await;
            let _ = stop_scheduler.send(true);
        }
    };
    let state = AppState {
        db,
        clock,
        config: web_config.clone(),
        metrics,
    };
    let router = refettorio_web::router(state);
    let app = tower::util::MapRequestLayer::new(move |req| {
        refettorio_web::host_to_path(web_config.base_domain.as_deref(), req)
    });
    let app = tower::Layer::layer(&app, router);
    tracing::info!(%addr, "listening on http://{addr}/");
    let task = tokio::spawn(async move {
        // The peer address reaches the handlers (`ConnectInfo`): the station checks its
        // caller and the login throttling counts failures per identifier and source.
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        // Also when the server failed: the scheduler does not outlive it.
        let _ = stop_scheduler.send(true);
        if let Some(scheduler) = scheduler
            && let Err(e) = scheduler.await
        {
            tracing::error!(error = %e, "the scheduler ended abnormally");
        }
        let _ = stop_sender.send(true);
        if let Err(e) = sender.await {
            tracing::error!(error = %e, "the e-mail sender ended abnormally");
        }
        served
    });
    Ok(Running { addr, task })
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing open requests");
}

/// `refettorio health --url …`: asks a running instance for `/health`.
pub async fn check_health(url: &str) -> anyhow::Result<String> {
    let base = url.trim_end_matches('/');
    if base.starts_with("https://") {
        anyhow::bail!(
            "health checks speak plain HTTP to a node's own listener: use http://HOST:PORT"
        );
    }
    let target = if base.ends_with("/health") {
        base.to_string()
    } else {
        format!("{base}/health")
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?;
    let response = client
        .get(&target)
        .send()
        .await
        .with_context(|| format!("{target} does not answer"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("{target} answered {status}: {body}");
    }
    Ok(body)
}

async fn tenant_by_slug(
    db: &Db,
    slug: &str,
) -> anyhow::Result<refettorio_db::registry::tenant::Tenant> {
    let mut h = db.acquire().await?;
    refettorio_db::registry::tenant::by_slug(&mut h.conn(), slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("unknown municipality '{slug}'"))
}

/// `refettorio kitchen`: the kitchen's numbers of a day as CSV or PDF bytes.
pub async fn kitchen_report(
    db: &Db,
    clock: &dyn Clock,
    slug: &str,
    day: jiff::civil::Date,
    format: &str,
) -> anyhow::Result<Vec<u8>> {
    let tenant = tenant_by_slug(db, slug).await?;
    let ctx = refettorio_app::Ctx::new(db, clock, &tenant, refettorio_domain::Actor::Close);
    let numbers = refettorio_app::kitchen::kitchen_numbers(ctx, day).await?;
    let now = clock.now().to_zoned(tenant.timezone.clone());
    let report = numbers.report(
        &tenant.name,
        &format!("Generato il {}", now.strftime("%d/%m/%Y alle %H:%M")),
    );
    match format {
        "csv" => Ok(refettorio_documents::kitchen::kitchen_csv(&report)),
        "pdf" => Ok(tokio::task::spawn_blocking(move || {
            refettorio_documents::kitchen::kitchen_pdf(&report)
        })
        .await??),
        other => anyhow::bail!("unknown --format '{other}': use csv or pdf"),
    }
}

/// `refettorio spid keygen`: the municipality's SPID/CIE key and certificate (AgID's
/// profile), stored; an existing key is kept unless `replace`. Returns the closing line.
pub async fn spid_keygen(
    db: &Db,
    clock: &dyn Clock,
    config: &Config,
    slug: &str,
    bits: u16,
    days: i64,
    replace: bool,
) -> anyhow::Result<String> {
    let tenant = tenant_by_slug(db, slug).await?;
    let endpoints = spid_endpoints(config, slug)?;
    let ctx = refettorio_app::Ctx::new(db, clock, &tenant, refettorio_domain::Actor::Public);
    Ok(
        match refettorio_app::spid::generate_key(ctx, &endpoints, bits, days, replace).await? {
            Some(not_after) => {
                format!("spid-keygen tenant={slug} bits={bits} not_after={not_after}")
            }
            None => format!("spid-keygen tenant={slug} kept (use --replace for a new key)"),
        },
    )
}

/// `refettorio spid metadata`: the signed metadata to give AgID (SPID) or the Ministry (CIE).
pub async fn spid_metadata(
    db: &Db,
    clock: &dyn Clock,
    config: &Config,
    slug: &str,
    cie: bool,
) -> anyhow::Result<String> {
    let tenant = tenant_by_slug(db, slug).await?;
    let endpoints = spid_endpoints(config, slug)?;
    let ctx = refettorio_app::Ctx::new(db, clock, &tenant, refettorio_domain::Actor::Public);
    let profile = if cie {
        refettorio_app::spid::Profile::Cie
    } else {
        refettorio_app::spid::Profile::Spid
    };
    Ok(refettorio_app::spid::metadata(ctx, &endpoints, &config.federation(), profile).await?)
}

fn spid_endpoints(config: &Config, slug: &str) -> anyhow::Result<refettorio_app::spid::Endpoints> {
    refettorio_app::spid::Endpoints::configured(
        config.public_url.as_deref(),
        config.base_domain.as_deref(),
        slug,
    )
    .ok_or_else(|| {
        anyhow::anyhow!("SPID needs the service's public address: set public_url (or base_domain)")
    })
}

/// `refettorio fees issue`: a post-paid service's fees for a period, issued (or previewed) as
/// the office's page does, by the installation's operator.
pub async fn issue_fees(
    db: &Db,
    clock: &dyn Clock,
    slug: &str,
    req: &refettorio_app::fees::IssueRequest,
) -> anyhow::Result<refettorio_app::fees::Issued> {
    let tenant = tenant_by_slug(db, slug).await?;
    let ctx = refettorio_app::Ctx::new(db, clock, &tenant, refettorio_domain::Actor::Operator);
    Ok(refettorio_app::fees::issue(ctx, req).await?)
}

/// `refettorio close-day`: closes a municipality's day as the scheduler does
/// (`app::scheduler::close_one_day`).
pub async fn close_day(
    db: &Db,
    clock: &dyn Clock,
    slug: &str,
    day: jiff::civil::Date,
) -> anyhow::Result<refettorio_app::close::CloseOutcome> {
    let tenant = tenant_by_slug(db, slug).await?;
    // The scheduler's own path, acting as the close: that day's enrolment changes first, then
    // the close.
    let ctx = refettorio_app::Ctx::new(db, clock, &tenant, refettorio_domain::Actor::Close);
    Ok(refettorio_app::scheduler::close_one_day(ctx, day).await?)
}
