//! Transitional: the concepts that lived here have their own modules now ([`crate::booking`],
//! [`crate::close`], [`crate::attendance`], [`crate::ledger`], [`crate::kitchen`],
//! [`crate::outbox`], [`crate::audit`]). These re-exports keep the callers of other branches
//! compiling until they are merged; remove this module once nothing names `meals::`.

pub use crate::audit::audit;
pub use crate::booking::*;
pub use crate::close::*;
pub use crate::kitchen::*;
pub use crate::ledger::*;
pub use crate::outbox::{NewMessage, OutboxMessage, enqueue, enqueue_many, outbox, outbox_backlog};
