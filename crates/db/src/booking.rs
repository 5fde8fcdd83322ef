//! Bookings: the days a family (or staff) changed from the default (present), with the choice.

use jiff::civil::Date;
use refettorio_domain::{EnrolmentId, MealChoice, TenantId};

use crate::registry::parse_enum;
use crate::{Conn, Result, SqlDate, micros, on_conn};

/// Writes a family's (or staff's) choice for one day of an enrolment.
pub async fn set_booking(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    enrolment: EnrolmentId,
    day: Date,
    choice: MealChoice,
    now: jiff::Timestamp,
    by: &str,
) -> Result<()> {
    let sql = "INSERT INTO booking (tenant_id, enrolment_id, day, choice, changed_at, changed_by) \
               VALUES ($1, $2, $3, $4, $5, $6) \
               ON CONFLICT (tenant_id, enrolment_id, day) DO UPDATE \
               SET choice = excluded.choice, changed_at = excluded.changed_at, changed_by = excluded.changed_by";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(enrolment.get())
            .bind(SqlDate(day))
            .bind(choice.as_str())
            .bind(micros(now))
            .bind(by)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The days of `from..=to` where the choice is not the default.
pub async fn bookings(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    enrolment: EnrolmentId,
    from: Date,
    to: Date,
) -> Result<Vec<(Date, MealChoice)>> {
    let sql = "SELECT day, choice FROM booking WHERE tenant_id = $1 AND enrolment_id = $2 AND day >= $3 AND day <= $4 \
               ORDER BY day";
    let rows: Vec<(SqlDate, String)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(enrolment.get())
            .bind(SqlDate(from))
            .bind(SqlDate(to))
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|(d, ch)| Ok((d.0, parse_enum(&ch, "meal choice", MealChoice::parse)?)))
        .collect()
}
