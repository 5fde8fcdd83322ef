//! The reports (`/backoffice/report`): an index, and one page per report whose tables are
//! exactly what its CSV and XLSX downloads hold (`/report/<nome>/csv?tabella=N`), with an
//! accessible SVG bar chart drawn on the server (no script) above the table of its numbers.
//!
//! The kitchen sees meal counts (today's meals, meals served); money (entries and recharges,
//! balances below zero) is for the office only.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use refettorio_app::reports::{self, Cell, ExportFormat, Period, Table};
use refettorio_domain::{Cents, StaffRole, day_it, today};
use serde::Deserialize;

use super::{REPORTS, Section, Staff};
use crate::form::FieldErrors;
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

const COUNTS: &[StaffRole] = &[StaffRole::Kitchen, StaffRole::Office];
const MONEY: &[StaffRole] = &[StaffRole::Office];

pub(crate) const MEALS: Section = Section {
    path: "/report/pasti",
    title: "Pasti del giorno",
    summary: "I pasti di un giorno per scuola, classe e dieta: previsione fino all'ora limite, definitivi dopo la chiusura.",
    roles: COUNTS,
};
pub(crate) const ATTENDANCE: Section = Section {
    path: "/report/presenze",
    title: "Pasti serviti",
    summary: "I pasti serviti per giorno o per mese, per scuola e classe, con il grafico dei pasti al giorno.",
    roles: COUNTS,
};
pub(crate) const REVENUE: Section = Section {
    path: "/report/incassi",
    title: "Incassi e ricariche",
    summary: "I movimenti di un periodo per voce (ricariche, pasti, storni, rettifiche, rimborsi) e le ricariche per settimana, con il grafico.",
    roles: MONEY,
};
pub(crate) const BALANCES: Section = Section {
    path: "/report/saldi",
    title: "Saldi e morosità",
    summary: "I conti sotto zero con l'intestatario e il totale della morosità; il credito delle famiglie.",
    roles: MONEY,
};

/// The choices of the attendance report's grouping.
const PER_OPTIONS: [(&str, &str); 2] = [("giorno", "Per giorno"), ("mese", "Per mese")];

/// The reports, in the index's order.
const ALL: [&Section; 4] = [&MEALS, &ATTENDANCE, &REVENUE, &BALANCES];

/// The report at `/report/<name>`.
fn report_named(name: &str) -> Result<&'static Section, WebError> {
    ALL.iter()
        .copied()
        .find(|s| s.path.rsplit('/').next() == Some(name))
        .ok_or_else(|| WebError::NotFound("Report non trovato.".into()))
}

#[derive(Deserialize, Default)]
pub(crate) struct ReportQuery {
    #[serde(default)]
    giorno: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    per: String,
    tabella: Option<usize>,
}

/// The filter of a report's form.
enum Filter {
    Day,
    Period { per_month: Option<bool> },
    None,
}

/// A bar of a chart, in the SVG's units.
struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    /// The value as the table shows it, for the bar's tooltip.
    label: String,
}

/// A bar chart drawn on the server: the numbers are also in the table named `table`.
struct Chart {
    id: &'static str,
    title: String,
    description: String,
    bars: Vec<Bar>,
    /// (x, text) of the labels under the axis.
    ticks: Vec<(f64, String)>,
    max_label: String,
}

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 220.0;
const CHART_LEFT: f64 = 8.0;
const CHART_TOP: f64 = 24.0;

impl Chart {
    /// `points`: (label under the axis, value, value as text); at most ten labels are shown.
    fn new(
        id: &'static str,
        title: String,
        table: &str,
        points: &[(String, i64, String)],
    ) -> Option<Chart> {
        if points.is_empty() {
            return None;
        }
        let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
        let slot = (CHART_W - CHART_LEFT) / points.len() as f64;
        let width = (slot * 0.8).max(1.0);
        let every = points.len().div_ceil(10);
        let bars = points
            .iter()
            .enumerate()
            .map(|(i, (label, v, text))| {
                let height = CHART_H * (*v).max(0) as f64 / max as f64;
                Bar {
                    x: CHART_LEFT + slot * i as f64 + (slot - width) / 2.0,
                    y: CHART_TOP + CHART_H - height,
                    width,
                    height,
                    label: format!("{label}: {text}"),
                }
            })
            .collect();
        let ticks = points
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, (label, _, _))| (CHART_LEFT + slot * (i as f64 + 0.5), label.clone()))
            .collect();
        let (top, top_text) = points
            .iter()
            .max_by_key(|p| p.1)
            .map(|p| (p.0.clone(), p.2.clone()))
            .unwrap_or_default();
        Some(Chart {
            id,
            description: format!(
                "Grafico a barre di {} valori; il più alto è {top_text} ({top}). I numeri sono nella tabella «{table}».",
                points.len()
            ),
            title,
            bars,
            ticks,
            max_label: points
                .iter()
                .max_by_key(|p| p.1)
                .map(|p| p.2.clone())
                .unwrap_or_default(),
        })
    }

    fn view_box(&self) -> String {
        format!("0 0 {CHART_W} {}", CHART_H + CHART_TOP + 28.0)
    }

    fn axis_y(&self) -> f64 {
        CHART_TOP + CHART_H
    }

    fn label_y(&self) -> f64 {
        CHART_TOP + CHART_H + 20.0
    }
}

/// A table as the page shows it: the cells as text, numbers aligned right.
struct ShownTable {
    caption: String,
    columns: Vec<String>,
    rows: Vec<Vec<(String, bool)>>,
    totals: Vec<Vec<(String, bool)>>,
    csv: String,
    xlsx: String,
}

fn shown(cells: &[Cell]) -> Vec<(String, bool)> {
    cells
        .iter()
        .map(|c| match c {
            Cell::Text(s) => (s.clone(), false),
            Cell::Count(n) => (n.to_string(), true),
            Cell::Money(c) => (Cents(*c).format_it(), true),
            Cell::Date(d) => (d.strftime("%d/%m/%Y").to_string(), false),
            Cell::Empty => (String::new(), false),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/reports/index.html")]
struct IndexPage<'a> {
    frame: Frame<'a>,
    entries: Vec<super::Entry>,
}
framed!(IndexPage);

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/reports/report.html")]
struct ReportPage<'a> {
    frame: Frame<'a>,
    title: &'static str,
    action: String,
    filter: Filter,
    giorno: String,
    dal: String,
    al: String,
    per: String,
    per_options: &'static [(&'static str, &'static str)],
    errors: FieldErrors,
    /// e.g. "dal 01/11/2026 al 23/11/2026", or the day with its state.
    heading: String,
    badge: Option<(&'static str, &'static str)>,
    notes: Vec<String>,
    /// (label, value) of the key figures.
    figures: Vec<(&'static str, String)>,
    chart: Option<Chart>,
    tables: Vec<ShownTable>,
}
framed!(ReportPage);

/// `GET /t/<slug>/backoffice/report`: the reports this role may open.
pub(crate) async fn reports(s: Staff) -> Result<Response, WebError> {
    s.require(REPORTS.roles)?;
    let base = format!("/t/{}/backoffice", s.slug());
    let entries = ALL
        .iter()
        .filter(|x| x.roles.contains(&s.user.role))
        .map(|x| super::Entry {
            href: format!("{base}{}", x.path),
            title: x.title,
            summary: x.summary,
        })
        .collect();
    Ok(IndexPage {
        frame: s.frame(&REPORTS),
        entries,
    }
    .into_response())
}

/// What a report computed: its page (tables, chart, figures) before the layout.
struct Built {
    heading: String,
    badge: Option<(&'static str, &'static str)>,
    notes: Vec<String>,
    figures: Vec<(&'static str, String)>,
    chart: Option<Chart>,
    tables: Vec<Table>,
    /// A name for the files, e.g. "presenze-2026-11-01-2026-11-23".
    file: String,
}

fn period_of(q: &ReportQuery, default: Period) -> Result<Period, FieldErrors> {
    reports::period(&q.dal, &q.al, default).map_err(|e| {
        FieldErrors::of(e).unwrap_or_else(|other| FieldErrors::one("al", other.to_string()))
    })
}

/// Computes the report `section` for the query; field errors when the filter is wrong.
async fn build(
    state: &AppState,
    s: &Staff,
    section: &'static Section,
    q: &ReportQuery,
) -> Result<Result<Built, FieldErrors>, WebError> {
    let name = section.path.rsplit('/').next().unwrap_or("report");
    let clock = state.clock.as_ref();
    if section.path == MEALS.path {
        let day = match q.giorno.trim() {
            "" => today(clock, &s.tenant.timezone),
            g => match g.parse() {
                Ok(d) => d,
                Err(_) => {
                    return Ok(Err(FieldErrors::one(
                        "giorno",
                        "Data non valida: usa il formato gg/mm/aaaa.",
                    )));
                }
            },
        };
        let numbers = refettorio_app::kitchen::kitchen_numbers(s.ctx(state), day).await?;
        let (badge, note) = if numbers.frozen {
            (
                ("Definitivo", "bg-success"),
                "La giornata è chiusa: questi numeri non cambiano più.",
            )
        } else {
            (
                ("Previsione", "bg-warning text-dark"),
                "Previsione: le famiglie possono ancora cambiare i pasti fino all'ora limite.",
            )
        };
        let mut notes = vec![note.to_string()];
        if !numbers.diets.is_empty() {
            notes.push(format!(
                "Codici delle diete: {}.",
                numbers
                    .diets
                    .iter()
                    .map(|(c, n)| format!("{c} = {n}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        return Ok(Ok(Built {
            heading: day_it(day),
            badge: Some(badge),
            notes,
            figures: vec![("Pasti", numbers.total.total.to_string())],
            chart: None,
            tables: vec![reports::meals_table(&s.tenant, &numbers)],
            file: format!("{name}-{day}"),
        }));
    }
    if section.path == BALANCES.path {
        let b = reports::balances(s.ctx(state)).await?;
        let now = super::when(&clock.now(), &s.tenant.timezone);
        return Ok(Ok(Built {
            heading: format!("Saldi al {now}"),
            badge: None,
            notes: vec![],
            figures: vec![
                ("Totale morosità", b.summary.arrears.format_it()),
                ("Conti sotto zero", b.summary.negative.to_string()),
                ("Credito delle famiglie", b.summary.credit.format_it()),
            ],
            chart: None,
            tables: b.tables(),
            file: format!("{name}-{}", today(clock, &s.tenant.timezone)),
        }));
    }
    if section.path == ATTENDANCE.path {
        let monthly = q.per == "mese";
        let p = match period_of(q, reports::this_month(clock, &s.tenant)) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let a = reports::attendance(s.ctx(state), p, monthly).await?;
        let tables = a.tables();
        let table_title = tables.get(1).map(|t| t.title.clone()).unwrap_or_default();
        let points: Vec<(String, i64, String)> = a
            .totals
            .iter()
            .map(|(d, n)| (a.period_label(d), *n, format!("{n} pasti")))
            .collect();
        let title = if monthly {
            "Pasti serviti per mese"
        } else {
            "Pasti serviti per giorno"
        };
        return Ok(Ok(Built {
            heading: p.label(),
            badge: None,
            notes: vec![
                "Contano i pasti addebitati alla chiusura di ogni giornata, meno quelli stornati."
                    .into(),
            ],
            figures: vec![("Pasti serviti", a.total.to_string())],
            chart: Chart::new("grafico-pasti", title.into(), &table_title, &points),
            tables,
            file: format!("{name}-{}-{}", p.from, p.to),
        }));
    }
    // REVENUE
    let default = reports::last_weeks(clock, &s.tenant)?;
    let p = match period_of(q, default) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let r = reports::revenue(s.ctx(state), p).await?;
    let tables = r.tables();
    let table_title = tables.get(1).map(|t| t.title.clone()).unwrap_or_default();
    let points: Vec<(String, i64, String)> = r
        .weeks
        .iter()
        .map(|w| {
            (
                w.period.strftime("%d/%m").to_string(),
                w.amount.get(),
                w.amount.format_it(),
            )
        })
        .collect();
    Ok(Ok(Built {
        heading: p.label(),
        badge: None,
        notes: vec![
            "Le date sono quelle dei movimenti (il giorno del pasto o del pagamento).".into(),
        ],
        figures: vec![
            ("Ricariche", r.recharged.format_it()),
            (
                "Pasti addebitati (al netto degli storni)",
                r.meals.format_it(),
            ),
            ("Saldo dei movimenti", r.net.format_it()),
        ],
        chart: Chart::new(
            "grafico-ricariche",
            "Ricariche per settimana (euro)".into(),
            &table_title,
            &points,
        ),
        tables,
        file: format!("{name}-{}-{}", p.from, p.to),
    }))
}

/// `GET /t/<slug>/backoffice/report/<nome>`
pub(crate) async fn report(
    State(state): State<AppState>,
    s: Staff,
    Path((_, name)): Path<(String, String)>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let section = report_named(&name)?;
    s.require(section.roles)?;
    let built = build(&state, &s, section, &q).await?;
    Ok(render(&s, section, &q, built))
}

fn render(
    s: &Staff,
    section: &'static Section,
    q: &ReportQuery,
    built: Result<Built, FieldErrors>,
) -> Response {
    let base = format!("/t/{}/backoffice{}", s.slug(), section.path);
    let filter = if section.path == MEALS.path {
        Filter::Day
    } else if section.path == BALANCES.path {
        Filter::None
    } else if section.path == ATTENDANCE.path {
        Filter::Period {
            per_month: Some(q.per == "mese"),
        }
    } else {
        Filter::Period { per_month: None }
    };
    let (status, errors, built) = match built {
        Ok(b) => (StatusCode::OK, FieldErrors::none(), Some(b)),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, e, None),
    };
    // The downloads repeat the filter as typed (it was valid), plus the table's number.
    let query = format!(
        "giorno={}&dal={}&al={}&per={}",
        crate::session::percent_encode(q.giorno.trim()),
        crate::session::percent_encode(q.dal.trim()),
        crate::session::percent_encode(q.al.trim()),
        crate::session::percent_encode(q.per.trim()),
    );
    let (heading, badge, notes, figures, chart, tables) = match built {
        Some(b) => (
            b.heading,
            b.badge,
            b.notes,
            b.figures,
            b.chart,
            b.tables
                .iter()
                .enumerate()
                .map(|(i, t)| ShownTable {
                    caption: t.title.clone(),
                    columns: t.columns.clone(),
                    rows: t.rows.iter().map(|r| shown(r)).collect(),
                    totals: t.totals.iter().map(|r| shown(r)).collect(),
                    csv: format!("{base}/csv?{query}&tabella={i}"),
                    xlsx: format!("{base}/xlsx?{query}&tabella={i}"),
                })
                .collect(),
        ),
        None => (String::new(), None, vec![], vec![], None, vec![]),
    };
    let page = ReportPage {
        frame: s.frame(&REPORTS).titled(section.title),
        title: section.title,
        action: base,
        filter,
        giorno: q.giorno.trim().to_string(),
        dal: q.dal.trim().to_string(),
        al: q.al.trim().to_string(),
        per: q.per.trim().to_string(),
        per_options: &PER_OPTIONS,
        errors,
        heading,
        badge,
        notes,
        figures,
        chart,
        tables,
    };
    (status, page).into_response()
}

/// `GET /t/<slug>/backoffice/report/<nome>/<csv|xlsx>?…&tabella=N`: a table of the report as
/// a file. A wrong filter shows the page with its errors (422).
pub(crate) async fn report_file(
    State(state): State<AppState>,
    s: Staff,
    Path((_, name, format)): Path<(String, String, String)>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let section = report_named(&name)?;
    s.require(section.roles)?;
    let format = ExportFormat::parse(&format)
        .ok_or_else(|| WebError::NotFound("Formato non disponibile.".into()))?;
    let built = match build(&state, &s, section, &q).await? {
        Ok(b) => b,
        Err(e) => return Ok(render(&s, section, &q, Err(e))),
    };
    let n = q.tabella.unwrap_or(0);
    let table = built
        .tables
        .into_iter()
        .nth(n)
        .ok_or_else(|| WebError::NotFound("Tabella non trovata.".into()))?;
    let bytes = reports::export(table, format).await?;
    Ok(crate::files::attachment(
        bytes,
        format.content_type(),
        &format!("{}-{}.{}", built.file, n + 1, format.extension()),
    ))
}
