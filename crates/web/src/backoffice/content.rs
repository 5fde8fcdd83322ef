//! The office's public content: news with the days they are shown, and documents by category
//! (regolamento, tariffe, informativa privacy, moduli, menù), which appear on the
//! municipality's public page. Uploads are checked by [`refettorio_app::content`].

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::content::{
    self as publish, CATEGORIES, DocumentForm, MAX_DOCUMENT_BYTES, NewsForm, Withdraw,
    allowed_types_it, category_label,
};
use refettorio_app::content::{DocumentInfo, NewsItem};
use serde::Deserialize;

use super::upload::{self, Unreadable};
use super::{CONTENT, Staff};
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

/// The body limit of the document upload: the largest file plus room for the other fields.
pub(crate) const DOCUMENT_BODY_LIMIT: usize = MAX_DOCUMENT_BYTES + 1024 * 1024;

/// Which form a set of errors belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    News,
    Document,
}

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/content.html")]
struct ContentPage<'a> {
    frame: Frame<'a>,
    news: Vec<NewsItem>,
    documents: Vec<DocumentInfo>,
    today: jiff::civil::Date,
    done: Option<&'static str>,
    failed: Option<Which>,
    errors: FieldErrors,
    news_form: NewsForm,
    doc_title: String,
    doc_category: String,
    doc_date: String,
    categories: &'static [(&'static str, &'static str)],
    allowed: &'static str,
}
framed!(ContentPage);

impl ContentPage<'_> {
    fn label(&self, category: &str) -> &'static str {
        category_label(category)
    }

    fn visible(&self, n: &NewsItem) -> bool {
        n.visible_from <= self.today && n.visible_to.is_none_or(|to| to >= self.today)
    }

    fn size(&self, bytes: &i64) -> String {
        if *bytes >= 1024 * 1024 {
            format!("{:.1} MB", *bytes as f64 / 1_048_576.0).replace('.', ",")
        } else {
            format!("{} kB", (*bytes + 1023) / 1024)
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    esito: Option<String>,
}

struct Failed {
    which: Which,
    errors: FieldErrors,
    news: Option<NewsForm>,
    doc: Option<(String, String, String)>,
}

async fn render(
    state: &AppState,
    s: &Staff,
    done: Option<&'static str>,
    failed: Option<Failed>,
) -> Result<Response, WebError> {
    let (news, documents) = publish::office_lists(s.ctx(state)).await?;
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (which, errors, news_form, doc) = match failed {
        Some(f) => {
            let form = match f.which {
                Which::News => "notizia",
                Which::Document => "documento",
            };
            let errors = f.errors.in_form(form);
            (Some(f.which), errors, f.news.unwrap_or_default(), f.doc)
        }
        None => (None, FieldErrors::none(), NewsForm::default(), None),
    };
    let (doc_title, doc_category, doc_date) = doc.unwrap_or_default();
    let page = ContentPage {
        frame: s.frame(&CONTENT),
        news,
        documents,
        today: refettorio_domain::today(state.clock.as_ref(), &s.tenant.timezone),
        done,
        failed: which,
        errors,
        news_form,
        doc_title,
        doc_category,
        doc_date,
        categories: &CATEGORIES,
        allowed: allowed_types_it(),
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/contenuti`
pub(crate) async fn content_page(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    s.require(CONTENT.roles)?;
    let done = match q.esito.as_deref() {
        Some("notizia") => Some("Notizia pubblicata."),
        Some("documento") => Some("Documento pubblicato."),
        Some("ritirato") => Some("Contenuto ritirato dal sito."),
        _ => None,
    };
    render(&state, &s, done, None).await
}

fn back(s: &Staff, esito: &str) -> Response {
    Redirect::to(&format!(
        "/t/{}/backoffice/contenuti?esito={esito}",
        s.slug()
    ))
    .into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct NewsPosted {
    #[serde(rename = "notizia-titolo", default)]
    titolo: String,
    #[serde(rename = "notizia-testo", default)]
    testo: String,
    #[serde(rename = "notizia-data", default)]
    data: String,
    #[serde(rename = "notizia-dal", default)]
    dal: String,
    #[serde(rename = "notizia-al", default)]
    al: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /t/<slug>/backoffice/contenuti/notizie`
pub(crate) async fn add_news(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Form(p): Form<NewsPosted>,
) -> Result<Response, WebError> {
    s.require(CONTENT.roles)?;
    s.check_csrf(&headers, &p.csrf)?;
    let f = NewsForm {
        title: p.titolo,
        body: p.testo,
        published_on: p.data,
        visible_from: p.dal,
        visible_to: p.al,
    };
    match publish::publish_news(s.ctx(&state), &f).await.or_errors()? {
        Ok(_) => Ok(back(&s, "notizia")),
        Err(errors) => {
            let failed = Failed {
                which: Which::News,
                errors,
                news: Some(f),
                doc: None,
            };
            render(&state, &s, None, Some(failed)).await
        }
    }
}

/// `POST /t/<slug>/backoffice/contenuti/documenti` (multipart: `documento-titolo`,
/// `documento-categoria`, `documento-data`, `documento-file`).
pub(crate) async fn add_document(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, WebError> {
    s.require(CONTENT.roles)?;
    let fail = |message: &str, doc: Option<(String, String, String)>| Failed {
        which: Which::Document,
        errors: FieldErrors::one("file", message),
        news: None,
        doc,
    };
    let up = match upload::read(&state, req, "documento-file", MAX_DOCUMENT_BYTES).await {
        Ok(up) => up,
        Err(why) => {
            // Nothing of the form could be read, not even its CSRF token: nothing is written.
            let message = match why {
                Unreadable::TooLarge => "Il file è troppo grande: al massimo 10 MB.",
                Unreadable::NotMultipart => "Scegli il file da pubblicare.",
            };
            return render(&state, &s, None, Some(fail(message, None))).await;
        }
    };
    s.check_csrf(&headers, &up.field("_csrf"))?;
    let typed = (
        up.field("documento-titolo"),
        up.field("documento-categoria"),
        up.field("documento-data"),
    );
    if up.too_large {
        let f = fail("Il file è troppo grande: al massimo 10 MB.", Some(typed));
        return render(&state, &s, None, Some(f)).await;
    }
    let f = DocumentForm {
        title: typed.0.clone(),
        category: typed.1.clone(),
        published_on: typed.2.clone(),
        file_name: up.file_name.clone(),
        bytes: up.bytes,
    };
    match publish::publish_document(s.ctx(&state), &f)
        .await
        .or_errors()?
    {
        Ok(_) => Ok(back(&s, "documento")),
        Err(errors) => {
            let failed = Failed {
                which: Which::Document,
                errors,
                news: None,
                doc: Some(typed),
            };
            render(&state, &s, None, Some(failed)).await
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Csrf {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /t/<slug>/backoffice/contenuti/notizie/<id>/ritira`
pub(crate) async fn withdraw_news(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<Csrf>,
) -> Result<Response, WebError> {
    s.require(CONTENT.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    publish::withdraw(s.ctx(&state), Withdraw::News(id)).await?;
    Ok(back(&s, "ritirato"))
}

/// `POST /t/<slug>/backoffice/contenuti/documenti/<id>/ritira`
pub(crate) async fn withdraw_document(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<Csrf>,
) -> Result<Response, WebError> {
    s.require(CONTENT.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    publish::withdraw(s.ctx(&state), Withdraw::Document(id)).await?;
    Ok(back(&s, "ritirato"))
}
