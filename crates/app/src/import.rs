//! Import from the previous vendor: the office uploads CSV or XLSX files of guardians,
//! pupils, enrolments and opening balances.
//!
//! The pipeline is pure up to the writes, so each step is tested alone:
//! 1. [`read_upload`]: size, extension and content sniffing, text encoding (UTF-8 with or
//!    without BOM, UTF-16 with BOM, else Windows-1252), the CSV separator (`;`, `,` or tab),
//!    or the first sheet of an XLSX workbook (calamine, within the limits of [`xlsx`]): a
//!    [`Table`] of text cells with the row numbers a spreadsheet shows. The dry run and the
//!    import read through [`read_bounded`]: one file at a time in the process, within a
//!    time budget ([`READ_BUDGET`]);
//! 2. [`parse`]: the columns of the kind ([`ImportKind::columns`], matched by header),
//!    each row's fields (fiscal codes through `domain::codice_fiscale`, dates, amounts,
//!    required fields) and duplicates within the file;
//! 3. [`plan`]: the rows against what the municipality already has ([`Snapshot`]): unknown
//!    schools, classes, bands, people; rows already present are skipped, so the same file
//!    imported again writes nothing;
//! 4. [`apply`]: every write through the registry and ledger functions, in the caller's
//!    transaction. Opening balances are ledger entries of kind carry-over under the key
//!    `import:balance:<payer CF>:<service id>`, so a balance is never credited twice.
//!
//! [`dry_run`] runs 1–3 and writes nothing; [`start`] checks the same way and records an
//! import job; [`run`] does 1–4 in ONE transaction, which also marks the job done.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use jiff::civil::Date;
use refettorio_db::import::{self as db_import, ImportJob, JobStatus};
use refettorio_db::meals::{self, NewEntry};
use refettorio_db::registry::family::{self, NewGuardian, NewPupil};
use refettorio_db::registry::service::{self as db_service, NewEnrolment};
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::registry::{calendar, school};
use refettorio_db::{Conn, Db};
use refettorio_domain::ledger::Key;
use refettorio_domain::{
    Billing, Cents, ClassId, Clock, CodiceFiscale, DietId, EnrolmentState, EntryKind, FamilyId,
    GuardianId, PupilId, SchoolId, SchoolYearId, ServiceId, ServiceKind, TariffBandId, TenantId,
    today,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::{AppError, FieldError};

pub mod xlsx;

/// The largest file accepted.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The most data rows a file may have.
pub const MAX_ROWS: usize = 50_000;
/// The most columns a row may have (CSV; XLSX: [`xlsx::MAX_SHEET_COLUMNS`]).
pub const MAX_COLUMNS: usize = xlsx::MAX_SHEET_COLUMNS as usize;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    Guardians,
    Pupils,
    Enrolments,
    Balances,
}

/// One column of a kind's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The header, as the template writes it (matched ignoring case, accents and spaces).
    pub header: &'static str,
    pub required: bool,
    /// What goes in it (Italian).
    pub help: &'static str,
    /// The template's example value.
    pub example: &'static str,
}

const fn col(
    header: &'static str,
    required: bool,
    help: &'static str,
    example: &'static str,
) -> Column {
    Column {
        header,
        required,
        help,
        example,
    }
}

// Column positions of each layout (indexes into the kind's `columns()`).
const G_CF: usize = 0;
const G_LAST: usize = 1;
const G_FIRST: usize = 2;
const G_EMAIL: usize = 3;
const G_PHONE: usize = 4;
const G_ADDRESS: usize = 5;
const G_RESIDENT: usize = 6;
const G_ISEE: usize = 7;
const G_PAYER: usize = 8;
const G_SEES: usize = 9;

const GUARDIAN_COLUMNS: [Column; 10] = [
    col(
        "Codice fiscale",
        true,
        "Codice fiscale del genitore o tutore.",
        "RSSMRA80A01H501U",
    ),
    col("Cognome", true, "", "Rossi"),
    col("Nome", true, "", "Mario"),
    col("Email", false, "", "mario.rossi@example.org"),
    col("Telefono", false, "", "3331234567"),
    col("Indirizzo", false, "", "Via Roma 1, Esempio"),
    col(
        "Residente",
        false,
        "sì o no (vuoto = sì): sceglie la fascia tariffaria.",
        "sì",
    ),
    col(
        "ISEE",
        false,
        "Solo per l'intestatario: ISEE della famiglia in euro (vuoto = non dichiarato).",
        "12.500,00",
    ),
    col(
        "Codice fiscale intestatario",
        false,
        "Vuoto se questa persona è l'intestatario (chi paga); altrimenti il codice fiscale dell'intestatario della famiglia, che diventa delegato.",
        "",
    ),
    col(
        "Vede i pagamenti",
        false,
        "Solo per i delegati: sì o no (vuoto = no).",
        "",
    ),
];

const P_CF: usize = 0;
const P_LAST: usize = 1;
const P_FIRST: usize = 2;
const P_BIRTH: usize = 3;
const P_PAYER: usize = 4;

const PUPIL_COLUMNS: [Column; 5] = [
    col(
        "Codice fiscale",
        true,
        "Codice fiscale dell'alunno.",
        "RSSLCU18E10H501J",
    ),
    col("Cognome", true, "", "Rossi"),
    col("Nome", true, "", "Luca"),
    col(
        "Data di nascita",
        true,
        "gg/mm/aaaa oppure aaaa-mm-gg.",
        "10/05/2018",
    ),
    col(
        "Codice fiscale intestatario",
        true,
        "Il genitore che paga, già importato con il file dei genitori.",
        "RSSMRA80A01H501U",
    ),
];

const E_PUPIL: usize = 0;
const E_SERVICE: usize = 1;
const E_YEAR: usize = 2;
const E_SCHOOL: usize = 3;
const E_CLASS: usize = 4;
const E_BAND: usize = 5;
const E_PRICE: usize = 6;
const E_DIET: usize = 7;
const E_STATE: usize = 8;
const E_START: usize = 9;
const E_CARD: usize = 10;

const ENROLMENT_COLUMNS: [Column; 11] = [
    col(
        "Codice fiscale alunno",
        true,
        "L'alunno, già importato con il file degli alunni.",
        "RSSLCU18E10H501J",
    ),
    col("Servizio", true, "Refezione o Trasporto.", "Refezione"),
    col(
        "Anno scolastico",
        true,
        "Ad esempio 2026/2027.",
        "2026/2027",
    ),
    col(
        "Scuola",
        true,
        "Il nome della scuola come nel registro del Comune.",
        "Scuola primaria Gianni Rodari",
    ),
    col(
        "Classe",
        true,
        "Il nome della classe in quella scuola.",
        "3 A",
    ),
    col(
        "Fascia",
        true,
        "Il nome della fascia tariffaria del servizio.",
        "Fascia 3 (ISEE da 8.000,01 a 13.000 €)",
    ),
    col(
        "Prezzo pasto",
        false,
        "In euro, con le riduzioni già applicate; vuoto = il prezzo della fascia.",
        "",
    ),
    col(
        "Dieta",
        false,
        "Il codice della dieta (vuoto = nessuna).",
        "",
    ),
    col(
        "Stato",
        false,
        "attivo o disattivo (vuoto = attivo).",
        "attivo",
    ),
    col(
        "Data inizio",
        true,
        "gg/mm/aaaa oppure aaaa-mm-gg.",
        "14/09/2026",
    ),
    col(
        "Tessera",
        true,
        "Il codice tessera che la famiglia già conosce.",
        "ABC-0001",
    ),
];

const B_PAYER: usize = 0;
const B_SERVICE: usize = 1;
const B_YEAR: usize = 2;
const B_AMOUNT: usize = 3;
const B_DAY: usize = 4;
const B_NOTE: usize = 5;

const BALANCE_COLUMNS: [Column; 6] = [
    col(
        "Codice fiscale intestatario",
        true,
        "L'intestatario della famiglia, già importato.",
        "RSSMRA80A01H501U",
    ),
    col("Servizio", true, "Refezione o Trasporto.", "Refezione"),
    col(
        "Anno scolastico",
        true,
        "L'anno del conto su cui riportare il saldo.",
        "2026/2027",
    ),
    col(
        "Saldo",
        true,
        "In euro: positivo se è un credito, negativo (con il segno meno) se è un debito.",
        "-12,50",
    ),
    col(
        "Data",
        false,
        "La data del saldo (vuoto = oggi).",
        "31/08/2026",
    ),
    col(
        "Nota",
        false,
        "Resta nel movimento (vuoto = «Saldo iniziale dal gestionale precedente»).",
        "",
    ),
];

impl ImportKind {
    pub const ALL: [ImportKind; 4] = [
        ImportKind::Guardians,
        ImportKind::Pupils,
        ImportKind::Enrolments,
        ImportKind::Balances,
    ];

    /// The value stored in `import_job.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Guardians => "guardians",
            ImportKind::Pupils => "pupils",
            ImportKind::Enrolments => "enrolments",
            ImportKind::Balances => "balances",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Italian word in forms and addresses.
    pub fn slug(self) -> &'static str {
        match self {
            ImportKind::Guardians => "genitori",
            ImportKind::Pupils => "alunni",
            ImportKind::Enrolments => "iscrizioni",
            ImportKind::Balances => "saldi",
        }
    }

    pub fn from_slug(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.slug() == s)
    }

    pub fn label_it(self) -> &'static str {
        match self {
            ImportKind::Guardians => "Genitori e tutori",
            ImportKind::Pupils => "Alunni",
            ImportKind::Enrolments => "Iscrizioni ai servizi",
            ImportKind::Balances => "Saldi iniziali",
        }
    }

    /// The documented column layout of the kind.
    pub fn columns(self) -> &'static [Column] {
        match self {
            ImportKind::Guardians => &GUARDIAN_COLUMNS,
            ImportKind::Pupils => &PUPIL_COLUMNS,
            ImportKind::Enrolments => &ENROLMENT_COLUMNS,
            ImportKind::Balances => &BALANCE_COLUMNS,
        }
    }

    /// The template: UTF-8 with BOM, `;`, the headers and one example row.
    pub fn template_csv(self) -> Vec<u8> {
        let mut out = "\u{feff}".as_bytes().to_vec();
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let headers: Vec<&str> = self.columns().iter().map(|c| c.header).collect();
        let example: Vec<&str> = self.columns().iter().map(|c| c.example).collect();
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&headers);
        let _ = w.write_record(&example);
        if let Ok(body) = w.into_inner() {
            out.extend(body);
        }
        out
    }
}

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

fn row_error(row: usize, message: impl Into<String>) -> RowError {
    RowError {
        row,
        message: message.into(),
    }
}

/// The error of a file that cannot be read at all (on the form's file field).
fn file_error(message: impl Into<String>) -> AppError {
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
fn into_table(rows: impl Iterator<Item = (usize, Vec<String>)>) -> Table {
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

/// Lower case, no accents, single spaces: how headers and names are compared.
pub fn fold(s: &str) -> String {
    let plain: String = s
        .chars()
        .map(|c| match c {
            'à' | 'á' | 'À' | 'Á' => 'a',
            'è' | 'é' | 'È' | 'É' => 'e',
            'ì' | 'í' | 'Ì' | 'Í' => 'i',
            'ò' | 'ó' | 'Ò' | 'Ó' => 'o',
            'ù' | 'ú' | 'Ù' | 'Ú' => 'u',
            '’' => '\'',
            _ => c,
        })
        .collect();
    plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A date as written by the office or an export: `gg/mm/aaaa` (also with `-` or `.`, and
/// one-digit day or month) or `aaaa-mm-gg` (a time after it is ignored).
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let iso = s
        .get(..10)
        .filter(|p| p.as_bytes().get(4) == Some(&b'-') && p.as_bytes().get(7) == Some(&b'-'));
    let (y, m, d) = if let Some(p) = iso {
        let rest = &s[10..];
        if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
            return None;
        }
        (p.get(0..4)?, p.get(5..7)?, p.get(8..10)?)
    } else {
        let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
        let [d, m, y] = parts[..] else {
            return None;
        };
        if y.len() != 4 || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 {
            return None;
        }
        (y, m, d)
    };
    let num = |t: &str| -> Option<i16> {
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

/// sì / no (also si, s, x, 1, vero, true, yes; n, 0, falso, false); `None` if neither.
pub fn parse_yes_no(s: &str) -> Option<bool> {
    match fold(s).as_str() {
        "si" | "sì" | "s" | "x" | "1" | "vero" | "true" | "yes" | "y" => Some(true),
        "no" | "n" | "0" | "falso" | "false" => Some(false),
        _ => None,
    }
}

/// Refezione / Trasporto, as exports name them.
pub fn parse_service(s: &str) -> Option<ServiceKind> {
    match fold(s).as_str() {
        "refezione"
        | "refezione scolastica"
        | "mensa"
        | "mensa scolastica"
        | "ristorazione"
        | "ristorazione scolastica" => Some(ServiceKind::Refezione),
        "trasporto" | "trasporto scolastico" | "scuolabus" => Some(ServiceKind::Trasporto),
        _ => None,
    }
}

fn parse_state(s: &str) -> Option<EnrolmentState> {
    match fold(s).as_str() {
        "" | "attivo" | "attiva" | "iscritto" | "iscritta" => Some(EnrolmentState::Attivo),
        "disattivo" | "disattiva" | "non attivo" | "non attiva" | "ritirato" | "ritirata" => {
            Some(EnrolmentState::Disattivo)
        }
        _ => None,
    }
}

/// A school year as `2026/2027` (also `2026-2027`, `2026/27`).
pub fn parse_year(s: &str) -> Option<String> {
    let (a, b) = s.trim().split_once(['/', '-'])?;
    let a: i32 = a.trim().parse().ok().filter(|_| a.trim().len() == 4)?;
    let b = b.trim();
    let next = match b.len() {
        4 => b.parse::<i32>().ok()?,
        2 => a / 100 * 100 + b.parse::<i32>().ok()? + if a % 100 == 99 { 100 } else { 0 },
        _ => return None,
    };
    (next == a + 1).then(|| format!("{a}/{next}"))
}

/// A guardian's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianRow {
    pub row: usize,
    pub cf: CodiceFiscale,
    pub last_name: String,
    pub first_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: String,
    pub resident: bool,
    pub isee: Option<Cents>,
    /// `None`: this guardian is a payer (a family of their own); else the payer whose
    /// delegate they become.
    pub payer: Option<CodiceFiscale>,
    pub sees_payments: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PupilRow {
    pub row: usize,
    pub cf: CodiceFiscale,
    pub last_name: String,
    pub first_name: String,
    pub birth_date: Date,
    pub payer: CodiceFiscale,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRow {
    pub row: usize,
    pub pupil: CodiceFiscale,
    pub service: ServiceKind,
    pub year: String,
    pub school: String,
    pub class: String,
    pub band: String,
    pub meal_price: Option<Cents>,
    pub diet: Option<String>,
    pub state: EnrolmentState,
    pub start_date: Date,
    pub card: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    pub row: usize,
    pub payer: CodiceFiscale,
    pub service: ServiceKind,
    pub year: String,
    pub amount: Cents,
    pub day: Option<Date>,
    pub note: String,
}

/// The rows of a file, read and checked on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    Guardians(Vec<GuardianRow>),
    Pupils(Vec<PupilRow>),
    Enrolments(Vec<EnrolmentRow>),
    Balances(Vec<BalanceRow>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Guardians(r) => r.len(),
            Rows::Pupils(r) => r.len(),
            Rows::Enrolments(r) => r.len(),
            Rows::Balances(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One data row's cells by column of the layout, and the errors found so far.
struct Cells<'a> {
    row: usize,
    cells: &'a [String],
    map: &'a [Option<usize>],
    columns: &'static [Column],
    errors: Vec<RowError>,
}

impl Cells<'_> {
    fn raw(&self, i: usize) -> &str {
        self.map
            .get(i)
            .copied()
            .flatten()
            .and_then(|j| self.cells.get(j))
            .map_or("", |s| s.trim())
    }

    fn fail(&mut self, message: String) {
        self.errors.push(row_error(self.row, message));
    }

    fn header(&self, i: usize) -> &'static str {
        self.columns.get(i).map_or("", |c| c.header)
    }

    /// A required text: `None` (with the error) when missing.
    fn required(&mut self, i: usize) -> Option<String> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            let h = self.header(i);
            self.fail(format!("Manca il campo obbligatorio «{h}»."));
            return None;
        }
        if v.chars().count() > 200 {
            let h = self.header(i);
            self.fail(format!("«{h}» è troppo lungo (al massimo 200 caratteri)."));
            return None;
        }
        Some(v)
    }

    fn optional(&self, i: usize) -> Option<String> {
        Some(self.raw(i).to_string()).filter(|v| !v.is_empty())
    }

    fn fiscal_code(&mut self, i: usize) -> Option<CodiceFiscale> {
        let v = self.required(i)?;
        match CodiceFiscale::parse(&v) {
            Ok(cf) => Some(cf),
            Err(e) => {
                let h = self.header(i);
                self.fail(format!("«{h}» non valido ({v}): {e}."));
                None
            }
        }
    }

    fn optional_fiscal_code(&mut self, i: usize) -> Option<Option<CodiceFiscale>> {
        if self.raw(i).is_empty() {
            return Some(None);
        }
        self.fiscal_code(i).map(Some)
    }

    fn date(&mut self, i: usize, required: bool) -> Option<Option<Date>> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            if required {
                let h = self.header(i);
                self.fail(format!("Manca il campo obbligatorio «{h}»."));
                return None;
            }
            return Some(None);
        }
        match parse_date(&v) {
            Some(d) => Some(Some(d)),
            None => {
                let h = self.header(i);
                self.fail(format!(
                    "«{h}» non è una data valida ({v}): scrivila come gg/mm/aaaa."
                ));
                None
            }
        }
    }

    fn amount(&mut self, i: usize, required: bool) -> Option<Option<Cents>> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            if required {
                let h = self.header(i);
                self.fail(format!("Manca il campo obbligatorio «{h}»."));
                return None;
            }
            return Some(None);
        }
        match Cents::parse_it(&v) {
            Ok(c) => Some(Some(c)),
            Err(_) => {
                let h = self.header(i);
                self.fail(format!(
                    "«{h}» non è un importo valido ({v}): scrivilo in euro con al massimo due decimali, ad esempio 12,50."
                ));
                None
            }
        }
    }

    fn yes_no(&mut self, i: usize, default: bool) -> Option<bool> {
        let v = self.raw(i).to_string();
        if v.is_empty() {
            return Some(default);
        }
        parse_yes_no(&v).or_else(|| {
            let h = self.header(i);
            self.fail(format!("«{h}» deve essere sì o no (non «{v}»)."));
            None
        })
    }

    fn service(&mut self, i: usize) -> Option<ServiceKind> {
        let v = self.required(i)?;
        parse_service(&v).or_else(|| {
            self.fail(format!(
                "Servizio sconosciuto «{v}»: scrivi Refezione oppure Trasporto."
            ));
            None
        })
    }

    fn year(&mut self, i: usize) -> Option<String> {
        let v = self.required(i)?;
        parse_year(&v).or_else(|| {
            self.fail(format!(
                "Anno scolastico non valido «{v}»: scrivilo come 2026/2027."
            ));
            None
        })
    }
}

/// Finds each column of the layout among the headers: its position in the file, or `None`.
/// Missing required columns, and columns named twice, are an error for the whole file.
pub fn map_headers(kind: ImportKind, headers: &[String]) -> Result<Vec<Option<usize>>, String> {
    let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
    let mut map = Vec::new();
    let mut missing = Vec::new();
    for c in kind.columns() {
        let want = fold(c.header);
        let found: Vec<usize> = folded
            .iter()
            .enumerate()
            .filter(|(_, h)| **h == want)
            .map(|(i, _)| i)
            .collect();
        if found.len() > 1 {
            return Err(format!(
                "La colonna «{}» compare più volte nella riga delle intestazioni.",
                c.header
            ));
        }
        if found.is_empty() && c.required {
            missing.push(format!("«{}»", c.header));
        }
        map.push(found.first().copied());
    }
    if missing.is_empty() {
        Ok(map)
    } else {
        Err(format!(
            "Mancano le colonne {} (il file è del tipo «{}»? Scarica il modello per vedere le intestazioni).",
            missing.join(", "),
            kind.label_it()
        ))
    }
}

/// Reports a second row with the same key as an earlier one.
fn check_duplicate<K: std::hash::Hash + Eq>(
    seen: &mut HashMap<K, usize>,
    key: K,
    row: usize,
    what: &str,
    errors: &mut Vec<RowError>,
) -> bool {
    match seen.get(&key) {
        Some(first) => {
            errors.push(row_error(
                row,
                format!("Duplicato nel file: {what} della riga {first}."),
            ));
            false
        }
        None => {
            seen.insert(key, row);
            true
        }
    }
}

/// Reads every data row of a table of the given kind: the rows that are valid on their own,
/// and what is wrong with the others (a row may have several errors). A file whose headers
/// do not fit the kind is an error for the whole file.
pub fn parse(kind: ImportKind, table: &Table) -> Result<(Rows, Vec<RowError>), String> {
    let map = map_headers(kind, &table.headers)?;
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut seen_card: HashMap<String, usize> = HashMap::new();
    let mut rows = match kind {
        ImportKind::Guardians => Rows::Guardians(Vec::new()),
        ImportKind::Pupils => Rows::Pupils(Vec::new()),
        ImportKind::Enrolments => Rows::Enrolments(Vec::new()),
        ImportKind::Balances => Rows::Balances(Vec::new()),
    };
    for (n, cells) in &table.rows {
        let mut c = Cells {
            row: *n,
            cells,
            map: &map,
            columns: kind.columns(),
            errors: Vec::new(),
        };
        match &mut rows {
            Rows::Guardians(out) => {
                let cf = c.fiscal_code(G_CF);
                let last = c.required(G_LAST);
                let first = c.required(G_FIRST);
                let email = c.optional(G_EMAIL);
                if let Some(e) = &email
                    && (!e.contains('@') || e.contains(' '))
                {
                    c.fail(format!("«Email» non valida ({e})."));
                }
                let resident = c.yes_no(G_RESIDENT, true);
                let isee = c.amount(G_ISEE, false);
                if let Some(Some(i)) = isee
                    && i.is_negative()
                {
                    c.fail("L'ISEE non può essere negativo.".into());
                }
                let payer = c.optional_fiscal_code(G_PAYER);
                let sees = c.yes_no(G_SEES, false);
                if let (Some(cf), Some(Some(p))) = (&cf, &payer)
                    && cf == p
                {
                    c.fail("Il codice fiscale intestatario è quello della persona stessa: lascialo vuoto per l'intestatario.".into());
                }
                if let (Some(Some(_)), Some(Some(_))) = (&payer, &isee) {
                    c.fail("L'ISEE va indicato solo sulla riga dell'intestatario.".into());
                }
                if let (
                    Some(cf),
                    Some(last),
                    Some(first),
                    Some(resident),
                    Some(isee),
                    Some(payer),
                    Some(sees),
                ) = (cf, last, first, resident, isee, payer, sees)
                    && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        cf.as_str().to_string(),
                        *n,
                        "stesso codice fiscale",
                        &mut c.errors,
                    )
                {
                    out.push(GuardianRow {
                        row: *n,
                        cf,
                        last_name: last,
                        first_name: first,
                        email,
                        phone: c.optional(G_PHONE),
                        address: c.optional(G_ADDRESS).unwrap_or_default(),
                        resident,
                        isee,
                        payer,
                        sees_payments: sees,
                    });
                }
            }
            Rows::Pupils(out) => {
                let cf = c.fiscal_code(P_CF);
                let last = c.required(P_LAST);
                let first = c.required(P_FIRST);
                let birth = c.date(P_BIRTH, true);
                let payer = c.fiscal_code(P_PAYER);
                if let (Some(cf), Some(last), Some(first), Some(Some(birth)), Some(payer)) =
                    (cf, last, first, birth, payer)
                    && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        cf.as_str().to_string(),
                        *n,
                        "stesso codice fiscale",
                        &mut c.errors,
                    )
                {
                    out.push(PupilRow {
                        row: *n,
                        cf,
                        last_name: last,
                        first_name: first,
                        birth_date: birth,
                        payer,
                    });
                }
            }
            Rows::Enrolments(out) => {
                let pupil = c.fiscal_code(E_PUPIL);
                let service = c.service(E_SERVICE);
                let year = c.year(E_YEAR);
                let school = c.required(E_SCHOOL);
                let class = c.required(E_CLASS);
                let band = c.required(E_BAND);
                let price = c.amount(E_PRICE, false);
                if let Some(Some(p)) = price
                    && p.is_negative()
                {
                    c.fail("Il prezzo del pasto non può essere negativo.".into());
                }
                let diet = c.optional(E_DIET);
                let state_raw = c.raw(E_STATE).to_string();
                let state = parse_state(&state_raw);
                if state.is_none() {
                    c.fail(format!(
                        "«Stato» deve essere attivo o disattivo (non «{state_raw}»)."
                    ));
                }
                let start = c.date(E_START, true);
                let card = c.required(E_CARD);
                if let (
                    Some(pupil),
                    Some(service),
                    Some(year),
                    Some(school),
                    Some(class),
                    Some(band),
                    Some(price),
                    Some(state),
                    Some(Some(start)),
                    Some(card),
                ) = (
                    pupil, service, year, school, class, band, price, state, start, card,
                ) && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        format!("{}|{}|{year}", pupil.as_str(), service.as_str()),
                        *n,
                        "stesso alunno, servizio e anno",
                        &mut c.errors,
                    )
                    && check_duplicate(
                        &mut seen_card,
                        card.to_uppercase(),
                        *n,
                        "stessa tessera",
                        &mut c.errors,
                    )
                {
                    out.push(EnrolmentRow {
                        row: *n,
                        pupil,
                        service,
                        year,
                        school,
                        class,
                        band,
                        meal_price: price,
                        diet,
                        state,
                        start_date: start,
                        card,
                    });
                }
            }
            Rows::Balances(out) => {
                let payer = c.fiscal_code(B_PAYER);
                let service = c.service(B_SERVICE);
                let year = c.year(B_YEAR);
                let amount = c.amount(B_AMOUNT, true);
                let day = c.date(B_DAY, false);
                let note = c.optional(B_NOTE).unwrap_or_default();
                if note.chars().count() > 500 {
                    c.fail("«Nota» è troppo lunga (al massimo 500 caratteri).".into());
                }
                if let (Some(payer), Some(service), Some(year), Some(Some(amount)), Some(day)) =
                    (payer, service, year, amount, day)
                    && c.errors.is_empty()
                    && check_duplicate(
                        &mut seen,
                        format!("{}|{}|{year}", payer.as_str(), service.as_str()),
                        *n,
                        "stesso intestatario, servizio e anno",
                        &mut c.errors,
                    )
                {
                    out.push(BalanceRow {
                        row: *n,
                        payer,
                        service,
                        year,
                        amount,
                        day,
                        note,
                    });
                }
            }
        }
        errors.append(&mut c.errors);
    }
    Ok((rows, errors))
}

/// A tariff band as an enrolment row needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandInfo {
    pub id: TariffBandId,
    pub meal_price: Cents,
    pub fixed_fee: Cents,
    pub exempt: bool,
}

/// What the municipality already has, as the rows of a file are checked against it. Names
/// (schools, classes, bands, diet codes) are keys as [`fold`] makes them.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub guardians: HashMap<String, GuardianId>,
    /// The family of each payer.
    pub payer_family: HashMap<GuardianId, FamilyId>,
    pub pupils: HashMap<String, PupilId>,
    pub years: HashMap<String, SchoolYearId>,
    pub services: HashMap<(SchoolYearId, ServiceKind), (ServiceId, Billing)>,
    pub schools: HashMap<String, SchoolId>,
    pub classes: HashMap<(SchoolYearId, SchoolId, String), ClassId>,
    pub bands: HashMap<(ServiceId, String), BandInfo>,
    pub diets: HashMap<String, DietId>,
    pub enrolled: HashSet<(PupilId, ServiceId)>,
    /// Card code (upper case) → the pupil whose enrolment has it.
    pub cards: HashMap<String, PupilId>,
    /// Ledger keys of the opening balances already credited.
    pub balance_keys: HashSet<String>,
}

impl Snapshot {
    fn family_of_payer(&self, cf: &CodiceFiscale) -> Option<FamilyId> {
        self.guardians
            .get(cf.as_str())
            .and_then(|g| self.payer_family.get(g))
            .copied()
    }
}

/// The ledger key of an opening balance: one per payer and service, ever.
pub fn balance_key(payer: &CodiceFiscale, service: ServiceId) -> Key {
    Key::ImportBalance {
        payer: payer.clone(),
        service,
    }
}

/// A write an import will make.
#[derive(Debug, Clone)]
pub enum Step {
    Guardian(GuardianRow),
    Pupil {
        row: PupilRow,
        family: FamilyId,
    },
    Enrolment {
        row: EnrolmentRow,
        new: NewEnrolment,
        billing: Billing,
    },
    Balance {
        row: BalanceRow,
        family: FamilyId,
        service: ServiceId,
        key: Key,
    },
}

/// What an import of the file would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Rows already present (or with nothing to write): skipped.
    pub present: Vec<usize>,
    pub errors: Vec<RowError>,
}

/// Checks the rows against the municipality's registry: every write the import would make,
/// the rows already present, and the rows that refer to something unknown.
pub fn plan(rows: &Rows, s: &Snapshot) -> Plan {
    let mut p = Plan::default();
    match rows {
        Rows::Guardians(rows) => {
            let new_payers: HashSet<&str> = rows
                .iter()
                .filter(|r| r.payer.is_none() && !s.guardians.contains_key(r.cf.as_str()))
                .map(|r| r.cf.as_str())
                .collect();
            for r in rows {
                if s.guardians.contains_key(r.cf.as_str()) {
                    p.present.push(r.row);
                    continue;
                }
                if let Some(payer) = &r.payer
                    && s.family_of_payer(payer).is_none()
                    && !new_payers.contains(payer.as_str())
                {
                    p.errors.push(row_error(
                        r.row,
                        format!(
                            "Intestatario sconosciuto ({}): deve essere già presente come intestatario o in questo file senza «Codice fiscale intestatario».",
                            payer.as_str()
                        ),
                    ));
                    continue;
                }
                p.steps.push(Step::Guardian(r.clone()));
            }
        }
        Rows::Pupils(rows) => {
            for r in rows {
                if s.pupils.contains_key(r.cf.as_str()) {
                    p.present.push(r.row);
                    continue;
                }
                match s.family_of_payer(&r.payer) {
                    Some(family) => p.steps.push(Step::Pupil {
                        row: r.clone(),
                        family,
                    }),
                    None => p.errors.push(row_error(
                        r.row,
                        format!(
                            "Intestatario sconosciuto ({}): importa prima il file dei genitori.",
                            r.payer.as_str()
                        ),
                    )),
                }
            }
        }
        Rows::Enrolments(rows) => {
            for r in rows {
                let before = p.errors.len();
                let mut fail = |m: String| p.errors.push(row_error(r.row, m));
                let pupil = s.pupils.get(r.pupil.as_str()).copied();
                if pupil.is_none() {
                    fail(format!(
                        "Alunno sconosciuto ({}): importa prima il file degli alunni.",
                        r.pupil.as_str()
                    ));
                }
                let year = s.years.get(&r.year).copied();
                if year.is_none() {
                    fail(format!("Anno scolastico sconosciuto: {}.", r.year));
                }
                let service = year.and_then(|y| s.services.get(&(y, r.service)).copied());
                if year.is_some() && service.is_none() {
                    fail(format!(
                        "Il servizio {} non c'è nell'anno {}.",
                        r.service.label_it(),
                        r.year
                    ));
                }
                let school = s.schools.get(&fold(&r.school)).copied();
                if school.is_none() {
                    fail(format!("Scuola sconosciuta: «{}».", r.school));
                }
                let class = match (year, school) {
                    (Some(y), Some(sc)) => {
                        let k = s.classes.get(&(y, sc, fold(&r.class))).copied();
                        if k.is_none() {
                            fail(format!(
                                "Classe sconosciuta: «{}» non c'è nella scuola «{}» nell'anno {}.",
                                r.class, r.school, r.year
                            ));
                        }
                        k
                    }
                    _ => None,
                };
                let band = service.and_then(|(sv, _)| s.bands.get(&(sv, fold(&r.band))).copied());
                if service.is_some() && band.is_none() {
                    fail(format!(
                        "Fascia sconosciuta per il servizio {}: «{}».",
                        r.service.label_it(),
                        r.band
                    ));
                }
                let diet = match &r.diet {
                    None => Some(None),
                    Some(code) => match s.diets.get(&fold(code)) {
                        Some(d) => Some(Some(*d)),
                        None => {
                            fail(format!("Codice dieta sconosciuto: «{code}»."));
                            None
                        }
                    },
                };
                if let (Some(pupil), Some(other)) = (pupil, s.cards.get(&r.card.to_uppercase()))
                    && *other != pupil
                {
                    fail(format!("La tessera {} è già di un altro alunno.", r.card));
                }
                if p.errors.len() != before {
                    continue;
                }
                let (
                    Some(pupil),
                    Some((service, billing)),
                    Some(school),
                    Some(class),
                    Some(band),
                    Some(diet),
                ) = (pupil, service, school, class, band, diet)
                else {
                    continue;
                };
                if s.enrolled.contains(&(pupil, service)) {
                    p.present.push(r.row);
                    continue;
                }
                if s.cards.contains_key(&r.card.to_uppercase()) {
                    // The same pupil's card on another service's enrolment.
                    p.errors.push(row_error(
                        r.row,
                        format!("La tessera {} è già usata per un'altra iscrizione.", r.card),
                    ));
                    continue;
                }
                let band_price = if band.exempt {
                    Cents::ZERO
                } else {
                    band.meal_price
                };
                p.steps.push(Step::Enrolment {
                    row: r.clone(),
                    new: NewEnrolment {
                        pupil_id: pupil,
                        service_id: service,
                        school_id: school,
                        class_id: class,
                        tariff_band_id: band.id,
                        meal_price: r.meal_price.unwrap_or(band_price),
                        fixed_fee: band.fixed_fee,
                        diet_id: diet,
                        state: r.state,
                        start_date: r.start_date,
                        card_code: r.card.clone(),
                    },
                    billing,
                });
            }
        }
        Rows::Balances(rows) => {
            for r in rows {
                let before = p.errors.len();
                let family = s.family_of_payer(&r.payer);
                if family.is_none() {
                    p.errors.push(row_error(
                        r.row,
                        format!(
                            "Intestatario sconosciuto ({}): importa prima il file dei genitori.",
                            r.payer.as_str()
                        ),
                    ));
                }
                let year = s.years.get(&r.year).copied();
                let service = year.and_then(|y| s.services.get(&(y, r.service)).copied());
                match (year, service) {
                    (None, _) => p.errors.push(row_error(
                        r.row,
                        format!("Anno scolastico sconosciuto: {}.", r.year),
                    )),
                    (Some(_), None) => p.errors.push(row_error(
                        r.row,
                        format!(
                            "Il servizio {} non c'è nell'anno {}.",
                            r.service.label_it(),
                            r.year
                        ),
                    )),
                    _ => {}
                }
                if p.errors.len() != before {
                    continue;
                }
                let (Some(family), Some((service, _))) = (family, service) else {
                    continue;
                };
                let key = balance_key(&r.payer, service);
                if r.amount.is_zero() || s.balance_keys.contains(&key.to_string()) {
                    p.present.push(r.row);
                    continue;
                }
                p.steps.push(Step::Balance {
                    row: r.clone(),
                    family,
                    service,
                    key,
                });
            }
        }
    }
    p.errors.sort_by_key(|e| e.row);
    p
}

/// Reads what [`plan`] needs for a kind, through the registry's functions.
pub async fn load_snapshot(
    c: &mut Conn<'_>,
    tenant: TenantId,
    kind: ImportKind,
) -> Result<Snapshot, AppError> {
    let mut s = Snapshot::default();
    for g in family::guardians(c, tenant).await? {
        s.guardians.insert(g.fiscal_code.as_str().to_string(), g.id);
    }
    for f in family::families(c, tenant).await? {
        s.payer_family.insert(f.payer_id, f.id);
    }
    if kind == ImportKind::Guardians {
        return Ok(s);
    }
    for p in family::pupils(c, tenant).await? {
        if let Some(cf) = &p.fiscal_code {
            s.pupils.insert(cf.as_str().to_string(), p.id);
        }
    }
    if kind == ImportKind::Pupils {
        return Ok(s);
    }
    for y in calendar::school_years(c, tenant).await? {
        s.years.insert(y.label.clone(), y.id);
        for sv in db_service::services(c, tenant, y.id).await? {
            s.services.insert((y.id, sv.kind), (sv.id, sv.billing));
            if kind == ImportKind::Enrolments {
                for b in db_service::bands(c, tenant, sv.id).await? {
                    s.bands.insert(
                        (sv.id, fold(&b.name)),
                        BandInfo {
                            id: b.id,
                            meal_price: b.meal_price,
                            fixed_fee: b.fixed_fee,
                            exempt: b.exempt,
                        },
                    );
                }
                for e in db_service::enrolments(c, tenant, sv.id).await? {
                    s.enrolled.insert((e.pupil_id, e.service_id));
                    s.cards.insert(e.card_code.to_uppercase(), e.pupil_id);
                }
            }
        }
        if kind == ImportKind::Enrolments {
            for k in school::classes(c, tenant, y.id).await? {
                s.classes.insert((y.id, k.school_id, fold(&k.name)), k.id);
            }
        }
    }
    if kind == ImportKind::Enrolments {
        for sc in school::schools(c, tenant).await? {
            s.schools.insert(fold(&sc.name), sc.id);
        }
        for d in db_service::diets(c, tenant).await? {
            s.diets.insert(fold(&d.code), d.id);
        }
    }
    if kind == ImportKind::Balances {
        s.balance_keys = db_import::ledger_keys_with_prefix(c, tenant, Key::IMPORT_BALANCE_PREFIX)
            .await?
            .into_iter()
            .collect();
    }
    Ok(s)
}

/// The reason written on an opening balance with no note.
pub const BALANCE_REASON: &str = "Saldo iniziale dal gestionale precedente";

/// Makes the plan's writes in the caller's transaction, through the registry and ledger
/// functions; `progress(done, total)` after each. Returns the rows written.
pub async fn apply(
    c: &mut Conn<'_>,
    tenant: TenantId,
    plan: &Plan,
    actor: &str,
    now: jiff::Timestamp,
    today: Date,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<usize, AppError> {
    let total = plan.steps.len();
    let mut done = 0;
    // Payers before delegates: a delegate may name a payer further down the file.
    let mut families: HashMap<String, FamilyId> = HashMap::new();
    let mut delegates = Vec::new();
    let mut prepaid: Vec<ServiceId> = Vec::new();
    for step in &plan.steps {
        match step {
            Step::Guardian(g) => {
                if g.payer.is_some() {
                    delegates.push(g);
                    continue;
                }
                let id = family::insert_guardian(c, tenant, &new_guardian(g), None).await?;
                let f = family::insert_family(c, tenant, id, g.isee).await?;
                families.insert(g.cf.as_str().to_string(), f);
            }
            Step::Pupil { row, family } => {
                family::insert_pupil(
                    c,
                    tenant,
                    &NewPupil {
                        family_id: *family,
                        fiscal_code: Some(row.cf.clone()),
                        first_name: row.first_name.clone(),
                        last_name: row.last_name.clone(),
                        birth_date: row.birth_date,
                    },
                )
                .await?;
            }
            Step::Enrolment { new, billing, .. } => {
                db_service::insert_enrolment(c, tenant, new).await?;
                if *billing == Billing::Prepaid && !prepaid.contains(&new.service_id) {
                    prepaid.push(new.service_id);
                }
            }
            Step::Balance {
                row,
                family,
                service,
                key,
            } => {
                let account = db_import::open_account(c, tenant, *family, *service, now).await?;
                let reason = if row.note.is_empty() {
                    BALANCE_REASON
                } else {
                    row.note.as_str()
                };
                meals::insert_entry(
                    c,
                    tenant,
                    &NewEntry::money(
                        account,
                        EntryKind::CarryOver,
                        row.amount,
                        row.day.unwrap_or(today),
                        None,
                        key,
                        actor,
                        reason,
                    ),
                    now,
                )
                .await?;
            }
        }
        done += 1;
        progress(done, total);
    }
    for g in delegates {
        let Some(payer) = &g.payer else { continue };
        let fam = match families.get(payer.as_str()) {
            Some(f) => Some(*f),
            None => match family::guardian_by_fiscal_code(c, tenant, payer).await? {
                Some(pg) => family::families_of_guardian(c, tenant, pg.id)
                    .await?
                    .into_iter()
                    .find(|(f, _)| f.payer_id == pg.id)
                    .map(|(f, _)| f.id),
                None => None,
            },
        };
        let Some(fam) = fam else {
            return Err(AppError::Invalid(format!(
                "Riga {}: intestatario {} non trovato.",
                g.row,
                payer.as_str()
            )));
        };
        let id = family::insert_guardian(c, tenant, &new_guardian(g), None).await?;
        family::add_delegate(c, tenant, fam, id, g.sees_payments).await?;
        done += 1;
        progress(done, total);
    }
    // Link the new enrolments to their families' accounts now (the close would do it too),
    // so the office sees the accounts at once.
    for service in prepaid {
        meals::ensure_accounts(c, tenant, service, now).await?;
    }
    Ok(total)
}

fn new_guardian(g: &GuardianRow) -> NewGuardian {
    NewGuardian {
        fiscal_code: g.cf.clone(),
        first_name: g.first_name.clone(),
        last_name: g.last_name.clone(),
        email: g.email.clone(),
        phone: g.phone.clone(),
        address: g.address.clone(),
        resident: g.resident,
    }
}

/// An uploaded file and the kind the office said it is.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub kind: ImportKind,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

/// The result of checking a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ImportKind,
    pub file_name: String,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows that would be written.
    pub new: usize,
    /// Rows already present (skipped).
    pub present: usize,
    /// Every bad row, by row number.
    pub errors: Vec<RowError>,
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
const RUN_BUDGET: Budget = Budget {
    wait: Duration::from_secs(120),
    time: READ_BUDGET.time,
};

/// The reads of this process: one at a time, and at most three more waiting for their turn.
pub struct Readers {
    turn: Arc<Semaphore>,
    places: Semaphore,
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
static READERS: LazyLock<Readers> = LazyLock::new(|| Readers::new(3));

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

/// Reads, parses and plans a file (read already) against the registry as `c` sees it.
async fn check_on(
    c: &mut Conn<'_>,
    tenant: TenantId,
    up: Upload<'_>,
    table: &Table,
) -> Result<(Report, Plan), AppError> {
    let (rows, mut errors) = parse(up.kind, table).map_err(file_error)?;
    let snapshot = load_snapshot(c, tenant, up.kind).await?;
    let mut plan = plan(&rows, &snapshot);
    errors.append(&mut plan.errors);
    errors.sort_by_key(|e| e.row);
    let report = Report {
        kind: up.kind,
        file_name: up.file_name.to_string(),
        rows: table.rows.len(),
        new: plan.steps.len(),
        present: plan.present.len(),
        errors,
    };
    Ok((report, plan))
}

/// The dry run: every row read and checked, every bad row listed; nothing written.
pub async fn dry_run(db: &Db, tenant: &Tenant, up: Upload<'_>) -> Result<Report, AppError> {
    let table = read_bounded(&READERS, READ_BUDGET, up.file_name, up.bytes)
        .await
        .map_err(file_error)?;
    let mut h = db.acquire().await?;
    Ok(check_on(&mut h.conn(), tenant.id, up, &table).await?.0)
}

/// What [`start`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The file has bad rows: nothing written, no job.
    Refused(Report),
    /// The job that will import the file.
    Job(i64),
}

/// Hex SHA-256 of the uploaded bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks the file as the dry run does; a file with no bad row gets an import job (status
/// running) for [`run`] to carry out.
pub async fn start(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    up: Upload<'_>,
) -> Result<Started, AppError> {
    let table = read_bounded(&READERS, READ_BUDGET, up.file_name, up.bytes)
        .await
        .map_err(file_error)?;
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let (report, _) = check_on(c, tenant.id, up, &table).await?;
    if !report.errors.is_empty() {
        return Ok(Started::Refused(report));
    }
    let id = db_import::insert_job(
        c,
        tenant.id,
        up.kind.as_str(),
        up.file_name,
        &sha256_hex(up.bytes),
        i64::try_from(report.rows).unwrap_or(i64::MAX),
        actor,
        clock.now(),
    )
    .await?;
    Ok(Started::Job(id))
}

/// Live progress of the imports running in this process: job → (rows done, rows to write).
static PROGRESS: LazyLock<Mutex<HashMap<i64, (usize, usize)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn set_progress(job: i64, value: Option<(usize, usize)>) {
    if let Ok(mut m) = PROGRESS.lock() {
        match value {
            Some(v) => {
                m.insert(job, v);
            }
            None => {
                m.remove(&job);
            }
        }
    }
}

/// How far a running import of this process has got: (rows written, rows to write).
pub fn progress(job: i64) -> Option<(usize, usize)> {
    PROGRESS.lock().ok().and_then(|m| m.get(&job).copied())
}

/// Carries out an import job: the file read and checked again, then every write, the job
/// marked done and the audit record in ONE transaction. Any bad row or failure writes
/// nothing and marks the job failed.
pub async fn run(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    job: i64,
    up: Upload<'_>,
) -> Result<(), AppError> {
    set_progress(job, Some((0, 0)));
    let outcome = run_tx(db, clock, tenant, actor, job, up).await;
    set_progress(job, None);
    if let Err(e) = &outcome {
        let message = match e {
            AppError::Invalid(m) => m.clone(),
            _ => "L'importazione non è riuscita per un errore interno: non è stata scritta nessuna riga. Riprova; se l'errore si ripete, contatta l'assistenza."
                .to_string(),
        };
        let mut h = db.acquire().await?;
        db_import::finish_job(
            &mut h.conn(),
            tenant.id,
            job,
            JobStatus::Failed,
            0,
            0,
            &message,
            clock.now(),
        )
        .await?;
    }
    outcome
}

async fn run_tx(
    db: &Db,
    clock: &dyn Clock,
    tenant: &Tenant,
    actor: &str,
    job: i64,
    up: Upload<'_>,
) -> Result<(), AppError> {
    // Read before the transaction begins: no transaction held while the file is read.
    let table = read_bounded(&READERS, RUN_BUDGET, up.file_name, up.bytes)
        .await
        .map_err(AppError::Invalid)?;
    let now = clock.now();
    let day = today(clock, &tenant.timezone);
    let mut tx = db.begin().await?;
    let c = &mut tx.conn();
    let (report, plan) = match check_on(c, tenant.id, up, &table).await {
        Ok(x) => x,
        Err(AppError::Fields(f)) => {
            let m = f
                .into_iter()
                .map(|f| f.message)
                .collect::<Vec<_>>()
                .join(" ");
            return Err(AppError::Invalid(m));
        }
        Err(e) => return Err(e),
    };
    if !report.errors.is_empty() {
        return Err(AppError::Invalid(format!(
            "Il file ha {} errori rispetto ai dati di adesso: nessuna riga è stata scritta. Ripeti la prova per vederli.",
            report.errors.len()
        )));
    }
    let written = apply(c, tenant.id, &plan, actor, now, day, &|done, total| {
        set_progress(job, Some((done, total)));
    })
    .await?;
    let present = report.present;
    let after = format!(
        "{{\"kind\":\"{}\",\"file\":{:?},\"sha256\":\"{}\",\"rows\":{},\"new\":{written},\"present\":{present}}}",
        up.kind.as_str(),
        up.file_name,
        sha256_hex(up.bytes),
        report.rows,
    );
    meals::audit(
        c,
        tenant.id,
        actor,
        "import",
        "import_job",
        Some(job),
        None,
        Some(&after),
        &format!("Importazione dal gestionale precedente: {}", up.file_name),
        now,
    )
    .await?;
    let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
    db_import::finish_job(
        c,
        tenant.id,
        job,
        JobStatus::Done,
        n(written),
        n(present),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How long an import may run before a job still marked running, and not running in this
/// process, is taken as interrupted (a node stopped during it: its transaction rolled back).
pub const STALE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

/// A job marked running that no process is running any more: nothing of it was written.
pub fn interrupted(job: &ImportJob, now: jiff::Timestamp) -> bool {
    job.status == JobStatus::Running
        && progress(job.id).is_none()
        && now.duration_since(job.created_at) > STALE_AFTER
}

/// An import job and, while it runs in this process, its live progress.
pub async fn job(
    db: &Db,
    tenant: &Tenant,
    id: i64,
) -> Result<Option<(ImportJob, Option<(usize, usize)>)>, AppError> {
    let mut h = db.acquire().await?;
    let job = db_import::job(&mut h.conn(), tenant.id, id).await?;
    Ok(job.map(|j| {
        let p = progress(j.id);
        (j, p)
    }))
}

/// The latest imports, newest first.
pub async fn jobs(db: &Db, tenant: &Tenant) -> Result<Vec<ImportJob>, AppError> {
    let mut h = db.acquire().await?;
    Ok(db_import::jobs(&mut h.conn(), tenant.id, 20).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf(last: &str, first: &str, y: i16, m: i8, d: i8) -> CodiceFiscale {
        CodiceFiscale::compute(last, first, Date::new(y, m, d).unwrap(), false, "H501").unwrap()
    }

    fn table(headers: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i + 2, r.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    fn csv_of(sep: char, rows: &[Vec<String>]) -> String {
        let mut w = csv::WriterBuilder::new()
            .delimiter(sep as u8)
            .from_writer(Vec::new());
        for r in rows {
            w.write_record(r).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn every_template_reads_back_with_its_headers_and_a_valid_example() {
        for kind in ImportKind::ALL {
            let bytes = kind.template_csv();
            assert!(bytes.starts_with("\u{feff}".as_bytes()), "{kind:?}");
            let t = read_upload("modello.csv", &bytes).unwrap();
            let headers: Vec<&str> = kind.columns().iter().map(|c| c.header).collect();
            assert_eq!(t.headers, headers);
            let (rows, errors) = parse(kind, &t).unwrap();
            assert_eq!(errors, vec![], "{kind:?}");
            assert_eq!(rows.len(), 1, "{kind:?}");
            assert_eq!(ImportKind::from_slug(kind.slug()), Some(kind));
            assert_eq!(ImportKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn csv_with_bom_and_semicolons_keeps_row_numbers_and_skips_blank_rows() {
        let text = "\u{feff}Codice fiscale;Cognome;Nome\r\nA;\"Rossi; detto Bianchi\";Mario\r\n;;\r\nB;Verdi;\"Anna\nMaria\"\r\n";
        let t = read_upload("x.csv", text.as_bytes()).unwrap();
        assert_eq!(t.headers, ["Codice fiscale", "Cognome", "Nome"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(
            t.rows[0],
            (
                2,
                vec!["A".into(), "Rossi; detto Bianchi".into(), "Mario".into()]
            )
        );
        // The blank row 3 is left out; row 4 keeps its number.
        assert_eq!(t.rows[1].0, 4);
        assert_eq!(t.rows[1].1[2], "Anna\nMaria");
    }

    #[test]
    fn windows_1252_text_is_decoded() {
        // "Niccolò;Città" in Windows-1252: ò = 0xF2, à = 0xE0.
        let mut bytes = b"Nome;Citt".to_vec();
        bytes.push(0xE0);
        bytes.extend_from_slice(b"\r\nNiccol");
        bytes.push(0xF2);
        bytes.extend_from_slice(b";Roma\r\n");
        let t = read_upload("x.csv", &bytes).unwrap();
        assert_eq!(t.headers, ["Nome", "Città"]);
        assert_eq!(t.rows[0].1, ["Niccolò", "Roma"]);
    }

    #[test]
    fn utf16_with_bom_is_decoded() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "Nome\tCognome\r\nAnna\tBè\r\n".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let t = read_upload("x.csv", &bytes).unwrap();
        assert_eq!(t.headers, ["Nome", "Cognome"]);
        assert_eq!(t.rows[0].1, ["Anna", "Bè"]);
    }

    #[test]
    fn separators_and_bom_read_back_the_same_cells() {
        // Property-ish: many generated tables, each written with `;` or `,`, with or without
        // BOM, read back to the same cells (quotes, separators and accents inside cells).
        let pieces = [
            "Rossi", "D'Amico", "a;b", "c,d", "\"q\"", "Città", "12,50", "", "x y",
        ];
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for case in 0..300 {
            let cols = 2 + next() % 4;
            let header: Vec<String> = (0..cols).map(|i| format!("Colonna {i}")).collect();
            let mut rows = vec![header.clone()];
            for _ in 0..(1 + next() % 6) {
                let mut r: Vec<String> = (0..cols)
                    .map(|_| pieces[next() % pieces.len()].to_string())
                    .collect();
                // Not a blank row (those are skipped by design).
                r[0].push('z');
                rows.push(r);
            }
            let sep = if case % 2 == 0 { ';' } else { ',' };
            let mut text = csv_of(sep, &rows);
            if case % 3 == 0 {
                text.insert(0, '\u{feff}');
            }
            let t = read_upload("t.csv", text.as_bytes()).unwrap();
            assert_eq!(t.headers, header, "case {case}: {text}");
            let got: Vec<Vec<String>> = t.rows.iter().map(|(_, r)| r.clone()).collect();
            assert_eq!(got, rows[1..], "case {case}: {text}");
            let numbers: Vec<usize> = t.rows.iter().map(|(n, _)| *n).collect();
            assert_eq!(numbers, (2..rows.len() + 1).collect::<Vec<_>>());
        }
    }

    #[test]
    fn separator_is_sniffed_from_the_header_line() {
        assert_eq!(sniff_separator("a;b;c\n1,5;2;3"), b';');
        assert_eq!(sniff_separator("a,b,c\n1;2"), b',');
        assert_eq!(sniff_separator("\"a;x\",b,c"), b',');
        assert_eq!(sniff_separator("a\tb"), b'\t');
        assert_eq!(sniff_separator("solo"), b';');
    }

    #[test]
    fn uploads_are_refused_by_size_extension_and_content() {
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert!(
            read_upload("x.csv", &big)
                .unwrap_err()
                .contains("troppo grande")
        );
        assert!(read_upload("x.csv", b"").unwrap_err().contains("vuoto"));
        assert!(
            read_upload("virus.exe", b"MZ\x90\x00")
                .unwrap_err()
                .contains("non ammesso")
        );
        assert!(
            read_upload("x.pdf", b"%PDF-1.7")
                .unwrap_err()
                .contains("non ammesso")
        );
        assert!(
            read_upload("x", b"a;b")
                .unwrap_err()
                .contains("non ammesso")
        );
        assert!(
            read_upload("vecchio.xls", b"\xd0\xcf\x11\xe0")
                .unwrap_err()
                .contains(".xls")
        );
        // An executable renamed .csv, a zip renamed .csv, text renamed .xlsx.
        assert!(
            read_upload("x.csv", b"MZ\x90\x00rest")
                .unwrap_err()
                .contains("non è un CSV")
        );
        assert!(
            read_upload("x.csv", b"PK\x03\x04rest")
                .unwrap_err()
                .contains("non è un CSV")
        );
        assert!(
            read_upload("x.csv", b"a;b\n\x00\x01")
                .unwrap_err()
                .contains("non è un CSV")
        );
        assert!(
            read_upload("x.xlsx", b"a;b\n1;2")
                .unwrap_err()
                .contains("non è un foglio Excel")
        );
        assert!(
            read_upload("x.xlsx", b"PK\x03\x04broken")
                .unwrap_err()
                .contains("non è un foglio Excel")
        );
        assert!(
            read_upload("x.csv", b"a;b\n")
                .unwrap_err()
                .contains("non contiene righe")
        );
        // Upper-case extension is fine.
        assert!(read_upload("X.CSV", b"a;b\n1;2").is_ok());
    }

    #[test]
    fn xlsx_cells_read_as_text() {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "Nome").unwrap();
        ws.write_string(0, 1, "Saldo").unwrap();
        ws.write_string(0, 2, "Data").unwrap();
        ws.write_string(0, 3, "Telefono").unwrap();
        ws.write_string(0, 4, "Residente").unwrap();
        ws.write_string(1, 0, "Niccolò").unwrap();
        ws.write_number(1, 1, -12.5).unwrap();
        let date = ExcelDateTime::from_ymd(2026, 8, 31).unwrap();
        ws.write_datetime_with_format(1, 2, &date, &Format::new().set_num_format("dd/mm/yyyy"))
            .unwrap();
        ws.write_number(1, 3, 3331234567.0).unwrap();
        ws.write_boolean(1, 4, true).unwrap();
        // Row 3 blank, row 4 has data.
        ws.write_string(3, 0, "Anna").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let t = read_upload("saldi.xlsx", &bytes).unwrap();
        assert_eq!(
            t.headers,
            ["Nome", "Saldo", "Data", "Telefono", "Residente"]
        );
        assert_eq!(
            t.rows[0],
            (
                2,
                vec![
                    "Niccolò".to_string(),
                    "-12.5".into(),
                    "2026-08-31".into(),
                    "3331234567".into(),
                    "sì".into()
                ]
            )
        );
        assert_eq!(t.rows[1].0, 4);
        assert_eq!(Cents::parse_it(&t.rows[0].1[1]), Ok(Cents(-1250)));
        assert_eq!(parse_date(&t.rows[0].1[2]), Date::new(2026, 8, 31).ok());
    }

    /// A workbook of one sheet made by hand: `sheet` writes the sheet's XML (any size,
    /// streamed into the zip, deflated), `shared` is the shared strings part, if any.
    fn workbook(sheet: impl FnOnce(&mut dyn std::io::Write), shared: Option<&str>) -> Vec<u8> {
        use std::io::Write;
        use zip::write::SimpleFileOptions;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        let mut parts = vec![
            (
                "[Content_Types].xml".to_string(),
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string(),
            ),
            (
                "_rels/.rels".into(),
                format!(r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
            ),
            (
                "xl/workbook.xml".into(),
                format!(r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{rel}"><sheets><sheet name="Foglio1" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
            ),
            (
                "xl/_rels/workbook.xml.rels".into(),
                format!(r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#),
            ),
        ];
        if let Some(s) = shared {
            parts.push(("xl/sharedStrings.xml".into(), s.to_string()));
        }
        for (name, body) in parts {
            z.start_file(name, o).unwrap();
            z.write_all(body.as_bytes()).unwrap();
        }
        z.start_file("xl/worksheets/sheet1.xml", o).unwrap();
        z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#).unwrap();
        sheet(&mut z);
        z.write_all(b"</worksheet>").unwrap();
        z.finish().unwrap().into_inner()
    }

    /// A sheet of inline-string cells `(reference, text)`, one row each, after `dimension`.
    fn sheet_of(dimension: &str, cells: &[(&str, &str)]) -> Vec<u8> {
        let (dimension, cells) = (
            dimension.to_string(),
            cells
                .iter()
                .map(|(r, t)| (r.to_string(), t.to_string()))
                .collect::<Vec<_>>(),
        );
        workbook(
            move |w| {
                write!(w, "{dimension}<sheetData>").unwrap();
                for (r, t) in cells {
                    let row: String = r.chars().filter(char::is_ascii_digit).collect();
                    write!(
                        w,
                        r#"<row r="{row}"><c r="{r}" t="inlineStr"><is><t>{t}</t></is></c></row>"#
                    )
                    .unwrap();
                }
                write!(w, "</sheetData>").unwrap();
            },
            None,
        )
    }

    /// The file of the report: cells A1 and XFD1048576 (a few KB), as rust_xlsxwriter saves it.
    fn sparse_sheet() -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "Codice fiscale").unwrap();
        ws.write_string(1_048_575, 16_383, "x").unwrap();
        wb.save_to_buffer().unwrap()
    }

    /// The zip bomb of the report: 1 GB of text in cell A2, in about 1 MB.
    fn zip_bomb() -> Vec<u8> {
        workbook(
            |w| {
                w.write_all(br#"<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Codice fiscale</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>"#).unwrap();
                let chunk = vec![b'a'; 1 << 20];
                for _ in 0..1024 {
                    w.write_all(&chunk).unwrap();
                }
                w.write_all(b"</t></is></c></row></sheetData>").unwrap();
            },
            None,
        )
    }

    #[test]
    fn a_sparse_sheet_is_refused_by_its_dimension_before_calamine_reads_it() {
        let bytes = sparse_sheet();
        assert!(bytes.len() < 8192, "a small file: {} bytes", bytes.len());
        // The check of the zip and its XML alone, without calamine: refused.
        let why = xlsx::inspect(&bytes, None).unwrap_err();
        assert_eq!(
            why,
            "Il foglio dichiara 1.048.576 righe e 16.384 colonne: il limite è 200.000 righe e 100 colonne. Salva solo le righe da importare e riprova."
        );
        // read_upload checks the same way first: a dimension of 101 columns (harmless to
        // calamine, so this cannot abort even if the check were gone) is refused.
        let bytes = sheet_of(
            r#"<dimension ref="A1:CW1"/>"#,
            &[("A1", "Nome"), ("A2", "x")],
        );
        let why = "Il foglio dichiara 1 riga e 101 colonne: il limite è 200.000 righe e 100 colonne. Salva solo le righe da importare e riprova.";
        assert_eq!(xlsx::inspect(&bytes, None).unwrap_err(), why);
        assert_eq!(read_upload("anagrafe.xlsx", &bytes).unwrap_err(), why);
        // The same sheet within the limits is read.
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "Codice fiscale").unwrap();
        ws.write_string(199_999, 99, "x").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        xlsx::inspect(&bytes, None).unwrap();
        let t = read_upload("anagrafe.xlsx", &bytes).unwrap();
        assert_eq!(t.headers, ["Codice fiscale"]);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].0, 200_000);
        assert_eq!(t.rows[0].1.len(), 100);
        assert_eq!(t.rows[0].1[99], "x");
    }

    #[test]
    fn cells_beyond_the_limits_are_refused_whatever_the_dimension_says() {
        // A lying dimension, and none at all: each cell is checked as it is read. (Far in
        // one direction only: today's calamine Range of these is small, not 512 GB.)
        for dimension in [r#"<dimension ref="A1:B2"/>"#, ""] {
            let bytes = sheet_of(dimension, &[("A1", "Nome"), ("B1048576", "x")]);
            xlsx::inspect(&bytes, None).unwrap();
            assert_eq!(
                read_upload("a.xlsx", &bytes).unwrap_err(),
                "La cella B1048576 è oltre il limite di 200.000 righe e 100 colonne: salva solo le righe e le colonne da importare e riprova.",
                "{dimension}"
            );
            let bytes = sheet_of(dimension, &[("A1", "Nome"), ("XFD1", "x"), ("A2", "y")]);
            assert!(
                read_upload("a.xlsx", &bytes)
                    .unwrap_err()
                    .starts_with("La cella XFD1 è oltre il limite"),
                "{dimension}"
            );
        }
        // Within the limits, with no dimension: read.
        let bytes = sheet_of("", &[("B1", "Nome"), ("B3", "Anna")]);
        let t = read_upload("a.xlsx", &bytes).unwrap();
        assert_eq!(t.headers, ["Nome"]);
        assert_eq!(t.rows, [(3, vec!["Anna".to_string()])]);
    }

    #[test]
    fn a_zip_bomb_is_refused_by_the_size_of_its_part() {
        let bytes = zip_bomb();
        assert!(bytes.len() < 2 * 1024 * 1024, "{} bytes", bytes.len());
        let why = "Il file Excel, una volta decompresso, supera i 50 MB ammessi per ciascuna sua parte (al massimo 100 MB in tutto): salva solo le righe da importare, senza immagini o altri fogli, e riprova.";
        assert_eq!(xlsx::inspect(&bytes, None).unwrap_err(), why);
        assert_eq!(read_upload("bomba.xlsx", &bytes).unwrap_err(), why);
        // The declared size lies (says 1 KB): the part is still read through the limit.
        let mut lying = bytes.clone();
        let sheet = b"xl/worksheets/sheet1.xml";
        let mut patched = 0;
        for (sig, name_at, size_at) in [(&b"PK\x03\x04"[..], 30, 22), (&b"PK\x01\x02"[..], 46, 24)]
        {
            let mut i = 0;
            while let Some(p) = lying[i..].windows(4).position(|w| w == sig) {
                let at = i + p;
                if lying[at + name_at..].starts_with(sheet) {
                    lying[at + size_at..at + size_at + 4].copy_from_slice(&1024u32.to_le_bytes());
                    patched += 1;
                }
                i = at + 4;
            }
        }
        assert_eq!(patched, 2, "local and central headers");
        let refused = read_upload("bomba.xlsx", &lying).unwrap_err();
        assert!(
            refused == why || refused.contains("non è un foglio Excel"),
            "{refused}"
        );
    }

    #[test]
    fn shared_strings_a_long_cell_and_too_much_text_are_refused() {
        let sst = |count: &str, strings: &[&str]| {
            let mut s = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{count}" uniqueCount="{count}">"#
            );
            for t in strings {
                s.push_str(&format!("<si><t>{t}</t></si>"));
            }
            s + "</sst>"
        };
        let cells = |w: &mut dyn std::io::Write, rows: u32, cols: u32| {
            write!(w, "<sheetData>").unwrap();
            for r in 1..=rows {
                write!(w, r#"<row r="{r}">"#).unwrap();
                for c in 1..=cols {
                    let col = xlsx::column_letters(c);
                    write!(w, r#"<c r="{col}{r}" t="s"><v>0</v></c>"#).unwrap();
                }
                write!(w, "</row>").unwrap();
            }
            write!(w, "</sheetData>").unwrap();
        };
        // A table declaring four billion strings (calamine would reserve room for them all).
        let bytes = workbook(|w| cells(w, 2, 1), Some(&sst("4000000000", &["Nome"])));
        let many = "Il file Excel contiene più di 1.000.000 testi diversi: il limite è questo. Salva solo le righe da importare e riprova.";
        assert_eq!(xlsx::inspect(&bytes, None).unwrap_err(), many);
        // Two million declared: refused too (harmless to reserve, still over the limit).
        let bytes = workbook(|w| cells(w, 2, 1), Some(&sst("2000000", &["Nome"])));
        assert_eq!(read_upload("a.xlsx", &bytes).unwrap_err(), many);
        // The table itself within limits: read.
        let bytes = workbook(|w| cells(w, 2, 1), Some(&sst("1", &["Nome"])));
        assert_eq!(read_upload("a.xlsx", &bytes).unwrap().rows.len(), 1);
        // One cell longer than Excel allows.
        let long = "a".repeat(xlsx::MAX_CELL_CHARS + 1);
        let bytes = sheet_of("", &[("A1", "Nome"), ("A2", &long)]);
        assert_eq!(
            read_upload("a.xlsx", &bytes).unwrap_err(),
            "La cella A2 contiene più di 32.767 caratteri, il massimo di Excel: controlla di aver scelto il file giusto."
        );
        // One string of 32,000 characters in 2,200 cells: 70 MB of text from a small file.
        let big = "b".repeat(32_000);
        let bytes = workbook(|w| cells(w, 22, 100), Some(&sst("1", &[&big])));
        assert!(bytes.len() < 100_000);
        assert_eq!(
            read_upload("a.xlsx", &bytes).unwrap_err(),
            "Il foglio contiene troppi dati: al massimo 1.000.000 celle piene e 64 MB di testo. Salva solo le righe da importare e riprova."
        );
    }

    #[test]
    fn csv_rows_and_columns_are_bounded() {
        let wide = vec!["x"; MAX_COLUMNS + 1].join(";");
        assert_eq!(
            read_upload("a.csv", format!("a;b\n{wide}\n").as_bytes()).unwrap_err(),
            "La riga 2 ha 101 colonne: al massimo 100. Salva solo le colonne da importare e riprova."
        );
        // Blank lines cost nothing and keep their numbers out.
        let text = format!("a;b\n{}1;2\n", ";\n".repeat(100_000));
        let t = read_upload("a.csv", text.as_bytes()).unwrap();
        assert_eq!(t.rows, [(100_002, vec!["1".to_string(), "2".into()])]);
    }

    #[tokio::test]
    async fn one_read_at_a_time_and_within_its_time() {
        let readers = Readers::new(1);
        let quick = Budget {
            wait: Duration::from_millis(50),
            time: Duration::from_secs(5),
        };
        let file = b"a;b\n1;2\n";
        assert_eq!(
            read_bounded(&readers, quick, "a.csv", file)
                .await
                .unwrap()
                .rows
                .len(),
            1
        );
        // Another read holds the turn: busy after the wait.
        let held = readers.turn.clone().try_acquire_owned().unwrap();
        assert_eq!(
            read_bounded(&readers, quick, "a.csv", file)
                .await
                .unwrap_err(),
            BUSY
        );
        // And with the only waiting place taken too: busy at once, without waiting.
        let place = readers.places.try_acquire_many(2).unwrap();
        let at = Instant::now();
        let slow = Budget {
            wait: Duration::from_secs(60),
            ..quick
        };
        assert_eq!(
            read_bounded(&readers, slow, "a.csv", file)
                .await
                .unwrap_err(),
            BUSY
        );
        assert!(at.elapsed() < Duration::from_secs(5));
        drop((held, place));
        assert!(read_bounded(&readers, quick, "a.csv", file).await.is_ok());
        // No time left: the read of a workbook gives up.
        let bytes = sheet_of("", &[("A1", "Nome"), ("A2", "Anna")]);
        let none = Budget {
            time: Duration::ZERO,
            ..quick
        };
        assert_eq!(
            read_bounded(&readers, none, "a.xlsx", &bytes)
                .await
                .unwrap_err(),
            xlsx::too_slow()
        );
        assert!(
            read_bounded(&readers, quick, "a.xlsx", &bytes)
                .await
                .is_ok()
        );
    }

    #[test]
    fn dates_years_and_yes_no() {
        let d = Date::new(2026, 9, 1).ok();
        for s in [
            "01/09/2026",
            "1/9/2026",
            "01-09-2026",
            "01.09.2026",
            "2026-09-01",
            "2026-09-01T00:00:00",
            "2026-09-01 00:00:00",
        ] {
            assert_eq!(parse_date(s), d, "{s}");
        }
        for s in [
            "31/02/2026",
            "2026/09/01",
            "01/09/26",
            "ieri",
            "",
            "2026-09-01x",
            "1/9/2026/1",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
        assert_eq!(parse_year("2026/2027").as_deref(), Some("2026/2027"));
        assert_eq!(parse_year("2026-2027").as_deref(), Some("2026/2027"));
        assert_eq!(parse_year("2026/27").as_deref(), Some("2026/2027"));
        assert_eq!(parse_year("2099/00").as_deref(), Some("2099/2100"));
        assert_eq!(parse_year("2026/2028"), None);
        assert_eq!(parse_year("26/27"), None);
        assert_eq!(parse_yes_no("Sì"), Some(true));
        assert_eq!(parse_yes_no("NO"), Some(false));
        assert_eq!(parse_yes_no("forse"), None);
        assert_eq!(
            parse_service("Refezione scolastica"),
            Some(ServiceKind::Refezione)
        );
        assert_eq!(parse_service("SCUOLABUS"), Some(ServiceKind::Trasporto));
        assert_eq!(parse_service("piscina"), None);
        assert_eq!(
            fold("  Scuola  dell’Infanzia   Città "),
            "scuola dell'infanzia citta"
        );
    }

    #[test]
    fn headers_match_loosely_and_missing_columns_refuse_the_file() {
        let map = map_headers(
            ImportKind::Pupils,
            &[
                "codice FISCALE",
                "Extra",
                "cognome",
                "nome",
                "Data di  nascita",
                "Codice fiscale intestatario",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(map, vec![Some(0), Some(2), Some(3), Some(4), Some(5)]);
        let err = map_headers(
            ImportKind::Pupils,
            &["Codice fiscale", "Nome"].map(String::from),
        )
        .unwrap_err();
        assert!(
            err.contains("«Cognome»") && err.contains("«Data di nascita»"),
            "{err}"
        );
        let err = map_headers(ImportKind::Pupils, &["Nome", "nome"].map(String::from)).unwrap_err();
        assert!(err.contains("più volte"), "{err}");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_number_and_reason() {
        let mario = cf("Rossi", "Mario", 1980, 1, 1);
        let h = [
            "Codice fiscale intestatario",
            "Servizio",
            "Anno scolastico",
            "Saldo",
            "Data",
            "Nota",
        ];
        let m = mario.as_str();
        let t = table(
            &h,
            &[
                &[m, "Refezione", "2026/2027", "10,00", "", ""],
                &["RSSMRA80A01H501X", "Refezione", "2026/2027", "1,00", "", ""],
                &[m, "Refezione", "2026/2027", "3,00", "", ""],
                &[m, "Trasporto", "2026/2027", "dieci", "", ""],
                &[m, "Piscina", "2026/2027", "1,00", "", ""],
                &[m, "Trasporto", "2026/2028", "1,00", "", ""],
                &["", "Trasporto", "2025/2026", "1,00", "", ""],
                &[m, "Trasporto", "2025/2026", "1,00", "31/02/2026", ""],
                &[m, "Trasporto", "2024/2025", "1,001", "", ""],
            ],
        );
        let (rows, errors) = parse(ImportKind::Balances, &t).unwrap();
        assert_eq!(rows.len(), 1);
        let rows_with_errors: Vec<usize> = errors.iter().map(|e| e.row).collect();
        assert_eq!(rows_with_errors, vec![3, 4, 5, 6, 7, 8, 9, 10]);
        let msg = |row: usize| -> String {
            errors
                .iter()
                .filter(|e| e.row == row)
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join(" | ")
        };
        assert!(
            msg(3).contains("non valido") && msg(3).contains("controllo"),
            "{}",
            msg(3)
        );
        assert!(
            msg(4).contains("Duplicato nel file") && msg(4).contains("riga 2"),
            "{}",
            msg(4)
        );
        assert!(msg(5).contains("non è un importo valido"), "{}", msg(5));
        assert!(msg(6).contains("Servizio sconosciuto"), "{}", msg(6));
        assert!(msg(7).contains("Anno scolastico non valido"), "{}", msg(7));
        assert!(
            msg(8).contains("Manca il campo obbligatorio «Codice fiscale intestatario»"),
            "{}",
            msg(8)
        );
        assert!(msg(9).contains("non è una data valida"), "{}", msg(9));
        assert!(msg(10).contains("non è un importo valido"), "{}", msg(10));
    }

    #[test]
    fn guardians_rows_check_email_isee_and_payer() {
        let mario = cf("Rossi", "Mario", 1980, 1, 1);
        let anna = cf("Bianchi", "Anna", 1982, 5, 21);
        let h: Vec<&str> = GUARDIAN_COLUMNS.iter().map(|c| c.header).collect();
        let (m, a) = (mario.as_str(), anna.as_str());
        let t = table(
            &h,
            &[
                &[a, "Bianchi", "Anna", "", "", "", "", "", m, "sì"],
                &[
                    m,
                    "Rossi",
                    "Mario",
                    "mario@example.org",
                    "",
                    "",
                    "no",
                    "8.000,00",
                    "",
                    "",
                ],
                &[m, "Rossi", "Mario", "", "", "", "", "", "", ""],
                &[
                    a,
                    "Bianchi",
                    "Anna",
                    "senza-chiocciola",
                    "",
                    "",
                    "forse",
                    "-1",
                    a,
                    "",
                ],
            ],
        );
        let (rows, errors) = parse(ImportKind::Guardians, &t).unwrap();
        let Rows::Guardians(rows) = rows else {
            panic!()
        };
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].payer.as_ref(), Some(&mario));
        assert!(rows[0].sees_payments);
        assert_eq!(rows[1].isee, Some(Cents(800_000)));
        assert!(!rows[1].resident);
        let messages: Vec<(usize, &str)> =
            errors.iter().map(|e| (e.row, e.message.as_str())).collect();
        assert!(
            messages
                .iter()
                .any(|(r, m)| *r == 4 && m.contains("Duplicato")),
            "{messages:?}"
        );
        for needle in ["Email", "sì o no", "negativo", "persona stessa"] {
            assert!(
                messages.iter().any(|(r, m)| *r == 5 && m.contains(needle)),
                "{needle}: {messages:?}"
            );
        }
    }

    fn snapshot() -> (Snapshot, CodiceFiscale, CodiceFiscale) {
        let mario = cf("Rossi", "Mario", 1980, 1, 1);
        let luca = cf("Rossi", "Luca", 2018, 5, 10);
        let mut s = Snapshot::default();
        s.guardians.insert(mario.as_str().into(), GuardianId(1));
        s.payer_family.insert(GuardianId(1), FamilyId(10));
        s.pupils.insert(luca.as_str().into(), PupilId(100));
        s.years.insert("2026/2027".into(), SchoolYearId(5));
        s.services.insert(
            (SchoolYearId(5), ServiceKind::Refezione),
            (ServiceId(50), Billing::Prepaid),
        );
        s.schools
            .insert(fold("Scuola primaria Gianni Rodari"), SchoolId(7));
        s.classes
            .insert((SchoolYearId(5), SchoolId(7), fold("3 A")), ClassId(70));
        s.bands.insert(
            (ServiceId(50), fold("Fascia 3")),
            BandInfo {
                id: TariffBandId(500),
                meal_price: Cents(300),
                fixed_fee: Cents(0),
                exempt: false,
            },
        );
        s.diets.insert("d01".into(), DietId(9));
        (s, mario, luca)
    }

    #[test]
    fn plan_finds_unknown_references_and_skips_rows_already_present() {
        let (mut s, _, luca) = snapshot();
        let sara = cf("Rossi", "Sara", 2019, 3, 3);
        s.pupils.insert(sara.as_str().into(), PupilId(101));
        s.cards.insert("OLD-1".into(), PupilId(101));
        let h: Vec<&str> = ENROLMENT_COLUMNS.iter().map(|c| c.header).collect();
        let (l, sa) = (luca.as_str(), sara.as_str());
        let ghost = cf("Verdi", "Ugo", 2018, 1, 1);
        let t = table(
            &h,
            &[
                &[
                    l,
                    "Refezione",
                    "2026/2027",
                    "scuola primaria gianni rodari",
                    "3 a",
                    "FASCIA 3",
                    "2,50",
                    "D01",
                    "",
                    "14/09/2026",
                    "T-1",
                ],
                &[
                    sa,
                    "Refezione",
                    "2026/2027",
                    "Scuola Inesistente",
                    "3 A",
                    "Fascia 3",
                    "",
                    "",
                    "",
                    "14/09/2026",
                    "T-2",
                ],
                &[
                    sa,
                    "Trasporto",
                    "2026/2027",
                    "Scuola primaria Gianni Rodari",
                    "9 Z",
                    "Fascia 3",
                    "",
                    "",
                    "",
                    "14/09/2026",
                    "T-3",
                ],
                &[
                    ghost.as_str(),
                    "Refezione",
                    "2025/2026",
                    "Scuola primaria Gianni Rodari",
                    "9 Z",
                    "Fascia 9",
                    "",
                    "X",
                    "",
                    "14/09/2026",
                    "OLD-1",
                ],
            ],
        );
        let (rows, errors) = parse(ImportKind::Enrolments, &t).unwrap();
        assert_eq!(errors, vec![]);
        let p = plan(&rows, &s);
        assert_eq!(p.steps.len(), 1);
        let Step::Enrolment { new, billing, .. } = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            (
                new.pupil_id,
                new.service_id,
                new.class_id,
                new.tariff_band_id
            ),
            (PupilId(100), ServiceId(50), ClassId(70), TariffBandId(500))
        );
        assert_eq!(new.meal_price, Cents(250));
        assert_eq!(new.diet_id, Some(DietId(9)));
        assert_eq!(*billing, Billing::Prepaid);
        let msg = |row: usize| -> String {
            p.errors
                .iter()
                .filter(|e| e.row == row)
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join(" | ")
        };
        assert!(msg(3).contains("Scuola sconosciuta"), "{}", msg(3));
        assert!(
            msg(4).contains("Il servizio Trasporto scolastico non c'è"),
            "{}",
            msg(4)
        );
        assert!(msg(4).contains("Classe sconosciuta"), "{}", msg(4));
        assert!(
            msg(5).contains("Alunno sconosciuto") && msg(5).contains("Anno scolastico sconosciuto"),
            "{}",
            msg(5)
        );
        assert!(msg(5).contains("Codice dieta sconosciuto"), "{}", msg(5));

        // Once written, the same row is present, and the same card on another pupil is refused.
        s.enrolled.insert((PupilId(100), ServiceId(50)));
        s.cards.insert("T-1".into(), PupilId(100));
        let t2 = table(
            &h,
            &[
                &[
                    l,
                    "Refezione",
                    "2026/2027",
                    "Scuola primaria Gianni Rodari",
                    "3 A",
                    "Fascia 3",
                    "",
                    "",
                    "",
                    "14/09/2026",
                    "T-1",
                ],
                &[
                    sa,
                    "Refezione",
                    "2026/2027",
                    "Scuola primaria Gianni Rodari",
                    "3 A",
                    "Fascia 3",
                    "",
                    "",
                    "",
                    "14/09/2026",
                    "t-1",
                ],
            ],
        );
        let (rows, errors) = parse(ImportKind::Enrolments, &t2).unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e.row == 3 && e.message.contains("stessa tessera")),
            "{errors:?}"
        );
        let p = plan(&rows, &s);
        assert_eq!(p.present, vec![2]);
        assert!(p.steps.is_empty());
    }

    #[test]
    fn balances_plan_once_per_payer_and_service() {
        let (mut s, mario, _) = snapshot();
        let h: Vec<&str> = BALANCE_COLUMNS.iter().map(|c| c.header).collect();
        let stranger = cf("Neri", "Ada", 1970, 2, 2);
        let t = table(
            &h,
            &[
                &[mario.as_str(), "Refezione", "2026/2027", "-12,50", "", ""],
                &[stranger.as_str(), "Refezione", "2026/2027", "5,00", "", ""],
            ],
        );
        let (rows, errors) = parse(ImportKind::Balances, &t).unwrap();
        assert_eq!(errors, vec![]);
        let p = plan(&rows, &s);
        assert_eq!(p.steps.len(), 1);
        let Step::Balance {
            key,
            family,
            service,
            row,
        } = &p.steps[0]
        else {
            panic!()
        };
        assert_eq!(
            key.to_string(),
            format!("import:balance:{}:50", mario.as_str())
        );
        assert_eq!(
            (*family, *service, row.amount),
            (FamilyId(10), ServiceId(50), Cents(-1250))
        );
        assert!(p.errors[0].message.contains("Intestatario sconosciuto"));
        s.balance_keys.insert(key.to_string());
        let p = plan(&rows, &s);
        assert!(p.steps.is_empty());
        assert_eq!(p.present, vec![2]);
    }

    #[test]
    fn guardians_plan_accepts_a_payer_later_in_the_same_file() {
        let (s, mario, _) = snapshot();
        let anna = cf("Bianchi", "Anna", 1982, 5, 21);
        let piero = cf("Verdi", "Piero", 1975, 4, 4);
        let nobody = cf("Neri", "Ada", 1970, 2, 2);
        let h: Vec<&str> = GUARDIAN_COLUMNS.iter().map(|c| c.header).collect();
        let t = table(
            &h,
            &[
                &[
                    anna.as_str(),
                    "Bianchi",
                    "Anna",
                    "",
                    "",
                    "",
                    "",
                    "",
                    piero.as_str(),
                    "",
                ],
                &[piero.as_str(), "Verdi", "Piero", "", "", "", "", "", "", ""],
                &[mario.as_str(), "Rossi", "Mario", "", "", "", "", "", "", ""],
                &[
                    cf("Gialli", "Eva", 1990, 1, 1).as_str(),
                    "Gialli",
                    "Eva",
                    "",
                    "",
                    "",
                    "",
                    "",
                    nobody.as_str(),
                    "",
                ],
            ],
        );
        let (rows, errors) = parse(ImportKind::Guardians, &t).unwrap();
        assert_eq!(errors, vec![]);
        let p = plan(&rows, &s);
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.present, vec![4]);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].row, 5);
    }

    #[test]
    fn a_job_left_running_by_a_stopped_node_is_interrupted() {
        let now: jiff::Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
        let job = |status, mins: i64| ImportJob {
            id: 424_242,
            kind: "guardians".into(),
            file_name: "genitori.csv".into(),
            file_sha256: String::new(),
            status,
            rows_total: 1,
            rows_new: 0,
            rows_present: 0,
            message: String::new(),
            created_by: "staff:1".into(),
            created_at: now - jiff::SignedDuration::from_mins(mins),
            finished_at: None,
        };
        assert!(interrupted(&job(JobStatus::Running, 31), now));
        assert!(!interrupted(&job(JobStatus::Running, 5), now));
        assert!(!interrupted(&job(JobStatus::Done, 31), now));
        // Running here: not interrupted, however long it takes.
        set_progress(424_242, Some((1, 2)));
        assert!(!interrupted(&job(JobStatus::Running, 31), now));
        set_progress(424_242, None);
    }
}
