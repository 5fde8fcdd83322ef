//! People in the back office over real HTTP on both databases: the search by card code and
//! fiscal code; a pupil with an invalid fiscal code refused (422, Italian, nothing written);
//! an enrolment; a class change scheduled for tomorrow and applied by that day's scheduler
//! pass (and a change on a closed day refused); the school user's class lists of its own
//! school only.

use crate::common::{App, browser, csrf_of, login, page, post, scalar, spawn};
use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF};
use refettorio_db::testing::TestDb;
use refettorio_domain::CodiceFiscale;

/// Pupils, enrolments, changes and audit rows: what a refused form leaves as it was.
async fn written(t: &TestDb) -> [i64; 4] {
    [
        scalar(t, "SELECT COUNT(*) FROM pupil").await,
        scalar(t, "SELECT COUNT(*) FROM enrolment").await,
        scalar(t, "SELECT COUNT(*) FROM enrolment_change").await,
        scalar(t, "SELECT COUNT(*) FROM audit_log").await,
    ]
}

async fn office(app: &App) -> (reqwest::Client, String) {
    let client = browser();
    let r = login(app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let (status, html) = page(&client, app, "/t/esempio/backoffice/persone").await;
    assert_eq!(status, 200, "{html}");
    (client, csrf_of(&html))
}

const BASE: &str = "/t/esempio/backoffice/persone";

#[tokio::test]
async fn the_office_finds_people_by_card_and_fiscal_code() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, _) = office(&app).await;
        // A card code: its pupil's family, as typed in lower case too.
        let card: String = {
            let mut h = t.db.acquire().await.unwrap();
            match &mut h.conn() {
                refettorio_db::Conn::Postgres(c) => {
                    sqlx::query_scalar("SELECT card_code FROM enrolment ORDER BY id DESC LIMIT 1")
                        .fetch_one(&mut **c)
                        .await
                        .unwrap()
                }
                refettorio_db::Conn::Sqlite(c) => {
                    sqlx::query_scalar("SELECT card_code FROM enrolment ORDER BY id DESC LIMIT 1")
                        .fetch_one(&mut **c)
                        .await
                        .unwrap()
                }
            }
        };
        let pupil = scalar(
            &t,
            &format!("SELECT pupil_id FROM enrolment WHERE card_code = '{card}'"),
        )
        .await;
        for q in [card.clone(), card.to_lowercase()] {
            let (status, html) = page(&client, &app, &format!("{BASE}?q={q}")).await;
            assert_eq!(status, 200);
            assert!(
                html.contains(&format!("/persone/alunni/{pupil}\"")),
                "{q}: {html}"
            );
            assert_eq!(html.matches("Scheda della famiglia<").count(), 1, "{q}");
        }
        // The payer's fiscal code, in lower case.
        let (status, html) = page(
            &client,
            &app,
            &format!("{BASE}?q={}", DEMO_PARENT_CF.to_lowercase()),
        )
        .await;
        assert_eq!(status, 200);
        assert!(html.contains(DEMO_PARENT_CF), "{html}");
        assert_eq!(html.matches("Scheda della famiglia<").count(), 1);
        // A name prefix (surname first or name first); the accounts page finds the same.
        let (_, html) = page(&client, &app, &format!("{BASE}?q=rossi+mar")).await;
        assert!(html.contains(DEMO_PARENT_CF), "{html}");
        let (_, html) = page(&client, &app, &format!("{BASE}?q=Mario+Ros")).await;
        assert!(html.contains(DEMO_PARENT_CF), "{html}");
        let (_, html) = page(&client, &app, "/t/esempio/backoffice/conti?q=ESE-0001").await;
        assert!(html.contains("Conti prepagati"), "{html}");
        // Not a substring in the middle of a name, and a code that is nobody's.
        let (_, html) = page(&client, &app, &format!("{BASE}?q=ZZZ-9999")).await;
        assert!(html.contains("Nessuna famiglia trovata"), "{html}");
        let (status, _) = page(&client, &app, &format!("{BASE}?q=x")).await;
        assert_eq!(status, 422);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn pupils_enrolments_and_changes_with_an_effective_day() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let family = scalar(
            &t,
            &format!(
                "SELECT f.id FROM family f JOIN guardian g ON g.id = f.payer_id WHERE g.fiscal_code = '{DEMO_PARENT_CF}'"
            ),
        )
        .await;
        // An invalid fiscal code: 422, the Italian message on the field, nothing written.
        let before = written(&t).await;
        let r = post(
            &client,
            &app,
            format!("{BASE}/famiglie/{family}/alunni"),
            &[
                ("alunno-codice-fiscale", "RSSLCU19M01H501X"),
                ("alunno-nome", "Luca"),
                ("alunno-cognome", "Rossi"),
                ("alunno-nascita", "2019-08-01"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Il carattere di controllo del codice fiscale non è corretto"),
            "{html}"
        );
        assert!(
            html.contains("id=\"alunno-codice-fiscale-error\""),
            "{html}"
        );
        assert!(html.contains("value=\"Luca\""), "the form as typed");
        assert_eq!(written(&t).await, before);
        // The same pupil with a valid code.
        let birth: jiff::civil::Date = "2019-08-01".parse().unwrap();
        let cf = CodiceFiscale::compute("Rossi", "Luca", birth, false, "H501").unwrap();
        let r = post(
            &client,
            &app,
            format!("{BASE}/famiglie/{family}/alunni"),
            &[
                ("alunno-codice-fiscale", cf.as_str()),
                ("alunno-nome", "Luca"),
                ("alunno-cognome", "Rossi"),
                ("alunno-nascita", "2019-08-01"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        let pupil: i64 = to
            .split("/alunni/")
            .nth(1)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (status, html) = page(&client, &app, &to).await;
        assert_eq!(status, 200);
        assert!(html.contains("Alunno registrato"));
        assert!(html.contains(cf.as_str()));
        // Enrol in the canteen, class A of the Rodari school, from tomorrow.
        let canteen = crate::common::demo_canteen(&t).await;
        let (class_a, class_b) = (canteen.class_a, canteen.class_b);
        let c = class_a.to_string();
        let r = canteen
            .enrol(
                &client,
                &app,
                format!("{BASE}/alunni/{pupil}/iscrizioni"),
                "nuova-001",
                &csrf,
            )
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let enrolment = scalar(&t, "SELECT id FROM enrolment WHERE card_code = 'NUOVA-001'").await;
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT class_id FROM enrolment WHERE id = {enrolment}")
            )
            .await,
            class_a
        );
        // A class change from tomorrow: scheduled, the enrolment row unchanged today.
        let kb = class_b.to_string();
        let change = format!("{BASE}/iscrizioni/{enrolment}/modifiche");
        let p = format!("modifica-{enrolment}");
        let field = |name: &str| format!("{p}-{name}");
        let (fd, fk, fm) = (field("decorrenza"), field("classe"), field("motivo"));
        let r = post(
            &client,
            &app,
            &change,
            &[
                (fd.as_str(), "2026-11-24"),
                (fk.as_str(), kb.as_str()),
                (fm.as_str(), "cambio di sezione"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT class_id FROM enrolment WHERE id = {enrolment}")
            )
            .await,
            class_a
        );
        let (_, html) = page(&client, &app, &format!("{BASE}/alunni/{pupil}")).await;
        let table = html.split("id=\"modifiche-programmate\"").nth(1).unwrap();
        assert!(table.contains("24/11/2026"), "{table}");
        assert!(table.contains("Programmata"), "{table}");
        assert!(table.contains("cambio di sezione"));
        // Today's close (after the cut-off) leaves it pending: it is tomorrow's.
        app.clock.set("2026-11-23T13:00:00Z".parse().unwrap());
        refettorio_app::scheduler::run_due_closes(&t.db, app.clock.as_ref())
            .await
            .unwrap();
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM day_close WHERE day = '2026-11-23'"
            )
            .await,
            1
        );
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT class_id FROM enrolment WHERE id = {enrolment}")
            )
            .await,
            class_a
        );
        // Hours later: the office logs in again (sessions expire when idle).
        let (client, csrf) = office(&app).await;
        // Today is closed now: a change from today is refused, with the first open day.
        let before = written(&t).await;
        let r = post(
            &client,
            &app,
            &change,
            &[
                (fd.as_str(), "2026-11-23"),
                (fk.as_str(), c.as_str()),
                (fm.as_str(), "troppo tardi"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(
            html.contains(
                "sono già chiusi: la modifica può valere al più presto dal martedì 24 novembre 2026"
            ),
            "{html}"
        );
        assert_eq!(written(&t).await, before);
        // Tuesday just after midnight: that day's scheduler pass applies it, audited.
        app.clock.set("2026-11-23T23:05:00Z".parse().unwrap());
        refettorio_app::scheduler::run_due_closes(&t.db, app.clock.as_ref())
            .await
            .unwrap();
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT class_id FROM enrolment WHERE id = {enrolment}")
            )
            .await,
            class_b
        );
        assert_eq!(
            scalar(
                &t,
                &format!(
                    "SELECT COUNT(*) FROM audit_log WHERE action = 'apply_enrolment_change' AND entity_id = {enrolment} \
                     AND before LIKE '%\"class\":{class_a},%' AND after LIKE '%\"class\":{class_b},%'"
                )
            )
            .await,
            1
        );
        // Applied once: another pass changes nothing.
        refettorio_app::scheduler::run_due_closes(&t.db, app.clock.as_ref())
            .await
            .unwrap();
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'apply_enrolment_change'"
            )
            .await,
            1
        );
        let (client, csrf) = office(&app).await;
        let (_, html) = page(&client, &app, &format!("{BASE}/alunni/{pupil}")).await;
        let table = html.split("id=\"modifiche-programmate\"").nth(1).unwrap();
        assert!(table.contains("Applicata"), "{table}");
        // A change from today (not closed yet) takes effect at once.
        let r = post(
            &client,
            &app,
            &change,
            &[
                (fd.as_str(), "2026-11-24"),
                (fk.as_str(), c.as_str()),
                (fm.as_str(), "ritorno in sezione A"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("esito=applicata")
        );
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT class_id FROM enrolment WHERE id = {enrolment}")
            )
            .await,
            class_a
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_school_sees_only_its_classes() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = browser();
        assert_eq!(
            login(&app, &client, "scuola", "demo-scuola").await.status(),
            303
        );
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/scuola").await;
        assert_eq!(status, 200);
        assert!(html.contains("Scuola primaria Gianni Rodari"), "{html}");
        assert!(!html.contains("Montessori"), "{html}");
        let rodari = scalar(
            &t,
            "SELECT MIN(k.id) FROM class k JOIN school s ON s.id = k.school_id \
             WHERE s.name = 'Scuola primaria Gianni Rodari'",
        )
        .await;
        let other = scalar(
            &t,
            "SELECT MIN(k.id) FROM class k JOIN school s ON s.id = k.school_id \
             WHERE s.name = 'Scuola primaria Maria Montessori'",
        )
        .await;
        let (status, html) = page(
            &client,
            &app,
            &format!("/t/esempio/backoffice/scuola/classi/{rodari}"),
        )
        .await;
        assert_eq!(status, 200, "{html}");
        // Its pupils, each with today's state; a diet only by code.
        let pupils = scalar(
            &t,
            &format!(
                "SELECT COUNT(*) FROM enrolment e JOIN service s ON s.id = e.service_id \
                 WHERE e.class_id = {rodari} AND s.kind = 'refezione'"
            ),
        )
        .await;
        assert!(pupils > 0);
        let rows = html.matches("<th scope=\"row\">").count() as i64;
        assert_eq!(rows, pupils, "{html}");
        assert!(html.contains("Presente"), "{html}");
        let (status, html) = page(
            &client,
            &app,
            &format!("/t/esempio/backoffice/scuola/classi/{other}"),
        )
        .await;
        assert_eq!(status, 403);
        assert!(!html.contains("Montessori"));
        // The school may not use the office's people pages.
        let (status, _) = page(&client, &app, BASE).await;
        assert_eq!(status, 403);
        app.stop().await;
        t.cleanup().await;
    }
}
