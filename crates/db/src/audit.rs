//! The audit log: [`record`] writes an [`AuditEntry`]; [`search`] reads who changed what and
//! when, newest first, filtered by action and time, a page at a time; [`actor_names`] names the
//! people behind stored actor keys in one query.

use std::collections::HashMap;

use refettorio_domain::{Actor, AuditEntry, TenantId};

use crate::{Conn, Result, from_micros, micros, on_conn};

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: String,
    pub created_at: jiff::Timestamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    actor: String,
    action: String,
    entity: String,
    entity_id: Option<i64>,
    before: Option<String>,
    after: Option<String>,
    reason: String,
    created_at: i64,
}

impl TryFrom<Row> for AuditRecord {
    type Error = crate::DbError;
    fn try_from(r: Row) -> Result<AuditRecord> {
        Ok(AuditRecord {
            id: r.id,
            actor: r.actor,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            before: r.before,
            after: r.after,
            reason: r.reason,
            created_at: from_micros(r.created_at)?,
        })
    }
}

/// Writes one entry of the audit log. Before and after are stored as compact JSON.
pub async fn record(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    entry: &AuditEntry,
    now: jiff::Timestamp,
) -> Result<()> {
    let sql = "INSERT INTO audit_log (tenant_id, actor, action, entity, entity_id, before, after, reason, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let actor = entry.actor.to_string();
    let before = entry.before.as_ref().map(ToString::to_string);
    let after = entry.after.as_ref().map(ToString::to_string);
    on_conn!(conn, |c| {
        sqlx::query(sql)
            .bind(tenant.get())
            .bind(actor.as_str())
            .bind(entry.action.as_str())
            .bind(entry.object.kind.as_str())
            .bind(entry.object.id)
            .bind(before.as_deref())
            .bind(after.as_deref())
            .bind(entry.reason.as_str())
            .bind(micros(now))
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The names of the staff users and guardians among `actors` (the display name, "Nome
/// Cognome"), in one query; actors that are not persons, or unknown ids, are left out.
pub async fn actor_names(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    actors: impl IntoIterator<Item = Actor>,
) -> Result<HashMap<Actor, String>> {
    let (mut staff, mut guardians) = (Vec::new(), Vec::new());
    for a in actors {
        match a {
            Actor::Staff(id) => staff.push(id.get().to_string()),
            Actor::Guardian(id) => guardians.push(id.get().to_string()),
            _ => {}
        }
    }
    if staff.is_empty() && guardians.is_empty() {
        return Ok(HashMap::new());
    }
    let (staff, guardians) = (staff.join(","), guardians.join(","));
    let sql = "SELECT 'staff:' || CAST(id AS TEXT), display_name FROM staff_user \
               WHERE (tenant_id = $1 OR tenant_id IS NULL) \
               AND ',' || CAST($2 AS TEXT) || ',' LIKE '%,' || CAST(id AS TEXT) || ',%' \
               UNION ALL \
               SELECT 'guardian:' || CAST(id AS TEXT), first_name || ' ' || last_name FROM guardian \
               WHERE tenant_id = $1 \
               AND ',' || CAST($3 AS TEXT) || ',' LIKE '%,' || CAST(id AS TEXT) || ',%'";
    let rows: Vec<(String, String)> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(staff.as_str())
            .bind(guardians.as_str())
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(k, name)| k.parse::<Actor>().ok().map(|a| (a, name)))
        .collect())
}

/// Which rows of the log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter<'a> {
    /// Only this action (e.g. `office_payment`).
    pub action: Option<&'a str>,
    /// Rows written at or after this instant.
    pub from: Option<jiff::Timestamp>,
    /// Rows written before this instant.
    pub before: Option<jiff::Timestamp>,
    /// Only rows written by this actor (e.g. `staff:3`).
    pub actor: Option<&'a str>,
}

/// The rows matching `filter`, newest first, skipping `offset` and returning at most `limit`.
/// The order walks the index `audit_by_time (tenant_id, created_at)`.
pub async fn search(
    conn: &mut Conn<'_>,
    tenant: TenantId,
    filter: &AuditFilter<'_>,
    limit: u32,
    offset: u64,
) -> Result<Vec<AuditRecord>> {
    let sql = "SELECT id, actor, action, entity, entity_id, before, after, reason, created_at \
               FROM audit_log WHERE tenant_id = $1 \
               AND (CAST($2 AS TEXT) IS NULL OR action = CAST($2 AS TEXT)) \
               AND (CAST($3 AS BIGINT) IS NULL OR created_at >= CAST($3 AS BIGINT)) \
               AND (CAST($4 AS BIGINT) IS NULL OR created_at < CAST($4 AS BIGINT)) \
               AND (CAST($7 AS TEXT) IS NULL OR actor = CAST($7 AS TEXT)) \
               ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6";
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let rows: Vec<Row> = on_conn!(conn, |c| {
        sqlx::query_as(sql)
            .bind(tenant.get())
            .bind(filter.action)
            .bind(filter.from.map(micros))
            .bind(filter.before.map(micros))
            .bind(i64::from(limit))
            .bind(offset)
            .bind(filter.actor)
            .fetch_all(&mut *c)
            .await?
    });
    rows.into_iter().map(AuditRecord::try_from).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::registry::tenant::{self, NewTenant, TenantSettings};
    use crate::testing::TestDb;
    use refettorio_domain::{AuditObject, ObjectKind};
    use refettorio_domain::{EnteFiscalCode, Slug};

    #[tokio::test]
    async fn filters_and_pages_newest_first() {
        for t in TestDb::all().await.unwrap() {
            let mut h = t.db.acquire().await.unwrap();
            let c = &mut h.conn();
            let at = |s: i64| jiff::Timestamp::from_second(1_800_000_000 + s).unwrap();
            let new = NewTenant {
                slug: Slug::parse("registro").unwrap(),
                name: "Comune di Registro".into(),
                fiscal_code: EnteFiscalCode::with_check_digit("8000215047").unwrap(),
                timezone: "Europe/Rome".into(),
                cutoff_time: "09:30".parse().unwrap(),
                patron_day: None,
                patron_name: None,
                settings: TenantSettings::default(),
            };
            let tn = tenant::insert(c, &new, at(0)).await.unwrap().unwrap();
            for (i, action) in ["refund", "adjustment", "refund", "office_payment"]
                .iter()
                .enumerate()
            {
                let i = i64::try_from(i).unwrap();
                let actor =
                    Actor::Staff(refettorio_domain::StaffUserId(if i == 2 { 2 } else { 1 }));
                let entry = AuditEntry::new(
                    actor,
                    action.parse().unwrap(),
                    AuditObject::new(ObjectKind::LedgerEntry, i),
                )
                .reason("r");
                record(c, tn, &entry, at(i * 100)).await.unwrap();
            }
            let all = search(c, tn, &AuditFilter::default(), 10, 0).await.unwrap();
            let ids: Vec<_> = all.iter().map(|r| r.entity_id.unwrap()).collect();
            assert_eq!(ids, [3, 2, 1, 0]);
            let page = search(c, tn, &AuditFilter::default(), 2, 2).await.unwrap();
            assert_eq!(page.len(), 2);
            assert_eq!(page[0].entity_id, Some(1));
            let refunds = AuditFilter {
                action: Some("refund"),
                ..AuditFilter::default()
            };
            assert_eq!(search(c, tn, &refunds, 10, 0).await.unwrap().len(), 2);
            let window = AuditFilter {
                from: Some(at(100)),
                before: Some(at(300)),
                ..AuditFilter::default()
            };
            let ids: Vec<_> = search(c, tn, &window, 10, 0)
                .await
                .unwrap()
                .iter()
                .map(|r| r.entity_id.unwrap())
                .collect();
            assert_eq!(ids, [2, 1]);
            let by_two = AuditFilter {
                actor: Some("staff:2"),
                ..AuditFilter::default()
            };
            let ids: Vec<_> = search(c, tn, &by_two, 10, 0)
                .await
                .unwrap()
                .iter()
                .map(|r| r.entity_id.unwrap())
                .collect();
            assert_eq!(ids, [2]);
            drop(h);
            t.cleanup().await;
        }
    }
}
