//! The menus: the kitchen (and the office) publish the service's menus on the municipality's
//! public page and withdraw them. Only documents of the category `menu`: the kitchen cannot
//! touch the regulation or the tariffs.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use refettorio_app::content::DocumentInfo;
use refettorio_app::content::{
    self as publish, DocumentForm, MAX_DOCUMENT_BYTES, MENU, Withdraw, allowed_types_it,
};
use serde::Deserialize;

use super::upload::{self, Unreadable};
use super::{MENUS, Staff};
use crate::filters;
use crate::form::{FieldErrors, FormResult};
use crate::pages::{Frame, framed};
use crate::{AppState, WebError};

#[derive(Template, WebTemplate)]
#[template(path = "backoffice/menus.html")]
struct MenusPage<'a> {
    frame: Frame<'a>,
    menus: Vec<DocumentInfo>,
    done: Option<&'static str>,
    errors: FieldErrors,
    title: String,
    date: String,
    allowed: &'static str,
}
framed!(MenusPage);

#[derive(Deserialize, Default)]
pub(crate) struct Done {
    esito: Option<String>,
}

async fn render(
    state: &AppState,
    s: &Staff,
    done: Option<&'static str>,
    errors: FieldErrors,
    typed: (String, String),
) -> Result<Response, WebError> {
    let menus = publish::documents(s.ctx(state), None)
        .await?
        .into_iter()
        .filter(|d| d.category == MENU)
        .collect();
    let status = errors.status();
    let page = MenusPage {
        frame: s.frame(&MENUS),
        menus,
        done,
        errors,
        title: typed.0,
        date: typed.1,
        allowed: allowed_types_it(),
    };
    Ok((status, page).into_response())
}

/// `GET /t/<slug>/backoffice/menu`
pub(crate) async fn menus(
    State(state): State<AppState>,
    s: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    s.require(MENUS.roles)?;
    let done = match q.esito.as_deref() {
        Some("pubblicato") => Some("Menù pubblicato nella pagina pubblica del servizio."),
        Some("ritirato") => Some("Menù ritirato dalla pagina pubblica."),
        _ => None,
    };
    render(&state, &s, done, FieldErrors::none(), Default::default()).await
}

fn file_error(message: &str) -> FieldErrors {
    FieldErrors::one("file", message)
}

/// `POST /t/<slug>/backoffice/menu` (multipart: `menu-titolo`, `menu-data`, `menu-file`).
pub(crate) async fn add_menu(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, WebError> {
    s.require(MENUS.roles)?;
    let up = match upload::read(&state, req, "menu-file", MAX_DOCUMENT_BYTES).await {
        Ok(up) => up,
        Err(why) => {
            // Nothing of the form could be read, not even its CSRF token: nothing is written.
            let message = match why {
                Unreadable::TooLarge => "Il file è troppo grande: al massimo 10 MB.",
                Unreadable::NotMultipart => "Scegli il file da pubblicare.",
            };
            return render(&state, &s, None, file_error(message), Default::default()).await;
        }
    };
    s.check_csrf(&headers, &up.field("_csrf"))?;
    let typed = (up.field("menu-titolo"), up.field("menu-data"));
    if up.too_large {
        let errors = file_error("Il file è troppo grande: al massimo 10 MB.");
        return render(&state, &s, None, errors, typed).await;
    }
    let f = DocumentForm {
        title: typed.0.clone(),
        category: MENU.to_string(),
        published_on: typed.1.clone(),
        file_name: up.file_name,
        bytes: up.bytes,
    };
    publish::publish_document(s.ctx(&state), &f)
        .await
        .map(|_| Redirect::to(&format!("/t/{}/backoffice/menu?esito=pubblicato", s.slug())))
        .or_form(|errors| render(&state, &s, None, errors, typed))
        .await
}

#[derive(Deserialize, Default)]
pub(crate) struct Csrf {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /t/<slug>/backoffice/menu/<id>/ritira`: only a menu (another document is 404).
pub(crate) async fn withdraw_menu(
    State(state): State<AppState>,
    s: Staff,
    headers: HeaderMap,
    Path((_, id)): Path<(String, i64)>,
    Form(f): Form<Csrf>,
) -> Result<Response, WebError> {
    s.require(MENUS.roles)?;
    s.check_csrf(&headers, &f.csrf)?;
    publish::withdraw(s.ctx(&state), Withdraw::Menu(id)).await?;
    Ok(Redirect::to(&format!("/t/{}/backoffice/menu?esito=ritirato", s.slug())).into_response())
}
