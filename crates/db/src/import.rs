//! Imports from the previous vendor: the job row of each real import, the keys of opening
//! balances already credited, and opening an account for a family and service.

use refettorio_domain::{AccountId, FamilyId, ServiceId, TenantId};

use crate::{Conn, DbError, Result, from_micros, micros, on_conn};

/// How a real import went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    Done,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        match s {
            "running" => Some(JobStatus::Running),
            "done" => Some(JobStatus::Done),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
}

/// One real import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    pub id: i64,
    /// `guardians`, `pupils`, `enrolments`, `balances`.
    pub kind: String,
    pub file_name: String,
    pub file_sha256: String,
    pub status: JobStatus,
    pub rows_total: i64,
    pub rows_new: i64,
    pub rows_present: i64,
    pub message: String,
    pub created_by: String,
    pub created_at: jiff::Timestamp,
    pub finished_at: Option<jiff::Timestamp>,
    /// (rows written, rows to write), as the running import last reported them.
    pub progress: Option<(i64, i64)>,
    /// When the running import last reported (its progress, or that it is alive).
    pub progress_at: Option<jiff::Timestamp>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    file_name: String,
    file_sha256: String,
    status: String,
    rows_total: i64,
    rows_new: i64,
    rows_present: i64,
    message: String,
    created_by: String,
    created_at: i64,
    finished_at: Option<i64>,
    rows_done: Option<i64>,
    rows_to_write: Option<i64>,
    progress_at: Option<i64>,
}

impl TryFrom<JobRow> for ImportJob {
    type Error = DbError;
    fn try_from(r: JobRow) -> Result<ImportJob> {
        Ok(ImportJob {
            id: r.id,
            kind: r.kind,
            file_name: r.file_name,
            file_sha256: r.file_sha256,
            status: JobStatus::parse(&r.status)
                .ok_or_else(|| DbError::Corrupt(format!("unknown import status '{}'", r.status)))?,
            rows_total: r.rows_total,
            rows_new: r.rows_new,
            rows_present: r.rows_present,
            message: r.message,
            created_by: r.created_by,
            created_at: from_micros(r.created_at)?,
            finished_at: r.finished_at.map(from_micros).transpose()?,
            progress: r.rows_done.zip(r.rows_to_write),
            progress_at: r.progress_at.map(from_micros).transpose()?,
        })
    }
}

macro_rules! job_columns {
    () => {
        "id, kind, file_name, file_sha256, status, rows_total, rows_new, rows_present, message, \
         created_by, created_at, finished_at, rows_done, rows_to_write, progress_at"
    };
}

/// A real import that starts now, as [`insert_job`] records it.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub file_name: &'a str,
    pub file_sha256: &'a str,
    pub rows_total: i64,
    pub created_by: &'a str,
}

/// Records a real import that starts now (status `running`).
pub async fn insert_job(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    job: &NewJob<'_>,
    now: jiff::Timestamp,
) -> Result<i64> {
    let sql = "INSERT INTO import_job (tenant_id, kind, file_name, file_sha256, status, rows_total, \
               created_by, created_at) VALUES ($1, $2, $3, $4, 'running', $5, $6, $7) RETURNING id";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(job.kind)
            .bind(job.file_name)
            .bind(job.file_sha256)
            .bind(job.rows_total)
            .bind(job.created_by)
            .bind(micros(now))
            .fetch_one(&mut *c)
            .await?
    });
    Ok(id)
}

/// How a job ended: written with its counts, or failed with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEnd<'a> {
    Done { rows_new: i64, rows_present: i64 },
    Failed(&'a str),
}

/// Ends a job: `done` with its counts (in the import's own transaction), or `failed` with a
/// message (after its rollback). Only a running job changes.
pub async fn finish_job(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: i64,
    end: JobEnd<'_>,
    now: jiff::Timestamp,
) -> Result<()> {
    let (status, rows_new, rows_present, message) = match end {
        JobEnd::Done {
            rows_new,
            rows_present,
        } => (JobStatus::Done, rows_new, rows_present, ""),
        JobEnd::Failed(message) => (JobStatus::Failed, 0, 0, message),
    };
    let sql = "UPDATE import_job SET status = $3, rows_new = $4, rows_present = $5, message = $6, \
               finished_at = $7 WHERE tenant_id = $1 AND id = $2 AND status = 'running'";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id)
            .bind(status.as_str())
            .bind(rows_new)
            .bind(rows_present)
            .bind(message)
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Reports how far a running import has got, from a connection of its own so that every node
/// sees it while the import's transaction is open: `rows` (written, to write), or `None` for
/// a heartbeat only (the import is alive, waiting for its turn or reading the file). A job no
/// longer running does not change.
pub async fn report_progress(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    id: i64,
    rows: Option<(i64, i64)>,
    now: jiff::Timestamp,
) -> Result<()> {
    let sql = "UPDATE import_job SET rows_done = COALESCE($3, rows_done), \
               rows_to_write = COALESCE($4, rows_to_write), progress_at = $5 \
               WHERE tenant_id = $1 AND id = $2 AND status = 'running'";
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(id)
            .bind(rows.map(|r| r.0))
            .bind(rows.map(|r| r.1))
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn job(conn: &mut Conn<'_>, tenant: TenantId, id: i64) -> Result<Option<ImportJob>> {
    let sql = concat!(
        "SELECT ",
        job_columns!(),
        " FROM import_job WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<JobRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
    });
    row.map(ImportJob::try_from).transpose()
}

/// The latest `limit` imports, newest first.
pub async fn jobs(conn: &mut Conn<'_>, tenant: TenantId, limit: i64) -> Result<Vec<ImportJob>> {
    let sql = concat!(
        "SELECT ",
        job_columns!(),
        " FROM import_job WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    );
    let rows: Vec<JobRow> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(ImportJob::try_from).collect()
}

/// The ledger keys that start with `prefix` (a range scan of the unique key index). `prefix`
/// must end with `:`.
pub async fn ledger_keys_with_prefix(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    prefix: &str,
) -> Result<Vec<String>> {
    // The first string after every string starting with "…:" is "…;" (';' follows ':').
    let end = match prefix.strip_suffix(':') {
        Some(p) => format!("{p};"),
        None => {
            return Err(DbError::Corrupt(format!(
                "key prefix '{prefix}' must end with ':'"
            )));
        }
    };
    let sql = "SELECT idempotency_key FROM ledger_entry WHERE tenant_id = $1 \
               AND idempotency_key >= $2 AND idempotency_key < $3";
    let keys: Vec<String> = on_conn!(conn, |c| {
        sqlx::query_scalar(sql)
            .bind(tenant.get())
            .bind(prefix)
            .bind(&end)
            .fetch_all(&mut *c)
            .await?
    });
    Ok(keys)
}

/// The account of a family for a service, opened now if it has none.
pub async fn open_account(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    family: FamilyId,
    service: ServiceId,
    now: jiff::Timestamp,
) -> Result<AccountId> {
    let insert = "INSERT INTO account (tenant_id, family_id, service_id, created_at) \
                  VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, family_id, service_id) DO NOTHING";
    let select =
        "SELECT id FROM account WHERE tenant_id = $1 AND family_id = $2 AND service_id = $3";
    let id: i64 = on_conn!(conn, |c| {
        sqlx::query(insert)
            .bind(tenant.get())
            .bind(family.get())
            .bind(service.get())
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
        sqlx::query_scalar(select)
            .bind(tenant.get())
            .bind(family.get())
            .bind(service.get())
            .fetch_one(&mut *c)
            .await?
    });
    Ok(AccountId(id))
}
