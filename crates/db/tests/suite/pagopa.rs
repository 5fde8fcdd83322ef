//! pagoPA storage on both databases: IUV bases taken concurrently are all different and never
//! taken again; a receipt id is stored once.

use std::collections::BTreeSet;

use refettorio_db::pagopa::{self, HoldReason, NewReceipt, ReceiptStatus};
use refettorio_db::registry::tenant::{self, NewTenant, TenantSettings};
use refettorio_db::testing::TestDb;
use refettorio_domain::{Cents, EnteFiscalCode, SegregationCode, Slug, TenantId};

fn t0() -> jiff::Timestamp {
    "2026-11-23T08:00:00Z".parse().unwrap()
}

async fn a_tenant(t: &TestDb, slug: &str, cf10: &str) -> TenantId {
    let mut h = t.db.acquire().await.unwrap();
    tenant::insert(
        &mut h.conn(),
        &NewTenant {
            slug: Slug::parse(slug).unwrap(),
            name: format!("Comune di {slug}"),
            fiscal_code: EnteFiscalCode::with_check_digit(cf10).unwrap(),
            timezone: "Europe/Rome".into(),
            cutoff_time: "09:30".parse().unwrap(),
            patron_day: None,
            patron_name: None,
            settings: TenantSettings::default(),
        },
        t0(),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn iuv_bases_are_unique_under_concurrency_and_never_reused() {
    for t in TestDb::all().await.unwrap() {
        let a = a_tenant(&t, "primo", "8000215047").await;
        let b = a_tenant(&t, "secondo", "8000111122").await;
        let seg = SegregationCode::new(2).unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                let base = pagopa::next_iuv_base(&mut tx.conn(), a, seg).await.unwrap();
                // Every fifth transaction fails after taking its base: nothing was issued.
                if i % 5 == 4 {
                    drop(tx);
                    None
                } else {
                    tx.commit().await.unwrap();
                    Some(base)
                }
            }));
        }
        let mut committed = Vec::new();
        for task in tasks {
            if let Some(b) = task.await.unwrap() {
                committed.push(b);
            }
        }
        let distinct: BTreeSet<u64> = committed.iter().copied().collect();
        assert_eq!(distinct.len(), 32, "{} database", t.db.backend().as_str());
        // A later base is above every committed one: none is handed out twice.
        let mut h = t.db.acquire().await.unwrap();
        let next = pagopa::next_iuv_base(&mut h.conn(), a, seg).await.unwrap();
        assert!(next > *distinct.last().unwrap());
        // Each tenant and segregation code has its own sequence.
        assert_eq!(
            pagopa::next_iuv_base(&mut h.conn(), b, seg).await.unwrap(),
            1
        );
        let other = SegregationCode::new(3).unwrap();
        assert_eq!(
            pagopa::next_iuv_base(&mut h.conn(), a, other)
                .await
                .unwrap(),
            1
        );
        drop(h);
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_receipt_id_is_stored_once_per_tenant() {
    for t in TestDb::all().await.unwrap() {
        let a = a_tenant(&t, "primo", "8000215047").await;
        let b = a_tenant(&t, "secondo", "8000111122").await;
        let r = NewReceipt {
            receipt_id: "abc123",
            notice_number: "302000000000000104",
            position: None,
            outcome_ok: true,
            amount: Cents(2500),
            status: ReceiptStatus::Held,
            hold_reason: Some(HoldReason::UnknownNotice),
            psp_id: "PSP",
            psp_name: "Banca",
            payment_method: None,
            paid_at: None,
            standin: true,
            payload: "<x/>",
        };
        let mut h = t.db.acquire().await.unwrap();
        let c = &mut h.conn();
        assert!(
            pagopa::insert_receipt(c, a, &r, t0())
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            pagopa::insert_receipt(c, a, &r, t0())
                .await
                .unwrap()
                .is_none()
        );
        // Another municipality may get a receipt with the same id.
        assert!(
            pagopa::insert_receipt(c, b, &r, t0())
                .await
                .unwrap()
                .is_some()
        );
        let kept = pagopa::receipts_with_status(c, a, ReceiptStatus::Held)
            .await
            .unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].standin);
        assert_eq!(kept[0].hold_reason, Some(HoldReason::UnknownNotice));
        assert_eq!(
            pagopa::receipt_payload(c, a, "abc123")
                .await
                .unwrap()
                .as_deref(),
            Some("<x/>")
        );
        drop(h);
        t.cleanup().await;
    }
}
