//! The school's validation of enrolments over real HTTP on both databases: the office enrols a
//! pupil in a Rodari class and sees it counted as to validate; the school sees it on its pages,
//! reports it (a reason is required: 422, nothing written), then confirms it once (audited with
//! the school user as actor) and it leaves the list; another school's enrolment and the
//! office's own attempt are refused (403, nothing written); a class change makes it to
//! validate again.

use crate::common::{browser, csrf_of, login, page, post, scalar, spawn};
use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER};
use refettorio_db::testing::TestDb;

const BASE: &str = "/t/esempio/backoffice";

async fn exec(t: &TestDb, sql: &str) {
    let mut h = t.db.acquire().await.unwrap();
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match &mut h.conn() {
        refettorio_db::Conn::Postgres(c) => {
            sqlx::query(sql).execute(&mut **c).await.unwrap();
        }
        refettorio_db::Conn::Sqlite(c) => {
            sqlx::query(sql).execute(&mut **c).await.unwrap();
        }
    }
}

/// Audit rows and validated enrolments: what a refused decision leaves as it was.
async fn written(t: &TestDb) -> (i64, i64, i64) {
    (
        scalar(t, "SELECT COUNT(*) FROM audit_log").await,
        scalar(
            t,
            "SELECT COUNT(*) FROM enrolment WHERE validated_at IS NOT NULL",
        )
        .await,
        scalar(
            t,
            "SELECT COUNT(*) FROM enrolment WHERE reported_at IS NOT NULL",
        )
        .await,
    )
}

#[tokio::test]
async fn a_school_validates_only_its_own_enrolments() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        // Nothing of the demo waits: it stands for a running service.
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM enrolment WHERE validated_at IS NULL"
            )
            .await,
            0
        );
        let office = browser();
        let r = login(&app, &office, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        assert_eq!(r.status(), 303);
        let (status, html) = page(&office, &app, &format!("{BASE}/persone")).await;
        assert_eq!(status, 200);
        assert!(!html.contains("da confermare dalla scuola"), "{html}");
        let office_csrf = csrf_of(&html);

        // The office registers a pupil and enrols it in class A of the Rodari school.
        let family = scalar(&t, "SELECT MIN(id) FROM family").await;
        let r = post(
            &office,
            &app,
            format!("{BASE}/persone/famiglie/{family}/alunni"),
            &[
                ("alunno-nome", "Viola"),
                ("alunno-cognome", "Convalida"),
                ("alunno-nascita", "2019-04-05"),
                ("_csrf", &office_csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let pupil = scalar(&t, "SELECT id FROM pupil WHERE last_name = 'Convalida'").await;
        let canteen = crate::common::demo_canteen(&t).await;
        let (class_a, class_b) = (canteen.class_a, canteen.class_b);
        let r = canteen
            .enrol(
                &office,
                &app,
                format!("{BASE}/persone/alunni/{pupil}/iscrizioni"),
                "CONV-001",
                &office_csrf,
            )
            .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        let mine = scalar(&t, "SELECT id FROM enrolment WHERE card_code = 'CONV-001'").await;
        let is_validated = format!(
            "SELECT COUNT(*) FROM enrolment WHERE id = {mine} AND validated_at IS NOT NULL"
        );
        assert_eq!(scalar(&t, &is_validated).await, 0, "a new enrolment waits");
        // The office sees the count on its people search.
        let (_, html) = page(&office, &app, &format!("{BASE}/persone")).await;
        assert!(html.contains("da confermare dalla scuola: 1"), "{html}");

        // The school sees it to validate on its page and on the class page, with the note
        // that meals do not depend on it.
        let school = browser();
        assert_eq!(
            login(&app, &school, "scuola", "demo-scuola").await.status(),
            303
        );
        let school_user = scalar(
            &t,
            "SELECT id FROM staff_user WHERE username = 'scuola' AND tenant_id IS NOT NULL",
        )
        .await;
        let confirm = format!("{BASE}/scuola/iscrizioni/{mine}/conferma");
        let report = format!("{BASE}/scuola/iscrizioni/{mine}/segnala");
        let (status, html) = page(&school, &app, &format!("{BASE}/scuola")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Convalida Viola"), "{html}");
        assert!(html.contains(&format!("action=\"{confirm}\"")), "{html}");
        assert!(html.contains("I pasti non dipendono dalla validazione"));
        let csrf = csrf_of(&html);
        let class_page = format!("{BASE}/scuola/classi/{class_a}");
        let (status, html) = page(&school, &app, &class_page).await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!("action=\"{confirm}\"")), "{html}");
        let (_, html) = page(&school, &app, &format!("{BASE}/scuola/classi/{class_b}")).await;
        assert!(!html.contains(&format!("action=\"{confirm}\"")), "{html}");

        // A report without its reason: 422 with the error, nothing written.
        let before = written(&t).await;
        let r = post(
            &school,
            &app,
            &report,
            &[("motivo", "   "), ("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("Scrivi che cosa non va"));
        assert_eq!(written(&t).await, before);
        // With a reason: listed for the office, audited with the school user as actor.
        let c_s = class_a.to_string();
        let r = post(
            &school,
            &app,
            &report,
            &[
                ("motivo", "Non risulta nella classe A"),
                ("classe", c_s.as_str()),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{class_page}?esito=segnalata")
        );
        let audited = |action: &str| {
            format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND entity_id = {mine} \
                 AND actor = 'staff:{school_user}'"
            )
        };
        assert_eq!(scalar(&t, &audited("report_enrolment")).await, 1);
        let (_, html) = page(&office, &app, &format!("{BASE}/persone")).await;
        assert!(html.contains("1 segnalate"), "{html}");
        let (_, html) = page(&office, &app, &format!("{BASE}/scuola")).await;
        assert!(html.contains("Non risulta nella classe A"), "{html}");
        // The office reads the list but does not decide for the school.
        let before = written(&t).await;
        let r = post(&office, &app, &confirm, &[("_csrf", &office_csrf)]).await;
        assert_eq!(r.status(), 403);
        assert_eq!(written(&t).await, before);

        // The school confirms: once, audited, gone from its list.
        let r = post(&school, &app, &confirm, &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(scalar(&t, &is_validated).await, 1);
        assert_eq!(scalar(&t, &audited("validate_enrolment")).await, 1);
        assert_eq!(
            scalar(
                &t,
                &format!(
                    "SELECT COUNT(*) FROM enrolment WHERE id = {mine} \
                     AND validated_by = 'staff:{school_user}' AND report_reason IS NULL"
                )
            )
            .await,
            1
        );
        let (_, html) = page(&school, &app, &format!("{BASE}/scuola?esito=confermata")).await;
        assert!(html.contains("Iscrizione confermata"), "{html}");
        assert!(!html.contains(&format!("action=\"{confirm}\"")), "{html}");
        let before = written(&t).await;
        let r = post(&school, &app, &confirm, &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 422);
        assert_eq!(written(&t).await, before);
        let (_, html) = page(&office, &app, &format!("{BASE}/persone")).await;
        assert!(!html.contains("da confermare dalla scuola"), "{html}");

        // Another school's enrolment, waiting too: 403 for both decisions, nothing written.
        let theirs = scalar(
            &t,
            "SELECT MIN(e.id) FROM enrolment e JOIN school s ON s.id = e.school_id \
             WHERE s.name NOT LIKE '%Rodari'",
        )
        .await;
        exec(
            &t,
            &format!(
                "UPDATE enrolment SET validated_at = NULL, validated_by = NULL WHERE id = {theirs}"
            ),
        )
        .await;
        let before = written(&t).await;
        for (action, form) in [
            ("conferma", vec![("_csrf", csrf.as_str())]),
            (
                "segnala",
                vec![
                    ("motivo", "Non è della mia scuola"),
                    ("_csrf", csrf.as_str()),
                ],
            ),
        ] {
            let r = post(
                &school,
                &app,
                format!("{BASE}/scuola/iscrizioni/{theirs}/{action}"),
                &form,
            )
            .await;
            assert_eq!(r.status(), 403, "{action}");
        }
        assert_eq!(written(&t).await, before);
        let (_, html) = page(&school, &app, &format!("{BASE}/scuola")).await;
        assert!(
            !html.contains(&format!("/scuola/iscrizioni/{theirs}/")),
            "{html}"
        );

        // A class change applied today: the school validates the enrolment again.
        let p = format!("modifica-{mine}");
        let (day, class, reason) = (
            format!("{p}-decorrenza"),
            format!("{p}-classe"),
            format!("{p}-motivo"),
        );
        let b_s = class_b.to_string();
        let r = post(
            &office,
            &app,
            format!("{BASE}/persone/iscrizioni/{mine}/modifiche"),
            &[
                (day.as_str(), "2026-11-23"),
                (class.as_str(), b_s.as_str()),
                (reason.as_str(), "Cambio di sezione"),
                ("_csrf", &office_csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT class_id FROM enrolment WHERE id = {mine}")
            )
            .await,
            class_b
        );
        assert_eq!(scalar(&t, &is_validated).await, 0);
        let (_, html) = page(&school, &app, &format!("{BASE}/scuola/classi/{class_b}")).await;
        assert!(html.contains(&format!("action=\"{confirm}\"")), "{html}");
        app.stop().await;
        t.cleanup().await;
    }
}
