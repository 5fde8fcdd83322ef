//! Schools and their classes: the list with the form of a new school; one school with its
//! form, its classes by school year and the form of a new class; one class with its name and
//! canteen weekdays.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use refettorio_app::registry::{self as reg, CANTEEN_WEEKDAYS, ClassInput, SchoolInput};
use refettorio_app::registry::{Class, School, SchoolYear};
use refettorio_domain::{ClassId, SchoolId, SchoolKind};
use serde::Deserialize;

use super::{CsrfOnly, Done, REGISTRY, base, changed, done};
use crate::backoffice::Staff;
use crate::form::FieldErrors;
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Deserialize, Default)]
pub(crate) struct SchoolForm {
    /// `nome-scuola` on the school's page, which also has the form of a new class.
    #[serde(default, alias = "nome-scuola")]
    nome: String,
    #[serde(default)]
    tipo: String,
    #[serde(default)]
    indirizzo: String,
    #[serde(rename = "email-cucina", default)]
    email_cucina: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl SchoolForm {
    fn input(&self) -> SchoolInput {
        SchoolInput {
            name: self.nome.clone(),
            kind: self.tipo.clone(),
            address: self.indirizzo.clone(),
            kitchen_email: self.email_cucina.clone(),
        }
    }
}

fn kinds() -> Vec<(&'static str, &'static str)> {
    SchoolKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label_it()))
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/schools.html")]
struct SchoolsPage<'a> {
    frame: Frame<'a>,
    base: String,
    schools: Vec<School>,
    kinds: Vec<(&'static str, &'static str)>,
    form: SchoolInput,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(SchoolsPage);

async fn render_schools(
    state: &AppState,
    s: &Staff,
    form: SchoolInput,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let schools = reg::schools(s.ctx(state)).await?;
    let page = SchoolsPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        schools,
        kinds: kinds(),
        form,
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/scuole`
pub(crate) async fn schools(
    State(state): State<AppState>,
    s: Staff,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_schools(
        &state,
        &s,
        SchoolInput::default(),
        FieldErrors::none(),
        d.message(),
    )
    .await
}

/// `POST …/anagrafiche/scuole`: a new school.
pub(crate) async fn add_school(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(f): Form<SchoolForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::add_school(s.ctx(&state), &input).await {
        Ok(id) => Ok(done(
            &format!("{}/scuole/{}", base(&s), id.get()),
            "aggiunto",
        )),
        Err(e) => render_schools(&state, &s, input, FieldErrors::of(e)?, None).await,
    }
}

/// One class row of a school's page.
struct ClassRow {
    id: i64,
    name: String,
    weekdays: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/school.html")]
struct SchoolPage<'a> {
    frame: Frame<'a>,
    base: String,
    school: School,
    kinds: Vec<(&'static str, &'static str)>,
    form: SchoolInput,
    /// (year label, classes), newest year first.
    classes: Vec<(String, Vec<ClassRow>)>,
    years: Vec<(String, String)>,
    class_form: ClassInput,
    weekdays: Vec<(&'static str, &'static str, bool)>,
    /// The errors, of the form "scuola", "classe" or "elimina".
    errors: FieldErrors,
    done: Option<String>,
}
framed!(SchoolPage);

fn weekday_boxes(input: &ClassInput) -> Vec<(&'static str, &'static str, bool)> {
    CANTEEN_WEEKDAYS
        .iter()
        .map(|(f, l, _)| (*f, *l, input.weekdays.iter().any(|w| w == f)))
        .collect()
}

fn year_label(years: &[SchoolYear], k: &Class) -> String {
    years
        .iter()
        .find(|y| y.id == k.school_year_id)
        .map(|y| y.label.clone())
        .unwrap_or_default()
}

/// The school's page; `errors` say which of its forms they belong to (`FieldErrors::in_form`).
async fn render_school(
    state: &AppState,
    s: &Staff,
    id: i64,
    form: Option<SchoolInput>,
    class_form: Option<ClassInput>,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let (sc, classes, years) = reg::school_file(s.ctx(state), SchoolId(id)).await?;
    let current = reg::current_or_last(&years, s.ctx(state).today());
    let class_form = class_form.unwrap_or_else(|| ClassInput {
        year: current.map(|y| y.id.get().to_string()).unwrap_or_default(),
        ..Default::default()
    });
    let mut by_year: Vec<(String, Vec<ClassRow>)> = Vec::new();
    for y in years.iter().rev() {
        let rows: Vec<ClassRow> = classes
            .iter()
            .filter(|k| k.school_year_id == y.id)
            .map(|k| ClassRow {
                id: k.id.get(),
                name: k.name.clone(),
                weekdays: k.canteen_weekdays.to_it(),
            })
            .collect();
        if !rows.is_empty() {
            by_year.push((y.label.clone(), rows));
        }
    }
    let page = SchoolPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        form: form.unwrap_or_else(|| SchoolInput::from(&sc)),
        school: sc,
        kinds: kinds(),
        classes: by_year,
        years: years
            .iter()
            .rev()
            .map(|y| (y.id.get().to_string(), y.label.clone()))
            .collect(),
        weekdays: weekday_boxes(&class_form),
        class_form,
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/scuole/{id}`
pub(crate) async fn school(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_school(&state, &s, id, None, None, FieldErrors::none(), d.message()).await
}

/// `POST …/anagrafiche/scuole/{id}`: the school's changes.
pub(crate) async fn edit_school(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<SchoolForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::edit_school(s.ctx(&state), SchoolId(id), &input).await {
        Ok(c) => Ok(changed(&format!("{}/scuole/{id}", base(&s)), c)),
        Err(e) => {
            let errors = FieldErrors::of(e)?;
            render_school(
                &state,
                &s,
                id,
                Some(input),
                None,
                errors.in_form("scuola"),
                None,
            )
            .await
        }
    }
}

/// `POST …/anagrafiche/scuole/{id}/elimina`: only a school nothing points at.
pub(crate) async fn delete_school(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    match reg::delete_school(s.ctx(&state), SchoolId(id)).await {
        Ok(()) => Ok(done(&format!("{}/scuole", base(&s)), "eliminato")),
        Err(e) => {
            let errors = FieldErrors::of(e)?;
            render_school(&state, &s, id, None, None, errors.in_form("elimina"), None).await
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ClassForm {
    #[serde(default)]
    anno: String,
    #[serde(default)]
    nome: String,
    lun: Option<String>,
    mar: Option<String>,
    mer: Option<String>,
    gio: Option<String>,
    ven: Option<String>,
    sab: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

impl ClassForm {
    fn input(&self) -> ClassInput {
        let ticked = [
            ("lun", &self.lun),
            ("mar", &self.mar),
            ("mer", &self.mer),
            ("gio", &self.gio),
            ("ven", &self.ven),
            ("sab", &self.sab),
        ];
        ClassInput {
            year: self.anno.clone(),
            name: self.nome.clone(),
            weekdays: ticked
                .iter()
                .filter(|(_, v)| v.as_deref().is_some_and(|v| !v.is_empty()))
                .map(|(f, _)| (*f).to_string())
                .collect(),
        }
    }
}

/// `POST …/anagrafiche/scuole/{id}/classi`: a new class of the school.
pub(crate) async fn add_class(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<ClassForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::add_class(s.ctx(&state), SchoolId(id), &input).await {
        Ok(_) => Ok(done(&format!("{}/scuole/{id}", base(&s)), "aggiunto")),
        Err(e) => {
            let errors = FieldErrors::of(e)?;
            render_school(
                &state,
                &s,
                id,
                None,
                Some(input),
                errors.in_form("classe"),
                None,
            )
            .await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/registry/class.html")]
struct ClassPage<'a> {
    frame: Frame<'a>,
    base: String,
    class: Class,
    school: School,
    year: String,
    form: ClassInput,
    weekdays: Vec<(&'static str, &'static str, bool)>,
    errors: FieldErrors,
    done: Option<String>,
}
framed!(ClassPage);

async fn render_class(
    state: &AppState,
    s: &Staff,
    id: i64,
    form: Option<ClassInput>,
    errors: FieldErrors,
    done: Option<String>,
) -> Result<Response, WebError> {
    let (k, sc, years) = reg::class_file(s.ctx(state), ClassId(id)).await?;
    let form = form.unwrap_or_else(|| ClassInput::from(&k));
    let page = ClassPage {
        frame: s.frame(&REGISTRY),
        base: base(s),
        year: year_label(&years, &k),
        class: k,
        school: sc,
        weekdays: weekday_boxes(&form),
        form,
        errors,
        done,
    };
    Ok((page.errors.status(), page).into_response())
}

/// `GET …/anagrafiche/classi/{id}`
pub(crate) async fn class(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    render_class(&state, &s, id, None, FieldErrors::none(), d.message()).await
}

/// `POST …/anagrafiche/classi/{id}`: name and canteen weekdays.
pub(crate) async fn edit_class(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<ClassForm>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    let input = f.input();
    match reg::edit_class(s.ctx(&state), ClassId(id), &input).await {
        Ok(c) => Ok(changed(&format!("{}/classi/{id}", base(&s)), c)),
        Err(e) => render_class(&state, &s, id, Some(input), FieldErrors::of(e)?, None).await,
    }
}

/// `POST …/anagrafiche/classi/{id}/elimina`: only a class nothing points at.
pub(crate) async fn delete_class(
    State(state): State<AppState>,
    s: Staff,
    Path((_, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    s.require(REGISTRY.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    match reg::delete_class(s.ctx(&state), ClassId(id)).await {
        Ok(school) => Ok(done(
            &format!("{}/scuole/{}", base(&s), school.get()),
            "eliminato",
        )),
        Err(e) => render_class(&state, &s, id, None, FieldErrors::of(e)?, None).await,
    }
}
