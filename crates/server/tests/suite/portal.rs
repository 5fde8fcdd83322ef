//! The families' portal over real HTTP on both databases: login and throttling, sessions, CSRF,
//! the personal area's pages, meal changes (htmx and plain forms), registration and password
//! reset through the outbox, and privacy: another family's ids get 403/404 and write nothing.

use crate::common::{browser, csrf_of, form_csrf, login, login_page_csrf, page, post, spawn};
use refettorio_app::demo::{DEMO_PARENT_CF, DEMO_PARENT_PASSWORD};
use refettorio_db::registry::{family, service, tenant};
use refettorio_db::testing::TestDb;
use refettorio_domain::{CodiceFiscale, EnrolmentId, FamilyId, TenantId};

struct Ids {
    tenant: TenantId,
    mine: Vec<EnrolmentId>,
    other_family: FamilyId,
    other_enrolment: EnrolmentId,
}

async fn ids(t: &TestDb) -> Ids {
    let mut h = t.db.acquire().await.unwrap();
    let c = &mut h.conn();
    let tn = tenant::by_slug(c, "esempio").await.unwrap().unwrap();
    let cf = CodiceFiscale::parse(DEMO_PARENT_CF).unwrap();
    let mario = family::guardian_by_fiscal_code(c, tn.id, &cf)
        .await
        .unwrap()
        .unwrap();
    let fams = family::families_of_guardian(c, tn.id, mario.id)
        .await
        .unwrap();
    let my_family = fams[0].0.id;
    let mut mine = Vec::new();
    for p in family::pupils_of_family(c, tn.id, my_family).await.unwrap() {
        for e in service::enrolments_of_pupil(c, tn.id, p.id).await.unwrap() {
            mine.push(e.id);
        }
    }
    let other = family::families(c, tn.id)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.id != my_family)
        .unwrap();
    let pupil = family::pupils_of_family(c, tn.id, other.id).await.unwrap()[0].clone();
    let other_enrolment = service::enrolments_of_pupil(c, tn.id, pupil.id)
        .await
        .unwrap()[0]
        .id;
    Ids {
        tenant: tn.id,
        mine,
        other_family: other.id,
        other_enrolment,
    }
}

async fn booking_rows(t: &TestDb, tenant: TenantId) -> i64 {
    let mut h = t.db.acquire().await.unwrap();
    let c = &mut h.conn();
    let _ = tenant;
    match c {
        refettorio_db::Conn::Postgres(c) => sqlx::query_scalar("SELECT COUNT(*) FROM booking")
            .fetch_one(&mut **c)
            .await
            .unwrap(),
        refettorio_db::Conn::Sqlite(c) => sqlx::query_scalar("SELECT COUNT(*) FROM booking")
            .fetch_one(&mut **c)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn a_parent_logs_in_and_uses_the_personal_area() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let ids = ids(&t).await;
        let client = browser();

        // Wrong password: a generic message, 401, no session.
        let r = login(&app, &client, DEMO_PARENT_CF, "sbagliata-1").await;
        assert_eq!(r.status(), 401);
        let html = r.text().await.unwrap();
        assert!(html.contains("Credenziali non valide"), "{html}");
        assert_eq!(
            page(&client, &app, "/t/esempio/area-personale").await.0,
            303
        );

        // Right password: to the personal area, which greets Mario and shows his children.
        let r = login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/t/esempio/area-personale");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let (status, home) = page(&client, &app, "/t/esempio/area-personale").await;
        assert_eq!(status, 200, "{home}");
        assert!(home.contains("Ciao Mario Rossi"), "{home}");
        assert!(home.contains("Oggi: Presente"), "{home}");
        assert!(home.contains("fino alle 09:30"), "{home}");
        assert!(home.contains("Saldo"), "{home}");

        // Children, attendance, payments, communications, profile.
        let (status, html) = page(&client, &app, "/t/esempio/area-personale/figli").await;
        assert_eq!(status, 200);
        assert!(html.contains("Codice tessera") && html.contains("Fascia tariffaria"));
        // Each service's card: the canteen's shows the meal price, transport's does not.
        let cards: Vec<&str> = html.split("<h3 ").skip(1).collect();
        let canteen = cards.iter().find(|c| c.contains(">Refezione")).unwrap();
        let transport = cards.iter().find(|c| c.contains(">Trasporto")).unwrap();
        assert!(canteen.contains("Costo del pasto"), "{canteen}");
        assert!(!transport.contains("Costo del pasto"), "{transport}");
        let (status, _) = page(
            &client,
            &app,
            &format!("/t/esempio/area-personale/figli/{}/presenze", ids.mine[0]),
        )
        .await;
        assert_eq!(status, 200);
        let (status, html) = page(&client, &app, "/t/esempio/area-personale/pagamenti").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Saldo aggiornato al 23/11/2026 alle 08:00"),
            "{html}"
        );
        assert!(html.contains("Riporto anno precedente"), "{html}");
        assert!(html.contains("45,00"), "{html}");
        let (status, html) = page(&client, &app, "/t/esempio/area-personale/comunicazioni").await;
        assert_eq!(status, 200);
        assert!(html.contains("Comunicazione di inizio anno scolastico"));
        let (status, html) = page(&client, &app, "/t/esempio/area-personale/profilo").await;
        assert_eq!(status, 200);
        assert!(html.contains(DEMO_PARENT_CF));

        // The calendar: tomorrow is a canteen day, present by default.
        let path = format!(
            "/t/esempio/area-personale/prenotazioni?iscrizione={}&mese=2026-11",
            ids.mine[0]
        );
        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200, "{html}");
        assert!(
            html.contains(
                "martedì 24 novembre 2026:</span>\n      <span class=\"rf-day__label\">Presente"
            ),
            "{html}"
        );
        let csrf = csrf_of(&html);

        // A change without the CSRF token: 403 and nothing written.
        let before = booking_rows(&t, ids.tenant).await;
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni",
            &[
                ("iscrizione", ids.mine[0].to_string().as_str()),
                ("dal", "2026-11-24"),
                ("al", "2026-11-24"),
                ("scelta", "absent"),
            ],
        )
        .await;
        assert_eq!(r.status(), 403);
        assert_eq!(booking_rows(&t, ids.tenant).await, before);

        // Tomorrow absent, with a plain form: redirect back to the calendar, which shows it.
        let id = ids.mine[0].to_string();
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni",
            &[
                ("iscrizione", id.as_str()),
                ("dal", "2026-11-24"),
                ("al", ""),
                ("scelta", "absent"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        // Back to the form, where the confirmation is, with the saved day and its new state.
        assert!(
            to.ends_with("mese=2026-11&giorno=2026-11-24&al=2026-11-24&salvati=1#modifica"),
            "{to}"
        );
        let (_, html) = page(&client, &app, &to).await;
        assert!(
            html.contains("Modifica salvata per martedì 24 novembre 2026: 1 giorno aggiornato."),
            "{html}"
        );
        let form = &html[html.find("id=\"modifica\"").unwrap()..];
        assert!(form.find("Salva").unwrap() < form.find("Modifica salvata").unwrap());
        assert!(
            form.contains("name=\"scelta\" value=\"absent\" checked"),
            "{form}"
        );
        assert!(form.contains("name=\"dal\" value=\"2026-11-24\""), "{form}");
        assert!(
            html.contains(
                "martedì 24 novembre 2026:</span>\n      <span class=\"rf-day__label\">Assente"
            ),
            "{html}"
        );
        assert_eq!(booking_rows(&t, ids.tenant).await, before + 1);

        // A bland-meal range with htmx: the answer is the page with the new calendar.
        let r = client
            .post(app.url("/t/esempio/area-personale/prenotazioni"))
            .header("HX-Request", "true")
            .form(&[
                ("iscrizione", id.as_str()),
                ("dal", "2026-11-25"),
                ("al", "2026-11-26"),
                ("scelta", "bland"),
                ("_csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("giorni aggiornati"), "{html}");
        assert!(html.contains("mercoledì 25 novembre 2026:</span>\n      <span class=\"rf-day__label\">Pasto in bianco"), "{html}");

        // The home's one tap: today's meal of a child cancelled, back on the child's card.
        let (_, home) = page(&client, &app, "/t/esempio/area-personale").await;
        let taps = home.matches("Disdici il pasto di oggi di ").count();
        assert!(taps >= 1, "{home}");
        assert_eq!(home.contains("per tutti i figli"), taps >= 2, "{home}");
        let csrf = csrf_of(&home);
        let before = booking_rows(&t, ids.tenant).await;
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni",
            &[
                ("iscrizione", id.as_str()),
                ("dal", "2026-11-23"),
                ("al", "2026-11-23"),
                ("scelta", "absent"),
                ("ritorno", "home"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            to,
            format!("/t/esempio/area-personale?salvato={id}#pasto-{id}")
        );
        let (_, home) = page(&client, &app, &to).await;
        assert!(home.contains("Oggi: Assente"), "{home}");
        assert!(home.contains("Modifica salvata: oggi"), "{home}");
        assert!(home.contains("Rimetti il pasto di oggi di "), "{home}");
        assert_eq!(
            home.matches("Disdici il pasto di oggi di ").count(),
            taps - 1
        );
        assert_eq!(booking_rows(&t, ids.tenant).await, before + 1);
        // Without a day or a choice the tap for every child is refused and writes nothing.
        let rows = booking_rows(&t, ids.tenant).await;
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni/tutti",
            &[("giorno", ""), ("scelta", "absent"), ("_csrf", &csrf)],
        )
        .await;
        assert_eq!(r.status(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Indica il giorno e la scelta")
        );
        assert_eq!(booking_rows(&t, ids.tenant).await, rows);
        // The tap for every child cancels the others' meals of today, once.
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni/tutti",
            &[
                ("giorno", "2026-11-23"),
                ("scelta", "absent"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            to,
            format!("/t/esempio/area-personale?salvati={}#pasti", taps - 1)
        );
        let (_, home) = page(&client, &app, &to).await;
        assert!(!home.contains("Disdici il pasto di oggi di "), "{home}");
        assert!(!home.contains("per tutti i figli"), "{home}");
        // Put back, for what follows.
        let back = "UPDATE booking SET choice = 'present' WHERE day = '2026-11-23'";
        crate::common::exec(&t, back, back).await;

        // Today after the cut-off: refused with the time, nothing written.
        app.clock.advance(jiff::SignedDuration::from_mins(95)); // 09:35
        // 95 idle minutes ended the session: the area sends to the login first.
        assert_eq!(
            page(&client, &app, "/t/esempio/area-personale").await.0,
            303
        );
        assert_eq!(
            login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            303
        );
        // After the cut-off the home speaks of tomorrow (its meal was cancelled above).
        let (_, home) = page(&client, &app, "/t/esempio/area-personale").await;
        assert!(home.contains("Domani: Assente"), "{home}");
        assert!(home.contains("Rimetti il pasto di domani di "), "{home}");
        let (_, html) = page(&client, &app, &path).await;
        let csrf = csrf_of(&html);
        let before = booking_rows(&t, ids.tenant).await;
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni",
            &[
                ("iscrizione", id.as_str()),
                ("dal", "2026-11-23"),
                ("al", "2026-11-23"),
                ("scelta", "absent"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("l&#39;ora limite era le 09:30")
                || html.contains("l'ora limite era le 09:30"),
            "{html}"
        );
        assert_eq!(booking_rows(&t, ids.tenant).await, before);

        // Logout needs the token; afterwards the area sends to the login again.
        let (_, html) = page(&client, &app, "/t/esempio/area-personale").await;
        let csrf = csrf_of(&html);
        let r = post(
            &client,
            &app,
            "/t/esempio/esci",
            &[("_csrf", csrf.as_str())],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            page(&client, &app, "/t/esempio/area-personale").await.0,
            303
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn another_familys_ids_are_refused_and_nothing_is_written() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let ids = ids(&t).await;
        let client = browser();
        assert_eq!(
            login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            303
        );
        let (_, html) = page(&client, &app, "/t/esempio/area-personale/prenotazioni").await;
        let csrf = csrf_of(&html);
        let other = ids.other_enrolment.to_string();

        // Pages with another family's ids: 404.
        for path in [
            format!("/t/esempio/area-personale/prenotazioni?iscrizione={other}"),
            format!("/t/esempio/area-personale/figli/{other}/presenze"),
        ] {
            assert_eq!(page(&client, &app, &path).await.0, 404, "{path}");
        }
        // Another family's account and documents.
        let mut h = t.db.acquire().await.unwrap();
        let services = {
            let c = &mut h.conn();
            let year = refettorio_db::registry::calendar::school_years(c, ids.tenant)
                .await
                .unwrap()[0]
                .id;
            service::services(c, ids.tenant, year).await.unwrap()
        };
        let mut other_account = None;
        for s in &services {
            if let Some(a) =
                refettorio_db::ledger::account_of(&mut h.conn(), ids.tenant, ids.other_family, s.id)
                    .await
                    .unwrap()
            {
                other_account = Some(a.id);
            }
        }
        let other_doc = refettorio_db::content::insert_document(
            &mut h.conn(),
            ids.tenant,
            &refettorio_db::content::NewDocument {
                family: Some(ids.other_family),
                category: "sollecito",
                title: "Sollecito",
                file_name: "sollecito.txt",
                content_type: "text/plain",
                content: b"riservato",
                published_on: "2026-11-20".parse().unwrap(),
            },
            refettorio_domain::Clock::now(&refettorio_domain::SystemClock),
        )
        .await
        .unwrap();
        drop(h);
        let account = other_account.expect("the other family has an account");
        assert_eq!(
            page(
                &client,
                &app,
                &format!("/t/esempio/area-personale/pagamenti?conto={account}")
            )
            .await
            .0,
            404
        );
        assert_eq!(
            page(
                &client,
                &app,
                &format!("/t/esempio/area-personale/comunicazioni/{other_doc}")
            )
            .await
            .0,
            404
        );
        // Nor is a family letter a public document.
        assert_eq!(
            page(&client, &app, &format!("/t/esempio/documenti/{other_doc}"))
                .await
                .0,
            404
        );

        // A change for another family's child, with a valid token: 403 and nothing written.
        let before = booking_rows(&t, ids.tenant).await;
        for tampered in [other.as_str(), "abc", "-1", "999999999"] {
            let r = post(
                &client,
                &app,
                "/t/esempio/area-personale/prenotazioni",
                &[
                    ("iscrizione", tampered),
                    ("dal", "2026-11-24"),
                    ("al", "2026-11-24"),
                    ("scelta", "absent"),
                    ("_csrf", csrf.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status(), 403, "{tampered}");
        }
        assert_eq!(booking_rows(&t, ids.tenant).await, before);

        // A session token of this municipality does not open another one's area.
        let r = client
            .get(app.url("/t/altro/area-personale"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn failed_logins_are_throttled_and_sessions_expire() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = browser();
        for _ in 0..5 {
            assert_eq!(
                login(&app, &client, DEMO_PARENT_CF, "sbagliata-1")
                    .await
                    .status(),
                401
            );
        }
        // Even the right password is refused while throttled, with a message saying when.
        let r = login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD).await;
        assert_eq!(r.status(), 429);
        assert!(r.text().await.unwrap().contains("Riprova fra"));
        // Fifteen minutes later it works.
        app.clock.advance(jiff::SignedDuration::from_mins(16));
        assert_eq!(
            login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            303
        );
        assert_eq!(
            page(&client, &app, "/t/esempio/area-personale").await.0,
            200
        );
        // 31 idle minutes later the session is gone: the login, then back to the page asked for.
        app.clock.advance(jiff::SignedDuration::from_mins(31));
        let r = client
            .get(app.url("/t/esempio/area-personale/pagamenti"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            to,
            "/t/esempio/accedi?next=/t/esempio/area-personale/pagamenti"
        );
        let csrf = login_page_csrf(&app, &client).await;
        let r = post(
            &client,
            &app,
            "/t/esempio/accedi",
            &[
                ("identifier", DEMO_PARENT_CF),
                ("password", DEMO_PARENT_PASSWORD),
                ("next", "/t/esempio/area-personale/pagamenti"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(
            r.headers()["location"],
            "/t/esempio/area-personale/pagamenti"
        );
        // A login form posted without its CSRF cookie is refused.
        let r = reqwest::Client::new()
            .post(app.url("/t/esempio/accedi"))
            .form(&[
                ("identifier", DEMO_PARENT_CF),
                ("password", DEMO_PARENT_PASSWORD),
                ("_csrf", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        app.stop().await;
        t.cleanup().await;
    }
}

/// The newest message of the outbox for `recipient`, and the link it carries.
async fn last_link(t: &TestDb, tenant: TenantId, recipient: &str) -> String {
    let mut h = t.db.acquire().await.unwrap();
    let msgs = refettorio_db::outbox::outbox(&mut h.conn(), tenant)
        .await
        .unwrap();
    let m = msgs
        .iter()
        .rev()
        .find(|m| m.recipient == recipient)
        .expect("a message");
    let start = m.body.find("http").unwrap();
    let link = m.body[start..].split_whitespace().next().unwrap();
    link[link.find("/t/").unwrap()..].to_string()
}

#[tokio::test]
async fn registration_activation_and_password_reset() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let ids = ids(&t).await;
        let client = browser();
        let csrf = form_csrf(&app, &client, "/t/esempio/registrati").await;
        // Every bad field is reported, nothing is written.
        let r = post(
            &client,
            &app,
            "/t/esempio/registrati",
            &[
                ("fiscal_code", "XXX"),
                ("email", "non-una-mail"),
                ("password", "corta"),
                ("confirm", "corta"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        for m in [
            "Codice fiscale non valido",
            "Inserisci il nome",
            "Indirizzo e-mail non valido",
            "almeno 10 caratteri",
            "informativa",
        ] {
            assert!(html.contains(m), "{m}: {html}");
        }
        // A new parent registers; the account works after the e-mailed link.
        let cf = CodiceFiscale::compute(
            "Verdi",
            "Luigi",
            "1985-08-01".parse().unwrap(),
            false,
            "F205",
        )
        .unwrap()
        .as_str()
        .to_string();
        let r = post(
            &client,
            &app,
            "/t/esempio/registrati",
            &[
                ("fiscal_code", cf.as_str()),
                ("first_name", "Luigi"),
                ("last_name", "Verdi"),
                ("email", "luigi.verdi@example.org"),
                ("password", "una-password-9"),
                ("confirm", "una-password-9"),
                ("privacy", "si"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            login(&app, &client, &cf, "una-password-9").await.status(),
            401
        );
        let link = last_link(&t, ids.tenant, "luigi.verdi@example.org").await;
        assert!(link.starts_with("/t/esempio/attiva?token="), "{link}");
        let r = client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/t/esempio/accedi?esito=attivato");
        // The link works once.
        assert_eq!(
            client.get(app.url(&link)).send().await.unwrap().status(),
            400
        );
        assert_eq!(
            login(&app, &client, &cf, "una-password-9").await.status(),
            303
        );
        let (status, html) = page(&client, &app, "/t/esempio/area-personale").await;
        assert_eq!(status, 200);
        assert!(html.contains("Non ci sono figli iscritti"), "{html}");

        // Mario forgets his password: a reset link to the e-mail on file.
        let other = browser();
        let csrf = form_csrf(&app, &other, "/t/esempio/password/recupera").await;
        let r = post(
            &other,
            &app,
            "/t/esempio/password/recupera",
            &[("fiscal_code", DEMO_PARENT_CF), ("_csrf", csrf.as_str())],
        )
        .await;
        assert_eq!(r.status(), 200);
        let link = last_link(&t, ids.tenant, refettorio_app::demo::DEMO_PARENT_EMAIL).await;
        let html = other
            .get(app.url(&link))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_of(&html);
        let token = link.split("token=").nth(1).unwrap().to_string();
        let r = post(
            &other,
            &app,
            "/t/esempio/password/nuova",
            &[
                ("token", token.as_str()),
                ("password", "nuova-password-7"),
                ("confirm", "nuova-password-7"),
                ("_csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(r.headers()["location"], "/t/esempio/accedi?esito=password");
        assert_eq!(
            login(&app, &other, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            401
        );
        assert_eq!(
            login(&app, &other, DEMO_PARENT_CF, "nuova-password-7")
                .await
                .status(),
            303
        );
        app.stop().await;
        t.cleanup().await;
    }
}

async fn set_password(t: &TestDb, tenant: TenantId, cf: &str, pw: &str) {
    let hash = refettorio_app::password::hash(pw).unwrap();
    let mut h = t.db.acquire().await.unwrap();
    let c = &mut h.conn();
    let g = family::guardian_by_fiscal_code(c, tenant, &CodiceFiscale::parse(cf).unwrap())
        .await
        .unwrap()
        .unwrap();
    refettorio_db::auth::set_guardian_password(c, tenant, g.id, &hash)
        .await
        .unwrap();
}

async fn sql(t: &TestDb, statement: &'static str) {
    let mut h = t.db.acquire().await.unwrap();
    match h.conn() {
        refettorio_db::Conn::Postgres(c) => {
            sqlx::query(statement).execute(&mut *c).await.unwrap();
        }
        refettorio_db::Conn::Sqlite(c) => {
            sqlx::query(statement).execute(&mut *c).await.unwrap();
        }
    }
}

#[tokio::test]
async fn delegates_see_payments_only_when_allowed() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let ids = ids(&t).await;
        let giulia = refettorio_app::demo::DEMO_DELEGATE_CF;
        set_password(&t, ids.tenant, giulia, "password-di-giulia-1").await;
        let client = browser();
        assert_eq!(
            login(&app, &client, giulia, "password-di-giulia-1")
                .await
                .status(),
            303
        );
        // Giulia manages the children's meals and, as the payer allowed, sees the balance.
        let (_, home) = page(&client, &app, "/t/esempio/area-personale").await;
        assert!(home.contains("Luca") && home.contains("Saldo"), "{home}");
        assert_eq!(
            page(&client, &app, "/t/esempio/area-personale/pagamenti")
                .await
                .0,
            200
        );
        let path = format!(
            "/t/esempio/area-personale/prenotazioni?iscrizione={}",
            ids.mine[0]
        );
        assert_eq!(page(&client, &app, &path).await.0, 200);
        // Presenze shows each meal's price and the total; the children's cards their tariff.
        let attendance = format!("/t/esempio/area-personale/figli/{}/presenze", ids.mine[0]);
        let (status, html) = page(&client, &app, &attendance).await;
        assert_eq!(status, 200);
        assert!(html.contains("€") && html.contains("Totale"), "{html}");
        let (_, html) = page(&client, &app, "/t/esempio/area-personale/figli").await;
        assert!(
            html.contains("Costo del pasto") && html.contains("€"),
            "{html}"
        );

        // Without the payer's permission the payments are hidden and refused.
        sql(&t, "UPDATE family_delegate SET can_see_payments = FALSE").await;
        let (_, home) = page(&client, &app, "/t/esempio/area-personale").await;
        assert!(home.contains("Luca"), "{home}");
        assert!(
            !home.contains("Saldo") && !home.contains("/pagamenti"),
            "{home}"
        );
        assert_eq!(
            page(&client, &app, "/t/esempio/area-personale/pagamenti")
                .await
                .0,
            403
        );
        assert_eq!(page(&client, &app, &path).await.0, 200);
        // Presenze lists the meals without prices or total, the cards without the tariff.
        let (status, html) = page(&client, &app, &attendance).await;
        assert_eq!(status, 200);
        assert!(html.contains("Presenze di"), "{html}");
        assert!(
            !html.contains("€") && !html.contains("Totale") && !html.contains("Importo"),
            "{html}"
        );
        let (_, html) = page(&client, &app, "/t/esempio/area-personale/figli").await;
        assert!(html.contains("Luca"), "{html}");
        // (The tariff band's name may still show its ISEE range in euro.)
        assert!(
            !html.contains("Costo del pasto") && !html.contains("Quota fissa"),
            "{html}"
        );
        app.stop().await;
        t.cleanup().await;
    }
}

/// A database that cannot answer is not a tampered id: the meal form and the pages answer 503
/// with the Italian page and the request id (no longer 403 and 500), and work again once the
/// database answers.
#[tokio::test]
async fn a_database_that_cannot_answer_gives_503_not_403() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let ids = ids(&t).await;
        let client = browser();
        let r = login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD).await;
        assert_eq!(r.status(), 303);
        let path = format!(
            "/t/esempio/area-personale/prenotazioni?iscrizione={}&mese=2026-11",
            ids.mine[0]
        );
        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200);
        let csrf = csrf_of(&html);
        let id = ids.mine[0].to_string();
        let form = [
            ("iscrizione", id.as_str()),
            ("dal", "2026-11-24"),
            ("al", ""),
            ("scelta", "absent"),
            ("_csrf", csrf.as_str()),
        ];
        let before = booking_rows(&t, ids.tenant).await;

        // The enrolments cannot be read (their table is gone, as in a broken database).
        sql(&t, "ALTER TABLE enrolment RENAME TO enrolment_gone").await;
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni",
            &form,
        )
        .await;
        assert_eq!(r.status(), 503, "{:?}", t.db.backend());
        assert!(r.headers().contains_key("retry-after"));
        let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let html = r.text().await.unwrap();
        assert!(html.contains("non disponibile"), "{html}");
        assert!(html.contains(&request_id), "{html}");
        let r = client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert!(r.text().await.unwrap().contains("non disponibile"));
        sql(&t, "ALTER TABLE enrolment_gone RENAME TO enrolment").await;
        assert_eq!(booking_rows(&t, ids.tenant).await, before);

        // Back: the same form is saved. A foreign enrolment is still 403.
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni",
            &form,
        )
        .await;
        assert_eq!(r.status(), 303);
        let other = ids.other_enrolment.to_string();
        let mut foreign = form;
        foreign[0] = ("iscrizione", other.as_str());
        let r = post(
            &client,
            &app,
            "/t/esempio/area-personale/prenotazioni",
            &foreign,
        )
        .await;
        assert_eq!(r.status(), 403);

        // The server's pool closed: every page that needs the database answers 503.
        app.db.close().await;
        for p in ["/t/esempio/", path.as_str()] {
            let r = client.get(app.url(p)).send().await.unwrap();
            assert_eq!(r.status(), 503, "{p}");
            let html = r.text().await.unwrap();
            assert!(
                html.contains("non disponibile") && html.contains("lang=\"it\""),
                "{html}"
            );
        }
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn local_login_can_be_off_for_citizens_but_not_for_staff() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        sql(
            &t,
            "UPDATE tenant SET settings = REPLACE(settings, '\"citizen_local_login\":true', '\"citizen_local_login\":false')",
        )
        .await;
        let client = browser();
        let r = login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD).await;
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().contains("SPID o CIE"));
        let html = client
            .get(app.url("/t/esempio/registrati"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("la registrazione non è necessaria"), "{html}");
        // Staff still log in, and land in the back office.
        let r = login(
            &app,
            &client,
            refettorio_app::demo::DEMO_OFFICE_USER,
            refettorio_app::demo::DEMO_OFFICE_PASSWORD,
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/t/esempio/backoffice");
        let (status, html) = page(&client, &app, "/t/esempio/backoffice").await;
        assert_eq!(status, 200);
        assert!(html.contains("Ufficio scuola"), "{html}");
        // A staff session is not a family's: the personal area (where the header's user
        // button points) sends staff to their back office.
        let r = client
            .get(app.url("/t/esempio/area-personale/pagamenti"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/t/esempio/backoffice");
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn profile_contacts_and_password_change() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let ids = ids(&t).await;
        let (me, other_device) = (browser(), browser());
        for c in [&me, &other_device] {
            assert_eq!(
                login(&app, c, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                    .await
                    .status(),
                303
            );
        }
        let (_, html) = page(&me, &app, "/t/esempio/area-personale/profilo").await;
        let csrf = csrf_of(&html);
        let contacts = || async {
            let mut h = t.db.acquire().await.unwrap();
            let cf = CodiceFiscale::parse(DEMO_PARENT_CF).unwrap();
            let g = family::guardian_by_fiscal_code(&mut h.conn(), ids.tenant, &cf)
                .await
                .unwrap()
                .unwrap();
            refettorio_db::auth::contacts(&mut h.conn(), ids.tenant, g.id)
                .await
                .unwrap()
                .unwrap()
        };
        let before = contacts().await;
        // Bad e-mail and phone: both reported, nothing written.
        let r = post(
            &me,
            &app,
            "/t/esempio/area-personale/profilo/contatti",
            &[
                ("email", "mario@"),
                ("phone", "12ab"),
                ("notify_email", "si"),
                ("_csrf", csrf.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Indirizzo e-mail non valido")
                && html.contains("Numero di telefono non valido"),
            "{html}"
        );
        assert_eq!(contacts().await, before);
        // Good ones are saved.
        let r = post(
            &me,
            &app,
            "/t/esempio/area-personale/profilo/contatti",
            &[
                ("email", "mario.nuovo@example.org"),
                ("phone", "+39 333 1234567"),
                ("notify_email", "si"),
                ("notify_sms", "si"),
                ("_csrf", csrf.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        let after = contacts().await;
        assert_eq!(after.email.as_deref(), Some("mario.nuovo@example.org"));
        assert_eq!(after.phone.as_deref(), Some("+393331234567"));
        assert!(after.notify_email && after.notify_sms);

        // Password: the current one must be right; then the other device's session ends.
        let change = |current: &'static str| {
            let (me, app, csrf) = (&me, &app, csrf.clone());
            async move {
                post(
                    me,
                    app,
                    "/t/esempio/area-personale/profilo/password",
                    &[
                        ("current", current),
                        ("password", "password-nuova-42"),
                        ("confirm", "password-nuova-42"),
                        ("_csrf", csrf.as_str()),
                    ],
                )
                .await
            }
        };
        let r = change("sbagliata").await;
        assert_eq!(r.status(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("La password attuale non è corretta")
        );
        assert_eq!(
            page(&other_device, &app, "/t/esempio/area-personale")
                .await
                .0,
            200
        );
        let r = change(DEMO_PARENT_PASSWORD).await;
        assert_eq!(r.status(), 303);
        assert_eq!(page(&me, &app, "/t/esempio/area-personale").await.0, 200);
        assert_eq!(
            page(&other_device, &app, "/t/esempio/area-personale")
                .await
                .0,
            303
        );
        let fresh = browser();
        assert_eq!(
            login(&app, &fresh, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            401
        );
        assert_eq!(
            login(&app, &fresh, DEMO_PARENT_CF, "password-nuova-42")
                .await
                .status(),
            303
        );
        app.stop().await;
        t.cleanup().await;
    }
}
