//! The registry (anagrafica): tenants, school years and calendars, schools and classes,
//! families, pupils, services, tariffs, diets, enrolments and staff.

pub mod calendar;
pub mod family;
pub mod school;
pub mod service;
pub mod staff;
pub mod tenant;
pub mod validation;

use crate::DbError;

/// Maps a stored text back to a domain enumeration, or reports corrupt data.
pub(crate) fn parse_enum<T>(
    value: &str,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, DbError> {
    parse(value).ok_or_else(|| DbError::Corrupt(format!("unknown {what} '{value}'")))
}

pub(crate) fn corrupt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> DbError + '_ {
    move |e| DbError::Corrupt(format!("{what}: {e}"))
}

/// Runs `sql`, a `DELETE … WHERE tenant_id = $1 AND id = $2`: true if it deleted the row.
pub(crate) async fn delete_by_id(
    conn: &mut crate::Conn<'_>,
    sql: &'static str,
    tenant: refettorio_domain::TenantId,
    id: i64,
) -> Result<bool, DbError> {
    let n = crate::on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}
