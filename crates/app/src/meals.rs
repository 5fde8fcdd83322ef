//! Transitional: the canteen's day lives in its concepts' modules now ([`crate::booking`],
//! [`crate::close`], [`crate::closure`], [`crate::attendance`], [`crate::kitchen`]). These
//! re-exports keep other branches' callers compiling until they are merged; remove this module
//! once nothing names `meals::`.

pub use crate::attendance::{Correction, correct_attendance};
pub use crate::booking::change_meals;
pub use crate::close::{
    CanteenDay, CloseOutcome, canteen_day, check_closable, close, close_day, warn_low_balances,
    warn_pending,
};
pub use crate::closure::{ClosureOutcome, add_closure};
pub use crate::kitchen::{ClassCounts, Counts, KitchenNumbers, SchoolCounts, kitchen_numbers};
