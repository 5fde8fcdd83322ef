//! The first visit and the caching of pages, over real HTTP (issue 15, items 6 and 7):
//! - the login page's files are served compressed (brotli) at content-hashed addresses cached a
//!   year, and the whole first visit (page, styles, scripts, icons, the fonts it may use) stays
//!   within 400 KB transferred;
//! - no personal or back-office page may be stored by the browser (`Cache-Control: no-store`):
//!   after *Esci*, Back must not show the family's balance again;
//! - a malformed query in the personal area is the Italian error page.

use crate::common::{App, browser, login, page, spawn};
use refettorio_app::demo::{
    DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD,
};
use refettorio_db::testing::TestDb;

/// What a phone may download on its first visit to the login page.
const FIRST_VISIT_BUDGET: usize = 400 * 1024;

/// The `/static/…` addresses a page links to (`href`/`src`, without any `#fragment`).
fn static_urls(html: &str) -> Vec<String> {
    let mut urls: Vec<String> = html
        .split("=\"/static/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|path| {
            let path = path.split('#').next().unwrap_or(path);
            format!("/static/{path}")
        })
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// Fetches `path` as a browser does on a first visit; (status, headers, bytes on the wire).
async fn fetch(app: &App, path: &str) -> (u16, reqwest::header::HeaderMap, usize) {
    let r = app
        .client
        .get(app.url(path))
        .header("accept-encoding", "br, gzip, deflate")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    // reqwest is built without decompression here: these are the bytes on the wire.
    let body = r.bytes().await.unwrap();
    (status, headers, body.len())
}

#[tokio::test]
async fn login_page_first_visit_is_compressed_cached_and_small() {
    let t = TestDb::sqlite().await.unwrap();
    let app = spawn(&t, true).await;

    let (status, headers, html_len) = fetch(&app, "/t/esempio/accedi").await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    let html = app.get("/t/esempio/accedi").await.text().await.unwrap();
    let urls = static_urls(&html);
    for expected in [
        "bootstrap-italia.",
        "fonts.",
        "refettorio.",
        "htmx.",
        "favicon.",
        "sprites.",
    ] {
        assert!(
            urls.iter().any(|u| u.contains(expected)),
            "the login page links no {expected}: {urls:?}"
        );
    }
    // Bootstrap Italia's JavaScript bundle (1 MB) is not loaded.
    assert!(!html.contains("bootstrap-italia.bundle"), "{html}");

    let mut total = html_len;
    let mut report = vec![format!("{html_len:>7} page")];
    let mut fonts_css = String::new();
    for url in &urls {
        let (status, headers, len) = fetch(&app, url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(
            headers["cache-control"], "public, max-age=31536000, immutable",
            "{url} is not cached a year"
        );
        let content_type = headers["content-type"].to_str().unwrap();
        if content_type.starts_with("text/") || content_type.starts_with("image/svg") {
            assert_eq!(headers["content-encoding"], "br", "{url} is not compressed");
            assert_eq!(headers["vary"], "accept-encoding", "{url}");
        }
        // gzip for a browser without brotli.
        let gzip = app
            .client
            .get(app.url(url))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        if content_type.starts_with("text/") {
            assert_eq!(gzip.headers()["content-encoding"], "gzip", "{url}");
        }
        if url.contains("fonts.") {
            fonts_css = app.get(url).await.text().await.unwrap();
        }
        total += len;
        report.push(format!("{len:>7} {url}"));
    }
    // The fonts the page may use: every Titillium Web face but the light (300) ones, which no
    // page uses. A browser downloads only the faces it draws, so this is an upper bound.
    let fonts: Vec<&str> = fonts_css
        .split("src:url(")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|u| u.contains("titillium") && !u.contains("-300"))
        .collect();
    assert_eq!(fonts.len(), 6, "{fonts_css}");
    for url in fonts {
        let (status, headers, len) = fetch(&app, url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(headers["content-type"], "font/woff2");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        total += len;
        report.push(format!("{len:>7} {url}"));
    }
    report.push(format!("{total:>7} in all"));
    println!("{}", report.join("\n"));
    assert!(
        total <= FIRST_VISIT_BUDGET,
        "the login page's first visit transfers {total} bytes:\n{}",
        report.join("\n")
    );

    // A revisit asks nothing: the addresses are immutable. The plain address still works.
    let r = app.get("/static/refettorio.css").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
    app.stop().await;
    t.cleanup().await;
}

/// Every personal-area and back-office page, and the pages around them, carry
/// `Cache-Control: no-store`; the files do not.
#[tokio::test]
async fn personal_and_back_office_pages_are_never_stored() {
    let t = TestDb::sqlite().await.unwrap();
    let app = spawn(&t, true).await;
    let no_store = |path: &str, r: &reqwest::Response| {
        let value = r
            .headers()
            .get("cache-control")
            .unwrap_or_else(|| panic!("{path}: no Cache-Control"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            value.split(',').any(|d| d.trim() == "no-store"),
            "{path}: Cache-Control {value}"
        );
    };

    let parent = browser();
    assert_eq!(
        login(&app, &parent, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD)
            .await
            .status(),
        303
    );
    for path in [
        "/t/esempio/",
        "/t/esempio/area-personale",
        "/t/esempio/area-personale/figli",
        "/t/esempio/area-personale/prenotazioni",
        "/t/esempio/area-personale/pagamenti",
        "/t/esempio/area-personale/ricarica",
        "/t/esempio/area-personale/comunicazioni",
        "/t/esempio/area-personale/profilo",
        "/t/esempio/area-personale/nessuna",
    ] {
        let r = parent.get(app.url(path)).send().await.unwrap();
        assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
        no_store(path, &r);
    }

    // A malformed query: the Italian error page, not axum's English, and not stored either.
    let r = parent
        .get(app.url("/t/esempio/area-personale/ricarica?conto="))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    no_store("ricarica?conto=", &r);
    let html = r.text().await.unwrap();
    assert!(html.contains("lang=\"it\""), "{html}");
    assert!(html.contains("Richiesta non valida"), "{html}");
    assert!(!html.contains("Failed to deserialize"), "{html}");

    let office = browser();
    assert_eq!(
        login(&app, &office, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD)
            .await
            .status(),
        303
    );
    for path in [
        "/t/esempio/backoffice",
        "/t/esempio/backoffice/conti",
        "/t/esempio/backoffice/conti?q=Rossi",
        "/t/esempio/backoffice/persone",
        "/t/esempio/backoffice/registro",
        "/t/esempio/backoffice/impostazioni",
        "/t/esempio/backoffice/messaggi",
        "/t/esempio/backoffice/report",
    ] {
        let r = office.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        no_store(path, &r);
    }

    // Logged out: the login page, the public pages, and an error page.
    for path in ["/", "/t/esempio/accedi", "/t/esempio/nessuna"] {
        no_store(path, &app.get(path).await);
    }
    let (status, _) = page(&app.client, &app, "/t/esempio/accedi").await;
    assert_eq!(status, 200);

    // The files are cached as assets, never `no-store`.
    let r = app.get("/static/refettorio.css").await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
    app.stop().await;
    t.cleanup().await;
}
