//! Step 1: reading an upload (size, extension and content, text encoding, CSV separator or
//! the first sheet of an XLSX workbook) into a [`Table`] of text cells, one file at a time in
//! the process and within a time budget.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::xlsx;
use crate::AppError;
use crate::FieldError;

/// The largest file accepted.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The most data rows a file may have.
pub const MAX_ROWS: usize = 50_000;
/// The most columns a row may have (CSV; XLSX: [`xlsx::MAX_SHEET_COLUMNS`]).
pub const MAX_COLUMNS: usize = xlsx::MAX_SHEET_COLUMNS as usize;

/// A file read into text cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    /// `(row number as a spreadsheet shows it, cells)`; the header is row 1; empty rows are
    /// left out.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub message: String,
}

pub(super) fn row_error(row: usize, message: impl Into<String>) -> RowError {
    RowError {
        row,
        message: message.into(),
    }
}

/// The error of a file that cannot be read at all (on the form's file field).
pub(super) fn file_error(message: impl Into<String>) -> AppError {
    AppError::Fields(vec![FieldError {
        field: "file",
        message: message.into(),
    }])
}

/// Reads an uploaded file: checks its size, its extension against its content, and gives its
/// first sheet (XLSX) or its rows (CSV) as text. Errors are for the office (Italian).
pub fn read_upload(file_name: &str, bytes: &[u8]) -> Result<Table, String> {
    read_upload_until(file_name, bytes, None)
}

/// [`read_upload`], given up (with the office's error) at `deadline`.
pub fn read_upload_until(
    file_name: &str,
    bytes: &[u8],
    deadline: Option<Instant>,
) -> Result<Table, String> {
    if bytes.is_empty() {
        return Err("Il file è vuoto.".into());
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!(
            "Il file è troppo grande ({:.1} MB): il massimo è {} MB.",
            bytes.len() as f64 / 1_048_576.0,
            MAX_FILE_BYTES / 1_048_576
        ));
    }
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let zip = bytes.starts_with(b"PK\x03\x04");
    let table = match ext.as_str() {
        "xlsx" => {
            if !zip {
                return Err(
                    "Il file non è un foglio Excel .xlsx valido: salvalo di nuovo come «Cartella di lavoro di Excel (.xlsx)» oppure come CSV."
                        .into(),
                );
            }
            xlsx::read(bytes, deadline)?
        }
        "csv" | "txt" => {
            if zip || bytes.starts_with(b"MZ") || bytes.starts_with(b"%PDF") {
                return Err(
                    "Il contenuto del file non è un CSV di testo: controlla di aver scelto il file giusto."
                        .into(),
                );
            }
            read_csv(&decode_text(bytes)?)?
        }
        "xls" => {
            return Err(
                "Il formato .xls (Excel 97-2003) non è supportato: salva il file come .xlsx oppure come CSV."
                    .into(),
            );
        }
        _ => {
            return Err(
                "Tipo di file non ammesso: carica un file .csv oppure .xlsx (Excel).".into(),
            );
        }
    };
    if table.headers.iter().all(|h| h.trim().is_empty()) {
        return Err("Il file non ha la riga delle intestazioni delle colonne.".into());
    }
    if table.rows.is_empty() {
        return Err("Il file non contiene righe da importare.".into());
    }
    if table.rows.len() > MAX_ROWS {
        return Err(format!(
            "Il file ha troppe righe ({}): al massimo {MAX_ROWS} per file.",
            table.rows.len()
        ));
    }
    Ok(table)
}

/// The text of a CSV: a BOM decides (UTF-8, UTF-16); else UTF-8 when the bytes are valid
/// UTF-8, else Windows-1252 (what Excel on Windows saves as "CSV").
pub fn decode_text(bytes: &[u8]) -> Result<String, String> {
    let not_text = || {
        "Il contenuto del file non è un CSV di testo: controlla di aver scelto il file giusto."
            .to_string()
    };
    let text = if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if had_errors {
            return Err(format!(
                "Il file dichiara la codifica {} ma contiene caratteri non validi.",
                encoding.name()
            ));
        }
        text.into_owned()
    } else if let Ok(s) = std::str::from_utf8(bytes) {
        s.to_string()
    } else {
        encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()
    };
    if text.contains('\0') {
        return Err(not_text());
    }
    Ok(text)
}

/// The separator of a CSV: the most frequent of `;`, `,` and tab in its first line (outside
/// quotes); `;` when none appears.
pub fn sniff_separator(text: &str) -> u8 {
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for ch in text.chars() {
        match ch {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            _ if !quoted => {
                for (sep, n) in &mut counts {
                    if ch == char::from(*sep) {
                        *n += 1;
                    }
                }
            }
            _ => {}
        }
    }
    // The first maximum wins: `;` on a tie.
    let mut best = counts[0];
    for c in &counts[1..] {
        if c.1 > best.1 {
            best = *c;
        }
    }
    best.0
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// Splits table rows into header and numbered data rows (blank rows left out).
pub(super) fn into_table(rows: impl Iterator<Item = (usize, Vec<String>)>) -> Table {
    let mut headers = None;
    let mut out = Vec::new();
    for (n, cells) in rows {
        if is_blank(&cells) {
            continue;
        }
        if headers.is_none() {
            headers = Some(cells);
        } else {
            out.push((n, cells));
        }
    }
    Table {
        headers: headers.unwrap_or_default(),
        rows: out,
    }
}

/// Reads CSV text (any of the separators of [`sniff_separator`], quotes as RFC 4180): at
/// most [`MAX_COLUMNS`] columns, and [`MAX_ROWS`] rows besides the header.
pub fn read_csv(text: &str) -> Result<Table, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_separator(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut n = 0;
    loop {
        n += 1;
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(format!(
                    "Il CSV non è leggibile alla riga {n}: controlla le virgolette ({e})."
                ));
            }
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() > MAX_COLUMNS {
            return Err(format!(
                "La riga {n} ha {} colonne: al massimo {MAX_COLUMNS}. Salva solo le colonne da importare e riprova.",
                record.len()
            ));
        }
        rows.push((n, record.iter().map(str::to_string).collect()));
        if rows.len() > MAX_ROWS + 1 {
            return Err(format!(
                "Il file ha troppe righe (più di {MAX_ROWS}): al massimo {MAX_ROWS} per file."
            ));
        }
    }
    Ok(into_table(rows.into_iter()))
}

/// Reads the first sheet of an XLSX workbook as text cells (see [`xlsx::read`]).
pub fn read_xlsx(bytes: &[u8]) -> Result<Table, String> {
    xlsx::read(bytes, None)
}

/// How long a read may wait for its turn, and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub wait: Duration,
    pub time: Duration,
}

/// The dry run's and the import's check: wait up to 10 s for the turn, read in 30 s.
pub const READ_BUDGET: Budget = Budget {
    wait: Duration::from_secs(10),
    time: Duration::from_secs(30),
};

/// The background import, already accepted: it waits longer for its turn.
pub(super) const RUN_BUDGET: Budget = Budget {
    wait: Duration::from_secs(120),
    time: READ_BUDGET.time,
};

/// The reads of this process: one at a time, and at most three more waiting for their turn.
pub struct Readers {
    pub(super) turn: Arc<Semaphore>,
    pub(super) places: Semaphore,
}

impl Readers {
    pub fn new(waiting: usize) -> Readers {
        Readers {
            turn: Arc::new(Semaphore::new(1)),
            places: Semaphore::new(waiting + 1),
        }
    }
}

/// One per process: never two uploads read at the same time on a node.
pub(super) static READERS: LazyLock<Readers> = LazyLock::new(|| Readers::new(3));

/// The office's error when another file is being read.
pub const BUSY: &str = "Un'altra importazione è in corso: riprova tra qualche minuto.";

/// Reads an upload as [`read_upload`] does, on a blocking thread, when no other read of
/// `readers` runs (waiting at most `budget.wait`, else [`BUSY`]) and within `budget.time`.
/// The turn is held until the read has really ended, even after the time ran out.
pub async fn read_bounded(
    readers: &Readers,
    budget: Budget,
    file_name: &str,
    bytes: &[u8],
) -> Result<Table, String> {
    // A place in the short queue, or busy at once.
    let _place = readers.places.try_acquire().map_err(|_| BUSY.to_string())?;
    let turn = match tokio::time::timeout(budget.wait, readers.turn.clone().acquire_owned()).await {
        Ok(Ok(turn)) => turn,
        _ => return Err(BUSY.to_string()),
    };
    let deadline = Instant::now() + budget.time;
    let (name, bytes) = (file_name.to_string(), bytes.to_vec());
    let task = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        read_upload_until(&name, &bytes, Some(deadline))
    });
    match tokio::time::timeout(budget.time + Duration::from_secs(1), task).await {
        Ok(Ok(read)) => read,
        // The reader panicked on the file: as a broken file.
        Ok(Err(_)) => Err(
            "Il file non è leggibile: salvalo di nuovo come .xlsx oppure come CSV e riprova."
                .to_string(),
        ),
        Err(_) => Err(xlsx::too_slow()),
    }
}
