//! The office's closures of the current school year: the list, and a form whose first submit
//! shows a preview (meals and families touched) and whose "Conferma" enters the closure, which
//! cancels its meals with no charge and reverses the charges of days already closed.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::closure::{self, CLOSURE_KINDS, ClosureInput, ClosurePreview, ClosureYear};
use refettorio_app::{AppError, FieldError};
use serde::Deserialize;

use super::{CLOSURES, Staff};
use crate::pages::Layout;
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
    layout: Layout<'a>,
    nav: Vec<(String, &'static str, bool)>,
    slug: &'a str,
    csrf: &'a str,
    year: Option<String>,
    rows: Vec<Row>,
    /// `(value, label)` of the scope select, grouped: (group label, options).
    scopes: Vec<(String, Vec<(String, String)>)>,
    kinds: Vec<(&'static str, &'static str)>,
    form: ClosureForm,
    errors: Vec<FieldError>,
    preview: Option<ClosurePreview>,
    done: Option<(u64, u64)>,
}

impl ClosuresPage<'_> {
    fn error(&self, field: &str) -> Option<String> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    }
}

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
    errors: Vec<FieldError>,
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
                    from: crate::area::dmy(&c.from),
                    to: crate::area::dmy(&c.to),
                    kind: c.kind.label_it(),
                    scope: cy.scope_label(c.scope),
                    reason: c.reason.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ClosuresPage {
        layout: s.layout(CLOSURES.title),
        nav: s.nav(&CLOSURES),
        slug: s.slug(),
        csrf: &s.session.csrf_token,
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
    render(&state, &s, ClosureForm::default(), Vec::new(), None, done).await
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
            Some(cy) => closure::check_closure(&cy, &input),
            None => Err(AppError::Fields(vec![FieldError {
                field: "dal",
                message: "Non c'è un anno scolastico in corso.".into(),
            }])),
        };
        return match checked {
            Ok(c) => {
                let p = closure::closure_preview(s.ctx(&state), &c).await?;
                render(&state, &s, f, Vec::new(), Some(p), None).await
            }
            Err(AppError::Fields(e)) => render(&state, &s, f, e, None, None).await,
            Err(e) => Err(e.into()),
        };
    }
    match closure::confirm_closure(s.ctx(&state), &input).await {
        Ok(done) => Ok(Redirect::to(&format!(
            "/t/{}/backoffice/chiusure?annullati={}&stornati={}",
            s.slug(),
            done.cancelled,
            done.reversed
        ))
        .into_response()),
        Err(AppError::Fields(e)) => render(&state, &s, f, e, None, None).await,
        Err(e) => Err(e.into()),
    }
}
