//! The prepaid account's ledger: append-only entries whose sum is the balance.

use crate::money::Cents;
use crate::registry::registry_enum;

registry_enum!(
    /// Kinds of ledger entries. Credits are positive, debits negative.
    EntryKind {
        Recharge => "recharge", "Ricarica",
        MealCharge => "meal_charge", "Pasto",
        Reversal => "reversal", "Storno",
        Adjustment => "adjustment", "Rettifica",
        Refund => "refund", "Rimborso",
        Transfer => "transfer", "Giroconto",
        CarryOver => "carry_over", "Riporto anno precedente",
    }
);

/// The balance of an account: the sum of its entries (`None` on overflow).
pub fn balance<I: IntoIterator<Item = Cents>>(amounts: I) -> Option<Cents> {
    Cents::checked_sum(amounts)
}

/// How many meals at `price` the balance still pays for (0 when empty or negative; all of them
/// when meals are free).
pub fn meals_left(balance: Cents, price: Cents) -> i64 {
    if balance.get() <= 0 {
        return 0;
    }
    if price.get() <= 0 {
        return i64::MAX;
    }
    balance.get() / price.get()
}

/// Whether a payer should be warned: the balance pays for fewer than `threshold_meals` days of
/// the family's meals (`daily_cost`, the sum of its children's meal prices).
pub fn is_low(balance: Cents, daily_cost: Cents, threshold_meals: u32) -> bool {
    if balance.is_negative() {
        return true;
    }
    match daily_cost.checked_mul(i64::from(threshold_meals)) {
        Some(limit) => balance < limit,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn meals_left_and_low_balance() {
        assert_eq!(meals_left(Cents(1000), Cents(450)), 2);
        assert_eq!(meals_left(Cents(-10), Cents(450)), 0);
        assert_eq!(meals_left(Cents(10), Cents(0)), i64::MAX);
        assert!(is_low(Cents(1349), Cents(450), 3));
        assert!(!is_low(Cents(1350), Cents(450), 3));
        assert!(is_low(Cents(-1), Cents(0), 3));
        assert!(!is_low(Cents(0), Cents(0), 3));
        assert_eq!(EntryKind::MealCharge.as_str(), "meal_charge");
        assert_eq!(EntryKind::parse("carry_over"), Some(EntryKind::CarryOver));
    }

    proptest! {
        #[test]
        fn balance_is_order_independent(v in proptest::collection::vec(-1_000_000i64..1_000_000, 0..200)) {
            let fwd = balance(v.iter().copied().map(Cents));
            let rev = balance(v.iter().rev().copied().map(Cents));
            prop_assert_eq!(fwd, rev);
            prop_assert_eq!(fwd, Some(Cents(v.iter().sum())));
        }
    }
}
