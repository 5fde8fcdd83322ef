//! A search of families by the office: what one hit holds.

use refettorio_db::registry::family::{Family, Guardian, Pupil};
use refettorio_domain::{AccountId, Cents};

/// How many families a search shows at most.
pub const SEARCH_LIMIT: usize = 20;

/// A family found by a search, with its prepaid accounts.
#[derive(Debug, Clone)]
pub struct FamilyHit {
    pub family: Family,
    pub payer: Guardian,
    pub pupils: Vec<Pupil>,
    /// Account, "Refezione scolastica 2026/2027", balance.
    pub accounts: Vec<(AccountId, String, Cents)>,
}
