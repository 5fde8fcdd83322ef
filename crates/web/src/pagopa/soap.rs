//! The SOAP codec of the municipality's pagoPA station (`paForNode`, SANP 3.x), both directions.
//!
//! Pure functions, no IO: bytes in, typed values out; typed values in, XML text out. The station
//! reads the node's requests with [`parse_request`] and answers with `render_*`; the sandbox and
//! the benchmark play the node with [`render_verify_request`] & co. and [`parse_response`].
//!
//! The messages follow the official schemas (`paForNode.wsdl`, `paForNode.xsd`,
//! `sac-common-types-1.0.xsd`): SOAP 1.1, the operation element in the [`PAFN_NS`] namespace (any
//! prefix, declared anywhere above it), its children **unqualified**, in the order of the XSD.
//!
//! Reading follows the XSD, which has no extension points in these types:
//! - not UTF-8, not well-formed, a DTD, a SOAP envelope other than 1.1, an unknown operation,
//!   a missing, unexpected or misplaced element, a value outside its type (lengths, patterns,
//!   amounts with exactly two decimals, dates, booleans, at most 5 transfers and 15 metadata
//!   entries) → [`FaultCode::SintassiExtraxsd`];
//! - values that are valid one by one but do not add up (the transfers' sum differs from the
//!   payment amount, an `idTransfer` used twice, an empty `receiptId`, an `OK` response without
//!   its data, a `KO` without its fault) → [`FaultCode::Semantica`].
//!
//! Whitespace follows the XSD: string types keep it as sent, decimals, dates, booleans and
//! integers ignore it around the value.
//!
//! Writing guarantees a message the XSD accepts, or a [`RenderError`] naming the field. The
//! station's own answers are also checked for coherence (transfers adding up); the node-side
//! requests are not, so that the sandbox can send a receipt that does not add up and see the
//! station answer `PAA_SEMANTICA`. V1 messages have no place for the fields that only V2 has
//! (marked "V2 only" below): V1 renderers leave them out.

use std::convert::Infallible;
use std::fmt;

use jiff::civil::Date;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use refettorio_domain::Cents;

/// Namespace of the operation elements (`pafn` in the WSDL).
pub const PAFN_NS: &str = "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd";
/// Namespace of the SOAP 1.1 envelope.
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The largest amount an `stAmount` holds: 999999999.99.
pub const MAX_AMOUNT: Cents = Cents(99_999_999_999);
/// A `transferList` holds 1 to 5 transfers.
pub const MAX_TRANSFERS: usize = 5;
/// A `metadata` holds 1 to 15 entries.
pub const MAX_METADATA: usize = 15;

// ---------------------------------------------------------------------------------------------
// Operations and faults

/// `paGetPayment` / `paSendRT` (V1) or `paGetPaymentV2` / `paSendRTV2` (V2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1,
    V2,
}

/// An operation of the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Verify,
    GetPayment(Version),
    SendRt(Version),
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::Verify,
        Operation::GetPayment(Version::V1),
        Operation::GetPayment(Version::V2),
        Operation::SendRt(Version::V1),
        Operation::SendRt(Version::V2),
    ];

    /// The WSDL operation, which is also its `SOAPAction`.
    pub fn soap_action(self) -> &'static str {
        match self {
            Operation::Verify => "paVerifyPaymentNotice",
            Operation::GetPayment(Version::V1) => "paGetPayment",
            Operation::GetPayment(Version::V2) => "paGetPaymentV2",
            Operation::SendRt(Version::V1) => "paSendRT",
            Operation::SendRt(Version::V2) => "paSendRTV2",
        }
    }

    /// The element the node sends.
    pub fn request_element(self) -> &'static str {
        match self {
            Operation::Verify => "paVerifyPaymentNoticeReq",
            Operation::GetPayment(Version::V1) => "paGetPaymentReq",
            Operation::GetPayment(Version::V2) => "paGetPaymentV2Request",
            Operation::SendRt(Version::V1) => "paSendRTReq",
            Operation::SendRt(Version::V2) => "paSendRTV2Request",
        }
    }

    /// The element the station answers with.
    pub fn response_element(self) -> &'static str {
        match self {
            Operation::Verify => "paVerifyPaymentNoticeRes",
            Operation::GetPayment(Version::V1) => "paGetPaymentRes",
            Operation::GetPayment(Version::V2) => "paGetPaymentV2Response",
            Operation::SendRt(Version::V1) => "paSendRTRes",
            Operation::SendRt(Version::V2) => "paSendRTV2Response",
        }
    }

    fn from_request_element(name: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.request_element() == name)
    }

    fn from_response_element(name: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.response_element() == name)
    }
}

/// The station's fault codes (`ctFaultBean.faultCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    PagamentoSconosciuto,
    PagamentoDuplicato,
    PagamentoScaduto,
    PagamentoAnnullato,
    PagamentoInCorso,
    IdDominioErrato,
    IdIntermediarioErrato,
    StazioneIntErrata,
    SintassiExtraxsd,
    Semantica,
    SystemError,
    ReceiptDuplicata,
}

impl FaultCode {
    pub const ALL: [FaultCode; 12] = [
        FaultCode::PagamentoSconosciuto,
        FaultCode::PagamentoDuplicato,
        FaultCode::PagamentoScaduto,
        FaultCode::PagamentoAnnullato,
        FaultCode::PagamentoInCorso,
        FaultCode::IdDominioErrato,
        FaultCode::IdIntermediarioErrato,
        FaultCode::StazioneIntErrata,
        FaultCode::SintassiExtraxsd,
        FaultCode::Semantica,
        FaultCode::SystemError,
        FaultCode::ReceiptDuplicata,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::PagamentoSconosciuto => "PAA_PAGAMENTO_SCONOSCIUTO",
            FaultCode::PagamentoDuplicato => "PAA_PAGAMENTO_DUPLICATO",
            FaultCode::PagamentoScaduto => "PAA_PAGAMENTO_SCADUTO",
            FaultCode::PagamentoAnnullato => "PAA_PAGAMENTO_ANNULLATO",
            FaultCode::PagamentoInCorso => "PAA_PAGAMENTO_IN_CORSO",
            FaultCode::IdDominioErrato => "PAA_ID_DOMINIO_ERRATO",
            FaultCode::IdIntermediarioErrato => "PAA_ID_INTERMEDIARIO_ERRATO",
            FaultCode::StazioneIntErrata => "PAA_STAZIONE_INT_ERRATA",
            FaultCode::SintassiExtraxsd => "PAA_SINTASSI_EXTRAXSD",
            FaultCode::Semantica => "PAA_SEMANTICA",
            FaultCode::SystemError => "PAA_SYSTEM_ERROR",
            FaultCode::ReceiptDuplicata => "PAA_RECEIPT_DUPLICATA",
        }
    }

    /// The code of a fault read from a message, if it is one of the station's.
    pub fn from_code(code: &str) -> Option<FaultCode> {
        FaultCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The short message that goes in `faultString` (the `description` says more).
    pub fn fault_string(self) -> &'static str {
        match self {
            FaultCode::PagamentoSconosciuto => "Pagamento sconosciuto all'Ente Creditore",
            FaultCode::PagamentoDuplicato => "Pagamento già effettuato",
            FaultCode::PagamentoScaduto => "Pagamento scaduto",
            FaultCode::PagamentoAnnullato => "Pagamento annullato",
            FaultCode::PagamentoInCorso => "Pagamento in corso",
            FaultCode::IdDominioErrato => "Ente Creditore non servito da questa stazione",
            FaultCode::IdIntermediarioErrato => "Intermediario non corrispondente",
            FaultCode::StazioneIntErrata => "Stazione non corrispondente",
            FaultCode::SintassiExtraxsd => "Messaggio non conforme allo schema XSD",
            FaultCode::Semantica => "Errore semantico",
            FaultCode::SystemError => "Errore interno dell'Ente Creditore",
            FaultCode::ReceiptDuplicata => "Ricevuta già ricevuta",
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Requests (the node → the station)

/// Who the node is calling: the creditor (EC), its broker and its station (`stText35` each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationHeader {
    pub id_pa: String,
    pub id_broker_pa: String,
    pub id_station: String,
}

/// A request of the node, as the station receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per HTTP request, moved once: boxing would only complicate matching"
)]
pub enum Request {
    Verify(VerifyRequest),
    GetPayment(GetPaymentRequest),
    SendRt(SendRtRequest),
}

impl Request {
    pub fn operation(&self) -> Operation {
        match self {
            Request::Verify(_) => Operation::Verify,
            Request::GetPayment(r) => Operation::GetPayment(r.version),
            Request::SendRt(r) => Operation::SendRt(r.version),
        }
    }

    pub fn header(&self) -> &StationHeader {
        match self {
            Request::Verify(r) => &r.header,
            Request::GetPayment(r) => &r.header,
            Request::SendRt(r) => &r.header,
        }
    }
}

/// `paVerifyPaymentNoticeReq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyRequest {
    pub header: StationHeader,
    /// `qrCode/fiscalCode`: the creditor's fiscal code, 11 digits.
    pub fiscal_code: String,
    /// `qrCode/noticeNumber`: 18 digits.
    pub notice_number: String,
}

/// `transferType` of a `paGetPayment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// `POSTAL`: the payer pays at a post office, the station may answer postal IBANs.
    Postal,
    /// `PAGOPA`.
    PagoPa,
}

impl TransferType {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferType::Postal => "POSTAL",
            TransferType::PagoPa => "PAGOPA",
        }
    }
}

/// `paGetPaymentReq` (V1) or `paGetPaymentV2Request` (V2): the same fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPaymentRequest {
    pub version: Version,
    pub header: StationHeader,
    pub fiscal_code: String,
    pub notice_number: String,
    /// `stAmount`: 0.00 to 999999999.99.
    pub amount: Option<Cents>,
    /// `stText210`; the cart id when the payment started from our portal.
    pub payment_note: Option<String>,
    pub transfer_type: Option<TransferType>,
    pub due_date: Option<Date>,
}

/// `paSendRTReq` (V1) or `paSendRTV2Request` (V2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRtRequest {
    pub version: Version,
    pub header: StationHeader,
    pub receipt: Receipt,
}

/// `OK` or `KO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Ko,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Ko => "KO",
        }
    }
}

/// `ctReceipt` (V1) or `ctReceiptV2` (V2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `xsd:string`: the key for de-duplication; an empty one is `PAA_SEMANTICA`.
    pub receipt_id: String,
    pub notice_number: String,
    /// The creditor's fiscal code (11 digits).
    pub fiscal_code: String,
    pub outcome: Outcome,
    /// The IUV (`stText35`).
    pub creditor_reference_id: String,
    /// `stAmount`: may be 0.00.
    pub payment_amount: Cents,
    pub description: String,
    pub company_name: String,
    pub office_name: Option<String>,
    /// Required by the XSD.
    pub debtor: Subject,
    /// 1 to 5.
    pub transfers: Vec<ReceiptTransfer>,
    pub id_psp: String,
    pub psp_fiscal_code: Option<String>,
    /// `stText20`.
    pub psp_partita_iva: Option<String>,
    pub psp_company_name: String,
    pub id_channel: String,
    pub channel_description: String,
    pub payer: Option<Subject>,
    pub payment_method: Option<String>,
    /// V2 only (`stText210`).
    pub payment_note: Option<String>,
    pub fee: Option<Cents>,
    /// V2 only.
    pub primary_ci_incurred_fee: Option<Cents>,
    /// V2 only.
    pub id_bundle: Option<String>,
    /// V2 only.
    pub id_ci_bundle: Option<String>,
    /// `xsd:dateTime` as sent (e.g. `2024-05-01T10:15:00`, `2024-05-01T10:15:00.123+02:00`).
    pub payment_date_time: Option<String>,
    pub application_date: Option<Date>,
    pub transfer_date: Option<Date>,
    /// Empty when absent; at most 15.
    pub metadata: Vec<MapEntry>,
    /// `standIn`: the node took the payment while the station was unreachable. Absent = false;
    /// written only when true.
    pub standin: bool,
}

/// `ctTransferPA` (V1) or `ctTransferPAReceiptV2` (V2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptTransfer {
    /// 1 to 5.
    pub id_transfer: u8,
    /// `stAmountNotZero`.
    pub amount: Cents,
    pub fiscal_code_pa: String,
    /// V2 only.
    pub company_name: Option<String>,
    /// Exactly one of `iban` and `mbd_attachment` (V1 always has the IBAN).
    pub iban: Option<String>,
    /// V2 only: the digital revenue stamp (`MBDAttachment`, base64 as sent).
    pub mbd_attachment: Option<String>,
    pub remittance_information: String,
    pub transfer_category: String,
    pub metadata: Vec<MapEntry>,
}

/// `F` (a person) or `G` (a legal entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    F,
    G,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::F => "F",
            SubjectKind::G => "G",
        }
    }
}

/// `ctSubject`: a debtor or a payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: SubjectKind,
    /// The fiscal code (`entityUniqueIdentifierValue`, 2 to 16 characters).
    pub id: String,
    /// `stText70`.
    pub full_name: String,
    pub street_name: Option<String>,
    pub civic_number: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub state_province_region: Option<String>,
    /// Two capital letters.
    pub country: Option<String>,
    pub email: Option<String>,
}

impl Subject {
    /// A subject with only the required parts.
    pub fn new(kind: SubjectKind, id: impl Into<String>, full_name: impl Into<String>) -> Subject {
        Subject {
            kind,
            id: id.into(),
            full_name: full_name.into(),
            street_name: None,
            civic_number: None,
            postal_code: None,
            city: None,
            state_province_region: None,
            country: None,
            email: None,
        }
    }
}

/// A `metadata/mapEntry` (`stText140` each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub key: String,
    pub value: String,
}

// ---------------------------------------------------------------------------------------------
// Responses (the station → the node)

/// `options` of a payment option: how the amount may be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountOption {
    /// `EQ`: exactly the amount.
    Eq,
    /// `LS`.
    Ls,
    /// `GT`.
    Gt,
    /// `ANY`.
    Any,
}

impl AmountOption {
    pub fn as_str(self) -> &'static str {
        match self {
            AmountOption::Eq => "EQ",
            AmountOption::Ls => "LS",
            AmountOption::Gt => "GT",
            AmountOption::Any => "ANY",
        }
    }
}

/// The data of an `OK` `paVerifyPaymentNoticeRes`. The XSD makes every part optional; SANP
/// requires the payment option, the description, the creditor's fiscal code and name when the
/// outcome is `OK`, so they are required here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOk {
    /// `paymentOptionDescription/amount`: the current amount (`stAmountNotZero`).
    pub amount: Cents,
    pub options: AmountOption,
    pub due_date: Option<Date>,
    pub detail_description: Option<String>,
    /// `allCCP`: every transfer goes to a postal account.
    pub all_ccp: bool,
    /// `paymentDescription` (`stText140`).
    pub description: String,
    pub fiscal_code_pa: String,
    pub company_name: String,
    pub office_name: Option<String>,
}

/// The `data` of an `OK` `paGetPaymentRes` (V1, `ctPaymentPA`) or `paGetPaymentV2Response`
/// (V2, `ctPaymentPAV2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentData {
    /// The IUV (`stText35`).
    pub creditor_reference_id: String,
    /// `stAmountNotZero`; the transfers add up to it.
    pub payment_amount: Cents,
    pub due_date: Date,
    /// `xsd:dateTime` as written.
    pub retention_date: Option<String>,
    /// Always written.
    pub last_payment: bool,
    pub description: String,
    /// Optional in V1, required in V2: always written.
    pub company_name: String,
    pub office_name: Option<String>,
    pub debtor: Subject,
    /// 1 to 5, distinct `id_transfer`.
    pub transfers: Vec<PaymentTransfer>,
    pub metadata: Vec<MapEntry>,
}

/// `ctTransferPA` (V1) or `ctTransferPAV2` (V2). A digital revenue stamp
/// (`richiestaMarcaDaBollo`) is not supported: the station always answers an IBAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTransfer {
    pub id_transfer: u8,
    pub amount: Cents,
    pub fiscal_code_pa: String,
    /// V2 only.
    pub company_name: Option<String>,
    pub iban: String,
    pub remittance_information: String,
    /// The taxonomy code, e.g. `9/0107101TS/` for the school canteen.
    pub transfer_category: String,
    pub metadata: Vec<MapEntry>,
}

/// A response of the station, as the node reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per HTTP response, moved once: boxing would only complicate matching"
)]
pub enum Response {
    VerifyOk(VerifyOk),
    GetPaymentOk(Version, PaymentData),
    SendRtOk(Version),
    /// A `KO` of the operation with its `ctFaultBean` (`description` is empty when absent).
    Fault {
        op: Operation,
        code: String,
        fault_string: String,
        id: String,
        description: String,
    },
    /// A SOAP 1.1 `Fault` (see [`render_soap_fault`]).
    SoapFault {
        code: String,
        message: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The operation, when its element was recognised (the fault then answers that operation).
    pub operation: Option<Operation>,
    /// [`FaultCode::SintassiExtraxsd`] or [`FaultCode::Semantica`].
    pub code: FaultCode,
    pub detail: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for ParseError {}

/// A value the XSD (or, for the station's answers, the coherence checks) refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub detail: String,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write the SOAP message: {}", self.detail)
    }
}

impl std::error::Error for RenderError {}

/// A failure inside the reader, before the operation is attached.
struct Fail {
    code: FaultCode,
    detail: String,
}

impl Fail {
    fn into_error(self, operation: Option<Operation>) -> ParseError {
        ParseError {
            operation,
            code: self.code,
            detail: self.detail,
        }
    }
}

fn syntax(detail: impl Into<String>) -> Fail {
    Fail {
        code: FaultCode::SintassiExtraxsd,
        detail: detail.into(),
    }
}

fn semantic(detail: impl Into<String>) -> Fail {
    Fail {
        code: FaultCode::Semantica,
        detail: detail.into(),
    }
}

fn render_error(field: &str, detail: impl fmt::Display) -> RenderError {
    RenderError {
        detail: format!("{field}: {detail}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Amounts

/// An amount as the XSD writes it: always two decimals (`45.50`, `1000.00`, `0.01`). A negative
/// amount comes out as `-1.00`, which no amount type of the XSD accepts: the renderers refuse
/// negative amounts (and zero where `stAmountNotZero` is required) before writing.
pub fn format_amount(c: Cents) -> String {
    let v = c.get();
    let abs = v.unsigned_abs();
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Reads an `stAmount`: digits, a dot and **exactly** two decimals (the XSD's `\d+\.\d{2}`),
/// at most 999999999.99. No sign, no exponent, no surrounding whitespace, no float on the way.
pub fn parse_amount(s: &str) -> Option<Cents> {
    let (units, decimals) = s.split_once('.')?;
    if units.is_empty()
        || decimals.len() != 2
        || !units.bytes().all(|b| b.is_ascii_digit())
        || !decimals.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let units = units.trim_start_matches('0');
    if units.len() > 9 {
        return None;
    }
    let units: i64 = if units.is_empty() {
        0
    } else {
        units.parse().ok()?
    };
    let decimals: i64 = decimals.parse().ok()?;
    Some(Cents(units * 100 + decimals))
}

/// `stAmount` (0 allowed) or `stAmountNotZero`.
#[derive(Clone, Copy)]
enum AmountKind {
    Any,
    NotZero,
}

fn check_amount(c: Cents, kind: AmountKind) -> Result<(), String> {
    if c.is_negative() {
        return Err(format!("{} is negative", format_amount(c)));
    }
    if c > MAX_AMOUNT {
        return Err(format!("{} is above 999999999.99", format_amount(c)));
    }
    if matches!(kind, AmountKind::NotZero) && c.is_zero() {
        return Err("must be at least 0.01".to_owned());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Simple types

/// The string types of the XSD.
#[derive(Clone, Copy)]
enum St {
    /// `xsd:string` restricted to a length, in characters.
    Text(usize, usize),
    /// `xsd:string`.
    Any,
    /// `[0-9]{n}`.
    Digits(usize),
    /// `stNazioneProvincia`: `[A-Z]{2}`.
    Country,
    /// `stEMail`.
    Email,
}

const T16: St = St::Text(1, 16);
const T20: St = St::Text(1, 20);
const T35: St = St::Text(1, 35);
const T70: St = St::Text(1, 70);
const T140: St = St::Text(1, 140);
const T210: St = St::Text(1, 210);
const IBAN: St = St::Text(1, 35);
const UNIQUE_ID: St = St::Text(2, 16);
const FISCAL_CODE_PA: St = St::Digits(11);
const NOTICE_NUMBER: St = St::Digits(18);

fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Removes the whitespace the XSD ignores around decimals, dates, booleans and integers.
fn collapse_trim(s: &str) -> &str {
    s.trim_matches(is_xml_space)
}

fn check(st: St, v: &str) -> Result<(), String> {
    if let Some(c) = v.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        ));
    }
    match st {
        St::Any => Ok(()),
        St::Text(min, max) => {
            let n = v.chars().count();
            if n < min || n > max {
                Err(format!("must be {min} to {max} characters long, not {n}"))
            } else {
                Ok(())
            }
        }
        St::Digits(n) => {
            if v.len() == n && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!("must be {n} digits, not {}", quote(v)))
            }
        }
        St::Country => {
            if v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(())
            } else {
                Err(format!("must be two capital letters, not {}", quote(v)))
            }
        }
        St::Email => {
            if v.chars().count() <= 256 && is_email(v) {
                Ok(())
            } else {
                Err(format!(
                    "{} is not an e-mail address the XSD accepts",
                    quote(v)
                ))
            }
        }
    }
}

/// `[a-zA-Z0-9_\.\+\-]+@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*`
fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'));
    let domain_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    local_ok && domain_ok
}

/// A value for an error message: quoted, and cut when long.
fn quote(v: &str) -> String {
    const MAX: usize = 40;
    if v.chars().count() > MAX {
        let head: String = v.chars().take(MAX).collect();
        format!("\"{}…\"", head.escape_debug())
    } else {
        format!("\"{}\"", v.escape_debug())
    }
}

fn digits<T: std::str::FromStr>(s: Option<&str>) -> Option<T> {
    let s = s?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD`, a year from 0001 to 9999.
fn parse_ymd(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year: i16 = digits(s.get(0..4))?;
    let month: i8 = digits(s.get(5..7))?;
    let day: i8 = digits(s.get(8..10))?;
    if year == 0 {
        return None;
    }
    Date::new(year, month, day).ok()
}

/// `Z` or `±hh:mm` (at most ±14:00).
fn is_timezone(tz: &str) -> bool {
    if tz == "Z" {
        return true;
    }
    let b = tz.as_bytes();
    if b.len() != 6 || !matches!(b.first(), Some(b'+' | b'-')) || b.get(3) != Some(&b':') {
        return false;
    }
    let (Some(h), Some(m)) = (digits::<u8>(tz.get(1..3)), digits::<u8>(tz.get(4..6))) else {
        return false;
    };
    (h < 14 && m < 60) || (h == 14 && m == 0)
}

/// `xsd:date` (after the whitespace collapse): a time zone, allowed by the XSD, is dropped.
fn parse_xsd_date(s: &str) -> Option<Date> {
    let (date, tz) = s.split_at_checked(10)?;
    if !tz.is_empty() && !is_timezone(tz) {
        return None;
    }
    parse_ymd(date)
}

fn format_date(d: Date) -> Result<String, String> {
    if d.year() < 1 {
        return Err(format!("the year {} cannot be written", d.year()));
    }
    Ok(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
}

/// `xsd:dateTime`: `YYYY-MM-DDThh:mm:ss`, optional fraction, optional time zone.
fn is_xsd_date_time(s: &str) -> bool {
    let Some((date, time)) = s.split_once('T') else {
        return false;
    };
    if parse_ymd(date).is_none() {
        return false;
    }
    let b = time.as_bytes();
    if b.len() < 8 || b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (
        digits::<u8>(time.get(0..2)),
        digits::<u8>(time.get(3..5)),
        digits::<u8>(time.get(6..8)),
    ) else {
        return false;
    };
    let Some(mut rest) = time.get(8..) else {
        return false;
    };
    let mut fraction_zero = true;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let n = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        let (fraction, tail) = after_dot.split_at(n);
        fraction_zero = fraction.bytes().all(|b| b == b'0');
        rest = tail;
    }
    if !rest.is_empty() && !is_timezone(rest) {
        return false;
    }
    (h < 24 && m < 60 && sec < 60) || (h == 24 && m == 0 && sec == 0 && fraction_zero)
}

fn parse_xsd_bool(s: &str) -> Option<bool> {
    match collapse_trim(s) {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// `xsd:int`: an optional sign and digits, within `i32`.
fn parse_xsd_int(s: &str) -> Option<i32> {
    let s = collapse_trim(s);
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let body = body.trim_start_matches('0');
    if body.len() > 10 {
        return None;
    }
    let v: i64 = if body.is_empty() {
        0
    } else {
        body.parse().ok()?
    };
    i32::try_from(if negative { -v } else { v }).ok()
}

/// `xsd:base64Binary` after the whitespace collapse: groups of four characters of the base64
/// alphabet, single spaces between characters allowed, at most two `=` at the end.
fn collapse_base64(s: &str) -> Option<String> {
    let collapsed = s
        .split(is_xml_space)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let chars: Vec<u8> = collapsed.bytes().filter(|b| *b != b' ').collect();
    if !chars.len().is_multiple_of(4) {
        return None;
    }
    let pad = chars.iter().rev().take_while(|b| **b == b'=').count();
    if pad > 2 {
        return None;
    }
    let body = chars.get(..chars.len() - pad)?;
    if body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
    {
        Some(collapsed)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: XML → a small tree

/// An element of the message: its namespace, local name, child elements and text.
struct Element {
    ns: Option<String>,
    name: String,
    /// Carries attributes other than namespace declarations.
    attributes: bool,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    /// `{namespace}name`, or `name` when unqualified, cut when long.
    fn label(&self) -> String {
        let full = match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.name),
            None => self.name.clone(),
        };
        if full.chars().count() > 120 {
            let head: String = full.chars().take(120).collect();
            format!("{head}…")
        } else {
            full
        }
    }

    fn has_text(&self) -> bool {
        !self.text.chars().all(is_xml_space)
    }
}

/// Deep enough for every message of the WSDL (the deepest has 9 levels).
const MAX_DEPTH: usize = 32;

fn read_tree(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the message is not UTF-8 text".to_owned())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut first = true;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let ns = match ns {
            ResolveResult::Bound(ns) => Ok(Some(ns.0.to_owned())),
            ResolveResult::Unbound => Ok(None),
            ResolveResult::Unknown(prefix) => {
                Err(format!("the prefix {} is not declared", quote(&prefix)))
            }
        };
        let at_start = std::mem::replace(&mut first, false);
        match event {
            Event::Decl(decl) => {
                if !at_start {
                    return Err("an XML declaration must open the message".to_owned());
                }
                if let Some(encoding) = decl.encoding() {
                    let encoding = encoding.map_err(|e| format!("bad XML declaration: {e}"))?;
                    if !encoding.eq_ignore_ascii_case("utf-8") {
                        return Err(format!("the encoding {} is not UTF-8", quote(&encoding)));
                    }
                }
            }
            Event::Start(e) => {
                let element = open_element(&e, ns?, &stack, &root)?;
                stack.push(element);
            }
            Event::Empty(e) => {
                let element = open_element(&e, ns?, &stack, &root)?;
                attach(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| "an end tag closes nothing".to_owned())?;
                attach(element, &mut stack, &mut root);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err("CDATA outside the document element".to_owned());
                }
                push_text(&mut stack, &c.xml10_content())?;
            }
            Event::GeneralRef(r) => {
                if stack.is_empty() {
                    return Err("a reference outside the document element".to_owned());
                }
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(format!("unknown entity &{};", quote(other))),
                    },
                    Err(e) => return Err(format!("bad character reference: {e}")),
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err("a SOAP message may not carry a DTD".to_owned()),
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("the message ends inside <{}>", open.label()));
    }
    root.ok_or_else(|| "the message holds no element".to_owned())
}

fn open_element(
    e: &BytesStart<'_>,
    ns: Option<String>,
    stack: &[Element],
    root: &Option<Element>,
) -> Result<Element, String> {
    if stack.is_empty() && root.is_some() {
        return Err("more than one document element".to_owned());
    }
    if stack.len() >= MAX_DEPTH {
        return Err(format!("elements nested deeper than {MAX_DEPTH}"));
    }
    let mut attributes = false;
    for attribute in e.attributes() {
        let attribute = attribute.map_err(|e| format!("bad attribute: {e}"))?;
        let key = attribute.key.into_inner();
        if key != "xmlns" && !key.starts_with("xmlns:") {
            attributes = true;
        }
    }
    Ok(Element {
        ns,
        name: e.local_name().into_inner().to_owned(),
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn attach(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        ));
    }
    match stack.last_mut() {
        Some(parent) => {
            parent.text.push_str(text);
            Ok(())
        }
        None if text.chars().all(is_xml_space) => Ok(()),
        None => Err("text outside the document element".to_owned()),
    }
}

/// The one element inside the SOAP 1.1 `Body`.
fn soap_body_child(root: &Element) -> Result<&Element, Fail> {
    if !root.is(SOAP_ENV_NS, "Envelope") {
        return Err(syntax(format!(
            "the message is <{}>, not a SOAP 1.1 Envelope",
            root.label()
        )));
    }
    if root.has_text() {
        return Err(syntax("text inside the SOAP Envelope"));
    }
    let mut children = root.children.iter();
    let mut next = children.next();
    if next.is_some_and(|c| c.is(SOAP_ENV_NS, "Header")) {
        next = children.next();
    }
    let body = match next {
        Some(c) if c.is(SOAP_ENV_NS, "Body") => c,
        Some(c) => {
            return Err(syntax(format!(
                "expected the SOAP Body, found <{}>",
                c.label()
            )));
        }
        None => return Err(syntax("the SOAP Envelope has no Body")),
    };
    // The envelope's schema allows elements of other namespaces after the Body.
    if let Some(extra) = children.find(|c| c.ns.is_none() || c.ns.as_deref() == Some(SOAP_ENV_NS)) {
        return Err(syntax(format!(
            "unexpected <{}> after the SOAP Body",
            extra.label()
        )));
    }
    if body.has_text() {
        return Err(syntax("text inside the SOAP Body"));
    }
    match body.children.as_slice() {
        [child] => Ok(child),
        [] => Err(syntax("the SOAP Body is empty")),
        _ => Err(syntax("the SOAP Body holds more than one element")),
    }
}

/// The children of a complex element, read in the order of the XSD's sequence.
struct Seq<'a> {
    parent: &'a str,
    items: &'a [Element],
    pos: usize,
}

impl<'a> Seq<'a> {
    fn of(el: &'a Element) -> Result<Seq<'a>, Fail> {
        if el.attributes {
            return Err(syntax(format!("<{}> may not carry attributes", el.name)));
        }
        if el.has_text() {
            return Err(syntax(format!(
                "<{}> may hold elements only, not text",
                el.name
            )));
        }
        Ok(Seq {
            parent: &el.name,
            items: &el.children,
            pos: 0,
        })
    }

    fn next_is(&self, name: &str) -> bool {
        self.items
            .get(self.pos)
            .is_some_and(|c| c.ns.is_none() && c.name == name)
    }

    fn opt(&mut self, name: &str) -> Option<&'a Element> {
        if self.next_is(name) {
            let el = self.items.get(self.pos);
            self.pos += 1;
            el
        } else {
            None
        }
    }

    fn req(&mut self, name: &str) -> Result<&'a Element, Fail> {
        if let Some(el) = self.opt(name) {
            return Ok(el);
        }
        Err(match self.items.get(self.pos) {
            Some(found) => syntax(format!(
                "{}: expected <{name}>, found <{}>",
                self.parent,
                found.label()
            )),
            None => syntax(format!("{}: <{name}> is missing", self.parent)),
        })
    }

    fn finish(&self) -> Result<(), Fail> {
        match self.items.get(self.pos) {
            Some(extra) => Err(syntax(format!(
                "{}: unexpected <{}>",
                self.parent,
                extra.label()
            ))),
            None => Ok(()),
        }
    }

    fn raw(&mut self, name: &str) -> Result<&'a str, Fail> {
        let el = self.req(name)?;
        leaf(el, self.parent)
    }

    fn opt_raw(&mut self, name: &str) -> Result<Option<&'a str>, Fail> {
        let parent = self.parent;
        self.opt(name).map(|el| leaf(el, parent)).transpose()
    }

    fn text(&mut self, name: &str, st: St) -> Result<String, Fail> {
        let v = self.raw(name)?;
        check(st, v).map_err(|m| syntax(format!("{}/{name}: {m}", self.parent)))?;
        Ok(v.to_owned())
    }

    fn opt_text(&mut self, name: &str, st: St) -> Result<Option<String>, Fail> {
        if self.next_is(name) {
            self.text(name, st).map(Some)
        } else {
            Ok(None)
        }
    }

    fn amount(&mut self, name: &str, kind: AmountKind) -> Result<Cents, Fail> {
        let raw = self.raw(name)?;
        let value = collapse_trim(raw);
        let c = parse_amount(value).ok_or_else(|| {
            syntax(format!(
                "{}/{name}: {} is not an amount with two decimals",
                self.parent,
                quote(value)
            ))
        })?;
        check_amount(c, kind).map_err(|m| syntax(format!("{}/{name}: {m}", self.parent)))?;
        Ok(c)
    }

    fn opt_amount(&mut self, name: &str, kind: AmountKind) -> Result<Option<Cents>, Fail> {
        if self.next_is(name) {
            self.amount(name, kind).map(Some)
        } else {
            Ok(None)
        }
    }

    fn date(&mut self, name: &str) -> Result<Date, Fail> {
        let raw = self.raw(name)?;
        let value = collapse_trim(raw);
        parse_xsd_date(value).ok_or_else(|| {
            syntax(format!(
                "{}/{name}: {} is not a date",
                self.parent,
                quote(value)
            ))
        })
    }

    fn opt_date(&mut self, name: &str) -> Result<Option<Date>, Fail> {
        if self.next_is(name) {
            self.date(name).map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_date_time(&mut self, name: &str) -> Result<Option<String>, Fail> {
        let Some(raw) = self.opt_raw(name)? else {
            return Ok(None);
        };
        let value = collapse_trim(raw);
        if is_xsd_date_time(value) {
            Ok(Some(value.to_owned()))
        } else {
            Err(syntax(format!(
                "{}/{name}: {} is not a date and time",
                self.parent,
                quote(value)
            )))
        }
    }

    fn boolean(&mut self, name: &str) -> Result<bool, Fail> {
        let raw = self.raw(name)?;
        parse_xsd_bool(raw).ok_or_else(|| {
            syntax(format!(
                "{}/{name}: {} is not a boolean",
                self.parent,
                quote(raw)
            ))
        })
    }

    fn opt_boolean(&mut self, name: &str) -> Result<Option<bool>, Fail> {
        if self.next_is(name) {
            self.boolean(name).map(Some)
        } else {
            Ok(None)
        }
    }

    fn id_transfer(&mut self) -> Result<u8, Fail> {
        let raw = self.raw("idTransfer")?;
        parse_xsd_int(raw)
            .and_then(|v| u8::try_from(v).ok())
            .filter(|v| (1..=5).contains(v))
            .ok_or_else(|| {
                syntax(format!(
                    "{}/idTransfer: {} is not 1 to 5",
                    self.parent,
                    quote(raw)
                ))
            })
    }
}

/// The text of an element with a simple type.
fn leaf<'a>(el: &'a Element, parent: &str) -> Result<&'a str, Fail> {
    if el.attributes {
        return Err(syntax(format!(
            "{parent}/{} may not carry attributes",
            el.name
        )));
    }
    if let Some(child) = el.children.first() {
        return Err(syntax(format!(
            "{parent}/{} holds text only, not <{}>",
            el.name,
            child.label()
        )));
    }
    Ok(&el.text)
}

/// The items of a list element (`transferList`, `metadata`): 1 to `max` `item` elements.
fn read_list<'a>(el: &'a Element, item: &str, max: usize) -> Result<Vec<&'a Element>, Fail> {
    let mut seq = Seq::of(el)?;
    let mut items = Vec::new();
    while let Some(i) = seq.opt(item) {
        items.push(i);
    }
    if items.is_empty() {
        seq.req(item)?;
    }
    if items.len() > max {
        return Err(syntax(format!(
            "{}: at most {max} <{item}>, not {}",
            el.name,
            items.len()
        )));
    }
    seq.finish()?;
    Ok(items)
}

// ---------------------------------------------------------------------------------------------
// Reading the requests

/// Reads a request of the node. Errors carry the operation once its element is recognised, so
/// that the station answers with that operation's `KO`.
pub fn parse_request(body: &[u8]) -> Result<Request, ParseError> {
    let root = read_tree(body).map_err(|d| syntax(d).into_error(None))?;
    let el = soap_body_child(&root).map_err(|f| f.into_error(None))?;
    let op = if el.ns.as_deref() == Some(PAFN_NS) {
        Operation::from_request_element(&el.name)
    } else {
        None
    };
    let Some(op) = op else {
        return Err(syntax(format!("unknown operation <{}>", el.label())).into_error(None));
    };
    read_request(op, el).map_err(|f| f.into_error(Some(op)))
}

fn read_header(seq: &mut Seq<'_>) -> Result<StationHeader, Fail> {
    Ok(StationHeader {
        id_pa: seq.text("idPA", T35)?,
        id_broker_pa: seq.text("idBrokerPA", T35)?,
        id_station: seq.text("idStation", T35)?,
    })
}

fn read_qr_code(seq: &mut Seq<'_>) -> Result<(String, String), Fail> {
    let mut qr = Seq::of(seq.req("qrCode")?)?;
    let fiscal_code = qr.text("fiscalCode", FISCAL_CODE_PA)?;
    let notice_number = qr.text("noticeNumber", NOTICE_NUMBER)?;
    qr.finish()?;
    Ok((fiscal_code, notice_number))
}

fn read_request(op: Operation, el: &Element) -> Result<Request, Fail> {
    let mut seq = Seq::of(el)?;
    let header = read_header(&mut seq)?;
    let request = match op {
        Operation::Verify => {
            let (fiscal_code, notice_number) = read_qr_code(&mut seq)?;
            Request::Verify(VerifyRequest {
                header,
                fiscal_code,
                notice_number,
            })
        }
        Operation::GetPayment(version) => {
            let (fiscal_code, notice_number) = read_qr_code(&mut seq)?;
            let amount = seq.opt_amount("amount", AmountKind::Any)?;
            let payment_note = seq.opt_text("paymentNote", T210)?;
            let transfer_type = match seq.opt_raw("transferType")? {
                None => None,
                Some("POSTAL") => Some(TransferType::Postal),
                Some("PAGOPA") => Some(TransferType::PagoPa),
                Some(other) => {
                    return Err(syntax(format!(
                        "transferType: {} is not POSTAL or PAGOPA",
                        quote(other)
                    )));
                }
            };
            let due_date = seq.opt_date("dueDate")?;
            Request::GetPayment(GetPaymentRequest {
                version,
                header,
                fiscal_code,
                notice_number,
                amount,
                payment_note,
                transfer_type,
                due_date,
            })
        }
        Operation::SendRt(version) => {
            let receipt = read_receipt(version, seq.req("receipt")?)?;
            Request::SendRt(SendRtRequest {
                version,
                header,
                receipt,
            })
        }
    };
    seq.finish()?;
    if let Request::SendRt(r) = &request {
        check_receipt(&r.receipt)?;
    }
    Ok(request)
}

fn read_outcome(seq: &mut Seq<'_>) -> Result<Outcome, Fail> {
    match seq.raw("outcome")? {
        "OK" => Ok(Outcome::Ok),
        "KO" => Ok(Outcome::Ko),
        other => Err(syntax(format!(
            "{}/outcome: {} is not OK or KO",
            seq.parent,
            quote(other)
        ))),
    }
}

fn read_subject(el: &Element) -> Result<Subject, Fail> {
    let mut seq = Seq::of(el)?;
    let mut id = Seq::of(seq.req("uniqueIdentifier")?)?;
    let kind = match id.raw("entityUniqueIdentifierType")? {
        "F" => SubjectKind::F,
        "G" => SubjectKind::G,
        other => {
            return Err(syntax(format!(
                "entityUniqueIdentifierType: {} is not F or G",
                quote(other)
            )));
        }
    };
    let value = id.text("entityUniqueIdentifierValue", UNIQUE_ID)?;
    id.finish()?;
    let subject = Subject {
        kind,
        id: value,
        full_name: seq.text("fullName", T70)?,
        street_name: seq.opt_text("streetName", T70)?,
        civic_number: seq.opt_text("civicNumber", T16)?,
        postal_code: seq.opt_text("postalCode", T16)?,
        city: seq.opt_text("city", T35)?,
        state_province_region: seq.opt_text("stateProvinceRegion", T35)?,
        country: seq.opt_text("country", St::Country)?,
        email: seq.opt_text("e-mail", St::Email)?,
    };
    seq.finish()?;
    Ok(subject)
}

fn read_metadata(seq: &mut Seq<'_>) -> Result<Vec<MapEntry>, Fail> {
    let Some(el) = seq.opt("metadata") else {
        return Ok(Vec::new());
    };
    read_list(el, "mapEntry", MAX_METADATA)?
        .into_iter()
        .map(|entry| {
            let mut s = Seq::of(entry)?;
            let key = s.text("key", T140)?;
            let value = s.text("value", T140)?;
            s.finish()?;
            Ok(MapEntry { key, value })
        })
        .collect()
}

fn read_receipt_transfer(version: Version, el: &Element) -> Result<ReceiptTransfer, Fail> {
    let mut s = Seq::of(el)?;
    let id_transfer = s.id_transfer()?;
    let amount = s.amount("transferAmount", AmountKind::NotZero)?;
    let fiscal_code_pa = s.text("fiscalCodePA", FISCAL_CODE_PA)?;
    let (company_name, iban, mbd_attachment) = match version {
        Version::V1 => (None, Some(s.text("IBAN", IBAN)?), None),
        Version::V2 => {
            let company_name = s.opt_text("companyName", T140)?;
            if let Some(raw) = s.opt_raw("MBDAttachment")? {
                let stamp = collapse_base64(raw)
                    .ok_or_else(|| syntax(format!("{}/MBDAttachment: not base64", s.parent)))?;
                (company_name, None, Some(stamp))
            } else {
                (company_name, Some(s.text("IBAN", IBAN)?), None)
            }
        }
    };
    let transfer = ReceiptTransfer {
        id_transfer,
        amount,
        fiscal_code_pa,
        company_name,
        iban,
        mbd_attachment,
        remittance_information: s.text("remittanceInformation", T140)?,
        transfer_category: s.text("transferCategory", T140)?,
        metadata: read_metadata(&mut s)?,
    };
    s.finish()?;
    Ok(transfer)
}

fn read_receipt(version: Version, el: &Element) -> Result<Receipt, Fail> {
    let v2 = version == Version::V2;
    let mut s = Seq::of(el)?;
    let receipt_id = s.text("receiptId", St::Any)?;
    let notice_number = s.text("noticeNumber", NOTICE_NUMBER)?;
    let fiscal_code = s.text("fiscalCode", FISCAL_CODE_PA)?;
    let outcome = read_outcome(&mut s)?;
    let creditor_reference_id = s.text("creditorReferenceId", T35)?;
    let payment_amount = s.amount("paymentAmount", AmountKind::Any)?;
    let description = s.text("description", T140)?;
    let company_name = s.text("companyName", T140)?;
    let office_name = s.opt_text("officeName", T140)?;
    let debtor = read_subject(s.req("debtor")?)?;
    let transfers = read_list(s.req("transferList")?, "transfer", MAX_TRANSFERS)?
        .into_iter()
        .map(|t| read_receipt_transfer(version, t))
        .collect::<Result<Vec<_>, _>>()?;
    let id_psp = s.text("idPSP", T35)?;
    let psp_fiscal_code = s.opt_text("pspFiscalCode", T70)?;
    let psp_partita_iva = s.opt_text("pspPartitaIVA", T20)?;
    let psp_company_name = s.text("PSPCompanyName", T70)?;
    let id_channel = s.text("idChannel", T35)?;
    let channel_description = s.text("channelDescription", T35)?;
    let payer = s.opt("payer").map(read_subject).transpose()?;
    let payment_method = s.opt_text("paymentMethod", T35)?;
    let payment_note = if v2 {
        s.opt_text("paymentNote", T210)?
    } else {
        None
    };
    let fee = s.opt_amount("fee", AmountKind::Any)?;
    let (primary_ci_incurred_fee, id_bundle, id_ci_bundle) = if v2 {
        (
            s.opt_amount("primaryCiIncurredFee", AmountKind::Any)?,
            s.opt_text("idBundle", T70)?,
            s.opt_text("idCiBundle", T70)?,
        )
    } else {
        (None, None, None)
    };
    let receipt = Receipt {
        receipt_id,
        notice_number,
        fiscal_code,
        outcome,
        creditor_reference_id,
        payment_amount,
        description,
        company_name,
        office_name,
        debtor,
        transfers,
        id_psp,
        psp_fiscal_code,
        psp_partita_iva,
        psp_company_name,
        id_channel,
        channel_description,
        payer,
        payment_method,
        payment_note,
        fee,
        primary_ci_incurred_fee,
        id_bundle,
        id_ci_bundle,
        payment_date_time: s.opt_date_time("paymentDateTime")?,
        application_date: s.opt_date("applicationDate")?,
        transfer_date: s.opt_date("transferDate")?,
        metadata: read_metadata(&mut s)?,
        standin: s.opt_boolean("standIn")?.unwrap_or(false),
    };
    s.finish()?;
    Ok(receipt)
}

/// Distinct `idTransfer`s whose amounts add up to the total.
fn check_transfers(
    total: Cents,
    transfers: impl Iterator<Item = (u8, Cents)>,
) -> Result<(), String> {
    let mut seen = [false; MAX_TRANSFERS + 1];
    let mut sum = Cents::ZERO;
    for (id, amount) in transfers {
        match seen.get_mut(usize::from(id)) {
            Some(slot) if id >= 1 => {
                if *slot {
                    return Err(format!("idTransfer {id} appears twice"));
                }
                *slot = true;
            }
            _ => return Err(format!("idTransfer {id} is not 1 to 5")),
        }
        sum = sum
            .checked_add(amount)
            .ok_or_else(|| "the transfers' sum overflows".to_owned())?;
    }
    if sum != total {
        return Err(format!(
            "the transfers add up to {}, the payment amount is {}",
            format_amount(sum),
            format_amount(total)
        ));
    }
    Ok(())
}

/// A receipt without an id cannot be kept (its id is its key). Transfers that do not add up
/// are not refused here: pagoPA's receipts are acknowledged, and the station holds such a
/// receipt for the office ([`Receipt::check_transfers`]).
fn check_receipt(r: &Receipt) -> Result<(), Fail> {
    if r.receipt_id.chars().all(is_xml_space) {
        return Err(semantic("receiptId is empty"));
    }
    Ok(())
}

impl Receipt {
    /// Whether the transfers have distinct ids 1 to 5 and add up to the payment amount; the
    /// error says how they do not.
    pub fn check_transfers(&self) -> Result<(), String> {
        check_transfers(
            self.payment_amount,
            self.transfers.iter().map(|t| (t.id_transfer, t.amount)),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the responses

/// Reads a response of the station (the node's side: the sandbox and the benchmark).
pub fn parse_response(body: &[u8]) -> Result<Response, ParseError> {
    let root = read_tree(body).map_err(|d| syntax(d).into_error(None))?;
    let el = soap_body_child(&root).map_err(|f| f.into_error(None))?;
    if el.is(SOAP_ENV_NS, "Fault") {
        return read_soap_fault(el).map_err(|f| f.into_error(None));
    }
    let op = if el.ns.as_deref() == Some(PAFN_NS) {
        Operation::from_response_element(&el.name)
    } else {
        None
    };
    let Some(op) = op else {
        return Err(syntax(format!("unknown response <{}>", el.label())).into_error(None));
    };
    read_response(op, el).map_err(|f| f.into_error(Some(op)))
}

fn read_soap_fault(el: &Element) -> Result<Response, Fail> {
    let mut s = Seq::of(el)?;
    let code = s.raw("faultcode")?.to_owned();
    let message = s.raw("faultstring")?.to_owned();
    // faultactor and detail are allowed and not needed.
    s.opt("faultactor");
    s.opt("detail");
    s.finish()?;
    Ok(Response::SoapFault { code, message })
}

struct FaultBean {
    code: String,
    fault_string: String,
    id: String,
    description: String,
}

fn read_fault(el: &Element) -> Result<FaultBean, Fail> {
    let mut s = Seq::of(el)?;
    let bean = FaultBean {
        code: s.text("faultCode", St::Any)?,
        fault_string: s.text("faultString", St::Any)?,
        id: s.text("id", St::Any)?,
        description: s.opt_text("description", St::Any)?.unwrap_or_default(),
    };
    if let Some(serial) = s.opt_raw("serial")?
        && parse_xsd_int(serial).is_none()
    {
        return Err(syntax(format!(
            "fault/serial: {} is not an int",
            quote(serial)
        )));
    }
    s.opt_text("originalFaultCode", St::Any)?;
    s.opt_text("originalFaultString", St::Any)?;
    s.opt_text("originalDescription", St::Any)?;
    s.finish()?;
    Ok(bean)
}

struct PaymentOption {
    amount: Cents,
    options: AmountOption,
    due_date: Option<Date>,
    detail_description: Option<String>,
    all_ccp: bool,
}

fn read_payment_option(el: &Element) -> Result<PaymentOption, Fail> {
    let list = read_list(el, "paymentOptionDescription", 1)?;
    let Some(option) = list.first() else {
        return Err(syntax("paymentList is empty"));
    };
    let mut s = Seq::of(option)?;
    let amount = s.amount("amount", AmountKind::NotZero)?;
    let options = match s.raw("options")? {
        "EQ" => AmountOption::Eq,
        "LS" => AmountOption::Ls,
        "GT" => AmountOption::Gt,
        "ANY" => AmountOption::Any,
        other => {
            return Err(syntax(format!(
                "options: {} is not EQ, LS, GT or ANY",
                quote(other)
            )));
        }
    };
    let option = PaymentOption {
        amount,
        options,
        due_date: s.opt_date("dueDate")?,
        detail_description: s.opt_text("detailDescription", T140)?,
        all_ccp: s.boolean("allCCP")?,
    };
    s.finish()?;
    Ok(option)
}

fn read_payment_transfer(version: Version, el: &Element) -> Result<PaymentTransfer, Fail> {
    let mut s = Seq::of(el)?;
    let id_transfer = s.id_transfer()?;
    let amount = s.amount("transferAmount", AmountKind::NotZero)?;
    let fiscal_code_pa = s.text("fiscalCodePA", FISCAL_CODE_PA)?;
    let company_name = match version {
        Version::V1 => None,
        Version::V2 => s.opt_text("companyName", T140)?,
    };
    if version == Version::V2 && s.next_is("richiestaMarcaDaBollo") {
        return Err(syntax(
            "transfer: richiestaMarcaDaBollo (a digital revenue stamp) is not supported",
        ));
    }
    let transfer = PaymentTransfer {
        id_transfer,
        amount,
        fiscal_code_pa,
        company_name,
        iban: s.text("IBAN", IBAN)?,
        remittance_information: s.text("remittanceInformation", T140)?,
        transfer_category: s.text("transferCategory", T140)?,
        metadata: read_metadata(&mut s)?,
    };
    s.finish()?;
    Ok(transfer)
}

/// `ctPaymentPA` / `ctPaymentPAV2`. An absent V1 `companyName` is left empty, for the caller
/// to refuse (an `stText140` is never empty).
fn read_payment_data(version: Version, el: &Element) -> Result<PaymentData, Fail> {
    let mut s = Seq::of(el)?;
    let creditor_reference_id = s.text("creditorReferenceId", T35)?;
    let payment_amount = s.amount("paymentAmount", AmountKind::NotZero)?;
    let due_date = s.date("dueDate")?;
    let retention_date = s.opt_date_time("retentionDate")?;
    let last_payment = s.opt_boolean("lastPayment")?.unwrap_or(false);
    let description = s.text("description", T140)?;
    let company_name = match version {
        Version::V1 => s.opt_text("companyName", T140)?.unwrap_or_default(),
        Version::V2 => s.text("companyName", T140)?,
    };
    let data = PaymentData {
        creditor_reference_id,
        payment_amount,
        due_date,
        retention_date,
        last_payment,
        description,
        company_name,
        office_name: s.opt_text("officeName", T140)?,
        debtor: read_subject(s.req("debtor")?)?,
        transfers: read_list(s.req("transferList")?, "transfer", MAX_TRANSFERS)?
            .into_iter()
            .map(|t| read_payment_transfer(version, t))
            .collect::<Result<Vec<_>, _>>()?,
        metadata: read_metadata(&mut s)?,
    };
    s.finish()?;
    Ok(data)
}

fn read_response(op: Operation, el: &Element) -> Result<Response, Fail> {
    let mut s = Seq::of(el)?;
    let outcome = read_outcome(&mut s)?;
    let fault = s.opt("fault").map(read_fault).transpose()?;
    // The operation's own parts, all optional in the XSD.
    let mut verify = None;
    let mut payment = None;
    match op {
        Operation::Verify => {
            let option = s.opt("paymentList").map(read_payment_option).transpose()?;
            let description = s.opt_text("paymentDescription", T140)?;
            let fiscal_code_pa = s.opt_text("fiscalCodePA", FISCAL_CODE_PA)?;
            let company_name = s.opt_text("companyName", T140)?;
            let office_name = s.opt_text("officeName", T140)?;
            verify = Some((
                option,
                description,
                fiscal_code_pa,
                company_name,
                office_name,
            ));
        }
        Operation::GetPayment(version) => {
            payment = s
                .opt("data")
                .map(|d| read_payment_data(version, d))
                .transpose()?;
        }
        Operation::SendRt(_) => {}
    }
    s.finish()?;

    match (outcome, fault) {
        (Outcome::Ko, Some(f)) => Ok(Response::Fault {
            op,
            code: f.code,
            fault_string: f.fault_string,
            id: f.id,
            description: f.description,
        }),
        (Outcome::Ko, None) => Err(semantic("outcome KO without a fault")),
        (Outcome::Ok, Some(_)) => Err(semantic("outcome OK with a fault")),
        (Outcome::Ok, None) => match op {
            Operation::Verify => {
                let Some((
                    Some(option),
                    Some(description),
                    Some(fiscal_code_pa),
                    Some(company_name),
                    office_name,
                )) = verify
                else {
                    return Err(semantic(
                        "an OK verify needs paymentList, paymentDescription, fiscalCodePA and companyName",
                    ));
                };
                Ok(Response::VerifyOk(VerifyOk {
                    amount: option.amount,
                    options: option.options,
                    due_date: option.due_date,
                    detail_description: option.detail_description,
                    all_ccp: option.all_ccp,
                    description,
                    fiscal_code_pa,
                    company_name,
                    office_name,
                }))
            }
            Operation::GetPayment(version) => {
                let Some(data) = payment else {
                    return Err(semantic("an OK paGetPayment needs its data"));
                };
                if data.company_name.is_empty() {
                    return Err(semantic("an OK paGetPayment needs data/companyName"));
                }
                check_transfers(
                    data.payment_amount,
                    data.transfers.iter().map(|t| (t.id_transfer, t.amount)),
                )
                .map_err(semantic)?;
                Ok(Response::GetPaymentOk(version, data))
            }
            Operation::SendRt(version) => Ok(Response::SendRtOk(version)),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

struct Writer {
    out: String,
}

fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A literal CR would come back as LF (end-of-line normalisation).
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// For the free texts of a fault, which cannot fail: characters XML cannot carry become U+FFFD.
fn sanitize(v: &str) -> String {
    v.chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect()
}

impl Writer {
    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.open(name);
        escape_into(&mut self.out, value);
        self.close(name);
    }

    fn text(&mut self, name: &str, st: St, v: &str) -> Result<(), RenderError> {
        check(st, v).map_err(|m| render_error(name, m))?;
        self.leaf(name, v);
        Ok(())
    }

    fn opt_text(&mut self, name: &str, st: St, v: Option<&str>) -> Result<(), RenderError> {
        match v {
            Some(v) => self.text(name, st, v),
            None => Ok(()),
        }
    }

    fn amount(&mut self, name: &str, c: Cents, kind: AmountKind) -> Result<(), RenderError> {
        check_amount(c, kind).map_err(|m| render_error(name, m))?;
        self.leaf(name, &format_amount(c));
        Ok(())
    }

    fn opt_amount(
        &mut self,
        name: &str,
        c: Option<Cents>,
        kind: AmountKind,
    ) -> Result<(), RenderError> {
        match c {
            Some(c) => self.amount(name, c, kind),
            None => Ok(()),
        }
    }

    fn date(&mut self, name: &str, d: Date) -> Result<(), RenderError> {
        let text = format_date(d).map_err(|m| render_error(name, m))?;
        self.leaf(name, &text);
        Ok(())
    }

    fn opt_date(&mut self, name: &str, d: Option<Date>) -> Result<(), RenderError> {
        match d {
            Some(d) => self.date(name, d),
            None => Ok(()),
        }
    }

    fn opt_date_time(&mut self, name: &str, v: Option<&str>) -> Result<(), RenderError> {
        match v {
            Some(v) if is_xsd_date_time(v) => {
                self.leaf(name, v);
                Ok(())
            }
            Some(v) => Err(render_error(
                name,
                format!("{} is not an xsd:dateTime", quote(v)),
            )),
            None => Ok(()),
        }
    }

    fn boolean(&mut self, name: &str, b: bool) {
        self.leaf(name, if b { "true" } else { "false" });
    }
}

/// A SOAP 1.1 envelope around `<pafn:{element}>`.
fn envelope<E>(
    element: &str,
    content: impl FnOnce(&mut Writer) -> Result<(), E>,
) -> Result<String, E> {
    let mut w = Writer {
        out: String::with_capacity(2048),
    };
    w.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    w.out.push_str("<soapenv:Envelope xmlns:soapenv=\"");
    w.out.push_str(SOAP_ENV_NS);
    w.out.push_str("\" xmlns:pafn=\"");
    w.out.push_str(PAFN_NS);
    w.out.push_str("\"><soapenv:Body><pafn:");
    w.out.push_str(element);
    w.out.push('>');
    content(&mut w)?;
    w.out.push_str("</pafn:");
    w.out.push_str(element);
    w.out.push_str("></soapenv:Body></soapenv:Envelope>");
    Ok(w.out)
}

fn write_header(w: &mut Writer, h: &StationHeader) -> Result<(), RenderError> {
    w.text("idPA", T35, &h.id_pa)?;
    w.text("idBrokerPA", T35, &h.id_broker_pa)?;
    w.text("idStation", T35, &h.id_station)
}

fn write_qr_code(
    w: &mut Writer,
    fiscal_code: &str,
    notice_number: &str,
) -> Result<(), RenderError> {
    w.open("qrCode");
    w.text("fiscalCode", FISCAL_CODE_PA, fiscal_code)?;
    w.text("noticeNumber", NOTICE_NUMBER, notice_number)?;
    w.close("qrCode");
    Ok(())
}

fn write_subject(w: &mut Writer, name: &str, s: &Subject) -> Result<(), RenderError> {
    w.open(name);
    w.open("uniqueIdentifier");
    w.leaf("entityUniqueIdentifierType", s.kind.as_str());
    w.text("entityUniqueIdentifierValue", UNIQUE_ID, &s.id)?;
    w.close("uniqueIdentifier");
    w.text("fullName", T70, &s.full_name)?;
    w.opt_text("streetName", T70, s.street_name.as_deref())?;
    w.opt_text("civicNumber", T16, s.civic_number.as_deref())?;
    w.opt_text("postalCode", T16, s.postal_code.as_deref())?;
    w.opt_text("city", T35, s.city.as_deref())?;
    w.opt_text(
        "stateProvinceRegion",
        T35,
        s.state_province_region.as_deref(),
    )?;
    w.opt_text("country", St::Country, s.country.as_deref())?;
    w.opt_text("e-mail", St::Email, s.email.as_deref())?;
    w.close(name);
    Ok(())
}

fn write_metadata(w: &mut Writer, entries: &[MapEntry]) -> Result<(), RenderError> {
    if entries.is_empty() {
        return Ok(());
    }
    if entries.len() > MAX_METADATA {
        return Err(render_error(
            "metadata",
            format!("at most {MAX_METADATA} entries, not {}", entries.len()),
        ));
    }
    w.open("metadata");
    for e in entries {
        w.open("mapEntry");
        w.text("key", T140, &e.key)?;
        w.text("value", T140, &e.value)?;
        w.close("mapEntry");
    }
    w.close("metadata");
    Ok(())
}

fn check_transfer_count(n: usize) -> Result<(), RenderError> {
    if (1..=MAX_TRANSFERS).contains(&n) {
        Ok(())
    } else {
        Err(render_error(
            "transferList",
            format!("1 to {MAX_TRANSFERS} transfers, not {n}"),
        ))
    }
}

fn check_id_transfer(id: u8) -> Result<(), RenderError> {
    if (1..=5).contains(&id) {
        Ok(())
    } else {
        Err(render_error("idTransfer", format!("{id} is not 1 to 5")))
    }
}

/// The node's `paVerifyPaymentNoticeReq`.
pub fn render_verify_request(r: &VerifyRequest) -> Result<String, RenderError> {
    envelope(Operation::Verify.request_element(), |w| {
        write_header(w, &r.header)?;
        write_qr_code(w, &r.fiscal_code, &r.notice_number)
    })
}

/// The node's `paGetPaymentReq` or `paGetPaymentV2Request`.
pub fn render_get_payment_request(r: &GetPaymentRequest) -> Result<String, RenderError> {
    envelope(Operation::GetPayment(r.version).request_element(), |w| {
        write_header(w, &r.header)?;
        write_qr_code(w, &r.fiscal_code, &r.notice_number)?;
        w.opt_amount("amount", r.amount, AmountKind::Any)?;
        w.opt_text("paymentNote", T210, r.payment_note.as_deref())?;
        if let Some(t) = r.transfer_type {
            w.leaf("transferType", t.as_str());
        }
        w.opt_date("dueDate", r.due_date)
    })
}

fn write_receipt_transfer(
    w: &mut Writer,
    version: Version,
    t: &ReceiptTransfer,
) -> Result<(), RenderError> {
    w.open("transfer");
    check_id_transfer(t.id_transfer)?;
    w.leaf("idTransfer", &t.id_transfer.to_string());
    w.amount("transferAmount", t.amount, AmountKind::NotZero)?;
    w.text("fiscalCodePA", FISCAL_CODE_PA, &t.fiscal_code_pa)?;
    match (version, t.iban.as_deref(), t.mbd_attachment.as_deref()) {
        (Version::V1, Some(iban), _) => w.text("IBAN", IBAN, iban)?,
        (Version::V1, None, _) => {
            return Err(render_error(
                "transfer",
                "a V1 receipt's transfer needs an IBAN",
            ));
        }
        (Version::V2, Some(_), Some(_)) | (Version::V2, None, None) => {
            return Err(render_error(
                "transfer",
                "exactly one of IBAN and MBDAttachment",
            ));
        }
        (Version::V2, iban, stamp) => {
            w.opt_text("companyName", T140, t.company_name.as_deref())?;
            if let Some(iban) = iban {
                w.text("IBAN", IBAN, iban)?;
            }
            if let Some(stamp) = stamp {
                let stamp = collapse_base64(stamp)
                    .ok_or_else(|| render_error("MBDAttachment", "not base64"))?;
                w.leaf("MBDAttachment", &stamp);
            }
        }
    }
    w.text("remittanceInformation", T140, &t.remittance_information)?;
    w.text("transferCategory", T140, &t.transfer_category)?;
    write_metadata(w, &t.metadata)?;
    w.close("transfer");
    Ok(())
}

fn write_receipt(w: &mut Writer, version: Version, r: &Receipt) -> Result<(), RenderError> {
    let v2 = version == Version::V2;
    w.open("receipt");
    w.text("receiptId", St::Any, &r.receipt_id)?;
    w.text("noticeNumber", NOTICE_NUMBER, &r.notice_number)?;
    w.text("fiscalCode", FISCAL_CODE_PA, &r.fiscal_code)?;
    w.leaf("outcome", r.outcome.as_str());
    w.text("creditorReferenceId", T35, &r.creditor_reference_id)?;
    w.amount("paymentAmount", r.payment_amount, AmountKind::Any)?;
    w.text("description", T140, &r.description)?;
    w.text("companyName", T140, &r.company_name)?;
    w.opt_text("officeName", T140, r.office_name.as_deref())?;
    write_subject(w, "debtor", &r.debtor)?;
    check_transfer_count(r.transfers.len())?;
    w.open("transferList");
    for t in &r.transfers {
        write_receipt_transfer(w, version, t)?;
    }
    w.close("transferList");
    w.text("idPSP", T35, &r.id_psp)?;
    w.opt_text("pspFiscalCode", T70, r.psp_fiscal_code.as_deref())?;
    w.opt_text("pspPartitaIVA", T20, r.psp_partita_iva.as_deref())?;
    w.text("PSPCompanyName", T70, &r.psp_company_name)?;
    w.text("idChannel", T35, &r.id_channel)?;
    w.text("channelDescription", T35, &r.channel_description)?;
    if let Some(payer) = &r.payer {
        write_subject(w, "payer", payer)?;
    }
    w.opt_text("paymentMethod", T35, r.payment_method.as_deref())?;
    if v2 {
        w.opt_text("paymentNote", T210, r.payment_note.as_deref())?;
    }
    w.opt_amount("fee", r.fee, AmountKind::Any)?;
    if v2 {
        w.opt_amount(
            "primaryCiIncurredFee",
            r.primary_ci_incurred_fee,
            AmountKind::Any,
        )?;
        w.opt_text("idBundle", T70, r.id_bundle.as_deref())?;
        w.opt_text("idCiBundle", T70, r.id_ci_bundle.as_deref())?;
    }
    w.opt_date_time("paymentDateTime", r.payment_date_time.as_deref())?;
    w.opt_date("applicationDate", r.application_date)?;
    w.opt_date("transferDate", r.transfer_date)?;
    write_metadata(w, &r.metadata)?;
    if r.standin {
        w.boolean("standIn", true);
    }
    w.close("receipt");
    Ok(())
}

/// The node's `paSendRTReq` or `paSendRTV2Request`. Checked against the XSD only: a receipt
/// whose transfers do not add up is written as it is.
pub fn render_send_rt_request(r: &SendRtRequest) -> Result<String, RenderError> {
    envelope(Operation::SendRt(r.version).request_element(), |w| {
        write_header(w, &r.header)?;
        write_receipt(w, r.version, &r.receipt)
    })
}

/// The station's `OK` `paVerifyPaymentNoticeRes`.
pub fn render_verify_ok(v: &VerifyOk) -> Result<String, RenderError> {
    envelope(Operation::Verify.response_element(), |w| {
        w.leaf("outcome", Outcome::Ok.as_str());
        w.open("paymentList");
        w.open("paymentOptionDescription");
        w.amount("amount", v.amount, AmountKind::NotZero)?;
        w.leaf("options", v.options.as_str());
        w.opt_date("dueDate", v.due_date)?;
        w.opt_text("detailDescription", T140, v.detail_description.as_deref())?;
        w.boolean("allCCP", v.all_ccp);
        w.close("paymentOptionDescription");
        w.close("paymentList");
        w.text("paymentDescription", T140, &v.description)?;
        w.text("fiscalCodePA", FISCAL_CODE_PA, &v.fiscal_code_pa)?;
        w.text("companyName", T140, &v.company_name)?;
        w.opt_text("officeName", T140, v.office_name.as_deref())
    })
}

fn write_payment_transfer(
    w: &mut Writer,
    version: Version,
    t: &PaymentTransfer,
) -> Result<(), RenderError> {
    w.open("transfer");
    check_id_transfer(t.id_transfer)?;
    w.leaf("idTransfer", &t.id_transfer.to_string());
    w.amount("transferAmount", t.amount, AmountKind::NotZero)?;
    w.text("fiscalCodePA", FISCAL_CODE_PA, &t.fiscal_code_pa)?;
    if version == Version::V2 {
        w.opt_text("companyName", T140, t.company_name.as_deref())?;
    }
    w.text("IBAN", IBAN, &t.iban)?;
    w.text("remittanceInformation", T140, &t.remittance_information)?;
    w.text("transferCategory", T140, &t.transfer_category)?;
    write_metadata(w, &t.metadata)?;
    w.close("transfer");
    Ok(())
}

/// The station's `OK` `paGetPaymentRes` (V1) or `paGetPaymentV2Response` (V2). Besides the
/// XSD, the transfers must have distinct ids and add up to the payment amount.
pub fn render_get_payment_ok(version: Version, p: &PaymentData) -> Result<String, RenderError> {
    check_transfer_count(p.transfers.len())?;
    check_transfers(
        p.payment_amount,
        p.transfers.iter().map(|t| (t.id_transfer, t.amount)),
    )
    .map_err(|m| render_error("transferList", m))?;
    envelope(Operation::GetPayment(version).response_element(), |w| {
        w.leaf("outcome", Outcome::Ok.as_str());
        w.open("data");
        w.text("creditorReferenceId", T35, &p.creditor_reference_id)?;
        w.amount("paymentAmount", p.payment_amount, AmountKind::NotZero)?;
        w.date("dueDate", p.due_date)?;
        w.opt_date_time("retentionDate", p.retention_date.as_deref())?;
        w.boolean("lastPayment", p.last_payment);
        w.text("description", T140, &p.description)?;
        w.text("companyName", T140, &p.company_name)?;
        w.opt_text("officeName", T140, p.office_name.as_deref())?;
        write_subject(w, "debtor", &p.debtor)?;
        w.open("transferList");
        for t in &p.transfers {
            write_payment_transfer(w, version, t)?;
        }
        w.close("transferList");
        write_metadata(w, &p.metadata)?;
        w.close("data");
        Ok(())
    })
}

/// The station's `OK` `paSendRTRes` or `paSendRTV2Response`.
pub fn render_send_rt_ok(version: Version) -> String {
    plain_envelope(Operation::SendRt(version).response_element(), |w| {
        w.leaf("outcome", Outcome::Ok.as_str());
    })
}

/// The station's `KO` answer to `op`, with its `ctFaultBean`: `faultCode` is the code,
/// `faultString` its standard message, `id` the creditor's fiscal code (`id_pa`), `description`
/// the detail (left out when empty). Characters XML cannot carry become U+FFFD.
pub fn render_fault(op: Operation, code: FaultCode, description: &str, id_pa: &str) -> String {
    plain_envelope(op.response_element(), |w| {
        w.leaf("outcome", Outcome::Ko.as_str());
        w.open("fault");
        w.leaf("faultCode", code.as_str());
        w.leaf("faultString", code.fault_string());
        w.leaf("id", &sanitize(id_pa));
        if !description.is_empty() {
            w.leaf("description", &sanitize(description));
        }
        w.close("fault");
    })
}

/// A SOAP 1.1 `Fault`, for a request whose operation could not be recognised (not XML, not a
/// SOAP envelope, an unknown operation): `faultcode` is `soapenv:Server` for
/// [`FaultCode::SystemError`], `soapenv:Client` otherwise; `faultstring` starts with the code.
/// It goes with HTTP status 500, as SOAP 1.1 requires.
pub fn render_soap_fault(code: FaultCode, description: &str) -> String {
    let side = if code == FaultCode::SystemError {
        "soapenv:Server"
    } else {
        "soapenv:Client"
    };
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push_str("<soapenv:Envelope xmlns:soapenv=\"");
    out.push_str(SOAP_ENV_NS);
    out.push_str("\"><soapenv:Body><soapenv:Fault><faultcode>");
    out.push_str(side);
    out.push_str("</faultcode><faultstring>");
    escape_into(&mut out, code.as_str());
    if !description.is_empty() {
        out.push_str(": ");
        escape_into(&mut out, &sanitize(description));
    }
    out.push_str("</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>");
    out
}

/// An envelope whose content cannot fail.
fn plain_envelope(element: &str, content: impl FnOnce(&mut Writer)) -> String {
    let result = envelope::<Infallible>(element, |w| {
        content(w);
        Ok(())
    });
    match result {
        Ok(out) => out,
        Err(never) => match never {},
    }
}
