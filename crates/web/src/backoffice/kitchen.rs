//! The kitchen's page (kitchen and office): a day's meals per school and class, standard,
//! bland and per diet code, marked "Previsione" before the close and "Definitivo" after, with
//! the CSV, XLSX and PDF of the same numbers. No pupil names, no money. Large buttons for a tablet.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use refettorio_app::kitchen::{self, KitchenFormat, KitchenNumbers, kitchen_file, kitchen_numbers};
use refettorio_domain::{day_it, today};
use serde::Deserialize;

use super::{KITCHEN, Staff};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct DayQuery {
    giorno: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/kitchen.html")]
struct KitchenPage<'a> {
    frame: Frame<'a>,
    /// As typed (or today).
    giorno: String,
    error: Option<&'static str>,
    day_label: String,
    numbers: Option<KitchenNumbers>,
    /// The diet codes that appear, in the columns' order.
    codes: Vec<String>,
    /// Every diet code of the service: (code, name, kind), for the kitchen's reference.
    all_diets: Vec<(String, String, &'static str)>,
}
framed!(KitchenPage);

impl KitchenPage<'_> {
    fn diet(&self, counts: &kitchen::Counts, code: &str) -> u32 {
        counts.diets.get(code).copied().unwrap_or(0)
    }
}

/// The day asked for (today when none), or the typed text when it is not a date.
fn day_of(state: &AppState, s: &Staff, q: &DayQuery) -> Result<Date, String> {
    match q.giorno.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        None => Ok(today(state.clock.as_ref(), &s.tenant.timezone)),
        Some(g) => g.parse::<Date>().map_err(|_| g.to_string()),
    }
}

/// `GET /t/<slug>/backoffice/cucina?giorno=YYYY-MM-DD`
pub(crate) async fn kitchen(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<DayQuery>,
) -> Result<Response, WebError> {
    s.require(KITCHEN.roles)?;
    let (status, giorno, error, numbers) = match day_of(&state, &s, &q) {
        Ok(day) => {
            let n = kitchen_numbers(s.ctx(&state), day).await?;
            (StatusCode::OK, day.to_string(), None, Some(n))
        }
        Err(typed) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            typed,
            Some("Data non valida: usa il formato gg/mm/aaaa."),
            None,
        ),
    };
    let codes = numbers
        .as_ref()
        .map(|n| n.total.diets.keys().cloned().collect())
        .unwrap_or_default();
    let all_diets = kitchen::diet_legend(s.ctx(&state)).await?;
    let page = KitchenPage {
        frame: s.frame(&KITCHEN),
        giorno,
        error,
        day_label: numbers.as_ref().map(|n| day_it(n.day)).unwrap_or_default(),
        numbers,
        codes,
        all_diets,
    };
    Ok((status, page).into_response())
}

async fn file(
    state: &AppState,
    s: &Staff,
    q: &DayQuery,
    format: KitchenFormat,
) -> Result<Response, WebError> {
    s.require(KITCHEN.roles)?;
    let day = day_of(state, s, q).map_err(|_| WebError::NotFound("Data non valida.".into()))?;
    let bytes = kitchen_file(s.ctx(state), day, format).await?;
    let (kind, ext) = match format {
        KitchenFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        KitchenFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        KitchenFormat::Pdf => ("application/pdf", "pdf"),
    };
    Ok(crate::files::attachment(
        bytes,
        kind,
        &format!("pasti-{day}.{ext}"),
    ))
}

/// `GET /t/<slug>/backoffice/cucina/csv?giorno=…`
pub(crate) async fn kitchen_csv(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<DayQuery>,
) -> Result<Response, WebError> {
    file(&state, &s, &q, KitchenFormat::Csv).await
}

/// `GET /t/<slug>/backoffice/cucina/xlsx?giorno=…`
pub(crate) async fn kitchen_xlsx(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<DayQuery>,
) -> Result<Response, WebError> {
    file(&state, &s, &q, KitchenFormat::Xlsx).await
}

/// `GET /t/<slug>/backoffice/cucina/pdf?giorno=…`
pub(crate) async fn kitchen_pdf(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<DayQuery>,
) -> Result<Response, WebError> {
    file(&state, &s, &q, KitchenFormat::Pdf).await
}
