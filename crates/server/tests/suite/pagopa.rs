//! pagoPA over real HTTP on both databases: a family's recharge through the sandbox (which
//! plays the node against our station with real SOAP), the station's answers and faults, a
//! thousand copies of one receipt credited once, receipts for unknown notices kept, live mode
//! sending the cart to a Checkout stand-in, and payments the office records once.
//!
//! Every SOAP message these tests send to the station or get back is checked against the
//! official XSD with `xmllint` (the schemas the codec's tests use, in
//! `crates/pagopa/tests/fixtures/pagopa/xsd`), and so is the receipt the sandbox delivered.

use std::io::Write as _;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::{
    App, MONDAY_8AM, browser, csrf_of, exec, login, page, post, scalar, spawn, spawn_with, text,
    value_of,
};
use refettorio_app::demo::{DEMO_PARENT_CF, DEMO_PARENT_PASSWORD};
use refettorio_app::pagopa::{self as pay, OfficePayment, RechargeAmount};
use refettorio_app::{AppError, Ctx, portal};
use refettorio_db::ledger;
use refettorio_db::pagopa::{self as store, Position, PositionStatus, ReceiptStatus};
use refettorio_db::registry::{family, tenant};
use refettorio_db::testing::TestDb;
use refettorio_domain::{
    Actor, Cents, Clock, CodiceFiscale, HoldReason, NoticeNumber, PagoPaMode, SegregationCode,
    StaffUserId,
};
use refettorio_pagopa::{
    self as soap, GetPaymentRequest, Outcome, Receipt, ReceiptTransfer, SendRtRequest,
    StationHeader, Subject, SubjectKind, VerifyRequest, Version,
};

// ---------------------------------------------------------------------------------------------
// XSD checks

fn schema() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pagopa/tests/fixtures/pagopa/xsd/soap-envelope-paForNode.xsd")
}

/// Validates a SOAP message against paForNode.xsd (inside a SOAP envelope). Without xmllint it
/// fails when `CI` is set and skips with a notice otherwise.
fn assert_valid(what: &str, xml: &str) {
    let available = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "xmllint is missing (apt-get install libxml2-utils)"
        );
        eprintln!("NOTICE: xmllint missing, {what} not validated");
        return;
    }
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(xml.as_bytes()).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what} does not validate: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends a SOAP request to the station; both messages are validated.
async fn station(app: &App, what: &str, body: &str) -> String {
    assert_valid(&format!("{what} request"), body);
    let r = reqwest::Client::new()
        .post(app.url("/pagopa/paForNode"))
        .header("content-type", "text/xml; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{what}");
    let text = r.text().await.unwrap();
    assert_valid(&format!("{what} response"), &text);
    text
}

fn fault_code(xml: &str) -> Option<String> {
    match soap::parse_response(xml.as_bytes()).unwrap() {
        soap::Response::Fault { code, .. } => Some(code),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The demo municipality and its pagoPA settings

struct Demo {
    tenant: tenant::Tenant,
    header: StationHeader,
}

async fn demo(t: &TestDb) -> Demo {
    let mut h = t.db.acquire().await.unwrap();
    let tn = tenant::by_slug(&mut h.conn(), "esempio")
        .await
        .unwrap()
        .unwrap();
    let s = &tn.settings.pagopa;
    let header = StationHeader {
        id_pa: tn.fiscal_code.as_str().to_string(),
        id_broker_pa: s.broker_id.clone(),
        id_station: s.station_id.clone(),
    };
    Demo { tenant: tn, header }
}

/// The office's context for the use cases the tests call directly.
fn office_ctx<'a>(app: &'a App, t: &'a TestDb, d: &'a Demo) -> Ctx<'a> {
    Ctx::new(
        &t.db,
        app.clock.as_ref(),
        &d.tenant,
        Actor::Staff(StaffUserId(1)),
    )
}

/// A recharge of Mario Rossi's canteen account, created as the portal does.
async fn recharge(app: &App, t: &TestDb, d: &Demo, cents: i64) -> Position {
    let mut h = t.db.acquire().await.unwrap();
    let cf = CodiceFiscale::parse(DEMO_PARENT_CF).unwrap();
    let mario = family::guardian_by_fiscal_code(&mut h.conn(), d.tenant.id, &cf)
        .await
        .unwrap()
        .unwrap();
    let access = portal::access(&mut h.conn(), &d.tenant, mario.id)
        .await
        .unwrap();
    let ctx = Ctx::new(
        &t.db,
        app.clock.as_ref(),
        &d.tenant,
        Actor::Guardian(mario.id),
    );
    let accounts = pay::rechargeable(ctx, &access).await.unwrap();
    drop(h);
    pay::create_recharge(
        ctx,
        &access,
        accounts[0].0,
        &RechargeAmount::Amount(Cents(cents)),
    )
    .await
    .unwrap()
}

async fn balance_of(t: &TestDb, d: &Demo, p: &Position) -> Cents {
    let mut h = t.db.acquire().await.unwrap();
    ledger::balance(&mut h.conn(), d.tenant.id, p.account.unwrap())
        .await
        .unwrap()
}

async fn position(t: &TestDb, d: &Demo, p: &Position) -> Position {
    let mut h = t.db.acquire().await.unwrap();
    store::position(&mut h.conn(), d.tenant.id, p.id)
        .await
        .unwrap()
        .unwrap()
}

fn verify(d: &Demo, nav: &str) -> String {
    soap::render_verify_request(&VerifyRequest {
        header: d.header.clone(),
        fiscal_code: d.header.id_pa.clone(),
        notice_number: nav.to_string(),
    })
    .unwrap()
}

fn get_payment(d: &Demo, nav: &str, amount: Option<Cents>) -> String {
    soap::render_get_payment_request(&GetPaymentRequest {
        version: Version::V2,
        header: d.header.clone(),
        fiscal_code: d.header.id_pa.clone(),
        notice_number: nav.to_string(),
        amount,
        payment_note: Some("carrello-1".into()),
        transfer_type: None,
        due_date: None,
    })
    .unwrap()
}

/// A receipt as the node sends it, for `nav` and `cents` (one transfer to the demo's IBAN).
fn receipt(d: &Demo, version: Version, id: &str, nav: &str, cents: i64, standin: bool) -> String {
    let iuv = NoticeNumber::parse(nav).unwrap().iuv().to_string();
    let debtor = Subject::new(SubjectKind::F, DEMO_PARENT_CF, "Mario Rossi");
    soap::render_send_rt_request(&SendRtRequest {
        version,
        header: d.header.clone(),
        receipt: Receipt {
            receipt_id: id.to_string(),
            notice_number: nav.to_string(),
            fiscal_code: d.header.id_pa.clone(),
            outcome: Outcome::Ok,
            creditor_reference_id: iuv,
            payment_amount: Cents(cents),
            description: "Ricarica".into(),
            company_name: d.tenant.name.clone(),
            office_name: None,
            debtor: debtor.clone(),
            transfers: vec![ReceiptTransfer {
                id_transfer: 1,
                amount: Cents(cents),
                fiscal_code_pa: d.header.id_pa.clone(),
                company_name: None,
                iban: Some("IT61X0306909606100000012345".into()),
                mbd_attachment: None,
                remittance_information: "Ricarica".into(),
                transfer_category: "9/0107101TS/".into(),
                metadata: Vec::new(),
            }],
            id_psp: "BCITITMM".into(),
            psp_fiscal_code: None,
            psp_partita_iva: None,
            psp_company_name: "Banca di prova".into(),
            id_channel: "BCITITMM_01".into(),
            channel_description: "app".into(),
            payer: Some(debtor),
            payment_method: Some("PO".into()),
            payment_note: None,
            fee: Some(Cents(100)),
            primary_ci_incurred_fee: None,
            id_bundle: None,
            id_ci_bundle: None,
            payment_date_time: Some("2026-11-23T10:15:00".into()),
            application_date: Some(jiff::civil::date(2026, 11, 23)),
            transfer_date: Some(jiff::civil::date(2026, 11, 24)),
            metadata: Vec::new(),
            standin,
        },
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_family_recharges_online_through_the_sandbox_and_by_notice() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let client = browser();
        assert_eq!(
            login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status()
                .as_u16(),
            303
        );
        let (status, html) = page(&client, &app, "/t/esempio/area-personale/ricarica").await;
        assert_eq!(status, 200);
        assert!(html.contains("Paga online con pagoPA"), "{html}");
        let csrf = csrf_of(&html);
        let account = value_of(&html, "conto");
        let enrolment = html
            .split("name=\"pasti_")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let pasti = format!("pasti_{enrolment}");

        // Bad amounts: a clear message each, and nothing written.
        for (amount, message) in [
            ("0", "maggiore di zero"),
            ("-5", "maggiore di zero"),
            ("12,345", "al massimo due decimali"),
            ("500,01", "massimo di una ricarica è 500,00 €"),
            ("dieci", "non è valido"),
            ("", "quanti pasti vuoi pagare"),
        ] {
            let r = post(
                &client,
                &app,
                "/t/esempio/area-personale/ricarica",
                &[
                    ("_csrf", &csrf),
                    ("conto", &account),
                    ("importo", amount),
                    ("azione", "online"),
                ],
            )
            .await;
            assert_eq!(r.status().as_u16(), 422, "amount {amount:?}");
            let body = r.text().await.unwrap();
            assert!(body.contains(message), "amount {amount:?}: {body}");
        }
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/ricarica",
            &[
                ("_csrf", &csrf),
                ("conto", &account),
                ("importo", "10"),
                (&pasti, "3"),
                ("azione", "online"),
            ],
        )
        .await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("non entrambi"));
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM payment_position").await, 0);

        // Pay 25,50 € online: our Checkout client posts the cart to the sandbox, which
        // redirects to its simulated payment page.
        let before = {
            let mut h = t.db.acquire().await.unwrap();
            ledger::balance(
                &mut h.conn(),
                d.tenant.id,
                refettorio_domain::AccountId(account.parse().unwrap()),
            )
            .await
            .unwrap()
        };
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/ricarica",
            &[
                ("_csrf", &csrf),
                ("conto", &account),
                ("importo", "25,50"),
                ("azione", "online"),
            ],
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            to.starts_with("/pagopa/sandbox/pagamento?carrello="),
            "{to}"
        );
        let (status, html) = page(&client, &app, &to).await;
        assert_eq!(status, 200);
        assert!(html.contains("SIMULAZIONE"));
        assert!(html.contains("25,50 €"));
        let sandbox_csrf = csrf_of(&html);
        let cart = value_of(&html, "carrello");
        // Pay: the sandbox plays the node (verify, get payment, receipt) over HTTP.
        let r = post(
            &client,
            &app,
            "/pagopa/sandbox/pagamento",
            &[
                ("_csrf", &sandbox_csrf),
                ("carrello", &cart),
                ("esito", "paga"),
            ],
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
        let back = r.headers()["location"].to_str().unwrap().to_string();
        assert!(back.contains("/t/esempio/area-personale/avvisi/"), "{back}");
        assert!(back.ends_with("?esito=ok"), "{back}");
        let back_path = back.strip_prefix(&app.base).unwrap_or(&back).to_string();
        let (status, html) = page(&client, &app, &back_path).await;
        assert_eq!(status, 200);
        assert!(html.contains("Pagamento ricevuto"), "{html}");
        assert!(html.contains("Pagato"));

        // The balance moved by exactly 25,50 €, at once; the receipt is a PDF.
        let after = {
            let mut h = t.db.acquire().await.unwrap();
            ledger::balance(
                &mut h.conn(),
                d.tenant.id,
                refettorio_domain::AccountId(account.parse().unwrap()),
            )
            .await
            .unwrap()
        };
        assert_eq!(after.get() - before.get(), 2550);
        // The payer is told, once, on the channel chosen (e-mail by default), with the amount.
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM outbox WHERE kind = 'payment_received' AND channel = 'email' \
                 AND body LIKE '%25,50 €%'"
            )
            .await,
            1
        );
        let (_, payments) = page(&client, &app, "/t/esempio/area-personale/pagamenti").await;
        assert!(payments.contains("Ricarica pagoPA"), "{payments}");
        let id = back_path
            .split("/avvisi/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let r = client
            .get(app.url(&format!(
                "/t/esempio/area-personale/avvisi/{id}/ricevuta.pdf"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
        // The receipt that reached the station, as the sandbox sent it, is valid too.
        let mut h = t.db.acquire().await.unwrap();
        let p = store::position(
            &mut h.conn(),
            d.tenant.id,
            refettorio_domain::PositionId(id.parse().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(p.status, PositionStatus::Paid);
        assert!(p.cart_id.is_some());
        let stored = store::receipts_of_position(&mut h.conn(), d.tenant.id, p.id)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        let payload = store::receipt_payload(&mut h.conn(), d.tenant.id, &stored[0].receipt_id)
            .await
            .unwrap()
            .unwrap();
        drop(h);
        assert_valid("the sandbox's paSendRTV2", &payload);

        // Meals × price, as a printed notice: the PDF, and the amount is 4 × the meal price.
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/ricarica",
            &[
                ("_csrf", &csrf),
                ("conto", &account),
                (&pasti, "4"),
                ("azione", "avviso"),
            ],
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert!(to.ends_with("?esito=creato"), "{to}");
        let (_, html) = page(&client, &app, &to).await;
        assert!(html.contains("Avviso creato"));
        assert!(html.contains("Da pagare"));
        let notice_id = to
            .split("/avvisi/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap();
        let r = client
            .get(app.url(&format!(
                "/t/esempio/area-personale/avvisi/{notice_id}/avviso.pdf"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
        let mut h = t.db.acquire().await.unwrap();
        let p = store::position(
            &mut h.conn(),
            d.tenant.id,
            refettorio_domain::PositionId(notice_id.parse().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
        let e = refettorio_db::registry::service::enrolment(
            &mut h.conn(),
            d.tenant.id,
            refettorio_domain::EnrolmentId(enrolment.parse().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(p.amount, e.meal_price.checked_mul(4).unwrap());
        assert!(!p.description.contains("Mario") && p.description.starts_with("Ricarica"));
        drop(h);

        // Cancelling in the sandbox goes back with nothing paid.
        let r = post(
            &client,
            &app,
            &format!("/t/esempio/area-personale/avvisi/{notice_id}/paga"),
            &[("_csrf", &csrf)],
        )
        .await;
        let to = r.headers()["location"].to_str().unwrap().to_string();
        let (_, html) = page(&client, &app, &to).await;
        let cart = value_of(&html, "carrello");
        let r = post(
            &client,
            &app,
            "/pagopa/sandbox/pagamento",
            &[
                ("_csrf", &csrf_of(&html)),
                ("carrello", &cart),
                ("esito", "annulla"),
            ],
        )
        .await;
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("?esito=annullato")
        );
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Open);

        // An online recharge cancelled in Checkout leaves no stray notice: the same recharge
        // tried again pays the abandoned notice, a different amount makes a new one.
        let positions = || scalar(&t, "SELECT COUNT(*) FROM payment_position");
        let online = |meals: &'static str| {
            let (client, app, csrf, account, pasti) = (
                client.clone(),
                &app,
                csrf.clone(),
                account.clone(),
                pasti.clone(),
            );
            async move {
                let r = post(
                    &client,
                    app,
                    "/t/esempio/area-personale/ricarica",
                    &[
                        ("_csrf", &csrf),
                        ("conto", &account),
                        (&pasti, meals),
                        ("azione", "online"),
                    ],
                )
                .await;
                assert_eq!(r.status().as_u16(), 303);
                let to = r.headers()["location"].to_str().unwrap().to_string();
                let (_, html) = page(&client, app, &to).await;
                let cart = value_of(&html, "carrello");
                let r = post(
                    &client,
                    app,
                    "/pagopa/sandbox/pagamento",
                    &[
                        ("_csrf", &csrf_of(&html)),
                        ("carrello", &cart),
                        ("esito", "annulla"),
                    ],
                )
                .await;
                let back = r.headers()["location"].to_str().unwrap().to_string();
                assert!(back.ends_with("?esito=annullato"), "{back}");
                back
            }
        };
        let before = positions().await;
        let first = online("5").await;
        assert_eq!(positions().await, before + 1);
        assert_eq!(online("5").await, first);
        assert_eq!(positions().await, before + 1);
        assert_ne!(online("6").await, first);
        assert_eq!(positions().await, before + 2);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_station_answers_the_node_and_applies_receipts_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let p = recharge(&app, &t, &d, 3000).await;
        let nav = p.notice_number.as_str().to_string();
        let before = balance_of(&t, &d, &p).await;

        // paVerify and paGetPaymentV2 read only: twice, same answer, the debt untouched.
        for _ in 0..2 {
            let v = station(&app, "paVerifyPaymentNotice", &verify(&d, &nav)).await;
            match soap::parse_response(v.as_bytes()).unwrap() {
                soap::Response::VerifyOk(ok) => {
                    assert_eq!(ok.amount, Cents(3000));
                    assert_eq!(ok.fiscal_code_pa, d.header.id_pa);
                }
                other => panic!("{other:?}"),
            }
            let g = station(
                &app,
                "paGetPaymentV2",
                &get_payment(&d, &nav, Some(Cents(3000))),
            )
            .await;
            match soap::parse_response(g.as_bytes()).unwrap() {
                soap::Response::GetPaymentOk(Version::V2, data) => {
                    assert_eq!(data.creditor_reference_id, p.iuv);
                    assert_eq!(data.payment_amount, Cents(3000));
                    assert_eq!(data.debtor.id, DEMO_PARENT_CF);
                    assert_eq!(data.transfers.len(), 1);
                    assert_eq!(data.transfers[0].transfer_category, "9/0107101TS/");
                    assert!(g.contains("<amount>30.00</amount>") || g.contains("30.00"));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Open);
        assert_eq!(balance_of(&t, &d, &p).await, before);

        // Faults.
        let wrong = |f: &dyn Fn(&mut StationHeader)| {
            let mut h = d.header.clone();
            f(&mut h);
            soap::render_verify_request(&VerifyRequest {
                header: h.clone(),
                fiscal_code: h.id_pa.clone(),
                notice_number: nav.clone(),
            })
            .unwrap()
        };
        let cases = [
            (
                wrong(&|h| h.id_pa = "00000000000".into()),
                "PAA_ID_DOMINIO_ERRATO",
            ),
            (
                wrong(&|h| h.id_broker_pa = "99999999999".into()),
                "PAA_ID_INTERMEDIARIO_ERRATO",
            ),
            (
                wrong(&|h| h.id_station = "99999999999_09".into()),
                "PAA_STAZIONE_INT_ERRATA",
            ),
            (
                verify(
                    &d,
                    NoticeNumber::generate(SegregationCode::new(2).unwrap(), 999_999)
                        .unwrap()
                        .as_str(),
                ),
                "PAA_PAGAMENTO_SCONOSCIUTO",
            ),
            (get_payment(&d, &nav, Some(Cents(2999))), "PAA_SEMANTICA"),
        ];
        for (body, code) in cases {
            let answer = station(&app, code, &body).await;
            assert_eq!(fault_code(&answer).as_deref(), Some(code), "{answer}");
        }
        // Not XML at all: a SOAP fault, no internals. A known operation with an amount of one
        // decimal: that operation's KO with PAA_SINTASSI_EXTRAXSD.
        let r = reqwest::Client::new()
            .post(app.url("/pagopa/paForNode"))
            .body("<not xml")
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(text.contains("PAA_SINTASSI_EXTRAXSD"), "{text}");
        assert!(!text.to_lowercase().contains("sqlx") && !text.contains("panicked"));
        let bad = get_payment(&d, &nav, Some(Cents(3000))).replace("30.00", "30.0");
        let r = reqwest::Client::new()
            .post(app.url("/pagopa/paForNode"))
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let text = r.text().await.unwrap();
        assert_valid("the KO of a malformed paGetPaymentV2", &text);
        assert_eq!(fault_code(&text).as_deref(), Some("PAA_SINTASSI_EXTRAXSD"));

        // A receipt whose transfers don't add up to the amount paid: acknowledged, kept with
        // its XML for the office, nothing credited, the notice still open.
        let odd_sum = receipt(&d, Version::V2, "rt-sum", &nav, 3000, false).replace(
            "<paymentAmount>30.00</paymentAmount>",
            "<paymentAmount>31.00</paymentAmount>",
        );
        let answer = station(&app, "paSendRTV2 not adding up", &odd_sum).await;
        assert!(fault_code(&answer).is_none(), "{answer}");
        assert_eq!(
            hold_of(&t, "rt-sum").await,
            ("held".to_string(), "transfers_differ".to_string())
        );
        assert_eq!(
            crate::common::text(
                &t,
                "SELECT payload FROM pagopa_receipt WHERE receipt_id = 'rt-sum'"
            )
            .await,
            odd_sum
        );
        assert_eq!(balance_of(&t, &d, &p).await, before);
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Open);

        // The receipt: credited once; the same receiptId again is a duplicate.
        let rt = receipt(&d, Version::V2, "rt-0001", &nav, 3000, false);
        let ok = station(&app, "paSendRTV2", &rt).await;
        assert!(matches!(
            soap::parse_response(ok.as_bytes()).unwrap(),
            soap::Response::SendRtOk(Version::V2)
        ));
        assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 3000);
        let again = station(&app, "paSendRTV2 again", &rt).await;
        assert_eq!(fault_code(&again).as_deref(), Some("PAA_RECEIPT_DUPLICATA"));
        assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 3000);
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Paid);
        // Paid: the node is told so.
        let v = station(&app, "paVerify of a paid notice", &verify(&d, &nav)).await;
        assert_eq!(fault_code(&v).as_deref(), Some("PAA_PAGAMENTO_DUPLICATO"));

        // Stand-In: a V1 receipt with no paGetPayment before it is applied all the same.
        let q = recharge(&app, &t, &d, 1500).await;
        let before_q = balance_of(&t, &d, &q).await;
        let rt = receipt(
            &d,
            Version::V1,
            "rt-standin",
            q.notice_number.as_str(),
            1500,
            true,
        );
        let ok = station(&app, "paSendRT (Stand-In)", &rt).await;
        assert!(fault_code(&ok).is_none(), "{ok}");
        assert_eq!(balance_of(&t, &d, &q).await.get() - before_q.get(), 1500);

        // A receipt for a notice we never issued, of a known municipality: accepted and kept
        // for the office; nothing credited.
        let ghost = NoticeNumber::generate(SegregationCode::new(2).unwrap(), 7_777_777).unwrap();
        let entries_before = scalar(&t, "SELECT COUNT(*) FROM ledger_entry").await;
        let ok = station(
            &app,
            "paSendRTV2 unknown notice",
            &receipt(&d, Version::V2, "rt-ghost", ghost.as_str(), 999, false),
        )
        .await;
        assert!(fault_code(&ok).is_none(), "{ok}");
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM ledger_entry").await,
            entries_before
        );
        let mut h = t.db.acquire().await.unwrap();
        let kept = store::receipts_with_status(&mut h.conn(), d.tenant.id, ReceiptStatus::Held)
            .await
            .unwrap();
        drop(h);
        let kept: Vec<_> = kept
            .into_iter()
            .filter(|r| r.notice_number == ghost.as_str())
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].hold_reason, Some(HoldReason::UnknownNotice));
        // A receipt naming a wrong station of a known municipality is still taken, but held
        // for the office: nothing credited, the notice still open. An unknown municipality's
        // is refused.
        let mut odd = d.header.clone();
        odd.id_station = "99999999999_09".into();
        let other = recharge(&app, &t, &d, 1000).await;
        let rt = receipt(
            &d,
            Version::V2,
            "rt-odd",
            other.notice_number.as_str(),
            1000,
            false,
        )
        .replace(&d.header.id_station, &odd.id_station);
        let before_other = balance_of(&t, &d, &other).await;
        let ok = station(&app, "paSendRTV2 other station", &rt).await;
        assert!(fault_code(&ok).is_none(), "{ok}");
        assert_eq!(balance_of(&t, &d, &other).await, before_other);
        assert_eq!(position(&t, &d, &other).await.status, PositionStatus::Open);
        assert_eq!(
            hold_of(&t, "rt-odd").await,
            ("held".to_string(), "wrong_station".to_string())
        );
        let rt = receipt(&d, Version::V2, "rt-x", ghost.as_str(), 999, false).replace(
            &format!("<idPA>{}</idPA>", d.header.id_pa),
            "<idPA>00000000000</idPA>",
        );
        let no = station(&app, "paSendRTV2 unknown idPA", &rt).await;
        assert_eq!(fault_code(&no).as_deref(), Some("PAA_ID_DOMINIO_ERRATO"));

        // Past its due date an open notice is expired.
        let late = recharge(&app, &t, &d, 1000).await;
        app.clock.advance(jiff::SignedDuration::from_hours(24 * 40));
        let v = station(
            &app,
            "paVerify expired",
            &verify(&d, late.notice_number.as_str()),
        )
        .await;
        assert_eq!(fault_code(&v).as_deref(), Some("PAA_PAGAMENTO_SCADUTO"));
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_thousand_copies_of_one_receipt_credit_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let p = recharge(&app, &t, &d, 4200).await;
        let before = balance_of(&t, &d, &p).await;
        let rt = receipt(
            &d,
            Version::V2,
            "rt-storm",
            p.notice_number.as_str(),
            4200,
            false,
        );
        assert_valid("paSendRTV2", &rt);
        let client = reqwest::Client::new();
        let url = app.url("/pagopa/paForNode");
        let mut tasks = Vec::new();
        for _ in 0..1000 {
            let (client, url, rt) = (client.clone(), url.clone(), rt.clone());
            tasks.push(tokio::spawn(async move {
                let r = client.post(url).body(rt).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.text().await.unwrap()
            }));
        }
        let (mut ok, mut duplicate) = (0, 0);
        for task in tasks {
            let text = task.await.unwrap();
            match fault_code(&text).as_deref() {
                None => ok += 1,
                Some("PAA_RECEIPT_DUPLICATA") => duplicate += 1,
                Some(other) => panic!("unexpected fault {other}: {text}"),
            }
        }
        assert_eq!((ok, duplicate), (1, 999), "{}", t.db.backend().as_str());
        assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 4200);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM ledger_entry WHERE idempotency_key = 'pagopa:rt:rt-storm'"
            )
            .await,
            1
        );
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM pagopa_receipt").await, 1);
        app.stop().await;
        t.cleanup().await;
    }
}

/// Sends a receipt to the station as the node would; the answer must be the operation's OK.
async fn acknowledged(app: &App, what: &str, rt: &str) {
    let answer = station(app, what, rt).await;
    assert!(fault_code(&answer).is_none(), "{what}: {answer}");
}

async fn hold_of(t: &TestDb, receipt_id: &str) -> (String, String) {
    let sql = format!(
        "SELECT status || ' ' || COALESCE(hold_reason, '-') FROM pagopa_receipt WHERE receipt_id = '{receipt_id}'"
    );
    let both = text(t, &sql).await;
    let (status, reason) = both.split_once(' ').unwrap();
    (status.to_string(), reason.to_string())
}

/// The attacks of issue 12 on the station: an inflated amount, more receipts for a notice
/// already paid, another station, transfers that do not add up. Each is acknowledged (pagoPA's
/// receipts are not refused) and held for the office; none credits a cent. Then the office
/// sees each with its reason and sets one aside, once.
#[tokio::test]
async fn forged_and_inflated_receipts_credit_nothing_and_wait_for_the_office() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let p = recharge(&app, &t, &d, 1000).await;
        let nav = p.notice_number.as_str();
        let start = balance_of(&t, &d, &p).await;
        let entries = || scalar(&t, "SELECT COUNT(*) FROM ledger_entry");

        // 999,999,999.99 € for a notice of 10 €.
        let e0 = entries().await;
        let inflated = receipt(&d, Version::V2, "rt-inflated", nav, 99_999_999_999, false);
        acknowledged(&app, "inflated paSendRTV2", &inflated).await;
        assert_eq!(balance_of(&t, &d, &p).await, start);
        assert_eq!(entries().await, e0);
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Open);
        assert_eq!(
            hold_of(&t, "rt-inflated").await,
            ("held".into(), "amount_differs".into())
        );
        // One cent less is no better.
        acknowledged(
            &app,
            "short paSendRTV2",
            &receipt(&d, Version::V2, "rt-short", nav, 999, false),
        )
        .await;
        assert_eq!(hold_of(&t, "rt-short").await.1, "amount_differs");

        // The right receipt credits the notice's amount once.
        acknowledged(
            &app,
            "paSendRTV2",
            &receipt(&d, Version::V2, "rt-right", nav, 1000, false),
        )
        .await;
        assert_eq!(balance_of(&t, &d, &p).await.get() - start.get(), 1000);
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Paid);

        // Ten more receipts with new ids for the paid notice: each kept, none credited.
        let e1 = entries().await;
        for i in 0..10 {
            let id = format!("rt-again-{i}");
            acknowledged(
                &app,
                "second paSendRTV2",
                &receipt(&d, Version::V2, &id, nav, 1000, false),
            )
            .await;
            assert_eq!(
                hold_of(&t, &id).await,
                ("held".into(), "already_paid".into())
            );
        }
        assert_eq!(entries().await, e1);
        assert_eq!(balance_of(&t, &d, &p).await.get() - start.get(), 1000);

        // Another broker, and transfers that do not add up, on a fresh notice.
        let q = recharge(&app, &t, &d, 2000).await;
        let qnav = q.notice_number.as_str();
        let q_start = balance_of(&t, &d, &q).await;
        let wrong_broker = receipt(&d, Version::V2, "rt-broker", qnav, 2000, false).replace(
            &format!("<idBrokerPA>{}</idBrokerPA>", d.header.id_broker_pa),
            "<idBrokerPA>99999999999</idBrokerPA>",
        );
        acknowledged(&app, "paSendRTV2 other broker", &wrong_broker).await;
        assert_eq!(hold_of(&t, "rt-broker").await.1, "wrong_broker");
        // The transfer says 20 €, the payment 2 000 €: schema-valid, kept with its XML.
        let uneven = receipt(&d, Version::V2, "rt-uneven", qnav, 2000, false).replacen(
            "<paymentAmount>20.00</paymentAmount>",
            "<paymentAmount>2000.00</paymentAmount>",
            1,
        );
        assert!(uneven.contains("<paymentAmount>2000.00</paymentAmount>"));
        acknowledged(&app, "paSendRTV2 uneven transfers", &uneven).await;
        assert_eq!(hold_of(&t, "rt-uneven").await.1, "transfers_differ");
        assert_eq!(
            text(
                &t,
                "SELECT payload FROM pagopa_receipt WHERE receipt_id = 'rt-uneven'"
            )
            .await,
            uneven
        );
        assert_eq!(balance_of(&t, &d, &q).await, q_start);
        assert_eq!(position(&t, &d, &q).await.status, PositionStatus::Open);
        assert_eq!(entries().await, e1);

        // The office sees every held receipt with its reason.
        let client = crate::office::office(&app).await;
        let list = "/t/esempio/backoffice/pagopa/ricevute";
        let (status, html) = page(&client, &app, list).await;
        assert_eq!(status, 200);
        for needle in [
            "rt-inflated",
            "Importo diverso da quello",
            "Avviso già pagato: secondo pagamento",
            "La ricevuta indica un altro intermediario",
            "I versamenti della ricevuta non sommano",
        ] {
            assert!(html.contains(needle), "{needle}");
        }
        // Setting the inflated one aside needs a reason; then it is dismissed once.
        let id = scalar(
            &t,
            "SELECT id FROM pagopa_receipt WHERE receipt_id = 'rt-inflated'",
        )
        .await;
        let csrf = csrf_of(&html);
        let action = format!("{list}/{id}/scarta");
        let r = post(&client, &app, &action, &[("motivo", " "), ("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Indica perché la ricevuta non va accreditata")
        );
        assert_eq!(hold_of(&t, "rt-inflated").await.0, "held");
        let form = [("motivo", "importo falsificato"), ("_csrf", csrf.as_str())];
        let r = post(&client, &app, &action, &form).await;
        assert_eq!(
            r.headers()["location"],
            format!("{list}?esito=scartata").as_str()
        );
        assert_eq!(hold_of(&t, "rt-inflated").await.0, "dismissed");
        let r = post(&client, &app, &action, &form).await;
        assert_eq!(
            r.headers()["location"],
            format!("{list}?esito=gia").as_str()
        );
        // Nor can a dismissed receipt be credited afterwards.
        let r = post(
            &client,
            &app,
            &format!("{list}/{id}/riconcilia"),
            &[
                ("conto", DEMO_PARENT_CF),
                ("motivo", "ripensamento"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(
            r.headers()["location"],
            format!("{list}?esito=gia").as_str()
        );
        assert_eq!(entries().await, e1);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'dismiss_receipt'"
            )
            .await,
            1
        );
        app.stop().await;
        t.cleanup().await;
    }
}

/// Two different receipts of one notice at the same moment (two PSPs): one credits, the other
/// is held as a second payment.
#[tokio::test]
async fn two_receipts_of_one_notice_at_once_credit_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        for round in 0..5 {
            let p = recharge(&app, &t, &d, 700).await;
            let nav = p.notice_number.as_str();
            let before = balance_of(&t, &d, &p).await;
            let a = receipt(&d, Version::V2, &format!("rt-a-{round}"), nav, 700, false);
            let b = receipt(&d, Version::V2, &format!("rt-b-{round}"), nav, 700, false);
            let (ra, rb) = tokio::join!(
                station(&app, "paSendRTV2 a", &a),
                station(&app, "paSendRTV2 b", &b)
            );
            assert!(fault_code(&ra).is_none() && fault_code(&rb).is_none());
            assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 700);
            let mut reasons = vec![
                hold_of(&t, &format!("rt-a-{round}")).await,
                hold_of(&t, &format!("rt-b-{round}")).await,
            ];
            reasons.sort();
            assert_eq!(
                reasons,
                [
                    ("applied".to_string(), "-".to_string()),
                    ("held".to_string(), "already_paid".to_string())
                ]
            );
        }
        app.stop().await;
        t.cleanup().await;
    }
}

/// In live mode the station serves only the node: without the configured proof (here the
/// shared key) a caller is refused before its message is read, even from this machine, and
/// nothing is written; with it the receipt is applied. A sandbox municipality is still served
/// on loopback.
#[tokio::test]
async fn in_live_mode_only_the_node_may_call_the_station() {
    const KEY: &str = "chiave-della-stazione-lunga-almeno-32";
    for t in TestDb::all().await.unwrap() {
        let app = spawn_with(&t, true, MONDAY_8AM, |c| {
            c.scheduler = false;
            c.pagopa_station.key = Some(KEY.into());
        })
        .await;
        let d = demo(&t).await;
        let p = recharge(&app, &t, &d, 1500).await;
        let nav = p.notice_number.as_str();
        let rt = receipt(&d, Version::V2, "rt-live", nav, 1500, false);
        let send = |key: Option<&'static str>, body: String| {
            let mut r = reqwest::Client::new()
                .post(app.url("/pagopa/paForNode"))
                .header("content-type", "text/xml; charset=utf-8");
            if let Some(k) = key {
                r = r.header("x-station-key", k);
            }
            r.body(body).send()
        };
        // Sandbox: the local caller is the sandbox, served without the key.
        let v = send(None, verify(&d, nav)).await.unwrap();
        assert_eq!(v.status(), 200);
        // Live: no key, a wrong key, or a forwarded request from this machine are refused.
        let mut settings = d.tenant.settings.clone();
        settings.pagopa.mode = PagoPaMode::Live;
        {
            let mut h = t.db.acquire().await.unwrap();
            tenant::set_settings(&mut h.conn(), d.tenant.id, &settings)
                .await
                .unwrap();
        }
        assert_eq!(demo(&t).await.tenant.settings.pagopa.mode, PagoPaMode::Live);
        let before = balance_of(&t, &d, &p).await;
        let receipts = scalar(&t, "SELECT COUNT(*) FROM pagopa_receipt").await;
        for key in [None, Some("chiave-sbagliata")] {
            let r = send(key, rt.clone()).await.unwrap();
            assert_eq!(r.status(), 403, "{key:?}");
            let r = send(key, verify(&d, nav)).await.unwrap();
            assert_eq!(r.status(), 403, "{key:?}");
        }
        let forwarded = reqwest::Client::new()
            .post(app.url("/pagopa/paForNode"))
            .header("x-forwarded-for", "203.0.113.7")
            .body(rt.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(forwarded.status(), 403);
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM pagopa_receipt").await,
            receipts
        );
        assert_eq!(balance_of(&t, &d, &p).await, before);
        // The node, with its key: applied.
        let r = send(Some(KEY), rt.clone()).await.unwrap();
        assert_eq!(r.status(), 200);
        let answer = r.text().await.unwrap();
        assert!(fault_code(&answer).is_none(), "{answer}");
        assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 1500);
        app.stop().await;

        // Without any proof configured, a live municipality's station is closed to everyone.
        let app = spawn(&t, false).await;
        let r = reqwest::Client::new()
            .post(app.url("/pagopa/paForNode"))
            .body(verify(&d, nav))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        app.stop().await;
        t.cleanup().await;
    }
}

/// The carts a Checkout stand-in received, each with the subscription key it came with.
type Carts = Arc<Mutex<Vec<(serde_json::Value, Option<String>)>>>;

/// A stand-in for pagoPA Checkout: keeps the carts and the keys it got, answers 302.
async fn fake_checkout() -> (String, Carts) {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    let seen: Carts = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/checkout/ec/v1/carts",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let key = headers
                    .get("ocp-apim-subscription-key")
                    .map(|v| v.to_str().unwrap().to_string());
                kept.lock()
                    .unwrap()
                    .push((serde_json::from_str(&body).unwrap(), key));
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "https://checkout.example/c/abc")],
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn live_mode_sends_the_cart_to_checkout_and_turns_the_sandbox_off() {
    let t = TestDb::sqlite().await.unwrap();
    let app = spawn(&t, true).await;
    let d = demo(&t).await;
    let (base, seen) = fake_checkout().await;
    let mut settings = d.tenant.settings.clone();
    settings.pagopa.mode = PagoPaMode::Live;
    settings.pagopa.checkout_base_url = Some(base);
    settings.pagopa.checkout_key = Some("chiave-di-prova".into());
    {
        let mut h = t.db.acquire().await.unwrap();
        tenant::set_settings(&mut h.conn(), d.tenant.id, &settings)
            .await
            .unwrap();
    }
    let client = browser();
    login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD).await;
    let (_, html) = page(&client, &app, "/t/esempio/area-personale/ricarica").await;
    let account = value_of(&html, "conto");
    let r = post(
        &client,
        &app,
        "/t/esempio/area-personale/ricarica",
        &[
            ("_csrf", &csrf_of(&html)),
            ("conto", &account),
            ("importo", "40"),
            ("azione", "online"),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "https://checkout.example/c/abc");
    let carts = seen.lock().unwrap().clone();
    assert_eq!(carts.len(), 1);
    let (cart, key) = &carts[0];
    assert_eq!(key.as_deref(), Some("chiave-di-prova"));
    let notice = &cart["paymentNotices"][0];
    assert_eq!(notice["amount"], 4000);
    assert_eq!(notice["fiscalCode"], d.header.id_pa.as_str());
    assert!(NoticeNumber::parse(notice["noticeNumber"].as_str().unwrap()).is_ok());
    assert!(
        cart["returnUrls"]["returnOkUrl"]
            .as_str()
            .unwrap()
            .ends_with("?esito=ok")
    );
    let id_cart = cart["idCart"].as_str().unwrap();
    let mut h = t.db.acquire().await.unwrap();
    let p = store::position_by_notice(
        &mut h.conn(),
        d.tenant.id,
        notice["noticeNumber"].as_str().unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    drop(h);
    assert_eq!(p.cart_id.as_deref(), Some(id_cart));
    // The sandbox does not take this municipality's carts any more.
    let r = reqwest::Client::new()
        .post(app.url("/pagopa/sandbox/checkout/ec/v1/carts"))
        .json(cart)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    app.stop().await;
    t.cleanup().await;
}

#[tokio::test]
async fn the_office_records_a_payment_made_elsewhere_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let p = recharge(&app, &t, &d, 1000).await;
        let account = p.account.unwrap();
        let before = balance_of(&t, &d, &p).await;
        let good = OfficePayment {
            account,
            amount: "60,00".into(),
            day: "2026-11-20".into(),
            channel: "bonifico".into(),
            reference: "CRO 0012 3456".into(),
            note: "Bonifico della nonna".into(),
        };
        // Bad input: every field named, nothing written.
        let bad = OfficePayment {
            amount: "0".into(),
            day: "2026-12-31".into(),
            channel: "piccione".into(),
            reference: " ".into(),
            ..good.clone()
        };
        match pay::record_office_payment(office_ctx(&app, &t, &d), &bad).await {
            Err(AppError::Fields(f)) => {
                let names: Vec<_> = f.iter().map(|e| e.field).collect();
                assert_eq!(names, ["importo", "data", "canale", "riferimento"]);
            }
            other => panic!("{other:?}"),
        }
        // Twice at the same moment, then again with the reference typed differently: one credit.
        let (a, b) = tokio::join!(
            pay::record_office_payment(office_ctx(&app, &t, &d), &good),
            pay::record_office_payment(office_ctx(&app, &t, &d), &good),
        );
        assert_eq!(
            usize::from(a.is_ok()) + usize::from(b.is_ok()),
            1,
            "{a:?} {b:?}"
        );
        // The same proof typed differently, or under another channel, is the same proof.
        for (channel, reference) in [
            ("bonifico", "cro00123456"),
            ("contanti", "CRO 0012 3456"),
            ("altro", "cro 00123456"),
        ] {
            let again = OfficePayment {
                channel: channel.into(),
                reference: reference.into(),
                ..good.clone()
            };
            match pay::record_office_payment(office_ctx(&app, &t, &d), &again).await {
                Err(AppError::Fields(f)) => {
                    assert!(f[0].message.contains("già stato registrato"), "{channel}")
                }
                other => panic!("{channel}: {other:?}"),
            }
        }
        assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 6000);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'office_payment'"
            )
            .await,
            1
        );
        let _ = app.clock.now();
        app.stop().await;
        t.cleanup().await;
    }
}

/// Where a failure is injected inside a transaction that moves money.
#[derive(Clone, Copy)]
enum Failing {
    /// The credit of receipt `rt-crash`, after its receipt id was claimed.
    Credit,
    /// The audit row of an office payment, after its credit.
    Audit,
}

/// Makes the chosen insert abort, as a crash or a lost connection would end the transaction.
async fn fail_inserts(t: &TestDb, f: Failing) {
    let (pg, sqlite) = match f {
        Failing::Credit => (
            "CREATE FUNCTION refettorio_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER fail_insert BEFORE INSERT ON ledger_entry FOR EACH ROW
             WHEN (NEW.idempotency_key = 'pagopa:rt:rt-crash') EXECUTE FUNCTION refettorio_fail();",
            "CREATE TRIGGER fail_insert BEFORE INSERT ON ledger_entry
             WHEN NEW.idempotency_key = 'pagopa:rt:rt-crash'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        ),
        Failing::Audit => (
            "CREATE FUNCTION refettorio_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log FOR EACH ROW
             WHEN (NEW.action = 'office_payment') EXECUTE FUNCTION refettorio_fail();",
            "CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log
             WHEN NEW.action = 'office_payment'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        ),
    };
    exec(t, pg, sqlite).await;
}

async fn stop_failing(t: &TestDb, f: Failing) {
    let pg = match f {
        Failing::Credit => "DROP TRIGGER fail_insert ON ledger_entry",
        Failing::Audit => "DROP TRIGGER fail_insert ON audit_log",
    };
    exec(t, pg, "DROP TRIGGER fail_insert").await;
}

#[tokio::test]
async fn a_receipt_interrupted_half_way_leaves_nothing_and_is_applied_on_the_retry() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let p = recharge(&app, &t, &d, 2200).await;
        let before = balance_of(&t, &d, &p).await;
        // The credit fails after the receipt id was claimed, inside the same transaction (as a
        // crash or a lost connection would end it).
        fail_inserts(&t, Failing::Credit).await;
        let rt = receipt(
            &d,
            Version::V2,
            "rt-crash",
            p.notice_number.as_str(),
            2200,
            false,
        );
        let answer = station(&app, "paSendRTV2 failing half-way", &rt).await;
        assert_eq!(
            fault_code(&answer).as_deref(),
            Some("PAA_SYSTEM_ERROR"),
            "{answer}"
        );
        assert!(!answer.contains("injected"), "internals leaked: {answer}");
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM pagopa_receipt").await, 0);
        assert_eq!(balance_of(&t, &d, &p).await, before);
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Open);
        // pagoPA retries: now it goes through, once.
        stop_failing(&t, Failing::Credit).await;
        let answer = station(&app, "paSendRTV2 retried", &rt).await;
        assert!(fault_code(&answer).is_none(), "{answer}");
        let again = station(&app, "paSendRTV2 retried twice", &rt).await;
        assert_eq!(fault_code(&again).as_deref(), Some("PAA_RECEIPT_DUPLICATA"));
        assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 2200);
        assert_eq!(position(&t, &d, &p).await.status, PositionStatus::Paid);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn an_office_payment_interrupted_half_way_leaves_nothing() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let p = recharge(&app, &t, &d, 1000).await;
        let before = balance_of(&t, &d, &p).await;
        // The audit row, written after the credit in the same transaction, fails.
        fail_inserts(&t, Failing::Audit).await;
        let payment = OfficePayment {
            account: p.account.unwrap(),
            amount: "35".into(),
            day: "2026-11-23".into(),
            channel: "contanti".into(),
            reference: "RIC-77".into(),
            note: String::new(),
        };
        let r = pay::record_office_payment(office_ctx(&app, &t, &d), &payment).await;
        assert!(matches!(r, Err(AppError::Db(_))), "{r:?}");
        assert_eq!(balance_of(&t, &d, &p).await, before);
        stop_failing(&t, Failing::Audit).await;
        // Entered again, it is credited once (the failed attempt did not use up the key).
        pay::record_office_payment(office_ctx(&app, &t, &d), &payment)
            .await
            .unwrap();
        assert_eq!(balance_of(&t, &d, &p).await.get() - before.get(), 3500);
        app.stop().await;
        t.cleanup().await;
    }
}

/// Mario's fee of the demo's school transport for `period`, issued as the office does.
async fn marios_fee(app: &App, t: &TestDb, d: &Demo, period: &str) -> Position {
    let bus = refettorio_domain::ServiceId(
        scalar(t, "SELECT id FROM service WHERE kind = 'trasporto'").await,
    );
    refettorio_app::fees::issue(
        office_ctx(app, t, d),
        &refettorio_app::fees::IssueRequest {
            service: bus,
            period: period.into(),
            due: None,
            dry_run: false,
        },
    )
    .await
    .unwrap();
    let id = scalar(
        t,
        &format!(
            "SELECT pp.id FROM payment_position pp WHERE pp.kind = 'fee' AND pp.period = '{period}' \
             AND pp.debtor_fiscal_code = '{DEMO_PARENT_CF}'"
        ),
    )
    .await;
    let mut h = t.db.acquire().await.unwrap();
    store::position(
        &mut h.conn(),
        d.tenant.id,
        refettorio_domain::PositionId(id),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn the_station_takes_a_fees_payment_once_and_credits_no_account() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let fee = marios_fee(&app, &t, &d, "2026-12").await;
        let nav = fee.notice_number.as_str().to_string();
        let amount = fee.amount;
        assert!(amount.get() > 0);

        // Verified and fetched with the rule's IBAN and taxonomy code.
        let v = station(&app, "paVerifyPaymentNotice fee", &verify(&d, &nav)).await;
        match soap::parse_response(v.as_bytes()).unwrap() {
            soap::Response::VerifyOk(ok) => assert_eq!(ok.amount, amount),
            other => panic!("{other:?}"),
        }
        let g = station(
            &app,
            "paGetPaymentV2 fee",
            &get_payment(&d, &nav, Some(amount)),
        )
        .await;
        match soap::parse_response(g.as_bytes()).unwrap() {
            soap::Response::GetPaymentOk(Version::V2, data) => {
                assert_eq!(data.transfers.len(), 1);
                assert_eq!(data.transfers[0].transfer_category, "9/0107102SP/");
                assert_eq!(data.debtor.id, DEMO_PARENT_CF);
            }
            other => panic!("{other:?}"),
        }

        // Past its due date a fee whose rule does not expire stays payable.
        app.clock.set("2027-01-20T09:00:00Z".parse().unwrap());
        let v = station(&app, "paVerify late fee", &verify(&d, &nav)).await;
        assert!(fault_code(&v).is_none(), "{v}");

        // The receipt: the fee paid, no account credited; a second payment (another receipt)
        // is kept for the office.
        let entries = scalar(&t, "SELECT COUNT(*) FROM ledger_entry").await;
        let rt = receipt(&d, Version::V2, "rt-fee-1", &nav, amount.get(), false);
        let ok = station(&app, "paSendRTV2 fee", &rt).await;
        assert!(fault_code(&ok).is_none(), "{ok}");
        assert_eq!(position(&t, &d, &fee).await.status, PositionStatus::Paid);
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM ledger_entry").await,
            entries
        );
        let again = station(&app, "paSendRTV2 fee again", &rt).await;
        assert_eq!(fault_code(&again).as_deref(), Some("PAA_RECEIPT_DUPLICATA"));
        let second = receipt(&d, Version::V2, "rt-fee-2", &nav, amount.get(), false);
        let ok = station(&app, "paSendRTV2 fee paid twice", &second).await;
        assert!(fault_code(&ok).is_none(), "{ok}");
        assert_eq!(
            hold_of(&t, "rt-fee-2").await,
            ("held".to_string(), "already_paid".to_string())
        );
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM ledger_entry").await,
            entries
        );
        let v = station(&app, "paVerify paid fee", &verify(&d, &nav)).await;
        assert_eq!(fault_code(&v).as_deref(), Some("PAA_PAGAMENTO_DUPLICATO"));

        // A rule that says fees expire: past the due date the node is told so.
        exec(
            &t,
            "UPDATE fee_rule SET expires = TRUE",
            "UPDATE fee_rule SET expires = 1",
        )
        .await;
        app.clock.set(MONDAY_8AM.parse().unwrap());
        let march = marios_fee(&app, &t, &d, "2027-03").await;
        app.clock.set("2027-03-01T09:00:00Z".parse().unwrap());
        let nav = march.notice_number.as_str().to_string();
        let v = station(&app, "paVerify expired fee", &verify(&d, &nav)).await;
        assert_eq!(fault_code(&v).as_deref(), Some("PAA_PAGAMENTO_SCADUTO"));

        // A cancelled fee: the node is told so, and a payment arriving anyway is kept for the
        // office, not applied.
        app.clock.set(MONDAY_8AM.parse().unwrap());
        let april = marios_fee(&app, &t, &d, "2027-04").await;
        refettorio_app::fees::change_fee(
            office_ctx(&app, &t, &d),
            april.id,
            &refettorio_app::fees::FeeChange::Cancel("Iscrizione ritirata".into()),
        )
        .await
        .unwrap();
        let nav = april.notice_number.as_str().to_string();
        let v = station(&app, "paVerify cancelled fee", &verify(&d, &nav)).await;
        assert_eq!(fault_code(&v).as_deref(), Some("PAA_PAGAMENTO_ANNULLATO"));
        let rt = receipt(
            &d,
            Version::V2,
            "rt-fee-cancelled",
            &nav,
            april.amount.get(),
            false,
        );
        let ok = station(&app, "paSendRTV2 cancelled fee", &rt).await;
        assert!(fault_code(&ok).is_none(), "{ok}");
        assert_eq!(
            hold_of(&t, "rt-fee-cancelled").await,
            ("held".to_string(), "not_payable".to_string())
        );
        assert_eq!(
            position(&t, &d, &april).await.status,
            PositionStatus::Cancelled
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_family_pays_three_fees_in_one_cart_through_the_sandbox() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let d = demo(&t).await;
        let fees = [
            marios_fee(&app, &t, &d, "2026-12").await,
            marios_fee(&app, &t, &d, "2027-01").await,
            marios_fee(&app, &t, &d, "2027-02").await,
        ];
        let client = browser();
        assert_eq!(
            login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status()
                .as_u16(),
            303
        );
        let (status, html) = page(&client, &app, "/t/esempio/area-personale/pagamenti").await;
        assert_eq!(status, 200);
        assert!(html.contains("Paga insieme online"), "{html}");
        let csrf = csrf_of(&html);
        let ids: Vec<String> = fees.iter().map(|f| f.id.get().to_string()).collect();
        let cart = "/t/esempio/area-personale/pagamenti/carrello";

        // None chosen, or another family's notice: nothing sent.
        let r = post(&client, &app, cart, &[("_csrf", csrf.as_str())]).await;
        assert_eq!(
            r.headers()["location"],
            "/t/esempio/area-personale/pagamenti?carrello=vuoto"
        );
        let other = scalar(
            &t,
            &format!(
                "SELECT MIN(id) FROM payment_position WHERE kind = 'fee' AND debtor_fiscal_code <> '{DEMO_PARENT_CF}'"
            ),
        )
        .await
        .to_string();
        let r = post(
            &client,
            &app,
            cart,
            &[("_csrf", csrf.as_str()), ("avviso", &other)],
        )
        .await;
        assert_eq!(r.status().as_u16(), 403);

        // Three together: one cart of three notices to the sandbox, paid there.
        let mut form = vec![("_csrf", csrf.as_str())];
        form.extend(ids.iter().map(|i| ("avviso", i.as_str())));
        let r = post(&client, &app, cart, &form).await;
        assert_eq!(r.status().as_u16(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            to.starts_with("/pagopa/sandbox/pagamento?carrello="),
            "{to}"
        );
        let (status, html) = page(&client, &app, &to).await;
        assert_eq!(status, 200);
        for f in &fees {
            assert!(
                html.contains(&f.notice_number.grouped())
                    || html.contains(f.notice_number.as_str()),
                "{html}"
            );
        }
        let r = post(
            &client,
            &app,
            "/pagopa/sandbox/pagamento",
            &[
                ("_csrf", &csrf_of(&html)),
                ("carrello", &value_of(&html, "carrello")),
                ("esito", "paga"),
            ],
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
        let back = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            back.ends_with("/t/esempio/area-personale/pagamenti?esito=ok"),
            "{back}"
        );
        for f in &fees {
            assert_eq!(position(&t, &d, f).await.status, PositionStatus::Paid);
        }
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM pagopa_receipt WHERE status = 'applied'"
            )
            .await,
            3
        );
        let (_, html) = page(
            &client,
            &app,
            "/t/esempio/area-personale/pagamenti?esito=ok",
        )
        .await;
        assert!(html.contains("Pagamento inviato"));
        // Paid: they cannot go in a cart again.
        let mut form = vec![("_csrf", csrf.as_str())];
        form.extend(ids.iter().map(|i| ("avviso", i.as_str())));
        let r = post(&client, &app, cart, &form).await;
        assert_eq!(
            r.headers()["location"],
            "/t/esempio/area-personale/pagamenti?carrello=non-pagabile"
        );
        app.stop().await;
    }
}
