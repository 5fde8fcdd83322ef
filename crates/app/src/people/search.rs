//! The office's search of families by name, fiscal code or card code.

use crate::Ctx;
use refettorio_db::ledger;
use refettorio_db::registry::family;
use refettorio_db::registry::family::Family;
use refettorio_db::registry::family::Guardian;
use refettorio_db::registry::family::PeopleQuery;
use refettorio_db::registry::family::Pupil;
use refettorio_domain::AccountId;
use refettorio_domain::Cents;
use refettorio_domain::CodiceFiscale;

use super::fold;
use crate::AppError;

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

/// What a search box's text asks for: a name prefix (two characters at least), a fiscal code
/// when it is one, a card code (as typed and upper case) when it has no spaces.
pub fn people_query(text: &str) -> PeopleQuery {
    let name = fold(text);
    let compact: String = text.split_whitespace().collect();
    let fiscal_code = CodiceFiscale::parse(&compact)
        .ok()
        .map(|cf| cf.as_str().to_string());
    let card_codes = if compact.is_empty() || text.trim().contains(char::is_whitespace) {
        Vec::new()
    } else {
        let up = compact.to_uppercase();
        if up == compact {
            vec![compact]
        } else {
            vec![compact, up]
        }
    };
    PeopleQuery {
        name_prefix: if name.chars().count() >= 2 {
            name
        } else {
            String::new()
        },
        fiscal_code,
        card_codes,
    }
}

/// Families with a pupil or guardian whose name ("surname name" or "name surname") starts with
/// `text`, or whose fiscal code or card code is `text`: at most [`SEARCH_LIMIT`], by payer
/// name, each with its pupils and prepaid accounts. One indexed query finds them.
pub async fn find_families(ctx: Ctx<'_>, text: &str) -> Result<Vec<FamilyHit>, AppError> {
    let Ctx { db, tenant, .. } = ctx;
    let q = people_query(text);
    let mut h = db.acquire().await?;
    let c = &mut h.conn();
    let limit = u32::try_from(SEARCH_LIMIT).unwrap_or(u32::MAX);
    let ids = family::search_families(c, tenant.id, &q, limit).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(f) = family::family(c, tenant.id, id).await? else {
            continue;
        };
        let Some(payer) = family::guardian(c, tenant.id, f.payer_id).await? else {
            continue;
        };
        let pupils = family::pupils_of_family(c, tenant.id, f.id).await?;
        let access = crate::portal::Access {
            families: vec![(f.clone(), family::Link::Payer)],
        };
        let mut accounts = Vec::new();
        for (a, svc, year) in crate::portal::visible_accounts(c, tenant, &access).await? {
            let balance = ledger::balance(c, tenant.id, a.id).await?;
            accounts.push((a.id, format!("{} {}", svc.name, year.label), balance));
        }
        out.push(FamilyHit {
            family: f,
            payer,
            pupils,
            accounts,
        });
    }
    Ok(out)
}
