//! Errors of the application layer.

pub use refettorio_db::DbError;

/// What can go wrong in a use case. `Invalid` carries a message fit to show the user (Italian).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Db(#[from] refettorio_db::DbError),
    #[error("{0}")]
    Invalid(String),
    /// A meal change the rules refuse; the message is for the family.
    #[error(transparent)]
    Booking(#[from] refettorio_domain::BookingError),
    #[error("{0}")]
    NotFound(String),
    /// Wrong credentials or a login method that is off; the message is for the user.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many failed logins; the message says when to try again.
    #[error("{0}")]
    Throttled(String),
    /// The user may not see or change this.
    #[error("forbidden")]
    Forbidden,
    /// The service cannot do this as configured (e.g. no public address for e-mailed links);
    /// the message is for the user, who can only tell the office.
    #[error("{0}")]
    Unavailable(String),
    /// A form with invalid fields, each with its message.
    #[error("invalid fields: {}", .0.iter().map(|e| e.field).collect::<Vec<_>>().join(", "))]
    Fields(Vec<FieldError>),
    #[error("password hashing failed")]
    Password,
    /// A date computation left jiff's range (never with real calendars).
    #[error("date computation failed: {0}")]
    Date(#[from] jiff::Error),
    /// A message's template failed to render (never with the templates shipped).
    #[error("message template: {0}")]
    Template(#[from] askama::Error),
}

impl AppError {
    /// Whether the database could not serve the request (unreachable, out of connections or
    /// disk): worth trying again later, unlike our own bugs.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AppError::Db(e) if e.is_unavailable())
    }
}

/// A field of a form and what is wrong with it (Italian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}
