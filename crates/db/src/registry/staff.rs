//! Staff accounts: the municipality's office, schools, kitchen, canteen staff, and platform
//! administrators (no tenant).

use refettorio_domain::{StaffRole, StaffUserId, TenantId};

use super::parse_enum;
use crate::{Conn, Result, on_conn};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub id: StaffUserId,
    pub tenant_id: Option<TenantId>,
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    /// argon2 PHC string.
    pub password_hash: String,
    pub active: bool,
}

/// A `staff_user` row as selected (also by `crate::platform`).
#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    id: i64,
    tenant_id: Option<i64>,
    username: String,
    display_name: String,
    role: String,
    password_hash: String,
    active: bool,
}

impl TryFrom<Row> for StaffUser {
    type Error = crate::DbError;
    fn try_from(r: Row) -> Result<StaffUser> {
        Ok(StaffUser {
            id: StaffUserId(r.id),
            tenant_id: r.tenant_id.map(TenantId),
            username: r.username,
            display_name: r.display_name,
            role: parse_enum(&r.role, "staff role", StaffRole::parse)?,
            password_hash: r.password_hash,
            active: r.active,
        })
    }
}

pub async fn insert_staff(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    username: &str,
    display_name: &str,
    role: StaffRole,
    password_hash: &str,
) -> Result<StaffUserId> {
    let sql = "INSERT INTO staff_user (tenant_id, username, display_name, role, password_hash) \
               VALUES ($1, $2, $3, $4, $5) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(username)
            .bind(display_name)
            .bind(role.as_str())
            .bind(password_hash)
            .fetch_one(&mut *c)
            .await?
    });
    Ok(StaffUserId(id))
}

pub async fn staff_by_username(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    username: &str,
) -> Result<Option<StaffUser>> {
    let sql = "SELECT id, tenant_id, username, display_name, role, password_hash, active FROM staff_user \
               WHERE tenant_id = $1 AND username = $2";
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(username)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(StaffUser::try_from).transpose()
}

pub async fn staff(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<StaffUser>> {
    let sql = "SELECT id, tenant_id, username, display_name, role, password_hash, active FROM staff_user \
               WHERE tenant_id = $1 ORDER BY username";
    let rows: Vec<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(StaffUser::try_from).collect()
}

/// One staff user of a municipality.
pub async fn staff_by_id(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: StaffUserId,
) -> Result<Option<StaffUser>> {
    let sql = "SELECT id, tenant_id, username, display_name, role, password_hash, active FROM staff_user \
               WHERE tenant_id = $1 AND id = $2";
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(StaffUser::try_from).transpose()
}

/// Gives a staff user of the school role one more school.
pub async fn add_staff_school(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    staff: StaffUserId,
    school: refettorio_domain::SchoolId,
) -> Result<()> {
    let sql = "INSERT INTO staff_school (tenant_id, staff_id, school_id) VALUES ($1, $2, $3) \
               ON CONFLICT (tenant_id, staff_id, school_id) DO NOTHING";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(staff.get())
            .bind(school.get())
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets the schools a staff user of the school role works for: exactly `schools`, the others'
/// links removed.
pub async fn set_staff_schools(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    staff: StaffUserId,
    schools: &[refettorio_domain::SchoolId],
) -> Result<()> {
    let sql = "DELETE FROM staff_school WHERE tenant_id = $1 AND staff_id = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(staff.get())
            .execute(&mut *c)
            .await?;
    });
    for school in schools {
        add_staff_school(conn, tenant, staff, *school).await?;
    }
    Ok(())
}

/// Every (staff user, school) link of a municipality.
pub async fn staff_school_links(
    conn: &mut Conn<'_>,
    tenant: TenantId,
) -> Result<Vec<(StaffUserId, refettorio_domain::SchoolId)>> {
    let sql = "SELECT staff_id, school_id FROM staff_school WHERE tenant_id = $1 ORDER BY staff_id, school_id";
    let rows: Vec<(i64, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(s, k)| (StaffUserId(s), refettorio_domain::SchoolId(k)))
        .collect())
}

/// The schools a staff user works for.
pub async fn schools_of_staff(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    staff: StaffUserId,
) -> Result<Vec<refettorio_domain::SchoolId>> {
    let sql = "SELECT school_id FROM staff_school WHERE tenant_id = $1 AND staff_id = $2 ORDER BY school_id";
    let ids: Vec<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(staff.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(ids.into_iter().map(refettorio_domain::SchoolId).collect())
}
