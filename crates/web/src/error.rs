//! One error type for the web layer, and the one place that decides how each error is
//! answered. Handlers return [`WebError`]; it becomes a response that carries an [`ErrorPage`]
//! marker, and [`render_error_pages`] turns any such response into the Italian error page with
//! the request id to quote, so every error looks the same wherever it came from. Internal
//! causes are logged once and never shown.
//!
//! The status says what happened. What the user can act on is a [`Refusal`]: a form to
//! correct or a meal change the rules refuse (422, with the Italian message and the fields'
//! messages), wrong credentials (401), too many attempts (429), a service that cannot do this
//! as configured (503). A form shows its refusal on the form itself (`crate::form`); any other
//! refusal gets the error page with the same status. Then 404 for what does not exist, 403 for
//! what is not this user's, 503 with `Retry-After` when the database cannot serve the request
//! (unreachable, out of connections or disk: `DbError::is_unavailable`), 500 for our own bugs.
//! The rejections of axum's extractors (an id that is not a number, a form or JSON body that
//! does not decode, a missing content type, a body too large: plain English text) are
//! recognised in the same middleware and answered the same way, or as
//! `application/problem+json` with a stable `code` on the API routes ([`API_PREFIXES`]).

use askama::Template;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use refettorio_app::error::DbError;
use refettorio_app::{AppError, FieldError};

use crate::pages::Layout;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found: {0}")]
    NotFound(String),
    /// Not this user's to see or change (a tampered id, a missing CSRF token, another role).
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
}

impl WebError {
    /// A use case's refusal of an id the user sent: what does not exist or is not theirs is
    /// answered alike (403), so a tampered id tells nothing about other families' data.
    pub(crate) fn not_yours(e: impl Into<WebError>) -> WebError {
        match e.into() {
            WebError::NotFound(_) | WebError::App(AppError::NotFound(_) | AppError::Forbidden) => {
                WebError::Forbidden
            }
            other => other,
        }
    }

    /// Whether the database could not serve the request (503, try again) rather than a bug.
    fn unavailable(&self) -> bool {
        match self {
            WebError::Db(e) => e.is_unavailable(),
            WebError::App(e) => e.is_unavailable(),
            _ => false,
        }
    }
}

/// An error the user can act on, told to them where they acted (the form they sent, or the
/// error page): its status, a message for the whole request and the fields' own messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub message: Option<String>,
    pub fields: Vec<FieldError>,
}

impl Refusal {
    /// The one table of the errors users are told about, with their status: a form to correct
    /// or a meal change the rules refuse (422), wrong credentials (401), too many attempts
    /// (429), a service that cannot do this as configured (503). Every other error is not
    /// the user's to fix and is given back.
    pub(crate) fn of(e: AppError) -> Result<Refusal, AppError> {
        let (status, message, fields) = match e {
            AppError::Fields(fields) => (StatusCode::UNPROCESSABLE_ENTITY, None, fields),
            AppError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, Some(m), Vec::new()),
            AppError::Booking(b) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(b.to_string()),
                Vec::new(),
            ),
            AppError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, Some(m), Vec::new()),
            AppError::Throttled(m) => (StatusCode::TOO_MANY_REQUESTS, Some(m), Vec::new()),
            AppError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, Some(m), Vec::new()),
            other => return Err(other),
        };
        Ok(Refusal {
            status,
            message,
            fields,
        })
    }

    /// The error page of a refusal no form shows.
    fn page(self) -> (StatusCode, ErrorPage) {
        let title = match self.status {
            StatusCode::UNAUTHORIZED => "Accesso non riuscito",
            StatusCode::TOO_MANY_REQUESTS => "Troppi tentativi",
            StatusCode::SERVICE_UNAVAILABLE => "Servizio non disponibile",
            _ => "Dati non validi",
        };
        let message = self.message.unwrap_or_else(|| {
            "I dati inviati contengono errori: torna alla pagina precedente, correggi i campi \
             indicati e riprova."
                .into()
        });
        let page = ErrorPage {
            title,
            message,
            details: self.fields.into_iter().map(|f| f.message).collect(),
        };
        (self.status, page)
    }
}

/// Marker left on an error response for [`render_error_pages`].
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    pub title: &'static str,
    pub message: String,
    /// What is wrong, one line each (the fields of a form no page showed again).
    pub details: Vec<String>,
}

impl ErrorPage {
    fn new(title: &'static str, message: impl Into<String>) -> Self {
        ErrorPage {
            title,
            message: message.into(),
            details: Vec::new(),
        }
    }
}

const NOT_FOUND: &str = "Pagina non trovata";

/// The answer to every error, decided here once: a refusal the user can act on (see
/// [`Refusal::of`]), 404 for what does not exist, 403 for what is not this user's, 503 with
/// `Retry-After` when the database cannot answer, 500 for the rest (our bugs, logged).
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, page) = match self {
            WebError::NotFound(message) | WebError::App(AppError::NotFound(message)) => {
                (StatusCode::NOT_FOUND, ErrorPage::new(NOT_FOUND, message))
            }
            WebError::Forbidden | WebError::App(AppError::Forbidden) => (
                StatusCode::FORBIDDEN,
                ErrorPage::new(
                    "Operazione non consentita",
                    "Non hai i permessi per questa operazione, oppure il modulo è scaduto: \
                     ricarica la pagina e riprova.",
                ),
            ),
            unavailable if unavailable.unavailable() => {
                tracing::error!(error = %unavailable, "request failed: database unavailable");
                let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                response.extensions_mut().insert(ErrorPage::new(
                    "Servizio momentaneamente non disponibile",
                    "Il servizio non riesce a leggere o salvare i dati in questo momento. \
                     Riprova tra qualche minuto; se il problema continua, comunica \
                     all'ufficio il codice qui sotto.",
                ));
                return response;
            }
            WebError::App(app) => match Refusal::of(app) {
                Ok(refusal) => {
                    tracing::info!(status = %refusal.status, "request refused");
                    refusal.page()
                }
                Err(other) => internal(WebError::App(other)),
            },
            other => internal(other),
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(page);
        response
    }
}

/// Our own bug: logged with its cause, answered 500 without it.
fn internal(e: WebError) -> (StatusCode, ErrorPage) {
    tracing::error!(error = %e, "request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorPage::new(
            "Si è verificato un errore",
            "Non è stato possibile completare la richiesta. Riprova tra qualche minuto; \
             se il problema continua, comunica all'ufficio il codice qui sotto.",
        ),
    )
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    layout: Layout<'a>,
    message: &'a str,
    details: &'a [String],
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
        ErrorPage::new(title, message)
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
        details: &page.details,
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
        for e in [WebError::Db(down()), WebError::App(AppError::Db(down()))] {
            let r = e.into_response();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(r.headers().contains_key(header::RETRY_AFTER));
            assert!(r.extensions().get::<ErrorPage>().is_some());
        }
        let r = WebError::Db(DbError::Corrupt("x".into())).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn every_app_error_has_one_answer() {
        let answer = |e: AppError| {
            let r = WebError::App(e).into_response();
            let page = r.extensions().get::<ErrorPage>().unwrap().clone();
            (r.status(), page)
        };
        let (status, page) = answer(AppError::Fields(vec![FieldError {
            field: "dal",
            message: "Data non valida.".into(),
        }]));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(page.title, "Dati non validi");
        assert_eq!(page.details, ["Data non valida."]);
        let (status, page) = answer(AppError::Invalid("La giornata è già chiusa.".into()));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(page.message, "La giornata è già chiusa.");
        let (status, page) = answer(AppError::Booking(
            refettorio_domain::BookingError::RangeBackwards,
        ));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            page.message,
            "La data finale viene prima di quella iniziale."
        );
        let (status, page) = answer(AppError::Unauthorized("Credenziali errate.".into()));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(page.message, "Credenziali errate.");
        let (status, page) = answer(AppError::Throttled("Riprova fra 11 minuti.".into()));
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(page.message, "Riprova fra 11 minuti.");
        let (status, _) = answer(AppError::Unavailable("Manca l'indirizzo.".into()));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (status, page) = answer(AppError::NotFound("Iscrizione non trovata.".into()));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(page.message, "Iscrizione non trovata.");
        assert_eq!(answer(AppError::Forbidden).0, StatusCode::FORBIDDEN);
        let (status, page) = answer(AppError::Password);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!page.message.contains("password"), "causes are not shown");
        // A tampered id is answered 403 whether it exists or not; the rest as always.
        for e in [AppError::NotFound("x".into()), AppError::Forbidden] {
            assert!(matches!(WebError::not_yours(e), WebError::Forbidden));
        }
        assert!(matches!(
            WebError::not_yours(AppError::Password),
            WebError::App(AppError::Password)
        ));
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
