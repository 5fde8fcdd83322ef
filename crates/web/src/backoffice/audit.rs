//! The audit log for the office: newest first, by action and days, a page at a time.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use refettorio_app::audit::{self as office, AuditLine};
use serde::Deserialize;

use super::{AUDIT, Staff};
use crate::filters;
use crate::form::FieldErrors;
use crate::pages::{Frame, framed};
use crate::session::percent_encode;
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    azione: Option<String>,
    chi: Option<String>,
    dal: Option<String>,
    al: Option<String>,
    pagina: Option<u32>,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/audit.html")]
struct AuditPage<'a> {
    frame: Frame<'a>,
    action: String,
    actor: String,
    /// ("staff:3", "Anna Bianchi (Ufficio scuola)") for the "Chi" filter.
    actors: Vec<(String, String)>,
    from: String,
    to: String,
    actions: Vec<(&'static str, &'static str)>,
    errors: FieldErrors,
    rows: Vec<AuditLine>,
    page: u32,
    prev: Option<String>,
    next: Option<String>,
    tz: &'a jiff::tz::TimeZone,
}
framed!(AuditPage);

fn blank(s: &Option<String>) -> String {
    s.as_deref().map(str::trim).unwrap_or_default().to_string()
}

/// `GET /t/<slug>/backoffice/registro?azione=…&dal=…&al=…&pagina=…`
pub(crate) async fn log(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    s.require(AUDIT.roles)?;
    let (action, actor, from_s, to_s) =
        (blank(&q.azione), blank(&q.chi), blank(&q.dal), blank(&q.al));
    let actors = office::actor_choices(s.ctx(&state)).await?;
    let actions = office::action_choices();
    let day = |v: &str| -> Result<Option<Date>, ()> {
        if v.is_empty() {
            Ok(None)
        } else {
            v.parse::<Date>().map(Some).map_err(|_| ())
        }
    };
    let mut error = None;
    if !action.is_empty() && !actions.iter().any(|(k, _)| *k == action) {
        error = Some(("azione", "Scegli un'operazione dell'elenco.".to_string()));
    }
    if !actor.is_empty() && !actors.iter().any(|(k, _)| *k == actor) {
        error = Some(("chi", "Scegli una persona dell'elenco.".to_string()));
    }
    let from = day(&from_s).unwrap_or_else(|()| {
        error = Some(("dal", "Data non valida: usa il formato gg/mm/aaaa.".into()));
        None
    });
    let to = day(&to_s).unwrap_or_else(|()| {
        error = Some(("al", "Data non valida: usa il formato gg/mm/aaaa.".into()));
        None
    });
    if let (Some(a), Some(b)) = (from, to)
        && b < a
    {
        error = Some((
            "al",
            "La data finale viene prima di quella iniziale.".into(),
        ));
    }
    let page = q.pagina.unwrap_or(1).max(1);
    let (rows, more) = if error.is_some() {
        (Vec::new(), false)
    } else {
        let chosen = (!action.is_empty()).then_some(action.as_str());
        let who = (!actor.is_empty()).then_some(actor.as_str());
        let query = office::AuditQuery {
            action: chosen,
            actor: who,
            from,
            to,
            page,
        };
        office::audit_log(s.ctx(&state), &query).await?
    };
    let link = |p: u32| {
        format!(
            "/t/{}/backoffice/registro?azione={}&chi={}&dal={}&al={}&pagina={p}",
            s.slug(),
            percent_encode(&action),
            percent_encode(&actor),
            percent_encode(&from_s),
            percent_encode(&to_s)
        )
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let body = AuditPage {
        frame: s.frame(&AUDIT),
        prev: (page > 1).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
        action,
        actor,
        actors,
        from: from_s,
        to: to_s,
        actions,
        errors: error.map_or_else(FieldErrors::none, |(f, m)| FieldErrors::one(f, m)),
        rows,
        page,
        tz: &s.tenant.timezone,
    };
    Ok((status, body).into_response())
}
