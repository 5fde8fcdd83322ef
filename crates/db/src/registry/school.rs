//! Schools and classes.

use refettorio_domain::{ClassId, SchoolId, SchoolKind, SchoolYearId, TenantId, Weekdays};

use super::{corrupt, parse_enum};
use crate::{Conn, Result, on_conn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    pub id: SchoolId,
    pub name: String,
    pub kind: SchoolKind,
    pub address: String,
    pub kitchen_email: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSchool {
    pub name: String,
    pub kind: SchoolKind,
    pub address: String,
    pub kitchen_email: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SchoolRow {
    id: i64,
    name: String,
    kind: String,
    address: String,
    kitchen_email: Option<String>,
}

impl TryFrom<SchoolRow> for School {
    type Error = crate::DbError;
    fn try_from(r: SchoolRow) -> Result<School> {
        Ok(School {
            id: SchoolId(r.id),
            name: r.name,
            kind: parse_enum(&r.kind, "school kind", SchoolKind::parse)?,
            address: r.address,
            kitchen_email: r.kitchen_email,
        })
    }
}

pub async fn insert_school(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    s: &NewSchool,
) -> Result<SchoolId> {
    let sql = "INSERT INTO school (tenant_id, name, kind, address, kitchen_email) VALUES ($1, $2, $3, $4, $5) \
               RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(&s.name)
            .bind(s.kind.as_str())
            .bind(&s.address)
            .bind(&s.kitchen_email)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(SchoolId(id))
}

pub async fn schools(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<School>> {
    let sql = "SELECT id, name, kind, address, kitchen_email FROM school WHERE tenant_id = $1 ORDER BY name";
    let rows: Vec<SchoolRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(School::try_from).collect()
}

pub async fn school(conn: &mut Conn<'_>, tenant: TenantId, id: SchoolId) -> Result<Option<School>> {
    let sql = "SELECT id, name, kind, address, kitchen_email FROM school WHERE tenant_id = $1 AND id = $2";
    let row: Option<SchoolRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(School::try_from).transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub id: ClassId,
    pub school_year_id: SchoolYearId,
    pub school_id: SchoolId,
    pub name: String,
    /// The weekdays the class eats at the canteen (rientri).
    pub canteen_weekdays: Weekdays,
}

#[derive(Debug, Clone)]
pub struct NewClass {
    pub school_year_id: SchoolYearId,
    pub school_id: SchoolId,
    pub name: String,
    pub canteen_weekdays: Weekdays,
}

#[derive(sqlx::FromRow)]
struct ClassRow {
    id: i64,
    school_year_id: i64,
    school_id: i64,
    name: String,
    canteen_weekdays: i32,
}

impl TryFrom<ClassRow> for Class {
    type Error = crate::DbError;
    fn try_from(r: ClassRow) -> Result<Class> {
        Ok(Class {
            id: ClassId(r.id),
            school_year_id: SchoolYearId(r.school_year_id),
            school_id: SchoolId(r.school_id),
            name: r.name,
            canteen_weekdays: Weekdays::from_bits(
                u8::try_from(r.canteen_weekdays).map_err(corrupt("weekdays"))?,
            ),
        })
    }
}

pub async fn insert_class(conn: &mut Conn<'_>, tenant: TenantId, k: &NewClass) -> Result<ClassId> {
    let sql = "INSERT INTO class (tenant_id, school_year_id, school_id, name, canteen_weekdays) \
               VALUES ($1, $2, $3, $4, $5) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(k.school_year_id.get())
            .bind(k.school_id.get())
            .bind(&k.name)
            .bind(i32::from(k.canteen_weekdays.bits()))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(ClassId(id))
}

macro_rules! class_columns {
    () => {
        "id, school_year_id, school_id, name, canteen_weekdays"
    };
}

pub async fn classes(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    year: SchoolYearId,
) -> Result<Vec<Class>> {
    let sql = concat!(
        "SELECT ",
        class_columns!(),
        " FROM class WHERE tenant_id = $1 AND school_year_id = $2 ORDER BY school_id, name"
    );
    let rows: Vec<ClassRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(year.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Class::try_from).collect()
}

pub async fn class(conn: &mut Conn<'_>, tenant: TenantId, id: ClassId) -> Result<Option<Class>> {
    let sql = concat!(
        "SELECT ",
        class_columns!(),
        " FROM class WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<ClassRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(Class::try_from).transpose()
}

/// Changes a school's name, kind, address and kitchen e-mail. False if there is no such
/// school in the tenant.
pub async fn update_school(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: SchoolId,
    s: &NewSchool,
) -> Result<bool> {
    let sql = "UPDATE school SET name = $3, kind = $4, address = $5, kitchen_email = $6 \
               WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(&s.name)
            .bind(s.kind.as_str())
            .bind(&s.address)
            .bind(&s.kitchen_email)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Changes a class's name and canteen weekdays (its school and year stay). False if there is
/// no such class in the tenant.
pub async fn update_class(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: ClassId,
    name: &str,
    canteen_weekdays: Weekdays,
) -> Result<bool> {
    let sql = "UPDATE class SET name = $3, canteen_weekdays = $4 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(name)
            .bind(i32::from(canteen_weekdays.bits()))
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Every class of a school, of every year, by year and name.
pub async fn classes_of_school(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    school: SchoolId,
) -> Result<Vec<Class>> {
    let sql = concat!(
        "SELECT ",
        class_columns!(),
        " FROM class WHERE tenant_id = $1 AND school_id = $2 ORDER BY school_year_id, name"
    );
    let rows: Vec<ClassRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(school.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(Class::try_from).collect()
}

/// What still points at a school: (classes, enrolments, closures, 1 if a ledger entry names it).
/// The ledger has no index on the school, so that part stops at the first entry found.
pub async fn school_references(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: SchoolId,
) -> Result<(i64, i64, i64, i64)> {
    let sql = "SELECT (SELECT COUNT(*) FROM class WHERE tenant_id = $1 AND school_id = $2), \
               (SELECT COUNT(*) FROM enrolment WHERE tenant_id = $1 AND school_id = $2), \
               (SELECT COUNT(*) FROM closure WHERE tenant_id = $1 AND school_id = $2), \
               (SELECT COUNT(*) FROM (SELECT 1 FROM ledger_entry WHERE tenant_id = $1 AND school_id = $2 LIMIT 1) l)";
    let row: (i64, i64, i64, i64) = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(row)
}

/// What still points at a class: (enrolments, closures, 1 if a ledger entry names it).
pub async fn class_references(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: ClassId,
) -> Result<(i64, i64, i64)> {
    let sql = "SELECT (SELECT COUNT(*) FROM enrolment WHERE tenant_id = $1 AND class_id = $2), \
               (SELECT COUNT(*) FROM closure WHERE tenant_id = $1 AND class_id = $2), \
               (SELECT COUNT(*) FROM (SELECT 1 FROM ledger_entry WHERE tenant_id = $1 AND class_id = $2 LIMIT 1) l)";
    let row: (i64, i64, i64) = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(row)
}

/// Deletes a school nothing points at (see [`school_references`]), and with it the links of
/// the school users who worked for it (a link is no record worth keeping a school for). False
/// if there is no such school in the tenant.
pub async fn delete_school(conn: &mut Conn<'_>, tenant: TenantId, id: SchoolId) -> Result<bool> {
    let links = "DELETE FROM staff_school WHERE tenant_id = $1 AND school_id = $2";
    super::delete_by_id(conn, links, tenant, id.get()).await?;
    let sql = "DELETE FROM school WHERE tenant_id = $1 AND id = $2";
    super::delete_by_id(conn, sql, tenant, id.get()).await
}

/// Deletes a class nothing points at (see [`class_references`]). False if there is no such
/// class in the tenant.
pub async fn delete_class(conn: &mut Conn<'_>, tenant: TenantId, id: ClassId) -> Result<bool> {
    let sql = "DELETE FROM class WHERE tenant_id = $1 AND id = $2";
    super::delete_by_id(conn, sql, tenant, id.get()).await
}
