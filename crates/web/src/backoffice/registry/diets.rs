//! Diet codes: the list with the form of a new diet, one diet with its form. The kitchen reads
//! the code and the name, never a diagnosis.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use refettorio_app::registry::Diet;
use refettorio_app::registry::{self as reg, DietInput};
use refettorio_domain::{DietId, DietKind};
use serde::Deserialize;

use super::{CsrfOnly, Done, REGISTRY, base, changed, done};
use crate::backoffice::Staff;
use crate::form::FieldErrors;
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct DietForm {
    #[serde(default)]
    codice: String,
    #[serde(default)]
    nome: String,
    #[serde(default)]
    tipo: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl DietForm {
    fn input(&self) -> DietInput {
        DietInput {
            code: self.codice.clone(),
            name: self.nome.clone(),
            kind: self.tipo.clone(),
        }
    }
}

fn kinds() -> Vec<(&'static str, &'static str)> {
    DietKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label_it()))
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/diets.html")]
struct DietsPage<'a> {
    frame: Frame<'a>,
    base: String,
    diets: Vec<Diet>,
    kinds: Vec<(&'static str, &'static str)>,
    form: DietInput,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(DietsPage);

async fn render_diets(
    state: &AppState,
    s: &Staff,
    form: DietInput,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let diets = reg::diets(s.ctx(state)).await?;
    let page = DietsPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        diets,
        kinds: kinds(),
        form,
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/diete`
pub(crate) async fn diets(
    State(state): State<AppState>,
    s: Staff,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_diets(
        &state,
        &s,
        DietInput::default(),
        FieldErrors::none(),
        d.message(),
    )
    .await
}

/// `POST …/anagrafiche/diete`: a new diet.
pub(crate) async fn add_diet(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(f): Form<DietForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::add_diet(s.ctx(&state), &input).await {
        Ok(_) => Ok(done(&format!("{}/diete", base(&s)), "aggiunto")),
        Err(e) => render_diets(&state, &s, input, FieldErrors::of(e)?, None).await,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/diet.html")]
struct DietPage<'a> {
    frame: Frame<'a>,
    base: String,
    diet: Diet,
    kinds: Vec<(&'static str, &'static str)>,
    form: DietInput,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(DietPage);

async fn render_diet(
    state: &AppState,
    s: &Staff,
    id: i64,
    form: Option<DietInput>,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let diet = reg::diet(s.ctx(state), DietId(id)).await?;
    let page = DietPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        form: form.unwrap_or_else(|| DietInput::from(&diet)),
        diet,
        kinds: kinds(),
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/diete/{id}`
pub(crate) async fn diet(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_diet(&state, &s, id, None, FieldErrors::none(), d.message()).await
}

/// `POST …/anagrafiche/diete/{id}`
pub(crate) async fn edit_diet(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<DietForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::edit_diet(s.ctx(&state), DietId(id), &input).await {
        Ok(c) => Ok(changed(&format!("{}/diete/{id}", base(&s)), c)),
        Err(e) => render_diet(&state, &s, id, Some(input), FieldErrors::of(e)?, None).await,
    }
}

/// `POST …/anagrafiche/diete/{id}/elimina`: only a diet nothing points at.
pub(crate) async fn delete_diet(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    match reg::delete_diet(s.ctx(&state), DietId(id)).await {
        Ok(()) => Ok(done(&format!("{}/diete", base(&s)), "eliminato")),
        Err(e) => render_diet(&state, &s, id, None, FieldErrors::of(e)?, None).await,
    }
}
