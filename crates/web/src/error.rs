//! One error type for the web layer. Handlers return [`WebError`]; it becomes a response that
//! carries an [`ErrorPage`] marker, and [`render_error_pages`] turns any such response into the
//! Italian error page with the request id to quote, so every error looks the same wherever it
//! came from. Internal causes are logged once and never shown.
//!
//! The status says what happened: 404 for what does not exist, 403 for what is not this
//! user's, 503 when the database cannot serve the request (unreachable, out of connections or
//! disk: [`refettorio_db::DbError::is_unavailable`]), 500 for our own bugs. The rejections of
//! axum's extractors (an id that is not a number, a form or JSON body that does not decode, a
//! missing content type, a body too large: plain English text) are recognised in the same
//! middleware and answered the same way, or as `application/problem+json` with a stable `code`
//! on the API routes ([`API_PREFIXES`]).

use askama::Template;

use crate::pages::Layout;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use refettorio_db::DbError;

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

impl WebError {
    /// The database error behind this one, if any.
    fn db(&self) -> Option<&DbError> {
        match self {
            WebError::Db(e) | WebError::App(refettorio_app::AppError::Db(e)) => Some(e),
            _ => None,
        }
    }
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
            unavailable if unavailable.db().is_some_and(DbError::is_unavailable) => {
                tracing::error!(error = %unavailable, "request failed: database unavailable");
                let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                response.extensions_mut().insert(ErrorPage {
                    title: "Servizio momentaneamente non disponibile",
                    message:
                        "Il servizio non riesce a leggere o salvare i dati in questo momento. \
                              Riprova tra qualche minuto; se il problema continua, comunica \
                              all'ufficio il codice qui sotto."
                            .into(),
                });
                return response;
            }
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

/// Paths of the machine-to-machine API: their errors are `application/problem+json`.
pub(crate) const API_PREFIXES: [&str; 2] = ["/pagopa/paForNode", "/pagopa/sandbox/checkout/"];

/// What an axum rejection was about, from its status and its (English, plain-text) body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    Path,
    Query,
    Form,
    Json,
    MediaType,
    TooLarge,
    Body,
    Other,
}

impl Rejection {
    /// Whether a response may be an axum rejection: a `text/plain` error without our marker.
    /// (Every error of ours carries the marker and every page is HTML; the static files' 404 is
    /// plain text but Italian, and axum answers no rejection with 404, so 404 is left alone.)
    fn candidate(response: &Response) -> bool {
        let status = response.status();
        let plain = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"));
        plain
            && (status.is_client_error() || status.is_server_error())
            && status != StatusCode::NOT_FOUND
            && response.extensions().get::<ErrorPage>().is_none()
    }

    /// What a candidate's body says.
    fn of(status: StatusCode, body: &str) -> Self {
        let starts = |p: &str| body.starts_with(p);
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Rejection::TooLarge
        } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            Rejection::MediaType
        } else if starts("Invalid URL")
            || starts("Invalid UTF-8 in `")
            || starts("Wrong number of path arguments")
            || starts("Unsupported type")
            || starts("No paths parameters found")
        {
            Rejection::Path
        } else if starts("Failed to deserialize query string") {
            Rejection::Query
        } else if starts("Failed to deserialize form") {
            Rejection::Form
        } else if starts("Failed to parse the request body as JSON")
            || starts("Failed to deserialize the JSON body")
        {
            Rejection::Json
        } else if starts("Failed to buffer the request body")
            || starts("Request body didn't contain valid UTF-8")
        {
            Rejection::Body
        } else {
            Rejection::Other
        }
    }

    /// The stable code of the problem document.
    fn code(self) -> &'static str {
        match self {
            Rejection::Path => "invalid_path",
            Rejection::Query => "invalid_query",
            Rejection::Form => "invalid_form",
            Rejection::Json => "invalid_json",
            Rejection::MediaType => "unsupported_media_type",
            Rejection::TooLarge => "payload_too_large",
            Rejection::Body => "invalid_body",
            Rejection::Other => "bad_request",
        }
    }

    /// The Italian page for people.
    fn page(self, status: StatusCode) -> ErrorPage {
        let (title, message) = match self {
            _ if status.is_server_error() => (
                "Si è verificato un errore",
                "Non è stato possibile completare la richiesta. Riprova tra qualche minuto; \
                 se il problema continua, comunica all'ufficio il codice qui sotto.",
            ),
            Rejection::Path => (
                "Indirizzo non valido",
                "L'indirizzo della pagina non è valido: controlla il collegamento oppure torna \
                 alla pagina precedente.",
            ),
            Rejection::Query => (
                "Richiesta non valida",
                "I parametri dell'indirizzo non sono validi: torna alla pagina precedente e \
                 riprova.",
            ),
            Rejection::TooLarge => (
                "Dati troppo grandi",
                "I dati inviati superano la dimensione massima consentita: riduci il file o il \
                 testo e riprova.",
            ),
            Rejection::Form
            | Rejection::Json
            | Rejection::MediaType
            | Rejection::Body
            | Rejection::Other => (
                "Richiesta non valida",
                "I dati inviati non sono validi: ricarica la pagina, compila di nuovo il modulo \
                 e riprova.",
            ),
        };
        ErrorPage {
            title,
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document with a stable `code`.
fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// An axum rejection turned into our error page (or problem document on the API), or the
/// response unchanged when it is not one.
async fn rejection_to_error(response: Response, api: bool) -> Response {
    if !Rejection::candidate(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // A rejection's text is one short line; the limit only bounds what is read.
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    let kind = Rejection::of(parts.status, &text);
    tracing::info!(status = %parts.status, code = kind.code(), detail = %text, "request rejected");
    if api {
        return problem(parts.status, kind.code(), &text);
    }
    let mut r = Response::from_parts(parts, Body::empty());
    r.headers_mut().remove(header::CONTENT_TYPE);
    r.headers_mut().remove(header::CONTENT_LENGTH);
    let page = kind.page(r.status());
    r.extensions_mut().insert(page);
    r
}

pub(crate) async fn render_error_pages(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let path = req.uri().path();
    let api = API_PREFIXES.iter().any(|p| path.starts_with(p));
    let response = rejection_to_error(next.run(req).await, api).await;
    let Some(page) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let body = ErrorTemplate {
        layout: Layout::plain(page.title),
        message: &page.message,
        request_id: &request_id,
    }
    .render();
    // The status and headers (Retry-After, Allow…) stay; the body becomes the page.
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    match body {
        Ok(html) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Response::from_parts(parts, Body::from(html))
        }
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            Response::from_parts(parts, Body::from(page.title))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plain(status: StatusCode, text: &'static str) -> Response {
        (status, text).into_response()
    }

    #[tokio::test]
    async fn rejections_become_pages_or_problems() {
        let r = rejection_to_error(
            plain(
                StatusCode::BAD_REQUEST,
                "Invalid URL: Cannot parse `abc` to a `i64`",
            ),
            false,
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let page = r.extensions().get::<ErrorPage>().unwrap();
        assert_eq!(page.title, "Indirizzo non valido");

        let r = rejection_to_error(
            plain(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: missing field `x`",
            ),
            true,
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "invalid_json");
        assert_eq!(json["status"], 422);

        for (status, text, code) in [
            (
                StatusCode::BAD_REQUEST,
                "Failed to deserialize query string: x",
                "invalid_query",
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize form body: x",
                "invalid_form",
            ),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Form requests must have `Content-Type: application/x-www-form-urlencoded`",
                "unsupported_media_type",
            ),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Failed to buffer the request body: length limit exceeded",
                "payload_too_large",
            ),
        ] {
            assert_eq!(Rejection::of(status, text).code(), code, "{text}");
        }
    }

    #[test]
    fn a_database_that_cannot_answer_is_503_a_bug_500() {
        let down = || DbError::Io(std::io::Error::other("disk full"));
        for e in [
            WebError::Db(down()),
            WebError::App(refettorio_app::AppError::Db(down())),
        ] {
            let r = e.into_response();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(r.headers().contains_key(header::RETRY_AFTER));
            assert!(r.extensions().get::<ErrorPage>().is_some());
        }
        let r = WebError::Db(DbError::Corrupt("x".into())).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn other_answers_pass_untouched() {
        // The static files' Italian 404, an HTML page, and an error of ours.
        let r =
            rejection_to_error(plain(StatusCode::NOT_FOUND, "Risorsa non trovata"), false).await;
        assert!(r.extensions().get::<ErrorPage>().is_none());
        let r = rejection_to_error(
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::response::Html("<p>x</p>"),
            )
                .into_response(),
            false,
        )
        .await;
        assert!(r.extensions().get::<ErrorPage>().is_none());
        let r = rejection_to_error(WebError::Forbidden.into_response(), false).await;
        assert_eq!(
            r.extensions().get::<ErrorPage>().unwrap().title,
            "Operazione non consentita"
        );
    }
}
