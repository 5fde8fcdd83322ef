//! Post-paid fees (issue 17) on both databases: the demo's school transport issues a month of
//! fees once (a preview writes nothing; again, concurrently or after an interruption, nothing
//! is issued twice), the amounts are the bands' fixed fees with the sibling reduction, bad
//! requests issue nothing, the family sees its fee; and the command line's run.

use std::process::Command;

use refettorio_app::AppError;
use refettorio_app::Ctx;
use refettorio_app::demo::{
    DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD,
};
use refettorio_app::fees::{self, IssueRequest};
use refettorio_db::testing::TestDb;
use refettorio_domain::{Actor, Cents, ServiceId, StaffUserId};

use crate::common::{browser, csrf_of, demo_tenant, exec, login, page, post, scalar, spawn};

fn request(service: ServiceId, period: &str, dry_run: bool) -> IssueRequest {
    IssueRequest {
        service,
        period: period.into(),
        due: None,
        dry_run,
    }
}

async fn fees_of(t: &TestDb, period: &str) -> (i64, i64) {
    (
        scalar(
            t,
            &format!("SELECT COUNT(*) FROM payment_position WHERE kind = 'fee' AND period = '{period}'"),
        )
        .await,
        scalar(
            t,
            &format!(
                "SELECT COALESCE(SUM(amount_cents), 0) FROM payment_position WHERE kind = 'fee' AND period = '{period}'"
            ),
        )
        .await,
    )
}

/// Each family's fee, computed here from the enrolments (eldest child first), with a 50%
/// reduction from the second child: `(families, total cents)`.
async fn expected(t: &TestDb, bus: ServiceId) -> (i64, i64) {
    let mut h = t.db.acquire().await.unwrap();
    const SQL: &str = "SELECT p.family_id, e.fixed_fee_cents FROM enrolment e \
                       JOIN pupil p ON p.id = e.pupil_id WHERE e.service_id = $1 \
                       AND e.state = 'attivo' ORDER BY p.family_id, p.birth_date, p.id";
    let rows: Vec<(i64, i64)> = match &mut h.conn() {
        refettorio_db::Conn::Sqlite(c) => sqlx::query_as(SQL)
            .bind(bus.get())
            .fetch_all(&mut **c)
            .await
            .unwrap(),
        refettorio_db::Conn::Postgres(c) => sqlx::query_as(SQL)
            .bind(bus.get())
            .fetch_all(&mut **c)
            .await
            .unwrap(),
    };
    let (mut families, mut total, mut last, mut rank) = (0, 0, -1, 0);
    for (family, fee) in rows {
        if family != last {
            families += 1;
            last = family;
            rank = 0;
        }
        rank += 1;
        // Half, rounded half up, from the second child.
        total += if rank >= 2 { (fee + 1) / 2 } else { fee };
    }
    (families, total)
}

#[tokio::test]
async fn a_month_of_transport_fees_is_issued_once_with_the_tariffs_amounts() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let tenant = demo_tenant(&t).await;
        let ctx = Ctx::new(
            &t.db,
            app.clock.as_ref(),
            &tenant,
            Actor::Staff(StaffUserId(1)),
        );
        let bus = ServiceId(scalar(&t, "SELECT id FROM service WHERE kind = 'trasporto'").await);
        let meals = ServiceId(scalar(&t, "SELECT id FROM service WHERE kind = 'refezione'").await);
        // A 50% sibling reduction from the second child on the bus.
        {
            let mut h = t.db.acquire().await.unwrap();
            refettorio_db::registry::service::set_sibling_reduction(
                &mut h.conn(),
                tenant.id,
                bus,
                2,
                5000,
            )
            .await
            .unwrap();
        }
        let (families, total) = expected(&t, bus).await;
        assert!(families >= 2, "the demo has families on the bus");

        // The preview: every family and the total, nothing written.
        let preview = fees::issue(ctx, &request(bus, "2026-12", true))
            .await
            .unwrap();
        assert_eq!(preview.fees.len() as i64, families);
        assert_eq!(preview.issued as i64, families);
        assert_eq!(preview.total, Cents::new(total));
        assert_eq!(fees_of(&t, "2026-12").await, (0, 0));
        assert_eq!(preview.due.to_string(), "2026-12-23", "the rule's 30 days");

        // The issue: one notice per family, the same total; the line the command prints.
        let done = fees::issue(ctx, &request(bus, "2026-12", false))
            .await
            .unwrap();
        assert_eq!(done.issued as i64, families);
        assert_eq!(fees_of(&t, "2026-12").await, (families, total));
        assert_eq!(
            done.summary_line(bus),
            format!(
                "fees-issue service={} period=2026-12 families={families} fees={families} total_cents={total}",
                bus.get()
            )
        );
        // No child's data on the notice: the service, the year and the month.
        let description = crate::common::text(
            &t,
            "SELECT description FROM payment_position WHERE kind = 'fee' ORDER BY id LIMIT 1",
        )
        .await;
        assert_eq!(
            description,
            "Trasporto scolastico a.s. 2026/2027 - dicembre 2026"
        );

        // Again: nothing new.
        let again = fees::issue(ctx, &request(bus, "2026-12", false))
            .await
            .unwrap();
        assert_eq!(again.issued, 0);
        assert!(again.fees.iter().all(|f| f.already));
        assert_eq!(fees_of(&t, "2026-12").await, (families, total));

        // Two runs of another month at once: each family once.
        let january = request(bus, "2027-01", false);
        let (a, b) = tokio::join!(fees::issue(ctx, &january), fees::issue(ctx, &january));
        let issued = a.unwrap().issued + b.unwrap().issued;
        assert_eq!(issued as i64, families);
        assert_eq!(fees_of(&t, "2027-01").await, (families, total));

        // A run interrupted half-way (its later batches never committed): run again, it
        // issues exactly what is missing.
        exec(
            &t,
            "DELETE FROM payment_position WHERE kind = 'fee' AND period = '2027-01' AND family_id % 2 = 0",
            "DELETE FROM payment_position WHERE kind = 'fee' AND period = '2027-01' AND family_id % 2 = 0",
        )
        .await;
        let missing = families - fees_of(&t, "2027-01").await.0;
        assert!(missing > 0);
        let resumed = fees::issue(ctx, &request(bus, "2027-01", false))
            .await
            .unwrap();
        assert_eq!(resumed.issued as i64, missing);
        assert_eq!(fees_of(&t, "2027-01").await, (families, total));
        // The enrolment fee: 30,00 € for each child, once a year, no reduction.
        let children = scalar(
            &t,
            &format!(
                "SELECT COUNT(*) FROM enrolment WHERE service_id = {} AND state = 'attivo'",
                bus.get()
            ),
        )
        .await;
        let yearly = fees::issue(ctx, &request(bus, "iscrizione", false))
            .await
            .unwrap();
        assert_eq!(yearly.total, Cents::new(3000 * children));

        // Bad requests: a clear message, nothing issued.
        let written = scalar(&t, "SELECT COUNT(*) FROM payment_position").await;
        let refused = |r: Result<fees::Issued, AppError>| match r {
            Err(AppError::Invalid(m)) => m,
            other => panic!("{other:?}"),
        };
        let m = refused(fees::issue(ctx, &request(bus, "2027-09", false)).await);
        assert!(m.contains("non è nell'anno scolastico"), "{m}");
        let m = refused(fees::issue(ctx, &request(bus, "dicembre", false)).await);
        assert!(m.contains("non valido"), "{m}");
        let early = IssueRequest {
            due: Some("2026-11-20".parse().unwrap()),
            ..request(bus, "2027-02", false)
        };
        let m = refused(fees::issue(ctx, &early).await);
        assert!(m.contains("prima della data di emissione"), "{m}");
        let m = refused(fees::issue(ctx, &request(meals, "2026-12", false)).await);
        assert!(m.contains("prepagato"), "{m}");
        exec(
            &t,
            "UPDATE fee_rule SET iban = ''",
            "UPDATE fee_rule SET iban = ''",
        )
        .await;
        let m = refused(fees::issue(ctx, &request(bus, "2027-02", false)).await);
        assert!(m.contains("IBAN"), "{m}");
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM payment_position").await,
            written
        );

        // Mario's family sees its fee on the payments page, to pay.
        let client = browser();
        assert_eq!(
            login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            303
        );
        let (status, html) = page(&client, &app, "/t/esempio/area-personale/pagamenti").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Trasporto scolastico a.s. 2026/2027 - dicembre 2026"),
            "{html}"
        );
        assert!(html.contains("Da pagare"));
        // Summed up as the previous vendors' statements do: issued, the enrolment fee, paid,
        // to pay (Mario's Luca takes the bus: two months and the enrolment fee, none paid).
        assert!(html.contains("Quote dei servizi"), "{html}");
        assert!(
            html.contains(
                "di cui quota iscrizione</dt><dd class=\"col-5 col-md-8 rf-money\">30,00 €"
            ),
            "{html}"
        );
        assert!(html.contains("Pagato</dt><dd class=\"col-5 col-md-8 rf-money\">0,00 €"));
        app.stop().await;
    }
}

#[test]
fn the_command_line_previews_and_issues_a_month_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/r.sqlite", dir.path().display());
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_refettorio"))
            .arg("--database-url")
            .arg(&db)
            .args(args)
            .env("REFETTORIO_LOG", "warn")
            .env_remove("REFETTORIO_DATABASE_URL")
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()
    };
    run(&["demo"]);
    // The demo's school year is the current one: this month lies within it.
    let today = refettorio_domain::Clock::now(&refettorio_domain::SystemClock)
        .to_zoned(jiff::tz::TimeZone::system())
        .date();
    let month = format!("{:04}-{:02}", today.year(), today.month());
    let issue = [
        "fees",
        "issue",
        "--tenant",
        "esempio",
        "--service",
        "2",
        "--period",
        &month,
    ];
    let preview = run(&[&issue[..], &["--dry-run"]].concat());
    assert!(
        preview.starts_with(&format!("fees-issue service=2 period={month} families=")),
        "{preview}"
    );
    let issued = run(&issue);
    assert_eq!(issued, preview, "the preview says what the issue does");
    let fields: Vec<&str> = issued.split(' ').collect();
    assert!(!fields[4].ends_with("=0"), "{issued}");
    let again = run(&issue);
    assert!(again.contains(" fees=0 total_cents=0"), "{again}");
}

#[tokio::test]
async fn the_office_sets_the_rule_previews_and_issues_from_its_page() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = browser();
        let r = login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        assert_eq!(r.status(), 303);
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/quote").await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Trasporto scolastico"));
        let csrf = csrf_of(&html);
        let bus = scalar(&t, "SELECT id FROM service WHERE kind = 'trasporto'").await;
        let base = format!("/t/esempio/backoffice/quote/{bus}");

        // A rule without a valid IBAN: 422, the field's message, nothing saved.
        let rule = |iban: &'static str| {
            vec![
                ("_csrf", csrf.clone()),
                ("frequency", "monthly".to_string()),
                ("pro_rata", "days".into()),
                ("enrolment_fee", "30,00".into()),
                ("iban", iban.into()),
                ("taxonomy", "9/0107102SP/".into()),
                ("due_days", "20".into()),
            ]
        };
        let bad = rule("IT00");
        let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, format!("{base}/regola"), &bad).await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("IBAN non valido"));
        assert_eq!(scalar(&t, "SELECT due_days FROM fee_rule").await, 30);
        let good = rule("IT61 X030 6909 6061 0000 0012 345");
        let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, format!("{base}/regola"), &good).await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(scalar(&t, "SELECT due_days FROM fee_rule").await, 20);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'fee_rule'"
            )
            .await,
            1
        );

        // The preview writes nothing; the issue issues; a bad period says why.
        let run = |period: &'static str, action: &'static str| {
            vec![
                ("_csrf", csrf.clone()),
                ("periodo", period.to_string()),
                ("azione", action.to_string()),
            ]
        };
        let form = run("2026-12", "anteprima");
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, format!("{base}/emissione"), &form).await;
        assert_eq!(r.status().as_u16(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("Nulla è stato emesso"), "{html}");
        assert_eq!(fees_of(&t, "2026-12").await.0, 0);
        let form = run("2026-12", "emetti");
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, format!("{base}/emissione"), &form).await;
        let html = r.text().await.unwrap();
        assert!(html.contains("avvisi emessi"), "{html}");
        let (n, _) = fees_of(&t, "2026-12").await;
        assert!(n > 0);
        assert!(html.contains("Quote emesse") && html.contains("Da pagare"));
        // The export: a header, one row per fee, the total; and the workbook.
        let r = client
            .get(app.url(&format!("{base}/csv")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let csv = r.text().await.unwrap();
        assert!(
            csv.contains(
                "Periodo;Codice fiscale del pagatore;Pagatore;Codice avviso;Importo;Scadenza;Stato"
            ),
            "{csv}"
        );
        assert_eq!(
            csv.lines().filter(|l| l.starts_with("2026-12;")).count() as i64,
            n
        );
        assert!(csv.lines().any(|l| l.starts_with("Totale;")));
        let r = client
            .get(app.url(&format!("{base}/xlsx")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.bytes().await.unwrap().starts_with(b"PK"));
        let form = run("2027-09", "emetti");
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, format!("{base}/emissione"), &form).await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("non è nell&#39;anno scolastico")
        );
        assert_eq!(fees_of(&t, "2026-12").await.0, n);

        // One fee: its due date moved, then cancelled with a reason (an empty one refused).
        let id = scalar(
            &t,
            "SELECT MIN(id) FROM payment_position WHERE kind = 'fee'",
        )
        .await;
        let fee = format!("/t/esempio/backoffice/quote/avvisi/{id}");
        let (status, html) = page(&client, &app, &fee).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Da pagare") && html.contains("Annulla la quota"));
        let form = |pairs: &[(&'static str, &'static str)]| {
            let mut f = vec![("_csrf", csrf.clone())];
            f.extend(pairs.iter().map(|(k, v)| (*k, v.to_string())));
            f
        };
        let send = |path: String, f: Vec<(&'static str, String)>| {
            let client = client.clone();
            let url = app.url(&path);
            async move { client.post(url).form(&f).send().await.unwrap() }
        };
        let r = send(
            format!("{fee}/scadenza"),
            form(&[("scadenza", "2027-01-31")]),
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(
            crate::common::text(
                &t,
                &format!("SELECT CAST(due_date AS TEXT) FROM payment_position WHERE id = {id}")
            )
            .await,
            "2027-01-31"
        );
        let r = send(
            format!("{fee}/scadenza"),
            form(&[("scadenza", "2026-11-01")]),
        )
        .await;
        assert_eq!(r.status().as_u16(), 422, "a due date in the past");
        let r = send(format!("{fee}/annulla"), form(&[("motivo", " ")])).await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("Scrivi il motivo"));
        let r = send(
            format!("{fee}/annulla"),
            form(&[("motivo", "Iscrizione ritirata")]),
        )
        .await;
        assert_eq!(r.status().as_u16(), 303);
        let (_, html) = page(&client, &app, &format!("{fee}?esito=annullata")).await;
        assert!(html.contains("Annullato: Iscrizione ritirata"), "{html}");
        assert!(!html.contains("Annulla la quota"));
        // Already cancelled: nothing more to change.
        let r = send(format!("{fee}/annulla"), form(&[("motivo", "di nuovo")])).await;
        assert_eq!(r.status().as_u16(), 422);

        // Paid elsewhere: one fee with a bank reference; the same reference, written another
        // way, cannot pay a second fee.
        let next = |after: i64| {
            format!("SELECT MIN(id) FROM payment_position WHERE kind = 'fee' AND id > {after}")
        };
        let second = scalar(&t, &next(id)).await;
        let third = scalar(&t, &next(second)).await;
        let paid = |fee: i64, reference: &'static str| {
            send(
                format!("/t/esempio/backoffice/quote/avvisi/{fee}/pagata"),
                form(&[("canale", "bonifico"), ("riferimento", reference)]),
            )
        };
        assert_eq!(paid(second, "CRO 0012 3456").await.status().as_u16(), 303);
        let state_of = |fee: i64| {
            format!(
                "SELECT status || ' ' || COALESCE(paid_reference, '-') FROM payment_position WHERE id = {fee}"
            )
        };
        assert_eq!(
            crate::common::text(&t, &state_of(second)).await,
            "paid CRO00123456"
        );
        let r = paid(third, "cro00123456").await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("riferimento ha già pagato")
        );
        assert_eq!(crate::common::text(&t, &state_of(third)).await, "open -");
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action IN ('cancel_fee', 'fee_due_date', 'fee_paid_elsewhere')"
            )
            .await,
            3
        );
        app.stop().await;
    }
}
