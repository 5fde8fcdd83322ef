//! The crate's integration tests, one module per area, built as one test binary (one link and
//! one executable instead of one per file: see docs/architecture.md, "Tests").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod assets;
mod audit_log;
mod auth;
mod backoffice;
mod browser;
mod cli;
mod common;
mod enrolment_validation;
mod fees;
mod import;
mod mail;
mod messaging;
mod office;
mod oidc;
mod pagopa;
mod people;
mod portal;
mod registry;
mod reports;
mod scheduler;
mod school_attendance;
mod server;
mod spid;
