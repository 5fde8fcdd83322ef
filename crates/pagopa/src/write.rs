//! Writing: typed messages become XML text the XSD accepts, or a [`RenderError`] naming the
//! field.

use std::convert::Infallible;
use std::fmt;

use jiff::civil::Date;
use refettorio_domain::Cents;

use crate::types::*;
use crate::xsd::*;

fn render_error(field: &str, detail: impl fmt::Display) -> RenderError {
    RenderError {
        detail: format!("{field}: {detail}"),
    }
}

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
