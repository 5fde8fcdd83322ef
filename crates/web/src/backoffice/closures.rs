//! The office's closures of the current school year: the list, and a form whose first submit
//! shows a preview (meals and families touched) and whose "Conferma" enters the closure, which
//! cancels its meals with no charge and reverses the charges of days already closed.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::closure::{self, CLOSURE_KINDS, ClosureInput, ClosurePreview, ClosureYear};
use serde::Deserialize;

use super::{CLOSURES, Staff};
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

/// The closure form as typed.
#[derive(Deserialize, Default)]
pub(crate) struct ClosureForm {
    #[serde(default)]
    ambito: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    tipo: String,
    #[serde(default)]
    motivo: String,
    /// Present on the preview's "Conferma" button.
    #[serde(default)]
    conferma: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl ClosureForm {
    fn input(&self) -> ClosureInput {
        ClosureInput {
            scope: self.ambito.clone(),
            from: self.dal.clone(),
            to: self.al.clone(),
            kind: self.tipo.clone(),
            reason: self.motivo.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ClosuresQuery {
    annullati: Option<u64>,
    stornati: Option<u64>,
}

/// One row of the list of closures.
struct Row {
    from: String,
    to: String,
    kind: &'static str,
    scope: String,
    reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/closures.html")]
struct ClosuresPage<'a> {
    frame: Frame<'a>,
    year: Option<String>,
    rows: Vec<Row>,
    /// `(value, label)` of the scope select, grouped: (group label, options).
    scopes: Vec<(String, Vec<(String, String)>)>,
    kinds: Vec<(&'static str, &'static str)>,
    form: ClosureForm,
    errors: FieldErrors,
    preview: Option<ClosurePreview>,
    done: Option<(u64, u64)>,
}
framed!(ClosuresPage);

fn scopes(cy: &ClosureYear) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = vec![(
        "Comune".to_string(),
        vec![("comune".to_string(), "Tutto il Comune".to_string())],
    )];
    out.push((
        "Scuole".to_string(),
        cy.schools
            .iter()
            .map(|s| (format!("scuola-{}", s.id.get()), s.name.clone()))
            .collect(),
    ));
    for s in &cy.schools {
        out.push((
            format!("Classi – {}", s.name),
            cy.classes
                .iter()
                .filter(|k| k.school_id == s.id)
                .map(|k| {
                    (
                        format!("classe-{}", k.id.get()),
                        format!("Classe {} ({})", k.name, s.name),
                    )
                })
                .collect(),
        ));
    }
    out.retain(|(_, o)| !o.is_empty());
    out
}

async fn render(
    state: &AppState,
    s: &Staff,
    form: ClosureForm,
    errors: FieldErrors,
    preview: Option<ClosurePreview>,
    done: Option<(u64, u64)>,
) -> Result<Response, WebError> {
    let cy = closure::closure_year(s.ctx(state)).await?;
    let rows = cy
        .as_ref()
        .map(|cy| {
            cy.closures
                .iter()
                .map(|(_, c)| Row {
                    from: crate::filters::dmy_it(&c.from),
                    to: crate::filters::dmy_it(&c.to),
                    kind: c.kind.label_it(),
                    scope: cy.scope_label(c.scope),
                    reason: c.reason.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let status = errors.status();
    let page = ClosuresPage {
        frame: s.frame(&CLOSURES),
        year: cy.as_ref().map(|cy| cy.year.label.clone()),
        rows,
        scopes: cy.as_ref().map(scopes).unwrap_or_default(),
        kinds: CLOSURE_KINDS
            .iter()
            .map(|k| (k.as_str(), k.label_it()))
            .collect(),
        form,
        errors,
        preview,
        done,
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/chiusure`
pub(crate) async fn closures(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<ClosuresQuery>,
) -> Result<Response, WebError> {
    s.require(CLOSURES.roles)?;
    let done = q.annullati.zip(q.stornati);
    render(
        &state,
        &s,
        ClosureForm::default(),
        FieldErrors::none(),
        None,
        done,
    )
    .await
}

/// `POST /t/<slug>/backoffice/chiusure`: without `conferma` the preview (nothing written),
/// with it the closure entered.
pub(crate) async fn add_closure(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(f): Form<ClosureForm>,
) -> Result<Response, WebError> {
    s.require(CLOSURES.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    if f.conferma.is_empty() {
        let checked = match closure::closure_year(s.ctx(&state)).await? {
            Some(cy) => closure::check_closure(&cy, &input).or_errors()?,
            None => Err(FieldErrors::one(
                "dal",
                "Non c'è un anno scolastico in corso.",
            )),
        };
        return match checked {
            Ok(c) => {
                let p = closure::closure_preview(s.ctx(&state), &c).await?;
                render(&state, &s, f, FieldErrors::none(), Some(p), None).await
            }
            Err(errors) => render(&state, &s, f, errors, None, None).await,
        };
    }
    closure::confirm_closure(s.ctx(&state), &input)
        .await
        .map(|done| {
            Redirect::to(&format!(
                "/t/{}/backoffice/chiusure?annullati={}&stornati={}",
                s.slug(),
                done.cancelled,
                done.reversed
            ))
        })
        .or_form(|errors| render(&state, &s, f, errors, None, None))
        .await
}
