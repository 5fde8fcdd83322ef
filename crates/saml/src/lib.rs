//! SAML 2.0 as SPID and CIE use it (issue 16; the plan is `docs/spid-plan.md`).
//!
//! - [`xml`]: the hardened parse (no DTD, a node limit) and exclusive XML canonicalization
//!   (W3C xml-exc-c14n, without comments) of an element, leaving one descendant out;
//! - [`dsig`]: enveloped XML signatures in the profile SPID allows (RSA with SHA-256/384/512,
//!   exclusive canonicalization, one reference to the signed element's `ID`): signing what we
//!   write (metadata, requests) and verifying what identity providers send, on the same tree
//!   the caller then reads, so that what is verified is what is read (no signature wrapping).
//!
//! The crate does no IO and knows nothing of municipalities or sessions.

pub mod authn;
pub mod cert;
pub mod dsig;
pub mod idp;
pub mod logout;
pub mod redirect;
pub mod response;
pub mod sandbox;
pub mod sp;
pub mod spid;
pub mod xml;

/// Why a SAML message or signature is refused. The text is for logs and the office, in
/// English; the person sees an Italian page chosen by the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("key: {0}")]
    Key(String),
}

pub type Result<T> = std::result::Result<T, Error>;
