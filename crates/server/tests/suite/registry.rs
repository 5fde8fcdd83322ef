//! The office's registry of the service's structure over real HTTP on both databases: schools,
//! classes with their canteen weekdays, school years, services, tariff bands, sibling
//! reductions and diets are added and changed, each change audited with before and after;
//! bad input gets 422 with Italian field errors and writes nothing; something still in use is
//! not deleted; a band's new price leaves enrolments and charged meals alone unless the office
//! asks to reprice the active enrolments.

use crate::common::{App, browser, csrf_of, login, page, post, scalar, text};
use refettorio_app::demo::{DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER};
use refettorio_db::testing::TestDb;

const BASE: &str = "/t/esempio/backoffice/anagrafiche";

/// Rows of the registry's tables and of the audit log: what a refused form must leave alone.
async fn written(t: &TestDb) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "school",
        "class",
        "school_year",
        "service",
        "tariff_band",
        "sibling_reduction",
        "diet",
        "audit_log",
    ] {
        out.push(scalar(t, &format!("SELECT COUNT(*) FROM {table}")).await);
    }
    // And what any row says: a refused edit changes nothing either.
    out.push(
        scalar(
            t,
            "SELECT CAST(COALESCE(SUM(meal_price_cents + fixed_fee_cents), 0) AS BIGINT) FROM tariff_band",
        )
        .await,
    );
    out.push(
        scalar(
            t,
            "SELECT CAST(COALESCE(SUM(canteen_weekdays), 0) AS BIGINT) FROM class",
        )
        .await,
    );
    out
}

/// The office's session: (client, CSRF token).
async fn office(app: &App) -> (reqwest::Client, String) {
    let client = browser();
    let r = login(app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let (status, html) = page(&client, app, BASE).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Scuole e classi") && html.contains("Codici dieta"));
    let csrf = csrf_of(&html);
    (client, csrf)
}

/// Posts a form with the CSRF token; the status and the body (or the redirect's target).
async fn send(
    client: &reqwest::Client,
    app: &App,
    csrf: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let mut fields = form.to_vec();
    fields.push(("_csrf", csrf));
    let r = post(client, app, format!("{BASE}{path}"), &fields).await;
    let status = r.status().as_u16();
    if status == 303 {
        let to = r.headers()["location"].to_str().unwrap().to_string();
        (status, to)
    } else {
        (status, r.text().await.unwrap())
    }
}

/// A form refused with 422, this Italian message, and nothing written.
async fn refused(
    t: &TestDb,
    client: &reqwest::Client,
    app: &App,
    csrf: &str,
    path: &str,
    form: &[(&str, &str)],
    message: &str,
) {
    let before = written(t).await;
    let (status, html) = send(client, app, csrf, path, form).await;
    assert_eq!(status, 422, "POST {path}: {html}");
    assert!(
        html.contains(message),
        "POST {path}: no «{message}» in {html}"
    );
    assert!(html.contains("Non è stato registrato nulla") || html.contains("non si può"));
    assert_eq!(written(t).await, before, "POST {path} wrote something");
}

/// The last audit row: (action, entity, before, after).
async fn last_audit(t: &TestDb) -> (String, String, String, String) {
    let q =
        |col: &str| format!("SELECT COALESCE({col}, '') FROM audit_log ORDER BY id DESC LIMIT 1");
    (
        text(t, &q("action")).await,
        text(t, &q("entity")).await,
        text(t, &q("before")).await,
        text(t, &q("after")).await,
    )
}

fn id_in(location: &str, prefix: &str) -> i64 {
    let rest = location
        .strip_prefix(&format!("{BASE}{prefix}"))
        .unwrap_or_else(|| panic!("{location} does not start with {prefix}"));
    rest.split(['?', '/']).next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_office_manages_schools_and_classes() {
    for t in TestDb::all().await.unwrap() {
        let app = crate::common::spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        let (status, html) = page(&client, &app, &format!("{BASE}/scuole")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Nuova scuola"));

        // A new school.
        let (status, to) = send(
            &client,
            &app,
            &csrf,
            "/scuole",
            &[
                ("nome", "Scuola primaria Collodi"),
                ("tipo", "primaria"),
                ("indirizzo", "Via Roma 1"),
                ("email-cucina", ""),
            ],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        let school = id_in(&to, "/scuole/");
        assert!(to.ends_with("fatto=aggiunto"), "{to}");
        assert_eq!(
            text(&t, &format!("SELECT name FROM school WHERE id = {school}")).await,
            "Scuola primaria Collodi"
        );
        let (action, entity, before, after) = last_audit(&t).await;
        assert_eq!(
            (action.as_str(), entity.as_str()),
            ("registry_add", "school")
        );
        assert!(
            before.is_empty() && after.contains("Scuola primaria Collodi"),
            "{after}"
        );
        let (status, html) = page(&client, &app, &to).await;
        assert_eq!(status, 200);
        assert!(html.contains("Inserimento registrato") && html.contains("Via Roma 1"));

        // Bad input: nothing written, Italian errors on the fields.
        refused(
            &t,
            &client,
            &app,
            &csrf,
            "/scuole",
            &[("nome", "  "), ("tipo", "primaria")],
            "Scrivi il nome della scuola.",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            "/scuole",
            &[("nome", "scuola primaria  COLLODI"), ("tipo", "primaria")],
            "Esiste già una scuola con questo nome.",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            "/scuole",
            &[("nome", "Altra"), ("tipo", "liceo"), ("email-cucina", "x@")],
            "Scegli il tipo di scuola.",
        )
        .await;

        // The school's changes, audited with before and after.
        let (status, to) = send(
            &client,
            &app,
            &csrf,
            &format!("/scuole/{school}"),
            &[
                ("nome-scuola", "Scuola primaria Carlo Collodi"),
                ("tipo", "primaria"),
                ("indirizzo", "Via Roma 3"),
                ("email-cucina", "cucina@collodi.example.it"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        assert!(to.ends_with("fatto=modificato"));
        let (action, entity, before, after) = last_audit(&t).await;
        assert_eq!(
            (action.as_str(), entity.as_str()),
            ("registry_edit", "school")
        );
        assert!(
            before.contains("Via Roma 1") && !before.contains("Carlo"),
            "{before}"
        );
        assert!(
            after.contains("Via Roma 3") && after.contains("cucina@collodi"),
            "{after}"
        );
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/scuole/{school}"),
            &[("nome-scuola", ""), ("tipo", "primaria")],
            "Scrivi il nome della scuola.",
        )
        .await;

        // A class with its canteen weekdays (Monday and Wednesday: bits 0 and 2).
        let year = scalar(
            &t,
            "SELECT id FROM school_year WHERE starts_on <= '2026-11-23' AND ends_on >= '2026-11-23'",
        )
        .await
        .to_string();
        let classes = format!("/scuole/{school}/classi");
        let (status, to) = send(
            &client,
            &app,
            &csrf,
            &classes,
            &[("anno", &year), ("nome", "1A"), ("lun", "1"), ("mer", "1")],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        let class = scalar(
            &t,
            &format!("SELECT id FROM class WHERE school_id = {school}"),
        )
        .await;
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT canteen_weekdays FROM class WHERE id = {class}")
            )
            .await,
            0b101
        );
        let (action, entity, _, after) = last_audit(&t).await;
        assert_eq!(
            (action.as_str(), entity.as_str()),
            ("registry_add", "class")
        );
        assert!(after.contains("\"1A\""), "{after}");
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &classes,
            &[("anno", &year), ("nome", "1B")],
            "Scegli almeno un giorno in cui la classe mangia a mensa.",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &classes,
            &[("anno", &year), ("nome", "1a"), ("ven", "1")],
            "Questa scuola ha già una classe con questo nome",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/classi/{class}"),
            &[("nome", "1A")],
            "Scegli almeno un giorno",
        )
        .await;
        // Only Friday now.
        let (status, _) = send(
            &client,
            &app,
            &csrf,
            &format!("/classi/{class}"),
            &[("nome", "1A"), ("ven", "1")],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT canteen_weekdays FROM class WHERE id = {class}")
            )
            .await,
            0b1_0000
        );
        let (action, _, before, after) = last_audit(&t).await;
        assert_eq!(action, "registry_edit");
        assert!(
            before.contains("lun") && after.contains("ven"),
            "{before} {after}"
        );
        let (status, html) = page(&client, &app, &format!("{BASE}/classi/{class}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Giorni in cui la classe mangia a mensa"));

        // Deleting what is in use is refused; what is not is deleted.
        let demo_school = scalar(&t, "SELECT MIN(school_id) FROM enrolment").await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/scuole/{demo_school}/elimina"),
            &[],
            "non si può eliminare",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/scuole/{school}/elimina"),
            &[],
            "ha 1 classi",
        )
        .await;
        let demo_class = scalar(&t, "SELECT MIN(class_id) FROM enrolment").await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/classi/{demo_class}/elimina"),
            &[],
            "non si può eliminare",
        )
        .await;
        let (status, _) = send(
            &client,
            &app,
            &csrf,
            &format!("/classi/{class}/elimina"),
            &[],
        )
        .await;
        assert_eq!(status, 303);
        let (status, _) = send(
            &client,
            &app,
            &csrf,
            &format!("/scuole/{school}/elimina"),
            &[],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT COUNT(*) FROM school WHERE id = {school}")
            )
            .await,
            0
        );
        let (action, entity, before, after) = last_audit(&t).await;
        assert_eq!(
            (action.as_str(), entity.as_str()),
            ("registry_delete", "school")
        );
        assert!(before.contains("Carlo Collodi") && after.is_empty());

        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_office_manages_years_services_bands_and_diets() {
    for t in TestDb::all().await.unwrap() {
        let app = crate::common::spawn(&t, true).await;
        let (client, csrf) = office(&app).await;

        // School years: a new one, one overlapping it, dates out of order.
        let (status, html) = page(&client, &app, &format!("{BASE}/anni")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Nuovo anno scolastico"));
        let year_form = [
            ("nome", "2027/2028"),
            ("inizio", "2027-09-01"),
            ("primo-giorno", "2027-09-15"),
            ("ultimo-giorno", "2028-06-09"),
            ("fine", "2028-08-31"),
        ];
        let (status, to) = send(&client, &app, &csrf, "/anni", &year_form).await;
        assert_eq!(status, 303, "{to}");
        let year = id_in(&to, "/anni/");
        let (action, entity, _, after) = last_audit(&t).await;
        assert_eq!(
            (action.as_str(), entity.as_str()),
            ("registry_add", "school_year")
        );
        assert!(after.contains("2027-09-15"), "{after}");
        refused(
            &t,
            &client,
            &app,
            &csrf,
            "/anni",
            &[
                ("nome", "2027/2028 bis"),
                ("inizio", "2028-01-01"),
                ("primo-giorno", "2028-01-10"),
                ("ultimo-giorno", "2028-06-09"),
                ("fine", "2028-12-31"),
            ],
            "si sovrappongono all&#39;anno scolastico 2027/2028",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/anni/{year}"),
            &[
                ("nome", "2027/2028"),
                ("inizio", "2027-09-01"),
                ("primo-giorno", "2027-09-15"),
                ("ultimo-giorno", "2027-09-01"),
                ("fine", "2028-08-31"),
            ],
            "non può venire prima del primo",
        )
        .await;
        // The current year's calendar links to the closures.
        let current = scalar(
            &t,
            "SELECT id FROM school_year WHERE starts_on <= '2026-11-23' AND ends_on >= '2026-11-23'",
        )
        .await;
        let (status, html) = page(&client, &app, &format!("{BASE}/anni/{current}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Dicembre 2026") && html.contains("/backoffice/chiusure"));
        assert!(html.contains("il santo patrono è il 23 aprile"), "{html}");
        assert!(
            html.contains("Festività: Natale") || html.contains("Natale"),
            "{html}"
        );

        // Services of the new year.
        let (status, to) = send(
            &client,
            &app,
            &csrf,
            "/servizi",
            &[
                ("anno", &year.to_string()),
                ("tipo", "refezione"),
                ("pagamento", "prepaid"),
                ("nome", "Refezione scolastica"),
            ],
        )
        .await;
        assert_eq!(status, 303, "{to}");
        let svc = id_in(&to, "/servizi/");
        refused(
            &t,
            &client,
            &app,
            &csrf,
            "/servizi",
            &[
                ("anno", &year.to_string()),
                ("tipo", "refezione"),
                ("pagamento", "prepaid"),
                ("nome", "Di nuovo"),
            ],
            "Questo servizio esiste già per l&#39;anno 2027/2028.",
        )
        .await;

        // Bands: a new one; a negative price, an empty name, a duplicate are refused.
        let bands = format!("/servizi/{svc}/fasce");
        let (status, _) = send(
            &client,
            &app,
            &csrf,
            &bands,
            &[
                ("nome", "Fascia A"),
                ("isee-a", "8.000,00"),
                ("residenza", "resident"),
                ("prezzo-pasto", "2,50"),
                ("quota-fissa", ""),
            ],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT meal_price_cents FROM tariff_band WHERE service_id = {svc}")
            )
            .await,
            250
        );
        let (action, entity, _, after) = last_audit(&t).await;
        assert_eq!(
            (action.as_str(), entity.as_str()),
            ("registry_add", "tariff_band")
        );
        assert!(after.contains("\"meal_price_cents\":250") && after.contains("800000"));
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &bands,
            &[
                ("nome", "Fascia B"),
                ("residenza", "any"),
                ("prezzo-pasto", "-3,00"),
            ],
            "L&#39;importo non può essere negativo.",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &bands,
            &[("nome", ""), ("residenza", "any"), ("prezzo-pasto", "3,00")],
            "Scrivi il nome della fascia.",
        )
        .await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &bands,
            &[
                ("nome", "fascia a"),
                ("residenza", "any"),
                ("prezzo-pasto", "3,00"),
            ],
            "Questo servizio ha già una fascia con questo nome.",
        )
        .await;

        // Sibling reductions.
        let (status, _) = send(
            &client,
            &app,
            &csrf,
            &format!("/servizi/{svc}/riduzioni"),
            &[("dal-figlio", "2"), ("percentuale", "30")],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT basis_points FROM sibling_reduction WHERE service_id = {svc}")
            )
            .await,
            3000
        );
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/servizi/{svc}/riduzioni"),
            &[("dal-figlio", "1"), ("percentuale", "30")],
            "Scrivi da quale figlio vale la riduzione",
        )
        .await;
        let (status, html) = page(&client, &app, &format!("{BASE}/servizi/{svc}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Fascia A") && html.contains("30%") && html.contains("2,50 €"));

        // Diets.
        let (status, _) = send(
            &client,
            &app,
            &csrf,
            "/diete",
            &[
                ("codice", "d99"),
                ("nome", "Senza frutta secca"),
                ("tipo", "health"),
            ],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(
            text(&t, "SELECT name FROM diet WHERE code = 'D99'").await,
            "Senza frutta secca"
        );
        refused(
            &t,
            &client,
            &app,
            &csrf,
            "/diete",
            &[("codice", "D99"), ("nome", "Altro"), ("tipo", "health")],
            "Esiste già una dieta con questo codice.",
        )
        .await;
        let used_diet = scalar(&t, "SELECT MIN(diet_id) FROM enrolment").await;
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/diete/{used_diet}/elimina"),
            &[],
            "non si può eliminare",
        )
        .await;

        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_band_price_change_does_not_rewrite_history() {
    for t in TestDb::all().await.unwrap() {
        let app = crate::common::spawn(&t, true).await;
        let (client, csrf) = office(&app).await;
        // The demo band with the most active enrolments, none exempt.
        let band = scalar(
            &t,
            "SELECT b.id FROM tariff_band b JOIN enrolment e ON e.tariff_band_id = b.id \
             WHERE e.state = 'attivo' AND NOT b.exempt AND b.meal_price_cents > 0 \
             GROUP BY b.id ORDER BY COUNT(*) DESC, b.id LIMIT 1",
        )
        .await;
        let price = scalar(
            &t,
            &format!("SELECT meal_price_cents FROM tariff_band WHERE id = {band}"),
        )
        .await;
        let enrolled_sql = format!(
            "SELECT CAST(COALESCE(SUM(meal_price_cents), 0) AS BIGINT) FROM enrolment WHERE tariff_band_id = {band}"
        );
        let ledger = "SELECT CAST(COUNT(*) * 1000000 + COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM ledger_entry";
        let (enrolled, charged) = (scalar(&t, &enrolled_sql).await, scalar(&t, ledger).await);
        let name = text(
            &t,
            &format!("SELECT name FROM tariff_band WHERE id = {band}"),
        )
        .await;
        let (status, html) = page(&client, &app, &format!("{BASE}/fasce/{band}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("la storia non si riscrive"), "{html}");
        let residency = text(
            &t,
            &format!("SELECT residency FROM tariff_band WHERE id = {band}"),
        )
        .await;
        let new_price = format!("{},{:02}", (price + 50) / 100, (price + 50) % 100);
        let form = |reprice: bool| {
            let mut f = vec![
                ("nome", name.clone()),
                ("residenza", residency.clone()),
                ("prezzo-pasto", new_price.clone()),
                ("quota-fissa", String::new()),
            ];
            if reprice {
                f.push(("ricalcola", "1".into()));
            }
            f
        };

        // Without the box: the band changes, its enrolments and the ledger do not.
        let f = form(false);
        let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, to) = send(&client, &app, &csrf, &format!("/fasce/{band}"), &fields).await;
        assert_eq!(status, 303, "{to}");
        assert_eq!(
            scalar(
                &t,
                &format!("SELECT meal_price_cents FROM tariff_band WHERE id = {band}")
            )
            .await,
            price + 50
        );
        assert_eq!(scalar(&t, &enrolled_sql).await, enrolled);
        assert_eq!(scalar(&t, ledger).await, charged);
        let (action, entity, before, after) = last_audit(&t).await;
        assert_eq!(
            (action.as_str(), entity.as_str()),
            ("registry_edit", "tariff_band")
        );
        assert!(
            before.contains(&format!("\"meal_price_cents\":{price}")),
            "{before}"
        );
        assert!(
            after.contains(&format!("\"meal_price_cents\":{}", price + 50)),
            "{after}"
        );
        assert!(!after.contains("enrolments_repriced"));

        // With it (and the price moved again): the active enrolments get the new price from
        // the first day not closed; meals already charged stay as they were.
        let newer = format!("{},{:02}", (price + 100) / 100, (price + 100) % 100);
        let mut f = form(true);
        f[2].1 = newer;
        let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let active = scalar(
            &t,
            &format!(
                "SELECT COUNT(*) FROM enrolment WHERE tariff_band_id = {band} AND state = 'attivo'"
            ),
        )
        .await;
        let (status, to) = send(&client, &app, &csrf, &format!("/fasce/{band}"), &fields).await;
        assert_eq!(status, 303, "{to}");
        assert!(to.contains(&format!("ricalcolate={active}")), "{to}");
        assert!(
            scalar(&t, &enrolled_sql).await > enrolled,
            "enrolments not repriced"
        );
        // Full-price enrolments now pay exactly the new price.
        assert!(
            scalar(
                &t,
                &format!(
                    "SELECT COUNT(*) FROM enrolment WHERE tariff_band_id = {band} AND state = 'attivo' \
                     AND meal_price_cents = {}",
                    price + 100
                )
            )
            .await
                > 0
        );
        assert_eq!(
            scalar(&t, ledger).await,
            charged,
            "the ledger was rewritten"
        );
        let (_, _, _, after) = last_audit(&t).await;
        assert!(
            after.contains(&format!("\"enrolments_repriced\":{active}")),
            "{after}"
        );
        let (status, html) = page(&client, &app, &to).await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!("Nuovi importi dati a {active} iscrizioni attive")));

        // The same form again: nothing left to change, nothing written.
        let audit_rows = scalar(&t, "SELECT COUNT(*) FROM audit_log").await;
        let repriced = scalar(&t, &enrolled_sql).await;
        let (status, to) = send(&client, &app, &csrf, &format!("/fasce/{band}"), &fields).await;
        assert_eq!(status, 303, "{to}");
        assert!(to.ends_with("fatto=invariato"), "{to}");
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM audit_log").await,
            audit_rows
        );
        assert_eq!(scalar(&t, &enrolled_sql).await, repriced);

        // A band with enrolments is not deleted.
        refused(
            &t,
            &client,
            &app,
            &csrf,
            &format!("/fasce/{band}/elimina"),
            &[],
            "Sposta prima le iscrizioni su un&#39;altra fascia.",
        )
        .await;

        app.stop().await;
        t.cleanup().await;
    }
}
