//! The meal calendar: a month of one child's meals, and changing days (with and without
//! htmx).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use refettorio_app::portal::{self, DayState, MonthView, Overview};
use refettorio_domain::{EnrolmentId, MealChoice, day_it};
use serde::Deserialize;

use super::nav::Section;
use crate::filters::{dmy_it, month_name};
use crate::form::FormResult;
use crate::form::parse_day;
use crate::pages::{Frame, framed};
use crate::session::Citizen;
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct CalendarQuery {
    iscrizione: Option<i64>,
    mese: Option<String>,
    giorno: Option<String>,
    /// After a save: the last day of the range saved (`giorno` is the first).
    al: Option<String>,
    salvati: Option<u32>,
}

/// A child's refezione enrolment, for the selector above the calendar.
pub(crate) struct Choice {
    pub id: i64,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/bookings.html")]
struct BookingsPage<'a> {
    frame: Frame<'a>,
    choices: Vec<Choice>,
    view: Option<MonthView>,
    weeks: Vec<Vec<Option<Cell>>>,
    month_label: String,
    prev: String,
    next: String,
    month_param: String,
    form_from: String,
    form_to: String,
    form_choice: &'static str,
    error: Option<String>,
    success: Option<String>,
}
framed!(BookingsPage);

/// A day cell of the calendar, ready for the template.
pub(crate) struct Cell {
    pub day: i8,
    pub date: String,
    /// "lunedì 23 novembre 2026", for screen readers.
    pub full: String,
    pub label: String,
    pub detail: Option<String>,
    pub class: &'static str,
    pub today: bool,
    pub changeable: bool,
}

/// The weeks of a month, Monday first, with empty cells before the 1st and after the last day.
fn cells(first: Date, days: &[portal::CalendarDay], today: Date) -> Vec<Vec<Option<Cell>>> {
    let offset = usize::try_from(first.weekday().to_monday_zero_offset()).unwrap_or(0);
    let mut flat: Vec<Option<Cell>> = (0..offset).map(|_| None).collect();
    for d in days {
        let (label, detail, class, changeable) = match &d.state {
            DayState::Canteen { choice, locked } => (
                choice.label_it().to_string(),
                locked.clone(),
                match (choice, locked.is_some()) {
                    (MealChoice::Present, false) => "rf-day--booked",
                    (MealChoice::Present, true) => "rf-day--booked rf-day--locked",
                    (MealChoice::Absent, false) => "rf-day--absent",
                    (MealChoice::Absent, true) => "rf-day--absent rf-day--locked",
                    (MealChoice::Bland, false) => "rf-day--bland",
                    (MealChoice::Bland, true) => "rf-day--bland rf-day--locked",
                },
                locked.is_none(),
            ),
            DayState::NoCanteen(reason) => (
                "Nessun pasto".to_string(),
                Some(reason.clone()),
                "rf-day--closed",
                false,
            ),
        };
        flat.push(Some(Cell {
            day: d.date.day(),
            date: d.date.to_string(),
            full: day_it(d.date),
            label,
            detail,
            class,
            today: d.date == today,
            changeable,
        }));
    }
    while !flat.len().is_multiple_of(7) {
        flat.push(None);
    }
    let mut weeks = Vec::new();
    let mut it = flat.into_iter().peekable();
    while it.peek().is_some() {
        weeks.push(it.by_ref().take(7).collect());
    }
    weeks
}

fn parse_month(s: Option<&str>, today: Date) -> Date {
    s.and_then(|m| format!("{m}-01").parse::<Date>().ok())
        .unwrap_or_else(|| today.first_of_month())
}

/// The refezione enrolments of the guardian's children, from the overview.
fn meal_enrolments(o: &Overview) -> Vec<(i64, String)> {
    o.children
        .iter()
        .flat_map(|ch| {
            ch.services
                .iter()
                .filter(|s| s.service.kind == refettorio_domain::ServiceKind::Refezione)
                .map(move |s| {
                    (
                        s.enrolment.id.get(),
                        format!("{} – {}", ch.pupil.first_name, s.school.name),
                    )
                })
        })
        .collect()
}

async fn bookings_page(
    state: &AppState,
    c: &Citizen,
    q: &CalendarQuery,
    error: Option<String>,
    form: Option<(String, String, MealChoice)>,
) -> Result<Response, WebError> {
    let overview = portal::overview(c.ctx(state), &c.access).await?;
    let list = meal_enrolments(&overview);
    let selected = q.iscrizione.or_else(|| list.first().map(|(id, _)| *id));
    let month = parse_month(q.mese.as_deref(), overview.today);
    let view = match selected {
        Some(id) => Some(portal::month(c.ctx(state), &c.access, EnrolmentId(id), month).await?),
        None => None,
    };
    let day = q.giorno.as_deref().and_then(parse_day);
    let until = q.al.as_deref().and_then(parse_day);
    // The form proposes a day that has a meal, with its current choice: a tap on a day and
    // *Salva* never cancels a meal by accident. After a save it shows what was saved.
    let proposed = |d: Date| view.as_ref().and_then(|v| v.changeable_choice(d));
    let (form_from, form_to, form_choice) = match (form, day) {
        (Some((f, t, ch)), _) => (f, t, Some(ch)),
        (None, Some(d)) if proposed(d).is_some() || q.salvati.is_some() => {
            let to = until.filter(|t| *t >= d).unwrap_or(d);
            let choice = proposed(d).or_else(|| proposed(to));
            (d.to_string(), to.to_string(), choice)
        }
        _ => match view
            .as_ref()
            .and_then(|v| v.next_changeable(overview.today))
        {
            Some((d, choice)) => (d.to_string(), d.to_string(), Some(choice)),
            None => (String::new(), String::new(), None),
        },
    };
    let name = c.full_name();
    let prev = portal::shift_month(month, -1).unwrap_or(month);
    let next = portal::shift_month(month, 1).unwrap_or(month);
    let success = q.salvati.map(|n| {
        let days = match (day, until) {
            (Some(d), Some(t)) if t > d => format!(" dal {} al {}", dmy_it(&d), dmy_it(&t)),
            (Some(d), _) => format!(" per {}", day_it(d)),
            _ => String::new(),
        };
        match n {
            0 => format!("Nessun giorno da cambiare{days}: la scelta era già questa."),
            1 => format!("Modifica salvata{days}: 1 giorno aggiornato."),
            n => format!("Modifica salvata{days}: {n} giorni aggiornati."),
        }
    });
    let page = BookingsPage {
        frame: c.frame(Section::Bookings, "Prenotazioni", &name),
        choices: list
            .into_iter()
            .map(|(id, label)| Choice {
                id,
                label,
                selected: Some(id) == selected,
            })
            .collect(),
        weeks: view
            .as_ref()
            .map(|v| cells(v.first, &v.days, v.today))
            .unwrap_or_default(),
        view,
        month_label: month_name(month),
        prev: prev.strftime("%Y-%m").to_string(),
        next: next.strftime("%Y-%m").to_string(),
        month_param: month.strftime("%Y-%m").to_string(),
        form_from,
        form_to,
        form_choice: form_choice.map_or("", MealChoice::as_str),
        success,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, page).into_response())
}

pub(crate) async fn bookings(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, WebError> {
    bookings_page(&state, &c, &q, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    iscrizione: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    scelta: String,
    mese: Option<String>,
    /// `home`: the one-tap buttons of the home, which come back to the child's card.
    #[serde(default)]
    ritorno: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some()
}

pub(crate) async fn change(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(f): Form<ChangeForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
    // A tampered id is not a validation error: it is someone else's child.
    let id: i64 = f
        .iscrizione
        .trim()
        .parse()
        .map_err(|_| WebError::Forbidden)?;
    // A database that cannot answer is not a tampered id: 503, not 403.
    portal::enrolment(c.ctx(&state), &c.access, EnrolmentId(id))
        .await
        .map_err(WebError::not_yours)?;
    let choice = MealChoice::parse(f.scelta.trim());
    let from = parse_day(&f.dal);
    let to = if f.al.trim().is_empty() {
        from
    } else {
        parse_day(&f.al)
    };
    let mut q = CalendarQuery {
        iscrizione: Some(id),
        mese: f.mese.clone(),
        giorno: None,
        al: None,
        salvati: None,
    };
    let (Some(choice), Some(from), Some(to)) = (choice, from, to) else {
        let msg = "Indica le date (giorno o periodo dal–al) e la scelta: presente, assente o pasto in bianco.";
        return error_page(&state, &c, &q, msg.into(), &f).await;
    };
    let done = portal::change(c.ctx(&state), &c.access, EnrolmentId(id), from, to, choice)
        .await
        .or_errors()
        .map_err(WebError::not_yours)?;
    match done {
        Ok(days) => {
            let n = u32::try_from(days.len()).unwrap_or(u32::MAX);
            let month = from.strftime("%Y-%m").to_string();
            if f.ritorno == "home" {
                return Ok(Redirect::to(&format!(
                    "/t/{}/area-personale?salvato={id}#pasto-{id}",
                    c.tenant.slug
                ))
                .into_response());
            }
            if is_htmx(&headers) {
                q.mese = Some(month);
                q.salvati = Some(n);
                q.giorno = Some(from.to_string());
                q.al = Some(to.to_string());
                bookings_page(&state, &c, &q, None, None).await
            } else {
                // Back to the form, where the confirmation is.
                Ok(Redirect::to(&format!(
                    "/t/{}/area-personale/prenotazioni?iscrizione={id}&mese={month}&giorno={from}&al={to}&salvati={n}#modifica",
                    c.tenant.slug
                ))
                .into_response())
            }
        }
        Err(refused) => {
            let msg = refused.first().unwrap_or_default().to_string();
            error_page(&state, &c, &q, msg, &f).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ChangeAllForm {
    #[serde(default)]
    giorno: String,
    #[serde(default)]
    scelta: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST …/prenotazioni/tutti`: the home's one tap for every child: the same choice on `giorno`
/// for each child whose card speaks of that day and whose meal can still change.
pub(crate) async fn change_all(
    State(state): State<AppState>,
    c: Citizen,
    headers: HeaderMap,
    Form(f): Form<ChangeAllForm>,
) -> Result<Response, WebError> {
    c.check_csrf(&headers, &f.csrf)?;
    let (Some(day), Some(choice)) = (parse_day(&f.giorno), MealChoice::parse(f.scelta.trim()))
    else {
        return Err(WebError::App(refettorio_app::AppError::Invalid(
            "Indica il giorno e la scelta.".into(),
        )));
    };
    let overview = portal::overview(c.ctx(&state), &c.access).await?;
    let mut changed = 0usize;
    for s in overview.children.iter().flat_map(|ch| &ch.services) {
        let Some(m) = &s.meal else { continue };
        let applies = if choice == MealChoice::Absent {
            m.cancellable()
        } else {
            m.restorable()
        };
        if m.day != day || !applies {
            continue;
        }
        let done = portal::change(c.ctx(&state), &c.access, s.enrolment.id, day, day, choice)
            .await
            .or_errors()
            .map_err(WebError::not_yours)?;
        if let Ok(days) = done {
            changed += days.len();
        }
    }
    Ok(Redirect::to(&format!(
        "/t/{}/area-personale?salvati={changed}#pasti",
        c.tenant.slug
    ))
    .into_response())
}

async fn error_page(
    state: &AppState,
    c: &Citizen,
    q: &CalendarQuery,
    msg: String,
    f: &ChangeForm,
) -> Result<Response, WebError> {
    // 422, which htmx swaps in too (configured in base.html): the message is in the page.
    let choice = MealChoice::parse(f.scelta.trim()).unwrap_or(MealChoice::Absent);
    bookings_page(
        state,
        c,
        q,
        Some(msg),
        Some((f.dal.clone(), f.al.clone(), choice)),
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use portal::CalendarDay;

    #[test]
    fn a_month_is_laid_out_in_weeks_from_monday() {
        // November 2026 starts on a Sunday: six empty cells, then 30 days, then six more.
        let first = jiff::civil::date(2026, 11, 1);
        let days: Vec<CalendarDay> = (0..30)
            .map(|i| CalendarDay {
                date: first.checked_add(jiff::Span::new().days(i)).unwrap(),
                state: if i == 23 {
                    DayState::Canteen {
                        choice: MealChoice::Bland,
                        locked: None,
                    }
                } else {
                    DayState::NoCanteen("Domenica".into())
                },
            })
            .collect();
        let weeks = cells(first, &days, jiff::civil::date(2026, 11, 23));
        assert_eq!(weeks.len(), 6);
        assert!(weeks.iter().all(|w| w.len() == 7));
        assert!(weeks[0][..6].iter().all(Option::is_none));
        let sunday = weeks[0][6].as_ref().unwrap();
        assert_eq!((sunday.day, sunday.changeable), (1, false));
        let monday = weeks[4][0].as_ref().unwrap();
        assert_eq!(monday.full, "lunedì 23 novembre 2026");
        assert!(monday.today);
        let tuesday = weeks[4][1].as_ref().unwrap();
        assert_eq!(tuesday.label, "Pasto in bianco");
        assert_eq!(tuesday.class, "rf-day--bland");
        assert!(tuesday.changeable && !tuesday.today);
        let last = weeks[5][0].as_ref().unwrap();
        assert_eq!(last.day, 30);
        assert!(weeks[5][1..].iter().all(Option::is_none));
    }
}
