//! One way to export a table (every back-office report, the kitchen's numbers): a [`Table`]
//! of typed cells, written as an Italian-Excel CSV ([`csv`]) or as an XLSX workbook
//! ([`xlsx`]).
//!
//! * CSV: UTF-8 with BOM, `;`-separated, CRLF line ends; money with a decimal comma and no
//!   thousands separator (`-1234,50`), dates as `gg/mm/aaaa`.
//! * XLSX: one sheet; counts and money are numbers (money in euros, formatted `#,##0.00 €`),
//!   dates are dates; the header row is bold and frozen.
//!
//! Text cells that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`,
//! tab or CR) are prefixed with `'` in both formats.

use jiff::civil::Date;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

use crate::DocumentError;

/// One cell of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    /// A count (meals, entries).
    Count(i64),
    /// An amount of money in cents.
    Money(i64),
    Date(Date),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// The cell as CSV text.
    fn csv_text(&self) -> String {
        match self {
            Cell::Text(s) => safe_text(s),
            Cell::Count(n) => n.to_string(),
            Cell::Money(c) => money_text(*c),
            Cell::Date(d) => d.strftime("%d/%m/%Y").to_string(),
            Cell::Empty => String::new(),
        }
    }
}

impl From<u32> for Cell {
    fn from(n: u32) -> Cell {
        Cell::Count(i64::from(n))
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

/// A table: a title (the workbook's sheet name, cut to Excel's 31 characters), the column
/// headings, the rows, and the rows of totals at the end (bold in the workbook).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub totals: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Table {
        Table {
            title: title.into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
            totals: Vec::new(),
        }
    }

    /// Every row, then every total, in order.
    fn all_rows(&self) -> impl Iterator<Item = (&Vec<Cell>, bool)> {
        self.rows
            .iter()
            .map(|r| (r, false))
            .chain(self.totals.iter().map(|r| (r, true)))
    }
}

/// `-1234,50`: a decimal comma, no thousands separator (what an Italian spreadsheet reads as a
/// number).
pub fn money_text(cents: i64) -> String {
    let abs = cents.unsigned_abs();
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{},{:02}", abs / 100, abs % 100)
}

/// Neutralises spreadsheet formula injection.
pub fn safe_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The table as an Italian-Excel CSV: UTF-8 with BOM, `;`, CRLF.
pub fn csv(table: &Table) -> Vec<u8> {
    // Writing into a Vec cannot fail and the writer is flexible about lengths, so the error
    // branch is unreachable; it still must not panic.
    write_csv(table).unwrap_or_default()
}

fn write_csv(table: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(out);
    writer.write_record(table.columns.iter().map(|c| safe_text(c)))?;
    for (row, _) in table.all_rows() {
        writer.write_record(row.iter().map(Cell::csv_text))?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
}

/// The table as an XLSX workbook of one sheet.
pub fn xlsx(table: &Table) -> Result<Vec<u8>, DocumentError> {
    write_xlsx(table).map_err(|e| DocumentError::Xlsx(e.to_string()))
}

/// Excel's limit on sheet names, and the characters it refuses in them.
fn sheet_name(title: &str) -> String {
    let clean: String = title
        .chars()
        .map(|c| match c {
            '[' | ']' | ':' | '*' | '?' | '/' | '\\' => ' ',
            c => c,
        })
        .take(31)
        .collect();
    let clean = clean.trim().trim_matches('\'').to_owned();
    if clean.is_empty() {
        "Tabella".to_owned()
    } else {
        clean
    }
}

fn write_xlsx(table: &Table) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name(&table.title))?;
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00 \"€\"");
    let money_bold = money.clone().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let date_bold = date.clone().set_bold();
    for (col, title) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(0, col_index(col), safe_text(title), &bold)?;
        let width = title.chars().count().clamp(10, 40);
        sheet.set_column_width(col_index(col), width as f64 + 2.0)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (i, (row, total)) in table.all_rows().enumerate() {
        let r = u32::try_from(i + 1).unwrap_or(u32::MAX);
        for (col, cell) in row.iter().enumerate() {
            let c = col_index(col);
            match (cell, total) {
                (Cell::Text(s), false) => {
                    sheet.write_string(r, c, safe_text(s))?;
                }
                (Cell::Text(s), true) => {
                    sheet.write_string_with_format(r, c, safe_text(s), &bold)?;
                }
                (Cell::Count(n), false) => {
                    sheet.write_number(r, c, *n as f64)?;
                }
                (Cell::Count(n), true) => {
                    sheet.write_number_with_format(r, c, *n as f64, &bold)?;
                }
                (Cell::Money(cents), t) => {
                    let f = if t { &money_bold } else { &money };
                    sheet.write_number_with_format(r, c, *cents as f64 / 100.0, f)?;
                }
                (Cell::Date(d), t) => {
                    let f = if t { &date_bold } else { &date };
                    let when = ExcelDateTime::from_ymd(
                        u16::try_from(d.year()).unwrap_or(1900),
                        d.month() as u8,
                        d.day() as u8,
                    )?;
                    sheet.write_datetime_with_format(r, c, &when, f)?;
                }
                (Cell::Empty, _) => {}
            }
        }
    }
    book.save_to_buffer()
}

fn col_index(col: usize) -> u16 {
    u16::try_from(col).unwrap_or(u16::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use calamine::{Data, Reader, Xlsx};

    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(
            "Incassi: novembre/2026",
            &["Giorno", "Voce", "Numero", "Importo"],
        );
        t.rows.push(vec![
            Cell::Date(Date::constant(2026, 11, 23)),
            Cell::text("=HYPERLINK(\"x\")"),
            Cell::Count(3),
            Cell::Money(-123_450),
        ]);
        t.rows.push(vec![
            Cell::Date(Date::constant(2026, 11, 24)),
            Cell::text("Ricariche; pagoPA"),
            Cell::Count(1),
            Cell::Money(5),
        ]);
        t.totals.push(vec![
            Cell::text("Totale"),
            Cell::Empty,
            Cell::Count(4),
            Cell::Money(-123_445),
        ]);
        t
    }

    #[test]
    fn formula_like_text_is_neutralised() {
        assert_eq!(safe_text("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(safe_text("-1"), "'-1");
        assert_eq!(safe_text("Rodari"), "Rodari");
    }

    #[test]
    fn money_has_a_decimal_comma() {
        assert_eq!(money_text(0), "0,00");
        assert_eq!(money_text(5), "0,05");
        assert_eq!(money_text(-123_450), "-1234,50");
        assert_eq!(money_text(i64::MIN), "-92233720368547758,08");
    }

    #[test]
    fn csv_is_italian_excel() {
        let bytes = csv(&sample());
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(lines[0], "Giorno;Voce;Numero;Importo");
        assert_eq!(lines[1], "23/11/2026;\"'=HYPERLINK(\"\"x\"\")\";3;-1234,50");
        assert_eq!(lines[2], "24/11/2026;\"Ricariche; pagoPA\";1;0,05");
        assert_eq!(lines[3], "Totale;;4;-1234,45");
        assert_eq!(lines[4], "");
    }

    #[test]
    fn xlsx_reads_back_as_numbers_and_dates() {
        let bytes = xlsx(&sample()).unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(
            book.sheet_names(),
            vec!["Incassi  novembre 2026".to_owned()]
        );
        let range = book.worksheet_range("Incassi  novembre 2026").unwrap();
        assert_eq!(range.get_size(), (4, 4));
        assert_eq!(range.get((0, 3)), Some(&Data::String("Importo".into())));
        assert_eq!(
            range.get((1, 1)),
            Some(&Data::String("'=HYPERLINK(\"x\")".into()))
        );
        assert_eq!(range.get((1, 2)), Some(&Data::Float(3.0)));
        assert_eq!(range.get((1, 3)), Some(&Data::Float(-1234.5)));
        assert_eq!(range.get((3, 3)), Some(&Data::Float(-1234.45)));
        match range.get((1, 0)) {
            Some(Data::DateTime(d)) => {
                // Excel counts days from 30 December 1899.
                let days = Date::constant(1899, 12, 30)
                    .until(Date::constant(2026, 11, 23))
                    .unwrap()
                    .get_days();
                assert_eq!(d.as_f64(), f64::from(days));
            }
            other => panic!("not a date: {other:?}"),
        }
    }
}
