//! One error type for the web layer. Handlers return [`WebError`]; it becomes a response that
//! carries an [`ErrorPage`] marker, and [`render_error_pages`] turns any such response into the
//! Italian error page with the request id to quote, so every error looks the same wherever it
//! came from. Internal causes are logged once and never shown.

use askama::Template;

use crate::pages::Layout;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found: {0}")]
    NotFound(String),
    /// Not this user's to see or change (a tampered id, a missing CSRF token, another role).
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] refettorio_db::DbError),
    #[error(transparent)]
    App(#[from] refettorio_app::AppError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
}

/// Marker left on an error response for [`render_error_pages`].
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    pub title: &'static str,
    pub message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, page) = match self {
            WebError::NotFound(message) => (
                StatusCode::NOT_FOUND,
                ErrorPage {
                    title: "Pagina non trovata",
                    message,
                },
            ),
            WebError::Forbidden | WebError::App(refettorio_app::AppError::Forbidden) => (
                StatusCode::FORBIDDEN,
                ErrorPage {
                    title: "Operazione non consentita",
                    message:
                        "Non hai i permessi per questa operazione, oppure il modulo è scaduto: \
                              ricarica la pagina e riprova."
                            .into(),
                },
            ),
            WebError::App(refettorio_app::AppError::NotFound(message)) => (
                StatusCode::NOT_FOUND,
                ErrorPage {
                    title: "Pagina non trovata",
                    message,
                },
            ),
            other => {
                tracing::error!(error = %other, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorPage {
                        title: "Si è verificato un errore",
                        message: "Non è stato possibile completare la richiesta. Riprova tra qualche minuto; \
                                  se il problema continua, comunica all'ufficio il codice qui sotto."
                            .into(),
                    },
                )
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(page);
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    layout: Layout<'a>,
    message: &'a str,
    request_id: &'a str,
}

pub(crate) async fn render_error_pages(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let response = next.run(req).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let status = response.status();
    let body = ErrorTemplate {
        layout: Layout::plain(page.title),
        message: &page.message,
        request_id: &request_id,
    }
    .render();
    match body {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            (status, page.title).into_response()
        }
    }
}
