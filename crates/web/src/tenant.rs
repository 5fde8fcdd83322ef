//! Which municipality a request is for: the `/t/<slug>/` prefix, or the host
//! `<slug>.<base domain>` (rewritten to the prefix before routing, so there is one route tree).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use refettorio_app::Tenant;

use crate::{AppState, WebError};

/// The tenant of the request, put in the request's extensions by [`resolve`].
#[derive(Clone)]
pub struct CurrentTenant(pub Arc<Tenant>);

pub(crate) async fn resolve(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    mut req: Request,
    next: Next,
) -> Response {
    let slug = params
        .iter()
        .find(|(k, _)| k == "slug")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let found = refettorio_app::tenant::by_slug(state.installation(), slug).await;
    match found {
        Ok(Some(t)) => {
            req.extensions_mut().insert(CurrentTenant(Arc::new(t)));
            next.run(req).await
        }
        Ok(None) => WebError::NotFound(format!(
            "Nessun Comune con l'indirizzo «{slug}» su questo servizio."
        ))
        .into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// Rewrites `https://<slug>.<base_domain>/path` to `/t/<slug>/path`. Paths shared by the
/// installation (`/static`, `/health`, `/metrics`) and paths already prefixed are left alone.
pub fn host_to_path<B>(
    base_domain: Option<&str>,
    mut req: axum::http::Request<B>,
) -> axum::http::Request<B> {
    let Some(base) = base_domain else { return req };
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
    let Some(host) = host else { return req };
    let Some(slug) = host.strip_suffix(base).and_then(|s| s.strip_suffix('.')) else {
        return req;
    };
    if slug.is_empty() || slug.contains('.') {
        return req;
    }
    let path = req.uri().path();
    let shared = ["/static/", "/health", "/metrics", "/t/", "/accessibilita"];
    if shared.iter().any(|p| path.starts_with(p)) {
        return req;
    }
    let rewritten = match req.uri().query() {
        Some(q) => format!("/t/{slug}{path}?{q}"),
        None => format!("/t/{slug}{path}"),
    };
    if let Ok(uri) = rewritten.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    req
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(host: &str, path: &str) -> axum::http::Request<()> {
        axum::http::Request::builder()
            .uri(path)
            .header("host", host)
            .body(())
            .unwrap()
    }

    #[test]
    fn a_subdomain_becomes_the_prefix() {
        let base = Some("refettorio.example.it");
        assert_eq!(
            host_to_path(base, req("esempio.refettorio.example.it", "/accedi?x=1")).uri(),
            "/t/esempio/accedi?x=1"
        );
        assert_eq!(
            host_to_path(base, req("Esempio.refettorio.example.it:8080", "/")).uri(),
            "/t/esempio/"
        );
        assert_eq!(
            host_to_path(base, req("esempio.refettorio.example.it", "/static/x.css")).uri(),
            "/static/x.css"
        );
        assert_eq!(
            host_to_path(base, req("refettorio.example.it", "/")).uri(),
            "/"
        );
        assert_eq!(
            host_to_path(base, req("a.b.refettorio.example.it", "/")).uri(),
            "/"
        );
        assert_eq!(
            host_to_path(base, req("evil-refettorio.example.it", "/")).uri(),
            "/"
        );
        assert_eq!(
            host_to_path(None, req("esempio.refettorio.example.it", "/")).uri(),
            "/"
        );
    }
}
