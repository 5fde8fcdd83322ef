//! pagoPA, the national payment platform: the municipality's station (`paForNode`), which the
//! pagoPA node calls to verify a notice, get its payment data and deliver the receipt.
//!
//! - [`soap`]: the pure SOAP codec of the station's messages, both directions (the station reads
//!   requests and writes responses; the sandbox and the benchmark play the node with the same
//!   functions).

pub mod soap;
