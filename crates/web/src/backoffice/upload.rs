//! Reading a back-office upload (`multipart/form-data`): the text fields, and one file read
//! no further than a limit, so a file over it gets the page's Italian message instead of a
//! bare error.

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};

use crate::AppState;

/// A form posted with one file.
#[derive(Debug, Default)]
pub(crate) struct Uploaded {
    /// The text fields by name (the last value of a repeated name).
    pub fields: HashMap<String, String>,
    /// The name the browser gave the file ("" when none was chosen).
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// The file was larger than the limit: `bytes` is empty.
    pub too_large: bool,
}

impl Uploaded {
    pub fn field(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}

/// Why an upload could not be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Not a multipart body, or a broken one.
    NotMultipart,
    /// The body went over the route's limit.
    TooLarge,
}

/// Reads a multipart form whose file is the field `file_field`, keeping at most `max` bytes
/// of it.
pub(crate) async fn read(
    state: &AppState,
    req: Request,
    file_field: &str,
    max: usize,
) -> Result<Uploaded, Unreadable> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        return Err(Unreadable::NotMultipart);
    }
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|_| Unreadable::NotMultipart)?;
    let refused = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Unreadable::TooLarge
        } else {
            Unreadable::NotMultipart
        }
    };
    let mut up = Uploaded::default();
    while let Some(mut field) = mp.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or("").to_string();
        if name == file_field {
            up.file_name = field.file_name().unwrap_or("").to_string();
            while let Some(chunk) = field.chunk().await.map_err(refused)? {
                if up.too_large || up.bytes.len() + chunk.len() > max {
                    up.too_large = true;
                    up.bytes = Vec::new();
                    continue;
                }
                up.bytes.extend_from_slice(&chunk);
            }
        } else {
            let value = field.text().await.map_err(refused)?;
            up.fields.insert(name, value);
        }
    }
    Ok(up)
}
