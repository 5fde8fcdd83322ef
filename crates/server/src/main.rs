//! `refettorio`: the whole product in one binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use refettorio_domain::{Clock, SystemClock};
use refettorio_server::config::{self, LogFormat, Overrides};

#[derive(Parser, Debug)]
#[command(
    name = "refettorio",
    version,
    about = "Servizi scolastici comunali: refezione, trasporto, pagamenti pagoPA"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "REFETTORIO_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://path/file.sqlite or postgres://user@host/db (env REFETTORIO_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Address to listen on (env REFETTORIO_BIND; default 127.0.0.1:8080).
    #[arg(long, global = true)]
    bind: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Apply migrations and serve the portal, back office, API and pagoPA station.
    Serve {
        /// Load the demo municipality "Comune di Esempio" if it is not there yet.
        #[arg(long)]
        demo: bool,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Load the demo municipality into the configured database (never twice).
    Demo,
    /// Close a municipality's day: freeze attendance and charge each meal (exactly once).
    CloseDay {
        /// The municipality's slug, e.g. esempio
        #[arg(long)]
        tenant: String,
        /// The day, YYYY-MM-DD
        #[arg(long)]
        date: String,
    },
    /// Write the kitchen's numbers of a day (forecast before the close, final after) as CSV or PDF.
    Kitchen {
        #[arg(long)]
        tenant: String,
        /// The day, YYYY-MM-DD
        #[arg(long)]
        date: String,
        /// csv or pdf
        #[arg(long, default_value = "csv")]
        format: String,
        /// Output file (default: standard output)
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Post-paid fees: issue a service's fees for a period as pagoPA notices.
    #[command(subcommand)]
    Fees(FeesCommand),
    /// SPID and CIE: a municipality's key and certificate, its metadata.
    #[command(subcommand)]
    Spid(SpidCommand),
    /// Benchmarks that print their figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Check a running instance: exits 0 when its /health answers ok.
    Health {
        /// Base URL of the instance, e.g. http://127.0.0.1:8080
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

#[derive(Subcommand, Debug)]
enum FeesCommand {
    /// Issue (or, with --dry-run, preview) one notice per family for a post-paid service and a
    /// period; a period issued again issues only what is missing.
    Issue {
        #[arg(long)]
        tenant: String,
        /// The service's number (as in the back office's Anagrafiche).
        #[arg(long)]
        service: i64,
        /// A month (2026-12), `anno` (a yearly fee) or `iscrizione` (the enrolment fee).
        #[arg(long)]
        period: String,
        /// The due date, YYYY-MM-DD (default: the rule's days after today).
        #[arg(long)]
        due: Option<String>,
        /// Print what would be issued; issue nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
enum SpidCommand {
    /// Make the municipality's key and self-signed certificate in AgID's public-sector profile
    /// (needs public_url: the entity ID is in the certificate).
    Keygen {
        #[arg(long)]
        tenant: String,
        /// 2048, 3072 or 4096
        #[arg(long, default_value_t = 3072)]
        bits: u16,
        /// Validity in days
        #[arg(long, default_value_t = 730)]
        days: i64,
        /// Replace an existing key (the providers must get the new metadata)
        #[arg(long)]
        replace: bool,
    },
    /// Print the signed metadata to give AgID (SPID) or, with --cie, the Ministry (CIE).
    Metadata {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        cie: bool,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Close one day of a synthetic municipality with N enrolments in a scratch database, and
    /// time a bare INSERT … SELECT of as many rows as the reference.
    CloseDay {
        #[arg(long, default_value_t = 100_000)]
        enrolments: u32,
    },
    /// Time the personal area's home, meal calendar and payments pages on loopback, with the
    /// demo or with a synthetic municipality of N pupils, in a scratch database.
    Portal {
        /// Pupils of a synthetic municipality (without it: the demo municipality)
        #[arg(long)]
        pupils: Option<u32>,
        /// School days closed before the run, so that accounts have a ledger
        #[arg(long, default_value_t = 20)]
        history_days: u32,
        /// Requests per page
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Issue a month of post-paid fees for a synthetic municipality of N families and render
    /// their notice PDFs, in a scratch database.
    Fees {
        #[arg(long, default_value_t = 10_000)]
        families: u32,
    },
    /// Play the pagoPA node against the station on loopback: paVerifyPaymentNotice and
    /// paGetPaymentV2 at a fixed rate on the demo's open notices, in a scratch database.
    Pagopa {
        /// Requests per second
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// Seconds of measured load
        #[arg(long, default_value_t = 10)]
        seconds: u32,
        /// Open notices to ask about
        #[arg(long, default_value_t = 1000)]
        notices: u32,
    },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REFETTORIO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let demo_flag = matches!(cli.command, Command::Serve { demo: true }).then_some(true);
    let overrides = Overrides {
        database_url: cli.database_url.clone(),
        bind: cli.bind.clone(),
        demo: demo_flag,
    };
    let config = match config::load(cli.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("refettorio: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(config.log_format);
    match run(cli.command, config, cli.database_url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "refettorio stopped");
            eprintln!("refettorio: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    command: Command,
    config: config::Config,
    cli_database_url: Option<String>,
) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Command::Serve { .. } => {
            let db = refettorio_server::open_database(&config).await?;
            if config.demo {
                refettorio_server::load_demo(&db, clock.as_ref()).await?;
            }
            let running = refettorio_server::serve(
                &config,
                db.clone(),
                clock,
                refettorio_server::shutdown_signal(),
            )
            .await?;
            running.task.await??;
            db.close().await;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let db = refettorio_server::open_database(&config).await?;
            db.close().await;
            println!(
                "migrations applied to {}",
                refettorio_db::redact(&config.database_url)
            );
        }
        Command::Demo => {
            let db = refettorio_server::open_database(&config).await?;
            let outcome = refettorio_server::load_demo(&db, clock.as_ref()).await?;
            db.close().await;
            match outcome {
                refettorio_app::demo::DemoOutcome::Loaded {
                    families, pupils, ..
                } => {
                    println!(
                        "demo loaded: Comune di Esempio (esempio), {families} families, {pupils} pupils"
                    )
                }
                refettorio_app::demo::DemoOutcome::AlreadyPresent => {
                    println!("demo already present: nothing written")
                }
            }
        }
        Command::CloseDay { tenant, date } => {
            let day: jiff::civil::Date = date
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid --date '{date}' (use YYYY-MM-DD): {e}"))?;
            let db = refettorio_server::open_database(&config).await?;
            let result = refettorio_server::close_day(&db, clock.as_ref(), &tenant, day).await;
            db.close().await;
            let o = result?;
            println!(
                "close-day tenant={tenant} date={day} charged={} already={}",
                o.charged, o.already
            );
        }
        Command::Kitchen {
            tenant,
            date,
            format,
            output,
        } => {
            let day: jiff::civil::Date = date
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid --date '{date}' (use YYYY-MM-DD): {e}"))?;
            let db = refettorio_server::open_database(&config).await?;
            let result =
                refettorio_server::kitchen_report(&db, clock.as_ref(), &tenant, day, &format).await;
            db.close().await;
            let bytes = result?;
            match output {
                Some(path) => std::fs::write(&path, bytes)?,
                None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
            }
        }
        Command::Spid(SpidCommand::Keygen {
            tenant,
            bits,
            days,
            replace,
        }) => {
            let db = refettorio_server::open_database(&config).await?;
            let result = refettorio_server::spid_keygen(
                &db,
                clock.as_ref(),
                &config,
                &tenant,
                bits,
                days,
                replace,
            )
            .await;
            db.close().await;
            println!("{}", result?);
        }
        Command::Spid(SpidCommand::Metadata { tenant, cie }) => {
            let db = refettorio_server::open_database(&config).await?;
            let result =
                refettorio_server::spid_metadata(&db, clock.as_ref(), &config, &tenant, cie).await;
            db.close().await;
            println!("{}", result?);
        }
        Command::Bench(BenchCommand::Portal {
            pupils,
            history_days,
            requests,
        }) => {
            let line = refettorio_server::bench_portal::portal(
                cli_database_url.as_deref(),
                pupils,
                history_days,
                requests,
            )
            .await?;
            println!("{line}");
        }
        Command::Bench(BenchCommand::Fees { families }) => {
            let line =
                refettorio_server::bench_fees::fees(cli_database_url.as_deref(), families).await?;
            println!("{line}");
        }
        Command::Bench(BenchCommand::Pagopa {
            rate,
            seconds,
            notices,
        }) => {
            let line = refettorio_server::bench_pagopa::pagopa(
                cli_database_url.as_deref(),
                rate,
                seconds,
                notices,
            )
            .await?;
            println!("{line}");
        }
        Command::Bench(BenchCommand::CloseDay { enrolments }) => {
            let line = refettorio_server::bench::close_day(cli_database_url.as_deref(), enrolments)
                .await?;
            println!("{line}");
        }
        Command::Fees(FeesCommand::Issue {
            tenant,
            service,
            period,
            due,
            dry_run,
        }) => {
            let due = due
                .map(|d| {
                    d.parse::<jiff::civil::Date>()
                        .map_err(|e| anyhow::anyhow!("invalid --due '{d}' (use YYYY-MM-DD): {e}"))
                })
                .transpose()?;
            let db = refettorio_server::open_database(&config).await?;
            let req = refettorio_app::fees::IssueRequest {
                service: refettorio_domain::ServiceId(service),
                period,
                due,
                dry_run,
            };
            let result = refettorio_server::issue_fees(&db, clock.as_ref(), &tenant, &req).await;
            db.close().await;
            let issued = result?;
            for f in &issued.fees {
                println!(
                    "{}\t{}\t{}\t{}",
                    f.payer_fiscal_code,
                    f.payer_name,
                    f.amount.format_it(),
                    if f.already {
                        "già emesso"
                    } else if dry_run {
                        "da emettere"
                    } else {
                        "emesso"
                    }
                );
            }
            for e in &issued.exceptions {
                println!("attenzione: {e}");
            }
            println!("{}", issued.summary_line(req.service));
        }
        Command::Health { url } => {
            let body = refettorio_server::check_health(&url).await?;
            println!("{body}");
        }
    }
    Ok(())
}
