//! Reading uploads: encodings, separators, XLSX limits, one read at a time.

use super::*;

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
    for (sig, name_at, size_at) in [(&b"PK\x03\x04"[..], 30, 22), (&b"PK\x01\x02"[..], 46, 24)] {
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
