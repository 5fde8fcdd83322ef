//! The scheduler: closes each municipality's day once its cut-off has passed, and catches up
//! the closes (and the low-balance warnings that follow them) missed while no node was running.
//! Every node runs it (`refettorio serve` starts [`run`]); the close's per-day lock and claim row
//! make each close happen once, and the warnings' claim each close's warnings.
//!
//! One day is closed by [`close_one_day`], the same function `refettorio close-day` calls: the
//! enrolment changes due by that day first, then the close and its warnings.
//!
//! Days older than the catch-up window ([`MAX_CATCH_UP_DAYS`]) are not closed automatically: the
//! run that finds them logs an error and counts them (`scheduler_days_skipped_total`), and the
//! office's home lists every day left open between closed days ([`days_not_closed`]) with the
//! command that closes it by hand.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::ToSpan;
use jiff::civil::Date;
use refettorio_db::Db;
use refettorio_db::registry::tenant::{self, Tenant};
use refettorio_db::{close, outbox};
use refettorio_domain::{Actor, Clock, deadline};

use crate::close::{CloseOutcome, check_closable, close_day, warn_pending};
use crate::{AppError, Ctx, Installation};

/// How far back a catch-up reaches.
pub const MAX_CATCH_UP_DAYS: i32 = 31;

/// What a scheduler run does for a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueDays {
    /// The days to close, oldest first: those left open inside the catch-up window, and those
    /// from the day after the last closed one (or today, for a tenant never closed) to the last
    /// day whose cut-off has passed.
    pub days: Vec<Date>,
    /// The days after the last closed one that are older than the catch-up window,
    /// `(first, last)`: not closed automatically, left to the office.
    pub skipped: Option<(Date, Date)>,
}

/// The days of a tenant that are due for closing at `now` ([`DueDays`]).
pub async fn due_days(db: &Db, tenant: &Tenant, now: jiff::Timestamp) -> Result<DueDays, AppError> {
    let today = now.to_zoned(tenant.timezone.clone()).date();
    let last_due = match deadline(today, tenant.latest_cutoff(), &tenant.timezone) {
        Some(d) if now >= d => today,
        _ => today.yesterday()?,
    };
    let earliest = today.checked_sub(MAX_CATCH_UP_DAYS.days())?;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let Some(last_closed) = close::last_closed_day(c, tenant.id).await? else {
        let days = if today <= last_due {
            vec![today]
        } else {
            Vec::new()
        };
        return Ok(DueDays {
            days,
            skipped: None,
        });
    };
    let mut due = DueDays::default();
    // Days left open between closed days inside the window (a day closed by hand ahead of the
    // days before it, a close that failed while the next ones succeeded).
    if let Some(first) = close::first_closed_day(c, tenant.id).await? {
        let from = first.max(earliest);
        if from < last_closed {
            let closed: BTreeSet<Date> = close::closed_days_since(c, tenant.id, from)
                .await?
                .into_iter()
                .collect();
            let mut day = from;
            while day < last_closed && day <= last_due {
                if !closed.contains(&day) {
                    due.days.push(day);
                }
                day = day.tomorrow()?;
            }
        }
    }
    let mut day = last_closed.tomorrow()?;
    if day < earliest {
        due.skipped = Some((day, earliest.yesterday()?));
        day = earliest;
    }
    while day <= last_due {
        due.days.push(day);
        day = day.tomorrow()?;
    }
    Ok(due)
}

/// Closes one day of a municipality as the scheduler does, and as `refettorio close-day` does:
/// refused before the day's cut-off; then the enrolment changes that take effect on that day or
/// before are written to the enrolments its close reads; then the close and its low-balance
/// warnings ([`close_day`]). Exactly once however many times, and on however many nodes, it runs.
pub async fn close_one_day(ctx: Ctx<'_>, day: Date) -> Result<CloseOutcome, AppError> {
    // Checked first: changes of a day that cannot be closed yet are not applied early.
    check_closable(ctx.clock, ctx.tenant, day)?;
    crate::people::apply_due_changes(ctx, day).await?;
    close_day(ctx, day).await
}

/// Closes every due day of every tenant.
pub async fn run_due_closes(
    db: &Db,
    clock: &dyn Clock,
) -> Result<Vec<(String, Date, CloseOutcome)>, AppError> {
    run_due_closes_until(db, clock, &|| false).await
}

/// [`run_due_closes`], stopping between two days when `stopping()` says so.
async fn run_due_closes_until(
    db: &Db,
    clock: &dyn Clock,
    stopping: &(dyn Fn() -> bool + Send + Sync),
) -> Result<Vec<(String, Date, CloseOutcome)>, AppError> {
    let tenants = {
        let mut h = db.acquire().await?;
        tenant::list(&mut h.conn()).await?
    };
    let mut done = Vec::new();
    let mut failure = None;
    for t in &tenants {
        if stopping() {
            break;
        }
        let slug = t.slug.to_string();
        let ctx = Installation::new(db, clock).tenant(t, Actor::Close);
        // One municipality's failure must not stop the others' closes.
        let result = async {
            let today = refettorio_domain::today(clock, &t.timezone);
            let due = due_days(db, t, clock.now()).await?;
            if let Some((from, to)) = due.skipped {
                let days = u64::try_from(from.until(to)?.get_days()).unwrap_or(0) + 1;
                tracing::error!(
                    tenant = %t.slug, %from, %to, days,
                    "days older than the catch-up window ({MAX_CATCH_UP_DAYS} days) are not closed \
                     automatically: close them by hand with `refettorio close-day --tenant {} \
                     --date …` (the office's back office lists them)",
                    t.slug
                );
                metrics::counter!("scheduler_days_skipped_total", "tenant" => slug.clone())
                    .increment(days);
            }
            for day in due.days {
                if stopping() {
                    return Ok(());
                }
                let outcome = close_one_day(ctx, day).await?;
                let caught_up = day < today;
                tracing::info!(
                    tenant = %t.slug, %day, charged = outcome.charged, already = outcome.already,
                    caught_up, "scheduled close"
                );
                metrics::counter!("scheduler_days_closed_total", "tenant" => slug.clone())
                    .increment(1);
                metrics::counter!("scheduler_meals_charged_total", "tenant" => slug.clone())
                    .increment(outcome.charged);
                if caught_up {
                    metrics::counter!("scheduler_days_caught_up_total", "tenant" => slug.clone())
                        .increment(1);
                }
                done.push((slug.clone(), day, outcome));
            }
            // The days before today are closed now: today's changes take effect (class lists,
            // kitchen forecast) and before its close.
            crate::people::apply_due_changes(ctx, today).await?;
            // The warnings of a close whose node stopped before queuing them.
            for (day, queued) in warn_pending(ctx).await? {
                tracing::info!(tenant = %t.slug, %day, queued, "low-balance warnings caught up");
            }
            Ok::<(), AppError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(tenant = %t.slug, error = %e, "close failed");
            metrics::counter!("scheduler_close_failures_total", "tenant" => slug).increment(1);
            failure = Some(e);
        }
    }
    match failure {
        Some(e) if done.is_empty() => Err(e),
        _ => Ok(done),
    }
}

/// The days of a tenant left open between closed days, as ranges `(first, last)` oldest first:
/// days the scheduler skipped (older than its catch-up window) or that nobody closed. The office
/// closes them by hand.
pub async fn days_not_closed(ctx: Ctx<'_>) -> Result<Vec<(Date, Date)>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(close::unclosed_gaps(&mut h.conn(), ctx.tenant.id).await?)
}

/// The state of a municipality's closes, for `/health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseStatus {
    pub slug: String,
    pub last_closed_day: Option<Date>,
    /// How many days are left open between closed days ([`days_not_closed`]).
    pub days_not_closed: u64,
    /// Queued messages not sent yet.
    pub outbox_backlog: u64,
}

/// The state of every municipality's closes.
pub async fn status(db: &Db) -> Result<Vec<CloseStatus>, AppError> {
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let mut out = Vec::new();
    for t in tenant::list(c).await? {
        let mut days_not_closed = 0;
        for (from, to) in close::unclosed_gaps(c, t.id).await? {
            days_not_closed += u64::try_from(from.until(to)?.get_days()).unwrap_or(0) + 1;
        }
        out.push(CloseStatus {
            slug: t.slug.to_string(),
            last_closed_day: close::last_closed_day(c, t.id).await?,
            days_not_closed,
            outbox_backlog: outbox::outbox_backlog(c, t.id).await?,
        });
    }
    Ok(out)
}

/// Logs, at start, the days every municipality has left open, so that they are never missed.
async fn log_days_not_closed(i: Installation<'_>) -> Result<(), AppError> {
    let tenants = {
        let mut h = i.db.acquire().await?;
        tenant::list(&mut h.conn()).await?
    };
    for t in &tenants {
        for (from, to) in days_not_closed(i.tenant(t, Actor::Close)).await? {
            tracing::error!(
                tenant = %t.slug, %from, %to,
                "days not closed: close them by hand with `refettorio close-day --tenant {} --date …`",
                t.slug
            );
        }
    }
    Ok(())
}

/// Runs [`run_due_closes`] at start (the catch-up) and then every `every`, until `stop` turns
/// true (or its sender is dropped). A stop waits for the close in hand (one day's transaction)
/// and closes no further day.
pub async fn run(
    db: Db,
    clock: std::sync::Arc<dyn Clock>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tracing::info!(every_secs = every.as_secs_f64(), "scheduler started");
    if let Err(e) = log_days_not_closed(Installation::new(&db, clock.as_ref())).await {
        tracing::error!(error = %e, "cannot read the days not closed");
    }
    loop {
        if *stop.borrow() {
            break;
        }
        let stopping = {
            let stop = stop.clone();
            move || *stop.borrow()
        };
        match run_due_closes_until(&db, clock.as_ref(), &stopping).await {
            Ok(_) => metrics::counter!("scheduler_runs_total", "outcome" => "ok").increment(1),
            Err(e) => {
                metrics::counter!("scheduler_runs_total", "outcome" => "error").increment(1);
                tracing::error!(error = %e, "scheduled close failed; will retry");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
    }
    tracing::info!("scheduler stopped");
}
