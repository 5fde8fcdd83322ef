//! The office reads the audit log and an account's movements in words: made through the
//! product, an adjustment and a refund show who by name, the action and the changed fields in
//! Italian ("Importo: 1,00 €"), never a stored key (`staff:2`), JSON (`{"`) or Debug output
//! (`Some(`). Both databases.

use crate::common::{csrf_of, hidden, page, post, spawn};
use crate::office::office;
use refettorio_db::testing::TestDb;

/// The table of a page (the filters above it legitimately hold stored keys as option values).
fn table(html: &str) -> &str {
    let start = html.find("<table").expect(html);
    let end = html[start..].find("</table>").unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn the_office_reads_the_log_and_the_movements_in_words() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let client = office(&app).await;
        let (_, acc) = crate::common::marios_account(&t).await;
        let path = format!("/t/esempio/backoffice/conti/{acc}");
        for (form, amount, reason) in [
            ("rettifica", "1,00", "credito di prova"),
            ("rimborso", "0,50", "rimborso di prova"),
        ] {
            let (_, html) = page(&client, &app, &path).await;
            let r = post(
                &client,
                &app,
                format!("{path}/{form}"),
                &[
                    (format!("{form}-importo").as_str(), amount),
                    (format!("{form}-causale").as_str(), reason),
                    ("_modulo", &hidden(&html, "_modulo", 0)),
                    ("_csrf", &csrf_of(&html)),
                ],
            )
            .await;
            assert_eq!(r.status(), 303, "{form}");
        }

        let (status, html) = page(&client, &app, "/t/esempio/backoffice/registro").await;
        assert_eq!(status, 200);
        let log = table(&html);
        for words in [
            "Ufficio Scuola",
            "Rettifica",
            "Rimborso",
            "Movimento n.",
            "Importo:</strong> 1,00 €",
            "0,50 €",
            "credito di prova",
        ] {
            assert!(log.contains(words), "{words} missing: {log}");
        }
        for internal in ["staff:", "{\"", "{&quot;", "Some(", "amount_cents"] {
            assert!(!log.contains(internal), "{internal} shown: {log}");
        }

        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200);
        let movements = table(&html);
        assert!(movements.contains("<td>Ufficio Scuola</td>"), "{movements}");
        for key in [
            "<td>staff:",
            "<td>close</td>",
            "<td>pagopa</td>",
            "<td>demo</td>",
        ] {
            assert!(!movements.contains(key), "{key} shown: {movements}");
        }
        app.stop().await;
        t.cleanup().await;
    }
}
