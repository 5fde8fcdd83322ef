//! The office's tools over real HTTP on both databases: a transfer of credit between accounts
//! (once per form, never beyond the balance, not even with many at once), a held pagoPA
//! receipt credited by hand exactly once, the settings form (bad input refused by field and
//! nothing written; a good one saved and audited without the Checkout key), and the audit
//! log filtered by who.

use crate::common::{App, browser, csrf_of, exec, hidden, login, page, post, scalar, spawn, text};
use refettorio_app::Ctx;
use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF};
use refettorio_app::pagopa::{IncomingReceipt, ReceiptOutcome, apply_receipt};
use refettorio_db::registry::tenant::Tenant;
use refettorio_db::testing::TestDb;
use refettorio_domain::HoldReason;
use refettorio_domain::{AccountId, Actor, Cents, Clock};

async fn balance(t: &TestDb, tn: &Tenant, acc: AccountId) -> Cents {
    let mut h = t.db.acquire().await.unwrap();
    refettorio_db::ledger::balance(&mut h.conn(), tn.id, acc)
        .await
        .unwrap()
}

/// Ledger entries and audit rows: what a refused POST must leave as it was.
async fn written(t: &TestDb) -> (i64, i64) {
    (
        scalar(t, "SELECT COUNT(*) FROM ledger_entry").await,
        scalar(t, "SELECT COUNT(*) FROM audit_log").await,
    )
}

/// Every account: (id, family, service).
async fn accounts(t: &TestDb) -> Vec<(i64, i64, i64)> {
    let sql = "SELECT id, family_id, service_id FROM account ORDER BY id";
    let mut h = t.db.acquire().await.unwrap();
    match &mut h.conn() {
        refettorio_db::Conn::Postgres(c) => sqlx::query_as(sql).fetch_all(&mut **c).await.unwrap(),
        refettorio_db::Conn::Sqlite(c) => sqlx::query_as(sql).fetch_all(&mut **c).await.unwrap(),
    }
}

/// Mario Rossi's account and another family's account of the same service.
async fn two_accounts(t: &TestDb, tn: &Tenant) -> (AccountId, AccountId) {
    let hits = refettorio_app::people::find_families(
        refettorio_app::Ctx::new(
            &t.db,
            &refettorio_domain::SystemClock,
            tn,
            refettorio_domain::Actor::Demo,
        ),
        DEMO_PARENT_CF,
    )
    .await
    .unwrap();
    let mario = hits[0].accounts[0].0;
    let all = accounts(t).await;
    let &(_, family, service) = all.iter().find(|a| a.0 == mario.get()).unwrap();
    let other = all
        .iter()
        .find(|a| a.2 == service && a.1 != family)
        .expect("another family in the same service")
        .0;
    (mario, AccountId(other))
}

pub(crate) async fn office(app: &App) -> reqwest::Client {
    let client = browser();
    let r = login(app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    client
}

#[tokio::test]
async fn a_transfer_moves_credit_once_and_never_beyond_the_balance() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let tn = crate::common::demo_tenant(&t).await;
        let (from, to) = two_accounts(&t, &tn).await;
        let client = office(&app).await;
        let path = format!("/t/esempio/backoffice/conti/{from}");
        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200);
        assert!(html.contains("Giroconto"), "{html}");
        let csrf = csrf_of(&html);
        let token = hidden(&html, "_modulo", 2);
        let (a0, b0) = (balance(&t, &tn, from).await, balance(&t, &tn, to).await);
        assert!(a0.get() >= 1000, "the demo account has credit: {a0:?}");

        // Bad input: 422 with the field's message, nothing written.
        let before = written(&t).await;
        let dest = to.to_string();
        let own = from.to_string();
        for (dest, amount, reason, needle) in [
            (dest.as_str(), "0", "x", "maggiore di zero"),
            (dest.as_str(), "-5,00", "x", "maggiore di zero"),
            (dest.as_str(), "abc", "x", "al massimo due decimali"),
            (dest.as_str(), "5,00", " ", "Indica il motivo"),
            ("", "5,00", "x", "Indica il conto"),
            ("999999", "5,00", "x", "Conto non trovato"),
            (own.as_str(), "5,00", "x", "quello di partenza"),
            ("RSSMRA80A01H501X", "5,00", "x", "codice fiscale valido"),
            (dest.as_str(), "100000,00", "x", "supera il credito"),
        ] {
            let r = post(
                &client,
                &app,
                format!("{path}/giroconto"),
                &[
                    ("giroconto-destinazione", dest),
                    ("giroconto-importo", amount),
                    ("giroconto-causale", reason),
                    ("_modulo", token.as_str()),
                    ("_csrf", csrf.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status(), 422, "{dest} {amount} {reason}");
            let html = r.text().await.unwrap();
            assert!(html.contains(needle), "{needle}: {html}");
            assert!(html.contains("aria-invalid"), "{html}");
            assert_eq!(written(&t).await, before, "{needle}");
        }

        // By the payer's fiscal code of the other family: moved once, the same form twice
        // is written once.
        let to_cf: String = {
            let sql = "SELECT g.fiscal_code FROM guardian g JOIN family f ON f.payer_id = g.id \
                       JOIN account a ON a.family_id = f.id WHERE a.id = $1";
            let mut h = t.db.acquire().await.unwrap();
            match &mut h.conn() {
                refettorio_db::Conn::Postgres(c) => sqlx::query_scalar(sql)
                    .bind(to.get())
                    .fetch_one(&mut **c)
                    .await
                    .unwrap(),
                refettorio_db::Conn::Sqlite(c) => sqlx::query_scalar(sql)
                    .bind(to.get())
                    .fetch_one(&mut **c)
                    .await
                    .unwrap(),
            }
        };
        let form = [
            ("giroconto-destinazione", to_cf.as_str()),
            ("giroconto-importo", "7,50"),
            (
                "giroconto-causale",
                "credito del fratello iscritto con l'altro genitore",
            ),
            ("_modulo", token.as_str()),
            ("_csrf", csrf.as_str()),
        ];
        let r = post(&client, &app, format!("{path}/giroconto"), &form).await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let r = post(&client, &app, format!("{path}/giroconto"), &form).await;
        assert_eq!(r.status(), 303);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("esito=ripetuto")
        );
        assert_eq!(balance(&t, &tn, from).await, Cents(a0.get() - 750));
        assert_eq!(balance(&t, &tn, to).await, Cents(b0.get() + 750));
        let (_, log) = page(
            &client,
            &app,
            "/t/esempio/backoffice/registro?azione=transfer",
        )
        .await;
        assert!(log.contains("credito del fratello"), "{log}");

        // Many transfers at once, each of the whole balance from a fresh form: exactly one
        // passes, the balance never goes below zero, and no money appears or disappears.
        let all = a0.get() - 750;
        let total = balance(&t, &tn, from).await.get() + balance(&t, &tn, to).await.get();
        let mut tokens = Vec::new();
        for _ in 0..8 {
            let (_, html) = page(&client, &app, &path).await;
            tokens.push(hidden(&html, "_modulo", 2));
        }
        let amount = Cents(all).format_number_it();
        let dest = to.to_string();
        let runs = tokens.iter().map(|token| {
            let form = [
                ("giroconto-destinazione", dest.clone()),
                ("giroconto-importo", amount.clone()),
                ("giroconto-causale", "tutto il credito".to_string()),
                ("_modulo", token.clone()),
                ("_csrf", csrf.clone()),
            ];
            let client = client.clone();
            let url = app.url(&format!("{path}/giroconto"));
            async move {
                client
                    .post(url)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        });
        let mut set = tokio::task::JoinSet::new();
        for run in runs {
            set.spawn(run);
        }
        let statuses: Vec<u16> = set.join_all().await;
        assert_eq!(
            statuses.iter().filter(|s| **s == 303).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 303 || *s == 422),
            "{statuses:?}"
        );
        assert_eq!(balance(&t, &tn, from).await, Cents::ZERO);
        assert_eq!(
            balance(&t, &tn, from).await.get() + balance(&t, &tn, to).await.get(),
            total
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_held_receipt_is_credited_by_hand_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let tn = crate::common::demo_tenant(&t).await;
        let (acc, _) = two_accounts(&t, &tn).await;
        let receipt = IncomingReceipt {
            receipt_id: "RT-SCONOSCIUTA-1".into(),
            notice_number: "302000000000099999".into(),
            fiscal_code: tn.fiscal_code.as_str().into(),
            broker_id: tn.settings.pagopa.broker_id.clone(),
            station_id: tn.settings.pagopa.station_id.clone(),
            outcome_ok: true,
            amount: Cents(3300),
            transfers_add_up: true,
            psp_id: "PSP01".into(),
            psp_name: "Banca di prova".into(),
            payment_method: None,
            paid_at: Some(app.clock.now()),
            standin: false,
            payload: "<xml/>".into(),
        };
        let out = apply_receipt(
            Ctx::new(&t.db, app.clock.as_ref(), &tn, Actor::PagoPa),
            &receipt,
        )
        .await
        .unwrap();
        assert_eq!(out, ReceiptOutcome::Held(HoldReason::UnknownNotice));
        let id = scalar(&t, "SELECT MIN(id) FROM pagopa_receipt").await;
        let client = office(&app).await;
        let list = "/t/esempio/backoffice/pagopa/ricevute";
        let (status, html) = page(&client, &app, list).await;
        assert_eq!(status, 200);
        assert!(html.contains("RT-SCONOSCIUTA-1"), "{html}");
        let csrf = csrf_of(&html);
        let action = format!("{list}/{id}/riconcilia");

        let before = written(&t).await;
        let b0 = balance(&t, &tn, acc).await;
        for (conto, motivo, needle) in [
            ("", "bonifico del papà", "Indica il conto"),
            ("424242", "bonifico del papà", "Conto non trovato"),
            (&acc.to_string() as &str, "  ", "Indica perché"),
        ] {
            let r = post(
                &client,
                &app,
                &action,
                &[("conto", conto), ("motivo", motivo), ("_csrf", &csrf)],
            )
            .await;
            assert_eq!(r.status(), 422);
            let html = r.text().await.unwrap();
            assert!(html.contains(needle), "{needle}: {html}");
            assert_eq!(written(&t).await, before);
        }
        let form = [
            ("conto", DEMO_PARENT_CF),
            ("motivo", "avviso stampato da un altro gestionale"),
            ("_csrf", csrf.as_str()),
        ];
        // Two operators at once: one credit.
        let (r1, r2) = tokio::join!(
            post(&client, &app, &action, &form),
            post(&client, &app, &action, &form)
        );
        let mut places: Vec<String> = [r1, r2]
            .iter()
            .map(|r| {
                assert_eq!(r.status(), 303);
                r.headers()["location"].to_str().unwrap().to_string()
            })
            .collect();
        places.sort();
        assert_eq!(
            places,
            [
                format!("{list}?esito=accreditata"),
                format!("{list}?esito=gia")
            ]
        );
        assert_eq!(balance(&t, &tn, acc).await, Cents(b0.get() + 3300));
        let (_, html) = page(&client, &app, list).await;
        assert!(!html.contains("RT-SCONOSCIUTA-1"), "{html}");
        assert_eq!(
            text(&t, "SELECT status FROM pagopa_receipt").await,
            "applied"
        );
        // The family hears of its payment, as when the station applies a receipt, once.
        let told = "SELECT COUNT(*) FROM outbox WHERE kind = 'payment_received' \
                    AND idempotency_key LIKE 'payment:RT-SCONOSCIUTA-1%'";
        let messages = scalar(&t, told).await;
        assert!(messages >= 1);
        // The same receipt arriving again from the node is a duplicate: nothing more.
        let again = apply_receipt(
            Ctx::new(&t.db, app.clock.as_ref(), &tn, Actor::PagoPa),
            &receipt,
        )
        .await
        .unwrap();
        assert_eq!(again, ReceiptOutcome::Duplicate);
        assert_eq!(balance(&t, &tn, acc).await, Cents(b0.get() + 3300));
        assert_eq!(scalar(&t, told).await, messages);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_settings_are_checked_saved_and_audited() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = office(&app).await;
        let path = "/t/esempio/backoffice/impostazioni";
        let (status, html) = page(&client, &app, path).await;
        assert_eq!(status, 200);
        let csrf = csrf_of(&html);
        let field = |name: &str| crate::common::value_of(&html, name);
        let ibans = {
            let start = html.find("name=\"iban\"").unwrap();
            let body = &html[start..];
            let open = body.find('>').unwrap() + 1;
            let close = body.find("</textarea>").unwrap();
            body[open..close].to_string()
        };
        assert!(ibans.starts_with("IT"), "{ibans}");
        let mut form: Vec<(String, String)> = [
            "email",
            "telefono",
            "orario",
            "giorni",
            "intervallo",
            "bianco-giorni",
            "soglia",
            "intermediario",
            "stazione",
            "segregazione",
            "conto-postale",
            "intestatario-postale",
            "cbill",
            "checkout-url",
            "ricarica-massima",
            "scadenza",
            "settore",
        ]
        .iter()
        .map(|n| (n.to_string(), field(n)))
        .collect();
        form.push(("modalita".into(), "sandbox".into()));
        form.push(("iban".into(), ibans.clone()));
        form.push(("bianco".into(), "1".into()));
        form.push(("_csrf".into(), csrf.clone()));
        let send = |changes: Vec<(&'static str, &'static str)>| {
            let mut f = form.clone();
            for (k, v) in changes {
                f.retain(|(n, _)| n != k);
                f.push((k.to_string(), v.to_string()));
            }
            let client = client.clone();
            let url = app.url(path);
            async move { client.post(url).form(&f).send().await.unwrap() }
        };
        let before = written(&t).await;
        let settings_before = text(&t, "SELECT settings FROM tenant WHERE slug = 'esempio'").await;
        for (changes, needle) in [
            (vec![("orario", "9.75")], "formato hh:mm"),
            (vec![("orario-infanzia", "nove")], "formato hh:mm"),
            (vec![("orario-nido", "25:00")], "formato hh:mm"),
            (vec![("giorni", "0")], "da 1 a 90"),
            (
                vec![("iban", "IT00X0000000000000000000000")],
                "non è valido",
            ),
            (vec![("ricarica-massima", "0,10")], "da 1,00 a 10.000,00"),
            (vec![("modalita", "live")], "modalità reale"),
            (vec![("cbill", "AB")], "5 caratteri"),
            (vec![("checkout-url", "http://x")], "https://"),
        ] {
            let r = send(changes).await;
            assert_eq!(r.status(), 422, "{needle}");
            let html = r.text().await.unwrap();
            assert!(html.contains(needle), "{needle}: {html}");
            assert!(html.contains("aria-invalid=\"true\""), "{html}");
            assert_eq!(written(&t).await, before);
            assert_eq!(
                text(&t, "SELECT settings FROM tenant WHERE slug = 'esempio'").await,
                settings_before
            );
        }
        // A good change: saved, effective at once, audited with before and after, and the
        // Checkout key stays out of the log.
        let r = send(vec![
            ("orario", "09:15"),
            ("orario-infanzia", "09:00"),
            ("soglia", "5"),
            ("checkout-chiave", "chiave-segreta-123"),
        ])
        .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let tn = crate::common::demo_tenant(&t).await;
        assert_eq!(tn.cutoff_time.to_string(), "09:15:00");
        assert_eq!(
            tn.cutoff_for(refettorio_domain::SchoolKind::Infanzia)
                .to_string(),
            "09:00:00"
        );
        assert!(
            text(&t, "SELECT settings FROM tenant WHERE slug = 'esempio'")
                .await
                .contains(r#""cutoff_by_school_kind":{"infanzia":"09:00"}"#)
        );
        assert_eq!(tn.settings.low_balance_meals, 5);
        assert_eq!(
            tn.settings.pagopa.checkout_key.as_deref(),
            Some("chiave-segreta-123")
        );
        let (_, log) = page(
            &client,
            &app,
            "/t/esempio/backoffice/registro?azione=settings",
        )
        .await;
        assert!(log.contains("09:15") && log.contains("09:30"), "{log}");
        assert!(!log.contains("chiave-segreta-123"));
        // Saving the page as it is changes nothing and writes nothing.
        let now = written(&t).await;
        let (_, html) = page(&client, &app, path).await;
        assert!(html.contains("già impostata"), "{html}");
        let r = send(vec![
            ("orario", "09:15"),
            ("orario-infanzia", "09:00"),
            ("soglia", "5"),
        ])
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(written(&t).await, now);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_audit_log_filters_by_who() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = office(&app).await;
        let tn = crate::common::demo_tenant(&t).await;
        let (acc, _) = two_accounts(&t, &tn).await;
        let path = format!("/t/esempio/backoffice/conti/{acc}");
        let (_, html) = page(&client, &app, &path).await;
        let csrf = csrf_of(&html);
        let token = hidden(&html, "_modulo", 0);
        let r = post(
            &client,
            &app,
            format!("{path}/rettifica"),
            &[
                ("rettifica-importo", "1,00"),
                ("rettifica-causale", "prova del filtro per persona"),
                ("_modulo", &token),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let me = text(
            &t,
            "SELECT 'staff:' || CAST(id AS TEXT) FROM staff_user WHERE role = 'office' AND tenant_id IS NOT NULL",
        )
        .await;
        let other = text(
            &t,
            "SELECT 'staff:' || CAST(id AS TEXT) FROM staff_user WHERE role = 'kitchen' AND tenant_id IS NOT NULL",
        )
        .await;
        let (status, mine) = page(
            &client,
            &app,
            &format!("/t/esempio/backoffice/registro?chi={me}"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(mine.contains("prova del filtro per persona"), "{mine}");
        let (status, theirs) = page(
            &client,
            &app,
            &format!("/t/esempio/backoffice/registro?chi={other}"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(!theirs.contains("prova del filtro per persona"), "{theirs}");
        let (status, bad) = page(
            &client,
            &app,
            "/t/esempio/backoffice/registro?chi=staff:99999",
        )
        .await;
        assert_eq!(status, 422);
        assert!(bad.contains("Scegli una persona"), "{bad}");
        app.stop().await;
        t.cleanup().await;
    }
}

/// Posts the document form as a browser does (multipart).
async fn upload(
    client: &reqwest::Client,
    app: &App,
    csrf: &str,
    title: &str,
    category: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.to_string())
        .text("documento-titolo", title.to_string())
        .text("documento-categoria", category.to_string())
        .text("documento-data", String::new())
        .part(
            "documento-file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()),
        );
    client
        .post(app.url("/t/esempio/backoffice/contenuti/documenti"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn news_and_documents_are_published_checked_and_withdrawn() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = office(&app).await;
        let path = "/t/esempio/backoffice/contenuti";
        let (status, html) = page(&client, &app, path).await;
        assert_eq!(status, 200);
        let csrf = csrf_of(&html);
        let news_count = || scalar(&t, "SELECT COUNT(*) FROM news");
        let doc_count = || scalar(&t, "SELECT COUNT(*) FROM document");
        let (n0, d0) = (news_count().await, doc_count().await);

        // News: bad input refused by field, nothing written.
        let before = written(&t).await;
        for (title, body, from, to, needle) in [
            ("", "testo", "", "", "Indica il titolo"),
            ("Titolo", " ", "", "", "Scrivi il testo"),
            ("Titolo", "testo", "2026-12-10", "2026-12-01", "viene prima"),
            ("Titolo", "testo", "10/12/2026", "", "Data non valida"),
        ] {
            let r = post(
                &client,
                &app,
                format!("{path}/notizie"),
                &[
                    ("notizia-titolo", title),
                    ("notizia-testo", body),
                    ("notizia-dal", from),
                    ("notizia-al", to),
                    ("_csrf", &csrf),
                ],
            )
            .await;
            assert_eq!(r.status(), 422, "{needle}");
            let html = r.text().await.unwrap();
            assert!(html.contains(needle), "{needle}: {html}");
            assert_eq!(written(&t).await, before);
            assert_eq!(news_count().await, n0);
        }
        // A news item visible from today to Friday: on the public page now, gone after.
        let r = post(
            &client,
            &app,
            format!("{path}/notizie"),
            &[
                ("notizia-titolo", "Sciopero del personale venerdì"),
                (
                    "notizia-testo",
                    "Venerdì il servizio mensa potrebbe non essere garantito.",
                ),
                ("notizia-dal", ""),
                ("notizia-al", "2026-11-27"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let (_, public) = page(&client, &app, "/t/esempio/").await;
        assert!(
            public.contains("Sciopero del personale venerdì"),
            "{public}"
        );
        app.clock.set("2026-11-28T08:00:00Z".parse().unwrap());
        let (_, public) = page(&client, &app, "/t/esempio/").await;
        assert!(!public.contains("Sciopero del personale venerdì"));
        app.clock.set(crate::common::MONDAY_8AM.parse().unwrap());

        // Documents: a wrong type, a file that is not what its name says, an empty one, one
        // over 10 MB, a missing category: refused, nothing written.
        let before = written(&t).await;
        for (title, category, name, bytes, needle) in [
            (
                "Virus",
                "moduli",
                "modulo.exe",
                b"MZ\x90\x00".to_vec(),
                "Tipo di file non ammesso",
            ),
            (
                "Finto",
                "moduli",
                "modulo.pdf",
                b"MZ\x90\x00".to_vec(),
                "non corrisponde",
            ),
            ("Vuoto", "moduli", "modulo.pdf", Vec::new(), "vuoto"),
            (
                "Grande",
                "menu",
                "menu.pdf",
                {
                    let mut v = b"%PDF-1.7\n".to_vec();
                    v.resize(10 * 1024 * 1024 + 1, b'x');
                    v
                },
                "troppo grande",
            ),
            (
                "Senza categoria",
                "",
                "menu.pdf",
                b"%PDF-1.7\n".to_vec(),
                "Scegli la categoria",
            ),
        ] {
            let r = upload(&client, &app, &csrf, title, category, name, bytes).await;
            assert_eq!(r.status(), 422, "{needle}");
            let html = r.text().await.unwrap();
            assert!(html.contains(needle), "{needle}: {html}");
            assert_eq!(written(&t).await, before, "{needle}");
            assert_eq!(doc_count().await, d0);
        }
        // A good PDF: on the public page, downloadable with its bytes.
        let pdf = b"%PDF-1.7\n% menu invernale\n".to_vec();
        let r = upload(
            &client,
            &app,
            &csrf,
            "Menù invernale 2026/27",
            "menu",
            "Menù invernale.pdf",
            pdf.clone(),
        )
        .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let id = scalar(&t, "SELECT MAX(id) FROM document").await;
        let (_, public) = page(&client, &app, "/t/esempio/").await;
        assert!(public.contains("Menù invernale 2026/27"), "{public}");
        let r = browser()
            .get(app.url(&format!("/t/esempio/documenti/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("Menu-invernale.pdf")
        );
        assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);

        // Withdrawn: gone from the public page, audited with what it was.
        let r = post(
            &client,
            &app,
            format!("{path}/documenti/{id}/ritira"),
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 303);
        let (_, public) = page(&client, &app, "/t/esempio/").await;
        assert!(!public.contains("Menù invernale 2026/27"));
        let r = browser()
            .get(app.url(&format!("/t/esempio/documenti/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let (_, log) = page(
            &client,
            &app,
            "/t/esempio/backoffice/registro?azione=withdraw_document",
        )
        .await;
        assert!(log.contains("Menù invernale 2026/27"), "{log}");
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_kitchen_publishes_and_withdraws_menus_only() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (user, pw, _, _) = refettorio_app::demo::DEMO_STAFF
            .iter()
            .find(|s| s.3 == refettorio_domain::StaffRole::Kitchen)
            .unwrap();
        let client = browser();
        assert_eq!(login(&app, &client, user, pw).await.status(), 303);
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/menu").await;
        assert_eq!(status, 200);
        let csrf = csrf_of(&html);
        let form = |name: &str, bytes: Vec<u8>| {
            reqwest::multipart::Form::new()
                .text("_csrf", csrf.clone())
                .text("menu-titolo", "Menù primaverile")
                .text("menu-data", "")
                .part(
                    "menu-file",
                    reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
                )
        };
        let url = app.url("/t/esempio/backoffice/menu");
        // An executable: refused, nothing written.
        let before = written(&t).await;
        let r = client
            .post(&url)
            .multipart(form("menu.exe", b"MZ\x90\x00".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("Tipo di file non ammesso"));
        assert_eq!(written(&t).await, before);
        // A PDF: published as a menu, on the public page.
        let r = client
            .post(&url)
            .multipart(form("menu.pdf", b"%PDF-1.7\n".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let id = scalar(&t, "SELECT MAX(id) FROM document").await;
        assert_eq!(
            text(
                &t,
                "SELECT category FROM document WHERE id = (SELECT MAX(id) FROM document)"
            )
            .await,
            "menu"
        );
        let (_, public) = page(&client, &app, "/t/esempio/").await;
        assert!(public.contains("Menù primaverile"), "{public}");
        // The regulation is not a menu: the kitchen cannot withdraw it.
        let regulation = scalar(
            &t,
            "SELECT MIN(id) FROM document WHERE category = 'regolamento' AND family_id IS NULL",
        )
        .await;
        let before = written(&t).await;
        let r = post(
            &client,
            &app,
            format!("/t/esempio/backoffice/menu/{regulation}/ritira"),
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 404);
        assert_eq!(written(&t).await, before);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM document WHERE category = 'regolamento'"
            )
            .await,
            1
        );
        // Its own menu: withdrawn, audited with the kitchen user as actor.
        let r = post(
            &client,
            &app,
            format!("/t/esempio/backoffice/menu/{id}/ritira"),
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 303);
        let (_, public) = page(&client, &app, "/t/esempio/").await;
        assert!(!public.contains("Menù primaverile"));
        assert_eq!(
            text(
                &t,
                "SELECT actor FROM audit_log WHERE action = 'withdraw_document'"
            )
            .await,
            text(
                &t,
                "SELECT 'staff:' || CAST(id AS TEXT) FROM staff_user WHERE role = 'kitchen'"
            )
            .await
        );
        app.stop().await;
        t.cleanup().await;
    }
}

/// Makes the audit row of a transfer or of a receipt reconciliation abort its transaction,
/// as a crash after the money was written would.
async fn fail_audit_of_money(t: &TestDb) {
    exec(
        t,
        "CREATE FUNCTION refettorio_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log FOR EACH ROW
         WHEN (NEW.action IN ('transfer', 'reconcile_receipt')) EXECUTE FUNCTION refettorio_fail();",
        "CREATE TRIGGER fail_insert BEFORE INSERT ON audit_log
         WHEN NEW.action IN ('transfer', 'reconcile_receipt')
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .await;
}

async fn stop_failing(t: &TestDb) {
    exec(
        t,
        "DROP TRIGGER fail_insert ON audit_log",
        "DROP TRIGGER fail_insert",
    )
    .await;
}

#[tokio::test]
async fn a_transfer_interrupted_half_way_leaves_nothing_and_the_retry_moves_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let tn = crate::common::demo_tenant(&t).await;
        let (from, to) = two_accounts(&t, &tn).await;
        let client = office(&app).await;
        let path = format!("/t/esempio/backoffice/conti/{from}");
        let (_, html) = page(&client, &app, &path).await;
        let csrf = csrf_of(&html);
        let token = hidden(&html, "_modulo", 2);
        let (a0, b0) = (balance(&t, &tn, from).await, balance(&t, &tn, to).await);
        let dest = to.to_string();
        let form = [
            ("giroconto-destinazione", dest.as_str()),
            ("giroconto-importo", "4,00"),
            ("giroconto-causale", "prova di interruzione"),
            ("_modulo", token.as_str()),
            ("_csrf", csrf.as_str()),
        ];
        // Both entries are written, then the audit row fails: the transaction is gone whole.
        fail_audit_of_money(&t).await;
        let before = written(&t).await;
        let r = post(&client, &app, format!("{path}/giroconto"), &form).await;
        // A database that fails the statement: 503 (try again), as every database error.
        assert_eq!(r.status(), 503);
        assert_eq!(written(&t).await, before);
        assert_eq!(balance(&t, &tn, from).await, a0);
        assert_eq!(balance(&t, &tn, to).await, b0);
        // The same form again once the failure is gone: moved once.
        stop_failing(&t).await;
        let r = post(&client, &app, format!("{path}/giroconto"), &form).await;
        assert_eq!(r.status(), 303);
        let r = post(&client, &app, format!("{path}/giroconto"), &form).await;
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("esito=ripetuto")
        );
        assert_eq!(balance(&t, &tn, from).await, Cents(a0.get() - 400));
        assert_eq!(balance(&t, &tn, to).await, Cents(b0.get() + 400));
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_reconciliation_interrupted_half_way_leaves_the_receipt_held() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let tn = crate::common::demo_tenant(&t).await;
        let (acc, _) = two_accounts(&t, &tn).await;
        let receipt = IncomingReceipt {
            receipt_id: "RT-INTERROTTA".into(),
            notice_number: "302000000000088888".into(),
            fiscal_code: tn.fiscal_code.as_str().into(),
            broker_id: tn.settings.pagopa.broker_id.clone(),
            station_id: tn.settings.pagopa.station_id.clone(),
            outcome_ok: true,
            amount: Cents(1200),
            transfers_add_up: true,
            psp_id: "PSP01".into(),
            psp_name: "Banca di prova".into(),
            payment_method: None,
            paid_at: Some(app.clock.now()),
            standin: false,
            payload: "<xml/>".into(),
        };
        let out = apply_receipt(
            Ctx::new(&t.db, app.clock.as_ref(), &tn, Actor::PagoPa),
            &receipt,
        )
        .await
        .unwrap();
        assert_eq!(out, ReceiptOutcome::Held(HoldReason::UnknownNotice));
        let id = scalar(&t, "SELECT MIN(id) FROM pagopa_receipt").await;
        let client = office(&app).await;
        let list = "/t/esempio/backoffice/pagopa/ricevute";
        let (_, html) = page(&client, &app, list).await;
        let csrf = csrf_of(&html);
        let account = acc.to_string();
        let form = [
            ("conto", account.as_str()),
            ("motivo", "bonifico riconosciuto"),
            ("_csrf", csrf.as_str()),
        ];
        let action = format!("{list}/{id}/riconcilia");
        let b0 = balance(&t, &tn, acc).await;
        // The credit and the receipt's status are written, then the audit row fails.
        fail_audit_of_money(&t).await;
        let before = written(&t).await;
        let r = post(&client, &app, &action, &form).await;
        // A database that fails the statement: 503 (try again), as every database error.
        assert_eq!(r.status(), 503);
        assert_eq!(written(&t).await, before);
        assert_eq!(balance(&t, &tn, acc).await, b0);
        assert_eq!(text(&t, "SELECT status FROM pagopa_receipt").await, "held");
        // Retried once the failure is gone: credited once, and a second click writes nothing.
        stop_failing(&t).await;
        let r = post(&client, &app, &action, &form).await;
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("esito=accreditata")
        );
        let r = post(&client, &app, &action, &form).await;
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("esito=gia")
        );
        assert_eq!(balance(&t, &tn, acc).await, Cents(b0.get() + 1200));
        app.stop().await;
        t.cleanup().await;
    }
}
