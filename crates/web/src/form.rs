//! Forms shown again with what is wrong. A handler says once how to render its form with
//! [`FieldErrors`] (`result.or_form(|errors| render(…, errors))`); what the user can fix (a
//! [`Refusal`]: fields, a refused change, wrong credentials…) comes back on the form with the
//! refusal's status (422 for a form to correct), everything else goes to the one mapping of
//! `crate::error`. Templates read the errors with `errors.get("field")` (the shared macros take
//! it as their `error`) and `errors.message()` for what concerns the whole form.
//!
//! htmx swaps a 4xx answer too: `base.html` configures its `responseHandling` so that a form
//! sent by htmx and answered 422 shows its errors in place, as one sent without htmx does.

use std::future::Future;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use refettorio_app::{AppError, FieldError};

use crate::error::{Refusal, WebError};

/// What is wrong with a form as sent: each field's message, a message for the whole form, the
/// status to answer with (200 when nothing is wrong) and, on a page with several forms, which
/// form it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldErrors {
    status: StatusCode,
    form: &'static str,
    message: Option<String>,
    fields: Vec<FieldError>,
}

/// Nothing wrong, for the forms the errors do not belong to.
static NONE: FieldErrors = FieldErrors {
    status: StatusCode::OK,
    form: "",
    message: None,
    fields: Vec::new(),
};

impl Default for FieldErrors {
    fn default() -> Self {
        NONE.clone()
    }
}

impl From<Refusal> for FieldErrors {
    fn from(r: Refusal) -> Self {
        FieldErrors {
            status: r.status,
            form: "",
            message: r.message,
            fields: merged(r.fields),
        }
    }
}

/// One entry per field: the messages of a field named twice are joined.
fn merged(fields: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::with_capacity(fields.len());
    for f in fields {
        match out.iter_mut().find(|e| e.field == f.field) {
            Some(e) => {
                e.message.push(' ');
                e.message.push_str(&f.message);
            }
            None => out.push(f),
        }
    }
    out
}

impl From<Vec<FieldError>> for FieldErrors {
    /// Fields found wrong by the web layer itself (422 unless there are none).
    fn from(fields: Vec<FieldError>) -> Self {
        FieldErrors {
            status: if fields.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            form: "",
            message: None,
            fields: merged(fields),
        }
    }
}

impl FieldErrors {
    /// Nothing wrong: the form shown for the first time (200).
    pub fn none() -> Self {
        Self::default()
    }

    /// Nothing wrong, borrowed (for a form the errors do not belong to).
    pub fn empty() -> &'static FieldErrors {
        &NONE
    }

    /// One field found wrong by the web layer itself (422).
    pub fn one(field: &'static str, message: impl Into<String>) -> Self {
        vec![FieldError {
            field,
            message: message.into(),
        }]
        .into()
    }

    /// A refusal the user can fix, or the error given back for the central mapping.
    pub fn of(e: AppError) -> Result<Self, WebError> {
        Refusal::of(e).map(Self::from).map_err(WebError::from)
    }

    /// The same errors, belonging to the form `form` of a page with several.
    pub fn in_form(mut self, form: &'static str) -> Self {
        self.form = form;
        self
    }

    /// The errors of the form `form`: these if they belong to it, none otherwise.
    pub fn on(&self, form: &str) -> &FieldErrors {
        if self.form == form { self } else { &NONE }
    }

    /// What is wrong with `field`, if anything.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// Each wrong field with its message; a message for the whole form comes first, under
    /// the empty field name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let whole = self.message().map(|m| ("", m));
        whole
            .into_iter()
            .chain(self.fields.iter().map(|e| (e.field, e.message.as_str())))
    }

    /// What is wrong with the form as a whole (a refused change, wrong credentials…).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The first thing to tell: the message for the whole form, else the first field's.
    pub fn first(&self) -> Option<&str> {
        self.message()
            .or_else(|| self.fields.first().map(|e| e.message.as_str()))
    }

    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.message.is_none() && self.fields.is_empty()
    }

    /// The status of the page showing the form: 200 when nothing is wrong, else the
    /// refusal's (422 for fields to correct).
    pub fn status(&self) -> StatusCode {
        if self.is_empty() {
            StatusCode::OK
        } else {
            self.status
        }
    }
}

/// A use case's result seen from a form.
pub(crate) trait FormResult<T> {
    /// The value; or what the user can fix, to show on the form; or the request's error.
    fn or_errors(self) -> Result<Result<T, FieldErrors>, WebError>;

    /// The value as the answer, or the form rendered again by `render` with what the user can
    /// fix; any other error is the request's (answered by `crate::error`).
    fn or_form<F, Fut>(self, render: F) -> impl Future<Output = Result<Response, WebError>>
    where
        T: IntoResponse,
        F: FnOnce(FieldErrors) -> Fut,
        Fut: Future<Output = Result<Response, WebError>>;
}

impl<T> FormResult<T> for Result<T, AppError> {
    fn or_errors(self) -> Result<Result<T, FieldErrors>, WebError> {
        match self {
            Ok(v) => Ok(Ok(v)),
            Err(e) => FieldErrors::of(e).map(Err),
        }
    }

    async fn or_form<F, Fut>(self, render: F) -> Result<Response, WebError>
    where
        T: IntoResponse,
        F: FnOnce(FieldErrors) -> Fut,
        Fut: Future<Output = Result<Response, WebError>>,
    {
        match self.or_errors()? {
            Ok(v) => Ok(v.into_response()),
            Err(errors) => render(errors).await,
        }
    }
}

/// A day typed in a form or query (`YYYY-MM-DD`).
pub(crate) fn parse_day(s: &str) -> Option<Date> {
    s.trim().parse::<Date>().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn field(field: &'static str, message: &str) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }

    #[test]
    fn field_errors_answer_per_field_and_per_form() {
        let none = FieldErrors::none();
        assert!(none.is_empty());
        assert_eq!(none.status(), StatusCode::OK);
        assert_eq!(none.get("dal"), None);

        let e = FieldErrors::of(AppError::Fields(vec![
            field("dal", "Data non valida."),
            field("al", "Data finale prima dell'iniziale."),
        ]))
        .unwrap();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.get("al"), Some("Data finale prima dell'iniziale."));
        assert_eq!(e.get("tipo"), None);
        assert_eq!(e.message(), None);
        assert_eq!(e.first(), Some("Data non valida."));

        let e = e.in_form("fascia");
        assert_eq!(e.on("fascia").get("dal"), Some("Data non valida."));
        assert_eq!(e.on("servizio").get("dal"), None);
        assert!(e.on("servizio").is_empty());

        let e = FieldErrors::of(AppError::Invalid("Già chiusa.".into())).unwrap();
        assert_eq!(e.message(), Some("Già chiusa."));
        assert_eq!(e.first(), Some("Già chiusa."));
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(FieldErrors::one("x", "y").get("x"), Some("y"));
        let twice = FieldErrors::from(vec![
            field("iban", "Troppo corto."),
            field("iban", "Non IT."),
        ]);
        assert_eq!(twice.get("iban"), Some("Troppo corto. Non IT."));
    }

    #[test]
    fn only_what_the_user_can_fix_comes_back_to_the_form() {
        for (e, status) in [
            (
                AppError::Unauthorized("No.".into()),
                StatusCode::UNAUTHORIZED,
            ),
            (
                AppError::Throttled("Riprova fra 3 minuti.".into()),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (
                AppError::Unavailable("Manca l'indirizzo.".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            assert_eq!(FieldErrors::of(e).unwrap().status(), status);
        }
        for e in [
            AppError::Forbidden,
            AppError::NotFound("x".into()),
            AppError::Password,
        ] {
            assert!(FieldErrors::of(e).is_err());
        }
    }

    #[tokio::test]
    async fn or_form_renders_the_form_or_passes_the_error_on() {
        let render = |errors: FieldErrors| async move {
            Ok((
                errors.status(),
                errors.first().unwrap_or_default().to_string(),
            )
                .into_response())
        };
        let ok: Result<&'static str, AppError> = Ok("fatto");
        assert_eq!(ok.or_form(render).await.unwrap().status(), StatusCode::OK);
        let refused: Result<&'static str, AppError> =
            Err(AppError::Fields(vec![field("nome", "Obbligatorio.")]));
        let r = refused.or_form(render).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let gone: Result<&'static str, AppError> = Err(AppError::NotFound("x".into()));
        assert!(matches!(
            gone.or_form(render).await,
            Err(WebError::App(AppError::NotFound(_)))
        ));
    }
}
