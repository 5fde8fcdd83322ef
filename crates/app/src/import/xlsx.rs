//! Reading an uploaded XLSX workbook within a fixed cost, whatever the file says of itself.
//!
//! An XLSX is a zip of XML parts. A few KB can declare a sheet of 1,048,576 × 16,384 cells
//! (calamine's `Range` would allocate all of them: 512 GB) or unpack to gigabytes (a zip
//! bomb), so the file is bounded before and while calamine reads it:
//! 1. [`inspect`], before calamine sees the bytes: at most [`MAX_PARTS`] parts; each part's
//!    declared AND real uncompressed size (read through a limit, since the declared size can
//!    lie) at most [`MAX_PART_BYTES`], all parts together at most [`MAX_UNPACKED_BYTES`];
//!    a worksheet's declared `<dimension>` within [`MAX_SHEET_ROWS`] × [`MAX_SHEET_COLUMNS`];
//!    a shared strings table of at most [`MAX_SHARED_STRINGS`] strings, declared and real
//!    (calamine reserves room for the declared count);
//! 2. [`read`]: the first sheet cell by cell (calamine's streaming cells reader, never a
//!    `Range`), each cell within the rows and columns above whatever the dimension said, at
//!    most [`MAX_CELL_CHARS`] characters in a cell, [`MAX_CELLS`] cells and
//!    [`MAX_TEXT_BYTES`] of text in all, at most `MAX_ROWS` + 1 rows with data;
//! 3. a deadline, checked while unpacking and reading cells.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Cursor, Read};
use std::time::Instant;

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use quick_xml::events::Event;

use super::read::{MAX_ROWS, Table, into_table};

/// The most parts (files) in the workbook's zip.
pub const MAX_PARTS: usize = 1_000;
/// The largest uncompressed part (the sheet's XML, the shared strings…).
pub const MAX_PART_BYTES: u64 = 50 * 1024 * 1024;
/// The largest uncompressed workbook, all parts together.
pub const MAX_UNPACKED_BYTES: u64 = 100 * 1024 * 1024;
/// The last row a cell may be in (a municipality's registry has tens of thousands of rows).
pub const MAX_SHEET_ROWS: u32 = 200_000;
/// The last column a cell may be in (`CV`; the widest layout has 11 columns).
pub const MAX_SHEET_COLUMNS: u32 = 100;
/// The most cells with a value.
pub const MAX_CELLS: usize = 1_000_000;
/// The longest text of one cell (Excel's own limit).
pub const MAX_CELL_CHARS: usize = 32_767;
/// The most text of all cells together.
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;
/// The most strings in the shared strings table.
pub const MAX_SHARED_STRINGS: u64 = 1_000_000;

const MB: u64 = 1024 * 1024;

fn bad() -> String {
    "Il file non è un foglio Excel .xlsx valido: salvalo di nuovo come «Cartella di lavoro di Excel (.xlsx)» oppure come CSV."
        .to_string()
}

/// The error of a read that ran out of time.
pub fn too_slow() -> String {
    "La lettura del file richiede troppo tempo: salva solo le righe da importare (anche come CSV) e riprova."
        .to_string()
}

fn check_time(deadline: Option<Instant>) -> Result<(), String> {
    match deadline {
        Some(d) => {
            let now = Instant::now();
            if now >= d { Err(too_slow()) } else { Ok(()) }
        }
        None => Ok(()),
    }
}

/// `1048576` as `1.048.576`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    out
}

/// The letters of a 1-based column number (`1` = `A`, `16384` = `XFD`).
pub fn column_letters(mut col: u32) -> String {
    let mut out = Vec::new();
    while col > 0 {
        let rem = (col - 1) % 26;
        out.push(char::from(b'A' + rem as u8));
        col = (col - 1) / 26;
    }
    out.iter().rev().collect()
}

/// A cell reference (`XFD1048576`) as 1-based (row, column); `None` if it is not one.
fn cell_ref(s: &str) -> Option<(u64, u64)> {
    let s = s.trim().trim_start_matches('$');
    let split = s.find(|c: char| !c.is_ascii_alphabetic())?;
    let (letters, digits) = s.split_at(split);
    let digits = digits.trim_start_matches('$');
    if letters.is_empty() || letters.len() > 4 || digits.is_empty() || digits.len() > 9 {
        return None;
    }
    let mut col = 0u64;
    for b in letters.bytes() {
        col = col * 26 + u64::from(b.to_ascii_uppercase() - b'A' + 1);
    }
    let row = digits.parse::<u64>().ok()?;
    Some((row, col))
}

/// The refusal of a sheet reaching `rows` rows and `cols` columns; `None` within limits.
fn dimension_error(rows: u64, cols: u64) -> Option<String> {
    (rows > u64::from(MAX_SHEET_ROWS) || cols > u64::from(MAX_SHEET_COLUMNS)).then(|| {
        format!(
            "Il foglio dichiara {} {} e {} {}: il limite è {} righe e {} colonne. Salva solo le righe da importare e riprova.",
            thousands(rows),
            if rows == 1 { "riga" } else { "righe" },
            thousands(cols),
            if cols == 1 { "colonna" } else { "colonne" },
            thousands(u64::from(MAX_SHEET_ROWS)),
            thousands(u64::from(MAX_SHEET_COLUMNS)),
        )
    })
}

/// Checks a `<dimension ref="A1:XFD1048576"/>` (or `ref="A1"`): the last row and column.
fn check_dimension(reference: &str) -> Result<(), String> {
    let last = reference.rsplit(':').next().unwrap_or(reference);
    match cell_ref(last) {
        Some((rows, cols)) => dimension_error(rows, cols).map_or(Ok(()), Err),
        // Not a reference: calamine refuses it, and the cells are bounded anyway.
        None => Ok(()),
    }
}

fn part_too_large() -> String {
    format!(
        "Il file Excel, una volta decompresso, supera i {} MB ammessi per ciascuna sua parte (al massimo {} MB in tutto): salva solo le righe da importare, senza immagini o altri fogli, e riprova.",
        MAX_PART_BYTES / MB,
        MAX_UNPACKED_BYTES / MB
    )
}

/// Counts the bytes read through it, and watches the deadline.
struct Counted<R> {
    inner: R,
    count: u64,
    deadline: Option<Instant>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline"));
        }
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// What the start of an XML part says that matters here.
fn scan_xml<R: io::BufRead>(xml: &mut quick_xml::Reader<R>) -> Result<(), String> {
    let mut buf = Vec::new();
    let mut root = None::<String>;
    let mut strings = 0u64;
    loop {
        buf.clear();
        let event = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            // Not XML that can be read here: calamine judges it, within the limits of size.
            Err(_) => return Ok(()),
        };
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name().as_ref().to_string();
                match (root.as_deref(), name.as_str()) {
                    (None, "sst") => {
                        for key in ["uniqueCount", "count"] {
                            if let Ok(Some(a)) = e.try_get_attribute(key) {
                                let n = a.value.trim().parse::<u64>().ok();
                                // calamine reserves room for `uniqueCount` strings.
                                if n.is_none_or(|n| n > MAX_SHARED_STRINGS) {
                                    return Err(too_many_strings());
                                }
                            }
                        }
                        root = Some(name);
                    }
                    (None, "worksheet") => root = Some(name),
                    // Another part: nothing to check in it.
                    (None, _) => return Ok(()),
                    (Some("worksheet"), "dimension") => {
                        if let Ok(Some(a)) = e.try_get_attribute("ref") {
                            check_dimension(&a.value)?;
                        }
                    }
                    // The cells start: the dimension, if any, came before.
                    (Some("worksheet"), "sheetData") => return Ok(()),
                    (Some("sst"), "si") => {
                        strings += 1;
                        if strings > MAX_SHARED_STRINGS {
                            return Err(too_many_strings());
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

fn too_many_strings() -> String {
    format!(
        "Il file Excel contiene più di {} testi diversi: il limite è questo. Salva solo le righe da importare e riprova.",
        thousands(MAX_SHARED_STRINGS)
    )
}

/// Checks the workbook's zip and the parts calamine reads in full, without calamine: see
/// the module's documentation. Every part is unpacked (into nothing) through a limit.
pub fn inspect(bytes: &[u8], deadline: Option<Instant>) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| bad())?;
    if zip.len() > MAX_PARTS {
        return Err(format!(
            "Il file Excel contiene troppe parti ({}): al massimo {}. Salva solo il foglio da importare e riprova.",
            thousands(zip.len() as u64),
            thousands(MAX_PARTS as u64)
        ));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        check_time(deadline)?;
        let part = zip.by_index(i).map_err(|_| bad())?;
        if part.size() > MAX_PART_BYTES || total.saturating_add(part.size()) > MAX_UNPACKED_BYTES {
            return Err(part_too_large());
        }
        let xml = part.name().is_ok_and(|n| {
            let n = n.to_ascii_lowercase();
            n.ends_with(".xml") || n.ends_with(".rels")
        });
        // One byte over the limit is enough to know.
        let mut counted = Counted {
            inner: part.take(MAX_PART_BYTES + 1),
            count: 0,
            deadline,
        };
        let unpacked = if xml {
            let mut reader = quick_xml::Reader::from_reader(BufReader::new(&mut counted));
            // A refusal here is final; the rest of the part is still unpacked below.
            scan_xml(&mut reader)?;
            io::copy(&mut reader.into_inner(), &mut io::sink())
        } else {
            io::copy(&mut counted, &mut io::sink())
        };
        check_time(deadline)?;
        if counted.count > MAX_PART_BYTES {
            return Err(part_too_large());
        }
        // A part that does not unpack: a broken file.
        unpacked.map_err(|_| bad())?;
        total += counted.count;
        if total > MAX_UNPACKED_BYTES {
            return Err(part_too_large());
        }
    }
    Ok(())
}

/// A cell's value as the import reads it: numbers without a needless `.0`, dates as
/// `aaaa-mm-gg`, true/false as sì/no.
fn text<'a>(d: &'a DataRef<'_>) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    match d {
        DataRef::Empty => Cow::Borrowed(""),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            Cow::Borrowed(s.as_str())
        }
        DataRef::SharedString(s) => Cow::Borrowed(*s),
        DataRef::Int(i) => Cow::Owned(i.to_string()),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            Cow::Owned(format!("{}", *f as i64))
        }
        DataRef::Float(f) => Cow::Owned(format!("{f}")),
        DataRef::Bool(b) => Cow::Borrowed(if *b { "sì" } else { "no" }),
        DataRef::DateTime(dt) => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            Cow::Owned(format!("{y:04}-{m:02}-{d:02}"))
        }
        DataRef::Error(e) => Cow::Owned(format!("#{e}")),
    }
}

/// Reads the first sheet of an XLSX workbook as text cells, within the limits of the
/// module's documentation; `deadline` (if any) bounds the time.
pub fn read(bytes: &[u8], deadline: Option<Instant>) -> Result<Table, String> {
    inspect(bytes, deadline)?;
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|_| bad())?;
    check_time(deadline)?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| "Il file Excel non contiene fogli.".to_string())?;
    let mut cells = match book.worksheet_cells_reader(&name) {
        Ok(c) => c,
        // A chart sheet first: no cells.
        Err(XlsxError::NotAWorksheet(_)) => return Ok(into_table(std::iter::empty())),
        Err(_) => return Err(bad()),
    };
    // The dimension calamine found (0-based), whatever part the sheet is in.
    let d = cells.dimensions();
    if let Some(e) = dimension_error(u64::from(d.end.0) + 1, u64::from(d.end.1) + 1) {
        return Err(e);
    }
    let mut rows: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    let (mut seen, mut count, mut text_bytes) = (0usize, 0usize, 0usize);
    while let Some(cell) = cells.next_cell().map_err(|_| bad())? {
        seen += 1;
        if seen.is_multiple_of(1024) {
            check_time(deadline)?;
        }
        let value = text(cell.get_value());
        if value.trim().is_empty() {
            continue;
        }
        let (r, c) = cell.get_position();
        if r >= MAX_SHEET_ROWS || c >= MAX_SHEET_COLUMNS {
            return Err(format!(
                "La cella {}{} è oltre il limite di {} righe e {} colonne: salva solo le righe e le colonne da importare e riprova.",
                column_letters(c.saturating_add(1)),
                u64::from(r) + 1,
                thousands(u64::from(MAX_SHEET_ROWS)),
                thousands(u64::from(MAX_SHEET_COLUMNS)),
            ));
        }
        if value.len() > MAX_CELL_CHARS && value.chars().count() > MAX_CELL_CHARS {
            return Err(format!(
                "La cella {}{} contiene più di {} caratteri, il massimo di Excel: controlla di aver scelto il file giusto.",
                column_letters(c + 1),
                r + 1,
                thousands(MAX_CELL_CHARS as u64),
            ));
        }
        count += 1;
        text_bytes += value.len();
        if count > MAX_CELLS || text_bytes > MAX_TEXT_BYTES {
            return Err(format!(
                "Il foglio contiene troppi dati: al massimo {} celle piene e {} MB di testo. Salva solo le righe da importare e riprova.",
                thousands(MAX_CELLS as u64),
                MAX_TEXT_BYTES as u64 / MB,
            ));
        }
        let value = value.into_owned();
        rows.entry(r).or_default().push((c, value));
        // The header and MAX_ROWS rows; more is refused by read_upload anyway.
        if rows.len() > MAX_ROWS + 1 {
            return Err(format!(
                "Il file ha troppe righe (più di {MAX_ROWS}): al massimo {MAX_ROWS} per file."
            ));
        }
    }
    let first_col = rows
        .values()
        .flat_map(|r| r.iter().map(|(c, _)| *c))
        .min()
        .unwrap_or(0);
    Ok(into_table(rows.into_iter().map(|(r, cells)| {
        let width = cells
            .iter()
            .map(|(c, _)| c - first_col + 1)
            .max()
            .unwrap_or(0);
        let mut out = vec![String::new(); width as usize];
        for (c, v) in cells {
            if let Some(slot) = out.get_mut((c - first_col) as usize) {
                *slot = v;
            }
        }
        (r as usize + 1, out)
    })))
}
