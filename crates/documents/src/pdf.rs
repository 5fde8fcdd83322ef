//! The typst rendering core: a minimal in-memory [`typst::World`] that compiles
//! a template (plus in-memory files such as `/data.json` or images) with the
//! fonts embedded in the binary (`typst-assets`) into PDF bytes.
//!
//! Nothing here touches the file system, the network or the clock: the same
//! input always produces the same bytes.
//!
//! Templates must read their data with `json("/data.json")` (see
//! [`render_with_data`]); user text is never spliced into typst markup.
//! PDF/A needs a document date: templates set `document(date: ..)` from
//! their data (there is no clock here).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use serde::Serialize;
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards};

use crate::DocumentError;

/// Where [`render_with_data`] puts the serialised view model.
pub const DATA_PATH: &str = "/data.json";

/// Path of the main template inside the virtual file system.
const MAIN_PATH: &str = "/main.typ";

/// The value of the PDF `/Creator` entry.
const CREATOR: &str = "Refettorio";

/// How many compilations a memoised typst result may go unused before it is
/// evicted from typst's global cache (keeps a long-running server bounded).
const CACHE_MAX_AGE: usize = 8;

/// Which PDF flavour to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PdfProfile {
    /// PDF/A-2b (archival), tagged. The default for everything we issue.
    #[default]
    ArchivalA2b,
    /// A plain PDF 1.7, tagged.
    Plain,
}

/// An in-memory file made available to the template, e.g. an image or a
/// JSON document. `path` is absolute inside the virtual root, e.g. `/logo.png`.
///
/// Use a small, fixed set of paths (not one per tenant or request): typst
/// interns every distinct path for the life of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl VirtualFile {
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            bytes: bytes.into(),
        }
    }

    /// A JSON file holding `value`.
    pub fn json<T: Serialize + ?Sized>(
        path: impl Into<String>,
        value: &T,
    ) -> Result<Self, DocumentError> {
        Ok(Self::new(path, serde_json::to_vec(value)?))
    }
}

/// Renders `template` with `data` serialised as JSON at [`DATA_PATH`], as a
/// tagged PDF/A-2b.
pub fn render_with_data<T: Serialize + ?Sized>(
    template: &str,
    data: &T,
) -> Result<Vec<u8>, DocumentError> {
    render(
        template,
        vec![VirtualFile::json(DATA_PATH, data)?],
        PdfProfile::default(),
    )
}

/// Compiles the typst `source` (with the extra in-memory `files`) into PDF bytes.
///
/// CPU-bound and synchronous (tens to hundreds of milliseconds): async callers
/// should run it on a blocking thread.
///
/// Files ending in `.typ` can be imported or included by the main source.
pub fn render(
    source: &str,
    files: Vec<VirtualFile>,
    profile: PdfProfile,
) -> Result<Vec<u8>, DocumentError> {
    let world = MemoryWorld::new(source, files)?;
    let result = compile_pdf(&world, profile);
    typst::comemo::evict(CACHE_MAX_AGE);
    result
}

fn compile_pdf(world: &MemoryWorld, profile: PdfProfile) -> Result<Vec<u8>, DocumentError> {
    let document: PagedDocument = typst::compile(world)
        .output
        .map_err(|diags| DocumentError::Compile(describe(world, &diags)))?;
    let standards = match profile {
        PdfProfile::ArchivalA2b => PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| {
            let mut text = e.message().to_string();
            for hint in e.hints() {
                let _ = write!(text, "; hint: {hint}");
            }
            DocumentError::Standards(text)
        })?,
        PdfProfile::Plain => PdfStandards::default(),
    };
    let options = PdfOptions {
        creator: Smart::Custom(Some(CREATOR.to_owned())),
        standards,
        tagged: true,
        ..PdfOptions::default()
    };
    typst_pdf::pdf(&document, &options)
        .map_err(|diags| DocumentError::Export(describe(world, &diags)))
}

/// Joins diagnostics as `error: message (at /main.typ:12:5)` lines with hints.
fn describe(world: &MemoryWorld, diags: &[SourceDiagnostic]) -> String {
    let mut text = String::new();
    for diag in diags {
        if !text.is_empty() {
            text.push('\n');
        }
        let _ = write!(text, "error: {}", diag.message);
        if let Some(location) = locate(world, diag) {
            let _ = write!(text, " (at {location})");
        }
        for hint in &diag.hints {
            let _ = write!(text, "\n  hint: {}", hint.v);
        }
    }
    if text.is_empty() {
        text.push_str("error: unknown typst failure");
    }
    text
}

fn locate(world: &MemoryWorld, diag: &SourceDiagnostic) -> Option<String> {
    let id = diag.span.id()?;
    let path = id.vpath().get_with_slash().to_owned();
    let position = world.range(diag.span).and_then(|range| {
        world
            .source(id)
            .ok()?
            .lines()
            .byte_to_line_column(range.start)
    });
    Some(match position {
        Some((line, column)) => format!("{path}:{}:{}", line + 1, column + 1),
        None => path,
    })
}

/// Fonts parsed once per process from the assets embedded in the binary.
struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    Fonts {
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
    }
});

/// The standard library, built once (data reaches templates as files, not
/// through `sys.inputs`, so it never varies).
static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

/// The number of fonts available to templates (useful for health checks).
pub fn font_count() -> usize {
    FONTS.fonts.len()
}

/// A typst world living entirely in memory.
struct MemoryWorld {
    main: FileId,
    sources: HashMap<FileId, Source>,
    files: HashMap<FileId, Bytes>,
}

impl MemoryWorld {
    fn new(main_source: &str, files: Vec<VirtualFile>) -> Result<Self, DocumentError> {
        let main = file_id(MAIN_PATH)?;
        let mut sources = HashMap::new();
        let mut bytes = HashMap::new();
        sources.insert(main, Source::new(main, main_source.to_owned()));
        bytes.insert(main, Bytes::from_string(main_source.to_owned()));
        for file in files {
            let id = file_id(&file.path)?;
            if id == main {
                return Err(DocumentError::InvalidPath {
                    path: file.path,
                    reason: "reserved for the main template".to_owned(),
                });
            }
            if id.vpath().extension() == Some("typ")
                && let Ok(text) = String::from_utf8(file.bytes.clone())
            {
                sources.insert(id, Source::new(id, text));
            }
            bytes.insert(id, Bytes::new(file.bytes));
        }
        Ok(Self {
            main,
            sources,
            files: bytes,
        })
    }
}

fn file_id(path: &str) -> Result<FileId, DocumentError> {
    let vpath = VirtualPath::new(path).map_err(|e| DocumentError::InvalidPath {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_with_slash().into())
}

impl World for MemoryWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        match self.sources.get(&id) {
            Some(source) => Ok(source.clone()),
            None if self.files.contains_key(&id) => Err(FileError::NotSource),
            None => Err(not_found(id)),
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        self.files.get(&id).cloned().ok_or_else(|| not_found(id))
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.fonts.get(index).cloned()
    }

    /// No clock: documents get their dates from the view model.
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn fonts_are_embedded() {
        assert!(font_count() >= 10, "fonts: {}", font_count());
    }

    #[test]
    fn renders_a_pdf_a() {
        let pdf = render(
            "#set document(title: \"Prova\", date: datetime(year: 2026, month: 11, day: 23))\n#set text(lang: \"it\")\nCiao, mondo.",
            vec![],
            PdfProfile::ArchivalA2b,
        );
        let pdf = pdf.unwrap_or_else(|e| panic!("{e}"));
        assert!(pdf.starts_with(b"%PDF"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("pdfaid"), "no PDF/A identification in XMP");
    }

    #[test]
    fn pdf_a_without_a_date_is_an_export_error() {
        let err = render("Senza data", vec![], PdfProfile::ArchivalA2b);
        match err {
            Err(DocumentError::Export(text)) => assert!(text.contains("date"), "{text}"),
            other => panic!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn reads_in_memory_files() {
        let pdf = render(
            "#let d = json(\"/data.json\")\n#d.name\n#include \"/part.typ\"",
            vec![
                VirtualFile::new("/data.json", br#"{"name": "Rodari"}"#.to_vec()),
                VirtualFile::new("/part.typ", b"Parte inclusa".to_vec()),
            ],
            PdfProfile::Plain,
        );
        assert!(pdf.is_ok_and(|b| b.starts_with(b"%PDF")));
    }

    #[test]
    fn compile_errors_are_reported_with_location() {
        let err = render("Riga uno\n#nonesiste()", vec![], PdfProfile::Plain);
        match err {
            Err(DocumentError::Compile(text)) => {
                assert!(text.contains("nonesiste"), "{text}");
                assert!(text.contains("/main.typ:2:"), "{text}");
            }
            other => panic!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn missing_file_is_an_error_not_a_panic() {
        let err = render("#image(\"/logo.png\")", vec![], PdfProfile::Plain);
        assert!(matches!(err, Err(DocumentError::Compile(_))));
    }

    #[test]
    fn invalid_paths_are_rejected() {
        let err = render(
            "x",
            vec![VirtualFile::new("/main.typ", b"y".to_vec())],
            PdfProfile::Plain,
        );
        assert!(matches!(err, Err(DocumentError::InvalidPath { .. })));
    }
}
