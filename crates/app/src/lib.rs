//! Application services of Refettorio: the use cases the web layer calls, built on the pure
//! rules of `refettorio-domain` and the persistence of `refettorio-db`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod attendance;
pub mod audit;
pub mod auth;
pub mod booking;
pub mod close;
pub mod closure;
pub mod content;
pub mod ctx;
pub mod demo;
pub mod error;
pub mod fees;
pub mod identity;
pub mod import;
pub mod kitchen;
pub mod ledger;
pub mod mail;
pub mod oidc;
pub mod outbox;
pub mod pagopa;
pub mod password;
pub mod people;
pub mod platform;
pub mod portal;
pub mod registry;
pub mod reports;
pub mod scheduler;
pub mod settings;
pub mod spid;
pub mod tenant;
pub mod validation;

pub use ctx::{Ctx, Installation};
pub use demo::{DemoOutcome, load_demo};
pub use error::{AppError, FieldError};
/// The database handle the web layer keeps in its state and hands back to the use cases.
pub use refettorio_db::Db;
pub use tenant::Tenant;
