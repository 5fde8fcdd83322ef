//! The scheduler: closes each municipality's day once its cut-off has passed, and catches up
//! the closes (and the low-balance warnings that follow them) missed while no node was running.
//! Every node runs it; the close's claim row makes each close happen once, and the warnings'
//! claim each close's warnings.

use std::time::Duration;

use jiff::ToSpan;
use jiff::civil::Date;
use refettorio_db::Db;
use refettorio_db::meals;
use refettorio_db::registry::tenant::{self, Tenant};
use refettorio_domain::{Clock, deadline};

use crate::AppError;
use crate::meals::{CloseOutcome, close_day, warn_pending};

/// How far back a catch-up reaches.
const MAX_CATCH_UP_DAYS: i32 = 31;

/// The days of a tenant that are due for closing at `now`, oldest first: from the day after
/// the last closed one (or today, for a tenant never closed) to the last day whose cut-off
/// has passed.
pub async fn due_days(
    db: &Db,
    tenant: &Tenant,
    now: jiff::Timestamp,
) -> Result<Vec<Date>, AppError> {
    let today = now.to_zoned(tenant.timezone.clone()).date();
    let last_due = match deadline(today, tenant.latest_cutoff(), &tenant.timezone) {
        Some(d) if now >= d => today,
        _ => today.yesterday()?,
    };
    let mut h = db.acquire().await?;
    let last_closed = meals::last_closed_day(&mut h.conn(), tenant.id).await?;
    let earliest = today.checked_sub(MAX_CATCH_UP_DAYS.days())?;
    let mut day = match last_closed {
        Some(d) => d.tomorrow()?.max(earliest),
        None => today,
    };
    let mut days = Vec::new();
    while day <= last_due {
        days.push(day);
        day = day.tomorrow()?;
    }
    Ok(days)
}

/// Closes every due day of every tenant.
pub async fn run_due_closes(
    db: &Db,
    clock: &dyn Clock,
) -> Result<Vec<(String, Date, CloseOutcome)>, AppError> {
    let tenants = {
        let mut h = db.acquire().await?;
        tenant::list(&mut h.conn()).await?
    };
    let mut done = Vec::new();
    let mut failure = None;
    for t in &tenants {
        // One municipality's failure must not stop the others' closes.
        let result = async {
            for day in due_days(db, t, clock.now()).await? {
                // The enrolment changes of the day are written to the enrolments its close reads.
                crate::people::apply_due_changes(db, clock, t, day).await?;
                let outcome = close_day(db, clock, t, day).await?;
                done.push((t.slug.to_string(), day, outcome));
            }
            // The days before today are closed now: today's changes take effect (class lists,
            // kitchen forecast) and before its close.
            let today = refettorio_domain::today(clock, &t.timezone);
            crate::people::apply_due_changes(db, clock, t, today).await?;
            // The warnings of a close whose node stopped before queuing them.
            for (day, queued) in warn_pending(db, clock, t).await? {
                tracing::info!(tenant = %t.slug, %day, queued, "low-balance warnings caught up");
            }
            Ok::<(), AppError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(tenant = %t.slug, error = %e, "close failed");
            failure = Some(e);
        }
    }
    match failure {
        Some(e) if done.is_empty() => Err(e),
        _ => Ok(done),
    }
}

/// Runs [`run_due_closes`] at start (the catch-up) and then every `every`, until `stop` fires.
pub async fn run(
    db: Db,
    clock: std::sync::Arc<dyn Clock>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match run_due_closes(&db, clock.as_ref()).await {
            Ok(done) => {
                for (slug, day, o) in done {
                    tracing::info!(tenant = %slug, %day, charged = o.charged, already = o.already, "scheduled close");
                }
            }
            Err(e) => tracing::error!(error = %e, "scheduled close failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
