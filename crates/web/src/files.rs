//! Files as downloads: private, uncached, with a safe name.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use refettorio_app::content::DocumentInfo;

/// A file as a download.
pub(crate) fn download(info: &DocumentInfo, bytes: Vec<u8>) -> Response {
    attachment(bytes, &info.content_type, &info.file_name)
}

/// Bytes as a private, uncached download named `file_name`.
pub(crate) fn attachment(bytes: Vec<u8>, content_type: &str, file_name: &str) -> Response {
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file_name.replace(['"', '\\', '\r', '\n'], "_")
    );
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}
