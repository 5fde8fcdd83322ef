//! The payment notice and the receipt: their codes are read back from the
//! PDF bytes and decoded, their text is extracted and checked.

use lopdf::{Document, Object};
use refettorio_documents::DocumentError;
use refettorio_documents::notice::{
    MAX_INSTALMENTS, NoticeCreditor, NoticeDebtor, NoticeInstalment, NoticeView, ReceiptView,
    group_by_four, notice_pdf, poste_datamatrix_payload, qr_payload, receipt_pdf,
};

const EC_CF: &str = "01234567890";
/// Worked value of INTEGRATIONS.md: seg 02, base 1234567890123.
const NAV: &str = "302123456789012356";
const NAV_2: &str = "300000000000000104";
const NAV_3: &str = "312999999999999957";

fn creditor(postal: bool) -> NoticeCreditor {
    NoticeCreditor {
        name: "Comune di Prova".to_owned(),
        fiscal_code: EC_CF.to_owned(),
        sector: "Servizi scolastici".to_owned(),
        contacts: "Tel. 0123 456789 – mensa@comune.prova.it".to_owned(),
        cbill: Some("ABC12".to_owned()),
        postal_account: postal.then(|| "1234567".to_owned()),
        postal_holder: postal.then(|| "Comune di Prova – Servizio Tesoreria".to_owned()),
    }
}

fn debtor() -> NoticeDebtor {
    NoticeDebtor {
        fiscal_code: "RSSMRA85T10A562S".to_owned(),
        full_name: "Mario Rossi".to_owned(),
        address: Some("Via Roma 1, 00100 Prova (RM)".to_owned()),
    }
}

fn single(postal: bool) -> NoticeView {
    NoticeView {
        creditor: creditor(postal),
        debtor: debtor(),
        subject: "Ricarica servizio mensa scolastica 2026/27".to_owned(),
        instalments: vec![NoticeInstalment {
            notice_number: NAV.to_owned(),
            amount_cents: 4550,
            due_date: Some(jiff::civil::date(2026, 11, 30)),
        }],
        issued_on: jiff::civil::date(2026, 11, 23),
    }
}

fn three_instalments(postal: bool) -> NoticeView {
    NoticeView {
        subject: "Retta trasporto scolastico 2026/27".to_owned(),
        instalments: vec![
            NoticeInstalment {
                notice_number: NAV.to_owned(),
                amount_cents: 12000,
                due_date: Some(jiff::civil::date(2026, 10, 31)),
            },
            NoticeInstalment {
                notice_number: NAV_2.to_owned(),
                amount_cents: 12050,
                due_date: Some(jiff::civil::date(2027, 1, 31)),
            },
            NoticeInstalment {
                notice_number: NAV_3.to_owned(),
                amount_cents: 123_456,
                due_date: Some(jiff::civil::date(2027, 4, 30)),
            },
        ],
        ..single(postal)
    }
}

fn receipt() -> ReceiptView {
    ReceiptView {
        creditor_name: "Comune di Prova".to_owned(),
        creditor_fiscal_code: EC_CF.to_owned(),
        debtor_fiscal_code: "RSSMRA85T10A562S".to_owned(),
        debtor_name: "Mario Rossi".to_owned(),
        subject: "Ricarica servizio mensa scolastica 2026/27".to_owned(),
        notice_number: NAV.to_owned(),
        iuv: NAV[1..].to_owned(),
        receipt_id: "c0ffee00a1b2c3d4e5f6".to_owned(),
        amount_cents: 4550,
        paid_at_label: "23/11/2026 alle 10:15".to_owned(),
        psp_name: "Banca di Prova S.p.A.".to_owned(),
        payment_method: Some("CP".to_owned()),
        issued_on: jiff::civil::date(2026, 11, 23),
    }
}

fn pdf_text(pdf: &[u8]) -> String {
    let text = pdf_extract::extract_text_from_mem(pdf).expect("text extraction");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An image XObject of the PDF as 8-bit grey levels.
struct Grey {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

/// The number of colour components of an image's colour space.
fn components(doc: &Document, space: &Object) -> usize {
    let (_, space) = doc.dereference(space).unwrap();
    match space {
        Object::Name(name) if name == b"DeviceGray" => 1,
        Object::Name(name) if name == b"DeviceRGB" => 3,
        Object::Name(name) if name == b"DeviceCMYK" => 4,
        Object::Array(items)
            if items.first().and_then(|o| o.as_name().ok()) == Some(b"ICCBased") =>
        {
            let (_, profile) = doc.dereference(&items[1]).unwrap();
            let profile = profile.as_stream().unwrap();
            profile.dict.get(b"N").unwrap().as_i64().unwrap() as usize
        }
        other => panic!("unexpected colour space {other:?}"),
    }
}

/// Every image XObject of the PDF, as grey levels (any filter lopdf can
/// undo, DeviceGray/DeviceRGB/ICCBased, 8 bits per component).
fn images(pdf: &[u8]) -> Vec<Grey> {
    let doc = Document::load_mem(pdf).expect("the PDF parses");
    let mut out = Vec::new();
    for object in doc.objects.values() {
        let Object::Stream(stream) = object else {
            continue;
        };
        let dict = &stream.dict;
        if dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Image".as_slice()) {
            continue;
        }
        let width = dict.get(b"Width").unwrap().as_i64().unwrap() as usize;
        let height = dict.get(b"Height").unwrap().as_i64().unwrap() as usize;
        let bits = dict.get(b"BitsPerComponent").unwrap().as_i64().unwrap();
        assert_eq!(bits, 8, "bits per component");
        let n = components(&doc, dict.get(b"ColorSpace").unwrap());
        let data = stream
            .decompressed_content()
            .expect("decodable image stream");
        assert_eq!(data.len(), width * height * n, "image size");
        let pixels = data
            .chunks(n)
            .map(|c| (c.iter().map(|&v| u32::from(v)).sum::<u32>() / n as u32) as u8)
            .collect();
        out.push(Grey {
            width,
            height,
            pixels,
        });
    }
    out
}

/// Decodes `image` as a QR code (upscaled: the PDF holds one pixel per module).
fn read_qr(image: &Grey) -> Option<String> {
    const SCALE: usize = 8;
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width * SCALE,
        image.height * SCALE,
        |x, y| image.pixels[(y / SCALE) * image.width + x / SCALE],
    );
    let grids = prepared.detect_grids();
    let [grid] = grids.as_slice() else {
        return None;
    };
    Some(grid.decode().ok()?.1)
}

/// Decodes `image` as a Data Matrix: crops the quiet zone (the finder pattern
/// spans the whole symbol), one pixel per module.
fn read_datamatrix(image: &Grey) -> Option<String> {
    let dark = |x: usize, y: usize| image.pixels[y * image.width + x] < 128;
    let (mut left, mut top, mut right, mut bottom) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..image.height {
        for x in 0..image.width {
            if dark(x, y) {
                left = left.min(x);
                top = top.min(y);
                right = right.max(x);
                bottom = bottom.max(y);
            }
        }
    }
    if left > right {
        return None;
    }
    let bits: Vec<bool> = (top..=bottom)
        .flat_map(|y| (left..=right).map(move |x| (x, y)))
        .map(|(x, y)| dark(x, y))
        .collect();
    let bytes = datamatrix::DataMatrix::decode(&bits, right - left + 1).ok()?;
    String::from_utf8(bytes).ok()
}

/// The notice's codes read back from its PDF: (QR contents, Data Matrix contents), sorted.
fn codes(pdf: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut qrs, mut dms) = (Vec::new(), Vec::new());
    for image in images(pdf) {
        if let Some(text) = read_qr(&image) {
            qrs.push(text);
        } else if let Some(text) = read_datamatrix(&image) {
            dms.push(text);
        } else {
            panic!("an image is neither a QR code nor a Data Matrix");
        }
    }
    qrs.sort();
    dms.sort();
    (qrs, dms)
}

/// Every image drawn on the pages: (its width in pixels, its width on paper
/// in mm), following the `q`/`Q`/`cm` transforms of the page content.
fn placed_images(pdf: &[u8]) -> Vec<(usize, f64)> {
    type Matrix = [f64; 6];
    fn multiply(m: Matrix, n: Matrix) -> Matrix {
        [
            m[0] * n[0] + m[1] * n[2],
            m[0] * n[1] + m[1] * n[3],
            m[2] * n[0] + m[3] * n[2],
            m[2] * n[1] + m[3] * n[3],
            m[4] * n[0] + m[5] * n[2] + n[4],
            m[4] * n[1] + m[5] * n[3] + n[5],
        ]
    }
    let doc = Document::load_mem(pdf).unwrap();
    let mut out = Vec::new();
    for page_id in doc.get_pages().into_values() {
        let page = doc.get_dictionary(page_id).unwrap();
        let resources = page
            .get_deref(b"Resources", &doc)
            .unwrap()
            .as_dict()
            .unwrap();
        let xobjects = resources.get(b"XObject").unwrap();
        let xobjects = doc.dereference(xobjects).unwrap().1.as_dict().unwrap();
        let content = doc.get_and_decode_page_content(page_id).unwrap();
        let mut ctm: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let mut stack = Vec::new();
        for op in content.operations {
            match op.operator.as_str() {
                "q" => stack.push(ctm),
                "Q" => ctm = stack.pop().unwrap(),
                "cm" => {
                    let m: Vec<f64> = op
                        .operands
                        .iter()
                        .map(|o| f64::from(o.as_float().unwrap()))
                        .collect();
                    ctm = multiply([m[0], m[1], m[2], m[3], m[4], m[5]], ctm);
                }
                "Do" => {
                    let name = op.operands[0].as_name().unwrap();
                    let (_, object) = doc.dereference(xobjects.get(name).unwrap()).unwrap();
                    let dict = &object.as_stream().unwrap().dict;
                    if dict.get(b"Subtype").unwrap().as_name().unwrap() == b"Image" {
                        let px = dict.get(b"Width").unwrap().as_i64().unwrap() as usize;
                        let points = ctm[0].hypot(ctm[1]);
                        out.push((px, points / 72.0 * 25.4));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn qr_payload_and_grouping() {
    assert_eq!(
        qr_payload(NAV, EC_CF, 4550),
        "PAGOPA|002|302123456789012356|01234567890|4550"
    );
    assert_eq!(
        group_by_four("302000000000000104"),
        "3020 0000 0000 0001 04"
    );
}

#[test]
fn the_qr_code_reads_back_from_the_pdf() {
    let pdf = notice_pdf(&single(false)).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    println!("notice PDF: {} bytes", pdf.len());
    let (qrs, dms) = codes(&pdf);
    assert_eq!(qrs, vec![qr_payload(NAV, EC_CF, 4550)]);
    assert!(dms.is_empty(), "no postal account, no Data Matrix");
}

#[test]
fn the_qr_code_is_25_mm_on_paper() {
    let placed = placed_images(&notice_pdf(&three_instalments(true)).unwrap());
    // Version 4: 33 modules, plus a quiet zone of 4 on each side in the image.
    let qrs: Vec<f64> = placed
        .iter()
        .filter(|(px, _)| *px == 33 + 8)
        .map(|(px, mm)| mm / *px as f64 * 33.0)
        .collect();
    assert_eq!(qrs.len(), 3, "{placed:?}");
    for symbol_mm in qrs {
        assert!((symbol_mm - 25.0).abs() < 0.05, "QR symbol {symbol_mm} mm");
    }
    assert_eq!(
        placed.len(),
        6,
        "three QR codes and three Data Matrix: {placed:?}"
    );
}

#[test]
fn three_instalments_have_three_qr_codes() {
    let v = three_instalments(false);
    let (qrs, dms) = codes(&notice_pdf(&v).unwrap());
    let mut expected: Vec<String> = v
        .instalments
        .iter()
        .map(|i| qr_payload(&i.notice_number, EC_CF, i.amount_cents))
        .collect();
    expected.sort();
    assert_eq!(qrs, expected);
    assert!(dms.is_empty());
}

#[test]
fn the_poste_data_matrix_reads_back_from_the_pdf() {
    let v = three_instalments(true);
    let pdf = notice_pdf(&v).unwrap();
    let (qrs, dms) = codes(&pdf);
    assert_eq!(qrs.len(), 3);
    let mut expected: Vec<String> = v
        .instalments
        .iter()
        .map(|i| {
            poste_datamatrix_payload(
                &i.notice_number,
                "1234567",
                i.amount_cents,
                EC_CF,
                "RSSMRA85T10A562S",
                "Mario Rossi",
                "Retta trasporto scolastico 2026/27",
            )
        })
        .collect();
    expected.sort();
    assert_eq!(dms, expected);
    assert!(dms[0].starts_with("codfase=NBPA;18"), "{}", dms[0]);
}

#[test]
fn notice_text() {
    let text = pdf_text(&notice_pdf(&single(true)).unwrap());
    for needle in [
        "AVVISO DI PAGAMENTO",
        "Ricarica servizio mensa scolastica 2026/27",
        "Emesso il 23/11/2026",
        "ENTE CREDITORE",
        "Comune di Prova",
        "Servizi scolastici",
        "COD. FISCALE 01234567890",
        "DESTINATARIO AVVISO",
        "Mario Rossi",
        "COD. FISCALE RSSMRA85T10A562S",
        "Via Roma 1, 00100 Prova (RM)",
        "QUANTO E QUANDO PAGARE?",
        "45,50 €",
        "entro il 30/11/2026",
        "aggiornato automaticamente",
        "DOVE PAGARE?",
        "PAGA CON L’APP IO",
        "PAGA SUL TERRITORIO",
        "Tabaccherie",
        "Utilizza la porzione di avviso relativa al canale di pagamento che preferisci.",
        "BANCHE E ALTRI CANALI",
        "Rata unica",
        "3021 2345 6789 0123 56",
        "ABC12",
        "BOLLETTINO POSTALE PA",
        "1234567",
        "Comune di Prova – Servizio Tesoreria",
        "P1",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

#[test]
fn notice_without_due_date_cbill_or_postal_account() {
    let mut v = single(false);
    v.instalments[0].due_date = None;
    v.creditor.cbill = None;
    v.debtor.address = None;
    let text = pdf_text(&notice_pdf(&v).unwrap());
    assert!(text.contains("45,50 €"), "{text}");
    assert!(!text.contains("entro il"), "{text}");
    assert!(!text.contains("CBILL"), "{text}");
    assert!(!text.contains("BOLLETTINO POSTALE"), "{text}");
}

#[test]
fn instalments_text() {
    let text = pdf_text(&notice_pdf(&three_instalments(true)).unwrap());
    for needle in [
        "1.475,06 €",
        "Puoi pagare in 3 rate",
        "Rata 1 di 3",
        "Rata 2 di 3",
        "Rata 3 di 3",
        "120,00 €",
        "120,50 €",
        "1.234,56 €",
        "entro il 31/10/2026",
        "entro il 31/01/2027",
        "entro il 30/04/2027",
        "3021 2345 6789 0123 56",
        "3000 0000 0000 0001 04",
        "3129 9999 9999 9999 57",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

#[test]
fn markup_in_text_renders_literally() {
    let mut v = single(false);
    v.subject = "Mensa #panic(\"no\") *x* _y_ $z$ <l> @r \\".to_owned();
    v.debtor.full_name = "= Rossi // [x]".to_owned();
    let text = pdf_text(&notice_pdf(&v).unwrap());
    assert!(
        text.contains("Mensa #panic(\"no\") *x* _y_ $z$ <l> @r \\"),
        "{text}"
    );
    assert!(text.contains("= Rossi // [x]"), "{text}");
}

#[test]
fn rendering_is_deterministic() {
    let v = three_instalments(true);
    assert_eq!(notice_pdf(&v).unwrap(), notice_pdf(&v).unwrap());
}

fn refused(v: &NoticeView) -> String {
    match notice_pdf(v) {
        Err(DocumentError::Data(e)) => e.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn invalid_notices_are_refused() {
    let mut v = single(false);
    v.instalments.clear();
    assert!(refused(&v).contains("no payment"));

    let mut v = single(false);
    v.instalments[0].notice_number = "30212345678901235".to_owned();
    assert!(refused(&v).contains("18 digits"));

    let mut v = single(false);
    v.instalments[0].notice_number = "30212345678901235X".to_owned();
    assert!(refused(&v).contains("18 digits"));

    let mut v = single(false);
    v.creditor.fiscal_code = "1234567890".to_owned();
    assert!(refused(&v).contains("11 digits"));

    let mut v = single(false);
    v.instalments[0].amount_cents = 0;
    assert!(refused(&v).contains("positive"));

    let mut v = single(true);
    v.creditor.postal_account = Some("12-34".to_owned());
    assert!(refused(&v).contains("postal account"));

    let mut v = single(true);
    v.instalments[0].amount_cents = 10_000_000_000;
    assert!(refused(&v).contains("too large"));

    let mut v = single(false);
    v.instalments = vec![v.instalments[0].clone(); MAX_INSTALMENTS + 1];
    assert!(refused(&v).contains("instalments"));
}

#[test]
fn poste_payload_layout() {
    let p = poste_datamatrix_payload(
        NAV,
        "1234567",
        4550,
        EC_CF,
        "rssmra85t10a562s",
        "Niccolò Dell’Acqua Università",
        "Ricarica mensa: così è più comodo; grazie!",
    );
    assert_eq!(p.len(), 256);
    assert_eq!(p.chars().count(), 256);
    assert!(p.is_ascii());
    assert_eq!(&p[..13], "codfase=NBPA;");
    assert_eq!(&p[13..15], "18");
    assert_eq!(&p[15..33], NAV);
    assert_eq!(&p[33..35], "12");
    assert_eq!(&p[35..47], "000001234567");
    assert_eq!(&p[47..49], "10");
    assert_eq!(&p[49..59], "0000004550");
    assert_eq!(&p[59..63], "3896");
    assert_eq!(&p[63..66], "1P1");
    assert_eq!(&p[66..77], EC_CF);
    assert_eq!(&p[77..93], "RSSMRA85T10A562S");
    assert_eq!(
        &p[93..133],
        format!("{:<40}", "NICCOLO DELL'ACQUA UNIVERSITA")
    );
    assert_eq!(
        &p[133..243],
        format!("{:<110}", "RICARICA MENSA: COSI E PIU COMODO GRAZIE")
    );
    assert_eq!(&p[243..255], " ".repeat(12));
    assert_eq!(&p[255..], "A");
    // Upper case: nothing after the fixed prefix is a lower-case letter.
    assert!(!p[13..].chars().any(|c| c.is_ascii_lowercase()), "{p}");
}

#[test]
fn poste_payload_cuts_long_fields() {
    let long_name = "Maria Giovanna Benedetta Ludovica Antonietta Della Rovere";
    let long_subject = "x".repeat(200);
    let p = poste_datamatrix_payload(
        NAV,
        "123456789012",
        999_999,
        EC_CF,
        "RSSMRA85T10A562S",
        long_name,
        &long_subject,
    );
    assert_eq!(p.len(), 256);
    assert_eq!(&p[35..47], "123456789012");
    assert_eq!(&p[49..59], "0000999999");
    assert_eq!(&p[93..133], "MARIA GIOVANNA BENEDETTA LUDOVICA ANTONI");
    assert_eq!(&p[133..243], "X".repeat(110));
    assert_eq!(&p[243..], format!("{}A", " ".repeat(12)));
}

#[test]
fn receipt_text() {
    let pdf = receipt_pdf(&receipt()).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let text = pdf_text(&pdf);
    for needle in [
        "RICEVUTA DI PAGAMENTO",
        "Comune di Prova",
        "01234567890",
        "Mario Rossi",
        "RSSMRA85T10A562S",
        "Ricarica servizio mensa scolastica 2026/27",
        "3021 2345 6789 0123 56",
        "02123456789012356",
        "c0ffee00a1b2c3d4e5f6",
        "45,50 €",
        "23/11/2026 alle 10:15",
        "Banca di Prova S.p.A.",
        "Carta di pagamento",
        "ricevuta pagoPA",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

#[test]
fn receipt_without_payment_method() {
    let mut r = receipt();
    r.payment_method = None;
    let text = pdf_text(&receipt_pdf(&r).unwrap());
    assert!(!text.contains("Metodo di pagamento"), "{text}");
    assert!(text.contains("c0ffee00a1b2c3d4e5f6"), "{text}");
}

/// Writes sample PDFs for a person to look at (e.g. with `pdftoppm -png`):
/// `NOTICE_DUMP_DIR=/tmp/avvisi cargo test -p refettorio-documents --test notice -- --ignored`
#[test]
#[ignore]
fn dump_samples() {
    let dir = std::env::var("NOTICE_DUMP_DIR").unwrap_or_else(|_| "/tmp".to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let samples = [
        ("avviso-rata-unica.pdf", notice_pdf(&single(true)).unwrap()),
        (
            "avviso-senza-posta.pdf",
            notice_pdf(&single(false)).unwrap(),
        ),
        (
            "avviso-tre-rate.pdf",
            notice_pdf(&three_instalments(true)).unwrap(),
        ),
        ("ricevuta.pdf", receipt_pdf(&receipt()).unwrap()),
    ];
    for (name, pdf) in samples {
        std::fs::write(format!("{dir}/{name}"), pdf).unwrap();
    }
}
