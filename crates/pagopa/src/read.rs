//! Reading, second step: the tree of a request or a response becomes its typed message.

use jiff::civil::Date;
use refettorio_domain::Cents;

use crate::tree::*;
use crate::types::*;
use crate::xsd::*;

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
