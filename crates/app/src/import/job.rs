//! The dry run, and the real import as a job: started, run in one transaction, its progress
//! reported in the database so that every node shows it.

use std::time::Duration;

use refettorio_db::import as db_import;
use refettorio_db::import::ImportJob;
use refettorio_db::import::JobStatus;
use refettorio_db::{Backend, Conn};
use refettorio_domain::{AuditAction, AuditEntry, AuditObject, ObjectKind, TenantId};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::apply::apply;
use super::kind::ImportKind;
use super::parse::parse;
use super::plan::{Plan, load_snapshot, plan};
use super::read::{READ_BUDGET, READERS, RUN_BUDGET, RowError, Table, file_error, read_bounded};
use crate::{AppError, Ctx};

/// An uploaded file and the kind the office said it is.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub kind: ImportKind,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

/// The result of checking a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ImportKind,
    pub file_name: String,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows that would be written.
    pub new: usize,
    /// Rows already present (skipped).
    pub present: usize,
    /// Every bad row, by row number.
    pub errors: Vec<RowError>,
}

/// Reads, parses and plans a file (read already) against the registry as `c` sees it.
async fn check_on(
    c: &mut Conn<'_>,
    tenant: TenantId,
    up: Upload<'_>,
    table: &Table,
) -> Result<(Report, Plan), AppError> {
    let (rows, mut errors) = parse(up.kind, table).map_err(file_error)?;
    let snapshot = load_snapshot(c, tenant, up.kind).await?;
    let mut plan = plan(&rows, &snapshot);
    errors.append(&mut plan.errors);
    errors.sort_by_key(|e| e.row);
    let report = Report {
        kind: up.kind,
        file_name: up.file_name.to_string(),
        rows: table.rows.len(),
        new: plan.steps.len(),
        present: plan.present.len(),
        errors,
    };
    Ok((report, plan))
}

/// The dry run: every row read and checked, every bad row listed; nothing written.
pub async fn dry_run(ctx: Ctx<'_>, up: Upload<'_>) -> Result<Report, AppError> {
    let table = read_bounded(&READERS, READ_BUDGET, up.file_name, up.bytes)
        .await
        .map_err(file_error)?;
    let mut h = ctx.db.acquire().await?;
    Ok(check_on(&mut h.conn(), ctx.tenant.id, up, &table).await?.0)
}

/// What [`start`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The file has bad rows: nothing written, no job.
    Refused(Report),
    /// The job that will import the file.
    Job(i64),
}

/// Hex SHA-256 of the uploaded bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks the file as the dry run does; a file with no bad row gets an import job (status
/// running, created by the context's actor) for [`run`] to carry out.
pub async fn start(ctx: Ctx<'_>, up: Upload<'_>) -> Result<Started, AppError> {
    let table = read_bounded(&READERS, READ_BUDGET, up.file_name, up.bytes)
        .await
        .map_err(file_error)?;
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let (report, _) = check_on(c, ctx.tenant.id, up, &table).await?;
    if !report.errors.is_empty() {
        return Ok(Started::Refused(report));
    }
    let id = db_import::insert_job(
        c,
        ctx.tenant.id,
        &db_import::NewJob {
            kind: up.kind.as_str(),
            file_name: up.file_name,
            file_sha256: &sha256_hex(up.bytes),
            rows_total: i64::try_from(report.rows).unwrap_or(i64::MAX),
            created_by: &ctx.actor.to_string(),
        },
        ctx.now(),
    )
    .await?;
    Ok(Started::Job(id))
}

/// How far a running import has got, as it tells its reporter: `None` while it waits for its
/// turn or reads the file, then (rows written, rows to write) inside its transaction.
type Progress = Option<(usize, usize)>;

/// The shortest time between two reports of the rows written.
const REPORT_EVERY: Duration = Duration::from_millis(250);
/// The longest time between two reports (a heartbeat when nothing changes), well within
/// [`STALE_AFTER`].
const BEAT_EVERY: Duration = Duration::from_secs(60);

/// Writes an import's progress into its job row from a connection of its own, so that every
/// node shows it while the import's transaction is open: at most every [`REPORT_EVERY`], and
/// a heartbeat every [`BEAT_EVERY`]. Ends when the import drops its sender. On SQLite the
/// import's transaction holds the database's only write lock: inside it nothing is written
/// (a write would wait for the import's end), so the rows written show on PostgreSQL only.
async fn report(ctx: Ctx<'_>, job: i64, mut rx: watch::Receiver<Progress>) {
    let sqlite = ctx.db.backend() == Backend::Sqlite;
    loop {
        let value = *rx.borrow_and_update();
        if !(sqlite && value.is_some()) {
            let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
            let rows = value.map(|(done, total)| (n(done), n(total)));
            let written = match ctx.db.acquire().await {
                Ok(mut h) => {
                    db_import::report_progress(&mut h.conn(), ctx.tenant.id, job, rows, ctx.now())
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                tracing::warn!(job, error = %e, "import progress not recorded");
            }
        }
        tokio::time::sleep(REPORT_EVERY).await;
        match tokio::time::timeout(BEAT_EVERY, rx.changed()).await {
            // Changed, or the time of a heartbeat.
            Ok(Ok(())) | Err(_) => {}
            // The import has ended.
            Ok(Err(_)) => return,
        }
    }
}

/// Carries out an import job: the file read and checked again, then every write, the job
/// marked done and the audit record in ONE transaction. Any bad row or failure writes
/// nothing and marks the job failed. Its progress is reported in the job's row meanwhile.
pub async fn run(ctx: Ctx<'_>, job: i64, up: Upload<'_>) -> Result<(), AppError> {
    let (tx, rx) = watch::channel(None);
    let (outcome, ()) = tokio::join!(run_tx(ctx, job, up, tx), report(ctx, job, rx));
    if let Err(e) = &outcome {
        let message = match e {
            AppError::Invalid(m) => m.clone(),
            _ => "L'importazione non è riuscita per un errore interno: non è stata scritta nessuna riga. Riprova; se l'errore si ripete, contatta l'assistenza."
                .to_string(),
        };
        let mut h = ctx.db.acquire().await?;
        db_import::finish_job(
            &mut h.conn(),
            ctx.tenant.id,
            job,
            db_import::JobEnd::Failed(&message),
            ctx.now(),
        )
        .await?;
    }
    outcome
}

async fn run_tx(
    ctx: Ctx<'_>,
    job: i64,
    up: Upload<'_>,
    progress: watch::Sender<Progress>,
) -> Result<(), AppError> {
    // Read before the transaction begins: no transaction held while the file is read.
    let table = read_bounded(&READERS, RUN_BUDGET, up.file_name, up.bytes)
        .await
        .map_err(AppError::Invalid)?;
    let now = ctx.now();
    let day = ctx.today();
    let tenant = ctx.tenant;
    let mut tx = ctx.db.begin().await?;
    let c = &mut tx.conn();
    let (report, plan) = match check_on(c, tenant.id, up, &table).await {
        Ok(x) => x,
        Err(AppError::Fields(f)) => {
            let m = f
                .into_iter()
                .map(|f| f.message)
                .collect::<Vec<_>>()
                .join(" ");
            return Err(AppError::Invalid(m));
        }
        Err(e) => return Err(e),
    };
    if !report.errors.is_empty() {
        return Err(AppError::Invalid(format!(
            "Il file ha {} errori rispetto ai dati di adesso: nessuna riga è stata scritta. Ripeti la prova per vederli.",
            report.errors.len()
        )));
    }
    progress.send_replace(Some((0, plan.steps.len())));
    let written = apply(c, tenant.id, &plan, ctx.actor, now, day, &|done, total| {
        progress.send_replace(Some((done, total)));
    })
    .await?;
    let present = report.present;
    let after = serde_json::json!({
        "kind": up.kind.as_str(),
        "file": up.file_name,
        "sha256": sha256_hex(up.bytes),
        "rows": report.rows,
        "new": written,
        "present": present,
    });
    refettorio_db::audit::record(
        c,
        tenant.id,
        &AuditEntry::new(
            ctx.actor,
            AuditAction::Import,
            AuditObject {
                kind: ObjectKind::ImportJob,
                id: Some(job),
            },
        )
        .after(after)
        .reason(format!(
            "Importazione dal gestionale precedente: {}",
            up.file_name
        )),
        now,
    )
    .await?;
    let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
    db_import::finish_job(
        c,
        tenant.id,
        job,
        db_import::JobEnd::Done {
            rows_new: n(written),
            rows_present: n(present),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How long a job marked running may go without a report of its import (see [`report`])
/// before it is taken as interrupted: a node stopped during it, and its transaction rolled
/// back.
pub const STALE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

/// A job marked running that no process runs any more (no report for [`STALE_AFTER`]):
/// nothing of it was written.
pub fn interrupted(job: &ImportJob, now: jiff::Timestamp) -> bool {
    let last = job.progress_at.unwrap_or(job.created_at);
    job.status == JobStatus::Running && now.duration_since(last) > STALE_AFTER
}

/// How far a running import has got, as it last reported: (rows written, rows to write).
pub fn progress(job: &ImportJob) -> Option<(usize, usize)> {
    if job.status != JobStatus::Running {
        return None;
    }
    let n = |x: i64| usize::try_from(x).unwrap_or(0);
    job.progress.map(|(done, total)| (n(done), n(total)))
}

/// An import job and, while it runs, its progress as its import last reported it (on any
/// node).
pub async fn job(
    ctx: Ctx<'_>,
    id: i64,
) -> Result<Option<(ImportJob, Option<(usize, usize)>)>, AppError> {
    let mut h = ctx.db.acquire().await?;
    let job = db_import::job(&mut h.conn(), ctx.tenant.id, id).await?;
    Ok(job.map(|j| {
        let p = progress(&j);
        (j, p)
    }))
}

/// The latest imports, newest first.
pub async fn jobs(ctx: Ctx<'_>) -> Result<Vec<ImportJob>, AppError> {
    let mut h = ctx.db.acquire().await?;
    Ok(db_import::jobs(&mut h.conn(), ctx.tenant.id, 20).await?)
}
