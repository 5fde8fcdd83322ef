//! The office's import from the previous vendor: the page with the column layouts and their
//! templates, the upload (a dry run that lists every bad row, or the real import, which runs
//! in the background in one transaction) and the page of an import job, which htmx refreshes
//! every second while the job runs (a link does it without JavaScript).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::import::{
    self, Column, ImportJob, ImportKind, JobStatus, MAX_FILE_BYTES, Report, Started, Upload,
};
use refettorio_app::{Ctx, FieldError};

use super::upload::{self, Unreadable};
use super::{IMPORT, Staff, when};
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

/// The body limit of the upload route: the largest file plus room for the other fields, so
/// a file a little over the limit still gets the Italian message (a larger body gets 413).
pub(crate) const UPLOAD_BODY_LIMIT: usize = MAX_FILE_BYTES + 1024 * 1024;

/// One kind's layout, as the page documents it.
struct KindDoc {
    slug: &'static str,
    label: &'static str,
    columns: &'static [Column],
}

/// A job in the list or on its page.
struct JobView {
    id: i64,
    kind: &'static str,
    file_name: String,
    started: String,
    status: &'static str,
    running: bool,
    failed: bool,
    rows_total: i64,
    rows_new: i64,
    rows_present: i64,
    message: String,
    /// (written, to write) while it runs, as its import last reported it.
    progress: Option<(usize, usize)>,
}

fn job_view(
    j: &ImportJob,
    progress: Option<(usize, usize)>,
    s: &Staff,
    now: jiff::Timestamp,
) -> JobView {
    let stopped = import::interrupted(j, now);
    JobView {
        id: j.id,
        kind: ImportKind::parse(&j.kind).map_or("", ImportKind::label_it),
        file_name: j.file_name.clone(),
        started: when(&j.created_at, &s.tenant.timezone),
        status: match j.status {
            JobStatus::Running if stopped => "Interrotta",
            JobStatus::Running => "In corso",
            JobStatus::Done => "Completata",
            JobStatus::Failed => "Non riuscita",
        },
        running: j.status == JobStatus::Running && !stopped,
        failed: j.status == JobStatus::Failed || stopped,
        rows_total: j.rows_total,
        rows_new: j.rows_new,
        rows_present: j.rows_present,
        message: if stopped {
            "l'importazione si è interrotta (il servizio è stato riavviato): non è stata scritta nessuna riga. Carica di nuovo il file.".to_string()
        } else {
            j.message.clone()
        },
        progress,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/import/index.html")]
struct ImportPage<'a> {
    frame: Frame<'a>,
    kinds: Vec<KindDoc>,
    kind_options: Vec<(&'static str, &'static str)>,
    selected: String,
    errors: FieldErrors,
    report: Option<Report>,
    /// The report is of a dry run (else of a refused import).
    dry_run: bool,
    jobs: Vec<JobView>,
    max_mb: usize,
}
framed!(ImportPage);

async fn render(
    state: &AppState,
    s: &Staff,
    status: StatusCode,
    selected: String,
    errors: FieldErrors,
    report: Option<Report>,
    dry_run: bool,
) -> Result<Response, WebError> {
    let jobs = import::jobs(s.ctx(state))
        .await?
        .iter()
        .map(|j| job_view(j, None, s, state.clock.now()))
        .collect();
    let page = ImportPage {
        frame: s.frame(&IMPORT),
        kinds: ImportKind::ALL
            .iter()
            .map(|k| KindDoc {
                slug: k.slug(),
                label: k.label_it(),
                columns: k.columns(),
            })
            .collect(),
        kind_options: ImportKind::ALL
            .iter()
            .map(|k| (k.slug(), k.label_it()))
            .collect(),
        selected,
        errors,
        report,
        dry_run,
        jobs,
        max_mb: MAX_FILE_BYTES / 1_048_576,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/importazioni`
pub(crate) async fn import_page(
    State(state): State<AppState>,
    s: Staff,
) -> Result<Response, WebError> {
    s.require(IMPORT.roles)?;
    render(
        &state,
        &s,
        StatusCode::OK,
        String::new(),
        FieldErrors::none(),
        None,
        false,
    )
    .await
}

/// `GET /t/<slug>/backoffice/importazioni/modelli/{tipo}`: the CSV template of a kind.
pub(crate) async fn template(
    s: Staff,
    Path((_, kind)): Path<(String, String)>,
) -> Result<Response, WebError> {
    s.require(IMPORT.roles)?;
    let kind = ImportKind::from_slug(kind.trim_end_matches(".csv"))
        .ok_or_else(|| WebError::NotFound("Modello non trovato.".into()))?;
    Ok(crate::files::attachment(
        kind.template_csv(),
        "text/csv; charset=utf-8",
        &format!("modello-{}.csv", kind.slug()),
    ))
}

/// The fields of the upload form.
struct UploadForm {
    kind: String,
    action: String,
    file_name: String,
    bytes: Vec<u8>,
    too_large: bool,
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// `POST /t/<slug>/backoffice/importazioni` (multipart: `tipo`, `file`, `azione` = `prova`
/// or `importa`): the dry run's report, or the real import started (303 to its page). A file
/// with bad rows is 422 with every bad row listed, and nothing is written.
pub(crate) async fn upload(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, WebError> {
    s.require(IMPORT.roles)?;
    let too_large = || {
        format!(
            "Il file è troppo grande: il massimo è {} MB.",
            MAX_FILE_BYTES / 1_048_576
        )
    };
    let up = match upload::read(&state, req, "file", MAX_FILE_BYTES).await {
        Ok(up) => up,
        Err(why) => {
            // Nothing of the form could be read (not even its CSRF token): nothing is written.
            let (status, message) = match why {
                Unreadable::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, too_large()),
                Unreadable::NotMultipart => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Scegli il file da caricare.".to_string(),
                ),
            };
            return render(
                &state,
                &s,
                status,
                String::new(),
                FieldErrors::one("file", message),
                None,
                false,
            )
            .await;
        }
    };
    s.check_csrf(&headers, &up.field("_csrf"))?;
    let form = UploadForm {
        kind: up.field("tipo"),
        action: up.field("azione"),
        file_name: up.file_name,
        bytes: up.bytes,
        too_large: up.too_large,
    };
    let kind = ImportKind::from_slug(&form.kind);
    let mut errors = Vec::new();
    if kind.is_none() {
        errors.push(field_error("tipo", "Scegli che cosa contiene il file."));
    }
    if form.too_large {
        errors.push(field_error("file", too_large()));
    } else if form.file_name.is_empty() && form.bytes.is_empty() {
        errors.push(field_error("file", "Scegli il file da caricare."));
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return render(
            &state,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.kind,
            errors.into(),
            None,
            false,
        )
        .await;
    };
    let up = Upload {
        kind,
        file_name: &form.file_name,
        bytes: &form.bytes,
    };
    let selected = form.kind.clone();
    if form.action != "importa" {
        return match import::dry_run(s.ctx(&state), up).await.or_errors()? {
            Ok(report) => {
                let status = if report.errors.is_empty() {
                    StatusCode::OK
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                render(
                    &state,
                    &s,
                    status,
                    selected,
                    FieldErrors::none(),
                    Some(report),
                    true,
                )
                .await
            }
            Err(f) => render(&state, &s, f.status(), selected, f, None, true).await,
        };
    }
    let ctx = s.ctx(&state);
    match import::start(ctx, up).await.or_errors()? {
        Ok(Started::Refused(report)) => {
            render(
                &state,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                selected,
                FieldErrors::none(),
                Some(report),
                false,
            )
            .await
        }
        Ok(Started::Job(id)) => {
            let db = state.db.clone();
            let clock = state.clock.clone();
            let tenant = s.tenant.clone();
            let actor = ctx.actor;
            let (file_name, bytes) = (form.file_name, form.bytes);
            tokio::spawn(async move {
                let up = Upload {
                    kind,
                    file_name: &file_name,
                    bytes: &bytes,
                };
                let ctx = Ctx::new(&db, clock.as_ref(), &tenant, actor);
                if let Err(e) = import::run(ctx, id, up).await {
                    tracing::warn!(job = id, error = %e, "import failed");
                }
            });
            Ok(
                Redirect::to(&format!("/t/{}/backoffice/importazioni/{id}", s.slug()))
                    .into_response(),
            )
        }
        Err(f) => render(&state, &s, f.status(), selected, f, None, false).await,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/import/job.html")]
struct JobPage<'a> {
    frame: Frame<'a>,
    job: JobView,
}
framed!(JobPage);

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/import/progress.html")]
struct ProgressFragment<'a> {
    slug: &'a str,
    job: JobView,
}

/// `GET /t/<slug>/backoffice/importazioni/{id}`: how the import went; with htmx only the
/// part that changes.
pub(crate) async fn job_page(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    s.require(IMPORT.roles)?;
    let (job, progress) = import::job(s.ctx(&state), id)
        .await?
        .ok_or_else(|| WebError::NotFound("Importazione non trovata.".into()))?;
    let job = job_view(&job, progress, &s, state.clock.now());
    if headers.get("hx-request").is_some() {
        return Ok(ProgressFragment {
            slug: s.slug(),
            job,
        }
        .into_response());
    }
    Ok(JobPage {
        frame: s.frame(&IMPORT),
        job,
    }
    .into_response())
}
