//! The back office's reports over real HTTP on both databases: the figures of every report
//! match the ledger (read with SQL of their own) and move by exactly the known amounts the
//! office writes with the app's own functions; the CSV (BOM, `;`, decimal comma) and the XLSX
//! (read back with calamine: numbers as numbers) hold the page's numbers; a backwards or too
//! long period is an Italian field error (422); the kitchen sees meal counts, never money.

use crate::common::{App, browser, login, page, scalar, spawn};
use calamine::{Data, Reader, Xlsx};
use refettorio_app::Ctx;
use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF, DEMO_STAFF};
use refettorio_app::ledger::{self, ChangeKind, MoneyChange};
use refettorio_app::pagopa::{OfficePayment, record_office_payment};
use refettorio_db::testing::TestDb;
use refettorio_domain::{Actor, StaffRole, StaffUserId};

const BASE: &str = "/t/esempio/backoffice/report";

async fn download(client: &reqwest::Client, app: &App, path: &str) -> (u16, String, Vec<u8>) {
    let r = client.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, r.bytes().await.unwrap().to_vec())
}

/// The first sheet of a workbook, every cell as calamine reads it.
fn sheet(bytes: Vec<u8>) -> Vec<Vec<Data>> {
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

/// The row whose first cell is the text `first`.
fn row<'a>(rows: &'a [Vec<Data>], first: &str) -> Option<&'a Vec<Data>> {
    rows.iter()
        .find(|r| matches!(r.first(), Some(Data::String(s)) if s == first))
}

fn num(d: &Data) -> f64 {
    match d {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// (entries, euros) of a row of the entries-by-kind table, (0, 0) when the kind is absent.
fn kind(rows: &[Vec<Data>], label: &str) -> (f64, f64) {
    row(rows, label).map_or((0.0, 0.0), |r| (num(&r[1]), num(&r[2])))
}

fn cents(euros: f64) -> i64 {
    (euros * 100.0).round() as i64
}

/// The CSV's lines, after checking the BOM.
fn csv_lines(bytes: &[u8]) -> Vec<String> {
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.ends_with("\r\n"));
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_reports_match_the_ledger_and_export_it() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (tn, acc) = crate::common::marios_account(&t).await;
        let client = browser();
        assert_eq!(
            login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD)
                .await
                .status(),
            303
        );
        let (status, html) = page(&client, &app, BASE).await;
        assert_eq!(status, 200, "{html}");
        for title in [
            "Pasti del giorno",
            "Pasti serviti",
            "Incassi e ricariche",
            "Saldi e morosità",
        ] {
            assert!(html.contains(title), "{title}: {html}");
        }

        // Entries by kind from 1 to 23 November: the XLSX matches the ledger.
        let q = "dal=2026-11-01&al=2026-11-23";
        let (status, kind_type, bytes) =
            download(&client, &app, &format!("{BASE}/incassi/xlsx?{q}&tabella=0")).await;
        assert_eq!(status, 200);
        assert!(kind_type.contains("spreadsheetml"), "{kind_type}");
        let before = sheet(bytes);
        assert_eq!(
            before[0],
            [
                Data::String("Voce".into()),
                Data::String("Movimenti".into()),
                Data::String("Importo".into())
            ]
        );
        let recharged = scalar(
            &t,
            "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM ledger_entry \
             WHERE kind = 'recharge' AND day >= '2026-11-01' AND day <= '2026-11-23'",
        )
        .await;
        let net = scalar(
            &t,
            "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM ledger_entry \
             WHERE day >= '2026-11-01' AND day <= '2026-11-23'",
        )
        .await;
        assert_eq!(cents(kind(&before, "Ricariche").1), recharged);
        let total = row(&before, "Saldo dei movimenti").unwrap();
        assert_eq!(cents(num(&total[2])), net);

        // Known movements: two payments received elsewhere, an adjustment, a refund.
        let office = Actor::Staff(StaffUserId(1));
        for (day, amount, reference) in [
            ("2026-11-20", "25,50", "CRO-A"),
            ("2026-11-23", "10,00", "CRO-B"),
        ] {
            record_office_payment(
                Ctx::new(&t.db, app.clock.as_ref(), &tn, office),
                &OfficePayment {
                    account: acc,
                    amount: amount.into(),
                    day: day.into(),
                    channel: "bonifico".into(),
                    reference: reference.into(),
                    note: String::new(),
                },
            )
            .await
            .unwrap();
        }
        for (kind, amount, token) in [
            (ChangeKind::Adjustment, "-2,00", "a1"),
            (ChangeKind::Refund, "1,00", "b2"),
        ] {
            ledger::record_change(
                Ctx::new(&t.db, app.clock.as_ref(), &tn, office),
                &MoneyChange {
                    account: acc,
                    kind,
                    amount: amount.into(),
                    reason: "prova dei report".into(),
                    form_token: token.repeat(32),
                },
            )
            .await
            .unwrap();
        }
        let (_, _, bytes) =
            download(&client, &app, &format!("{BASE}/incassi/xlsx?{q}&tabella=0")).await;
        let after = sheet(bytes);
        let delta = |label: &str| {
            let (n0, e0) = kind(&before, label);
            let (n1, e1) = kind(&after, label);
            ((n1 - n0).round() as i64, cents(e1) - cents(e0))
        };
        assert_eq!(delta("Ricariche"), (2, 3550));
        assert_eq!(delta("Rettifiche"), (1, -200));
        assert_eq!(delta("Rimborsi"), (1, -100));
        assert_eq!(
            cents(num(&row(&after, "Saldo dei movimenti").unwrap()[2])),
            net + 3550 - 300
        );

        // Recharges per week: the weeks of 16 and 23 November grew by the two payments.
        let (_, _, w0) =
            download(&client, &app, &format!("{BASE}/incassi/csv?{q}&tabella=1")).await;
        let lines = csv_lines(&w0);
        assert_eq!(lines[0], "Settimana dal;Ricariche;Importo");
        let week = |d: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(d))
                .cloned()
                .unwrap_or_default()
        };
        let weeks: [(&str, &'static str); 2] = [
            (
                "16/11/2026",
                "SELECT CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entry \
                 WHERE kind = 'recharge' AND day >= '2026-11-16' AND day <= '2026-11-22'",
            ),
            (
                "23/11/2026",
                "SELECT CAST(SUM(amount_cents) AS BIGINT) FROM ledger_entry \
                 WHERE kind = 'recharge' AND day >= '2026-11-23' AND day <= '2026-11-29'",
            ),
        ];
        for (d, sql) in weeks {
            let expected = scalar(&t, sql).await;
            let money = money_csv(expected);
            assert!(
                week(d).ends_with(&format!(";{money}")),
                "{d}: {:?} != {money}",
                week(d)
            );
        }
        // The page shows the same with an accessible chart.
        let (status, html) = page(&client, &app, &format!("{BASE}/incassi?{q}")).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("role=\"img\"")
                && html.contains("<title id=\"grafico-ricariche-titolo\">")
        );
        assert!(!html.contains("<script>"), "no inline script");

        // Balances: Mario's account taken below zero by a known adjustment.
        let balance = {
            let mut h = t.db.acquire().await.unwrap();
            refettorio_db::ledger::balance(&mut h.conn(), tn.id, acc)
                .await
                .unwrap()
        };
        let down = refettorio_domain::Cents(-(balance.get() + 1234));
        ledger::record_change(
            Ctx::new(&t.db, app.clock.as_ref(), &tn, office),
            &MoneyChange {
                account: acc,
                kind: ChangeKind::Adjustment,
                amount: down.format_number_it(),
                reason: "prova della morosità".into(),
                form_token: "c3".repeat(32),
            },
        )
        .await
        .unwrap();
        let arrears = scalar(
            &t,
            "SELECT CAST(COALESCE(SUM(b), 0) AS BIGINT) FROM \
             (SELECT SUM(amount_cents) AS b FROM ledger_entry GROUP BY account_id) x WHERE b < 0",
        )
        .await;
        assert!(arrears <= -1234);
        let (status, _, csv) = download(&client, &app, &format!("{BASE}/saldi/csv")).await;
        assert_eq!(status, 200);
        let lines = csv_lines(&csv);
        assert_eq!(
            lines[0],
            "Intestatario;Codice fiscale;E-mail;Servizio;Saldo"
        );
        let mario = lines.iter().find(|l| l.contains(DEMO_PARENT_CF)).unwrap();
        assert!(mario.starts_with("Rossi Mario;"), "{mario}");
        assert!(mario.ends_with(";-12,34"), "{mario}");
        let last = lines.last().unwrap();
        assert_eq!(last, &format!("Totale morosità;;;;{}", money_csv(arrears)));
        let (_, _, bytes) = download(&client, &app, &format!("{BASE}/saldi/xlsx")).await;
        let rows = sheet(bytes);
        assert_eq!(
            cents(num(&row(&rows, "Totale morosità").unwrap()[4])),
            arrears
        );
        assert_eq!(cents(num(&row(&rows, "Rossi Mario").unwrap()[4])), -1234);
        let (_, html) = page(&client, &app, &format!("{BASE}/saldi")).await;
        assert!(
            html.contains(&refettorio_domain::Cents(arrears).format_it()),
            "{html}"
        );

        // Today's meals: a forecast before the close, the same numbers as the kitchen's.
        let day = jiff::civil::date(2026, 11, 23);
        let forecast = refettorio_app::kitchen::kitchen_numbers(
            refettorio_app::Ctx::new(
                &t.db,
                &refettorio_domain::SystemClock,
                &tn,
                refettorio_domain::Actor::Close,
            ),
            day,
        )
        .await
        .unwrap();
        assert!(forecast.total.total > 0);
        let (status, html) = page(&client, &app, &format!("{BASE}/pasti")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Previsione"), "{html}");
        let (_, _, bytes) = download(
            &client,
            &app,
            &format!("{BASE}/pasti/xlsx?giorno=2026-11-23"),
        )
        .await;
        let rows = sheet(bytes);
        let grand = row(&rows, "Totale generale").unwrap();
        assert_eq!(num(grand.last().unwrap()), f64::from(forecast.total.total));

        // The close charges the meals: served on the day = the kitchen's final numbers = the
        // ledger's meal charges.
        app.clock.set("2026-11-23T11:00:00Z".parse().unwrap());
        refettorio_app::close::close_day(
            refettorio_app::Ctx::new(
                &t.db,
                app.clock.as_ref(),
                &tn,
                refettorio_domain::Actor::Close,
            ),
            day,
        )
        .await
        .unwrap();
        let frozen = refettorio_app::kitchen::kitchen_numbers(
            refettorio_app::Ctx::new(
                &t.db,
                &refettorio_domain::SystemClock,
                &tn,
                refettorio_domain::Actor::Close,
            ),
            day,
        )
        .await
        .unwrap();
        assert!(frozen.frozen);
        // Hours later the session has expired: log in again.
        login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let charged = scalar(
            &t,
            "SELECT COUNT(*) FROM ledger_entry WHERE kind = 'meal_charge' AND day = '2026-11-23'",
        )
        .await;
        assert_eq!(i64::from(frozen.total.total), charged);
        let (status, html) = page(&client, &app, &format!("{BASE}/pasti?giorno=2026-11-23")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Definitivo"), "{html}");
        for per in ["giorno", "mese"] {
            let path =
                format!("{BASE}/presenze/xlsx?dal=2026-11-23&al=2026-11-23&per={per}&tabella=1");
            let (status, _, bytes) = download(&client, &app, &path).await;
            assert_eq!(status, 200, "{path}");
            let rows = sheet(bytes);
            assert_eq!(
                num(&row(&rows, "Totale").unwrap()[1]) as i64,
                charged,
                "{per}"
            );
            assert_eq!(rows.len(), 3, "{per}: header, one period, total");
        }
        // Per class: the same as the kitchen's classes.
        let (_, _, csv) = download(
            &client,
            &app,
            &format!("{BASE}/presenze/csv?dal=2026-11-23&al=2026-11-23&tabella=0"),
        )
        .await;
        let lines = csv_lines(&csv);
        assert_eq!(lines[0], "Giorno;Scuola;Classe;Pasti serviti");
        for s in &frozen.schools {
            for k in &s.classes {
                let line = format!("23/11/2026;{};{};{}", s.name, k.name, k.counts.total);
                assert!(lines.contains(&line), "{line} not in {lines:?}");
            }
        }
        assert_eq!(lines.last().unwrap(), &format!("Totale;;;{charged}"));
        let (status, html) = page(
            &client,
            &app,
            &format!("{BASE}/presenze?dal=2026-11-01&al=2026-11-23"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            html.contains("role=\"img\"") && html.contains("grafico-pasti-desc"),
            "{html}"
        );

        app.stop().await;
        t.cleanup().await;
    }
}

/// Money as the CSV writes it (`-1234,50`), written here independently of the code.
fn money_csv(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{},{:02}", cents.abs() / 100, cents.abs() % 100)
}

#[tokio::test]
async fn bad_periods_are_field_errors_and_the_kitchen_sees_no_money() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = browser();
        login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let cases = [
            (
                "incassi?dal=2026-11-10&al=2026-11-01",
                "prima di quella iniziale",
            ),
            (
                "presenze?dal=2025-01-01&al=2026-11-23",
                "al massimo di 366 giorni",
            ),
            ("presenze?dal=31%2F02%2F2026", "Data non valida"),
            (
                "incassi/csv?dal=2026-11-10&al=2026-11-01",
                "prima di quella iniziale",
            ),
            (
                "presenze/xlsx?dal=2025-01-01&al=2026-11-23",
                "al massimo di 366 giorni",
            ),
            ("pasti?giorno=ieri", "Data non valida"),
        ];
        for (path, message) in cases {
            let (status, html) = page(&client, &app, &format!("{BASE}/{path}")).await;
            assert_eq!(status, 422, "{path}: {html}");
            assert!(html.contains(message), "{path}: {html}");
            assert!(html.contains("aria-invalid=\"true\""), "{path}");
        }
        // 366 days are allowed.
        let (status, _) = page(
            &client,
            &app,
            &format!("{BASE}/incassi?dal=2025-11-23&al=2026-11-23"),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = page(&client, &app, &format!("{BASE}/incassi/ods")).await;
        assert_eq!(status, 404);
        let (status, _) = page(&client, &app, &format!("{BASE}/incassi/csv?tabella=9")).await;
        assert_eq!(status, 404);
        let (status, _) = page(&client, &app, &format!("{BASE}/altro")).await;
        assert_eq!(status, 404);

        // The kitchen: the index lists only the meal reports, and no amount in euros.
        let kitchen = browser();
        let (user, pw, _, _) = DEMO_STAFF
            .iter()
            .find(|s| s.3 == StaffRole::Kitchen)
            .unwrap();
        login(&app, &kitchen, user, pw).await;
        let (status, html) = page(&kitchen, &app, BASE).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Pasti serviti") && !html.contains("Saldi e morosità"),
            "{html}"
        );
        for path in ["pasti", "presenze", "presenze/csv", "pasti/xlsx"] {
            let r = kitchen
                .get(app.url(&format!("{BASE}/{path}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert!(!r.text().await.unwrap().contains('€'), "{path}");
        }
        for path in ["incassi", "saldi", "incassi/csv", "saldi/xlsx"] {
            let r = kitchen
                .get(app.url(&format!("{BASE}/{path}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{path}");
        }
        app.stop().await;
        t.cleanup().await;
    }
}
