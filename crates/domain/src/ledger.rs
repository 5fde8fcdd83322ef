//! The prepaid account's ledger: append-only entries whose sum is the balance.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;

use crate::codice_fiscale::CodiceFiscale;
use crate::ids::{AccountId, EnrolmentId, ServiceId};
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

/// Which way a transfer's entry moves credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Out,
    In,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Out => "out",
            Side::In => "in",
        }
    }
}

/// The office's change of balance by hand that a [`Key::Office`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfficeChange {
    Adjustment,
    Refund,
}

impl OfficeChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OfficeChange::Adjustment => "adjustment",
            OfficeChange::Refund => "refund",
        }
    }
}

/// The idempotency key of a ledger entry: the event the entry records, unique per tenant, so
/// writing the same event twice writes one entry. Every path that writes an entry builds its
/// key here; `Display` gives the stored text (the format existing data has) and `FromStr` reads
/// it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// The close's charge of a meal: `meal:<day>:<enrolment>` (built in SQL by the close as
    /// well; a test checks both agree).
    Meal { day: Date, enrolment: EnrolmentId },
    /// A meal charged again by a canteen-staff correction, after `charges` earlier charges of
    /// the day: `meal:<day>:<enrolment>:<charges>`.
    MealAgain {
        day: Date,
        enrolment: EnrolmentId,
        charges: u32,
    },
    /// The reversal of entry `entry` (a closure after the close, a correction):
    /// `reversal:<entry id>` (built in SQL).
    Reversal { entry: i64 },
    /// A pagoPA receipt: `pagopa:rt:<receipt id>`.
    PagoPaReceipt { receipt_id: String },
    /// A payment the office recorded by its reference: `office:payment:<reference>`.
    OfficePayment { reference: String },
    /// An adjustment or refund by the office's form: `office:<kind>:<account>:<form token>`.
    Office {
        change: OfficeChange,
        account: AccountId,
        token: String,
    },
    /// One side of a transfer between accounts by the office's form:
    /// `office:transfer:<from account>:<form token>:out|in`.
    Transfer {
        from: AccountId,
        token: String,
        side: Side,
    },
    /// The demo's credit of last year: `demo:carry-over:<account>`.
    DemoCarryOver { account: AccountId },
    /// The opening balance of an import, once per payer and service:
    /// `import:balance:<payer fiscal code>:<service>`.
    ImportBalance {
        payer: CodiceFiscale,
        service: ServiceId,
    },
    /// The benchmark's synthetic credit of last year: `carry-over:<account>` (built in SQL).
    SyntheticCarryOver { account: AccountId },
}

impl Key {
    /// The prefix shared by every opening-balance key of imports.
    pub const IMPORT_BALANCE_PREFIX: &'static str = "import:balance:";
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Meal { day, enrolment } => write!(f, "meal:{day}:{}", enrolment.get()),
            Key::MealAgain {
                day,
                enrolment,
                charges,
            } => write!(f, "meal:{day}:{}:{charges}", enrolment.get()),
            Key::Reversal { entry } => write!(f, "reversal:{entry}"),
            Key::PagoPaReceipt { receipt_id } => write!(f, "pagopa:rt:{receipt_id}"),
            Key::OfficePayment { reference } => write!(f, "office:payment:{reference}"),
            Key::Office {
                change,
                account,
                token,
            } => write!(f, "office:{}:{}:{token}", change.as_str(), account.get()),
            Key::Transfer { from, token, side } => {
                write!(
                    f,
                    "office:transfer:{}:{token}:{}",
                    from.get(),
                    side.as_str()
                )
            }
            Key::DemoCarryOver { account } => write!(f, "demo:carry-over:{}", account.get()),
            Key::ImportBalance { payer, service } => {
                write!(
                    f,
                    "{}{}:{}",
                    Key::IMPORT_BALANCE_PREFIX,
                    payer.as_str(),
                    service.get()
                )
            }
            Key::SyntheticCarryOver { account } => write!(f, "carry-over:{}", account.get()),
        }
    }
}

/// A stored text that is no ledger key of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a ledger key: {0}")]
pub struct UnknownKey(pub String);

fn id(s: &str) -> Option<i64> {
    // Only the canonical form (what `Display` writes), so parsing never accepts a second
    // spelling of a key.
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

/// A token of a form: no ':' (the key's separator), not empty.
fn token(s: &str) -> Option<String> {
    (!s.is_empty() && !s.contains(':')).then(|| s.to_string())
}

impl FromStr for Key {
    type Err = UnknownKey;

    fn from_str(s: &str) -> Result<Key, UnknownKey> {
        parse_key(s).ok_or_else(|| UnknownKey(s.to_string()))
    }
}

fn parse_key(s: &str) -> Option<Key> {
    let (head, rest) = s.split_once(':')?;
    match head {
        "meal" => {
            let parts: Vec<&str> = rest.split(':').collect();
            let day: Date = parts.first()?.parse().ok()?;
            if day.to_string() != *parts.first()? {
                return None;
            }
            let enrolment = EnrolmentId(id(parts.get(1)?)?);
            match parts.len() {
                2 => Some(Key::Meal { day, enrolment }),
                3 => {
                    let charges: u32 = parts[2].parse().ok()?;
                    (charges.to_string() == parts[2]).then_some(Key::MealAgain {
                        day,
                        enrolment,
                        charges,
                    })
                }
                _ => None,
            }
        }
        "reversal" => Some(Key::Reversal { entry: id(rest)? }),
        "pagopa" => Some(Key::PagoPaReceipt {
            receipt_id: rest.strip_prefix("rt:")?.to_string(),
        }),
        "office" => {
            let (what, rest) = rest.split_once(':')?;
            match what {
                "payment" => Some(Key::OfficePayment {
                    reference: rest.to_string(),
                }),
                "transfer" => {
                    let (from, rest) = rest.split_once(':')?;
                    let (tok, side) = rest.rsplit_once(':')?;
                    let side = match side {
                        "out" => Side::Out,
                        "in" => Side::In,
                        _ => return None,
                    };
                    Some(Key::Transfer {
                        from: AccountId(id(from)?),
                        token: token(tok)?,
                        side,
                    })
                }
                "adjustment" | "refund" => {
                    let change = if what == "refund" {
                        OfficeChange::Refund
                    } else {
                        OfficeChange::Adjustment
                    };
                    let (account, tok) = rest.split_once(':')?;
                    Some(Key::Office {
                        change,
                        account: AccountId(id(account)?),
                        token: token(tok)?,
                    })
                }
                _ => None,
            }
        }
        "demo" => Some(Key::DemoCarryOver {
            account: AccountId(id(rest.strip_prefix("carry-over:")?)?),
        }),
        "import" => {
            let (payer, service) = rest.strip_prefix("balance:")?.split_once(':')?;
            let payer = CodiceFiscale::parse(payer).ok()?;
            (payer.as_str() == s.split(':').nth(2)?).then_some(())?;
            Some(Key::ImportBalance {
                payer,
                service: ServiceId(id(service)?),
            })
        }
        "carry-over" => Some(Key::SyntheticCarryOver {
            account: AccountId(id(rest)?),
        }),
        _ => None,
    }
}

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

    #[test]
    fn keys_keep_their_stored_format() {
        let day: Date = "2026-09-14".parse().unwrap();
        let cf = CodiceFiscale::parse("RSSMRA85T10A562S").unwrap();
        let cases = [
            (
                Key::Meal {
                    day,
                    enrolment: EnrolmentId(7),
                },
                "meal:2026-09-14:7",
            ),
            (
                Key::MealAgain {
                    day,
                    enrolment: EnrolmentId(7),
                    charges: 1,
                },
                "meal:2026-09-14:7:1",
            ),
            (Key::Reversal { entry: 42 }, "reversal:42"),
            (
                Key::PagoPaReceipt {
                    receipt_id: "rt:a:b".into(),
                },
                "pagopa:rt:rt:a:b",
            ),
            (
                Key::OfficePayment {
                    reference: "BONIFICO 12".into(),
                },
                "office:payment:BONIFICO 12",
            ),
            (
                Key::Office {
                    change: OfficeChange::Refund,
                    account: AccountId(3),
                    token: "ab12".into(),
                },
                "office:refund:3:ab12",
            ),
            (
                Key::Transfer {
                    from: AccountId(3),
                    token: "ab12".into(),
                    side: Side::Out,
                },
                "office:transfer:3:ab12:out",
            ),
            (
                Key::DemoCarryOver {
                    account: AccountId(9),
                },
                "demo:carry-over:9",
            ),
            (
                Key::ImportBalance {
                    payer: cf,
                    service: ServiceId(50),
                },
                "import:balance:RSSMRA85T10A562S:50",
            ),
            (
                Key::SyntheticCarryOver {
                    account: AccountId(9),
                },
                "carry-over:9",
            ),
        ];
        for (key, text) in cases {
            assert_eq!(key.to_string(), text);
            assert_eq!(text.parse::<Key>(), Ok(key));
        }
        for bad in [
            "",
            "meal",
            "meal:2026-9-14:7",
            "meal:2026-09-14:07",
            "meal:2026-09-14:7:1:2",
            "office:other:3:x",
            "office:refund:3:",
            "import:balance:rssmra85t10a562s:50",
            "recharge:1",
        ] {
            assert!(bad.parse::<Key>().is_err(), "{bad}");
        }
    }

    fn any_key() -> impl Strategy<Value = Key> {
        let day =
            (2000i16..2100, 1i8..=12, 1i8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap());
        let token = "[a-f0-9]{1,64}";
        let text = "[ -~]{0,40}";
        let cfs = prop::sample::select(vec![
            "RSSMRA85T10A562S",
            "RSSMRA85T10A56NH",
            "RSSMRA80A01H501U",
        ]);
        prop_oneof![
            (day.clone(), 0i64..i64::MAX).prop_map(|(day, e)| Key::Meal {
                day,
                enrolment: EnrolmentId(e)
            }),
            (day, 0i64..i64::MAX, any::<u32>()).prop_map(|(day, e, charges)| Key::MealAgain {
                day,
                enrolment: EnrolmentId(e),
                charges
            }),
            (0i64..i64::MAX).prop_map(|entry| Key::Reversal { entry }),
            text.prop_map(|receipt_id| Key::PagoPaReceipt { receipt_id }),
            text.prop_map(|reference| Key::OfficePayment { reference }),
            (any::<bool>(), 0i64..i64::MAX, token).prop_map(|(r, a, token)| Key::Office {
                change: if r {
                    OfficeChange::Refund
                } else {
                    OfficeChange::Adjustment
                },
                account: AccountId(a),
                token
            }),
            (0i64..i64::MAX, token, any::<bool>()).prop_map(|(a, token, out)| Key::Transfer {
                from: AccountId(a),
                token,
                side: if out { Side::Out } else { Side::In }
            }),
            (0i64..i64::MAX).prop_map(|a| Key::DemoCarryOver {
                account: AccountId(a)
            }),
            (cfs, 0i64..i64::MAX).prop_map(|(cf, s)| Key::ImportBalance {
                payer: CodiceFiscale::parse(cf).unwrap(),
                service: ServiceId(s)
            }),
            (0i64..i64::MAX).prop_map(|a| Key::SyntheticCarryOver {
                account: AccountId(a)
            }),
        ]
    }

    proptest! {
        #[test]
        fn keys_round_trip(key in any_key()) {
            let text = key.to_string();
            prop_assert_eq!(text.parse::<Key>(), Ok(key));
        }

        #[test]
        fn balance_is_order_independent(v in proptest::collection::vec(-1_000_000i64..1_000_000, 0..200)) {
            let fwd = balance(v.iter().copied().map(Cents));
            let rev = balance(v.iter().rev().copied().map(Cents));
            prop_assert_eq!(fwd, rev);
            prop_assert_eq!(fwd, Some(Cents(v.iter().sum())));
        }
    }
}
