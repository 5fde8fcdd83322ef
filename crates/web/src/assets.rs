//! Static files embedded in the binary and served under `/static/`.
//!
//! `build.rs` takes Bootstrap Italia and htmx from `assets/vendor/` (committed copies of the
//! npm packages pinned in `assets/package-lock.json`; no Node.js at build time) and our own files
//! from `assets/static/`, and generates the table included below.
//!
//! Every file is served at two addresses:
//! - its content-hashed one, [`url`] (`/static/refettorio.0123456789abcdef.css`), cached a year
//!   (`immutable`): templates link to this one, so a new build's file is a new address;
//! - its plain one (`/static/refettorio.css`), cached an hour, for anything that cannot know
//!   the hash.
//!
//! Text files (CSS, JavaScript, SVG, licences) also have brotli and gzip copies made at build
//! time, sent to a browser whose `Accept-Encoding` takes them (brotli first).
//!
//! Files:
//! - `bootstrap-italia/css/bootstrap-italia.min.css`, `bootstrap-italia/fonts.css` (the
//!   `@font-face` rules), `bootstrap-italia/fonts/{Titillium_Web,Lora,Roboto_Mono}/*.woff2`
//! - `bootstrap-italia/svg/sprites.svg` (only the icons used: `sprites.svg#it-user`)
//! - `bootstrap-italia/LICENSE`, `bootstrap-italia/fonts/*/{OFL,LICENSE}.txt`, `htmx.org/LICENSE`
//! - `htmx.min.js`
//! - `refettorio.css`, `refettorio.js`, `favicon.svg` and anything else in `assets/static/`

use axum::body::Body;
use axum::extract::Path;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderValue,
    IF_NONE_MATCH, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The file's content.
    pub bytes: &'static [u8],
    /// Its brotli copy, when compressing it pays.
    pub br: Option<&'static [u8]>,
    /// Its gzip copy, when compressing it pays.
    pub gzip: Option<&'static [u8]>,
    /// The `Content-Type` it is served with.
    pub content_type: &'static str,
    /// A strong entity tag, quoted: FNV-1a 64 of the content in hex, e.g. `"0123456789abcdef"`.
    pub etag: &'static str,
    /// Its content-hashed address, e.g. `/static/refettorio.0123456789abcdef.css`.
    pub url: &'static str,
}

// Defines `BOOTSTRAP_ITALIA_VERSION`, `HTMX_VERSION`, `TOTAL_BYTES`, the sorted `FILES` and the
// sorted `HASHED`.
include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// How long browsers may reuse a file fetched at its plain address without asking again.
const CACHE_PLAIN: &str = "public, max-age=3600";
/// A content-hashed address never changes content: a year, and no revalidation.
const CACHE_HASHED: &str = "public, max-age=31536000, immutable";

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

/// The embedded file at its content-hashed `path`, relative to `/static/`.
fn get_hashed(path: &str) -> Option<Asset> {
    HASHED
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .and_then(|i| HASHED.get(i))
        .and_then(|(_, index)| FILES.get(*index))
        .map(|(_, asset)| *asset)
}

/// The address to link to the embedded file at `path` (relative to `/static/`): its
/// content-hashed URL, cached a year by browsers. For templates:
/// `{{ crate::assets::url("refettorio.css") }}`. An unknown path (a bug the tests catch)
/// gives the plain address, which answers 404.
#[must_use]
pub fn url(path: &str) -> String {
    get(path).map_or_else(|| format!("/static/{path}"), |asset| asset.url.to_owned())
}

/// Paths (relative to `/static/`) of every embedded file, sorted.
pub fn paths() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(p, _)| *p)
}

/// A representation of a file: as it is, or one of its compressed copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Brotli,
    Gzip,
}

/// The best representation the request's `Accept-Encoding` takes: brotli, then gzip, else
/// the file as it is (RFC 9110 §12.5.3: `q=0` refuses a coding, `*` stands for the others).
fn negotiate(headers: &HeaderMap, asset: Asset) -> Encoding {
    let mut brotli = None;
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let accepted = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_none_or(|q| q > 0.0);
            match coding.as_str() {
                "br" => brotli = Some(accepted),
                "gzip" | "x-gzip" => gzip = Some(accepted),
                "*" => any = Some(accepted),
                _ => {}
            }
        }
    }
    let takes = |explicit: Option<bool>| explicit.or(any).unwrap_or(false);
    if asset.br.is_some() && takes(brotli) {
        Encoding::Brotli
    } else if asset.gzip.is_some() && takes(gzip) {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Handler for `GET /static/{*path}`: the embedded file (at its plain or content-hashed
/// address), compressed when the browser takes it, `304 Not Modified` when the request's
/// `If-None-Match` names the representation's ETag, `404 Not Found` for an unknown path.
pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (asset, cache) = match get(&path) {
        Some(asset) => (asset, CACHE_PLAIN),
        None => match get_hashed(&path) {
            Some(asset) => (asset, CACHE_HASHED),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    [(
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    )],
                    "Risorsa non trovata",
                )
                    .into_response();
            }
        },
    };

    let encoding = negotiate(&headers, asset);
    let (body, coding, etag) = match (encoding, asset.br, asset.gzip) {
        (Encoding::Brotli, Some(br), _) => (br, Some("br"), variant_etag(asset.etag, "br")),
        (Encoding::Gzip, _, Some(gz)) => (gz, Some("gzip"), variant_etag(asset.etag, "gz")),
        _ => (asset.bytes, None, HeaderValue::from_static(asset.etag)),
    };

    let mut response_headers = HeaderMap::new();
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response_headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if asset.br.is_some() || asset.gzip.is_some() {
        response_headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }

    let not_modified = etag.to_str().is_ok_and(|etag| {
        headers
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| if_none_match_matches(v, etag))
    });
    response_headers.insert(ETAG, etag);
    if not_modified {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }

    response_headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if let Some(coding) = coding {
        response_headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    (StatusCode::OK, response_headers, Body::from(body)).into_response()
}

/// The entity tag of a compressed copy: another representation, so another tag
/// (`"0123456789abcdef"` → `"0123456789abcdef-br"`).
fn variant_etag(etag: &str, suffix: &str) -> HeaderValue {
    let opaque = etag.trim_matches('"');
    HeaderValue::from_str(&format!("\"{opaque}-{suffix}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
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
    use sha2::{Digest, Sha256};

    async fn request(path: &str, if_none_match: Option<&str>) -> Response {
        request_encoded(path, if_none_match, None).await
    }

    async fn request_encoded(
        path: &str,
        if_none_match: Option<&str>,
        accept_encoding: Option<&str>,
    ) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(tag) = if_none_match {
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(tag).unwrap());
        }
        if let Some(accept) = accept_encoding {
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
        }
        serve(Path(path.to_owned()), headers).await
    }

    fn header<'a>(response: &'a Response, name: &str) -> &'a str {
        response.headers().get(name).unwrap().to_str().unwrap()
    }

    fn manifest_dir() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        assert!(FILES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(HASHED.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(FILES.len(), HASHED.len());
        for (path, asset) in FILES {
            assert_eq!(
                get_hashed(asset.url.strip_prefix("/static/").unwrap()),
                Some(*asset)
            );
            assert_ne!(asset.url, format!("/static/{path}"));
        }
    }

    #[test]
    fn known_paths_have_the_right_content_type() {
        let expected = [
            (
                "bootstrap-italia/css/bootstrap-italia.min.css",
                "text/css; charset=utf-8",
            ),
            ("bootstrap-italia/fonts.css", "text/css; charset=utf-8"),
            ("bootstrap-italia/svg/sprites.svg", "image/svg+xml"),
            (
                "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-regular.woff2",
                "font/woff2",
            ),
            ("htmx.min.js", "text/javascript; charset=utf-8"),
            ("refettorio.css", "text/css; charset=utf-8"),
            ("refettorio.js", "text/javascript; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
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
        // Bootstrap Italia's JavaScript is not served: no page uses it.
        assert!(paths().all(|p| !p.starts_with("bootstrap-italia/js/")));
    }

    #[test]
    fn url_is_the_content_hashed_address() {
        let asset = get("refettorio.css").unwrap();
        let linked = url("refettorio.css");
        assert_eq!(linked, asset.url);
        let hash = asset.etag.trim_matches('"');
        assert_eq!(linked, format!("/static/refettorio.{hash}.css"));
        assert_eq!(url("nope.css"), "/static/nope.css");
    }

    /// Every icon a template names is in the sprite, which holds little else.
    #[test]
    fn sprite_has_the_icons_templates_use() {
        let sprite =
            std::str::from_utf8(get("bootstrap-italia/svg/sprites.svg").unwrap().bytes).unwrap();
        let mut icons = vec!["it-user".to_owned(), "it-calendar".to_owned()];
        let mut dirs = vec![manifest_dir().join("templates")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split("sprites.svg\") }}#").skip(1) {
                    let name: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    icons.push(name);
                }
            }
        }
        assert!(icons.len() > 2, "no template names an icon");
        for icon in icons {
            assert!(sprite.contains(&format!("id=\"{icon}\"")), "{icon}");
        }
        assert!(sprite.starts_with("<svg") && sprite.ends_with("</svg>"));
        assert!(sprite.len() < 30_000, "sprite of {} bytes", sprite.len());
    }

    /// fonts.css declares every embedded woff2 once, at its content-hashed address.
    #[test]
    fn fonts_css_declares_every_embedded_font() {
        let css = std::str::from_utf8(get("bootstrap-italia/fonts.css").unwrap().bytes).unwrap();
        let mut declared = Vec::new();
        for piece in css.split("src:url(").skip(1) {
            let (url, _) = piece.split_once(')').unwrap();
            let asset = get_hashed(url.strip_prefix("/static/").unwrap())
                .unwrap_or_else(|| panic!("{url} is not served"));
            assert_eq!(asset.content_type, "font/woff2");
            declared.push(url.to_owned());
        }
        let embedded: Vec<_> = FILES
            .iter()
            .filter(|(p, _)| p.ends_with(".woff2"))
            .map(|(_, a)| a.url.to_owned())
            .collect();
        assert_eq!(declared.len(), embedded.len());
        for url in embedded {
            assert!(declared.contains(&url), "{url} is not declared");
        }
        for face in [
            "font-family:'Titillium Web';font-style:normal;font-weight:400;",
            "font-family:'Titillium Web';font-style:italic;font-weight:600;",
            "font-family:'Lora';font-style:normal;font-weight:700;",
            "font-family:'Roboto Mono';font-style:normal;font-weight:400;",
        ] {
            assert!(css.contains(face), "{face}");
        }
    }

    /// The vendored files are the pinned npm packages' own: each file's SHA-256 is the one
    /// `refresh-vendor.sh` recorded from the package tarball, and that tarball's integrity
    /// (recorded beside them) is the one package-lock.json pins.
    #[test]
    fn vendored_files_match_the_pinned_packages() {
        let assets = manifest_dir().join("assets");
        let sums = std::fs::read_to_string(assets.join("vendor/SHA256SUMS")).unwrap();
        let lock = std::fs::read_to_string(assets.join("package-lock.json")).unwrap();
        let lock: serde_json::Value = serde_json::from_str(&lock).unwrap();
        let mut packages = 0;
        let mut files = 0;
        for line in sums.lines() {
            if let Some(rest) = line.strip_prefix("# package ") {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let [name, version, integrity] = words[..] else {
                    panic!("bad line {line}")
                };
                let locked = &lock["packages"][format!("node_modules/{name}")];
                assert_eq!(locked["version"], version, "{name}");
                assert_eq!(locked["integrity"], integrity, "{name}");
                packages += 1;
            } else if !line.starts_with('#') {
                let (sum, rel) = line.split_once("  ").unwrap();
                let bytes = std::fs::read(assets.join("vendor").join(rel)).unwrap();
                let actual: String = Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(actual, sum, "{rel} differs from the pinned package's file");
                files += 1;
            }
        }
        assert_eq!(packages, 2);
        // Every vendored file is listed (SHA256SUMS itself aside).
        let mut on_disk = 0;
        let mut dirs = vec![assets.join("vendor")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if !path.ends_with("SHA256SUMS") {
                    on_disk += 1;
                }
            }
        }
        assert_eq!(files, on_disk);
        assert_eq!(
            BOOTSTRAP_ITALIA_VERSION,
            lock["packages"]["node_modules/bootstrap-italia"]["version"]
        );
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
        assert_eq!(header(&response, "vary"), "accept-encoding");
        assert!(response.headers().get("content-encoding").is_none());
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], asset.bytes);
    }

    #[tokio::test]
    async fn hashed_address_is_cached_a_year() {
        let asset = get("bootstrap-italia/css/bootstrap-italia.min.css").unwrap();
        let path = asset.url.strip_prefix("/static/").unwrap();
        let response = request(path, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], asset.bytes);
        // A stale hash is not served.
        let stale = path.replace(asset.etag.trim_matches('"'), "0000000000000000");
        assert_eq!(request(&stale, None).await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn compressed_copies_follow_accept_encoding() {
        let asset = get("bootstrap-italia/css/bootstrap-italia.min.css").unwrap();
        let br = asset.br.unwrap();
        let gzip = asset.gzip.unwrap();
        assert!(
            br.len() * 5 < asset.bytes.len(),
            "brotli {} bytes",
            br.len()
        );
        assert!(
            gzip.len() * 4 < asset.bytes.len(),
            "gzip {} bytes",
            gzip.len()
        );
        let path = "bootstrap-italia/css/bootstrap-italia.min.css";
        for (accept, coding, body) in [
            (Some("gzip, deflate, br, zstd"), Some("br"), br),
            (Some("br;q=1.0, gzip;q=0.8"), Some("br"), br),
            (Some("gzip"), Some("gzip"), gzip),
            (Some("br;q=0, gzip"), Some("gzip"), gzip),
            (Some("*"), Some("br"), br),
            (Some("*, br;q=0"), Some("gzip"), gzip),
            (Some("identity"), None, asset.bytes),
            (Some("br;q=0, gzip;q=0"), None, asset.bytes),
            (None, None, asset.bytes),
        ] {
            let response = request_encoded(path, None, accept).await;
            assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
            assert_eq!(
                response
                    .headers()
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap()),
                coding,
                "{accept:?}"
            );
            assert_eq!(header(&response, "vary"), "accept-encoding");
            let etag = header(&response, "etag").to_owned();
            let got = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(&got[..], body, "{accept:?}");
            // Each representation has its own tag, and revalidates against it.
            let again = request_encoded(path, Some(&etag), accept).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{accept:?}");
        }
        // Fonts are compressed already: served as they are.
        let font =
            "bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-regular.woff2";
        let response = request_encoded(font, None, Some("br, gzip")).await;
        assert!(response.headers().get("content-encoding").is_none());
        assert!(response.headers().get("vary").is_none());
    }

    #[tokio::test]
    async fn unknown_path_is_404() {
        for path in [
            "nope.css",
            "bootstrap-italia/",
            "",
            "../Cargo.toml",
            "bootstrap-italia/dist/css",
            "bootstrap-italia/js/bootstrap-italia.bundle.min.js",
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
