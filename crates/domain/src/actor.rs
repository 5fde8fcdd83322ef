//! Who did something: written in the ledger (`created_by`), the audit log (`actor`) and on
//! bookings (`changed_by`). One type, so every layer names a person or a job the same way, and
//! the pages can show a name instead of a stored key.

use std::fmt;
use std::str::FromStr;

use crate::{GuardianId, StaffUserId};

/// The author of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A back-office user of the municipality (`staff:<id>`).
    Staff(StaffUserId),
    /// A family member in the personal area (`guardian:<id>`).
    Guardian(GuardianId),
    /// The platform administrator (`platform_admin`).
    PlatformAdmin,
    /// The daily close at the cut-off (`close`).
    Close,
    /// A receipt from pagoPA (`pagopa`).
    PagoPa,
    /// An import from the previous management software (`import`).
    Import,
    /// The demo municipality's data (`demo`).
    Demo,
    /// Someone not logged in: a login, a registration, a public page (`public`).
    Public,
    /// The installation's operator, at the command line (`operator`: `refettorio fees issue`).
    Operator,
}

impl Actor {
    /// How the pages name an actor that is not a person ("pagoPA", "chiusura giornaliera");
    /// `None` for staff and guardians, whose names the caller looks up.
    pub fn label_it(self) -> Option<&'static str> {
        match self {
            Actor::Staff(_) | Actor::Guardian(_) => None,
            Actor::PlatformAdmin => Some("Amministratore della piattaforma"),
            Actor::Close => Some("chiusura giornaliera"),
            Actor::PagoPa => Some("pagoPA"),
            Actor::Import => Some("importazione dal gestionale precedente"),
            Actor::Demo => Some("dati dimostrativi"),
            Actor::Public => Some("visitatore del sito"),
            Actor::Operator => Some("gestore della piattaforma (riga di comando)"),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Staff(id) => write!(f, "staff:{id}"),
            Actor::Guardian(id) => write!(f, "guardian:{id}"),
            Actor::PlatformAdmin => f.write_str("platform_admin"),
            Actor::Close => f.write_str("close"),
            Actor::PagoPa => f.write_str("pagopa"),
            Actor::Import => f.write_str("import"),
            Actor::Demo => f.write_str("demo"),
            Actor::Public => f.write_str("public"),
            Actor::Operator => f.write_str("operator"),
        }
    }
}

/// A stored actor key that names no actor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown actor: {0}")]
pub struct UnknownActor(pub String);

impl FromStr for Actor {
    type Err = UnknownActor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = |rest: &str| rest.parse::<i64>().map_err(|_| UnknownActor(s.to_string()));
        if let Some(rest) = s.strip_prefix("staff:") {
            return Ok(Actor::Staff(StaffUserId(id(rest)?)));
        }
        if let Some(rest) = s.strip_prefix("guardian:") {
            return Ok(Actor::Guardian(GuardianId(id(rest)?)));
        }
        match s {
            "platform_admin" => Ok(Actor::PlatformAdmin),
            "close" => Ok(Actor::Close),
            "pagopa" => Ok(Actor::PagoPa),
            "import" => Ok(Actor::Import),
            "demo" => Ok(Actor::Demo),
            "public" => Ok(Actor::Public),
            "operator" => Ok(Actor::Operator),
            _ => Err(UnknownActor(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_actor_round_trips_through_its_key() {
        let all = [
            Actor::Public,
            Actor::Staff(StaffUserId(3)),
            Actor::Guardian(GuardianId(12)),
            Actor::PlatformAdmin,
            Actor::Close,
            Actor::PagoPa,
            Actor::Import,
            Actor::Demo,
            Actor::Operator,
        ];
        for a in all {
            assert_eq!(a.to_string().parse::<Actor>(), Ok(a), "{a}");
        }
        assert_eq!(Actor::Staff(StaffUserId(3)).to_string(), "staff:3");
        assert_eq!(Actor::Close.to_string(), "close");
    }

    #[test]
    fn unknown_keys_are_refused() {
        for bad in ["", "staff:", "staff:x", "guardian:1.5", "Close", "someone"] {
            assert!(bad.parse::<Actor>().is_err(), "{bad}");
        }
    }
}
