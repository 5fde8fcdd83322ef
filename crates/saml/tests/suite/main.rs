//! The crate's integration tests, one module per area, built as one test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod c14n;
mod dsig;
mod spid;
