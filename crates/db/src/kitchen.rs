//! The kitchen's numbers: the meals of a day per school, class, meal and diet, final after the
//! close (from the ledger) or forecast before it.

use jiff::civil::Date;
use refettorio_domain::{ClassId, DietId, FamilyId, SchoolId, ServiceId, TenantId};

use crate::attendance::{ClassList, eating, in_classes};
use crate::registry::corrupt;
use crate::{Conn, Result, SqlDate, on_conn};

/// One line of the kitchen's numbers: a class, the kind of meal and the diet, with a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MealCount {
    pub school: SchoolId,
    pub class: ClassId,
    pub bland: bool,
    pub diet: Option<DietId>,
    pub count: u32,
}

pub(crate) fn counts(rows: Vec<(i64, i64, String, Option<i64>, i64)>) -> Result<Vec<MealCount>> {
    rows.into_iter()
        .map(|(s, c, meal, diet, n)| {
            Ok(MealCount {
                school: SchoolId(s),
                class: ClassId(c),
                bland: meal == "bland",
                diet: diet.map(DietId),
                count: u32::try_from(n).map_err(corrupt("meal count"))?,
            })
        })
        .collect()
}

/// The kitchen's final numbers of a closed day: the charged meals not reversed since.
pub async fn frozen_counts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    day: Date,
) -> Result<Vec<MealCount>> {
    // Each meal charge counts 1 and each reversal of one -1: a reversal copies the day, school,
    // class, meal and diet of the charge it reverses (`reverse_charges`), a charge is reversed
    // at most once, and only meal entries have a `meal`. One pass over the day's entries, with
    // no look-up per charge for its reversal.
    let sql = "SELECT school_id, class_id, meal, diet_id, \
                 CAST(SUM(CASE WHEN kind = 'reversal' THEN -1 ELSE 1 END) AS BIGINT) \
               FROM ledger_entry \
               WHERE tenant_id = $1 AND day = $2 AND kind IN ('meal_charge', 'reversal') AND meal IS NOT NULL \
               GROUP BY school_id, class_id, meal, diet_id \
               HAVING SUM(CASE WHEN kind = 'reversal' THEN -1 ELSE 1 END) <> 0";
    let rows: Vec<(i64, i64, String, Option<i64>, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(SqlDate(day))
            .fetch_all(&mut *c)
            .await?
    });
    counts(rows)
}

macro_rules! forecast_sql {
    ($backend:ident) => {
        concat!(
            "SELECT e.school_id, e.class_id, CASE WHEN b.choice = 'bland' THEN 'bland' ELSE 'standard' END AS meal, \
               e.diet_id, COUNT(*)",
            eating!($backend, "4"),
            " GROUP BY e.school_id, e.class_id, CASE WHEN b.choice = 'bland' THEN 'bland' ELSE 'standard' END, e.diet_id"
        )
    };
}

/// The forecast of a day not closed yet: who would be charged if the close ran now.
pub async fn forecast_counts(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    day: Date,
    classes: &[ClassId],
) -> Result<Vec<MealCount>> {
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let list = ClassList::new(classes);
    let rows: Vec<(i64, i64, String, Option<i64>, i64)> = match conn {
        Conn::Postgres(c) => {
            sqlx::query_as(forecast_sql!(postgres))
                .persistent(false)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.ids)
                .fetch_all(&mut **c)
                .await?
        }
        Conn::Sqlite(c) => {
            sqlx::query_as(forecast_sql!(sqlite))
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.json)
                .fetch_all(&mut **c)
                .await?
        }
    };
    counts(rows)
}

macro_rules! families_open_sql {
    ($backend:ident) => {
        concat!(
            "SELECT DISTINCT p.family_id",
            eating!(
                $backend,
                "4",
                " JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id"
            ),
            " ORDER BY p.family_id"
        )
    };
}

macro_rules! families_closed_sql {
    ($backend:ident) => {
        concat!(
            "SELECT DISTINCT p.family_id FROM ledger_entry e \
             JOIN enrolment n ON n.tenant_id = e.tenant_id AND n.id = e.enrolment_id AND n.service_id = $2 \
             JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
             WHERE e.tenant_id = $1 AND e.day = $3 AND e.kind = 'meal_charge' \
               AND NOT EXISTS (SELECT 1 FROM ledger_entry r WHERE r.tenant_id = e.tenant_id AND r.reverses_id = e.id) \
               AND ",
            in_classes!($backend, "4"),
            " ORDER BY p.family_id"
        )
    };
}

/// The families whose meals of `day` in `classes` a closure would touch: on a day not closed
/// yet, those with a pupil the forecast counts (active, started, not booked absent); on a
/// closed day, those with a meal charged and not reversed. The same meals as
/// [`forecast_counts`] and [`frozen_counts`] count.
pub async fn families_of_meals(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    service: ServiceId,
    day: Date,
    classes: &[ClassId],
    closed: bool,
) -> Result<Vec<FamilyId>> {
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let list = ClassList::new(classes);
    let ids: Vec<i64> = match conn {
        Conn::Postgres(c) => {
            let sql = if closed {
                families_closed_sql!(postgres)
            } else {
                families_open_sql!(postgres)
            };
            sqlx::query_scalar(sql)
                .persistent(false)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.ids)
                .fetch_all(&mut **c)
                .await?
        }
        Conn::Sqlite(c) => {
            let sql = if closed {
                families_closed_sql!(sqlite)
            } else {
                families_open_sql!(sqlite)
            };
            sqlx::query_scalar(sql)
                .bind(tenant.get())
                .bind(service.get())
                .bind(SqlDate(day))
                .bind(&list.json)
                .fetch_all(&mut **c)
                .await?
        }
    };
    Ok(ids.into_iter().map(FamilyId).collect())
}
