//! The home of the personal area, the children's cards and a child's meals.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use refettorio_app::portal::{self, AccountView, Child, Entry, Overview};
use refettorio_domain::{Cents, EnrolmentId, day_it};
use serde::Deserialize;

use super::nav::Section;
use crate::filters;
use crate::pages::{Frame, framed};
use crate::session::Citizen;
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "portal/home.html")]
struct HomePage<'a> {
    frame: Frame<'a>,
    name: &'a str,
    today: String,
    overview: Overview,
    low: Vec<AccountView>,
    /// Online recharges are open (the low-balance alert offers *Ricarica*).
    pagopa: bool,
    /// The enrolment whose card's one-tap button was just used.
    saved: Option<i64>,
    /// After the one tap for every child: how many meals changed.
    saved_all: Option<usize>,
    /// The day every child's card speaks of, when two or more meals of it can be cancelled
    /// at once: (`YYYY-MM-DD`, "oggi" or "domani").
    all: Option<(String, &'static str)>,
}
framed!(HomePage);

#[derive(Deserialize)]
pub(crate) struct HomeQuery {
    salvato: Option<i64>,
    salvati: Option<usize>,
}

pub(crate) async fn home(
    State(state): State<AppState>,
    c: Citizen,
    Query(q): Query<HomeQuery>,
) -> Result<Response, WebError> {
    let overview = portal::overview(c.ctx(&state), &c.access).await?;
    let name = c.full_name();
    let cancellable: Vec<&portal::CardMeal> = overview
        .children
        .iter()
        .flat_map(|ch| &ch.services)
        .filter_map(|s| s.meal.as_ref())
        .filter(|m| m.cancellable())
        .collect();
    let all = match cancellable.first() {
        Some(first) if cancellable.len() >= 2 && cancellable.iter().all(|m| m.day == first.day) => {
            Some((first.day.to_string(), first.when_lower_it()))
        }
        _ => None,
    };
    Ok(HomePage {
        frame: c.frame(Section::Home, "Area personale", &name),
        name: &name,
        today: day_it(overview.today),
        low: overview
            .accounts
            .iter()
            .filter(|a| a.low)
            .cloned()
            .collect(),
        overview,
        pagopa: refettorio_app::pagopa::enabled(&c.tenant),
        saved: q.salvato,
        saved_all: q.salvati,
        all,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/children.html")]
struct ChildrenPage<'a> {
    frame: Frame<'a>,
    children: Vec<Child>,
    /// For the fee and the meal price: shown only to who may see the family's money.
    access: &'a portal::Access,
}
framed!(ChildrenPage);

pub(crate) async fn children(
    State(state): State<AppState>,
    c: Citizen,
) -> Result<Response, WebError> {
    let overview = portal::overview(c.ctx(&state), &c.access).await?;
    let name = c.full_name();
    Ok(ChildrenPage {
        frame: c.frame(Section::Children, "Figli", &name),
        children: overview.children,
        access: &c.access,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/attendance.html")]
struct AttendancePage<'a> {
    frame: Frame<'a>,
    pupil_name: String,
    meals: Vec<Entry>,
    total: Cents,
    /// Whether the guardian may see the family's money (the payer, or a delegate the payer
    /// allowed): otherwise the page shows the meals without their prices and total.
    prices: bool,
}
framed!(AttendancePage);

pub(crate) async fn attendance(
    State(state): State<AppState>,
    c: Citizen,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    let (_, pupil, meals) = portal::attendance(c.ctx(&state), &c.access, EnrolmentId(id)).await?;
    let total = Cents::checked_sum(meals.iter().map(|m| m.amount)).unwrap_or(Cents(0));
    let name = c.full_name();
    Ok(AttendancePage {
        frame: c.frame(Section::Children, "Presenze", &name),
        pupil_name: format!("{} {}", pupil.first_name, pupil.last_name),
        meals,
        total: Cents(-total.get()),
        prices: c.access.sees_payments(pupil.family_id),
    }
    .into_response())
}
