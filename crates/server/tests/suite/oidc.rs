//! Families' login through a municipality's OpenID Connect provider (issue 16), through the
//! real server and a real provider, npm's `oidc-provider` (`tests/browser/oidc_provider.mjs`),
//! on both databases: the authorization code flow with PKCE lands in the personal area; a
//! tampered ID token, an ID token for another nonce, a replayed code, an answer in another
//! browser and the provider's refusal are each refused with a page in Italian and open no
//! session.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{App, admin, browser, csrf_of, page, post, scalar, spawn};
use refettorio_db::testing::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader};

const SECRET: &str = "client-secret-of-the-test";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/oidc_provider.mjs")
}

/// Whether node and oidc-provider are here; without them the test fails in CI (`.ci/run`
/// installs them) and is skipped, saying so, elsewhere.
fn available() -> bool {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/oidc-provider")
        .exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "the OpenID test needs node and tests/browser/node_modules (npm ci, run by .ci/run)"
        );
        eprintln!("NOTICE: node or oidc-provider missing: the OpenID login test is skipped");
    }
    installed
}

/// The provider, listening; killed when dropped.
struct Provider {
    issuer: String,
    _child: tokio::process::Child,
}

async fn provider(app: &App) -> Provider {
    let mut child = tokio::process::Command::new("node")
        .arg(script())
        .arg(app.url("/t/esempio/oidc/callback"))
        .arg(SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let issuer = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the provider starts");
        if let Some(i) = line.strip_prefix("listening ") {
            break i.to_string();
        }
    };
    // The rest of its output is read (a closed pipe would stop it).
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Provider {
        issuer,
        _child: child,
    }
}

impl Provider {
    /// Who logs in next, and how the next token answer is spoiled.
    async fn next(&self, account: &str, mode: &str) {
        let r = reqwest::get(format!(
            "{}/__test?account={account}&mode={mode}",
            self.issuer
        ))
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}

/// The platform administrator makes the demo municipality offer the login through `issuer`,
/// on the municipality's identity page: a wrong form is refused (422, in Italian, nothing
/// written), the right one saved and audited without the secret.
async fn offer(t: &TestDb, app: &App, issuer: &str) {
    let (client, _) = admin(app).await;
    let path = "/admin/comuni/esempio/identita";
    let (status, html) = page(&client, app, path).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Fornitore OpenID Connect"));
    let csrf = csrf_of(&html);
    let form = |issuer: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("mode", "sandbox".to_string()),
            ("ipa_code", "c_esempio".into()),
            ("cadastral_code", "X000".into()),
            ("contact_email", "ufficio.scuola@example.org".into()),
            ("contact_phone", "+390123456789".into()),
            ("website", "https://www.comune.esempio.it".into()),
            ("cie", "1".into()),
            ("oidc_issuer", issuer.into()),
            ("oidc_client_id", "refettorio".into()),
            ("oidc_secret", SECRET.into()),
        ]
    };
    let audit = "SELECT COUNT(*) FROM audit_log WHERE action = 'identity_settings'";
    // Plain http to another machine: refused.
    let bad = form("http://login.example.it");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&client, app, path, &bad).await;
    assert_eq!(r.status().as_u16(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Indirizzo del fornitore non valido"),
        "{html}"
    );
    assert!(!html.contains(SECRET), "the secret is never shown");
    assert_eq!(scalar(t, audit).await, 0);
    let issuer: &'static str = Box::leak(issuer.to_string().into_boxed_str());
    let good = form(issuer);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&client, app, path, &good).await;
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    let (_, html) = page(&client, app, &format!("{path}?esito=salvata")).await;
    assert!(html.contains("Impostazioni salvate") && html.contains("già impostato"));
    assert!(!html.contains(SECRET));
    assert_eq!(scalar(t, audit).await, 1);
    assert_eq!(
        scalar(
            t,
            &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'identity_settings' AND (after LIKE '%{SECRET}%' OR reason LIKE '%{SECRET}%')")
        )
        .await,
        0
    );
}

/// From the login page's button through the provider and back: the address the provider
/// sends the browser to (our callback, with the code and state).
async fn through_the_provider(app: &App, client: &reqwest::Client) -> String {
    let (status, login) = page(client, app, "/t/esempio/accedi").await;
    assert_eq!(status, 200);
    assert!(
        login.contains("href=\"/t/esempio/oidc/login?\"") && login.contains("Entra con SPID o CIE"),
        "the login page offers the OpenID button"
    );
    let r = client
        .get(app.url("/t/esempio/oidc/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let mut to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.contains("code_challenge_method=S256")
            && to.contains("code_challenge=")
            && to.contains("nonce=")
            && to.contains("state="),
        "authorization code with PKCE and a nonce: {to}"
    );
    // The provider's own redirects (its login, then back to the authorization).
    for _ in 0..10 {
        if to.starts_with(&app.base) {
            return to;
        }
        let r = client.get(&to).send().await.unwrap();
        assert!(r.status().is_redirection(), "{}", r.text().await.unwrap());
        let next = r.headers()["location"].to_str().unwrap().to_string();
        to = if next.starts_with('/') {
            let origin = to.split('/').take(3).collect::<Vec<_>>().join("/");
            format!("{origin}{next}")
        } else {
            next
        };
    }
    panic!("the provider never sent the browser back");
}

async fn callback(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

/// The same callback address with another value of `name`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k == name => format!("{k}={value}"),
            _ => p.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap()
}

async fn has_session(app: &App, client: &reqwest::Client) -> bool {
    page(client, app, "/t/esempio/area-personale").await.0 == 200
}

#[tokio::test]
async fn a_parent_logs_in_through_the_municipalitys_openid_provider_and_forgeries_are_refused() {
    if !available() {
        return;
    }
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        // Not offered until configured.
        let (_, login) = page(&browser(), &app, "/t/esempio/accedi").await;
        assert!(!login.contains("/oidc/login"));
        assert_eq!(
            app.get("/t/esempio/oidc/login").await.status().as_u16(),
            404
        );

        let op = provider(&app).await;
        offer(&t, &app, &op.issuer).await;

        // Mario logs in: the personal area with his children.
        let client = browser();
        let back = through_the_provider(&app, &client).await;
        assert!(back.contains("code=") && back.contains("state="), "{back}");
        let (status, to) = callback(&client, &back).await;
        assert_eq!(status, 303, "{to}");
        assert_eq!(to, "/t/esempio/area-personale");
        let (status, home) = page(&client, &app, "/t/esempio/area-personale").await;
        assert_eq!(status, 200);
        assert!(home.contains("Ciao Mario"), "{home}");

        // The same answer again (a replayed code), in the same browser or another: refused.
        let (status, body) = callback(&client, &back).await;
        assert_eq!(status, 403);
        assert!(body.contains("Accesso non riuscito"), "{body}");
        assert_eq!(callback(&browser(), &back).await.0, 403);
        // The used code with a new login's state (and PKCE verifier): the provider refuses it.
        let other = browser();
        let fresh = through_the_provider(&app, &other).await;
        let replayed = with_param(&fresh, "code", param(&back, "code"));
        assert_eq!(callback(&other, &replayed).await.0, 403);
        assert!(!has_session(&app, &other).await);

        // An answer carried to another browser than the one that asked: refused, and spent.
        let asker = browser();
        let back = through_the_provider(&app, &asker).await;
        let stranger = browser();
        assert_eq!(callback(&stranger, &back).await.0, 403);
        assert!(!has_session(&app, &stranger).await);
        assert_eq!(callback(&asker, &back).await.0, 403);

        // A tampered ID token (its payload names Giovanna, the signature is Mario's): refused,
        // and Giovanna gets no profile.
        let guardians = "SELECT COUNT(*) FROM guardian WHERE fiscal_code = 'VRDGNN75C41F205X'";
        op.next("RSSMRA80A01H501U", "tamper").await;
        let client = browser();
        let back = through_the_provider(&app, &client).await;
        let (status, body) = callback(&client, &back).await;
        assert_eq!(status, 403, "{body}");
        assert!(!has_session(&app, &client).await);
        assert_eq!(scalar(&t, guardians).await, 0);

        // An ID token signed by the provider's own key, but for another login's nonce: refused.
        op.next("RSSMRA80A01H501U", "wrong-nonce").await;
        let client = browser();
        let back = through_the_provider(&app, &client).await;
        assert_eq!(callback(&client, &back).await.0, 403);
        assert!(!has_session(&app, &client).await);

        // The provider says the person did not log in: the page says so.
        let client = browser();
        let back = through_the_provider(&app, &client).await;
        let state = param(&back, "state");
        let refused = app.url(&format!(
            "/t/esempio/oidc/callback?error=access_denied&state={state}"
        ));
        let (status, body) = callback(&client, &refused).await;
        assert_eq!(status, 403);
        assert!(body.contains("non ha confermato"), "{body}");
        assert!(!has_session(&app, &client).await);

        // A person the registry does not know: a profile with the provider's name and e-mail,
        // and a personal area saying no child is linked yet.
        op.next("VRDGNN75C41F205X", "normal").await;
        let client = browser();
        let back = through_the_provider(&app, &client).await;
        assert_eq!(callback(&client, &back).await.0, 303);
        let (status, home) = page(&client, &app, "/t/esempio/area-personale").await;
        assert_eq!(status, 200);
        assert!(home.contains("Non ci sono figli iscritti"), "{home}");
        assert_eq!(scalar(&t, guardians).await, 1);
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM guardian WHERE fiscal_code = 'VRDGNN75C41F205X' \
                 AND last_name = 'Verdi' AND email = 'giovanna.verdi@example.org'"
            )
            .await,
            1
        );
        app.stop().await;
    }
}
