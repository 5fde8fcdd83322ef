//! Static files embedded in the binary and served under `/static/`.
//!
//! `build.rs` installs Bootstrap Italia and htmx from npm (pinned in `assets/package-lock.json`)
//! and generates the table included below, together with our own files from `assets/static/`.
//!
//! Public URLs:
//! - `/static/bootstrap-italia/css/bootstrap-italia.min.css`
//! - `/static/bootstrap-italia/js/bootstrap-italia.bundle.min.js` (global `bootstrap`)
//! - `/static/bootstrap-italia/svg/sprites.svg` (icons: `sprites.svg#it-user`)
//! - `/static/bootstrap-italia/fonts/{Titillium_Web,Lora,Roboto_Mono}/*.woff2` (via `loadFonts`)
//! - `/static/bootstrap-italia/LICENSE`, `/static/bootstrap-italia/fonts/*/{OFL,LICENSE}.txt`
//! - `/static/htmx.min.js`
//! - `/static/refettorio.css`, `/static/refettorio.js` and anything else in `assets/static/`

use axum::body::Body;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The file's content.
    pub bytes: &'static [u8],
    /// The `Content-Type` it is served with.
    pub content_type: &'static str,
    /// A strong entity tag, quoted: FNV-1a 64 of the content in hex, e.g. `"0123456789abcdef"`.
    pub etag: &'static str,
}

// Defines `BOOTSTRAP_ITALIA_VERSION`, `HTMX_VERSION`, `TOTAL_BYTES` and the sorted `FILES`.
include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// How long browsers may reuse an asset without asking again.
const CACHE_CONTROL_VALUE: &str = "public, max-age=3600";

/// The embedded file at `path`, relative to `/static/` (a leading `/` is ignored).
#[must_use]
pub fn get(path: &str) -> Option<Asset> {
    let path = path.strip_prefix('/').unwrap_or(path);
    FILES
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .and_then(|i| FILES.get(i))
        .map(|(_, asset)| *asset)
}

/// Paths (relative to `/static/`) of every embedded file, sorted.
pub fn paths() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(p, _)| *p)
}

/// Handler for `GET /static/{*path}`: the embedded file, `304 Not Modified` when the request's
/// `If-None-Match` names its ETag, `404 Not Found` for an unknown path.
pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = get(&path) else {
        return (
            StatusCode::NOT_FOUND,
            [(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            "Risorsa non trovata",
        )
            .into_response();
    };

    let common = [
        (ETAG, HeaderValue::from_static(asset.etag)),
        (CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE)),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];

    let not_modified = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| if_none_match_matches(v, asset.etag));
    if not_modified {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }

    (
        StatusCode::OK,
        common,
        [(CONTENT_TYPE, HeaderValue::from_static(asset.content_type))],
        Body::from(asset.bytes),
    )
        .into_response()
}

/// `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2): `*`, or any listed tag whose
/// opaque part equals ours, with or without `W/`.
fn if_none_match_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn request(path: &str, if_none_match: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(tag) = if_none_match {
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        serve(Path(path.to_owned()), headers).await
    }

    fn header<'a>(response: &'a Response, name: &str) -> &'a str {
        response.headers().get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(FILES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn known_paths_have_the_right_content_type() {
        let expected = [
            (
                "bootstrap-italia/css/bootstrap-italia.min.css",
                "text/css; charset=utf-8",
            ),
            (
                "bootstrap-italia/js/bootstrap-italia.bundle.min.js",
                "text/javascript; charset=utf-8",
            ),
            ("bootstrap-italia/svg/sprites.svg", "image/svg+xml"),
            (
                "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-regular.woff2",
                "font/woff2",
            ),
            ("htmx.min.js", "text/javascript; charset=utf-8"),
            ("refettorio.css", "text/css; charset=utf-8"),
            ("refettorio.js", "text/javascript; charset=utf-8"),
        ];
        for (path, content_type) in expected {
            let asset = get(path).unwrap_or_else(|| panic!("{path} is not embedded"));
            assert_eq!(asset.content_type, content_type, "{path}");
            assert!(!asset.bytes.is_empty(), "{path}");
            assert!(
                asset.etag.starts_with('"') && asset.etag.ends_with('"'),
                "{path}"
            );
        }
        assert_eq!(get("/htmx.min.js"), get("htmx.min.js"));
    }

    #[test]
    fn sprite_has_the_icons_templates_use() {
        let sprite =
            std::str::from_utf8(get("bootstrap-italia/svg/sprites.svg").unwrap().bytes).unwrap();
        for icon in [
            "it-user",
            "it-calendar",
            "it-check",
            "it-close",
            "it-search",
        ] {
            assert!(sprite.contains(&format!("id=\"{icon}\"")), "{icon}");
        }
    }

    /// Every `.woff2` that `bootstrap.loadFonts(path)` declares is embedded, so the browser
    /// never falls back to another format.
    #[test]
    fn every_font_load_fonts_asks_for_is_embedded() {
        let bundle = get("bootstrap-italia/js/bootstrap-italia.bundle.min.js")
            .unwrap()
            .bytes;
        let bundle = std::str::from_utf8(bundle).unwrap();
        let mut requested = 0;
        for piece in bundle.split("url('${").skip(1) {
            let Some((_, rest)) = piece.split_once("}/") else {
                continue;
            };
            let Some((file, _)) = rest.split_once('\'') else {
                continue;
            };
            if file.ends_with(".woff2") {
                requested += 1;
                assert!(
                    get(&format!("bootstrap-italia/fonts/{file}")).is_some(),
                    "{file}"
                );
            }
        }
        assert!(
            requested >= 16,
            "loadFonts declared only {requested} woff2 faces"
        );
        let embedded = paths().filter(|p| p.ends_with(".woff2")).count();
        assert_eq!(
            embedded, requested,
            "embedded woff2 files no loadFonts face uses"
        );

        let ours = std::str::from_utf8(get("refettorio.js").unwrap().bytes).unwrap();
        assert!(ours.contains("loadFonts('/static/bootstrap-italia/fonts')"));
    }

    #[test]
    fn versions_are_pinned() {
        assert!(BOOTSTRAP_ITALIA_VERSION.starts_with("2."));
        assert!(HTMX_VERSION.starts_with("2."));
        let sum: u64 = FILES.iter().map(|(_, a)| a.bytes.len() as u64).sum();
        assert_eq!(sum, TOTAL_BYTES);
    }

    #[tokio::test]
    async fn serves_a_known_file_with_caching_headers() {
        let asset = get("refettorio.css").unwrap();
        let response = request("refettorio.css", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), "text/css; charset=utf-8");
        assert_eq!(header(&response, "cache-control"), "public, max-age=3600");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "etag"), asset.etag);
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], asset.bytes);
    }

    #[tokio::test]
    async fn unknown_path_is_404() {
        for path in [
            "nope.css",
            "bootstrap-italia/",
            "",
            "../Cargo.toml",
            "bootstrap-italia/dist/css",
        ] {
            let response = request(path, None).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path:?}");
        }
    }

    #[tokio::test]
    async fn matching_etag_is_304_without_body() {
        let asset = get("htmx.min.js").unwrap();
        for tag in [
            asset.etag.to_owned(),
            format!("W/{}", asset.etag),
            format!("\"other\", {}", asset.etag),
            "*".to_owned(),
        ] {
            let response = request("htmx.min.js", Some(&tag)).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
            assert_eq!(header(&response, "etag"), asset.etag);
            assert_eq!(header(&response, "cache-control"), "public, max-age=3600");
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert!(body.is_empty());
        }
        let response = request("htmx.min.js", Some("\"0000000000000000\"")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}
