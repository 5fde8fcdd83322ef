//! `Cache-Control` of the pages: nothing but the static files may be kept.
//!
//! Every page is rendered for its request: the personal area shows a family's children and
//! balance, the back office the registry, and even a public page names the logged-in user and
//! carries a form's CSRF token. At the municipal help desk several families use one PC: after
//! *Esci*, the browser's Back must not show the last family's page again from its cache. So
//! every answer except `/static/` files says `Cache-Control: no-store` (which also keeps such
//! pages out of the back/forward cache), unless its handler chose its own (the activation code's
//! page, the personal area's documents: `private, no-store`).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::middleware::Next;
use axum::response::Response;

/// Paths whose answers choose their own caching (the embedded files: `crate::assets`).
const CACHEABLE_PREFIX: &str = "/static/";

/// Middleware: `Cache-Control: no-store` on every answer outside `/static/` that has none.
pub(crate) async fn no_store(req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with(CACHEABLE_PREFIX);
    let mut response = next.run(req).await;
    if !cacheable && !response.headers().contains_key(CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route("/t/esempio/area-personale", get(|| async { "saldo" }))
            .route(
                "/documento",
                get(|| async { ([(CACHE_CONTROL, "private, no-store")], "pdf") }),
            )
            .route("/static/{*path}", get(crate::assets::serve))
            .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "nessuna") })
            .layer(axum::middleware::from_fn(no_store))
    }

    async fn cache_control(path: &str) -> Option<String> {
        let response = app()
            .oneshot(axum::http::Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        response
            .headers()
            .get(CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn pages_are_not_stored_files_keep_their_cache() {
        assert_eq!(
            cache_control("/t/esempio/area-personale").await.as_deref(),
            Some("no-store")
        );
        // Unknown pages (the fallback) too.
        assert_eq!(cache_control("/nessuna").await.as_deref(), Some("no-store"));
        assert_eq!(
            cache_control("/documento").await.as_deref(),
            Some("private, no-store")
        );
        assert_eq!(
            cache_control("/static/refettorio.css").await.as_deref(),
            Some("public, max-age=3600")
        );
    }
}
