//! Import jobs, run on SQLite and (when configured) PostgreSQL: the progress a running import
//! reports is read by any other connection, as another node reads it.

use jiff::civil::Time;
use refettorio_db::import::{self, JobStatus};
use refettorio_db::registry::tenant;
use refettorio_db::testing::TestDb;
use refettorio_domain::{EnteFiscalCode, Slug};

fn t0() -> jiff::Timestamp {
    "2026-09-01T08:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn a_running_import_reports_its_progress_to_every_connection() {
    for t in TestDb::all().await.unwrap() {
        let tn = {
            let mut h = t.db.acquire().await.unwrap();
            tenant::insert(
                &mut h.conn(),
                &tenant::NewTenant {
                    slug: Slug::parse("alfa").unwrap(),
                    name: "Comune di Alfa".into(),
                    fiscal_code: EnteFiscalCode::parse("01199250158").unwrap(),
                    timezone: "Europe/Rome".into(),
                    cutoff_time: Time::constant(9, 30, 0, 0),
                    patron_day: None,
                    patron_name: None,
                    settings: Default::default(),
                },
                t0(),
            )
            .await
            .unwrap()
            .unwrap()
        };
        let mut writer = t.db.acquire().await.unwrap();
        let mut reader = t.db.acquire().await.unwrap();
        let id = import::insert_job(
            &mut writer.conn(),
            tn,
            &import::NewJob {
                kind: "pupils",
                file_name: "alunni.csv",
                file_sha256: "00",
                rows_total: 120,
                created_by: "staff:1",
            },
            t0(),
        )
        .await
        .unwrap();
        let job = import::job(&mut reader.conn(), tn, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((job.progress, job.progress_at), (None, None));

        // A heartbeat while it waits: alive, no rows yet.
        let t1 = t0() + jiff::SignedDuration::from_secs(5);
        import::report_progress(&mut writer.conn(), tn, id, None, t1)
            .await
            .unwrap();
        let job = import::job(&mut reader.conn(), tn, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((job.progress, job.progress_at), (None, Some(t1)));

        // Rows, then a heartbeat that keeps them.
        let t2 = t1 + jiff::SignedDuration::from_secs(1);
        import::report_progress(&mut writer.conn(), tn, id, Some((30, 118)), t2)
            .await
            .unwrap();
        let t3 = t2 + jiff::SignedDuration::from_secs(60);
        import::report_progress(&mut writer.conn(), tn, id, None, t3)
            .await
            .unwrap();
        let job = import::job(&mut reader.conn(), tn, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((job.progress, job.progress_at), (Some((30, 118)), Some(t3)));
        assert_eq!(
            import::jobs(&mut reader.conn(), tn, 5).await.unwrap(),
            vec![job]
        );

        // A finished job no longer changes.
        import::finish_job(
            &mut writer.conn(),
            tn,
            id,
            import::JobEnd::Done {
                rows_new: 118,
                rows_present: 2,
            },
            t3,
        )
        .await
        .unwrap();
        import::report_progress(&mut writer.conn(), tn, id, Some((1, 1)), t3)
            .await
            .unwrap();
        let job = import::job(&mut reader.conn(), tn, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.status, JobStatus::Done);
        assert_eq!(job.progress, Some((30, 118)));
        drop((writer, reader));
        t.cleanup().await;
    }
}
