//! The pagoPA printed payment notice (avviso di pagamento, "Guida tecnica
//! sugli avvisi di pagamento" v3 model) and the payment receipt, as PDF.
//!
//! The codes are drawn here, not in typst: every QR code (ISO 18004, version
//! 4, ECC level M) and every Poste Data Matrix (ECC 200) becomes a raw 8-bit
//! greyscale raster, one pixel per module with its quiet zone, handed to the
//! template as an in-memory file and scaled there without smoothing. The
//! template reads everything else from `/data.json`.
//!
//! Money is integer cents end to end; amounts are printed with
//! [`Cents::format_it`].

use datamatrix::{DataMatrix, SymbolList};
use qrcode::{Color, EcLevel, QrCode, Version};
use refettorio_domain::Cents;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::DocumentError;
use crate::pdf::{self, DATA_PATH, PdfProfile, VirtualFile};

const NOTICE_TEMPLATE: &str = include_str!("../templates/notice.typ");
const RECEIPT_TEMPLATE: &str = include_str!("../templates/receipt.typ");

/// The most instalments one notice can carry. Each instalment has its own
/// image files (`/qr<n>.raw`, `/dm<n>.raw`); typst interns every distinct
/// path for the life of the process, so the set of paths must stay bounded.
pub const MAX_INSTALMENTS: usize = 24;

/// The QR code's version (33 × 33 modules): the payload always fits, since it
/// is at most 62 bytes.
const QR_VERSION: i16 = 4;
/// Light modules around the QR code (ISO 18004 asks for 4).
const QR_QUIET_ZONE: usize = 4;
/// Light modules around the Data Matrix (ECC 200 asks for at least 1).
const DM_QUIET_ZONE: usize = 2;
/// The largest amount the Poste Data Matrix can carry (10 digits of cents).
const POSTE_MAX_CENTS: i64 = 9_999_999_999;

/// Everything printed on a payment notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeView {
    pub creditor: NoticeCreditor,
    pub debtor: NoticeDebtor,
    /// Oggetto del pagamento, e.g. "Ricarica servizio mensa scolastica 2026/27" (never pupils' data).
    pub subject: String,
    /// One = a single payment; more = the instalment layout (one QR per instalment, "Rata 1 di 3"...).
    pub instalments: Vec<NoticeInstalment>,
    /// The document's date (PDF/A metadata and "emesso il").
    pub issued_on: jiff::civil::Date,
}

/// The creditor (ente creditore): the municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeCreditor {
    pub name: String,
    /// 11 digits.
    pub fiscal_code: String,
    /// The office, e.g. "Servizi scolastici".
    pub sector: String,
    /// How to reach the office, e.g. a phone number and an e-mail address.
    pub contacts: String,
    /// Codice interbancario CBILL, when the creditor has one.
    pub cbill: Option<String>,
    /// Conto corrente postale (digits): when set, the notice carries the
    /// "Bollettino postale PA" part with the Poste Data Matrix.
    pub postal_account: Option<String>,
    /// Holder of the postal account (defaults to the creditor's name).
    pub postal_holder: Option<String>,
}

/// The recipient of the notice (destinatario dell'avviso).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeDebtor {
    pub fiscal_code: String,
    pub full_name: String,
    pub address: Option<String>,
}

/// One payment of the notice: the single payment or one instalment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeInstalment {
    /// Numero avviso (NAV), 18 digits.
    pub notice_number: String,
    pub amount_cents: i64,
    pub due_date: Option<jiff::civil::Date>,
}

/// The pagoPA receipt of a payment, as a one-page PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    pub creditor_name: String,
    pub creditor_fiscal_code: String,
    pub debtor_fiscal_code: String,
    pub debtor_name: String,
    pub subject: String,
    pub notice_number: String,
    pub iuv: String,
    pub receipt_id: String,
    pub amount_cents: i64,
    /// e.g. "23/11/2026 alle 10:15".
    pub paid_at_label: String,
    pub psp_name: String,
    pub payment_method: Option<String>,
    /// The document's date (PDF/A metadata and "emessa il").
    pub issued_on: jiff::civil::Date,
}

/// The QR code content of one payment:
/// `PAGOPA|002|<NAV 18>|<EC fiscal code 11>|<amount in cents>`.
pub fn qr_payload(notice_number: &str, creditor_fiscal_code: &str, amount_cents: i64) -> String {
    format!("PAGOPA|002|{notice_number}|{creditor_fiscal_code}|{amount_cents}")
}

/// The 256-character content of the Poste Data Matrix ("Bollettino postale
/// PA"):
///
/// `codfase=NBPA;`, `18` + NAV (18), `12` + postal account (12, zero-padded),
/// `10` + cents (10, zero-padded), `3896`, `1P1`, EC fiscal code (11), debtor
/// fiscal code (16), debtor name (40), subject (110), 12 spaces, `A`.
///
/// Text fields are folded to upper-case ASCII (accents dropped: "Niccolò" →
/// "NICCOLO"; characters outside letters, digits and `.,'-/():` become
/// spaces, runs of spaces one), cut to their width and right-padded with
/// spaces. Non-digits in the account are dropped and only its last 12 digits
/// kept; the amount is clamped to 0..=9 999 999 999 cents. The result is
/// therefore always 256 ASCII characters.
pub fn poste_datamatrix_payload(
    notice_number: &str,
    postal_account: &str,
    amount_cents: i64,
    creditor_fiscal_code: &str,
    debtor_fiscal_code: &str,
    debtor_name: &str,
    subject: &str,
) -> String {
    let account_digits: Vec<char> = postal_account
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let account: String = account_digits[account_digits.len().saturating_sub(12)..]
        .iter()
        .collect();
    let amount = amount_cents.clamp(0, POSTE_MAX_CENTS);

    let mut out = String::with_capacity(256);
    out.push_str("codfase=NBPA;");
    out.push_str("18");
    out.push_str(&fit(&ascii_upper(notice_number), 18));
    out.push_str("12");
    out.push_str(&format!("{account:0>12}"));
    out.push_str("10");
    out.push_str(&format!("{amount:010}"));
    out.push_str("3896");
    out.push_str("1P1");
    out.push_str(&fit(&ascii_upper(creditor_fiscal_code), 11));
    out.push_str(&fit(&ascii_upper(debtor_fiscal_code), 16));
    out.push_str(&fit(&ascii_upper(debtor_name), 40));
    out.push_str(&fit(&ascii_upper(subject), 110));
    out.push_str(&" ".repeat(12));
    out.push('A');
    out
}

/// The notice number as printed: groups of four, `3020 0000 0000 0001 04`.
pub fn group_by_four(notice_number: &str) -> String {
    let chars: Vec<char> = notice_number.chars().collect();
    chars
        .chunks(4)
        .map(|chunk| chunk.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The payment notice as an A4, tagged PDF/A-2b.
///
/// Refuses (with [`DocumentError::Data`]) a notice that would mislead its
/// reader or the payment channels: no instalments or more than
/// [`MAX_INSTALMENTS`], a notice number that is not 18 digits, a creditor
/// fiscal code that is not 11 digits, an amount that is not positive (or too
/// large for the Poste Data Matrix when a postal account is set), a postal
/// account that is not 1 to 12 digits.
pub fn notice_pdf(v: &NoticeView) -> Result<Vec<u8>, DocumentError> {
    validate(v)?;
    let count = v.instalments.len();
    let postal_account = v.creditor.postal_account.as_deref();

    let mut files = Vec::with_capacity(1 + 2 * count);
    let mut parts = Vec::with_capacity(count);
    for (i, instalment) in v.instalments.iter().enumerate() {
        let n = i + 1;
        let qr = qr_raster(&qr_payload(
            &instalment.notice_number,
            &v.creditor.fiscal_code,
            instalment.amount_cents,
        ))?;
        let qr_path = format!("/qr{n}.raw");
        let qr_geometry = qr.geometry;
        files.push(VirtualFile::new(qr_path.clone(), qr.pixels));

        let datamatrix = match postal_account {
            Some(account) => {
                let dm = datamatrix_raster(&poste_datamatrix_payload(
                    &instalment.notice_number,
                    account,
                    instalment.amount_cents,
                    &v.creditor.fiscal_code,
                    &v.debtor.fiscal_code,
                    &v.debtor.full_name,
                    &v.subject,
                ))?;
                let path = format!("/dm{n}.raw");
                files.push(VirtualFile::new(path.clone(), dm.pixels));
                Some(ImageData {
                    path,
                    geometry: dm.geometry,
                })
            }
            None => None,
        };

        parts.push(PartData {
            title: if count == 1 {
                "Rata unica".to_owned()
            } else {
                format!("Rata {n} di {count}")
            },
            notice_number: group_by_four(&instalment.notice_number),
            amount: Cents(instalment.amount_cents).format_it(),
            due: instalment.due_date.map(date_it),
            qr: ImageData {
                path: qr_path,
                geometry: qr_geometry,
            },
            datamatrix,
        });
    }

    let total = Cents::checked_sum(v.instalments.iter().map(|i| Cents(i.amount_cents)))
        .ok_or_else(|| invalid("the instalments' total overflows"))?;
    let data = NoticeData {
        date: PdfDate::from(v.issued_on),
        issued_on: date_it(v.issued_on),
        subject: &v.subject,
        creditor: CreditorData {
            name: &v.creditor.name,
            fiscal_code: &v.creditor.fiscal_code,
            sector: &v.creditor.sector,
            contacts: &v.creditor.contacts,
            cbill: v
                .creditor
                .cbill
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty()),
        },
        debtor: DebtorData {
            fiscal_code: &v.debtor.fiscal_code,
            full_name: &v.debtor.full_name,
            address: v
                .debtor
                .address
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty()),
        },
        total: total.format_it(),
        due: match v.instalments.as_slice() {
            [single] => single.due_date.map(date_it),
            _ => None,
        },
        instalment_count: count,
        postal: postal_account.map(|account| PostalData {
            account,
            holder: v
                .creditor
                .postal_holder
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or(&v.creditor.name),
        }),
        parts,
    };
    files.insert(0, VirtualFile::json(DATA_PATH, &data)?);
    pdf::render(NOTICE_TEMPLATE, files, PdfProfile::ArchivalA2b)
}

/// The receipt of a pagoPA payment as an A4, tagged PDF/A-2b.
pub fn receipt_pdf(v: &ReceiptView) -> Result<Vec<u8>, DocumentError> {
    let method = v
        .payment_method
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(refettorio_domain::pagopa::payment_method_it);
    let data = ReceiptData {
        date: PdfDate::from(v.issued_on),
        issued_on: date_it(v.issued_on),
        creditor_name: &v.creditor_name,
        creditor_fiscal_code: &v.creditor_fiscal_code,
        debtor_fiscal_code: &v.debtor_fiscal_code,
        debtor_name: &v.debtor_name,
        subject: &v.subject,
        notice_number: group_by_four(&v.notice_number),
        iuv: &v.iuv,
        receipt_id: &v.receipt_id,
        amount: Cents(v.amount_cents).format_it(),
        paid_at: &v.paid_at_label,
        psp_name: &v.psp_name,
        payment_method: method.as_deref(),
    };
    pdf::render_with_data(RECEIPT_TEMPLATE, &data)
}

/// Why a notice cannot be printed. There is no dedicated error variant, so
/// the reason travels as a data error ("could not serialise the document
/// data: ...").
fn invalid(reason: &str) -> DocumentError {
    DocumentError::Data(<serde_json::Error as serde::de::Error>::custom(format!(
        "payment notice: {reason}"
    )))
}

fn all_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn validate(v: &NoticeView) -> Result<(), DocumentError> {
    if v.instalments.is_empty() {
        return Err(invalid("no payment to print"));
    }
    if v.instalments.len() > MAX_INSTALMENTS {
        return Err(invalid(&format!(
            "{} instalments, at most {MAX_INSTALMENTS} can be printed",
            v.instalments.len()
        )));
    }
    if !all_digits(&v.creditor.fiscal_code, 11..=11) {
        return Err(invalid("the creditor's fiscal code must be 11 digits"));
    }
    if let Some(account) = &v.creditor.postal_account
        && !all_digits(account, 1..=12)
    {
        return Err(invalid("the postal account must be 1 to 12 digits"));
    }
    for instalment in &v.instalments {
        if !all_digits(&instalment.notice_number, 18..=18) {
            return Err(invalid("a notice number must be 18 digits"));
        }
        if instalment.amount_cents <= 0 {
            return Err(invalid("an amount must be positive"));
        }
        if v.creditor.postal_account.is_some() && instalment.amount_cents > POSTE_MAX_CENTS {
            return Err(invalid("an amount is too large for the postal bulletin"));
        }
    }
    Ok(())
}

/// `dd/mm/yyyy`.
fn date_it(date: jiff::civil::Date) -> String {
    format!("{:02}/{:02}/{}", date.day(), date.month(), date.year())
}

/// Cuts `text` to `width` characters and right-pads it with spaces.
fn fit(text: &str, width: usize) -> String {
    let mut out: String = text.chars().take(width).collect();
    let len = out.chars().count();
    out.extend(std::iter::repeat_n(' ', width - len));
    out
}

/// Upper-case ASCII for the Poste Data Matrix: accents dropped, a few
/// ligatures and letters without a decomposition spelled out, anything else
/// outside letters, digits and `.,'-/():` made a space; spaces collapsed and
/// trimmed.
fn ascii_upper(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.nfd() {
        match c {
            c if c.is_ascii_alphanumeric() => folded.push(c.to_ascii_uppercase()),
            c if is_combining_mark(c) => {}
            '.' | ',' | '\'' | '-' | '/' | '(' | ')' | ':' => folded.push(c),
            '’' | '‘' | '`' | '´' => folded.push('\''),
            '–' | '—' => folded.push('-'),
            'ß' => folded.push_str("SS"),
            'æ' | 'Æ' => folded.push_str("AE"),
            'œ' | 'Œ' => folded.push_str("OE"),
            'ø' | 'Ø' => folded.push('O'),
            'đ' | 'Đ' | 'ð' | 'Ð' => folded.push('D'),
            'ł' | 'Ł' => folded.push('L'),
            'þ' | 'Þ' => folded.push_str("TH"),
            'ı' => folded.push('I'),
            _ => folded.push(' '),
        }
    }
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The size of a code image: `modules` per side of the symbol itself,
/// `pixels` per side of the raster (symbol plus quiet zone, one pixel per
/// module).
#[derive(Debug, Clone, Copy, Serialize)]
struct CodeGeometry {
    modules: usize,
    pixels: usize,
}

/// A code as raw `luma8` pixels (0 = dark, 255 = light), row by row.
struct Raster {
    pixels: Vec<u8>,
    geometry: CodeGeometry,
}

/// Lays `dark` (row-major, `width` × `height` modules) on a light square
/// canvas with `quiet` light modules on every side.
fn raster(dark: &[bool], width: usize, quiet: usize) -> Raster {
    let height = dark.len().checked_div(width).unwrap_or(0);
    let side = width.max(height) + 2 * quiet;
    let mut pixels = vec![255u8; side * side];
    for (i, &is_dark) in dark.iter().enumerate() {
        if is_dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            if let Some(pixel) = pixels.get_mut(y * side + x) {
                *pixel = 0;
            }
        }
    }
    Raster {
        pixels,
        geometry: CodeGeometry {
            modules: width,
            pixels: side,
        },
    }
}

/// The QR code of a payment: version 4, ECC level M.
fn qr_raster(payload: &str) -> Result<Raster, DocumentError> {
    let code = QrCode::with_version(payload.as_bytes(), Version::Normal(QR_VERSION), EcLevel::M)
        .map_err(|e| invalid(&format!("QR code: {e}")))?;
    let width = code.width();
    let dark: Vec<bool> = code
        .into_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok(raster(&dark, width, QR_QUIET_ZONE))
}

/// The Poste Data Matrix: ECC 200, square.
fn datamatrix_raster(payload: &str) -> Result<Raster, DocumentError> {
    let code = DataMatrix::encode(payload.as_bytes(), SymbolList::default().enforce_square())
        .map_err(|e| invalid(&format!("Data Matrix: {e:?}")))?;
    let bitmap = code.bitmap();
    Ok(raster(bitmap.bits(), bitmap.width(), DM_QUIET_ZONE))
}

#[derive(Serialize)]
struct PdfDate {
    year: i16,
    month: i8,
    day: i8,
}

impl From<jiff::civil::Date> for PdfDate {
    fn from(date: jiff::civil::Date) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
            day: date.day(),
        }
    }
}

/// What `templates/notice.typ` reads from `/data.json`: labels ready to print.
#[derive(Serialize)]
struct NoticeData<'a> {
    date: PdfDate,
    issued_on: String,
    subject: &'a str,
    creditor: CreditorData<'a>,
    debtor: DebtorData<'a>,
    /// The sum of the instalments, e.g. "45,50 €".
    total: String,
    /// The due date of a single payment ("30/11/2026"); `None` with
    /// instalments (each has its own) or without a due date.
    due: Option<String>,
    instalment_count: usize,
    postal: Option<PostalData<'a>>,
    parts: Vec<PartData>,
}

#[derive(Serialize)]
struct CreditorData<'a> {
    name: &'a str,
    fiscal_code: &'a str,
    sector: &'a str,
    contacts: &'a str,
    cbill: Option<&'a str>,
}

#[derive(Serialize)]
struct DebtorData<'a> {
    fiscal_code: &'a str,
    full_name: &'a str,
    address: Option<&'a str>,
}

#[derive(Serialize)]
struct PostalData<'a> {
    account: &'a str,
    holder: &'a str,
}

/// One payment's part of the notice.
#[derive(Serialize)]
struct PartData {
    /// "Rata unica" or "Rata 2 di 3".
    title: String,
    /// Grouped by four.
    notice_number: String,
    amount: String,
    due: Option<String>,
    qr: ImageData,
    datamatrix: Option<ImageData>,
}

#[derive(Serialize)]
struct ImageData {
    path: String,
    #[serde(flatten)]
    geometry: CodeGeometry,
}

/// What `templates/receipt.typ` reads from `/data.json`.
#[derive(Serialize)]
struct ReceiptData<'a> {
    date: PdfDate,
    issued_on: String,
    creditor_name: &'a str,
    creditor_fiscal_code: &'a str,
    debtor_fiscal_code: &'a str,
    debtor_name: &'a str,
    subject: &'a str,
    notice_number: String,
    iuv: &'a str,
    receipt_id: &'a str,
    amount: String,
    paid_at: &'a str,
    psp_name: &'a str,
    payment_method: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_payload_of_the_worked_example() {
        assert_eq!(
            qr_payload("302000000000000104", "01234567890", 4550),
            "PAGOPA|002|302000000000000104|01234567890|4550"
        );
    }

    #[test]
    fn groups_by_four() {
        assert_eq!(
            group_by_four("302000000000000104"),
            "3020 0000 0000 0001 04"
        );
        assert_eq!(group_by_four("1234"), "1234");
        assert_eq!(group_by_four(""), "");
    }

    #[test]
    fn folds_to_upper_case_ascii() {
        assert_eq!(ascii_upper("Niccolò Dell’Acqua"), "NICCOLO DELL'ACQUA");
        assert_eq!(ascii_upper("  Perché   così? "), "PERCHE COSI");
        assert_eq!(ascii_upper("Straße; x=1"), "STRASSE X 1");
        assert_eq!(ascii_upper("Çelik Øster Łukasz"), "CELIK OSTER LUKASZ");
        assert_eq!(ascii_upper("2026/27 – rata (1)"), "2026/27 - RATA (1)");
    }

    #[test]
    fn fit_cuts_and_pads() {
        assert_eq!(fit("AB", 4), "AB  ");
        assert_eq!(fit("ABCDEF", 4), "ABCD");
        assert_eq!(fit("", 2), "  ");
    }

    #[test]
    fn poste_payload_clamps_account_and_amount() {
        let p = poste_datamatrix_payload("3", "c/c 1234567890123", -5, "1", "x", "y", "z");
        assert_eq!(p.len(), 256);
        assert_eq!(&p[33..47], "12234567890123");
        assert_eq!(&p[47..59], "100000000000");
    }

    #[test]
    fn raster_has_a_quiet_zone() {
        let r = raster(&[true, false, false, true], 2, 1);
        assert_eq!(r.geometry.pixels, 4);
        assert_eq!(r.geometry.modules, 2);
        #[rustfmt::skip]
        let expected = [
            255, 255, 255, 255,
            255,   0, 255, 255,
            255, 255,   0, 255,
            255, 255, 255, 255,
        ];
        assert_eq!(r.pixels, expected);
    }

    #[test]
    fn qr_is_version_4() {
        let r = qr_raster(&qr_payload("302000000000000104", "01234567890", i64::MAX));
        let r = r.map(|r| r.geometry.modules).ok();
        assert_eq!(r, Some(33));
    }

    #[test]
    fn date_is_italian() {
        assert_eq!(date_it(jiff::civil::date(2026, 3, 5)), "05/03/2026");
    }
}
