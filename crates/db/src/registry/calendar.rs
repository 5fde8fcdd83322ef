//! School years and closures, and the calendar built from them.

use jiff::civil::Date;
use refettorio_domain::{
    ClassId, Closure, ClosureId, ClosureKind, ClosureScope, SchoolCalendar, SchoolId, SchoolYearId,
    TenantId,
};

use super::parse_enum;
use super::tenant::Tenant;
use crate::{Conn, Result, SqlDate, micros, on_conn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolYear {
    pub id: SchoolYearId,
    /// "2026/2027"
    pub label: String,
    /// 1 September .. 31 August
    pub starts_on: Date,
    pub ends_on: Date,
    /// The regional first and last day of lessons.
    pub first_day: Date,
    pub last_day: Date,
}

#[derive(Debug, Clone)]
pub struct NewSchoolYear {
    pub label: String,
    pub starts_on: Date,
    pub ends_on: Date,
    pub first_day: Date,
    pub last_day: Date,
}

#[derive(sqlx::FromRow)]
struct YearRow {
    id: i64,
    label: String,
    starts_on: SqlDate,
    ends_on: SqlDate,
    first_day: SqlDate,
    last_day: SqlDate,
}

impl From<YearRow> for SchoolYear {
    fn from(r: YearRow) -> Self {
        SchoolYear {
            id: SchoolYearId(r.id),
            label: r.label,
            starts_on: r.starts_on.0,
            ends_on: r.ends_on.0,
            first_day: r.first_day.0,
            last_day: r.last_day.0,
        }
    }
}

macro_rules! year_columns {
    () => {
        "id, label, starts_on, ends_on, first_day, last_day"
    };
}

pub async fn insert_school_year(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    y: &NewSchoolYear,
) -> Result<SchoolYearId> {
    let sql = "INSERT INTO school_year (tenant_id, label, starts_on, ends_on, first_day, last_day) \
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(&y.label)
            .bind(SqlDate(y.starts_on))
            .bind(SqlDate(y.ends_on))
            .bind(SqlDate(y.first_day))
            .bind(SqlDate(y.last_day))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(SchoolYearId(id))
}

pub async fn school_years(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<SchoolYear>> {
    let sql = concat!(
        "SELECT ",
        year_columns!(),
        " FROM school_year WHERE tenant_id = $1 ORDER BY starts_on"
    );
    let rows: Vec<YearRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows.into_iter().map(SchoolYear::from).collect())
}

pub async fn school_year(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: SchoolYearId,
) -> Result<Option<SchoolYear>> {
    let sql = concat!(
        "SELECT ",
        year_columns!(),
        " FROM school_year WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<YearRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(SchoolYear::from))
}

/// The school year that contains `date` (1 Sept .. 31 Aug), if the tenant has one.
pub async fn school_year_at(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    date: Date,
) -> Result<Option<SchoolYear>> {
    let sql = concat!(
        "SELECT ",
        year_columns!(),
        " FROM school_year WHERE tenant_id = $1 AND starts_on <= $2 AND ends_on >= $2"
    );
    let row: Option<YearRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(SqlDate(date))
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(SchoolYear::from))
}

pub async fn insert_closure(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    year: SchoolYearId,
    closure: &Closure,
    now: jiff::Timestamp,
) -> Result<ClosureId> {
    let (school, class) = match closure.scope {
        ClosureScope::Tenant => (None, None),
        ClosureScope::School(s) => (Some(s.get()), None),
        ClosureScope::Class(c) => (None, Some(c.get())),
    };
    let sql = "INSERT INTO closure (tenant_id, school_year_id, school_id, class_id, starts_on, ends_on, kind, \
               reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(year.get())
            .bind(school)
            .bind(class)
            .bind(SqlDate(closure.from))
            .bind(SqlDate(closure.to))
            .bind(closure.kind.as_str())
            .bind(&closure.reason)
            .bind(micros(now))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(ClosureId(id))
}

#[derive(sqlx::FromRow)]
struct ClosureRow {
    id: i64,
    school_id: Option<i64>,
    class_id: Option<i64>,
    starts_on: SqlDate,
    ends_on: SqlDate,
    kind: String,
    reason: String,
}

pub async fn closures(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    year: SchoolYearId,
) -> Result<Vec<(ClosureId, Closure)>> {
    let sql = "SELECT id, school_id, class_id, starts_on, ends_on, kind, reason FROM closure \
               WHERE tenant_id = $1 AND school_year_id = $2 ORDER BY starts_on, id";
    let rows: Vec<ClosureRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(year.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter()
        .map(|r| {
            let scope = match (r.school_id, r.class_id) {
                (Some(s), _) => ClosureScope::School(SchoolId(s)),
                (None, Some(c)) => ClosureScope::Class(ClassId(c)),
                (None, None) => ClosureScope::Tenant,
            };
            Ok((
                ClosureId(r.id),
                Closure {
                    scope,
                    from: r.starts_on.0,
                    to: r.ends_on.0,
                    kind: parse_enum(&r.kind, "closure kind", ClosureKind::parse)?,
                    reason: r.reason,
                },
            ))
        })
        .collect()
}

/// The school calendar of a year: regional first/last day, the tenant's patron saint and every
/// closure (national holidays are computed by the domain).
pub async fn load_calendar(
    conn: &mut Conn<'_>,
    tenant: &Tenant,
    year: &SchoolYear,
) -> Result<SchoolCalendar> {
    let closures = closures(conn, tenant.id, year.id).await?;
    Ok(SchoolCalendar {
        first_day: year.first_day,
        last_day: year.last_day,
        patron_day: tenant.patron_day,
        closures: closures.into_iter().map(|(_, c)| c).collect(),
    })
}

/// Changes a school year's label and dates. False if there is no such year in the tenant.
pub async fn update_school_year(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: SchoolYearId,
    y: &NewSchoolYear,
) -> Result<bool> {
    let sql = "UPDATE school_year SET label = $3, starts_on = $4, ends_on = $5, first_day = $6, last_day = $7 \
               WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(&y.label)
            .bind(SqlDate(y.starts_on))
            .bind(SqlDate(y.ends_on))
            .bind(SqlDate(y.first_day))
            .bind(SqlDate(y.last_day))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}
