//! The platform administrator over real HTTP on both databases: login at /admin/accedi
//! (throttled), a new municipality with its first office user, who then logs in at the new
//! municipality and reaches its back office; bad input refused (422, Italian, nothing written);
//! a municipality's staff and families kept out of /admin; the administrator's session kept
//! out of every municipality's back office and personal area.

use crate::common::{
    admin, admin_login, browser, csrf_of, form_csrf, login, page, post, scalar, spawn,
};
use refettorio_app::demo::{
    DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USER, DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF,
    DEMO_PARENT_PASSWORD,
};
use refettorio_db::testing::TestDb;
use refettorio_domain::EnteFiscalCode;

/// Tenants, staff users and audit rows: what a refused POST must leave as it was.
async fn written(t: &TestDb) -> (i64, i64, i64) {
    (
        scalar(t, "SELECT COUNT(*) FROM tenant").await,
        scalar(t, "SELECT COUNT(*) FROM staff_user").await,
        scalar(t, "SELECT COUNT(*) FROM audit_log").await,
    )
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn new_fiscal_code() -> String {
    EnteFiscalCode::with_check_digit("8000333344")
        .unwrap()
        .as_str()
        .to_string()
}

fn tenant_form<'a>(
    csrf: &'a str,
    slug: &'a str,
    cf: &'a str,
    pw: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("_csrf", csrf),
        ("slug", slug),
        ("name", "Comune di Nuovo"),
        ("fiscal_code", cf),
        ("timezone", "Europe/Rome"),
        ("cutoff", "09:30"),
        ("username", "ufficio-nuovo"),
        ("display_name", "Ufficio scuola di Nuovo"),
        ("password", pw),
    ]
}

#[tokio::test]
async fn admin_creates_a_municipality_whose_office_logs_in() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;

        // No session: the login.
        let r = app.get("/admin").await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/admin/accedi");

        // A wrong password, then the right one.
        let client = browser();
        let r = admin_login(&app, &client, "sbagliata-davvero").await;
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().contains("Credenziali non valide"));
        let (client, csrf) = admin(&app).await;
        let (_, html) = page(&client, &app, "/admin").await;
        assert!(
            html.contains("Comune di Esempio") && html.contains(">esempio<"),
            "{html}"
        );

        // A new municipality with its first office user.
        let cf = new_fiscal_code();
        let before = written(&t).await;
        let r = post(
            &client,
            &app,
            "/admin/comuni",
            &tenant_form(&csrf, "nuovo", &cf, "password-di-nuovo-1"),
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/admin/comuni/nuovo?esito=creato");
        let after = written(&t).await;
        assert_eq!(after.0, before.0 + 1);
        assert_eq!(after.1, before.1 + 1);
        assert_eq!(after.2, before.2 + 2, "tenant and office user audited");
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log a JOIN tenant t ON t.id = a.tenant_id \
                 WHERE t.slug = 'nuovo' AND a.action IN ('create_tenant', 'add_staff')"
            )
            .await,
            2
        );
        let (status, html) = page(&client, &app, "/admin/comuni/nuovo?esito=creato").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("ufficio-nuovo") && html.contains("Ufficio scuola"),
            "{html}"
        );
        let (_, html) = page(&client, &app, "/admin").await;
        assert!(html.contains("Comune di Nuovo") && html.contains(&cf));

        // The new office user logs in at the new municipality and reaches its back office.
        let office = browser();
        let csrf_login = form_csrf(&app, &office, "/t/nuovo/accedi").await;
        let r = post(
            &office,
            &app,
            "/t/nuovo/accedi",
            &[
                ("identifier", "ufficio-nuovo"),
                ("password", "password-di-nuovo-1"),
                ("_csrf", &csrf_login),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/t/nuovo/backoffice");
        let (status, html) = page(&office, &app, "/t/nuovo/backoffice").await;
        assert_eq!(status, 200);
        assert!(html.contains("Ufficio scuola di Nuovo"));
        // ...and not the demo's.
        let (status, _) = page(&office, &app, "/t/esempio/backoffice").await;
        assert_eq!(status, 303);

        // A kitchen user added, deactivated (its session ends, it cannot log in), reactivated.
        let r = post(
            &client,
            &app,
            "/admin/comuni/nuovo/personale",
            &[
                ("_csrf", &csrf),
                ("username", "cucina-nuovo"),
                ("display_name", "Cucina di Nuovo"),
                ("role", "kitchen"),
                ("password", "password-cucina-1"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let kitchen_id = scalar(
            &t,
            "SELECT id FROM staff_user WHERE username = 'cucina-nuovo'",
        )
        .await;
        let kitchen = browser();
        let kitchen_login = |c: reqwest::Client| {
            let app = &app;
            async move {
                let csrf = form_csrf(app, &c, "/t/nuovo/accedi").await;
                post(
                    &c,
                    app,
                    "/t/nuovo/accedi",
                    &[
                        ("identifier", "cucina-nuovo"),
                        ("password", "password-cucina-1"),
                        ("_csrf", &csrf),
                    ],
                )
                .await
                .status()
            }
        };
        assert_eq!(kitchen_login(kitchen.clone()).await, 303);
        assert_eq!(page(&kitchen, &app, "/t/nuovo/backoffice").await.0, 200);
        let r = post(
            &client,
            &app,
            &format!("/admin/comuni/nuovo/personale/{kitchen_id}/disattiva"),
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_ne!(page(&kitchen, &app, "/t/nuovo/backoffice").await.0, 200);
        assert_eq!(kitchen_login(browser()).await, 401);
        let r = post(
            &client,
            &app,
            &format!("/admin/comuni/nuovo/personale/{kitchen_id}/riattiva"),
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(kitchen_login(browser()).await, 303);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action IN ('deactivate_staff', 'reactivate_staff') \
                 AND before IS NOT NULL AND after IS NOT NULL"
            )
            .await,
            2
        );
        // Another municipality's user id under this municipality's address: not found.
        let esempio_office = scalar(
            &t,
            "SELECT s.id FROM staff_user s JOIN tenant t ON t.id = s.tenant_id \
             WHERE t.slug = 'esempio' AND s.username = 'ufficio'",
        )
        .await;
        let r = post(
            &client,
            &app,
            &format!("/admin/comuni/nuovo/personale/{esempio_office}/disattiva"),
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 404);

        // The administrator's session opens no municipality's back office or personal area.
        for path in [
            "/t/esempio/backoffice",
            "/t/esempio/area-personale",
            "/t/nuovo/backoffice",
            "/t/nuovo/area-personale",
        ] {
            let (status, _) = page(&client, &app, path).await;
            assert!(status == 303 || status == 403, "{path}: {status}");
        }

        // Logout ends the session.
        let r = post(&client, &app, "/admin/esci", &[("_csrf", &csrf)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(page(&client, &app, "/admin").await.0, 303);

        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = admin(&app).await;
        let before = written(&t).await;
        let cf = new_fiscal_code();

        // Every field wrong at once.
        let r = post(
            &client,
            &app,
            "/admin/comuni",
            &[
                ("_csrf", &csrf),
                ("slug", "Con Spazi"),
                ("name", ""),
                ("fiscal_code", "12345"),
                ("timezone", "Europe/Nowhere"),
                ("cutoff", "25:99"),
                ("username", ""),
                ("display_name", ""),
                ("password", "corta"),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        for m in [
            "Il nome breve può contenere solo",
            "Inserisci il nome del Comune",
            "deve avere 11 cifre",
            "Fuso orario sconosciuto",
            "Orario limite non valido",
            "Inserisci il nome utente",
            "Inserisci il nome da mostrare",
            "almeno 12 caratteri",
        ] {
            assert!(html.contains(m), "{m} missing in {html}");
        }
        assert!(html.contains("aria-invalid=\"true\""));
        // What was typed is shown again, the password never.
        assert!(html.contains("value=\"Con Spazi\""));
        assert!(!html.contains("value=\"corta\""));

        // The demo's slug, then the demo's fiscal code: refused.
        let r = post(
            &client,
            &app,
            "/admin/comuni",
            &tenant_form(&csrf, "esempio", &cf, "password-di-nuovo-1"),
        )
        .await;
        assert_eq!(r.status(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("già usato da un altro Comune")
        );
        let esempio_cf = EnteFiscalCode::with_check_digit("8000215047").unwrap();
        let r = post(
            &client,
            &app,
            "/admin/comuni",
            &tenant_form(&csrf, "nuovo", esempio_cf.as_str(), "password-di-nuovo-1"),
        )
        .await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("già di un altro Comune"));
        // An 11-character password.
        let r = post(
            &client,
            &app,
            "/admin/comuni",
            &tenant_form(&csrf, "nuovo", &cf, "undici-cara"),
        )
        .await;
        assert_eq!(r.status(), 422);
        // A wrong CSRF token: 403.
        let r = post(
            &client,
            &app,
            "/admin/comuni",
            &tenant_form("sbagliato", "nuovo", &cf, "password-di-nuovo-1"),
        )
        .await;
        assert_eq!(r.status(), 403);

        // A staff user: a platform role, a taken username, a short password.
        for (username, role, pw) in [
            ("capo", "platform_admin", "password-lunga-1"),
            (DEMO_OFFICE_USER, "office", "password-lunga-1"),
            ("nuovo-utente", "kitchen", "corta-1"),
        ] {
            let r = post(
                &client,
                &app,
                "/admin/comuni/esempio/personale",
                &[
                    ("_csrf", &csrf),
                    ("username", username),
                    ("display_name", "Qualcuno"),
                    ("role", role),
                    ("password", pw),
                ],
            )
            .await;
            assert_eq!(r.status(), 422, "{username}");
        }
        assert_eq!(written(&t).await, before, "nothing written");

        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn only_the_platform_administrator_opens_admin() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let before = written(&t).await;

        // The demo office user and the demo parent: 403 on every page and form of /admin.
        for (id, pw, home) in [
            (
                DEMO_OFFICE_USER,
                DEMO_OFFICE_PASSWORD,
                "/t/esempio/backoffice",
            ),
            (
                DEMO_PARENT_CF,
                DEMO_PARENT_PASSWORD,
                "/t/esempio/area-personale",
            ),
        ] {
            let client = browser();
            assert_eq!(login(&app, &client, id, pw).await.status(), 303);
            let (status, html) = page(&client, &app, home).await;
            assert_eq!(status, 200);
            let csrf = csrf_of(&html);
            for path in ["/admin", "/admin/comuni/esempio"] {
                assert_eq!(page(&client, &app, path).await.0, 403, "{id} {path}");
            }
            let cf = new_fiscal_code();
            let r = post(
                &client,
                &app,
                "/admin/comuni",
                &tenant_form(&csrf, "nuovo", &cf, "password-di-nuovo-1"),
            )
            .await;
            assert_eq!(r.status(), 403, "{id}");
            let r = post(
                &client,
                &app,
                "/admin/comuni/esempio/personale/1/disattiva",
                &[("_csrf", &csrf)],
            )
            .await;
            assert_eq!(r.status(), 403, "{id}");
        }
        // The municipality's login does not take the platform administrator.
        let client = browser();
        assert_eq!(
            login(&app, &client, DEMO_ADMIN_USER, DEMO_ADMIN_PASSWORD)
                .await
                .status(),
            401
        );
        // ...nor /admin/accedi the municipality's office user.
        let csrf = form_csrf(&app, &client, "/admin/accedi").await;
        let r = post(
            &client,
            &app,
            "/admin/accedi",
            &[
                ("username", DEMO_OFFICE_USER),
                ("password", DEMO_OFFICE_PASSWORD),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 401);
        assert_eq!(written(&t).await, before, "nothing written");

        // Throttling: five failures, then even the right password waits.
        let client = browser();
        for _ in 0..5 {
            assert_eq!(
                admin_login(&app, &client, "sbagliata-1").await.status(),
                401
            );
        }
        let r = admin_login(&app, &client, DEMO_ADMIN_PASSWORD).await;
        assert_eq!(r.status(), 429);
        assert!(r.text().await.unwrap().contains("Troppi tentativi"));
        // The municipality's throttling is counted apart: the office user still logs in.
        assert_eq!(
            login(&app, &browser(), DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD)
                .await
                .status(),
            303
        );

        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_school_user_works_for_the_schools_the_administrator_gives_it() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (client, csrf) = admin(&app).await;
        let r = post(
            &client,
            &app,
            "/admin/comuni/esempio/personale",
            &[
                ("_csrf", csrf.as_str()),
                ("username", "scuola-montessori"),
                ("display_name", "Segreteria Montessori"),
                ("role", "school"),
                ("password", "password-scuola-1"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let user = scalar(
            &t,
            "SELECT id FROM staff_user WHERE username = 'scuola-montessori'",
        )
        .await;
        let montessori = scalar(
            &t,
            "SELECT id FROM school WHERE name = 'Scuola primaria Maria Montessori'",
        )
        .await;
        let rodari = scalar(
            &t,
            "SELECT id FROM school WHERE name = 'Scuola primaria Gianni Rodari'",
        )
        .await;
        let (_, html) = page(&client, &app, "/admin/comuni/esempio").await;
        assert!(
            html.contains("Scuole di Segreteria Montessori (scuola-montessori)"),
            "{html}"
        );

        // With no school yet, the new user sees none.
        let school = browser();
        let r = login(&app, &school, "scuola-montessori", "password-scuola-1").await;
        assert_eq!(r.status(), 303);
        let (status, html) = page(&school, &app, "/t/esempio/backoffice/scuola").await;
        assert_eq!(status, 200);
        assert!(html.contains("Nessuna scuola è collegata"), "{html}");

        let path = format!("/admin/comuni/esempio/personale/{user}/scuole");
        let links = "SELECT COUNT(*) FROM staff_school WHERE staff_id = ";
        let before = written(&t).await;
        // Another municipality's school id, a value that is no number, another role's user,
        // a wrong CSRF token: refused, nothing written.
        for bad in ["999999", "Montessori"] {
            let r = post(
                &client,
                &app,
                &path,
                &[("_csrf", csrf.as_str()), ("scuola", bad)],
            )
            .await;
            assert_eq!(r.status(), 422, "{bad}");
            assert!(
                r.text().await.unwrap().contains("non è di questo Comune"),
                "{bad}"
            );
        }
        let office = scalar(&t, "SELECT id FROM staff_user WHERE username = 'ufficio'").await;
        let r = post(
            &client,
            &app,
            &format!("/admin/comuni/esempio/personale/{office}/scuole"),
            &[
                ("_csrf", csrf.as_str()),
                ("scuola", &montessori.to_string()),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Solo gli utenti del ruolo Scuola")
        );
        let r = post(
            &client,
            &app,
            &path,
            &[("_csrf", "sbagliato"), ("scuola", &montessori.to_string())],
        )
        .await;
        assert_eq!(r.status(), 403);
        assert_eq!(written(&t).await, before);
        assert_eq!(scalar(&t, &format!("{links}{user}")).await, 0);

        // Montessori: the user sees its classes and opens them, not Rodari's.
        let r = post(
            &client,
            &app,
            &path,
            &[
                ("_csrf", csrf.as_str()),
                ("scuola", &montessori.to_string()),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/admin/comuni/esempio?esito=scuole");
        let (_, html) = page(&school, &app, "/t/esempio/backoffice/scuola").await;
        assert!(html.contains("Scuola primaria Maria Montessori"), "{html}");
        assert!(!html.contains("Scuola primaria Gianni Rodari"), "{html}");
        let class_of =
            |school: i64| format!("SELECT MIN(id) FROM class WHERE school_id = {school}");
        let own = scalar(&t, &class_of(montessori)).await;
        let other = scalar(&t, &class_of(rodari)).await;
        let class_page = |k: i64| format!("/t/esempio/backoffice/scuola/classi/{k}");
        assert_eq!(page(&school, &app, &class_page(own)).await.0, 200);
        assert_eq!(page(&school, &app, &class_page(other)).await.0, 403);
        // The same set again writes nothing; the change was audited with the names.
        let r = post(
            &client,
            &app,
            &path,
            &[
                ("_csrf", csrf.as_str()),
                ("scuola", &montessori.to_string()),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let audited = "SELECT COUNT(*) FROM audit_log WHERE action = 'set_staff_schools'";
        assert_eq!(scalar(&t, audited).await, 1);
        assert!(
            crate::common::text(
                &t,
                "SELECT after FROM audit_log WHERE action = 'set_staff_schools'"
            )
            .await
            .contains("Montessori")
        );

        // Rodari instead: Montessori's class is closed to it now.
        let r = post(
            &client,
            &app,
            &path,
            &[("_csrf", csrf.as_str()), ("scuola", &rodari.to_string())],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(scalar(&t, &format!("{links}{user}")).await, 1);
        assert_eq!(page(&school, &app, &class_page(own)).await.0, 403);
        assert_eq!(page(&school, &app, &class_page(other)).await.0, 200);
        // None at all.
        let r = post(&client, &app, &path, &[("_csrf", csrf.as_str())]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(scalar(&t, &format!("{links}{user}")).await, 0);
        assert_eq!(scalar(&t, audited).await, 3);

        app.stop().await;
        t.cleanup().await;
    }
}
