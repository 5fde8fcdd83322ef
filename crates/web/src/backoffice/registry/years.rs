//! School years: the list with the form of a new year; one year with its form and its
//! calendar (lesson days, Sundays and holidays, the patron saint, closures). Closures are
//! entered on their own page (`/chiusure`), which previews the meals they cancel.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use refettorio_app::registry::SchoolYear;
use refettorio_app::registry::{self as reg, YearCalendar, YearInput};
use refettorio_domain::{ClassId, ClosureScope, DayStatus, SchoolId, SchoolYearId};
use serde::Deserialize;

use super::{Done, REGISTRY, base, changed, done};
use crate::backoffice::Staff;
use crate::filters::{dmy_it as dmy, month_name};
use crate::form::FieldErrors;
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct YearForm {
    #[serde(default)]
    nome: String,
    #[serde(default)]
    inizio: String,
    #[serde(default)]
    fine: String,
    #[serde(rename = "primo-giorno", default)]
    primo_giorno: String,
    #[serde(rename = "ultimo-giorno", default)]
    ultimo_giorno: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl YearForm {
    fn input(&self) -> YearInput {
        YearInput {
            label: self.nome.clone(),
            starts_on: self.inizio.clone(),
            ends_on: self.fine.clone(),
            first_day: self.primo_giorno.clone(),
            last_day: self.ultimo_giorno.clone(),
        }
    }
}

struct YearRow {
    id: i64,
    label: String,
    starts_on: String,
    ends_on: String,
    first_day: String,
    last_day: String,
}

impl From<&SchoolYear> for YearRow {
    fn from(y: &SchoolYear) -> Self {
        YearRow {
            id: y.id.get(),
            label: y.label.clone(),
            starts_on: dmy(&y.starts_on),
            ends_on: dmy(&y.ends_on),
            first_day: dmy(&y.first_day),
            last_day: dmy(&y.last_day),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/years.html")]
struct YearsPage<'a> {
    frame: Frame<'a>,
    base: String,
    years: Vec<YearRow>,
    form: YearInput,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(YearsPage);

async fn render_years(
    state: &AppState,
    s: &Staff,
    form: Option<YearInput>,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let years = reg::school_years(s.ctx(state)).await?;
    // The next year after the last one, as a suggestion.
    let form = form.unwrap_or_else(|| {
        years
            .last()
            .and_then(|y| {
                let next = |d: Date| d.checked_add(1.year()).ok();
                let start = y.ends_on.tomorrow().ok()?;
                let end = next(y.ends_on)?;
                Some(YearInput {
                    label: format!("{}/{}", start.year(), i32::from(start.year()) + 1),
                    starts_on: start.to_string(),
                    ends_on: end.to_string(),
                    ..Default::default()
                })
            })
            .unwrap_or_default()
    });
    let page = YearsPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        years: years.iter().rev().map(YearRow::from).collect(),
        form,
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/anni`
pub(crate) async fn years(
    State(state): State<AppState>,
    s: Staff,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_years(&state, &s, None, FieldErrors::none(), d.message()).await
}

/// `POST …/anagrafiche/anni`: a new school year.
pub(crate) async fn add_year(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(f): Form<YearForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::add_year(s.ctx(&state), &input).await {
        Ok(id) => Ok(done(&format!("{}/anni/{}", base(&s), id.get()), "aggiunto")),
        Err(e) => render_years(&state, &s, Some(input), FieldErrors::of(e)?, None).await,
    }
}

/// One day of the calendar: its number, the table-cell class, a one-letter mark and what it
/// is (Italian).
struct Day {
    day: i8,
    class: &'static str,
    mark: &'static str,
    label: String,
}

struct Month {
    title: String,
    /// Weeks Monday to Sunday; None outside the month.
    weeks: Vec<Vec<Option<Day>>>,
}

/// The months from the first to the last day of lessons, with every day's status for the
/// whole municipality; a day closed only for some schools or classes is marked apart.
fn months(yc: &YearCalendar) -> (Vec<Month>, u32) {
    let cal = &yc.calendar;
    // Ids no school or class has: only closures of the whole municipality apply.
    let (nobody, no_class) = (SchoolId(0), ClassId(0));
    let mut out = Vec::new();
    let mut lesson_days = 0;
    let mut first = yc.year.first_day.first_of_month();
    while first <= yc.year.last_day {
        let mut weeks = Vec::new();
        let mut week: Vec<Option<Day>> = Vec::new();
        for _ in 0..first.weekday().to_monday_zero_offset() {
            week.push(None);
        }
        let mut d = first;
        while d.month() == first.month() {
            let status = cal.day_status(d, nobody, no_class);
            let partial = cal
                .closures
                .iter()
                .any(|c| c.covers(d) && c.scope != ClosureScope::Tenant);
            let (class, mark, label) = match &status {
                DayStatus::SchoolDay if partial => (
                    "table-warning",
                    "P",
                    "Lezione; chiusura di una scuola o di una classe".to_string(),
                ),
                DayStatus::SchoolDay => ("", "", status.label_it()),
                DayStatus::BeforeStart | DayStatus::AfterEnd => (
                    "table-secondary",
                    "",
                    "Fuori dal periodo delle lezioni".into(),
                ),
                DayStatus::Sunday => ("table-secondary", "", status.label_it()),
                DayStatus::NationalHoliday(_) | DayStatus::PatronSaint => {
                    ("table-info", "F", status.label_it())
                }
                DayStatus::Closed { .. } => ("table-danger", "C", status.label_it()),
            };
            if status.is_school_day() {
                lesson_days += 1;
            }
            week.push(Some(Day {
                day: d.day(),
                class,
                mark,
                label,
            }));
            if d.weekday() == Weekday::Sunday {
                weeks.push(std::mem::take(&mut week));
            }
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        if !week.is_empty() {
            while week.len() < 7 {
                week.push(None);
            }
            weeks.push(week);
        }
        out.push(Month {
            title: month_name(first),
            weeks,
        });
        match first.checked_add(1.month()) {
            Ok(n) => first = n,
            Err(_) => break,
        }
    }
    (out, lesson_days)
}

struct ClosureRow {
    from: String,
    to: String,
    kind: &'static str,
    scope: String,
    reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/year.html")]
struct YearPage<'a> {
    frame: Frame<'a>,
    base: String,
    closures_href: String,
    year: SchoolYear,
    form: YearInput,
    months: Vec<Month>,
    lesson_days: u32,
    patron: Option<String>,
    closures: Vec<ClosureRow>,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(YearPage);

async fn render_year(
    state: &AppState,
    s: &Staff,
    id: i64,
    form: Option<YearInput>,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let yc = reg::year_calendar(s.ctx(state), SchoolYearId(id)).await?;
    let (schools, classes) = reg::schools_and_classes(s.ctx(state), yc.year.id).await?;
    let scope = |sc: ClosureScope| match sc {
        ClosureScope::Tenant => "Tutto il Comune".to_string(),
        ClosureScope::School(id) => schools
            .iter()
            .find(|x| x.id == id)
            .map_or_else(|| "Una scuola".into(), |x| x.name.clone()),
        ClosureScope::Class(id) => classes.iter().find(|k| k.id == id).map_or_else(
            || "Una classe".into(),
            |k| {
                let school = schools
                    .iter()
                    .find(|x| x.id == k.school_id)
                    .map(|x| x.name.as_str())
                    .unwrap_or_default();
                format!("Classe {} ({school})", k.name)
            },
        ),
    };
    let closures = yc
        .calendar
        .closures
        .iter()
        .map(|c| ClosureRow {
            from: dmy(&c.from),
            to: dmy(&c.to),
            kind: c.kind.label_it(),
            scope: scope(c.scope),
            reason: c.reason.clone(),
        })
        .collect();
    let (months, lesson_days) = months(&yc);
    let patron = s.tenant.patron_day.and_then(|(m, d)| {
        // "23 aprile": the month's name as the calendar writes it, in lower case.
        let day = Date::new(2000, m, d).ok()?;
        let month = month_name(day);
        let month = month.split(' ').next().unwrap_or_default().to_lowercase();
        Some(format!("{d} {month}"))
    });
    let page = YearPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        closures_href: format!("/t/{}/backoffice/chiusure", s.slug()),
        form: form.unwrap_or_else(|| YearInput::from(&yc.year)),
        year: yc.year,
        months,
        lesson_days,
        patron,
        closures,
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/anni/{id}`: the year's dates and calendar.
pub(crate) async fn year(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_year(&state, &s, id, None, FieldErrors::none(), d.message()).await
}

/// `POST …/anagrafiche/anni/{id}`: the year's name and dates.
pub(crate) async fn edit_year(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<YearForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::edit_year(s.ctx(&state), SchoolYearId(id), &input).await {
        Ok(c) => Ok(changed(&format!("{}/anni/{id}", base(&s)), c)),
        Err(e) => render_year(&state, &s, id, Some(input), FieldErrors::of(e)?, None).await,
    }
}
