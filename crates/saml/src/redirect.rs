//! The HTTP-Redirect binding: a message deflated, base64'd and carried in the URL, with the
//! query string `SAMLRequest|SAMLResponse=…&RelayState=…&SigAlg=…` signed as written and the
//! `Signature` appended.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::dsig::{PublicKey, RSA_SHA256, SigningKey};
use crate::{Error, Result};

/// The largest inflated message accepted (real ones are under 2 KiB).
pub const MAX_MESSAGE_BYTES: u64 = 64 * 1024;

/// `destination` with the signed message `xml` as `parameter` (`SAMLRequest` or
/// `SAMLResponse`).
pub fn encode(
    destination: &str,
    parameter: &str,
    xml: &str,
    relay_state: &str,
    key: &SigningKey,
) -> Result<String> {
    let mut deflate =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflate
        .write_all(xml.as_bytes())
        .map_err(|e| Error::Xml(format!("deflate: {e}")))?;
    let deflated = deflate
        .finish()
        .map_err(|e| Error::Xml(format!("deflate: {e}")))?;
    let mut signed = form_urlencoded::Serializer::new(String::new());
    signed.append_pair(parameter, &STANDARD.encode(deflated));
    if !relay_state.is_empty() {
        signed.append_pair("RelayState", relay_state);
    }
    let signed = signed.append_pair("SigAlg", RSA_SHA256).finish();
    let signature = STANDARD.encode(key.sign(signed.as_bytes())?);
    let query = form_urlencoded::Serializer::new(signed)
        .append_pair("Signature", &signature)
        .finish();
    let sep = if destination.contains('?') { '&' } else { '?' };
    Ok(format!("{destination}{sep}{query}"))
}

/// A message received in the binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `SAMLRequest` or `SAMLResponse`.
    pub parameter: String,
    pub xml: String,
    pub relay_state: String,
}

/// Reads a message from the raw query string, checking its signature with one of `keys` over
/// exactly the bytes sent before `&Signature=`.
pub fn decode(query: &str, keys: &[PublicKey]) -> Result<Received> {
    let (signed, signature) = query
        .rsplit_once("&Signature=")
        .ok_or_else(|| Error::Signature("the message is not signed".into()))?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let signature = form_urlencoded::parse(format!("s={signature}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let signature = STANDARD
        .decode(signature.trim())
        .map_err(|_| Error::Signature("invalid base64".into()))?;
    let algorithm = get("SigAlg").unwrap_or("");
    if !keys
        .iter()
        .any(|k| k.verifies(algorithm, signed.as_bytes(), &signature))
    {
        return Err(Error::Signature(
            "the message's signature does not verify".into(),
        ));
    }
    let (parameter, value) = ["SAMLRequest", "SAMLResponse"]
        .into_iter()
        .find_map(|p| get(p).map(|v| (p, v)))
        .ok_or_else(|| Error::Xml("no SAML message".into()))?;
    let deflated = STANDARD
        .decode(value)
        .map_err(|_| Error::Xml("the message is not base64".into()))?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(MAX_MESSAGE_BYTES)
        .read_to_string(&mut xml)
        .map_err(|e| Error::Xml(format!("inflate: {e}")))?;
    Ok(Received {
        parameter: parameter.to_string(),
        xml,
        relay_state: get("RelayState").unwrap_or("").to_string(),
    })
}
