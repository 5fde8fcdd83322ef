//! The fiscal code of a public body (Ente), 11 digits with a check digit
//! (the same algorithm as the partita IVA).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnteFiscalCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnteFiscalCodeError {
    #[error("Inserire il codice fiscale dell'ente")]
    Empty,
    #[error("Il codice fiscale dell'ente deve avere 11 cifre (ne ha {0})")]
    Length(usize),
    #[error("Il codice fiscale dell'ente deve contenere solo cifre")]
    NotDigits,
    #[error("La cifra di controllo del codice fiscale dell'ente non è corretta")]
    CheckDigit { expected: char, found: char },
}

/// Check digit over the first 10 digits (ASCII). `None` if any is not a digit.
fn check_digit(first10: &[u8]) -> Option<u8> {
    if first10.len() != 10 {
        return None;
    }
    let mut sum = 0u32;
    for (i, &c) in first10.iter().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = u32::from(c - b'0');
        sum += if i % 2 == 0 {
            d
        } else {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        };
    }
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

impl EnteFiscalCode {
    pub fn parse(s: &str) -> Result<Self, EnteFiscalCodeError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(EnteFiscalCodeError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EnteFiscalCodeError::NotDigits);
        }
        if s.len() != 11 {
            return Err(EnteFiscalCodeError::Length(s.len()));
        }
        let b = s.as_bytes();
        let expected = check_digit(&b[..10]).ok_or(EnteFiscalCodeError::NotDigits)?;
        if expected != b[10] {
            return Err(EnteFiscalCodeError::CheckDigit {
                expected: char::from(expected),
                found: char::from(b[10]),
            });
        }
        Ok(EnteFiscalCode(s.to_string()))
    }

    /// Appends the check digit to 10 digits (useful to generate valid codes).
    pub fn with_check_digit(first10: &str) -> Result<EnteFiscalCode, EnteFiscalCodeError> {
        let first10 = first10.trim();
        if first10.is_empty() {
            return Err(EnteFiscalCodeError::Empty);
        }
        if !first10.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EnteFiscalCodeError::NotDigits);
        }
        if first10.len() != 10 {
            return Err(EnteFiscalCodeError::Length(first10.len() + 1));
        }
        let c = check_digit(first10.as_bytes()).ok_or(EnteFiscalCodeError::NotDigits)?;
        let mut s = first10.to_string();
        s.push(char::from(c));
        Ok(EnteFiscalCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EnteFiscalCode {
    type Err = EnteFiscalCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnteFiscalCode::parse(s)
    }
}

impl fmt::Display for EnteFiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EnteFiscalCode {
    type Error = EnteFiscalCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EnteFiscalCode::parse(&s)
    }
}

impl From<EnteFiscalCode> for String {
    fn from(c: EnteFiscalCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_municipal_codes() {
        for s in ["01199250158", "02438750586", "00514490010"] {
            assert_eq!(
                EnteFiscalCode::parse(s).map(String::from),
                Ok(s.to_string())
            );
        }
        assert_eq!(
            EnteFiscalCode::parse(" 01199250158 ").map(String::from),
            Ok("01199250158".to_string())
        );
    }

    #[test]
    fn hand_computed_check_digit() {
        // 0045927012: odd positions 0+4+9+7+1 = 21; even 0,5,2,0,2 doubled 0+1+4+0+4 = 9;
        // sum 30 -> check 0.
        assert_eq!(
            EnteFiscalCode::with_check_digit("0045927012").map(String::from),
            Ok("00459270120".to_string())
        );
        assert!(EnteFiscalCode::parse("00459270120").is_ok());
        // 1234567890: odd 1+3+5+7+9 = 25; even 2,4,6,8,0 -> 4,8,3,7,0 = 22; 47 -> 3
        assert_eq!(
            EnteFiscalCode::with_check_digit("1234567890").map(String::from),
            Ok("12345678903".to_string())
        );
    }

    #[test]
    fn invalid_codes() {
        assert_eq!(
            EnteFiscalCode::parse("01199250159"),
            Err(EnteFiscalCodeError::CheckDigit {
                expected: '8',
                found: '9'
            })
        );
        assert_eq!(
            EnteFiscalCode::parse("0119925015"),
            Err(EnteFiscalCodeError::Length(10))
        );
        assert_eq!(
            EnteFiscalCode::parse("0119925015A"),
            Err(EnteFiscalCodeError::NotDigits)
        );
        assert_eq!(
            EnteFiscalCode::parse("IT01199250158"),
            Err(EnteFiscalCodeError::NotDigits)
        );
        assert_eq!(EnteFiscalCode::parse(""), Err(EnteFiscalCodeError::Empty));
        assert!(EnteFiscalCode::with_check_digit("123").is_err());
        assert_eq!(
            EnteFiscalCodeError::Length(10).to_string(),
            "Il codice fiscale dell'ente deve avere 11 cifre (ne ha 10)"
        );
    }

    #[test]
    fn serde() -> Result<(), serde_json::Error> {
        let c: EnteFiscalCode = serde_json::from_str("\"02438750586\"")?;
        assert_eq!(c.as_str(), "02438750586");
        assert_eq!(serde_json::to_string(&c)?, "\"02438750586\"");
        assert!(serde_json::from_str::<EnteFiscalCode>("\"02438750587\"").is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn generated_codes_parse_and_any_other_last_digit_fails(first in "[0-9]{10}", d in 0u8..10) {
            let code = EnteFiscalCode::with_check_digit(&first);
            prop_assert!(code.is_ok());
            let code = code.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(EnteFiscalCode::parse(code.as_str()), Ok(code.clone()));
            let wrong = format!("{first}{d}");
            if wrong != code.as_str() {
                prop_assert!(EnteFiscalCode::parse(&wrong).is_err());
            }
        }
    }
}
