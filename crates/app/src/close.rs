//! The daily close that charges each meal exactly once, and the low-balance warnings that
//! follow it.

use std::collections::BTreeMap;

use jiff::civil::Date;
use refettorio_db::kitchen::MealCount;
use refettorio_db::registry::calendar::{self, SchoolYear};
use refettorio_db::registry::school::{self, Class};
use refettorio_db::registry::service::{self, Service};
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::{Conn, close, ledger, outbox};
use refettorio_domain::messaging::Channel;
use refettorio_domain::{
    ClassId, Clock, SchoolCalendar, SchoolYearId, ServiceKind, day_it, deadline,
};

use crate::kitchen::kitchen_numbers_of;
use crate::{AppError, Ctx};

/// What a day of the canteen looks like for the municipality: its year, the canteen service,
/// the calendar and the classes that eat that day.
pub struct CanteenDay {
    pub year: SchoolYear,
    pub service: Service,
    pub calendar: SchoolCalendar,
    /// The classes that eat that day.
    pub classes: Vec<Class>,
    /// Every class of the year (for the names on the kitchen's numbers).
    pub year_classes: Vec<Class>,
}

/// The canteen service of the year that contains `day`, with the classes eating that day.
pub async fn canteen_day(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
) -> Result<Option<CanteenDay>, AppError> {
    let Some(year) = calendar::school_year_at(conn, tenant.id, day).await? else {
        return Ok(None);
    };
    let Some(service) = refezione(conn, tenant, year.id).await? else {
        return Ok(None);
    };
    let calendar = calendar::load_calendar(conn, tenant, &year).await?;
    let year_classes = school::classes(conn, tenant.id, year.id).await?;
    let classes = year_classes
        .iter()
        .filter(|c| calendar.is_canteen_day(day, c.school_id, c.id, c.canteen_weekdays))
        .cloned()
        .collect();
    Ok(Some(CanteenDay {
        year,
        service,
        calendar,
        classes,
        year_classes,
    }))
}

pub(crate) async fn refezione(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    year: SchoolYearId,
) -> Result<Option<Service>, AppError> {
    Ok(service::services(conn, tenant.id, year)
        .await?
        .into_iter()
        .find(|s| s.kind == ServiceKind::Refezione))
}

/// The result of a close: meals charged by this run, and meals charged by an earlier run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseOutcome {
    pub charged: u64,
    pub already: u64,
}

/// Closes `day` for the municipality ([`close`]) and then queues its low-balance warnings
/// ([`warn_low_balances`]). Both happen once however many times, and on however many nodes, this
/// runs; a run that finds the day closed but its warnings not queued (a node stopped between
/// the two) queues them.
pub async fn close_day(ctx: Ctx<'_>, day: Date) -> Result<CloseOutcome, AppError> {
    let outcome = close(ctx, day).await?;
    warn_low_balances(ctx, day).await?;
    Ok(outcome)
}

/// Refuses a close of `day` before its cut-off has passed.
pub fn check_closable(clock: &dyn Clock, tenant: &Tenant, day: Date) -> Result<(), AppError> {
    let due = deadline(day, tenant.latest_cutoff(), &tenant.timezone);
    if due.is_none_or(|d| clock.now() < d) {
        return Err(AppError::Invalid(format!(
            "La giornata di {} non si può chiudere prima dell'ora limite ({}).",
            day_it(day),
            tenant.latest_cutoff().strftime("%H:%M")
        )));
    }
    Ok(())
}

/// The close of `day`, in one transaction: freezes the attendance, charges each meal to the
/// payer's account and queues the kitchen's e-mail. Exactly once: a second run (or a concurrent
/// one on another node) charges nothing and reports what the first charged; a crash in the
/// middle rolls the whole close back. The low-balance warnings follow in their own transaction
/// ([`warn_low_balances`]): they read every charged account's balance, which is not work to do
/// while holding the day's lock (and, on SQLite, the database's only writer).
pub async fn close(ctx: Ctx<'_>, day: Date) -> Result<CloseOutcome, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    check_closable(clock, tenant, day)?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    close::lock_day(c, tenant.id, day, true).await?;
    if !close::claim_close(c, tenant.id, day, now).await? {
        let already = close::close_count(c, tenant.id, day).await?.unwrap_or(0);
        tx.commit().await?;
        return Ok(CloseOutcome {
            charged: 0,
            already,
        });
    }
    let mut charged = 0;
    if let Some(cd) = canteen_day(c, tenant, day).await? {
        let class_ids: Vec<ClassId> = cd.classes.iter().map(|k| k.id).collect();
        ledger::ensure_accounts(c, tenant.id, cd.service.id, now).await?;
        let lines = close::charge_day(
            c,
            tenant.id,
            cd.service.id,
            day,
            &class_ids,
            tenant.settings.bland_meal_free,
            now,
        )
        .await?;
        charged = lines.iter().map(|l| u64::from(l.count)).sum();
        close::set_close_count(c, tenant.id, day, charged).await?;
        if charged > 0 {
            queue_kitchen_mail(c, tenant, day, &cd, lines, now).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(tenant = %tenant.slug, %day, charged, "day closed");
    Ok(CloseOutcome {
        charged,
        already: 0,
    })
}

/// Queues the kitchen's e-mail of a close, from the meals the close just charged.
async fn queue_kitchen_mail(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    day: Date,
    cd: &CanteenDay,
    charged: Vec<MealCount>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let numbers = kitchen_numbers_of(conn, tenant, day, true, Some(cd), Some(charged)).await?;
    let schools = school::schools(conn, tenant.id).await?;
    for s in &numbers.schools {
        let Some(email) = schools
            .iter()
            .find(|x| x.id == s.school)
            .and_then(|x| x.kitchen_email.clone())
        else {
            continue;
        };
        let content = crate::mail::kitchen_numbers(&crate::mail::KitchenNumbers {
            tenant: &tenant.name,
            school: &s.name,
            day_short: day.strftime("%d/%m/%Y").to_string(),
            day_long: day_it(day),
            classes: s
                .classes
                .iter()
                .map(|k| (k.name.clone(), k.counts.describe()))
                .collect(),
            total: s.total.describe(),
        })?;
        let key = format!("kitchen:{day}:{}", s.school.get());
        outbox::enqueue(
            conn,
            tenant.id,
            &outbox::Queued::email("kitchen_numbers", &email, &content, &key),
            now,
        )
        .await?;
    }
    Ok(())
}

/// The low-balance warnings of a closed day: one e-mail to each payer whose account was charged
/// that day and whose balance is negative or pays for fewer than the tenant's number of days of
/// the family's meals. Once per close: the transaction claims the day's warnings
/// (`day_close.warned_at`) and queues them all, or rolls back and leaves them to the next run
/// (each message's key, `low-balance:<account>:<day>`, is unique as well). Returns how many
/// were queued: 0 when the day is not closed or its warnings were queued already.
pub async fn warn_low_balances(ctx: Ctx<'_>, day: Date) -> Result<u64, AppError> {
    let Ctx {
        db, clock, tenant, ..
    } = ctx;
    let now = clock.now();
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    if !close::claim_warnings(c, tenant.id, day, now).await? {
        return Ok(0);
    }
    let mut queued = 0;
    if let Some(year) = calendar::school_year_at(c, tenant.id, day).await?
        && let Some(service) = refezione(c, tenant, year.id).await?
    {
        queued = queue_low_balance(c, tenant, service.id, day, now).await?;
    }
    tx.commit().await?;
    Ok(queued)
}

/// Queues the warnings of the closed days whose warnings are not queued (a node stopped
/// between a close and its warnings). Returns the days and how many warnings each queued.
pub async fn warn_pending(ctx: Ctx<'_>) -> Result<Vec<(Date, u64)>, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let days = {
        let mut h = db.acquire().await?;
        close::days_to_warn(&mut h.conn(), tenant.id).await?
    };
    let mut done = Vec::new();
    for day in days {
        done.push((day, warn_low_balances(ctx, day).await?));
    }
    Ok(done)
}

async fn queue_low_balance(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    service: refettorio_domain::ServiceId,
    day: Date,
    now: jiff::Timestamp,
) -> Result<u64, AppError> {
    let threshold = tenant.settings.low_balance_meals;
    // One list per channel, each queued with one statement.
    let mut by_channel: BTreeMap<Channel, Vec<outbox::NewMessage>> = BTreeMap::new();
    for a in ledger::balances_charged_on(conn, tenant.id, service, day, threshold).await? {
        if !refettorio_domain::ledger::is_low(a.balance, a.daily_cost, threshold) {
            continue;
        }
        let payer = outbox::Recipient {
            family_id: a.family.get(),
            first_name: a.payer_first_name,
            last_name: a.payer_last_name,
            fiscal_code: a.payer_fiscal_code,
            email: a.payer_email,
            phone: a.payer_phone,
            notify_email: a.notify_email,
            notify_sms: a.notify_sms,
            notify_app_io: a.notify_app_io,
        };
        // The channels the payer chose; with none usable, no warning (as with no e-mail before).
        let Ok(channels) = crate::outbox::families::channels_for(tenant, &payer) else {
            continue;
        };
        let m = crate::mail::low_balance_family(&crate::mail::LowBalance {
            tenant: &tenant.name,
            first_name: &payer.first_name,
            last_name: &payer.last_name,
            balance: a.balance.to_string(),
            negative: a.balance.is_negative(),
            day: day.strftime("%d/%m/%Y").to_string(),
        })?;
        for (channel, address) in channels {
            let key = format!("low-balance:{}:{day}", a.account.get());
            let (content, idempotency_key) = match channel {
                // The e-mail keeps the key it always had.
                Channel::Email => (m.email.clone(), key),
                Channel::Sms | Channel::AppIo => (
                    outbox::Content {
                        subject: m.email.subject.clone(),
                        text: if channel == Channel::Sms {
                            m.sms.clone()
                        } else {
                            m.markdown.clone()
                        },
                        html: None,
                    },
                    format!("{key}:{}", channel.as_str()),
                ),
            };
            by_channel
                .entry(channel)
                .or_default()
                .push(outbox::NewMessage {
                    recipient: address,
                    content,
                    idempotency_key,
                });
        }
    }
    let mut queued = 0;
    for (channel, messages) in &by_channel {
        queued += outbox::enqueue_many(
            conn,
            tenant.id,
            "low_balance",
            channel.as_str(),
            messages,
            now,
        )
        .await?;
    }
    Ok(queued)
}
