//! The audit log as the office reads it: each entry in words (who by name, the action, the
//! object, the changed fields as "Campo: prima → dopo"), a page at a time; and the names of
//! the authors of ledger movements ("Inserito da").

use std::collections::HashMap;

use jiff::civil::Date;
use refettorio_db::Conn;
/// An entry of the audit log as stored.
pub use refettorio_db::audit::AuditRecord;
use refettorio_db::audit::{self, AuditFilter};
use refettorio_domain::audit::{Change, changes, object_label};
use refettorio_domain::{Actor, AuditAction, AuditEntry, AuditObject, ObjectKind};
use serde_json::Value;

use crate::{AppError, Ctx};

/// The actions of the "Operazione" filter: (stored key, Italian label).
pub fn action_choices() -> Vec<(&'static str, &'static str)> {
    AuditAction::ALL
        .iter()
        .map(|a| (a.as_str(), a.label_it()))
        .collect()
}

/// The label of a stored action, or the action itself when it names none (an old row).
pub fn action_label(action: &str) -> &str {
    match AuditAction::from_key(action) {
        Some(a) => a.label_it(),
        None => action,
    }
}

/// Rows of the audit log shown per page.
pub const AUDIT_PAGE: u32 = 50;

/// Which entries to show.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    /// A stored action key (`refund`).
    pub action: Option<&'a str>,
    /// A stored actor key (`staff:3`, `pagopa`).
    pub actor: Option<&'a str>,
    /// The days `from..=to`, in the municipality's time zone.
    pub from: Option<Date>,
    pub to: Option<Date>,
    /// 1-based.
    pub page: u32,
}

/// One entry as the office reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    pub at: jiff::Timestamp,
    /// "Anna Bianchi", "pagoPA", "chiusura giornaliera".
    pub who: String,
    /// "Rimborso".
    pub action: String,
    /// "Alunno Sofia Rossi", "Iscrizione n. 12".
    pub object: String,
    pub reason: String,
    /// The changed fields, in words.
    pub changes: Vec<Change>,
    /// Before and after as stored, for rows written before entries were JSON values (shown
    /// as text when they do not read as JSON).
    pub raw_before: Option<String>,
    pub raw_after: Option<String>,
}

/// The people and jobs who may appear in the "Chi" filter: (stored key, label).
pub async fn actor_choices(ctx: Ctx<'_>) -> Result<Vec<(String, String)>, AppError> {
    let users = crate::auth::staff_users(ctx).await?;
    let mut out: Vec<(String, String)> = users
        .iter()
        .map(|u| {
            (
                Actor::Staff(u.id).to_string(),
                format!("{} ({})", u.display_name, u.role.label_it()),
            )
        })
        .collect();
    out.push((
        Actor::PagoPa.to_string(),
        "pagoPA (ricevute automatiche)".into(),
    ));
    Ok(out)
}

/// How a stored actor key reads: the person's name when `names` has it, the label of a job
/// ("pagoPA"), or the key itself for a key no version wrote.
pub fn who_it(key: &str, names: &HashMap<Actor, String>) -> String {
    match key.parse::<Actor>() {
        Ok(a) => match (names.get(&a), a, a.label_it()) {
            (Some(n), _, _) => n.clone(),
            (None, _, Some(l)) => l.to_string(),
            (None, Actor::Staff(id), None) => format!("Utente n. {id}"),
            (None, Actor::Guardian(id), None) => format!("Genitore n. {id}"),
            (None, _, None) => key.to_string(),
        },
        // Rows written before `Actor`: "platform:<id>" was the platform administrator.
        Err(_) if key.starts_with("platform:") => "Amministratore della piattaforma".into(),
        Err(_) => key.to_string(),
    }
}

/// The names of the people behind stored actor keys, in one query.
pub async fn names_of<'k>(
    ctx: Ctx<'_>,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<HashMap<Actor, String>, AppError> {
    let actors: Vec<Actor> = keys.into_iter().filter_map(|k| k.parse().ok()).collect();
    if actors.is_empty() {
        return Ok(HashMap::new());
    }
    let mut h = ctx.db.acquire().await?;
    Ok(audit::actor_names(&mut h.conn(), ctx.tenant.id, actors).await?)
}

/// Writes an audit entry of the context's actor, at the context's now, in the transaction of
/// the change it records.
pub(crate) async fn write(
    c: &mut Conn<'_>,
    ctx: Ctx<'_>,
    action: AuditAction,
    object: AuditObject,
    before: Option<&Value>,
    after: Option<&Value>,
    reason: &str,
) -> Result<(), AppError> {
    let entry = AuditEntry {
        actor: ctx.actor,
        action,
        object,
        before: before.cloned(),
        after: after.cloned(),
        reason: reason.to_string(),
    };
    audit::record(c, ctx.tenant.id, &entry, ctx.now()).await?;
    Ok(())
}

fn line(r: AuditRecord, names: &HashMap<Actor, String>) -> AuditLine {
    let parse = |s: &Option<String>| match s {
        None => Ok(None),
        Some(s) => serde_json::from_str::<Value>(s).map(Some),
    };
    let (changed, raw_before, raw_after, snapshot) = match (parse(&r.before), parse(&r.after)) {
        (Ok(b), Ok(a)) => {
            let changed = changes(b.as_ref(), a.as_ref());
            (changed, None, None, a.or(b))
        }
        _ => (Vec::new(), r.before.clone(), r.after.clone(), None),
    };
    let kind = ObjectKind::from_key(&r.entity);
    AuditLine {
        at: r.created_at,
        who: who_it(&r.actor, names),
        action: action_label(&r.action).to_string(),
        object: object_label(kind, &r.entity, r.entity_id, snapshot.as_ref()),
        reason: r.reason,
        changes: changed,
        raw_before,
        raw_after,
    }
}

/// A page of the audit log, newest first, in words; and whether there is a next page.
pub async fn audit_log(
    ctx: Ctx<'_>,
    q: &AuditQuery<'_>,
) -> Result<(Vec<AuditLine>, bool), AppError> {
    let tenant = ctx.tenant;
    let start = |d: Date| -> Result<jiff::Timestamp, AppError> {
        Ok(d.to_zoned(tenant.timezone.clone())?.timestamp())
    };
    let filter = AuditFilter {
        action: q.action,
        from: q.from.map(start).transpose()?,
        before: q.to.map(|d| start(d.tomorrow()?)).transpose()?,
        actor: q.actor,
    };
    let offset = u64::from(q.page.max(1) - 1) * u64::from(AUDIT_PAGE);
    let mut h = ctx.db.acquire().await?;
    let c = &mut h.conn();
    let mut rows = audit::search(c, tenant.id, &filter, AUDIT_PAGE + 1, offset).await?;
    let more = rows.len() > AUDIT_PAGE as usize;
    rows.truncate(AUDIT_PAGE as usize);
    let actors: Vec<Actor> = rows.iter().filter_map(|r| r.actor.parse().ok()).collect();
    let names = audit::actor_names(c, tenant.id, actors).await?;
    Ok((rows.into_iter().map(|r| line(r, &names)).collect(), more))
}

#[cfg(test)]
mod tests {
    use super::*;
    use refettorio_domain::StaffUserId;

    #[test]
    fn actions_have_labels() {
        assert_eq!(action_label("refund"), "Rimborso");
        assert_eq!(action_label("something_new"), "something_new");
        assert!(action_choices().contains(&("refund", "Rimborso")));
    }

    #[test]
    fn actors_read_as_words() {
        let names = HashMap::from([(Actor::Staff(StaffUserId(2)), "Anna Bianchi".to_string())]);
        assert_eq!(who_it("staff:2", &names), "Anna Bianchi");
        assert_eq!(who_it("staff:9", &names), "Utente n. 9");
        assert_eq!(who_it("close", &names), "chiusura giornaliera");
        assert_eq!(who_it("pagopa", &names), "pagoPA");
        assert_eq!(
            who_it("platform:1", &names),
            "Amministratore della piattaforma"
        );
        assert_eq!(who_it("mensa", &names), "mensa");
    }

    #[test]
    fn old_rows_show_their_text() {
        let r = AuditRecord {
            id: 1,
            actor: "guardian:4".into(),
            action: "update_contacts".into(),
            entity: "guardian".into(),
            entity_id: Some(4),
            before: Some("Contacts { email: None }".into()),
            after: Some("{\"email\":\"a@b.it\"}".into()),
            reason: String::new(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let l = line(r, &HashMap::new());
        assert!(l.changes.is_empty());
        assert_eq!(l.raw_before.as_deref(), Some("Contacts { email: None }"));
        assert_eq!(l.object, "Genitore n. 4");
        assert_eq!(l.who, "Genitore n. 4");
    }
}
