//! The daily close: its per-day lock and claim (`day_close`), the charge of the day's meals,
//! and which days are closed.

use jiff::civil::Date;
use refettorio_domain::{ClassId, ServiceId, TenantId};

use crate::attendance::{ClassList, eating};
use crate::kitchen::{MealCount, counts, frozen_counts};
use crate::registry::corrupt;
use crate::{Conn, Result, SqlDate, micros, on_conn};

/// A day's number, for advisory locks.
fn day_key(day: Date) -> i32 {
    i32::from(day.year()) * 1000 + i32::from(day.day_of_year())
}

/// Serialises a booking change with the close of the same day. On PostgreSQL bookings take a
/// shared transaction lock and the close an exclusive one, so a close waits for changes in
/// flight and every change either lands before the close or sees it and is refused. On SQLite
/// write transactions are already serial (`BEGIN IMMEDIATE`).
pub async fn lock_day(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    exclusive: bool,
) -> Result<()> {
    if let Conn::Postgres(c) = conn {
        let key = i32::try_from(tenant.get()).unwrap_or(i32::MAX);
        let sql = if exclusive {
            "SELECT pg_advisory_xact_lock($1, $2)"
        } else {
            "SELECT pg_advisory_xact_lock_shared($1, $2)"
        };
        sqlx::query(sql)
            .bind(key)
            .bind(day_key(day))
            .execute(&mut **c)
            .await?;
    }
    Ok(())
}

pub async fn is_closed(conn: &mut Conn<'_>, tenant: TenantId, day: Date) -> Result<bool> {
    let sql = "SELECT COUNT(*) FROM day_close WHERE tenant_id = $1 AND day = $2";
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(n > 0)
}

/// Claims the close of a day: true for the one run that inserts the row.
pub async fn claim_close(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "INSERT INTO day_close (tenant_id, day, closed_at, charged) VALUES ($1, $2, $3, 0) \
               ON CONFLICT (tenant_id, day) DO NOTHING RETURNING charged";
    let row: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .bind(micros(now))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.is_some())
}

pub async fn set_close_count(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    charged: u64,
) -> Result<()> {
    let n = i64::try_from(charged).map_err(corrupt("charged"))?;
    let sql = "UPDATE day_close SET charged = $3 WHERE tenant_id = $1 AND day = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .bind(n)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Claims the low-balance warnings of a closed day: true for the one run that marks them
/// queued (`warned_at`), false when the day is not closed or another run did.
pub async fn claim_warnings(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE day_close SET warned_at = $3 WHERE tenant_id = $1 AND day = $2 AND warned_at IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .bind(micros(now))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// The closed days whose low-balance warnings are not queued yet, oldest first.
pub async fn days_to_warn(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Date>> {
    let sql = "SELECT day FROM day_close WHERE tenant_id = $1 AND warned_at IS NULL ORDER BY day";
    let days: Vec<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(days.into_iter().map(|d| d.0).collect())
}

/// How many meals the close of `day` charged (None when the day is not closed).
pub async fn close_count(conn: &mut Conn<'_>, tenant: TenantId, day: Date) -> Result<Option<u64>> {
    let sql = "SELECT charged FROM day_close WHERE tenant_id = $1 AND day = $2";
    let n: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .fetch_optional(&mut *c)
            .await?
    });
    n.map(|n| u64::try_from(n).map_err(corrupt("charged")))
        .transpose()
}

/// The last closed day of a tenant.
pub async fn last_closed_day(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Option<Date>> {
    let sql = "SELECT MAX(day) FROM day_close WHERE tenant_id = $1";
    let d: Option<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(d.map(|d| d.0))
}

/// The first closed day of a tenant.
pub async fn first_closed_day(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Option<Date>> {
    let sql = "SELECT MIN(day) FROM day_close WHERE tenant_id = $1";
    let d: Option<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(d.map(|d| d.0))
}

/// The closed days of a tenant from `from` on, oldest first.
pub async fn closed_days_since(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    from: Date,
) -> Result<Vec<Date>> {
    let sql = "SELECT day FROM day_close WHERE tenant_id = $1 AND day >= $2 ORDER BY day";
    let days: Vec<SqlDate> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(SqlDate(from))
            .fetch_all(&mut *c)
            .await?
    });
    Ok(days.into_iter().map(|d| d.0).collect())
}

/// The days left open between closed days of a tenant, as ranges `(first, last)` oldest first:
/// every close claims its day (school day or not), so from the first close on each day has a
/// `day_close` row unless nobody closed it (the scheduler skipped it beyond its catch-up window,
/// or a day was closed by hand ahead of the days before it).
pub async fn unclosed_gaps(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<(Date, Date)>> {
    let sql = match conn {
        Conn::Postgres(_) => {
            "SELECT prev, day FROM (SELECT day, LAG(day) OVER (ORDER BY day) AS prev \
             FROM day_close WHERE tenant_id = $1) AS d WHERE day - prev > 1 ORDER BY day"
        }
        Conn::Sqlite(_) => {
            "SELECT prev, day FROM (SELECT day, LAG(day) OVER (ORDER BY day) AS prev \
             FROM day_close WHERE tenant_id = $1) AS d \
             WHERE julianday(day) - julianday(prev) > 1 ORDER BY day"
        }
    };
    let rows: Vec<(SqlDate, SqlDate)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|(prev, next)| Ok((prev.0.tomorrow()?, next.0.yesterday()?)))
        .collect::<std::result::Result<Vec<_>, jiff::Error>>()
        .map_err(corrupt("day_close.day"))
}

/// The charge of a close: one ledger row per meal, from the enrolments alone (`account_id` is
/// on the enrolment) and the day's bookings.
macro_rules! charge_day_sql {
    ($backend:ident) => {
        concat!(
            "INSERT INTO ledger_entry (tenant_id, account_id, kind, amount_cents, day, pupil_id, enrolment_id, \
             school_id, class_id, meal, diet_id, idempotency_key, created_by, reason, created_at) \
             SELECT e.tenant_id, e.account_id, 'meal_charge', \
               CASE WHEN b.choice = 'bland' AND $5 THEN 0 ELSE -e.meal_price_cents END, \
               $3, e.pupil_id, e.id, e.school_id, e.class_id, \
               CASE WHEN b.choice = 'bland' THEN 'bland' ELSE 'standard' END, e.diet_id, \
               'meal:' || $4 || ':' || CAST(e.id AS TEXT), 'close', '', $6", // Key::Meal
            eating!($backend, "7")
        )
    };
}

/// Charges the meals of `day` for the enrolments of `service` in `classes` (the classes that eat
/// that day): every active, started enrolment not marked absent, at its meal price (bland meals
/// free when `bland_free`), to the account linked on the enrolment. One statement. Returns what
/// was charged as the kitchen counts it (per school, class, meal and diet): on PostgreSQL the
/// insert's own rows, counted inside the same statement; on SQLite, which has no INSERT in a
/// WITH, the day's meal entries read right after it (before the close there are none but these).
///
/// Call it after [`ensure_accounts`] and after claiming the day ([`claim_close`]) in the same
/// transaction: the claim is what makes the close happen once. The idempotency key
/// `meal:<day>:<enrolment>` is unique, so a meal charged twice would make the statement fail
/// (and the close roll back) rather than charge again; an enrolment not linked to an account
/// fails it too (`account_id` is NOT NULL in the ledger) rather than go uncharged.
pub async fn charge_day(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    day: Date,
    classes: &[ClassId],
    bland_free: bool,
    now: jiff::Timestamp,
) -> Result<Vec<MealCount>> {
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let day_text = day.to_string();
    let list = ClassList::new(classes);
    // The statements differ only in the class list; PostgreSQL's is not kept prepared, so that
    // it is always planned with the list's values (a cached generic plan would not hash it).
    match conn {
        Conn::Postgres(c) => {
            let sql = concat!(
                "WITH charged AS (",
                charge_day_sql!(postgres),
                " RETURNING school_id, class_id, meal, diet_id) \
                 SELECT school_id, class_id, meal, diet_id, COUNT(*) FROM charged \
                 GROUP BY school_id, class_id, meal, diet_id"
            );
            let rows: Vec<(i64, i64, String, Option<i64>, i64)> = sqlx::query_as(sql)
                .persistent(false)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&day_text)
                .bind(bland_free)
                .bind(micros(now))
                .bind(&list.ids)
                .fetch_all(&mut **c)
                .await?;
            counts(rows)
        }
        Conn::Sqlite(c) => {
            sqlx::query(charge_day_sql!(sqlite))
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&day_text)
                .bind(bland_free)
                .bind(micros(now))
                .bind(&list.json)
                .execute(&mut **c)
                .await?;
            frozen_counts(conn, tenant, day).await
        }
    }
}
