//! The SOAP codec of the municipality's pagoPA station (`paForNode`, SANP 3.x), both directions.
//!
//! Pure functions, no IO: bytes in, typed values out; typed values in, XML text out. The station
//! reads the node's requests with [`parse_request`] and answers with `render_*`; the sandbox and
//! the benchmark play the node with [`render_verify_request`] & co. and [`parse_response`].
//!
//! The messages follow the official schemas (`paForNode.wsdl`, `paForNode.xsd`,
//! `sac-common-types-1.0.xsd`): SOAP 1.1, the operation element in the [`PAFN_NS`] namespace (any
//! prefix, declared anywhere above it), its children **unqualified**, in the order of the XSD.
//!
//! Reading follows the XSD, which has no extension points in these types:
//! - not UTF-8, not well-formed, a DTD, a SOAP envelope other than 1.1, an unknown operation,
//!   a missing, unexpected or misplaced element, a value outside its type (lengths, patterns,
//!   amounts with exactly two decimals, dates, booleans, at most 5 transfers and 15 metadata
//!   entries) → [`FaultCode::SintassiExtraxsd`];
//! - values that are valid one by one but do not add up (the transfers' sum differs from the
//!   payment amount, an `idTransfer` used twice, an empty `receiptId`, an `OK` response without
//!   its data, a `KO` without its fault) → [`FaultCode::Semantica`].
//!
//! Whitespace follows the XSD: string types keep it as sent, decimals, dates, booleans and
//! integers ignore it around the value.
//!
//! Writing guarantees a message the XSD accepts, or a [`RenderError`] naming the field. The
//! station's own answers are also checked for coherence (transfers adding up); the node-side
//! requests are not, so that the sandbox can send a receipt that does not add up and see the
//! station answer `PAA_SEMANTICA`. V1 messages have no place for the fields that only V2 has
//! (marked "V2 only" below): V1 renderers leave them out.
//!
//! The code is split by step: [`types`] (the messages), `xsd` (the simple types, shared),
//! `tree` and `read` (reading), `write` (writing).

mod read;
mod tree;
pub mod types;
mod write;
mod xsd;

pub use read::{parse_request, parse_response};
pub use types::*;
pub use write::{
    render_fault, render_get_payment_ok, render_get_payment_request, render_send_rt_ok,
    render_send_rt_request, render_soap_fault, render_verify_ok, render_verify_request,
};
pub use xsd::{format_amount, parse_amount};
