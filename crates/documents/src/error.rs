/// Why a document could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// A path given for an in-memory file is not a valid typst virtual path.
    #[error("invalid document file path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    /// The view model could not be serialised to JSON for the template.
    #[error("could not serialise the document data: {0}")]
    Data(#[from] serde_json::Error),
    /// Typst reported errors while compiling the template (diagnostics joined).
    #[error("typst compilation failed:\n{0}")]
    Compile(String),
    /// The compiled document could not be exported as PDF (diagnostics joined).
    #[error("PDF export failed:\n{0}")]
    Export(String),
    /// The requested PDF standards are not a valid combination.
    #[error("invalid PDF standards: {0}")]
    Standards(String),
    /// The XLSX workbook could not be written.
    #[error("XLSX export failed: {0}")]
    Xlsx(String),
}
