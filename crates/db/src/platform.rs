//! What the platform administrator (a staff user without a tenant) works on: their own
//! account (its failed logins are in `auth`, with no tenant), the municipalities with their staff counts, and
//! the staff of any municipality.

use refettorio_domain::{StaffUserId, TenantId};

use crate::registry::staff::{Row, StaffUser};
use crate::{Conn, Result, on_conn};

/// Adds a platform administrator; `None` when the username is taken (nothing written).
pub async fn insert_admin(
    conn: &mut Conn<'_>,
    username: &str,
    display_name: &str,
    password_hash: &str,
) -> Result<Option<StaffUserId>> {
    let sql = "INSERT INTO staff_user (tenant_id, username, display_name, role, password_hash) \
               VALUES (NULL, $1, $2, 'platform_admin', $3) \
               ON CONFLICT (username) WHERE tenant_id IS NULL DO NOTHING RETURNING id";
    let id: Option<i64> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(username)
            .bind(display_name)
            .bind(password_hash)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(id.map(StaffUserId))
}

/// A platform administrator by username (exact match), active or not.
pub async fn admin_by_username(conn: &mut Conn<'_>, username: &str) -> Result<Option<StaffUser>> {
    let sql = "SELECT id, tenant_id, username, display_name, role, password_hash, active FROM staff_user \
               WHERE tenant_id IS NULL AND role = 'platform_admin' AND username = $1";
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(username)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(StaffUser::try_from).transpose()
}

/// A platform administrator by id.
pub async fn admin_by_id(conn: &mut Conn<'_>, id: StaffUserId) -> Result<Option<StaffUser>> {
    let sql = "SELECT id, tenant_id, username, display_name, role, password_hash, active FROM staff_user \
               WHERE tenant_id IS NULL AND role = 'platform_admin' AND id = $1";
    let row: Option<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(id.get())
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(StaffUser::try_from).transpose()
}

/// How many staff users (active or not) each municipality has, by tenant id.
pub async fn staff_counts(conn: &mut Conn<'_>) -> Result<Vec<(TenantId, i64)>> {
    let sql = "SELECT tenant_id, COUNT(*) FROM staff_user WHERE tenant_id IS NOT NULL \
               GROUP BY tenant_id";
    let rows: Vec<(i64, i64)> = on_conn!(conn, |c| sqlx::query_as(sql).fetch_all(&mut *c).await?);
    Ok(rows.into_iter().map(|(t, n)| (TenantId(t), n)).collect())
}

/// Turns a municipality's staff user on or off; false when there is no such user.
pub async fn set_staff_active(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: StaffUserId,
    active: bool,
) -> Result<bool> {
    let sql = "UPDATE staff_user SET active = $3 WHERE tenant_id = $1 AND id = $2";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(active)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// Ends every session of a staff user (after deactivation).
pub async fn delete_staff_sessions(conn: &mut Conn<'_>, id: StaffUserId) -> Result<u64> {
    let sql = "DELETE FROM web_session WHERE staff_id = $1";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(id.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n)
}
