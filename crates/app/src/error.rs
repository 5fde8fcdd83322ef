//! Errors of the application layer.

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
    #[error("password hashing failed")]
    Password,
    /// A date computation left jiff's range (never with real calendars).
    #[error("date computation failed: {0}")]
    Date(#[from] jiff::Error),
}
