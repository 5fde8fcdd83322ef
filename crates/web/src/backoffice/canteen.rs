//! The canteen staff's page (canteen staff, office, and the school as a fallback for the classes
//! of its own schools only): today's list of a class, who is booked (bland, diet code, never a
//! diagnosis), and per pupil the correction "Assente" (booked but did not eat: the charge is
//! reversed) or "Presente" (ate without a booking: charged), each with a reason and audited.
//! Corrections apply once the day is closed. Large buttons. A school user choosing or
//! correcting a class of another school gets 403 and nothing is written.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::attendance::{self, ClassList, CorrectionInput};
use refettorio_domain::{ClassId, day_it};
use serde::Deserialize;

use super::{CANTEEN, Staff};
use crate::form::FormResult;
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    classe: Option<i64>,
    esito: Option<String>,
}

/// A correction as posted.
#[derive(Deserialize, Default)]
pub(crate) struct CorrectionForm {
    #[serde(default)]
    iscrizione: i64,
    #[serde(default)]
    correzione: String,
    #[serde(default)]
    motivo: String,
    #[serde(default)]
    classe: i64,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/canteen.html")]
struct CanteenPage<'a> {
    frame: Frame<'a>,
    day_label: String,
    list: ClassList,
    done: bool,
    /// The pupil (enrolment id) whose correction was refused, with the message.
    failed: Option<(i64, String)>,
}
framed!(CanteenPage);

impl CanteenPage<'_> {
    fn error_for(&self, enrolment: &refettorio_domain::EnrolmentId) -> Option<String> {
        self.failed
            .as_ref()
            .filter(|(id, _)| *id == enrolment.get())
            .map(|(_, m)| m.clone())
    }
}

async fn render(
    state: &AppState,
    s: &Staff,
    class: Option<i64>,
    done: bool,
    failed: Option<(i64, String)>,
) -> Result<Response, WebError> {
    let list = attendance::class_list(s.ctx(state), &s.user, class.map(ClassId)).await?;
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = CanteenPage {
        frame: s.frame(&CANTEEN),
        day_label: day_it(list.day),
        list,
        done,
        failed,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/refettorio?classe=<id>`
pub(crate) async fn canteen(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    s.require(CANTEEN.roles)?;
    let done = q.esito.as_deref() == Some("corretto");
    render(&state, &s, q.classe, done, None).await
}

/// `POST /t/<slug>/backoffice/refettorio/correzione`
pub(crate) async fn correct(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(f): Form<CorrectionForm>,
) -> Result<Response, WebError> {
    s.require(CANTEEN.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = CorrectionInput {
        enrolment: f.iscrizione,
        correction: f.correzione.clone(),
        reason: f.motivo.clone(),
    };
    match attendance::correct_today(s.ctx(&state), &s.user, &input)
        .await
        .or_errors()?
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "/t/{}/backoffice/refettorio?classe={}&esito=corretto",
            s.slug(),
            f.classe
        ))
        .into_response()),
        Err(e) => {
            let message = e.first().unwrap_or_default().to_string();
            render(
                &state,
                &s,
                Some(f.classe),
                false,
                Some((f.iscrizione, message)),
            )
            .await
        }
    }
}
