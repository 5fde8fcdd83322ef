//! The messages as typed values: operations, faults, the node's requests, the station's
//! responses, and the errors of reading and writing them.

use std::fmt;

use jiff::civil::Date;
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

    pub(crate) fn from_request_element(name: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.request_element() == name)
    }

    pub(crate) fn from_response_element(name: &str) -> Option<Operation> {
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
