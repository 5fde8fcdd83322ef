//! The school's validation of enrolments on its pages (`/scuola` and a class page): each
//! canteen enrolment of its schools not validated yet, to confirm or to report to the office
//! with a reason. The office sees the same list (read only) and a count on the people search.

use std::collections::HashMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::registry::School;
use refettorio_app::validation::Pending;
use refettorio_app::validation::{self, Verdict};
use refettorio_domain::{EnrolmentId, SchoolId, StaffRole};

use super::Staff;
use super::people::{SCHOOL_CLASSES, class_roster_page, school_classes_page};
use crate::form::FormResult;
use crate::{AppState, WebError};

/// What the validation part of a school page shows.
pub(crate) struct ValidationView {
    pub schools: Vec<School>,
    pub pending: Vec<Pending>,
    /// Only the school decides; the office reads.
    pub can_decide: bool,
    /// The class page the forms come back to, if any.
    pub back: Option<i64>,
    /// A refused report: the enrolment, the reason as typed and the error.
    pub failed: Option<(i64, String, String)>,
    pub done: Option<&'static str>,
}

impl ValidationView {
    /// The enrolments to validate of the schools `s` sees (of one class, if `class` is set).
    pub(crate) async fn load(
        state: &AppState,
        s: &Staff,
        class: Option<i64>,
        failed: Option<(i64, String, String)>,
        done: Option<&'static str>,
    ) -> Result<Self, WebError> {
        let (schools, mut pending) = validation::pending_for(s.ctx(state), &s.user).await?;
        if let Some(k) = class {
            pending.retain(|p| p.class_id.get() == k);
        }
        Ok(ValidationView {
            schools,
            pending,
            can_decide: s.user.role == StaffRole::School,
            back: class,
            failed,
            done,
        })
    }
    pub(crate) fn many_schools(&self) -> bool {
        self.schools.len() > 1
    }
    pub(crate) fn school_name(&self, id: &SchoolId) -> &str {
        self.schools
            .iter()
            .find(|s| s.id == *id)
            .map_or("", |s| s.name.as_str())
    }
    pub(crate) fn error_for(&self, id: &i64) -> Option<&str> {
        match &self.failed {
            Some((e, _, m)) if e == id => Some(m.as_str()),
            _ => None,
        }
    }
    pub(crate) fn typed_for(&self, id: &i64) -> &str {
        match &self.failed {
            Some((e, t, _)) if e == id => t.as_str(),
            _ => "",
        }
    }
}

/// The message after a decision, from `?esito=`.
pub(crate) fn done_message(esito: Option<&str>) -> Option<&'static str> {
    match esito? {
        "confermata" => Some("Iscrizione confermata."),
        "segnalata" => Some("Segnalazione inviata all'ufficio scuola."),
        _ => None,
    }
}

async fn decide(
    state: AppState,
    s: Staff,
    headers: HeaderMap,
    id: i64,
    p: HashMap<String, String>,
    confirm: bool,
) -> Result<Response, WebError> {
    // The office reads the list; only the school decides (the use case refuses the office).
    s.require(SCHOOL_CLASSES.roles)?;
    s.check_csrf(&headers, p.get("_csrf").map_or("", String::as_str))?;
    let back = p.get("classe").and_then(|k| k.trim().parse::<i64>().ok());
    let typed = p.get("motivo").cloned().unwrap_or_default();
    let verdict = if confirm {
        Verdict::Confirm
    } else {
        Verdict::Report(typed.clone())
    };
    let outcome = validation::decide(s.ctx(&state), &s.user, EnrolmentId(id), &verdict).await;
    let message = match outcome.or_errors()? {
        Ok(()) => {
            let page = match back {
                Some(k) => format!("/t/{}/backoffice/scuola/classi/{k}", s.slug()),
                None => format!("/t/{}/backoffice/scuola", s.slug()),
            };
            let esito = if confirm { "confermata" } else { "segnalata" };
            return Ok(Redirect::to(&format!("{page}?esito={esito}")).into_response());
        }
        Err(refused) => refused.first().unwrap_or_default().to_string(),
    };
    let failed = Some((id, typed, message));
    let page = match back {
        Some(k) => class_roster_page(&state, &s, k, failed, None).await?,
        None => school_classes_page(&state, &s, failed, None).await?,
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// `POST …/scuola/iscrizioni/<id>/conferma`: the school confirms the enrolment's class.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    decide(state, s, headers, id, p, true).await
}

/// `POST …/scuola/iscrizioni/<id>/segnala`: the school reports the enrolment to the office.
pub(crate) async fn report(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(p): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    decide(state, s, headers, id, p, false).await
}
