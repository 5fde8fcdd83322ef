//! The registry (anagrafica): tenants, school years and calendars, schools and classes,
//! families, pupils, services, tariffs, diets, enrolments and staff.

pub mod calendar;
pub mod family;
pub mod school;
pub mod service;
pub mod staff;
pub mod tenant;

use crate::DbError;

/// Maps a stored text back to a domain enumeration, or reports corrupt data.
pub(crate) fn parse_enum<T>(
    value: &str,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, DbError> {
    parse(value).ok_or_else(|| DbError::Corrupt(format!("unknown {what} '{value}'")))
}

pub(crate) fn corrupt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> DbError + '_ {
    move |e| DbError::Corrupt(format!("{what}: {e}"))
}
