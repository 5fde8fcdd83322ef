//! A tenant's short name used in its subdomain and URLs (e.g. `comune-di-esempio`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("Il nome breve deve avere da 2 a 40 caratteri (ne ha {0})")]
    Length(usize),
    #[error("Il nome breve può contenere solo lettere minuscole senza accenti, cifre e trattini")]
    Chars,
    #[error("Il nome breve non può iniziare o finire con un trattino né contenerne due di seguito")]
    Hyphens,
}

impl Slug {
    pub const MIN_LEN: usize = 2;
    pub const MAX_LEN: usize = 40;

    pub fn parse(s: &str) -> Result<Slug, SlugError> {
        let len = s.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(SlugError::Length(len));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SlugError::Chars);
        }
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(SlugError::Hyphens);
        }
        Ok(Slug(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Slug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slug::parse(s)
    }
}

impl TryFrom<String> for Slug {
    type Error = SlugError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Slug::parse(&s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_slugs() {
        for s in [
            "ab",
            "comune-di-esempio",
            "a1",
            "milano",
            "x-2-y",
            &"a".repeat(40),
        ] {
            assert_eq!(Slug::parse(s).map(String::from), Ok(s.to_string()));
        }
    }

    #[test]
    fn invalid_slugs() {
        assert_eq!(Slug::parse("a"), Err(SlugError::Length(1)));
        assert_eq!(Slug::parse(""), Err(SlugError::Length(0)));
        assert_eq!(Slug::parse(&"a".repeat(41)), Err(SlugError::Length(41)));
        for s in ["Milano", "città", "a_b", "a b", "a.b"] {
            assert_eq!(Slug::parse(s), Err(SlugError::Chars), "{s}");
        }
        for s in ["-ab", "ab-", "a--b", "--"] {
            assert_eq!(Slug::parse(s), Err(SlugError::Hyphens), "{s}");
        }
    }

    #[test]
    fn serde() -> Result<(), serde_json::Error> {
        let s: Slug = serde_json::from_str("\"roma\"")?;
        assert_eq!(s.as_str(), "roma");
        assert_eq!(serde_json::to_string(&s)?, "\"roma\"");
        assert!(serde_json::from_str::<Slug>("\"Roma\"").is_err());
        Ok(())
    }
}
