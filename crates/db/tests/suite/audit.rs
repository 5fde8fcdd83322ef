//! An audit entry is a value: written by `audit::record`, read back by `audit::search` with
//! the same actor, action, object, JSON before/after and reason; the people behind the actor
//! keys are named in one query. Run on SQLite and (when configured) PostgreSQL.

use refettorio_db::audit::{self, AuditFilter};
use refettorio_db::on_conn;
use refettorio_db::registry::staff;
use refettorio_db::registry::tenant::{self, NewTenant, TenantSettings};
use refettorio_db::testing::TestDb;
use refettorio_domain::{
    Actor, AuditAction, AuditEntry, AuditObject, EnteFiscalCode, GuardianId, ObjectKind, Slug,
    StaffRole,
};
use serde_json::{Value, json};

#[tokio::test]
async fn an_entry_round_trips_and_actors_are_named() {
    for t in TestDb::all().await.unwrap() {
        let backend = t.db.backend().as_str();
        let mut h = t.db.acquire().await.unwrap();
        let c = &mut h.conn();
        let now: jiff::Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
        let new = NewTenant {
            slug: Slug::parse("voci").unwrap(),
            name: "Comune di Voci".into(),
            fiscal_code: EnteFiscalCode::with_check_digit("8000215047").unwrap(),
            timezone: "Europe/Rome".into(),
            cutoff_time: "09:30".parse().unwrap(),
            patron_day: None,
            patron_name: None,
            settings: TenantSettings::default(),
        };
        let tn = tenant::insert(c, &new, now).await.unwrap().unwrap();
        let anna = staff::insert_staff(c, tn, "anna", "Anna Bianchi", StaffRole::Office, "x")
            .await
            .unwrap();
        let sql = "INSERT INTO guardian (tenant_id, fiscal_code, first_name, last_name) \
                   VALUES ($1, 'RSSMRA80A01H501U', 'Mario', 'Rossi') RETURNING id";
        let mario: i64 = on_conn!(c, |x| sqlx::query_scalar(sql)
            .bind(tn.get())
            .fetch_one(&mut *x)
            .await
            .unwrap());

        let entry = AuditEntry::new(
            Actor::Staff(anna),
            AuditAction::RegistryEdit,
            AuditObject::new(ObjectKind::School, 7),
        )
        .before(json!({"name": "Collodi", "meal_price_cents": 450}))
        .after(json!({"name": "Collodi", "meal_price_cents": 500, "note": "è \"nuova\""}))
        .reason("listino 2027");
        audit::record(c, tn, &entry, now).await.unwrap();
        let bare = AuditEntry::new(
            Actor::Close,
            AuditAction::AddClosure,
            AuditObject {
                kind: ObjectKind::Settings,
                id: None,
            },
        );
        audit::record(c, tn, &bare, now).await.unwrap();

        let rows = audit::search(c, tn, &AuditFilter::default(), 10, 0)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "{backend}");
        let r = rows.iter().find(|r| r.action == "registry_edit").unwrap();
        assert_eq!(r.actor.parse::<Actor>().unwrap(), entry.actor, "{backend}");
        assert_eq!(r.action.parse::<AuditAction>().unwrap(), entry.action);
        assert_eq!(r.entity.parse::<ObjectKind>().unwrap(), ObjectKind::School);
        assert_eq!(r.entity_id, Some(7));
        let json = |s: &Option<String>| {
            s.as_deref()
                .map(|s| serde_json::from_str::<Value>(s).unwrap())
        };
        assert_eq!(json(&r.before), entry.before, "{backend}");
        assert_eq!(json(&r.after), entry.after, "{backend}");
        assert_eq!(r.reason, "listino 2027");
        assert_eq!(r.created_at, now);
        let b = rows.iter().find(|r| r.action == "add_closure").unwrap();
        assert_eq!((b.actor.as_str(), b.entity_id), ("close", None));
        assert_eq!((b.before.as_deref(), b.after.as_deref()), (None, None));

        let names = audit::actor_names(
            c,
            tn,
            [
                Actor::Staff(anna),
                Actor::Guardian(GuardianId(mario)),
                Actor::Guardian(GuardianId(mario + 1000)),
                Actor::PagoPa,
            ],
        )
        .await
        .unwrap();
        assert_eq!(names.len(), 2, "{backend}: {names:?}");
        assert_eq!(names[&Actor::Staff(anna)], "Anna Bianchi");
        assert_eq!(names[&Actor::Guardian(GuardianId(mario))], "Mario Rossi");
        drop(h);
        t.cleanup().await;
    }
}
