//! The school's validation of canteen enrolments (`enrolment.validated_*`, `reported_*`): the
//! school confirms the class of an enrolment or reports it to the office with a reason. The
//! close never reads these columns: a meal does not depend on a validation.

use refettorio_domain::{ClassId, EnrolmentId, SchoolId, TenantId};

use crate::{Conn, Result, micros, on_conn};

/// An active canteen enrolment not validated yet, with what the school needs to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub enrolment_id: EnrolmentId,
    pub school_id: SchoolId,
    pub class_id: ClassId,
    pub class_name: String,
    pub pupil: String,
    /// Set when the school reported the enrolment to the office, with its reason.
    pub report_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: i64,
    school_id: i64,
    class_id: i64,
    class_name: String,
    last_name: String,
    first_name: String,
    report_reason: Option<String>,
}

/// The active canteen enrolments of the tenant not validated yet, by class and pupil.
pub async fn pending(conn: &mut Conn<'_>, tenant: TenantId) -> Result<Vec<Pending>> {
    let sql = "SELECT e.id, e.school_id, e.class_id, k.name AS class_name, p.last_name, \
               p.first_name, e.report_reason \
               FROM enrolment e \
               JOIN class k ON k.tenant_id = e.tenant_id AND k.id = e.class_id \
               JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
               JOIN service s ON s.tenant_id = e.tenant_id AND s.id = e.service_id \
               WHERE e.tenant_id = $1 AND e.validated_at IS NULL AND e.state = 'attivo' \
               AND s.kind = 'refezione' \
               ORDER BY k.name, p.last_name, p.first_name, e.id";
    let rows: Vec<PendingRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| Pending {
            enrolment_id: EnrolmentId(r.id),
            school_id: SchoolId(r.school_id),
            class_id: ClassId(r.class_id),
            class_name: r.class_name,
            pupil: format!("{} {}", r.last_name, r.first_name),
            report_reason: r.report_reason,
        })
        .collect())
}

/// Marks a not yet validated enrolment validated by `by` (clearing a report): false if it was
/// validated already (or is not there).
pub async fn validate(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: EnrolmentId,
    by: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE enrolment SET validated_at = $3, validated_by = $4, reported_at = NULL, \
               reported_by = NULL, report_reason = NULL \
               WHERE tenant_id = $1 AND id = $2 AND validated_at IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(micros(now))
            .bind(by)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Records the school's report on a not yet validated enrolment: false if it is validated.
pub async fn report(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: EnrolmentId,
    by: &str,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let sql = "UPDATE enrolment SET reported_at = $3, reported_by = $4, report_reason = $5 \
               WHERE tenant_id = $1 AND id = $2 AND validated_at IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .bind(micros(now))
            .bind(by)
            .bind(reason)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Makes an enrolment not validated again (its class changed), dropping an old report.
pub async fn reset(conn: &mut Conn<'_>, tenant: TenantId, id: EnrolmentId) -> Result<()> {
    let sql = "UPDATE enrolment SET validated_at = NULL, validated_by = NULL, reported_at = NULL, \
               reported_by = NULL, report_reason = NULL WHERE tenant_id = $1 AND id = $2";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id.get())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Marks every enrolment of the tenant not validated yet as validated by `by` (the demo's
/// data, which stands for a running service).
pub async fn validate_all(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    by: &str,
    now: jiff::Timestamp,
) -> Result<u64> {
    let sql = "UPDATE enrolment SET validated_at = $2, validated_by = $3 \
               WHERE tenant_id = $1 AND validated_at IS NULL";
    let n = on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(micros(now))
            .bind(by)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(n)
}
