//! The school's fallback attendance over real HTTP on both databases: after the day's close the
//! school user corrects, on the canteen staff's page, a pupil of its own school (one reversal,
//! audited with the school user as actor, refused when repeated) and is refused (403, nothing
//! written) the list and the correction of a class of another school; the office still sees
//! every school's classes.

use crate::common::{browser, csrf_of, login, page, post, scalar, spawn};
use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER};
use refettorio_db::registry::tenant;
use refettorio_db::testing::TestDb;

const PAGE: &str = "/t/esempio/backoffice/refettorio";
const CORRECT: &str = "/t/esempio/backoffice/refettorio/correzione";
const RODARI: &str = "Scuola primaria Gianni Rodari";
/// Another school eating on Monday (Montessori eats on Tuesday and Thursday).
const OTHER: &str = "Arcobaleno";
const TODAY: &str = "2026-11-23";

/// Ledger entries and audit rows: what a refused correction leaves as it was.
async fn written(t: &TestDb) -> (i64, i64) {
    (
        scalar(t, "SELECT COUNT(*) FROM ledger_entry").await,
        scalar(t, "SELECT COUNT(*) FROM audit_log").await,
    )
}

/// An enrolment of the school whose name ends with `school` charged a meal today by the close, and its class.
async fn charged_pupil(t: &TestDb, school: &str) -> (i64, i64) {
    let enrolment = scalar(
        t,
        &format!(
            "SELECT MIN(l.enrolment_id) FROM ledger_entry l JOIN school s ON s.id = l.school_id \
             WHERE l.kind = 'meal_charge' AND l.day = '{TODAY}' AND s.name LIKE '%{school}'"
        ),
    )
    .await;
    let class = scalar(
        t,
        &format!("SELECT class_id FROM enrolment WHERE id = {enrolment}"),
    )
    .await;
    (enrolment, class)
}

#[tokio::test]
async fn a_school_corrects_only_its_own_classes_after_the_close() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let tn = {
            let mut h = t.db.acquire().await.unwrap();
            tenant::by_slug(&mut h.conn(), "esempio")
                .await
                .unwrap()
                .unwrap()
        };
        // After the cut-off the day is closed: every booked pupil is charged.
        app.clock.set("2026-11-23T11:00:00Z".parse().unwrap());
        let closed = refettorio_app::close::close(
            refettorio_app::Ctx::new(
                &t.db,
                app.clock.as_ref(),
                &tn,
                refettorio_domain::Actor::Close,
            ),
            TODAY.parse().unwrap(),
        )
        .await
        .unwrap();
        assert!(closed.charged > 0);
        let (mine, my_class) = charged_pupil(&t, RODARI).await;
        let (theirs, their_class) = charged_pupil(&t, OTHER).await;
        assert!(mine > 0 && theirs > 0, "both schools eat today");

        let client = browser();
        assert_eq!(
            login(&app, &client, "scuola", "demo-scuola").await.status(),
            303
        );
        let school_user = scalar(
            &t,
            "SELECT id FROM staff_user WHERE username = 'scuola' AND tenant_id IS NOT NULL",
        )
        .await;
        // The menu offers the page; its chooser lists only the school's own classes.
        let (status, html) = page(&client, &app, "/t/esempio/backoffice").await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!("href=\"{PAGE}\"")), "{html}");
        let (status, html) = page(&client, &app, PAGE).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(RODARI), "{html}");
        assert!(!html.contains(OTHER), "{html}");
        assert!(!html.contains(&format!("<option value=\"{their_class}\"")));
        // The school's class page links to the correction of that class.
        let (status, html) = page(
            &client,
            &app,
            &format!("/t/esempio/backoffice/scuola/classi/{my_class}"),
        )
        .await;
        assert_eq!(status, 200);
        let list = format!("{PAGE}?classe={my_class}");
        assert!(html.contains(&format!("href=\"{list}\"")), "{html}");

        // Its own pupil, charged by the close: marked absent, the meal is reversed once.
        let (status, html) = page(&client, &app, &list).await;
        assert_eq!(status, 200, "{html}");
        let csrf = csrf_of(&html);
        assert!(
            html.contains(&format!("name=\"iscrizione\" value=\"{mine}\"")),
            "{html}"
        );
        let reversals = format!(
            "SELECT COUNT(*) FROM ledger_entry WHERE kind = 'reversal' AND enrolment_id = {mine}"
        );
        let audited = format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'correct_attendance' \
             AND entity_id = {mine} AND actor = 'staff:{school_user}'"
        );
        assert_eq!(scalar(&t, &reversals).await, 0);
        let (mine_s, my_class_s) = (mine.to_string(), my_class.to_string());
        let form = [
            ("iscrizione", mine_s.as_str()),
            ("correzione", "assente"),
            ("motivo", "Uscito prima del pranzo"),
            ("classe", my_class_s.as_str()),
            ("_csrf", csrf.as_str()),
        ];
        let r = post(&client, &app, CORRECT, &form).await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{list}&esito=corretto")
        );
        assert_eq!(scalar(&t, &reversals).await, 1);
        assert_eq!(scalar(&t, &audited).await, 1);
        let by = format!(
            "SELECT COUNT(*) FROM ledger_entry WHERE kind = 'reversal' AND enrolment_id = {mine} \
             AND created_by = 'staff:{school_user}'"
        );
        assert_eq!(scalar(&t, &by).await, 1);
        // Repeated: refused with the reason, nothing written.
        let before = written(&t).await;
        let r = post(&client, &app, CORRECT, &form).await;
        assert_eq!(r.status(), 422);
        assert_eq!(written(&t).await, before);

        // Another school's class and pupil: 403, nothing written.
        let (status, html) = page(&client, &app, &format!("{PAGE}?classe={their_class}")).await;
        assert_eq!(status, 403);
        assert!(!html.contains(OTHER));
        let (theirs_s, their_class_s) = (theirs.to_string(), their_class.to_string());
        for class in [their_class_s.as_str(), my_class_s.as_str()] {
            let r = post(
                &client,
                &app,
                CORRECT,
                &[
                    ("iscrizione", theirs_s.as_str()),
                    ("correzione", "assente"),
                    ("motivo", "Non è della mia scuola"),
                    ("classe", class),
                    ("_csrf", csrf.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status(), 403, "class {class}");
        }
        assert_eq!(written(&t).await, before);
        assert_eq!(
            scalar(
                &t,
                &format!(
                    "SELECT COUNT(*) FROM ledger_entry WHERE kind = 'reversal' \
                     AND enrolment_id = {theirs}"
                ),
            )
            .await,
            0
        );

        // The office still sees, and may correct, every school's classes.
        let office = browser();
        let r = login(&app, &office, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        assert_eq!(r.status(), 303);
        let (status, html) = page(&office, &app, PAGE).await;
        assert_eq!(status, 200);
        assert!(html.contains(RODARI) && html.contains(OTHER), "{html}");
        let (status, html) = page(&office, &app, &format!("{PAGE}?classe={their_class}")).await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!("name=\"iscrizione\" value=\"{theirs}\"")));
        app.stop().await;
        t.cleanup().await;
    }
}
