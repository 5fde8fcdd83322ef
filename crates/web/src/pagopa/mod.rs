//! pagoPA, the national payment platform.
//!
//! The pure SOAP codec of the station's messages, both directions, is the `refettorio-pagopa`
//! crate (the station reads requests and writes responses; the sandbox and the benchmark play
//! the node with the same functions).
//! - [`station`]: `POST /pagopa/paForNode`, the municipality's station, which the pagoPA node
//!   calls to verify a notice, get its payment data and deliver the receipt.
//! - [`caller`]: who may call the station (only the node; the local sandbox in sandbox mode).
//! - [`checkout`]: the cart sent to pagoPA Checkout when a family pays online.
//! - [`sandbox`]: a local stand-in for Checkout that plays the node against our own station
//!   (sandbox mode only).

pub mod caller;
pub mod checkout;
pub mod sandbox;
pub mod station;
