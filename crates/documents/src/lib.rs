//! Documents: pure functions from a view model to bytes (PDF, CSV, XLSX).
//!
//! Every table that is exported (the reports, the kitchen's numbers) goes through [`table`]:
//! one way to write CSV and XLSX.
//!
//! This is the only crate that depends on typst. PDFs are rendered by the
//! small in-memory typst world in [`pdf`]; data reaches the `.typ` templates
//! under `templates/` only as JSON (`/data.json`), never as interpolated
//! markup, so user-provided text cannot inject typst code.

mod error;
pub mod kitchen;
pub mod notice;
pub mod pdf;
pub mod table;

pub use error::DocumentError;
