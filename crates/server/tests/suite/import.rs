//! The import from the previous vendor over real HTTP on both databases, with real files: a
//! CSV with BOM and `;`, a CSV with `,`, an XLSX built here. A dry run lists every bad row and
//! writes nothing; a file with one bad row imports nothing; good files import everything with
//! the right balances; the same files again change nothing; a file too large and an .exe are
//! refused, and so are a tiny XLSX declaring a whole sheet and a zip bomb, while the server
//! keeps answering.

use std::time::Duration;

use crate::common::{App, browser, csrf_of, login, page, scalar, spawn};
use jiff::civil::Date;
use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER};
use refettorio_db::ledger;
use refettorio_db::registry::family;
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::testing::TestDb;
use refettorio_db::{import as db_import, registry};
use refettorio_domain::{Cents, CodiceFiscale, ServiceKind};

const BASE: &str = "/t/esempio/backoffice/importazioni";

fn cf(last: &str, first: &str, y: i16, m: i8, d: i8, female: bool) -> String {
    CodiceFiscale::compute(last, first, Date::new(y, m, d).unwrap(), female, "D969")
        .unwrap()
        .as_str()
        .to_string()
}

/// The people of the good files: three payers, one delegate, three pupils.
struct People {
    payers: [String; 3],
    delegate: String,
    pupils: [String; 3],
}

fn people() -> People {
    People {
        payers: [
            cf("Marchetti", "Paolo", 1979, 3, 14, false),
            cf("Galli", "Chiara", 1985, 7, 2, true),
            cf("Fontana", "Davide", 1981, 11, 30, false),
        ],
        delegate: cf("Marchetti", "Elena", 1982, 1, 9, true),
        pupils: [
            cf("Marchetti", "Tommaso", 2018, 4, 5, false),
            cf("Galli", "Giulia", 2019, 9, 21, true),
            cf("Fontana", "Pietro", 2017, 12, 1, false),
        ],
    }
}

/// A CSV as Excel on Windows saves it: UTF-8 with BOM, `;`, CRLF.
fn csv_bom_semicolon(rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    for r in rows {
        out.extend(r.join(";").as_bytes());
        out.extend(b"\r\n");
    }
    out
}

fn guardians_csv(p: &People) -> Vec<u8> {
    let h = "Codice fiscale;Cognome;Nome;Email;Telefono;Indirizzo;Residente;ISEE;Codice fiscale intestatario;Vede i pagamenti";
    let mut rows = vec![h.split(';').map(String::from).collect::<Vec<_>>()];
    // The delegate first: their payer comes further down the file.
    rows.push(
        vec![
            &p.delegate,
            "Marchetti",
            "Elena",
            "",
            "",
            "",
            "sì",
            "",
            &p.payers[0],
            "sì",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
    );
    rows.push(
        vec![
            &p.payers[0],
            "Marchetti",
            "Paolo",
            "paolo@example.org",
            "3331112222",
            "Via Verdi 3",
            "sì",
            "9.500,00",
            "",
            "",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
    );
    rows.push(
        vec![
            &p.payers[1],
            "Galli",
            "Chiara",
            "",
            "",
            "",
            "no",
            "",
            "",
            "",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
    );
    rows.push(
        vec![
            &p.payers[2],
            "Fontana",
            "Davide",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
    );
    csv_bom_semicolon(&rows)
}

fn pupils_csv(p: &People) -> Vec<u8> {
    let mut rows = vec![
        [
            "Codice fiscale",
            "Cognome",
            "Nome",
            "Data di nascita",
            "Codice fiscale intestatario",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (i, (last, first, born)) in [
        ("Marchetti", "Tommaso", "05/04/2018"),
        ("Galli", "Giulia", "21/09/2019"),
        ("Fontana", "Pietro", "01/12/2017"),
    ]
    .into_iter()
    .enumerate()
    {
        rows.push(
            [
                p.pupils[i].as_str(),
                last,
                first,
                born,
                p.payers[i].as_str(),
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    csv_bom_semicolon(&rows)
}

/// Service, class, band, meal price, diet, card of an enrolment row.
type EnrolmentCells = (
    &'static str,
    &'static str,
    &'static str,
    Option<f64>,
    &'static str,
    &'static str,
);

/// The enrolments as an Excel workbook, dates as real date cells.
fn enrolments_xlsx(p: &People, school: &str, bad_school_row: bool) -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let headers = [
        "Codice fiscale alunno",
        "Servizio",
        "Anno scolastico",
        "Scuola",
        "Classe",
        "Fascia",
        "Prezzo pasto",
        "Dieta",
        "Stato",
        "Data inizio",
        "Tessera",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let date = ExcelDateTime::from_ymd(2026, 9, 14).unwrap();
    let fmt = Format::new().set_num_format("dd/mm/yyyy");
    let rows: [EnrolmentCells; 3] = [
        (
            "Refezione",
            "3 A",
            "Fascia 3 (ISEE da 8.000,01 a 13.000 €)",
            None,
            "VEG",
            "IMP-0001",
        ),
        (
            "Refezione",
            "2 B",
            "Non residenti",
            Some(4.5),
            "",
            "IMP-0002",
        ),
        (
            "Refezione",
            "4 A",
            "Fascia 6 (ISEE oltre 25.000 € o non dichiarato)",
            None,
            "",
            "IMP-0003",
        ),
    ];
    for (i, (service, class, band, price, diet, card)) in rows.iter().enumerate() {
        let r = (i + 1) as u32;
        let s = if bad_school_row && i == 1 {
            "Scuola che non esiste"
        } else {
            school
        };
        ws.write_string(r, 0, &p.pupils[i]).unwrap();
        ws.write_string(r, 1, *service).unwrap();
        ws.write_string(r, 2, "2026/2027").unwrap();
        ws.write_string(r, 3, s).unwrap();
        ws.write_string(r, 4, *class).unwrap();
        ws.write_string(r, 5, *band).unwrap();
        if let Some(x) = price {
            ws.write_number(r, 6, *x).unwrap();
        }
        ws.write_string(r, 7, *diet).unwrap();
        ws.write_string(r, 8, "attivo").unwrap();
        ws.write_datetime_with_format(r, 9, &date, &fmt).unwrap();
        ws.write_string(r, 10, *card).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

/// Opening balances with `,` (quoted amounts with a decimal comma), no BOM.
fn balances_csv(p: &People) -> Vec<u8> {
    format!(
        "Codice fiscale intestatario,Servizio,Anno scolastico,Saldo,Data,Nota\r\n\
         {},Refezione,2026/2027,\"12,50\",31/08/2026,\r\n\
         {},Refezione,2026/2027,\"-3,00\",,Debito al 31 agosto\r\n\
         {},Refezione,2026/2027,0,,\r\n",
        p.payers[0], p.payers[1], p.payers[2]
    )
    .into_bytes()
}

/// A multipart body as a browser sends it.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----refettorio-test-7c1f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads a file; (status, location, page).
async fn upload(
    app: &App,
    client: &reqwest::Client,
    csrf: &str,
    kind: &str,
    action: &str,
    name: &str,
    bytes: &[u8],
) -> (u16, String, String) {
    let (ct, body) = multipart(
        &[("_csrf", csrf), ("tipo", kind), ("azione", action)],
        Some((name, bytes)),
    );
    let r = client
        .post(app.url(BASE))
        .header("content-type", ct)
        .header("origin", app.base.clone())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// Waits for the job at `location` to end; its page.
async fn finished(app: &App, client: &reqwest::Client, location: &str) -> String {
    for _ in 0..200 {
        let (status, html) = page(client, app, location).await;
        assert_eq!(status, 200, "{html}");
        if !html.contains("data-stato=\"in-corso\"") {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import did not finish");
}

fn span(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{id} in {html}"))
        + marker.len();
    html[start..].split('<').next().unwrap().to_string()
}

/// Every table an import writes, counted, and the ledger's total.
async fn state(t: &TestDb) -> Vec<i64> {
    vec![
        scalar(t, "SELECT COUNT(*) FROM guardian").await,
        scalar(t, "SELECT COUNT(*) FROM family").await,
        scalar(t, "SELECT COUNT(*) FROM family_delegate").await,
        scalar(t, "SELECT COUNT(*) FROM pupil").await,
        scalar(t, "SELECT COUNT(*) FROM enrolment").await,
        scalar(t, "SELECT COUNT(*) FROM account").await,
        scalar(t, "SELECT COUNT(*) FROM ledger_entry").await,
        scalar(
            t,
            "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM ledger_entry",
        )
        .await,
    ]
}

/// State plus the import jobs and audit rows: what a refused upload must leave as it was.
async fn everything(t: &TestDb) -> Vec<i64> {
    let mut s = state(t).await;
    s.push(scalar(t, "SELECT COUNT(*) FROM import_job").await);
    s.push(scalar(t, "SELECT COUNT(*) FROM audit_log").await);
    s
}

async fn office(app: &App) -> (reqwest::Client, String) {
    let client = browser();
    assert_eq!(
        login(app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD)
            .await
            .status(),
        303
    );
    let (status, html) = page(&client, app, BASE).await;
    assert_eq!(status, 200, "{html}");
    (client, csrf_of(&html))
}

/// The name of the demo's primary school with a "3 A", "2 B" and "4 A".
async fn rodari(t: &TestDb, tn: &Tenant) -> String {
    let mut h = t.db.acquire().await.unwrap();
    registry::school::schools(&mut h.conn(), tn.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name.contains("Rodari"))
        .unwrap()
        .name
}

#[tokio::test]
async fn a_dry_run_lists_every_bad_row_and_writes_nothing() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let p = people();
        let before = everything(&t).await;
        // Row 2 good; 3 bad fiscal code; 4 no surname; 5 same code as row 2; 6 bad e-mail and
        // ISEE; 7 a delegate of an unknown payer.
        let unknown = cf("Nessuno", "Ugo", 1960, 1, 1, false);
        let text = format!(
            "\u{feff}Codice fiscale;Cognome;Nome;Email;ISEE;Codice fiscale intestatario\r\n\
             {a};Marchetti;Paolo;;;\r\n\
             MRCPLA79C14D969X;Marchetti;Paolo;;;\r\n\
             {b};;Chiara;;;\r\n\
             {a};Marchetti;Paolo;;;\r\n\
             {c};Fontana;Davide;davide-at-example;molti;\r\n\
             {d};Marchetti;Elena;;;{unknown}\r\n",
            a = p.payers[0],
            b = p.payers[1],
            c = p.payers[2],
            d = p.delegate,
        );
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "prova",
            "genitori.csv",
            text.as_bytes(),
        )
        .await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("Prova: il file ha"), "{html}");
        let table = &html[html.find("id=\"errori\"").unwrap()..];
        for (row, reason) in [
            (3, "carattere di controllo"),
            (4, "Manca il campo obbligatorio «Cognome»"),
            (5, "Duplicato nel file"),
            (6, "«Email» non valida"),
            (6, "«ISEE» non è un importo valido"),
            (7, "Intestatario sconosciuto"),
        ] {
            let cell = format!("<tr><td>{row}</td><td>");
            let found = table
                .match_indices(&cell)
                .any(|(i, _)| table[i..].split("</tr>").next().unwrap().contains(reason));
            assert!(found, "row {row}: {reason}\n{table}");
        }
        assert!(!table.contains("<tr><td>2</td>"), "{table}");
        assert_eq!(everything(&t).await, before);

        // An XLSX with an unknown school, in a dry run: listed, nothing written.
        let tn = crate::common::demo_tenant(&t).await;
        let school = rodari(&t, &tn).await;
        let xlsx = enrolments_xlsx(&p, &school, true);
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "iscrizioni",
            "prova",
            "iscrizioni.xlsx",
            &xlsx,
        )
        .await;
        assert_eq!(status, 422, "{html}");
        assert!(
            html.contains("Scuola sconosciuta: «Scuola che non esiste»"),
            "{html}"
        );
        // The pupils are not imported yet: every row says so.
        assert_eq!(html.matches("Alunno sconosciuto").count(), 3, "{html}");
        assert_eq!(everything(&t).await, before);

        // A file of the wrong kind: the missing columns, on the file field.
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "saldi",
            "prova",
            "genitori.csv",
            &guardians_csv(&p),
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("Mancano le colonne"), "{html}");
        assert_eq!(everything(&t).await, before);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_file_with_one_bad_row_imports_nothing() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let p = people();
        let mut bytes = guardians_csv(&p);
        bytes.extend(b"RSSMRA80A01H501X;Rossi;Mario;;;;;;;\r\n");
        let before = everything(&t).await;
        let (status, location, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "importa",
            "genitori.csv",
            &bytes,
        )
        .await;
        assert_eq!(status, 422, "{location} {html}");
        assert!(html.contains("Importazione rifiutata"), "{html}");
        assert!(html.contains("<tr><td>6</td>"), "{html}");
        assert_eq!(everything(&t).await, before);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn good_files_import_everything_and_again_change_nothing() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let tn = crate::common::demo_tenant(&t).await;
        let school = rodari(&t, &tn).await;
        let p = people();
        let files: Vec<(&str, &str, Vec<u8>)> = vec![
            ("genitori", "genitori.csv", guardians_csv(&p)),
            ("alunni", "alunni.csv", pupils_csv(&p)),
            (
                "iscrizioni",
                "iscrizioni.xlsx",
                enrolments_xlsx(&p, &school, false),
            ),
            ("saldi", "saldi.csv", balances_csv(&p)),
        ];
        let before = state(&t).await;
        // A dry run of the first file: no error, nothing written.
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "prova",
            "genitori.csv",
            &files[0].2,
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(span(&html, "esito-nuove"), "4");
        assert_eq!(state(&t).await, before);

        let expected_new = [4, 3, 3, 2];
        for ((kind, name, bytes), new) in files.iter().zip(expected_new) {
            let (status, location, html) =
                upload(&app, &client, &csrf, kind, "importa", name, bytes).await;
            assert_eq!(status, 303, "{kind}: {html}");
            assert!(location.starts_with(&format!("{BASE}/")), "{location}");
            let html = finished(&app, &client, &location).await;
            assert!(html.contains("data-stato=\"completata\""), "{kind}: {html}");
            assert_eq!(span(&html, "righe-nuove"), new.to_string(), "{kind}");
            // The htmx fragment of a finished job no longer polls.
            let r = client
                .get(app.url(&location))
                .header("hx-request", "true")
                .send()
                .await
                .unwrap();
            let fragment = r.text().await.unwrap();
            assert!(
                fragment.starts_with("<div id=\"avanzamento\""),
                "{fragment}"
            );
            assert!(!fragment.contains("hx-trigger"), "{fragment}");
        }
        let after = state(&t).await;
        let grew: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        // guardians, families, delegates, pupils, enrolments; accounts: one per enrolled
        // family (the balances' families are the same); two carry-over entries worth 9,50.
        assert_eq!(&grew[..6], &[4, 3, 1, 3, 3, 3], "{grew:?}");
        assert_eq!(grew[6], 2);
        assert_eq!(grew[7], 950);

        {
            let mut h = t.db.acquire().await.unwrap();
            let c = &mut h.conn();
            let year = registry::calendar::school_years(c, tn.id)
                .await
                .unwrap()
                .into_iter()
                .find(|y| y.label == "2026/2027")
                .unwrap();
            let refezione = registry::service::services(c, tn.id, year.id)
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.kind == ServiceKind::Refezione)
                .unwrap();
            let mut balances = Vec::new();
            for (i, payer) in p.payers.iter().enumerate() {
                let g = family::guardian_by_fiscal_code(
                    c,
                    tn.id,
                    &CodiceFiscale::parse(payer).unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
                let (fam, _) = family::families_of_guardian(c, tn.id, g.id)
                    .await
                    .unwrap()
                    .into_iter()
                    .next()
                    .unwrap();
                if i == 0 {
                    assert_eq!(fam.isee, Some(Cents(950_000)));
                    assert_eq!(g.email.as_deref(), Some("paolo@example.org"));
                }
                let acc = ledger::account_of(c, tn.id, fam.id, refezione.id)
                    .await
                    .unwrap()
                    .unwrap();
                balances.push(ledger::balance(c, tn.id, acc.id).await.unwrap());
                let pupils = family::pupils_of_family(c, tn.id, fam.id).await.unwrap();
                assert_eq!(pupils.len(), 1);
                let enrolments = registry::service::enrolments_of_pupil(c, tn.id, pupils[0].id)
                    .await
                    .unwrap();
                assert_eq!(enrolments.len(), 1);
                assert_eq!(enrolments[0].card_code, format!("IMP-000{}", i + 1));
                assert_eq!(enrolments[0].start_date, Date::new(2026, 9, 14).unwrap());
                if i == 1 {
                    // The price the previous vendor charged, with its reductions.
                    assert_eq!(enrolments[0].meal_price, Cents(450));
                }
            }
            assert_eq!(balances, [Cents(1250), Cents(-300), Cents(0)]);
            let keys = db_import::ledger_keys_with_prefix(c, tn.id, "import:balance:")
                .await
                .unwrap();
            assert_eq!(keys.len(), 2);
            let delegate = family::guardian_by_fiscal_code(
                c,
                tn.id,
                &CodiceFiscale::parse(&p.delegate).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
            let links = family::families_of_guardian(c, tn.id, delegate.id)
                .await
                .unwrap();
            assert_eq!(links.len(), 1);
            assert!(matches!(
                links[0].1,
                family::Link::Delegate {
                    can_see_payments: true
                }
            ));
        }
        let audits = scalar(&t, "SELECT COUNT(*) FROM audit_log WHERE action = 'import'").await;
        assert_eq!(audits, 4);

        // The same files again: every row already present, nothing written.
        for (kind, name, bytes) in &files {
            let (status, location, html) =
                upload(&app, &client, &csrf, kind, "importa", name, bytes).await;
            assert_eq!(status, 303, "{kind}: {html}");
            let html = finished(&app, &client, &location).await;
            assert_eq!(span(&html, "righe-nuove"), "0", "{kind}: {html}");
        }
        assert_eq!(state(&t).await, after);

        // The list shows the eight imports.
        let (status, html) = page(&client, &app, BASE).await;
        assert_eq!(status, 200);
        assert_eq!(html.matches("<td>Completata</td>").count(), 8, "{html}");
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn large_files_and_other_types_are_refused_and_templates_download() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let before = everything(&t).await;
        let mut big = b"Codice fiscale;Cognome;Nome\r\n".to_vec();
        big.resize(10 * 1024 * 1024 + 1, b'a');
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "importa",
            "grande.csv",
            &big,
        )
        .await;
        assert_eq!(status, 422, "{}", &html[..html.len().min(2000)]);
        assert!(html.contains("Il file è troppo grande"), "{html}");
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "prova",
            "programma.exe",
            b"MZ\x90\x00\x03\x00\x00\x00",
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("Tipo di file non ammesso"), "{html}");
        // An executable renamed .csv is refused by its content.
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "importa",
            "genitori.csv",
            b"MZ\x90\x00\x03\x00\x00\x00",
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains("non è un CSV di testo"), "{html}");
        // No file, no kind.
        let (ct, body) = multipart(&[("_csrf", &csrf), ("azione", "prova")], None);
        let r = client
            .post(app.url(BASE))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(html.contains("Scegli che cosa contiene il file"), "{html}");
        // A wrong CSRF token: refused before anything is read.
        let (status, _, _) = upload(
            &app,
            &client,
            "0000",
            "genitori",
            "importa",
            "genitori.csv",
            &guardians_csv(&people()),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(everything(&t).await, before);

        for kind in ["genitori", "alunni", "iscrizioni", "saldi"] {
            let r = client
                .get(app.url(&format!("{BASE}/modelli/{kind}.csv")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/csv")
            );
            assert!(
                r.headers()["content-disposition"]
                    .to_str()
                    .unwrap()
                    .contains(&format!("modello-{kind}.csv"))
            );
            let bytes = r.bytes().await.unwrap();
            assert!(bytes.starts_with("\u{feff}".as_bytes()));
            assert!(String::from_utf8_lossy(&bytes).contains("Codice fiscale"));
        }
        let r = client
            .get(app.url(&format!("{BASE}/modelli/altro.csv")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_running_job_is_polled_and_one_left_by_a_stopped_node_shows_interrupted() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, _) = office(&app).await;
        let tn = crate::common::demo_tenant(&t).await;
        let job = {
            let mut h = t.db.acquire().await.unwrap();
            db_import::insert_job(
                &mut h.conn(),
                tn.id,
                &db_import::NewJob {
                    kind: "pupils",
                    file_name: "alunni.csv",
                    file_sha256: "00",
                    rows_total: 120,
                    created_by: "staff:1",
                },
                refettorio_domain::Clock::now(app.clock.as_ref()),
            )
            .await
            .unwrap()
        };
        let path = format!("{BASE}/{job}");
        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-stato=\"in-corso\""), "{html}");
        assert!(html.contains("hx-trigger=\"every 1s\""), "{html}");
        assert!(html.contains("Righe nel file: 120"), "{html}");
        // The import, on whichever node runs it, reports its progress in the database: every
        // node shows it.
        {
            let mut h = t.db.acquire().await.unwrap();
            db_import::report_progress(
                &mut h.conn(),
                tn.id,
                job,
                Some((30, 118)),
                refettorio_domain::Clock::now(app.clock.as_ref()),
            )
            .await
            .unwrap();
        }
        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-stato=\"in-corso\""), "{html}");
        assert!(html.contains("Righe scritte: 30 di 118"), "{html}");
        // No process runs it: after half an hour it is shown as interrupted, and not polled.
        app.clock.advance(jiff::SignedDuration::from_mins(31));
        // (The session has expired meanwhile: log in again.)
        let (client, _) = office(&app).await;
        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200);
        assert!(html.contains("data-stato=\"non-riuscita\""), "{html}");
        assert!(html.contains("si è interrotta"), "{html}");
        assert!(!html.contains("hx-trigger"), "{html}");
        // Another municipality's id space: an unknown job is 404.
        let (status, _) = page(&client, &app, &format!("{BASE}/{}", job + 1000)).await;
        assert_eq!(status, 404);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn an_import_interrupted_half_way_writes_nothing_and_the_retry_imports_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let p = people();
        let file = guardians_csv(&p);
        // The last guardian of the file fails to be written, as a crash after the others
        // were would: the job fails and the transaction is gone whole.
        let last = &p.payers[2];
        crate::common::exec(
            &t,
            &format!(
                "CREATE FUNCTION refettorio_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
                 CREATE TRIGGER fail_insert BEFORE INSERT ON guardian FOR EACH ROW
                 WHEN (NEW.fiscal_code = '{last}') EXECUTE FUNCTION refettorio_fail();"
            ),
            &format!(
                "CREATE TRIGGER fail_insert BEFORE INSERT ON guardian
                 WHEN NEW.fiscal_code = '{last}'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            ),
        )
        .await;
        let before = state(&t).await;
        let (status, location, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "importa",
            "genitori.csv",
            &file,
        )
        .await;
        assert_eq!(status, 303, "{html}");
        let html = finished(&app, &client, &location).await;
        assert!(html.contains("data-stato=\"non-riuscita\""), "{html}");
        assert!(!html.contains("injected failure"), "no internals: {html}");
        assert_eq!(state(&t).await, before, "nothing of the file written");

        // The same file once the failure is gone: every row, once; a third time, none.
        crate::common::exec(
            &t,
            "DROP TRIGGER fail_insert ON guardian",
            "DROP TRIGGER fail_insert",
        )
        .await;
        for new in ["4", "0"] {
            let (status, location, html) = upload(
                &app,
                &client,
                &csrf,
                "genitori",
                "importa",
                "genitori.csv",
                &file,
            )
            .await;
            assert_eq!(status, 303, "{html}");
            let html = finished(&app, &client, &location).await;
            assert!(html.contains("data-stato=\"completata\""), "{html}");
            assert_eq!(span(&html, "righe-nuove"), new);
        }
        let after = state(&t).await;
        assert_eq!(after[0], before[0] + 4, "four guardians, once");
        app.stop().await;
        t.cleanup().await;
    }
}

/// The report's first file: cells A1 and XFD1048576, a few KB (calamine's `Range` of it
/// is 512 GB).
fn sparse_xlsx() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Codice fiscale").unwrap();
    ws.write_string(1_048_575, 16_383, "x").unwrap();
    wb.save_to_buffer().unwrap()
}

/// The report's second file: 1 GB of text in cell A2, deflated to about 1 MB.
fn zip_bomb_xlsx() -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let pkg = "http://schemas.openxmlformats.org/package/2006/relationships";
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in [
        (
            "_rels/.rels",
            format!(
                r#"<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/workbook.xml",
            format!(
                r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{rel}"><sheets><sheet name="Foglio1" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
            ),
        ),
    ] {
        z.start_file(name, o).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    z.start_file("xl/worksheets/sheet1.xml", o).unwrap();
    z.write_all(br#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Codice fiscale</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>"#).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..1024 {
        z.write_all(&chunk).unwrap();
    }
    z.write_all(b"</t></is></c></row></sheetData></worksheet>")
        .unwrap();
    z.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_spreadsheet_over_the_limits_is_refused_in_italian_and_the_server_keeps_answering() {
    let (sparse, bomb) = (sparse_xlsx(), zip_bomb_xlsx());
    assert!(sparse.len() < 8192, "{}", sparse.len());
    assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
    let declared = "Il foglio dichiara 1.048.576 righe e 16.384 colonne: il limite è 200.000 righe e 100 colonne.";
    let unpacked = "una volta decompresso, supera i 50 MB ammessi";
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let before = everything(&t).await;
        for (action, name, bytes, why) in [
            // The bomb first: without the limits it is read (3 GB) and fails the test here,
            // before the sparse sheet would abort the process.
            ("prova", "bomba.xlsx", &bomb, unpacked),
            ("importa", "bomba.xlsx", &bomb, unpacked),
            ("prova", "anagrafe.xlsx", &sparse, declared),
            ("importa", "anagrafe.xlsx", &sparse, declared),
        ] {
            let (status, location, html) =
                upload(&app, &client, &csrf, "genitori", action, name, bytes).await;
            assert_eq!(status, 422, "{name} {action}: {html}");
            assert_eq!(location, "", "no job");
            assert!(html.contains(why), "{name} {action}: {html}");
            // The server still answers.
            let (status, html) = page(&client, &app, BASE).await;
            assert_eq!(status, 200, "{html}");
        }
        // And still reads a good file.
        let (status, _, html) = upload(
            &app,
            &client,
            &csrf,
            "genitori",
            "prova",
            "genitori.csv",
            &guardians_csv(&people()),
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(everything(&t).await, before, "nothing written");
        app.stop().await;
        t.cleanup().await;
    }
}
