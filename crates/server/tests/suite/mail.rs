//! E-mail delivery over real SMTP on both databases: a real SMTP server (Debian's
//! python3-aiosmtpd running `tests/smtp_sink.py`) receives what the server's sender sends.
//! Registration → the activation mail arrives → its link activates → login; the SMTP server
//! down → the mail waits and arrives once when it comes up; a permanent refusal → failed with
//! the reason, shown to the office; two servers on one PostgreSQL send each mail once; without
//! SMTP the test mailbox shows the mail (marked as a simulation) and is absent with SMTP.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use refettorio_app::demo::{
    DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USER, DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF,
    DEMO_PARENT_EMAIL,
};
use refettorio_db::testing::TestDb;
use refettorio_domain::CodiceFiscale;

use crate::common::{
    App, MONDAY_8AM, browser, form_csrf, login, page, post, scalar, spawn, spawn_with, text,
};

/// The SMTP server of the tests, on its own port, storing each message in its folder.
pub(crate) struct Sink {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py")
}

impl Sink {
    pub(crate) async fn start() -> Sink {
        Sink::start_on(free_port(), tempfile::tempdir().unwrap()).await
    }

    /// Starts the server on `port` (the tests' SMTP server that "comes up").
    async fn start_on(port: u16, dir: tempfile::TempDir) -> Sink {
        let child = Command::new("/usr/bin/python3")
            .arg(script())
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3-aiosmtpd (apt-get install python3-aiosmtpd)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the SMTP server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Sink {
            child: Some(child),
            port,
            dir,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far (decoded summary and plain text), oldest first.
    fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

impl Sink {
    /// The messages for `recipient` (other messages, such as a scheduled close's, are not the
    /// test's), after waiting until at least `n` arrived.
    pub(crate) async fn wait_for_to(
        &self,
        recipient: &str,
        n: usize,
        within: Duration,
    ) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let got: Vec<String> = self
                .messages()
                .into_iter()
                .filter(|m| header(m, "Envelope-To") == recipient)
                .collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages to {recipient} arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(crate) fn mail_config(url: String) -> impl FnOnce(&mut refettorio_server::Config) {
    move |c| {
        c.smtp_url = Some(url);
        c.mail_from = Some("noreply@comune.example.it".into());
        c.mail_retry_seconds = 1;
        // These tests queue their own mails; a background close would add more.
        c.scheduler = false;
    }
}

/// Polls `sql` (one integer) until it equals `want`.
async fn wait_until(t: &TestDb, sql: &str, want: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = scalar(t, sql).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {got}, expected {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn new_parent_cf() -> String {
    CodiceFiscale::compute(
        "Verdi",
        "Luigi",
        "1985-08-01".parse().unwrap(),
        false,
        "F205",
    )
    .unwrap()
    .as_str()
    .to_string()
}

/// Registers a new parent with `email`; returns the page shown.
async fn register(app: &App, client: &reqwest::Client, cf: &str, email: &str) -> String {
    let csrf = form_csrf(app, client, "/t/esempio/registrati").await;
    let r = post(
        client,
        app,
        "/t/esempio/registrati",
        &[
            ("fiscal_code", cf),
            ("first_name", "Luigi"),
            ("last_name", "Verdi"),
            ("email", email),
            ("password", "una-password-9"),
            ("confirm", "una-password-9"),
            ("privacy", "si"),
            ("_csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// The path of the first link to this server in a message's text.
pub(crate) fn link_in(text: &str) -> String {
    let start = text.find("http").expect("a link");
    let link = text[start..].split_whitespace().next().unwrap();
    link[link.find("/t/").unwrap()..].to_string()
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_default()
}

async fn staff_client(app: &App, user: &str, password: &str) -> reqwest::Client {
    let c = browser();
    assert_eq!(login(app, &c, user, password).await.status(), 303);
    c
}

async fn admin_client(app: &App) -> reqwest::Client {
    let c = browser();
    let csrf = form_csrf(app, &c, "/admin/accedi").await;
    let r = post(
        &c,
        app,
        "/admin/accedi",
        &[
            ("username", DEMO_ADMIN_USER),
            ("password", DEMO_ADMIN_PASSWORD),
            ("_csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    c
}

#[tokio::test]
async fn the_activation_mail_arrives_over_smtp_and_its_link_lets_the_parent_in() {
    for t in TestDb::all().await.unwrap() {
        let sink = Sink::start().await;
        let app = spawn_with(&t, true, MONDAY_8AM, mail_config(sink.url())).await;
        let client = browser();
        // With SMTP the forms promise an e-mail and mention no simulation.
        for form in ["/t/esempio/registrati", "/t/esempio/password/recupera"] {
            let (_, html) = page(&client, &app, form).await;
            assert!(!html.contains("SIMULAZIONE"), "{form}");
        }
        let cf = new_parent_cf();
        let html = register(&app, &client, &cf, "luigi.verdi@example.org").await;
        assert!(
            html.contains("ti abbiamo inviato un&#39;e-mail")
                || html.contains("ti abbiamo inviato un'e-mail"),
            "{html}"
        );
        assert!(!html.contains("SIMULAZIONE"), "{html}");

        let mails = sink
            .wait_for_to("luigi.verdi@example.org", 1, Duration::from_secs(30))
            .await;
        let m = &mails[0];
        assert_eq!(
            header(m, "Subject"),
            "Comune di Esempio: attiva il tuo account"
        );
        assert_eq!(
            header(m, "From"),
            "Comune di Esempio <noreply@comune.example.it>"
        );
        // The municipality's office answers.
        assert_eq!(header(m, "Reply-To"), "ufficio.scuola@example.org");
        assert_eq!(header(m, "HTML"), "yes");
        let link = link_in(m);
        assert!(link.starts_with("/t/esempio/attiva?token="), "{link}");
        // Not yet active; the link activates; the parent logs in.
        assert_eq!(
            login(&app, &client, &cf, "una-password-9").await.status(),
            401
        );
        let r = client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/t/esempio/accedi?esito=attivato");
        assert_eq!(
            login(&app, &client, &cf, "una-password-9").await.status(),
            303
        );
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'activation' AND status = 'sent' AND sent_at IS NOT NULL AND attempts = 1",
            1,
            Duration::from_secs(10),
        )
        .await;

        // With a mail server there is no test mailbox, for the office or the administrator.
        let office = staff_client(&app, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let (status, html) = page(&office, &app, "/t/esempio/backoffice/messaggi").await;
        assert_eq!(status, 200);
        assert!(html.contains("Inviato"), "{html}");
        assert!(!html.contains("SIMULAZIONE"), "{html}");
        assert!(!html.contains("/backoffice/messaggi/casella/"), "{html}");
        let id = scalar(&t, "SELECT MAX(id) FROM outbox WHERE kind = 'activation'").await;
        let (status, _) = page(
            &office,
            &app,
            &format!("/t/esempio/backoffice/messaggi/casella/{id}"),
        )
        .await;
        assert_eq!(status, 404);
        let admin = admin_client(&app).await;
        let (status, html) = page(&admin, &app, "/admin").await;
        assert_eq!(status, 200);
        assert!(!html.contains("/admin/posta"), "{html}");
        assert_eq!(page(&admin, &app, "/admin/posta").await.0, 404);
        assert_eq!(
            page(&admin, &app, &format!("/admin/posta/{id}")).await.0,
            404
        );

        let (_, metrics) = page(&client, &app, "/metrics").await;
        let sent = metrics
            .lines()
            .find(|l| l.starts_with("refettorio_outbox_sent_total") && l.contains("mode=\"smtp\""))
            .unwrap_or_default();
        let n: f64 = sent
            .rsplit(' ')
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0.0);
        assert!(n >= 1.0, "{metrics}");
        assert!(
            metrics.contains("refettorio_outbox_failed_total"),
            "{metrics}"
        );
        assert!(metrics.contains("refettorio_outbox_waiting"), "{metrics}");
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn with_the_smtp_server_down_the_mail_waits_and_arrives_once_when_it_comes_up() {
    for t in TestDb::all().await.unwrap() {
        let port = free_port();
        let app = spawn_with(
            &t,
            true,
            MONDAY_8AM,
            mail_config(format!("smtp://127.0.0.1:{port}")),
        )
        .await;
        let client = browser();
        let csrf = form_csrf(&app, &client, "/t/esempio/password/recupera").await;
        let r = post(
            &client,
            &app,
            "/t/esempio/password/recupera",
            &[("fiscal_code", DEMO_PARENT_CF), ("_csrf", csrf.as_str())],
        )
        .await;
        assert_eq!(r.status(), 200);
        // Refused connections: the mail stays pending with the reason and is tried again.
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset' AND status = 'pending' AND attempts >= 2 AND last_error IS NOT NULL",
            1,
            Duration::from_secs(30),
        )
        .await;
        let office = staff_client(&app, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let (_, html) = page(&office, &app, "/t/esempio/backoffice/messaggi").await;
        assert!(html.contains("In attesa di un nuovo tentativo"), "{html}");

        // The server comes up: the mail arrives, once.
        let sink = Sink::start_on(port, tempfile::tempdir().unwrap()).await;
        let mails = sink
            .wait_for_to(DEMO_PARENT_EMAIL, 1, Duration::from_secs(60))
            .await;
        assert!(link_in(&mails[0]).starts_with("/t/esempio/password/nuova?token="));
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset' AND status = 'sent' AND last_error IS NULL",
            1,
            Duration::from_secs(10),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            sink.wait_for_to(DEMO_PARENT_EMAIL, 1, Duration::ZERO)
                .await
                .len(),
            1
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_mail_with_the_reason_shown_to_the_office() {
    for t in TestDb::all().await.unwrap() {
        let sink = Sink::start().await;
        let app = spawn_with(&t, true, MONDAY_8AM, mail_config(sink.url())).await;
        let client = browser();
        register(&app, &client, &new_parent_cf(), "rifiuta.verdi@example.org").await;
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'activation' AND status = 'failed' AND attempts = 1 AND failed_at IS NOT NULL",
            1,
            Duration::from_secs(30),
        )
        .await;
        let reason = text(
            &t,
            "SELECT last_error FROM outbox WHERE status = 'failed' AND kind = 'activation'",
        )
        .await;
        assert!(
            reason.contains("550") && reason.contains("Destinatario sconosciuto"),
            "{reason}"
        );
        assert!(
            sink.messages()
                .iter()
                .all(|m| !m.contains("rifiuta.verdi@example.org"))
        );
        let office = staff_client(&app, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let (status, html) = page(
            &office,
            &app,
            "/t/esempio/backoffice/messaggi?stato=non-consegnati",
        )
        .await;
        assert_eq!(status, 200);
        assert!(html.contains("rifiuta.verdi@example.org"), "{html}");
        assert!(html.contains("Non consegnato"), "{html}");
        assert!(html.contains("Destinatario sconosciuto"), "{html}");
        // Another role does not see the office's messages.
        let kitchen = staff_client(&app, "cucina", "demo-cucina").await;
        assert_eq!(
            page(&kitchen, &app, "/t/esempio/backoffice/messaggi")
                .await
                .0,
            403
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn two_servers_on_one_postgresql_send_each_mail_once() {
    let Some(t) = TestDb::postgres().await.unwrap() else {
        return;
    };
    let sink = Sink::start().await;
    // The demo (one municipality) through the first server, then sixty mails queued while
    // no server runs.
    let first = spawn(&t, true).await;
    first.stop().await;
    let tenant = {
        let mut h = t.db.acquire().await.unwrap();
        refettorio_db::registry::tenant::by_slug(&mut h.conn(), "esempio")
            .await
            .unwrap()
            .unwrap()
    };
    let messages: Vec<refettorio_db::outbox::NewMessage> = (0..60)
        .map(|i| refettorio_db::outbox::NewMessage {
            recipient: format!("famiglia{i}@example.org"),
            content: refettorio_db::outbox::Content {
                subject: format!("Messaggio {i}"),
                text: format!("Testo {i}"),
                html: None,
            },
            idempotency_key: format!("test:{i}"),
        })
        .collect();
    {
        let mut h = t.db.acquire().await.unwrap();
        let n = refettorio_db::outbox::enqueue_many(
            &mut h.conn(),
            tenant.id,
            "low_balance",
            "email",
            &messages,
            refettorio_domain::Clock::now(&refettorio_domain::SystemClock),
        )
        .await
        .unwrap();
        assert_eq!(n, 60);
    }
    let (a, b) = tokio::join!(
        spawn_with(&t, false, MONDAY_8AM, mail_config(sink.url())),
        spawn_with(&t, false, MONDAY_8AM, mail_config(sink.url()))
    );
    wait_until(
        &t,
        "SELECT COUNT(*) FROM outbox WHERE idempotency_key LIKE 'test:%' AND status = 'sent'",
        60,
        Duration::from_secs(60),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| header(m, "Subject").starts_with("Messaggio "))
        .collect();
    let mut to: Vec<&str> = mails.iter().map(|m| header(m, "Envelope-To")).collect();
    to.sort();
    to.dedup();
    assert_eq!(mails.len(), 60, "a mail was sent twice, or not at all");
    assert_eq!(to.len(), 60);
    assert_eq!(
        scalar(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE attempts <> 1 AND idempotency_key LIKE 'test:%'"
        )
        .await,
        0
    );
    a.stop().await;
    b.stop().await;
    t.cleanup().await;
}

#[tokio::test]
async fn without_smtp_the_test_mailbox_shows_the_activation_mail_as_a_simulation() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = browser();
        // Without SMTP the forms say beforehand that no e-mail really leaves.
        for form in ["/t/esempio/registrati", "/t/esempio/password/recupera"] {
            let (_, html) = page(&client, &app, form).await;
            assert!(
                html.contains(
                    "SIMULAZIONE: in questa installazione non è configurato un server di posta"
                ),
                "{form}"
            );
        }
        let cf = new_parent_cf();
        let html = register(&app, &client, &cf, "luigi.verdi@example.org").await;
        assert!(
            html.contains("SIMULAZIONE: nessuna e-mail è stata davvero inviata"),
            "{html}"
        );
        assert!(
            html.contains("casella di prova") && html.contains("demo-ufficio"),
            "{html}"
        );
        assert!(!html.contains("ti abbiamo inviato"), "{html}");
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE kind = 'activation' AND status = 'simulated' AND sent_at IS NOT NULL",
            1,
            Duration::from_secs(20),
        )
        .await;
        let id = scalar(&t, "SELECT id FROM outbox WHERE kind = 'activation'").await;

        // The office reads it in the back office, plainly marked as a simulation.
        let office = staff_client(&app, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        let (status, html) = page(&office, &app, "/t/esempio/backoffice/messaggi").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("SIMULAZIONE: nessuna e-mail è stata davvero inviata"),
            "{html}"
        );
        let href = format!("/t/esempio/backoffice/messaggi/casella/{id}");
        assert!(html.contains(&href), "{html}");
        let (status, mail) = page(&office, &app, &href).await;
        assert_eq!(status, 200);
        assert!(mail.contains("SIMULAZIONE"), "{mail}");
        assert!(mail.contains("luigi.verdi@example.org"), "{mail}");
        let start = mail.find("/t/esempio/attiva?token=").expect("the link");
        let link = mail[start..].split(['"', '<']).next().unwrap().to_string();
        assert!(link.starts_with("/t/esempio/attiva?token="), "{link}");

        // The platform administrator reads it too.
        let admin = admin_client(&app).await;
        let (_, home) = page(&admin, &app, "/admin").await;
        assert!(home.contains("/admin/posta"), "{home}");
        let (status, html) = page(&admin, &app, "/admin/posta").await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!("/admin/posta/{id}")), "{html}");
        let (status, html) = page(&admin, &app, &format!("/admin/posta/{id}")).await;
        assert_eq!(status, 200);
        assert!(
            html.contains(&link.replace('&', "&amp;")) || html.contains(&link),
            "{html}"
        );

        // The new parent follows the link and logs in.
        let r = client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(r.headers()["location"], "/t/esempio/accedi?esito=attivato");
        assert_eq!(
            login(&app, &client, &cf, "una-password-9").await.status(),
            303
        );
        app.stop().await;
        t.cleanup().await;
    }
}
