//! SMS and App IO through the real server on both databases: the office configures the
//! channels on its page, writes to a family, and the sender started by `serve` delivers to
//! local stand-ins speaking HTTP. The SMS gateway's stand-in is down (connection refused), then
//! slow (timeout), then failing (503) before it answers 200: the message arrives exactly once.
//! A 400 fails the message for good, with the reason on the office's report. App IO's stand-in
//! checks every request against the OpenAPI (`shared/specs/app-io/index.yaml`): path, method,
//! `Ocp-Apim-Subscription-Key`, required fields and their formats and lengths.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use refettorio_app::demo::{
    DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD,
};
use refettorio_db::testing::TestDb;

use crate::common::{
    App, browser, csrf_of, exec, form_csrf, login, page, post, scalar, spawn_with, text, value_of,
};

/// A request the stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: String,
    /// The status answered.
    status: u16,
}

/// How the stand-in answers the next request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Waits this long, then answers 200 (longer than the server's timeout: a timeout).
    Slow(Duration),
}

#[derive(Default)]
struct Standin {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Answer>>,
}

type Shared = Arc<Standin>;

async fn gateway(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = s
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Status(200));
    // Recorded first: a request the client gives up on (a timeout) is recorded as status 0.
    s.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: match answer {
            Answer::Status(n) => n,
            Answer::Slow(_) => 0,
        },
    });
    let status = match answer {
        Answer::Status(n) => n,
        Answer::Slow(d) => {
            tokio::time::sleep(d).await;
            200
        }
    };
    let code = StatusCode::from_u16(status).unwrap();
    let text = if status == 400 {
        "{\"error\":\"numero non valido\"}"
    } else {
        "{\"id\":\"ok\"}"
    };
    (code, text).into_response()
}

/// Starts the stand-in on `addr` (a port chosen before, so the server can be pointed at it
/// while it is still down).
async fn start_standin(addr: SocketAddr, s: Shared) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let app = axum::Router::new().fallback(gateway).with_state(s);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

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

async fn office(app: &App) -> reqwest::Client {
    let c = browser();
    assert_eq!(
        login(app, &c, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD)
            .await
            .status(),
        303
    );
    c
}

async fn spawn_app(t: &TestDb) -> App {
    spawn_with(t, true, crate::common::MONDAY_8AM, |c| {
        c.scheduler = false;
        c.mail_retry_seconds = 1;
        c.channel_timeout_seconds = 1;
    })
    .await
}

/// Saves the channels page with `fields` (the rest as the page shows them).
async fn save_channels(app: &App, c: &reqwest::Client, fields: &[(&str, &str)]) -> (u16, String) {
    let csrf = form_csrf(app, c, "/t/esempio/backoffice/canali").await;
    let mut form: Vec<(&str, &str)> = vec![
        ("sms_url", ""),
        ("sms_auth", "none"),
        ("sms_auth_header", "Authorization"),
        ("sms_basic_user", ""),
        ("sms_secret", ""),
        ("sms_recipient_field", "to"),
        ("sms_text_field", "text"),
        ("sms_sender_field", ""),
        ("sms_sender", ""),
        ("sms_body", "json"),
        ("io_service_id", ""),
        ("io_base_url", ""),
        ("io_key", ""),
        ("_csrf", &csrf),
    ];
    for (k, v) in fields {
        form.retain(|(f, _)| f != k);
        form.push((k, v));
    }
    let r = post(c, app, "/t/esempio/backoffice/canali", &form).await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The office writes to the demo parent's family; returns the report's path.
async fn write_to_parent(app: &App, c: &reqwest::Client, subject: &str) -> String {
    let csrf = form_csrf(app, c, "/t/esempio/backoffice/comunicazioni").await;
    let form = [
        ("audience", "famiglia"),
        ("fiscal_code", DEMO_PARENT_CF),
        ("subject", subject),
        (
            "body",
            "Domani la mensa apre alle 12:30 per un'assemblea del personale.",
        ),
        ("_csrf", csrf.as_str()),
    ];
    // The preview first: one family, by SMS.
    let mut preview = form.to_vec();
    preview.push(("azione", "anteprima"));
    let r = post(c, app, "/t/esempio/backoffice/comunicazioni", &preview).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("1 famiglia"), "{html}");
    let mut send = form.to_vec();
    send.push(("azione", "invia"));
    let r = post(c, app, "/t/esempio/backoffice/comunicazioni", &send).await;
    assert_eq!(r.status(), 303);
    r.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn an_sms_through_a_gateway_down_slow_and_failing_arrives_once() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let app = spawn_app(&t).await;
        let c = office(&app).await;
        let addr = free_addr();
        let url = format!("http://{addr}/api/send");

        // A bad setting is refused with its field named; nothing saved.
        let (status, html) = save_channels(&app, &c, &[("sms_url", "ftp://x")]).await;
        assert_eq!(status, 422, "{backend}");
        assert!(
            html.contains("Indirizzo del gateway SMS non valido"),
            "{backend}"
        );

        let (status, _) = save_channels(
            &app,
            &c,
            &[
                ("sms_url", &url),
                ("sms_body", "form"),
                ("sms_recipient_field", "destinatario"),
                ("sms_text_field", "messaggio"),
                ("sms_sender_field", "mittente"),
                ("sms_sender", "ComuneEs"),
                ("sms_auth", "header"),
                ("sms_auth_header", "X-Api-Key"),
                ("sms_secret", "segreto-sms-123"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{backend}");
        // The secret is never shown back nor written in the audit log.
        let (_, html) = page(&c, &app, "/t/esempio/backoffice/canali").await;
        assert!(html.contains("già impostato"), "{backend}");
        assert!(!html.contains("segreto-sms-123"), "{backend}");
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE after LIKE '%segreto-sms-123%' OR before LIKE '%segreto-sms-123%'"
            )
            .await,
            0
        );

        // The demo parent chooses SMS only.
        exec(
            &t,
            &format!("UPDATE guardian SET phone = '333 123 4567', notify_sms = TRUE, notify_email = FALSE WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
            &format!("UPDATE guardian SET phone = '333 123 4567', notify_sms = 1, notify_email = 0 WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
        )
        .await;

        // The gateway is down: the message waits with the reason.
        let report = write_to_parent(&app, &c, "Orario della mensa").await;
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND status = 'pending' AND attempts >= 1 AND last_error IS NOT NULL",
            1,
            Duration::from_secs(20),
        )
        .await;
        // It comes up slow (a timeout), then fails (503), then answers.
        let s: Shared = Arc::default();
        s.script
            .lock()
            .unwrap()
            .extend([Answer::Slow(Duration::from_secs(3)), Answer::Status(503)]);
        start_standin(addr, s.clone()).await;
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND status = 'sent'",
            1,
            Duration::from_secs(60),
        )
        .await;
        // Nothing more is sent afterwards.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let seen = s.seen.lock().unwrap().clone();
        let statuses: Vec<u16> = seen.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [0, 503, 200],
            "{backend}: timeout, 503, delivered once"
        );
        let last = seen.last().unwrap();
        assert_eq!(last.method, "POST");
        assert_eq!(last.path, "/api/send");
        assert_eq!(last.headers["x-api-key"], "segreto-sms-123");
        assert_eq!(
            last.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        let fields: Vec<(String, String)> = form_fields(&last.body);
        assert_eq!(fields[0], ("destinatario".into(), "+393331234567".into()));
        assert_eq!(fields[1].0, "messaggio");
        assert!(
            fields[1]
                .1
                .starts_with("Comune di Esempio: Orario della mensa. Domani"),
            "{:?}",
            fields[1]
        );
        assert_eq!(fields[2], ("mittente".into(), "ComuneEs".into()));
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND attempts >= 4"
            )
            .await,
            1,
            "{backend}: refused (once or more), timed out, 503, delivered"
        );
        // The office's report says it was sent.
        let (status, html) = page(&c, &app, &report).await;
        assert_eq!(status, 200);
        assert!(html.contains("Inviati: <strong>1</strong>"), "{html}");

        // A 400 fails the message for good, with the gateway's reason on the report.
        s.script.lock().unwrap().push_back(Answer::Status(400));
        let report = write_to_parent(&app, &c, "Seconda comunicazione").await;
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND status = 'failed' AND attempts = 1",
            1,
            Duration::from_secs(20),
        )
        .await;
        let (_, html) = page(&c, &app, &report).await;
        assert!(
            html.contains("Non consegnati: <strong>1</strong>"),
            "{html}"
        );
        assert!(html.contains("HTTP 400"), "{html}");
        assert!(html.contains("numero non valido"), "{html}");

        // A family with no usable channel: undeliverable at once, never tried.
        exec(
            &t,
            &format!("UPDATE guardian SET notify_sms = FALSE, notify_email = FALSE WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
            &format!("UPDATE guardian SET notify_sms = 0, notify_email = 0 WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
        )
        .await;
        let report = write_to_parent(&app, &c, "Terza comunicazione").await;
        let (_, html) = page(&c, &app, &report).await;
        assert!(
            html.contains("Nessun canale scelto dalla famiglia."),
            "{html}"
        );
        assert!(
            html.contains("Non consegnati: <strong>1</strong>"),
            "{html}"
        );
        assert_eq!(
            text(&t, "SELECT status FROM outbox ORDER BY id DESC LIMIT 1").await,
            "failed"
        );
        app.stop().await;
        t.cleanup().await;
    }
}

fn form_fields(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.replace('+', " ");
    let bytes = b.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&b[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// App IO.

const IO_KEY: &str = "chiave-io-segreta-0123456789";

/// App IO's stand-in: `POST /api/v1/profiles` and `POST /api/v1/messages` checked against the
/// OpenAPI; anything else, or a request that breaks it, is a 400 with the reason (and the test
/// fails on it).
#[derive(Default)]
struct Io {
    /// Fiscal codes with a profile, and whether they allow the service.
    profiles: Mutex<Vec<(String, bool)>>,
    messages: Mutex<Vec<serde_json::Value>>,
    violations: Mutex<Vec<String>>,
    calls: Mutex<Vec<String>>,
}

fn fiscal_code_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let digitish = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    b.len() == 16
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && digitish(b[6])
        && digitish(b[7])
        && b"ABCDEHLMPRST".contains(&b[8])
        && digitish(b[9])
        && digitish(b[10])
        && b[11].is_ascii_uppercase()
        && b[12..15].iter().all(|c| digitish(*c))
        && b[15].is_ascii_uppercase()
}

fn check_message(v: &serde_json::Value) -> Result<(), String> {
    let cf = v["fiscal_code"].as_str().ok_or("fiscal_code missing")?;
    if !fiscal_code_ok(cf) {
        return Err(format!("fiscal_code {cf} does not match the pattern"));
    }
    let content = v.get("content").ok_or("content missing")?;
    let subject = content["subject"].as_str().ok_or("subject missing")?;
    if !(10..=120).contains(&subject.chars().count()) {
        return Err(format!("subject length {}", subject.chars().count()));
    }
    let markdown = content["markdown"].as_str().ok_or("markdown missing")?;
    if !(80..=10000).contains(&markdown.chars().count()) {
        return Err(format!("markdown length {}", markdown.chars().count()));
    }
    if let Some(p) = content.get("payment_data") {
        let amount = p["amount"].as_i64().ok_or("amount is not an integer")?;
        if !(1..=9_999_999_999).contains(&amount) {
            return Err(format!("amount {amount}"));
        }
        let n = p["notice_number"].as_str().ok_or("notice_number missing")?;
        if !(n.len() == 18
            && n.bytes().all(|c| c.is_ascii_digit())
            && b"0123".contains(&n.as_bytes()[0]))
        {
            return Err(format!("notice_number {n}"));
        }
    }
    Ok(())
}

async fn io_api(
    State(s): State<Arc<Io>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    s.calls.lock().unwrap().push(format!("{method} {path}"));
    let refuse = |why: String| {
        s.violations.lock().unwrap().push(why.clone());
        (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/problem+json")],
            serde_json::json!({ "title": "Invalid payload", "detail": why }).to_string(),
        )
            .into_response()
    };
    if headers
        .get("ocp-apim-subscription-key")
        .and_then(|v| v.to_str().ok())
        != Some(IO_KEY)
    {
        s.violations.lock().unwrap().push(format!("{path}: no key"));
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if method != Method::POST {
        return refuse(format!("{method} {path}: not in the OpenAPI"));
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return refuse(format!("{path}: not JSON"));
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return refuse(format!("{path}: unreadable body"));
    };
    match path.as_str() {
        "/api/v1/profiles" => {
            let Some(cf) = v["fiscal_code"].as_str() else {
                return refuse("profiles: fiscal_code missing".into());
            };
            if !fiscal_code_ok(cf) {
                return refuse(format!("profiles: fiscal_code {cf}"));
            }
            let found = s
                .profiles
                .lock()
                .unwrap()
                .iter()
                .find(|(c, _)| c == cf)
                .map(|(_, allowed)| *allowed);
            match found {
                Some(allowed) => (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    serde_json::json!({ "sender_allowed": allowed, "preferred_languages": ["it_IT"] })
                        .to_string(),
                )
                    .into_response(),
                None => (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/problem+json")],
                    "{\"title\":\"Not found\"}",
                )
                    .into_response(),
            }
        }
        "/api/v1/messages" => {
            if let Err(why) = check_message(&v) {
                return refuse(format!("messages: {why}"));
            }
            s.messages.lock().unwrap().push(v);
            (
                StatusCode::CREATED,
                [("content-type", "application/json")],
                "{\"id\":\"01BX9NSMKVXXS5PSP2FATZMYYY\"}",
            )
                .into_response()
        }
        other => refuse(format!("{other}: not in the OpenAPI")),
    }
}

#[tokio::test]
async fn app_io_checks_the_profile_then_sends_a_message_the_openapi_accepts() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let io: Arc<Io> = Arc::default();
        io.profiles
            .lock()
            .unwrap()
            .push((DEMO_PARENT_CF.to_string(), true));
        let addr = free_addr();
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let router = axum::Router::new().fallback(io_api).with_state(io.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let app = spawn_app(&t).await;
        let c = office(&app).await;
        let base = format!("http://{addr}/api/v1");
        let (status, _) = save_channels(
            &app,
            &c,
            &[
                ("io_service_id", "01EYNQ08CFNATVH1YBN8D14Y8S"),
                ("io_base_url", &base),
                ("io_key", IO_KEY),
            ],
        )
        .await;
        assert_eq!(status, 303, "{backend}");
        let (_, html) = page(&c, &app, "/t/esempio/backoffice/canali").await;
        assert!(!html.contains(IO_KEY), "{backend}: the key is write-only");
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT COUNT(*) FROM audit_log WHERE after LIKE '%{IO_KEY}%' OR before LIKE '%{IO_KEY}%' OR reason LIKE '%{IO_KEY}%'")
            )
            .await,
            0
        );
        exec(
            &t,
            &format!("UPDATE guardian SET notify_app_io = TRUE, notify_email = FALSE WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
            &format!("UPDATE guardian SET notify_app_io = 1, notify_email = 0 WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
        )
        .await;
        let report = write_to_parent(&app, &c, "Avviso").await;
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'app_io' AND status = 'sent'",
            1,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(
            *io.violations.lock().unwrap(),
            Vec::<String>::new(),
            "{backend}"
        );
        assert_eq!(
            *io.calls.lock().unwrap(),
            ["POST /api/v1/profiles", "POST /api/v1/messages"],
            "{backend}"
        );
        let m = io.messages.lock().unwrap()[0].clone();
        assert_eq!(m["fiscal_code"], DEMO_PARENT_CF);
        // A short subject gets the municipality's name to reach IO's minimum.
        assert_eq!(m["content"]["subject"], "Comune di Esempio: Avviso");
        assert!(
            m["content"]["markdown"]
                .as_str()
                .unwrap()
                .contains("assemblea")
        );
        let (_, html) = page(&c, &app, &report).await;
        assert!(html.contains("App IO"), "{html}");
        assert!(html.contains("Inviati: <strong>1</strong>"), "{html}");

        // The parent makes a notice of payment to recharge: it reaches IO with its payment
        // data (notice number, amount in cents), so it can be paid from the app.
        let parent = browser();
        assert_eq!(
            login(&app, &parent, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
                .await
                .status(),
            303
        );
        let (_, html) = page(&parent, &app, "/t/esempio/area-personale/ricarica").await;
        let account = value_of(&html, "conto");
        let r = post(
            &parent,
            &app,
            "/t/esempio/area-personale/ricarica",
            &[
                ("_csrf", &csrf_of(&html)),
                ("conto", &account),
                ("importo", "25"),
                ("azione", "avviso"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{backend}");
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'app_io' AND kind = 'payment_notice' AND status = 'sent'",
            1,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(
            *io.violations.lock().unwrap(),
            Vec::<String>::new(),
            "{backend}"
        );
        let m = io.messages.lock().unwrap()[1].clone();
        let paid = &m["content"]["payment_data"];
        assert_eq!(paid["amount"], 2500, "{backend}: {m}");
        let notice = text(
            &t,
            "SELECT notice_number FROM payment_position ORDER BY id DESC LIMIT 1",
        )
        .await;
        assert_eq!(paid["notice_number"], notice.as_str(), "{backend}");
        // The office's page shows the message with its channel.
        let (_, html) = page(&c, &app, "/t/esempio/backoffice/messaggi").await;
        assert!(html.contains("Avviso di pagamento (App IO)"), "{backend}");

        // A citizen who turned the service off in IO: failed with the reason, no message sent.
        io.profiles.lock().unwrap()[0].1 = false;
        write_to_parent(&app, &c, "Seconda comunicazione").await;
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'app_io' AND status = 'failed'",
            1,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(io.messages.lock().unwrap().len(), 2, "{backend}");
        assert!(
            text(
                &t,
                "SELECT last_error FROM outbox WHERE channel = 'app_io' AND status = 'failed'"
            )
            .await
            .contains("disattivato")
        );

        // The family reads the office's communications in its Comunicazioni, newest first.
        let (status, html) = page(&parent, &app, "/t/esempio/area-personale/comunicazioni").await;
        assert_eq!(status, 200, "{backend}");
        assert!(html.contains("Messaggi dell'ufficio"), "{html}");
        let (second, first) = (
            html.find(">Seconda comunicazione</h3>").unwrap(),
            html.find(">Avviso</h3>").unwrap(),
        );
        assert!(second < first, "{backend}: newest first");
        assert!(html.contains("assemblea del personale"), "{backend}");

        // The profile offers App IO (the municipality uses it); unticking it is saved and
        // audited with the other contacts.
        let (_, html) = page(&parent, &app, "/t/esempio/area-personale/profilo").await;
        assert!(
            html.contains(
                "id=\"notify_app_io\" name=\"notify_app_io\" type=\"checkbox\" value=\"si\" checked"
            ),
            "{html}"
        );
        let email = value_of(&html, "email");
        let r = post(
            &parent,
            &app,
            "/t/esempio/area-personale/profilo/contatti",
            &[
                ("_csrf", &csrf_of(&html)),
                ("email", &email),
                ("phone", ""),
                ("notify_email", "si"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303, "{backend}");
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT COUNT(*) FROM guardian WHERE fiscal_code = '{DEMO_PARENT_CF}' AND notify_app_io = {}", if backend == "postgres" { "FALSE" } else { "0" })
            )
            .await,
            1,
            "{backend}"
        );
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'update_contacts' AND after LIKE '%\"notify_app_io\":false%'"
            )
            .await,
            1,
            "{backend}"
        );
        app.stop().await;
        t.cleanup().await;
    }
}

#[test]
fn the_standin_knows_the_openapi_rules() {
    let good = serde_json::json!({
        "fiscal_code": DEMO_PARENT_CF,
        "content": {
            "subject": "Avviso di pagamento",
            "markdown": "x".repeat(80),
            "payment_data": { "amount": 2500, "notice_number": "302000000000000123" }
        }
    });
    assert_eq!(check_message(&good), Ok(()));
    let mut bad = good.clone();
    bad["content"]["payment_data"]["notice_number"] = "12345".into();
    assert!(check_message(&bad).is_err());
    let mut bad = good.clone();
    bad["content"]["subject"] = "Breve".into();
    assert!(check_message(&bad).is_err());
    let mut bad = good;
    bad["fiscal_code"] = "rssmra80a01h501u".into();
    assert!(check_message(&bad).is_err());
}

/// An office cannot make the server call the installation's own network: with private hosts
/// not allowed (the default), an SMS gateway at a loopback or link-local address is never
/// called and the message fails with the reason, shown to the office.
#[tokio::test]
async fn a_gateway_at_a_private_address_is_never_called() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let app = spawn_with(&t, true, crate::common::MONDAY_8AM, |c| {
            c.scheduler = false;
            c.mail_retry_seconds = 1;
            c.channel_timeout_seconds = 1;
            c.channels_allow_private_hosts = false;
        })
        .await;
        let c = office(&app).await;
        // Something listens there: had the server called it, the listener would see it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/api/send", listener.local_addr().unwrap());
        let (status, _) = save_channels(
            &app,
            &c,
            &[
                ("sms_url", &url),
                ("sms_body", "form"),
                ("sms_recipient_field", "destinatario"),
                ("sms_text_field", "messaggio"),
                ("sms_auth", "none"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{backend}");
        exec(
            &t,
            &format!("UPDATE guardian SET phone = '333 123 4567', notify_sms = TRUE, notify_email = FALSE WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
            &format!("UPDATE guardian SET phone = '333 123 4567', notify_sms = 1, notify_email = 0 WHERE fiscal_code = '{DEMO_PARENT_CF}'"),
        )
        .await;
        write_to_parent(&app, &c, "Orario della mensa").await;
        wait_until(
            &t,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND status = 'failed' AND last_error LIKE '%non è un indirizzo pubblico%'",
            1,
            Duration::from_secs(20),
        )
        .await;
        assert!(
            listener.accept().is_err(),
            "{backend}: the gateway was called"
        );
        app.stop().await;
        t.cleanup().await;
    }
}
