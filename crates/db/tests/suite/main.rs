//! The crate's integration tests, one module per area, built as one test binary (one link and
//! one executable instead of one per file: see docs/architecture.md, "Tests").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod audit;
mod full_disk;
mod import;
mod pagopa;
mod registry;
