//! Getting in, over real HTTP on both databases (issue 12): a self-registration never takes
//! over a registry guardian (no e-mail on file; a fiscal code added by the office later), the
//! office's activation code and confirmation, e-mailed links never built from a foreign
//! `Host`, a used reset link ends the older ones, login throttling per identifier and source,
//! and a `next` that is not a local path.

use std::net::IpAddr;

use crate::common::{
    App, MONDAY_8AM, browser, csrf_of, form_csrf, login, login_page_csrf, page, post, scalar,
    spawn, spawn_with, text,
};
use refettorio_app::demo::{
    DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USER, DEMO_DELEGATE_CF, DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER,
    DEMO_PARENT_CF, DEMO_PARENT_EMAIL, DEMO_PARENT_PASSWORD,
};
use refettorio_db::registry::tenant;
use refettorio_db::testing::TestDb;
use refettorio_domain::{CodiceFiscale, TenantId};

async fn tenant_id(t: &TestDb) -> TenantId {
    let mut h = t.db.acquire().await.unwrap();
    tenant::by_slug(&mut h.conn(), "esempio")
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The outbox's messages to `recipient`, oldest first.
async fn mails_to(t: &TestDb, recipient: &str) -> Vec<String> {
    let tenant = tenant_id(t).await;
    let mut h = t.db.acquire().await.unwrap();
    refettorio_db::outbox::outbox(&mut h.conn(), tenant)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.recipient == recipient)
        .map(|m| m.body)
        .collect()
}

/// The first `http…` link of a message body.
fn link_in(body: &str) -> String {
    let start = body.find("http").expect("a link");
    body[start..].split_whitespace().next().unwrap().to_string()
}

/// The path of a link (from `/t/`).
fn path_of(link: &str) -> String {
    link[link.find("/t/").unwrap()..].to_string()
}

fn computed_cf(surname: &str, name: &str, born: &str) -> String {
    CodiceFiscale::compute(surname, name, born.parse().unwrap(), false, "F205")
        .unwrap()
        .as_str()
        .to_string()
}

/// Posts the registration form from a fresh page of `client`.
async fn register(
    app: &App,
    client: &reqwest::Client,
    cf: &str,
    email: &str,
    password: &str,
    code: &str,
) -> (u16, String) {
    let csrf = form_csrf(app, client, "/t/esempio/registrati").await;
    let r = post(
        client,
        app,
        "/t/esempio/registrati",
        &[
            ("fiscal_code", cf),
            ("first_name", "Nome"),
            ("last_name", "Cognome"),
            ("email", email),
            ("password", password),
            ("confirm", password),
            ("privacy", "si"),
            ("activation_code", code),
            ("_csrf", &csrf),
        ],
    )
    .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The office logged in, with its CSRF token.
async fn office(app: &App) -> (reqwest::Client, String) {
    let client = browser();
    let r = login(app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let (status, html) = page(&client, app, "/t/esempio/backoffice/persone").await;
    assert_eq!(status, 200, "{html}");
    (client, csrf_of(&html))
}

async fn guardian_id(t: &TestDb, cf: &str) -> i64 {
    scalar(
        t,
        &format!("SELECT id FROM guardian WHERE fiscal_code = '{cf}'"),
    )
    .await
}

/// The office makes an activation code for the guardian and reads it from the printable page.
async fn activation_code(app: &App, office: &reqwest::Client, csrf: &str, guardian: i64) -> String {
    let r = post(
        office,
        app,
        format!("/t/esempio/backoffice/persone/genitori/{guardian}/codice-attivazione"),
        &[("_csrf", csrf)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let start = html.find("<code>").expect("the code") + "<code>".len();
    let code = html[start..].split('<').next().unwrap().to_string();
    assert_eq!(code.len(), 19, "{code}");
    code
}

const GENERIC: &str = "Controlla la tua casella di posta";

#[tokio::test]
async fn registration_never_takes_over_a_guardian_without_email() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        // Giulia, a delegate who sees the children, was entered by the office without e-mail.
        crate::common::exec(
            &t,
            &format!("UPDATE guardian SET email = NULL WHERE fiscal_code = '{DEMO_DELEGATE_CF}'"),
            &format!("UPDATE guardian SET email = NULL WHERE fiscal_code = '{DEMO_DELEGATE_CF}'"),
        )
        .await;
        let attacker = browser();
        let (status, html) = register(
            &app,
            &attacker,
            DEMO_DELEGATE_CF,
            "attaccante@example.net",
            "password-attacco-1",
            "",
        )
        .await;
        // The same answer as for any fiscal code, telling what to do without an e-mail.
        assert_eq!(status, 200);
        assert!(html.contains(GENERIC), "{html}");
        assert!(html.contains("codice di attivazione"), "{html}");
        // Nothing changed, nothing sent.
        assert_eq!(
            scalar(
                &t,
                &format!(
                    "SELECT COUNT(*) FROM guardian WHERE fiscal_code = '{DEMO_DELEGATE_CF}' \
                     AND email IS NULL AND password_hash IS NULL"
                )
            )
            .await,
            1
        );
        assert!(mails_to(&t, "attaccante@example.net").await.is_empty());
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM password_reset").await, 0);
        assert_eq!(
            login(&app, &attacker, DEMO_DELEGATE_CF, "password-attacco-1")
                .await
                .status(),
            401
        );
        assert_ne!(
            page(&attacker, &app, "/t/esempio/area-personale").await.0,
            200
        );
        // An unknown fiscal code gets the very same page.
        let stranger = computed_cf("Neri", "Anna", "1990-03-04");
        let (status, other) = register(
            &app,
            &browser(),
            &stranger,
            "anna.neri@example.net",
            "password-anna-1",
            "",
        )
        .await;
        assert_eq!(status, 200);
        let body = |h: &str| {
            let start = h.find("<h1>").unwrap();
            let end = start + h[start..].find("</p>").unwrap();
            h[start..end].to_string()
        };
        assert_eq!(body(&html), body(&other));
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_self_registered_login_is_not_linked_when_the_office_adds_its_fiscal_code() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        // Someone registers a fiscal code the office does not have yet, and activates it.
        let cf = computed_cf("Gialli", "Paolo", "1984-05-06");
        let squatter = browser();
        let (status, _) = register(
            &app,
            &squatter,
            &cf,
            "paolo@example.net",
            "password-paolo-1",
            "",
        )
        .await;
        assert_eq!(status, 200);
        let mails = mails_to(&t, "paolo@example.net").await;
        let r = squatter
            .get(app.url(&path_of(&link_in(&mails[0]))))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(
            login(&app, &squatter, &cf, "password-paolo-1")
                .await
                .status(),
            303
        );
        // The office later adds that fiscal code as a delegate of Mario's family, allowed to
        // see payments.
        let (office, csrf) = office(&app).await;
        let family = scalar(
            &t,
            &format!(
                "SELECT f.id FROM family f JOIN guardian g ON g.id = f.payer_id \
                 WHERE g.fiscal_code = '{DEMO_PARENT_CF}'"
            ),
        )
        .await;
        let r = post(
            &office,
            &app,
            format!("/t/esempio/backoffice/persone/famiglie/{family}/delegati"),
            &[
                ("delegato-codice-fiscale", cf.as_str()),
                ("delegato-nome", "Paolo"),
                ("delegato-cognome", "Gialli"),
                ("delegato-pagamenti", "1"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        // The earlier self-registered login sees nothing of the family.
        let (status, home) = page(&squatter, &app, "/t/esempio/area-personale").await;
        assert_eq!(status, 200);
        assert!(!home.contains("Luca"), "{home}");
        assert!(home.contains("Non ci sono figli"), "{home}");
        let (_, kids) = page(&squatter, &app, "/t/esempio/area-personale/figli").await;
        assert!(!kids.contains("Luca"), "{kids}");
        assert_ne!(
            page(&squatter, &app, "/t/esempio/area-personale/pagamenti")
                .await
                .0,
            200
        );
        // A fresh login changes nothing.
        let again = browser();
        assert_eq!(
            login(&app, &again, &cf, "password-paolo-1").await.status(),
            303
        );
        let (_, home) = page(&again, &app, "/t/esempio/area-personale").await;
        assert!(!home.contains("Luca"), "{home}");
        // The office sees the login as unproven, and confirming it (having checked the
        // person's identity) is what links it.
        let g = guardian_id(&t, &cf).await;
        let (_, html) = page(
            &office,
            &app,
            &format!("/t/esempio/backoffice/persone/genitori/{g}"),
        )
        .await;
        assert!(
            html.contains("registrato online e non verificato"),
            "{html}"
        );
        let r = post(
            &office,
            &app,
            format!("/t/esempio/backoffice/persone/genitori/{g}/conferma-account"),
            &[("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 303);
        let (_, home) = page(&again, &app, "/t/esempio/area-personale").await;
        assert!(home.contains("Luca"), "{home}");
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'confirm_login'"
            )
            .await,
            1
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn an_activation_code_proves_the_family_end_to_end() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        crate::common::exec(
            &t,
            &format!("UPDATE guardian SET email = NULL WHERE fiscal_code = '{DEMO_DELEGATE_CF}'"),
            &format!("UPDATE guardian SET email = NULL WHERE fiscal_code = '{DEMO_DELEGATE_CF}'"),
        )
        .await;
        let (office, csrf) = office(&app).await;
        let g = guardian_id(&t, DEMO_DELEGATE_CF).await;
        let (_, html) = page(
            &office,
            &app,
            &format!("/t/esempio/backoffice/persone/genitori/{g}"),
        )
        .await;
        assert!(html.contains("Codice di attivazione"), "{html}");
        let first = activation_code(&app, &office, &csrf, g).await;
        let code = activation_code(&app, &office, &csrf, g).await;
        assert_ne!(first, code);
        // Only the hash is stored.
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT COUNT(*) FROM activation_code WHERE code_hash LIKE '%{code}%'")
            )
            .await,
            0
        );
        let bad = "Il codice di attivazione non è valido o è scaduto";
        let giulia = browser();
        // A newer code ends the older one.
        let (status, html) = register(
            &app,
            &giulia,
            DEMO_DELEGATE_CF,
            "giulia@example.org",
            "password-giulia-1",
            &first,
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(bad), "{html}");
        // The code works only with its own fiscal code; an unknown fiscal code gets the same
        // answer, and nothing is written.
        let writes = scalar(&t, "SELECT COUNT(*) FROM guardian").await;
        for cf in [
            DEMO_PARENT_CF.to_string(),
            computed_cf("Neri", "Anna", "1990-03-04"),
        ] {
            let (status, html) = register(
                &app,
                &browser(),
                &cf,
                "x@example.net",
                "password-altro-1",
                &code,
            )
            .await;
            assert_eq!(status, 422);
            assert!(html.contains(bad), "{html}");
        }
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM guardian").await, writes);
        assert!(mails_to(&t, "x@example.net").await.is_empty());
        // Giulia types the code as read from the letter (lower case, spaces).
        let typed = code.to_lowercase().replace('-', " ");
        let (status, html) = register(
            &app,
            &giulia,
            DEMO_DELEGATE_CF,
            "giulia@example.org",
            "password-giulia-1",
            &typed,
        )
        .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Account attivato"), "{html}");
        assert_eq!(
            text(
                &t,
                &format!("SELECT email FROM guardian WHERE fiscal_code = '{DEMO_DELEGATE_CF}'")
            )
            .await,
            "giulia@example.org"
        );
        assert_eq!(
            login(&app, &giulia, DEMO_DELEGATE_CF, "password-giulia-1")
                .await
                .status(),
            303
        );
        let (_, home) = page(&giulia, &app, "/t/esempio/area-personale").await;
        assert!(home.contains("Luca"), "{home}");
        // The code works once.
        let (status, html) = register(
            &app,
            &browser(),
            DEMO_DELEGATE_CF,
            "altro@example.net",
            "password-altro-1",
            &code,
        )
        .await;
        assert_eq!(status, 422);
        assert!(html.contains(bad), "{html}");
        assert_eq!(
            login(&app, &browser(), DEMO_DELEGATE_CF, "password-altro-1")
                .await
                .status(),
            401
        );
        app.stop().await;
        t.cleanup().await;
    }
}

/// Asks for a password reset of Mario with this `Host` header.
async fn reset_with_host(app: &App, host: &str) -> u16 {
    let client = browser();
    let csrf = form_csrf(app, &client, "/t/esempio/password/recupera").await;
    client
        .post(app.url("/t/esempio/password/recupera"))
        .header("host", host)
        .form(&[("fiscal_code", DEMO_PARENT_CF), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn emailed_links_are_never_built_from_a_foreign_host() {
    for t in TestDb::all().await.unwrap() {
        // No public address configured: a foreign Host gets no link at all...
        let app = spawn(&t, true).await;
        assert_eq!(reset_with_host(&app, "attacker.example").await, 503);
        assert!(mails_to(&t, DEMO_PARENT_EMAIL).await.is_empty());
        // ...and the demo on loopback still works.
        let port = app.running.addr.port();
        assert_eq!(
            reset_with_host(&app, &format!("localhost:{port}")).await,
            200
        );
        let mails = mails_to(&t, DEMO_PARENT_EMAIL).await;
        assert_eq!(mails.len(), 1);
        assert!(
            link_in(&mails[0]).starts_with(&format!("http://localhost:{port}/t/esempio/")),
            "{}",
            mails[0]
        );
        app.stop().await;
        // With a public address, the link is on it whatever the Host.
        let app = spawn_with(&t, false, MONDAY_8AM, |c| {
            c.scheduler = false;
            c.public_url = Some("https://mensa.example.it/".into());
        })
        .await;
        assert_eq!(reset_with_host(&app, "attacker.example").await, 200);
        let mails = mails_to(&t, DEMO_PARENT_EMAIL).await;
        assert_eq!(mails.len(), 2);
        assert!(
            link_in(&mails[1])
                .starts_with("https://mensa.example.it/t/esempio/password/nuova?token="),
            "{}",
            mails[1]
        );
        app.stop().await;
        // With only a base domain, the municipality's own host.
        let app = spawn_with(&t, false, MONDAY_8AM, |c| {
            c.scheduler = false;
            c.base_domain = Some("mensa.example.it".into());
        })
        .await;
        assert_eq!(reset_with_host(&app, "attacker.example").await, 200);
        let mails = mails_to(&t, DEMO_PARENT_EMAIL).await;
        assert!(
            link_in(&mails[2])
                .starts_with("https://esempio.mensa.example.it/t/esempio/password/nuova?token="),
            "{}",
            mails[2]
        );
        assert!(mails.iter().all(|m| !m.contains("attacker")));
        app.stop().await;
        t.cleanup().await;
    }
}

/// Sets a new password through a reset link; the status of the form's answer.
async fn use_reset_link(app: &App, link: &str, password: &str) -> u16 {
    let client = browser();
    let token = link.split("token=").nth(1).unwrap().to_string();
    let csrf = form_csrf(app, &client, "/t/esempio/password/recupera").await;
    post(
        &client,
        app,
        "/t/esempio/password/nuova",
        &[
            ("token", token.as_str()),
            ("password", password),
            ("confirm", password),
            ("_csrf", &csrf),
        ],
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn an_older_reset_link_is_refused_after_a_newer_one_was_used() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let port = app.running.addr.port();
        let host = format!("127.0.0.1:{port}");
        for _ in 0..2 {
            assert_eq!(reset_with_host(&app, &host).await, 200);
        }
        let mails = mails_to(&t, DEMO_PARENT_EMAIL).await;
        assert_eq!(mails.len(), 2);
        let (older, newer) = (path_of(&link_in(&mails[0])), path_of(&link_in(&mails[1])));
        assert_eq!(use_reset_link(&app, &newer, "nuova-password-7").await, 303);
        // The older link's page and form are refused; the password stays the newer one.
        assert_eq!(page(&browser(), &app, &older).await.0, 400);
        assert_eq!(use_reset_link(&app, &older, "vecchio-link-8").await, 422);
        assert_eq!(
            login(&app, &browser(), DEMO_PARENT_CF, "vecchio-link-8")
                .await
                .status(),
            401
        );
        assert_eq!(
            login(&app, &browser(), DEMO_PARENT_CF, "nuova-password-7")
                .await
                .status(),
            303
        );
        app.stop().await;
        t.cleanup().await;
    }
}

/// A client whose connections come from another loopback address (a stranger elsewhere).
fn browser_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn admin_login(app: &App, client: &reqwest::Client, pw: &str) -> u16 {
    let csrf = form_csrf(app, client, "/admin/accedi").await;
    post(
        client,
        app,
        "/admin/accedi",
        &[
            ("username", DEMO_ADMIN_USER),
            ("password", pw),
            ("_csrf", &csrf),
        ],
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn a_strangers_failed_logins_do_not_lock_the_owner_out() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let stranger = browser_from("127.0.0.2");
        for _ in 0..5 {
            assert_eq!(
                login(&app, &stranger, DEMO_PARENT_CF, "sbagliata-1")
                    .await
                    .status(),
                401
            );
        }
        // The stranger is throttled, even with the right password...
        assert_eq!(
            login(&app, &stranger, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            429
        );
        // ...the owner, from another address, is not.
        let owner = browser();
        assert_eq!(
            login(&app, &owner, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            303
        );
        assert_eq!(page(&owner, &app, "/t/esempio/area-personale").await.0, 200);
        assert_eq!(
            login(&app, &stranger, DEMO_PARENT_CF, "sbagliata-1")
                .await
                .status(),
            429
        );
        // The same for the kitchen's staff login and for /admin/accedi.
        for _ in 0..5 {
            assert_eq!(
                login(&app, &stranger, "cucina", "sbagliata-1")
                    .await
                    .status(),
                401
            );
        }
        assert_eq!(
            login(&app, &stranger, "cucina", "demo-cucina")
                .await
                .status(),
            429
        );
        assert_eq!(
            login(&app, &browser(), "cucina", "demo-cucina")
                .await
                .status(),
            303
        );
        for _ in 0..5 {
            assert_eq!(admin_login(&app, &stranger, "sbagliata-1").await, 401);
        }
        assert_eq!(admin_login(&app, &stranger, DEMO_ADMIN_PASSWORD).await, 429);
        assert_eq!(
            admin_login(&app, &browser(), DEMO_ADMIN_PASSWORD).await,
            303
        );
        // Failures are kept with their source.
        assert!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM login_failure WHERE source = '127.0.0.2'"
            )
            .await
                >= 10
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_next_that_is_not_a_local_path_goes_to_the_default_page() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        for next in [
            "/t/esempio/area-personale\r\nSet-Cookie: x=1",
            "/t/esempio/area-personale/pagamenti\n",
            "//evil.example/t/esempio/area-personale",
            "/\\evil.example/t/esempio/area-personale",
            "https://evil.example/t/esempio/area-personale",
            "/t/esempio//evil.example/area-personale",
            "/t/esempio/area-personale/\u{e8}",
        ] {
            let client = browser();
            let csrf = login_page_csrf(&app, &client).await;
            let r = post(
                &client,
                &app,
                "/t/esempio/accedi",
                &[
                    ("identifier", DEMO_PARENT_CF),
                    ("password", DEMO_PARENT_PASSWORD),
                    ("next", next),
                    ("_csrf", &csrf),
                ],
            )
            .await;
            assert_eq!(r.status(), 303, "{next:?}");
            assert_eq!(
                r.headers()["location"],
                "/t/esempio/area-personale",
                "{next:?}"
            );
            // The login page itself ignores it too.
            let q = crate::common::percent(next);
            let (status, html) = page(&client, &app, &format!("/t/esempio/accedi?next={q}")).await;
            assert_eq!(status, 200, "{next:?}");
            assert!(!html.contains("evil.example"), "{next:?}");
        }
        app.stop().await;
        t.cleanup().await;
    }
}
