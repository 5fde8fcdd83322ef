//! The real server on port 0, on SQLite and (when configured) PostgreSQL, driven over HTTP.

use crate::common::{MONDAY_8AM, browser, login, page, spawn, spawn_with};
use refettorio_app::demo::{
    DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD,
};
use refettorio_db::testing::TestDb;

#[tokio::test]
async fn health_answers_on_every_backend() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, false).await;
        let r = app.get("/health").await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-request-id"));
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], t.db.backend().as_str());
        // The CLI's health command reads the same endpoint.
        let out = refettorio_server::check_health(&app.base).await.unwrap();
        assert!(out.contains("\"ok\""), "{out}");
        app.stop().await;
        assert!(
            refettorio_server::check_health(&format!("http://{}", "127.0.0.1:9"))
                .await
                .is_err()
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn pages_assets_metrics_and_headers() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        // The installation's home lists the municipalities.
        let r = app.get("/").await;
        assert_eq!(r.status(), 200);
        let csp = r
            .headers()
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'self'"));
        assert_eq!(
            r.headers().get("x-content-type-options").unwrap(),
            "nosniff"
        );
        assert_eq!(r.headers().get("x-frame-options").unwrap(), "DENY");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("href=\"/t/esempio/\"") && html.contains("Comune di Esempio"),
            "{html}"
        );
        assert!(html.contains("lang=\"it\""));
        assert!(html.contains("Dichiarazione di accessibilità"));

        // The public home of the municipality, with today's status from its calendar.
        let html = app.get("/t/esempio/").await.text().await.unwrap();
        assert!(html.contains("Comune di Esempio"));
        assert!(html.contains("lunedì 23 novembre 2026"), "{html}");
        assert!(html.contains("Giorno di scuola"), "{html}");
        assert!(html.contains("/t/esempio/accedi"));
        let r = app.get("/t/esempio").await;
        assert_eq!(r.status(), 308);
        assert_eq!(r.headers()["location"], "/t/esempio/");

        // Login page; private areas send to it with the way back.
        let html = app.get("/t/esempio/accedi").await.text().await.unwrap();
        assert!(html.contains("SPID") && html.contains("CIE"));
        for area in ["area-personale", "backoffice"] {
            let r = app.get(&format!("/t/esempio/{area}")).await;
            assert_eq!(r.status(), 303, "{area}");
            assert_eq!(
                r.headers()["location"],
                format!("/t/esempio/accedi?next=/t/esempio/{area}")
            );
        }

        // Unknown municipality and unknown page: an Italian 404 page with the request id.
        let r = app.get("/t/sconosciuto/").await;
        assert_eq!(r.status(), 404);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let html = r.text().await.unwrap();
        assert!(html.contains("Nessun Comune"), "{html}");
        assert!(html.contains(&id), "request id {id} not shown");
        assert_eq!(app.get("/nessuna/pagina").await.status(), 404);

        // Bootstrap Italia is served from the binary.
        let r = app
            .get("/static/bootstrap-italia/css/bootstrap-italia.min.css")
            .await;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );
        assert!(r.bytes().await.unwrap().len() > 100_000);
        assert_eq!(app.get("/static/nope.css").await.status(), 404);

        // Metrics count what was served.
        let text = app.get("/metrics").await.text().await.unwrap();
        assert!(text.contains("http_requests_total"), "{text}");
        assert!(text.contains("route=\"/t/{slug}/\""), "{text}");
        app.stop().await;
        t.cleanup().await;
    }
}

/// `Strict-Transport-Security` on every answer (pages, error pages, files) when the public
/// address is https, and never otherwise.
#[tokio::test]
async fn hsts_only_with_an_https_public_url() {
    let t = TestDb::sqlite().await.unwrap();
    for (public_url, hsts) in [
        (None, false),
        (Some("http://scuola.example.it"), false),
        (Some("https://scuola.example.it"), true),
    ] {
        let app = spawn_with(&t, false, MONDAY_8AM, |c| {
            c.scheduler = false;
            c.public_url = public_url.map(str::to_string);
        })
        .await;
        for path in ["/", "/health", "/nessuna/pagina", "/static/nope.css"] {
            let r = app.get(path).await;
            let header = r.headers().get("strict-transport-security");
            if hsts {
                assert_eq!(
                    header.map(|h| h.to_str().unwrap()),
                    Some("max-age=31536000; includeSubDomains"),
                    "{path}"
                );
            } else {
                assert!(header.is_none(), "{public_url:?} {path}");
            }
        }
        app.stop().await;
    }
    t.cleanup().await;
}

/// axum's own rejections (an id that is not a number, a query or form that does not decode,
/// a missing content type, a body too large) are the Italian error page with the request id,
/// or a problem document with a stable code on the API, never plain English.
#[tokio::test]
async fn rejections_are_italian_pages_or_problem_documents() {
    let t = TestDb::sqlite().await.unwrap();
    let app = spawn(&t, true).await;
    let english = [
        "Cannot parse",
        "Invalid URL",
        "Failed to deserialize",
        "Form requests must have",
        "Failed to buffer",
    ];
    let italian = |status: u16, html: &str, want: u16, title: &str| {
        assert_eq!(status, want, "{html}");
        assert!(
            html.contains("lang=\"it\"") && html.contains(title),
            "{html}"
        );
        assert!(html.contains("Codice della richiesta"), "{html}");
        for e in english {
            assert!(!html.contains(e), "{e}: {html}");
        }
    };

    // An id that is not a number: anonymous, in the back office, in the personal area.
    let (status, html) = page(&app.client, &app, "/t/esempio/documenti/abc").await;
    italian(status, &html, 400, "Indirizzo non valido");
    let office = browser();
    let r = login(&app, &office, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let (status, html) = page(&office, &app, "/t/esempio/backoffice/conti/abc").await;
    italian(status, &html, 400, "Indirizzo non valido");
    let (status, html) = page(
        &office,
        &app,
        "/t/esempio/backoffice/anagrafiche/scuole/12345678901234567890123",
    )
    .await;
    italian(status, &html, 400, "Indirizzo non valido");
    let parent = browser();
    let r = login(&app, &parent, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let (status, html) = page(
        &parent,
        &app,
        "/t/esempio/area-personale/figli/abc/presenze",
    )
    .await;
    italian(status, &html, 400, "Indirizzo non valido");

    // A query that does not decode.
    let (status, html) = page(
        &parent,
        &app,
        "/t/esempio/area-personale/prenotazioni?iscrizione=abc",
    )
    .await;
    italian(status, &html, 400, "Richiesta non valida");

    // A form posted without its content type.
    let r = parent
        .post(app.url("/t/esempio/area-personale/prenotazioni"))
        .body("iscrizione=1")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    italian(
        status,
        &r.text().await.unwrap(),
        415,
        "Richiesta non valida",
    );

    // The API (the pagoPA Checkout stand-in): a problem document with a stable code.
    let r = app
        .client
        .post(app.url("/pagopa/sandbox/checkout/ec/v1/carts"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
    assert_eq!(body["status"], 413);

    // What the handlers answer themselves is untouched: the static files' own 404.
    let r = app.get("/static/nope.css").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "Risorsa non trovata");
    app.stop().await;
    t.cleanup().await;
}
