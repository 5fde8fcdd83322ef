//! The back office over real HTTP on both databases: every route tried with every demo role, a
//! parent, no session and another municipality's staff (only the allowed role gets through,
//! and a refused POST writes nothing); the office's money forms: a payment received elsewhere
//! credited once, an adjustment submitted twice credited once, bad input refused with Italian
//! field errors and nothing written.

use crate::common::{App, browser, csrf_of, form_csrf, hidden, login, page, post, scalar, spawn};
use refettorio_app::demo::{
    DEMO_OFFICE_PASSWORD, DEMO_OFFICE_USER, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD, DEMO_STAFF,
};
use refettorio_db::registry::staff;
use refettorio_db::registry::tenant::{self, NewTenant, Tenant, TenantSettings};
use refettorio_db::testing::TestDb;
use refettorio_domain::{AccountId, Cents, Clock, EnteFiscalCode, Slug, StaffRole};

async fn balance(t: &TestDb, tn: &Tenant, acc: AccountId) -> Cents {
    let mut h = t.db.acquire().await.unwrap();
    refettorio_db::ledger::balance(&mut h.conn(), tn.id, acc)
        .await
        .unwrap()
}

/// Ledger entries and audit rows: what a refused POST must leave as it was.
async fn written(t: &TestDb) -> (i64, i64) {
    (
        scalar(t, "SELECT COUNT(*) FROM ledger_entry").await,
        scalar(t, "SELECT COUNT(*) FROM audit_log").await,
    )
}

/// Another municipality, with default settings: its id.
async fn another_tenant(
    c: &mut refettorio_db::Conn<'_>,
    app: &App,
    slug: &str,
    name: &str,
    fiscal_code: &str,
) -> refettorio_domain::TenantId {
    tenant::insert(
        c,
        &NewTenant {
            slug: Slug::parse(slug).unwrap(),
            name: name.into(),
            fiscal_code: EnteFiscalCode::with_check_digit(fiscal_code).unwrap(),
            timezone: "Europe/Rome".into(),
            cutoff_time: "09:30".parse().unwrap(),
            patron_day: None,
            patron_name: None,
            settings: TenantSettings::default(),
        },
        app.clock.now(),
    )
    .await
    .unwrap()
    .unwrap()
}

/// A second municipality with one office user, logged in on `client`; its session's CSRF token.
async fn other_tenants_office(t: &TestDb, app: &App, client: &reqwest::Client) -> String {
    {
        let mut h = t.db.acquire().await.unwrap();
        let c = &mut h.conn();
        let id = another_tenant(c, app, "altro", "Comune di Altro", "8000111122").await;
        let hash = refettorio_app::password::hash("altro-ufficio-1").unwrap();
        staff::insert_staff(
            c,
            id,
            "ufficio",
            "Ufficio di Altro",
            StaffRole::Office,
            &hash,
        )
        .await
        .unwrap();
    }
    let csrf = form_csrf(app, client, "/t/altro/accedi").await;
    let r = post(
        client,
        app,
        "/t/altro/accedi",
        &[
            ("identifier", "ufficio"),
            ("password", "altro-ufficio-1"),
            ("_csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (status, html) = page(client, app, "/t/altro/backoffice").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Ufficio di Altro"));
    // Its own office pages work, and show nothing of Esempio.
    let (status, html) = page(client, app, "/t/altro/backoffice/conti?q=Rossi").await;
    assert_eq!(status, 200);
    assert!(html.contains("Nessuna famiglia trovata"), "{html}");
    csrf_of(&html)
}

/// A form's fields, as the route table posts them.
type Form = Vec<(&'static str, String)>;

/// Who tries the routes.
enum Who {
    Staff(StaffRole),
    Parent,
    Nobody,
    OtherTenant,
}

impl Who {
    fn name(&self) -> String {
        match self {
            Who::Staff(r) => r.as_str().to_string(),
            Who::Parent => "parent".into(),
            Who::Nobody => "no session".into(),
            Who::OtherTenant => "another municipality's office".into(),
        }
    }
}

#[tokio::test]
async fn every_route_lets_in_only_its_roles() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (tn, acc) = crate::common::marios_account(&t).await;
        let base = "/t/esempio/backoffice";
        let account = format!("{base}/conti/{acc}");
        // (path, roles allowed); every role of the demo may open the home.
        let gets: Vec<(String, &[StaffRole])> = vec![
            (
                base.to_string(),
                &[
                    StaffRole::Office,
                    StaffRole::School,
                    StaffRole::Kitchen,
                    StaffRole::CanteenStaff,
                ],
            ),
            (format!("{base}/conti"), &[StaffRole::Office]),
            (format!("{base}/conti?q=Rossi"), &[StaffRole::Office]),
            (account.clone(), &[StaffRole::Office]),
            (format!("{base}/pagopa/ricevute"), &[StaffRole::Office]),
            (format!("{base}/registro"), &[StaffRole::Office]),
            (format!("{base}/registro?chi=pagopa"), &[StaffRole::Office]),
            (format!("{base}/impostazioni"), &[StaffRole::Office]),
            (format!("{base}/messaggi"), &[StaffRole::Office]),
            (
                format!("{base}/messaggi?stato=non-consegnati"),
                &[StaffRole::Office],
            ),
            (format!("{base}/contenuti"), &[StaffRole::Office]),
            (format!("{base}/comunicazioni"), &[StaffRole::Office]),
            (format!("{base}/canali"), &[StaffRole::Office]),
            (
                format!("{base}/menu"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/registro?azione=refund&dal=2026-11-01&al=2026-11-30"),
                &[StaffRole::Office],
            ),
            (format!("{base}/chiusure"), &[StaffRole::Office]),
            (
                format!("{base}/cucina"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/cucina?giorno=2026-11-24"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/cucina/csv?giorno=2026-11-24"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/cucina/pdf"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/cucina/xlsx?giorno=2026-11-24"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/report"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/report/pasti"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/report/pasti/csv?giorno=2026-11-24"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/report/pasti/xlsx"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/report/presenze?dal=2026-11-01&al=2026-11-23&per=mese"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/report/presenze/csv?tabella=1"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (
                format!("{base}/report/presenze/xlsx"),
                &[StaffRole::Kitchen, StaffRole::Office],
            ),
            (format!("{base}/report/incassi"), &[StaffRole::Office]),
            (
                format!("{base}/report/incassi/csv?dal=2026-11-01&al=2026-11-23"),
                &[StaffRole::Office],
            ),
            (
                format!("{base}/report/incassi/xlsx?tabella=1"),
                &[StaffRole::Office],
            ),
            (format!("{base}/report/saldi"), &[StaffRole::Office]),
            (format!("{base}/report/saldi/csv"), &[StaffRole::Office]),
            (
                format!("{base}/report/saldi/xlsx?tabella=1"),
                &[StaffRole::Office],
            ),
            (
                format!("{base}/refettorio"),
                &[
                    StaffRole::CanteenStaff,
                    StaffRole::School,
                    StaffRole::Office,
                ],
            ),
        ];
        // The import from the previous vendor: the page, a template and a job's page.
        const OFFICE_ONLY: &[StaffRole] = &[StaffRole::Office];
        let job = {
            let mut h = t.db.acquire().await.unwrap();
            refettorio_db::import::insert_job(
                &mut h.conn(),
                tn.id,
                &refettorio_db::import::NewJob {
                    kind: "guardians",
                    file_name: "genitori.csv",
                    file_sha256: "00",
                    rows_total: 1,
                    created_by: "staff:1",
                },
                app.clock.now(),
            )
            .await
            .unwrap()
        };
        let gets: Vec<(String, &[StaffRole])> = gets
            .into_iter()
            .chain([
                (format!("{base}/importazioni"), OFFICE_ONLY),
                (
                    format!("{base}/importazioni/modelli/genitori.csv"),
                    OFFICE_ONLY,
                ),
                (format!("{base}/importazioni/{job}"), OFFICE_ONLY),
            ])
            .collect();
        // POSTs that more roles than the office may make: (path, form, roles). At 8:00 the
        // day is not closed, so an allowed role passes the guard and gets the form's 422.
        // An enrolment of the demo school user's school (Rodari), so the school passes too.
        let enrolment = scalar(
            &t,
            "SELECT MIN(e.id) FROM enrolment e JOIN school s ON s.id = e.school_id \
             WHERE s.name = 'Scuola primaria Gianni Rodari'",
        )
        .await
        .to_string();
        // Its class: a 422 shows that class's list again, which a school sees only if its own.
        let enrolment_class = count_of(
            &t,
            &format!("SELECT class_id FROM enrolment WHERE id = {enrolment}"),
        )
        .await
        .to_string();
        let shared_posts: Vec<(String, Form, &[StaffRole], u16)> = vec![
            (
                format!("{base}/refettorio/correzione"),
                vec![
                    ("iscrizione", enrolment.clone()),
                    ("correzione", "assente".into()),
                    ("motivo", "prova dei ruoli".into()),
                    ("classe", enrolment_class.clone()),
                ],
                &[
                    StaffRole::CanteenStaff,
                    StaffRole::School,
                    StaffRole::Office,
                ],
                422,
            ),
            // Office-only forms sent empty: the office gets the field errors.
            (
                format!("{base}/impostazioni"),
                vec![],
                &[StaffRole::Office],
                422,
            ),
            (
                format!("{base}/contenuti/notizie"),
                vec![],
                &[StaffRole::Office],
                422,
            ),
            // The menu form sent without a file (not multipart).
            (
                format!("{base}/menu"),
                vec![("menu-titolo", "Menù".into())],
                &[StaffRole::Kitchen, StaffRole::Office],
                422,
            ),
            // The document form sent without a file (not multipart).
            (
                format!("{base}/contenuti/documenti"),
                vec![("documento-titolo", "Menù".into())],
                &[StaffRole::Office],
                422,
            ),
            (
                format!("{base}/pagopa/ricevute/1/riconcilia"),
                vec![],
                &[StaffRole::Office],
                422,
            ),
            // Withdrawing a menu that does not exist: the kitchen and the office are let in
            // and told so (404); the withdrawal itself is tested in office.rs.
            (
                format!("{base}/menu/999999/ritira"),
                vec![],
                &[StaffRole::Kitchen, StaffRole::Office],
                404,
            ),
        ];
        // (path, form, roles let in, what they get): the allowed roles' answer writes nothing.
        // The import's upload sent as a plain form (no file): the office gets 422.
        let shared_posts: Vec<(String, Form, &[StaffRole], u16)> = shared_posts
            .into_iter()
            .chain([
                (
                    format!("{base}/importazioni"),
                    vec![("tipo", "genitori".into()), ("azione", "prova".into())],
                    OFFICE_ONLY,
                    422,
                ),
                // The school's validation (the school only; the office reads the list): the
                // demo's Rodari enrolment is validated already, a report needs a reason.
                (
                    format!("{base}/scuola/iscrizioni/{enrolment}/conferma"),
                    vec![("classe", enrolment_class.clone())],
                    &[StaffRole::School][..],
                    422,
                ),
                (
                    format!("{base}/scuola/iscrizioni/{enrolment}/segnala"),
                    vec![("motivo", "  ".into())],
                    &[StaffRole::School][..],
                    422,
                ),
            ])
            .collect();
        let token = "ab".repeat(32);
        let news = scalar(&t, "SELECT MIN(id) FROM news").await;
        let document = scalar(&t, "SELECT MIN(id) FROM document WHERE family_id IS NULL").await;
        // Any other account (a transfer by number may cross services).
        let other_account = match scalar(&t, "SELECT MIN(id) FROM account").await {
            first if first != acc.get() => first,
            _ => scalar(&t, "SELECT MAX(id) FROM account").await,
        };
        let posts: Vec<(String, Vec<(&str, String)>)> = vec![
            (
                format!("{account}/pagamento"),
                vec![
                    ("pagamento-data", "2026-11-20".into()),
                    ("pagamento-importo", "10,00".into()),
                    ("pagamento-canale", "bonifico".into()),
                    ("pagamento-riferimento", "CRO-RUOLI".into()),
                ],
            ),
            (
                format!("{account}/rettifica"),
                vec![
                    ("rettifica-importo", "2,00".into()),
                    ("rettifica-causale", "prova dei ruoli".into()),
                    ("_modulo", token.clone()),
                ],
            ),
            // Withdrawing the demo's first news item and public document.
            (format!("{base}/contenuti/notizie/{news}/ritira"), vec![]),
            (
                format!("{base}/contenuti/documenti/{document}/ritira"),
                vec![],
            ),
            (
                format!("{account}/rimborso"),
                vec![
                    ("rimborso-importo", "1,00".into()),
                    ("rimborso-causale", "prova dei ruoli".into()),
                    ("_modulo", token.clone()),
                ],
            ),
            (
                format!("{account}/giroconto"),
                vec![
                    ("giroconto-destinazione", other_account.to_string()),
                    ("giroconto-importo", "1,00".into()),
                    ("giroconto-causale", "prova dei ruoli".into()),
                    ("_modulo", token.clone()),
                ],
            ),
            (
                format!("{base}/chiusure"),
                vec![
                    ("ambito", "comune".into()),
                    ("dal", "2027-03-10".into()),
                    ("al", "2027-03-10".into()),
                    ("tipo", "strike".into()),
                    ("motivo", "prova dei ruoli".into()),
                    ("conferma", "1".into()),
                ],
            ),
        ];
        // People (pupils, families, guardians, enrolments) and the school's class lists.
        let mario = "(SELECT f.id FROM family f JOIN guardian g ON g.id = f.payer_id \
                     WHERE g.fiscal_code = 'RSSMRA80A01H501U')";
        let fam = count_of(&t, &format!("SELECT {mario}")).await;
        let giulia = scalar(
            &t,
            "SELECT id FROM guardian WHERE fiscal_code = 'BNCGLI82E61F205R'",
        )
        .await;
        let marios_enrolment = count_of(
            &t,
            &format!(
                "SELECT MIN(e.id) FROM enrolment e JOIN pupil p ON p.id = e.pupil_id \
                 JOIN service s ON s.id = e.service_id WHERE p.family_id = {mario} AND s.kind = 'refezione'"
            ),
        )
        .await;
        let rodari_class = scalar(
            &t,
            "SELECT MIN(k.id) FROM class k JOIN school s ON s.id = k.school_id \
             WHERE s.name = 'Scuola primaria Gianni Rodari'",
        )
        .await;
        let canteen = scalar(&t, "SELECT id FROM service WHERE kind = 'refezione'").await;
        let band = count_of(
            &t,
            &format!("SELECT MIN(id) FROM tariff_band WHERE service_id = {canteen}"),
        )
        .await;
        let new_pupil = {
            let mut h = t.db.acquire().await.unwrap();
            refettorio_db::registry::family::insert_pupil(
                &mut h.conn(),
                tn.id,
                &refettorio_db::registry::family::NewPupil {
                    family_id: refettorio_domain::FamilyId(fam),
                    fiscal_code: None,
                    first_name: "Prova".into(),
                    last_name: "Ruoli".into(),
                    birth_date: "2020-01-01".parse().unwrap(),
                },
            )
            .await
            .unwrap()
        };
        let cf = |s: &str, n: &str, d: &str, f: bool, p: &str| {
            refettorio_domain::CodiceFiscale::compute(s, n, d.parse().unwrap(), f, p)
                .unwrap()
                .as_str()
                .to_string()
        };
        let people = format!("{base}/persone");
        let change_field = |f: &str| format!("modifica-{marios_enrolment}-{f}");
        let (change_day, change_diet, change_reason) = (
            change_field("decorrenza"),
            change_field("dieta"),
            change_field("motivo"),
        );
        let gets: Vec<(String, &[StaffRole])> = gets
            .into_iter()
            .chain([
                (people.clone(), OFFICE_ONLY),
                (format!("{people}?q=Rossi"), OFFICE_ONLY),
                (format!("{people}?q=ESE-0001"), OFFICE_ONLY),
                (format!("{people}/famiglie/{fam}"), OFFICE_ONLY),
                (format!("{people}/genitori/{giulia}"), OFFICE_ONLY),
                (format!("{people}/alunni/{new_pupil}"), OFFICE_ONLY),
                (
                    format!("{base}/scuola"),
                    &[StaffRole::School, StaffRole::Office][..],
                ),
                (
                    format!("{base}/scuola/classi/{rodari_class}"),
                    &[StaffRole::School, StaffRole::Office][..],
                ),
            ])
            .collect();
        let posts: Vec<(String, Vec<(&str, String)>)> = posts
            .into_iter()
            .chain([
                (
                    format!("{people}/famiglie"),
                    vec![
                        (
                            "famiglia-codice-fiscale",
                            cf("Verdi", "Anna", "1985-03-10", true, "F205"),
                        ),
                        ("famiglia-nome", "Anna".into()),
                        ("famiglia-cognome", "Verdi".into()),
                        ("famiglia-residente", "1".into()),
                    ],
                ),
                (
                    format!("{people}/famiglie/{fam}/alunni"),
                    vec![
                        ("alunno-nome", "Sara".into()),
                        ("alunno-cognome", "Rossi".into()),
                        ("alunno-nascita", "2021-02-03".into()),
                    ],
                ),
                (
                    format!("{people}/alunni/{new_pupil}"),
                    vec![
                        ("alunno-nome", "Prova".into()),
                        ("alunno-cognome", "Ruoli Due".into()),
                        ("alunno-nascita", "2020-01-01".into()),
                    ],
                ),
                (
                    format!("{people}/alunni/{new_pupil}/iscrizioni"),
                    vec![
                        ("iscrizione-servizio", canteen.to_string()),
                        ("iscrizione-classe", rodari_class.to_string()),
                        ("iscrizione-fascia", band.to_string()),
                        ("iscrizione-inizio", "2026-11-24".into()),
                        ("iscrizione-tessera", "RUOLI-1".into()),
                    ],
                ),
                (
                    format!("{people}/iscrizioni/{marios_enrolment}/modifiche"),
                    vec![
                        (change_day.as_str(), "2026-11-26".into()),
                        (change_diet.as_str(), "nessuna".into()),
                        (change_reason.as_str(), "prova dei ruoli".into()),
                    ],
                ),
                (
                    format!("{people}/genitori/{giulia}"),
                    vec![
                        ("genitore-codice-fiscale", "BNCGLI82E61F205R".into()),
                        ("genitore-nome", "Giulia".into()),
                        ("genitore-cognome", "Bianchi".into()),
                        ("genitore-telefono", "+39 333 1234567".into()),
                    ],
                ),
                (
                    format!("{people}/famiglie/{fam}/delegati"),
                    vec![
                        (
                            "delegato-codice-fiscale",
                            cf("Neri", "Paolo", "1980-05-05", false, "H501"),
                        ),
                        ("delegato-nome", "Paolo".into()),
                        ("delegato-cognome", "Neri".into()),
                    ],
                ),
                (
                    format!("{people}/famiglie/{fam}/intestatario"),
                    vec![("payer-intestatario", giulia.to_string())],
                ),
            ])
            .collect();
        // The registry of the service's structure (office only): registry_routes.
        let (registry_gets, registry_posts) = registry_routes(&t, base).await;
        let gets: Vec<(String, &[StaffRole])> = gets.into_iter().chain(registry_gets).collect();
        let posts: Vec<(String, Vec<(&str, String)>)> =
            posts.into_iter().chain(registry_posts).collect();
        let mut whos: Vec<Who> = vec![Who::Nobody, Who::Parent, Who::OtherTenant];
        // The office last: its POSTs are the ones that write.
        whos.extend(
            DEMO_STAFF
                .iter()
                .rev()
                .map(|&(_, _, _, role)| Who::Staff(role)),
        );
        assert!(matches!(whos.last(), Some(Who::Staff(StaffRole::Office))));
        for who in &whos {
            let client = browser();
            let csrf = match who {
                Who::Nobody => "0".repeat(64),
                Who::Parent => {
                    let r = login(&app, &client, DEMO_PARENT_CF, DEMO_PARENT_PASSWORD).await;
                    assert_eq!(r.status(), 303);
                    csrf_of(&page(&client, &app, "/t/esempio/area-personale").await.1)
                }
                Who::OtherTenant => other_tenants_office(&t, &app, &client).await,
                Who::Staff(role) => {
                    let (user, pw, _, _) = DEMO_STAFF.iter().find(|s| s.3 == *role).unwrap();
                    assert_eq!(login(&app, &client, user, pw).await.status(), 303);
                    let (status, html) = page(&client, &app, base).await;
                    assert_eq!(status, 200, "{}", who.name());
                    assert!(html.contains(role.label_it()), "{html}");
                    csrf_of(&html)
                }
            };
            let expect = |allowed: &[StaffRole]| match who {
                Who::Staff(r) if allowed.contains(r) => 200,
                Who::Staff(_) | Who::Parent => 403,
                Who::Nobody | Who::OtherTenant => 303,
            };
            for (path, allowed) in &gets {
                let r = client.get(app.url(path)).send().await.unwrap();
                let want = expect(allowed);
                assert_eq!(r.status().as_u16(), want, "GET {path} as {}", who.name());
                if want == 303 {
                    let to = r.headers()["location"].to_str().unwrap();
                    assert!(to.starts_with("/t/esempio/accedi?next="), "{to}");
                }
                let html = r.text().await.unwrap();
                if want != 200 {
                    // Never a name or an amount of the municipality's families.
                    assert!(!html.contains("Rossi"), "GET {path} as {}", who.name());
                }
            }
            for (path, form) in &posts {
                let before = written(&t).await;
                let mut fields: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                fields.push(("_csrf", csrf.as_str()));
                let r = post(&client, &app, path, &fields).await;
                let status = r.status().as_u16();
                match who {
                    Who::Staff(StaffRole::Office) => {
                        assert_eq!(status, 303, "POST {path}: {}", r.text().await.unwrap());
                        assert_ne!(written(&t).await, before, "POST {path}");
                    }
                    Who::Staff(_) | Who::Parent => {
                        assert_eq!(status, 403, "POST {path} as {}", who.name());
                        assert_eq!(written(&t).await, before, "POST {path} as {}", who.name());
                    }
                    Who::Nobody | Who::OtherTenant => {
                        assert_eq!(status, 303, "POST {path} as {}", who.name());
                        let to = r.headers()["location"].to_str().unwrap();
                        assert!(to.starts_with("/t/esempio/accedi"), "{to}");
                        assert_eq!(written(&t).await, before, "POST {path} as {}", who.name());
                    }
                }
            }
            for (path, form, allowed, allowed_status) in &shared_posts {
                let before = written(&t).await;
                let mut fields: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                fields.push(("_csrf", csrf.as_str()));
                let r = post(&client, &app, path, &fields).await;
                let want = match who {
                    Who::Staff(r) if allowed.contains(r) => *allowed_status,
                    Who::Staff(_) | Who::Parent => 403,
                    Who::Nobody | Who::OtherTenant => 303,
                };
                assert_eq!(r.status().as_u16(), want, "POST {path} as {}", who.name());
                assert_eq!(written(&t).await, before, "POST {path} as {}", who.name());
            }
            // A form of the office without its CSRF token: 403, nothing written.
            if matches!(who, Who::Staff(StaffRole::Office)) {
                let before = written(&t).await;
                let r = post(
                    &client,
                    &app,
                    format!("{account}/rettifica"),
                    &[
                        ("rettifica-importo", "2,00"),
                        ("rettifica-causale", "senza token"),
                        ("_modulo", &"cd".repeat(32)),
                    ],
                )
                .await;
                assert_eq!(r.status(), 403);
                assert_eq!(written(&t).await, before);
            }
        }
        // 45,00 + 10,00 + 2,00 - 1,00 - 1,00 for the office's four forms.
        assert_eq!(balance(&t, &tn, acc).await, Cents(5500));
        app.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_office_changes_balances_once_with_reasons() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (tn, acc) = crate::common::marios_account(&t).await;
        let client = browser();
        let r = login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/t/esempio/backoffice");
        let (status, home) = page(&client, &app, "/t/esempio/backoffice").await;
        assert_eq!(status, 200);
        assert!(home.contains("Conti delle famiglie") && home.contains("Registro delle modifiche"));

        // Search by the pupil's or the payer's name: the family and its balance.
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/conti?q=rossi+mario").await;
        assert_eq!(status, 200);
        assert!(html.contains(DEMO_PARENT_CF), "{html}");
        assert!(html.contains(&format!("/backoffice/conti/{acc}")), "{html}");
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/conti?q=x").await;
        assert_eq!(status, 422);
        assert!(html.contains("almeno due caratteri") && html.contains("aria-invalid"));

        let path = format!("/t/esempio/backoffice/conti/{acc}");
        let (status, html) = page(&client, &app, &path).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("45,00"), "{html}");
        let csrf = csrf_of(&html);
        let start = balance(&t, &tn, acc).await;

        // A payment received elsewhere: credited, then the same proof again is refused.
        let payment = [
            ("pagamento-data", "2026-11-20"),
            ("pagamento-importo", "25,50"),
            ("pagamento-canale", "bonifico"),
            ("pagamento-riferimento", "CRO 123456"),
            ("pagamento-note", "ricevuta allo sportello"),
            ("_csrf", csrf.as_str()),
        ];
        let r = post(&client, &app, format!("{path}/pagamento"), &payment).await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{path}?esito=pagamento")
        );
        assert_eq!(balance(&t, &tn, acc).await, Cents(start.get() + 2550));
        let before = written(&t).await;
        let r = post(&client, &app, format!("{path}/pagamento"), &payment).await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(html.contains("già stato registrato"), "{html}");
        assert!(
            html.contains("aria-describedby=\"pagamento-riferimento-error\""),
            "{html}"
        );
        assert_eq!(written(&t).await, before);
        assert_eq!(balance(&t, &tn, acc).await, Cents(start.get() + 2550));

        // An adjustment submitted twice with the same form: credited once, audited once.
        let (_, html) = page(&client, &app, &path).await;
        let token = hidden(&html, "_modulo", 0);
        let adjustment = [
            ("rettifica-importo", "-3,20"),
            (
                "rettifica-causale",
                "pasto addebitato per errore il 2 novembre",
            ),
            ("_modulo", token.as_str()),
            ("_csrf", csrf.as_str()),
        ];
        let r = post(&client, &app, format!("{path}/rettifica"), &adjustment).await;
        assert_eq!(r.status(), 303);
        let after_first = written(&t).await;
        let r = post(&client, &app, format!("{path}/rettifica"), &adjustment).await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{path}?esito=ripetuto")
        );
        assert_eq!(written(&t).await, after_first);
        assert_eq!(balance(&t, &tn, acc).await, Cents(start.get() + 2550 - 320));
        let (_, html) = page(&client, &app, &format!("{path}?esito=ripetuto")).await;
        assert!(html.contains("non è stata ripetuta"), "{html}");
        assert!(
            html.contains("Rettifica: pasto addebitato per errore"),
            "{html}"
        );
        // A fresh page gives a fresh form: another adjustment is a new entry.
        assert_ne!(hidden(&html, "_modulo", 0), token);

        // Bad input: 422, Italian messages by field, nothing written.
        let before = written(&t).await;
        let token = hidden(&html, "_modulo", 1);
        for (amount, reason, needle) in [
            ("5,00", "  ", "Indica il motivo"),
            ("abc", "motivo", "al massimo due decimali"),
            ("12,345", "motivo", "al massimo due decimali"),
            ("-5,00", "motivo", "senza segno"),
            ("500,00", "motivo", "supera il credito del conto"),
        ] {
            let r = post(
                &client,
                &app,
                format!("{path}/rimborso"),
                &[
                    ("rimborso-importo", amount),
                    ("rimborso-causale", reason),
                    ("_modulo", token.as_str()),
                    ("_csrf", csrf.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status(), 422, "{amount} {reason:?}");
            let html = r.text().await.unwrap();
            assert!(html.contains(needle), "{amount}: {html}");
            assert!(html.contains("aria-invalid=\"true\""), "{amount}");
            // The form comes back as typed, with the same token.
            assert!(html.contains(&format!("value=\"{amount}\"")), "{amount}");
            assert_eq!(hidden(&html, "_modulo", 1), token);
            assert_eq!(written(&t).await, before, "{amount}");
        }
        for (amount, reason) in [("", "motivo"), ("abc", ""), ("1,234", "x"), ("0", "x")] {
            let r = post(
                &client,
                &app,
                format!("{path}/rettifica"),
                &[
                    ("rettifica-importo", amount),
                    ("rettifica-causale", reason),
                    ("_modulo", &"ef".repeat(32)),
                    ("_csrf", csrf.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status(), 422, "{amount} {reason:?}");
            assert!(r.text().await.unwrap().contains("rettifica-importo-error"));
        }
        // A form token the page never gave: refused outright.
        let r = post(
            &client,
            &app,
            format!("{path}/rettifica"),
            &[
                ("rettifica-importo", "1,00"),
                ("rettifica-causale", "x"),
                ("_modulo", "fatto-a-mano"),
                ("_csrf", csrf.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status(), 403);
        assert_eq!(written(&t).await, before);

        // A refund within the credit.
        let r = post(
            &client,
            &app,
            format!("{path}/rimborso"),
            &[
                ("rimborso-importo", "10"),
                (
                    "rimborso-causale",
                    "rimborso su IBAN IT60X0542811101000000123456",
                ),
                ("_modulo", token.as_str()),
                ("_csrf", csrf.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            balance(&t, &tn, acc).await,
            Cents(start.get() + 2550 - 320 - 1000)
        );

        // The audit log: newest first, with the reasons; filtered by action.
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/registro").await;
        assert_eq!(status, 200);
        let refund = html.find("rimborso su IBAN").expect(&html);
        let adjustment = html.find("pasto addebitato per errore").unwrap();
        assert!(refund < adjustment);
        assert!(html.contains("Ufficio Scuola"), "{html}");
        let (_, html) = page(
            &client,
            &app,
            "/t/esempio/backoffice/registro?azione=adjustment&dal=2026-11-23&al=2026-11-23",
        )
        .await;
        assert!(html.contains("pasto addebitato") && !html.contains("rimborso su IBAN"));
        let (_, html) = page(
            &client,
            &app,
            "/t/esempio/backoffice/registro?azione=adjustment&dal=2026-11-24",
        )
        .await;
        assert!(html.contains("Nessuna modifica"), "{html}");
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/registro?dal=ieri").await;
        assert_eq!(status, 422);
        assert!(html.contains("Data non valida"));

        // No held pagoPA receipt in the demo.
        let (status, html) = page(&client, &app, "/t/esempio/backoffice/pagopa/ricevute").await;
        assert_eq!(status, 200);
        assert!(html.contains("Nessuna ricevuta da verificare"));
        app.stop().await;
        t.cleanup().await;
    }
}

/// A municipality with one class of its own: its class id.
async fn foreign_class(t: &TestDb, app: &App) -> i64 {
    use refettorio_db::registry::{calendar, school};
    let mut h = t.db.acquire().await.unwrap();
    let c = &mut h.conn();
    let id = another_tenant(c, app, "straniero", "Comune di Straniero", "8000333344").await;
    let d = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
    let year = calendar::insert_school_year(
        c,
        id,
        &calendar::NewSchoolYear {
            label: "2026/2027".into(),
            starts_on: d("2026-09-01"),
            ends_on: d("2027-08-31"),
            first_day: d("2026-09-14"),
            last_day: d("2027-06-08"),
        },
    )
    .await
    .unwrap();
    let sc = school::insert_school(
        c,
        id,
        &school::NewSchool {
            name: "Scuola straniera".into(),
            kind: refettorio_domain::SchoolKind::Primaria,
            address: "Via Altrove 1".into(),
            kitchen_email: None,
        },
    )
    .await
    .unwrap();
    school::insert_class(
        c,
        id,
        &school::NewClass {
            school_year_id: year,
            school_id: sc,
            name: "1Z".into(),
            canteen_weekdays: refettorio_domain::Weekdays::MON_FRI,
        },
    )
    .await
    .unwrap()
    .get()
}

async fn forecast_total(t: &TestDb, tn: &Tenant, day: &str) -> u32 {
    refettorio_app::kitchen::kitchen_numbers(
        refettorio_app::Ctx::new(
            &t.db,
            &refettorio_domain::SystemClock,
            tn,
            refettorio_domain::Actor::Close,
        ),
        day.parse().unwrap(),
    )
    .await
    .unwrap()
    .total
    .total
}

/// The number in the element with `id` of a page.
fn number_in(html: &str, id: &str) -> u64 {
    let marker = format!("id=\"{id}\">");
    let start = html.find(&marker).expect(id) + marker.len();
    html[start..].split('<').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_closure_is_previewed_then_cancels_its_meals() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (tn, _) = crate::common::marios_account(&t).await;
        let other_class = foreign_class(&t, &app).await;
        let client = browser();
        let r = login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD).await;
        assert_eq!(r.status(), 303);
        let path = "/t/esempio/backoffice/chiusure";
        let (status, html) = page(&client, &app, path).await;
        assert_eq!(status, 200, "{html}");
        let csrf = csrf_of(&html);
        // The first school of the list.
        let school = hidden_option(&html, "scuola-");
        let tomorrow = "2026-11-24";
        let before = forecast_total(&t, &tn, tomorrow).await;
        let written_before = written(&t).await;
        let closures_before = scalar(&t, "SELECT COUNT(*) FROM closure").await;
        let form = |confirm: bool| {
            let mut f = vec![
                ("ambito", school.clone()),
                ("dal", tomorrow.to_string()),
                ("al", tomorrow.to_string()),
                ("tipo", "strike".to_string()),
                ("motivo", "Sciopero del personale".to_string()),
                ("_csrf", csrf.clone()),
            ];
            if confirm {
                f.push(("conferma", "1".into()));
            }
            f
        };
        let as_refs = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
        let fields = as_refs(&form(false));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, path, &pairs).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Anteprima") && html.contains("Conferma"),
            "{html}"
        );
        let n = number_in(&html, "anteprima-pasti");
        let families = number_in(&html, "anteprima-famiglie");
        assert!(n > 0 && families > 0 && families <= n, "{n} {families}");
        // The preview wrote nothing.
        assert_eq!(written(&t).await, written_before);

        // A family whose pupils of this school are all booked absent tomorrow is not touched:
        // the preview counts one family and its meals fewer.
        let school_id = school.trim_start_matches("scuola-");
        let in_school = format!(
            "FROM enrolment e JOIN pupil p ON p.tenant_id = e.tenant_id AND p.id = e.pupil_id \
             JOIN class k ON k.tenant_id = e.tenant_id AND k.id = e.class_id \
             WHERE k.school_id = {school_id} AND e.state = 'attivo'"
        );
        let family = scalar(&t, &format!("SELECT MIN(p.family_id) {in_school}")).await;
        let absent = scalar(
            &t,
            &format!("SELECT COUNT(*) {in_school} AND p.family_id = {family}"),
        )
        .await;
        assert!(absent > 0);
        let book = format!(
            "INSERT INTO booking (tenant_id, enrolment_id, day, choice, changed_at, changed_by) \
             SELECT e.tenant_id, e.id, '{tomorrow}', 'absent', 0, 'test' {in_school} \
             AND p.family_id = {family}"
        );
        crate::common::exec(&t, &book, &book).await;
        let r = post(&client, &app, path, &pairs).await;
        let html = r.text().await.unwrap();
        assert_eq!(
            number_in(&html, "anteprima-pasti"),
            n - u64::try_from(absent).unwrap()
        );
        assert_eq!(number_in(&html, "anteprima-famiglie"), families - 1);
        let unbook =
            format!("DELETE FROM booking WHERE changed_by = 'test' AND day = '{tomorrow}'");
        crate::common::exec(&t, &unbook, &unbook).await;
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM closure").await,
            closures_before
        );

        // A Sunday has no canteen: the preview says the closure touches no meal and offers no
        // Conferma, and a confirmation sent anyway is refused, writing nothing.
        let sunday: Vec<(&str, String)> = form(false)
            .into_iter()
            .map(|(k, v)| match k {
                "dal" | "al" => (k, "2026-11-29".to_string()),
                _ => (k, v),
            })
            .collect();
        let pairs_sunday: Vec<(&str, &str)> =
            sunday.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, path, &pairs_sunday).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("non tocca nessun pasto"), "{html}");
        assert!(!html.contains(">Conferma<"), "{html}");
        let mut confirmed = pairs_sunday.clone();
        confirmed.push(("conferma", "1"));
        let r = post(&client, &app, path, &confirmed).await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(html.contains("nulla da confermare"), "{html}");
        assert_eq!(written(&t).await, written_before);
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM closure").await,
            closures_before
        );

        let fields = as_refs(&form(true));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = post(&client, &app, path, &pairs).await;
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(to, format!("{path}?annullati={n}&stornati=0"));
        let (_, html) = page(&client, &app, &to).await;
        assert!(
            html.contains(&format!("{n} pasti annullati, 0 addebiti stornati")),
            "{html}"
        );
        assert!(html.contains("Sciopero del personale"));
        assert_eq!(
            forecast_total(&t, &tn, tomorrow).await,
            before - u32::try_from(n).unwrap()
        );
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM closure").await,
            closures_before + 1
        );
        // Each family it touches is told (on its channels, or a row saying it has none).
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(DISTINCT family_id) FROM outbox WHERE kind = 'closure'"
            )
            .await,
            i64::try_from(families).unwrap()
        );
        // The kitchen sees the same forecast, and its CSV.
        let kitchen = browser();
        let (user, pw, _, _) = DEMO_STAFF
            .iter()
            .find(|s| s.3 == StaffRole::Kitchen)
            .unwrap();
        assert_eq!(login(&app, &kitchen, user, pw).await.status(), 303);
        let (status, html) = page(
            &kitchen,
            &app,
            &format!("/t/esempio/backoffice/cucina?giorno={tomorrow}"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(html.contains("Previsione") && !html.contains("Definitivo"));
        assert_eq!(
            number_in(&html, "totale-pasti"),
            u64::from(before) - n,
            "{html}"
        );
        assert!(!html.contains("Rossi") && !html.contains('€'), "{html}");
        // Every diet code of the service, for the kitchen's reference.
        let code = crate::common::text(&t, "SELECT MAX(code) FROM diet").await;
        assert!(
            html.contains("Tutti i codici dieta") && html.contains(&format!(">{code}</th>")),
            "{html}"
        );
        let r = kitchen
            .get(app.url(&format!(
                "/t/esempio/backoffice/cucina/csv?giorno={tomorrow}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("pasti-2026-11-24.csv")
        );
        let (status, html) = page(&kitchen, &app, "/t/esempio/backoffice/cucina?giorno=ieri").await;
        assert_eq!(status, 422);
        assert!(html.contains("giorno-error"));
        let (status, _) = page(&kitchen, &app, path).await;
        assert_eq!(status, 403);

        // Bad input: 422 with the field's message, nothing written.
        let written_before = written(&t).await;
        let unknown = "classe-999999".to_string();
        let foreign = format!("classe-{other_class}");
        for (scope, from, to, needle, field) in [
            (
                school.as_str(),
                "2026-11-27",
                "2026-11-25",
                "prima di quella iniziale",
                "al",
            ),
            (
                unknown.as_str(),
                "2026-11-25",
                "2026-11-25",
                "dove vale la chiusura",
                "ambito",
            ),
            (
                foreign.as_str(),
                "2026-11-25",
                "2026-11-25",
                "dove vale la chiusura",
                "ambito",
            ),
            ("comune", "ieri", "2026-11-25", "Data non valida", "dal"),
            (
                "comune",
                "2027-09-10",
                "2027-09-10",
                "anno scolastico",
                "dal",
            ),
        ] {
            for confirm in ["", "1"] {
                let r = post(
                    &client,
                    &app,
                    path,
                    &[
                        ("ambito", scope),
                        ("dal", from),
                        ("al", to),
                        ("tipo", "trip"),
                        ("motivo", "gita"),
                        ("conferma", confirm),
                        ("_csrf", csrf.as_str()),
                    ],
                )
                .await;
                assert_eq!(r.status(), 422, "{scope} {from} {to}");
                let html = r.text().await.unwrap();
                assert!(html.contains(needle), "{needle}: {html}");
                assert!(
                    html.contains(&format!("aria-describedby=\"{field}-error\"")),
                    "{field}"
                );
            }
        }
        // No reason, no kind.
        let r = post(
            &client,
            &app,
            path,
            &[
                ("ambito", "comune"),
                ("dal", "2026-11-25"),
                ("al", "2026-11-25"),
                ("tipo", "vacanza"),
                ("motivo", " "),
                ("conferma", "1"),
                ("_csrf", csrf.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(html.contains("tipo-error") && html.contains("motivo-error"));
        // Without the CSRF token: 403.
        let r = post(
            &client,
            &app,
            path,
            &[
                ("ambito", "comune"),
                ("dal", "2026-11-25"),
                ("al", "2026-11-25"),
                ("tipo", "strike"),
                ("motivo", "x"),
                ("conferma", "1"),
            ],
        )
        .await;
        assert_eq!(r.status(), 403);
        assert_eq!(written(&t).await, written_before);
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM closure").await,
            closures_before + 1
        );

        // A closure of a class for today, after the close: its charges are reversed.
        app.clock.set("2026-11-23T11:00:00Z".parse().unwrap());
        let today = "2026-11-23";
        refettorio_app::close::close(
            refettorio_app::Ctx::new(
                &t.db,
                app.clock.as_ref(),
                &tn,
                refettorio_domain::Actor::Close,
            ),
            today.parse().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(
            login(&app, &client, DEMO_OFFICE_USER, DEMO_OFFICE_PASSWORD)
                .await
                .status(),
            303
        );
        let (_, html) = page(&client, &app, path).await;
        let csrf = csrf_of(&html);
        let class = hidden_option(&html, "classe-");
        let final_before = forecast_total(&t, &tn, today).await;
        let mut form = vec![
            ("ambito", class.as_str()),
            ("dal", today),
            ("al", today),
            ("tipo", "school_closed"),
            ("motivo", "Guasto al riscaldamento"),
            ("_csrf", csrf.as_str()),
        ];
        let r = post(&client, &app, path, &form).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        let charged = number_in(&html, "anteprima-stornati");
        assert_eq!(number_in(&html, "anteprima-pasti"), 0);
        assert!(charged > 0);
        form.push(("conferma", "1"));
        let r = post(&client, &app, path, &form).await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{path}?annullati=0&stornati={charged}")
        );
        assert_eq!(
            forecast_total(&t, &tn, today).await,
            final_before - u32::try_from(charged).unwrap()
        );
        app.stop().await;
        t.cleanup().await;
    }
}

/// The first `<option value="<prefix>…">` of a page.
fn hidden_option(html: &str, prefix: &str) -> String {
    let marker = format!("<option value=\"{prefix}");
    let start = html.find(&marker).expect(prefix) + "<option value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn canteen_staff_correct_a_closed_day_once() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (tn, _) = crate::common::marios_account(&t).await;
        let client = browser();
        let (user, pw, _, _) = DEMO_STAFF
            .iter()
            .find(|s| s.3 == StaffRole::CanteenStaff)
            .unwrap();
        assert_eq!(login(&app, &client, user, pw).await.status(), 303);
        let path = "/t/esempio/backoffice/refettorio";
        let (status, html) = page(&client, &app, path).await;
        assert_eq!(status, 200, "{html}");
        let class = hidden_option(&html, "");
        let list = format!("{path}?classe={class}");
        // Before the close: the list, no correction buttons.
        let (status, html) = page(&client, &app, &list).await;
        assert_eq!(status, 200);
        assert!(!html.contains("name=\"correzione\""), "{html}");
        assert!(!html.contains('€'));

        // After the cut-off the day is closed; the list offers corrections.
        app.clock.set("2026-11-23T11:00:00Z".parse().unwrap());
        let today = "2026-11-23".parse().unwrap();
        let closed = refettorio_app::close::close(
            refettorio_app::Ctx::new(
                &t.db,
                app.clock.as_ref(),
                &tn,
                refettorio_domain::Actor::Close,
            ),
            today,
        )
        .await
        .unwrap();
        assert!(closed.charged > 0);
        // Hours later: the session has expired, log in again.
        assert_eq!(login(&app, &client, user, pw).await.status(), 303);
        let (status, html) = page(&client, &app, &list).await;
        assert_eq!(status, 200);
        let csrf = csrf_of(&html);
        let enrolment = hidden(&html, "iscrizione", 0);
        assert!(html.contains("value=\"assente\""), "{html}");
        let reversals = "SELECT COUNT(*) FROM ledger_entry WHERE kind = 'reversal'";
        let before = scalar(&t, reversals).await;
        let frozen = forecast_total(&t, &tn, "2026-11-23").await;
        let form = [
            ("iscrizione", enrolment.as_str()),
            ("correzione", "assente"),
            ("motivo", "Uscito prima del pranzo"),
            ("classe", class.as_str()),
            ("_csrf", csrf.as_str()),
        ];
        let r = post(
            &client,
            &app,
            "/t/esempio/backoffice/refettorio/correzione",
            &form,
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{list}&esito=corretto")
        );
        assert_eq!(scalar(&t, reversals).await, before + 1);
        assert_eq!(forecast_total(&t, &tn, "2026-11-23").await, frozen - 1);
        let (_, html) = page(&client, &app, &format!("{list}&esito=corretto")).await;
        assert!(html.contains("Correzione registrata"));
        // The same POST again: refused with the reason, nothing written.
        let written_before = written(&t).await;
        let r = post(
            &client,
            &app,
            "/t/esempio/backoffice/refettorio/correzione",
            &form,
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(html.contains("già assente"), "{html}");
        assert!(html.contains(&format!("motivo-{enrolment}-error")));
        assert_eq!(written(&t).await, written_before);
        // No reason, an unknown enrolment, another class of a municipality: nothing written.
        let r = post(
            &client,
            &app,
            "/t/esempio/backoffice/refettorio/correzione",
            &[
                ("iscrizione", enrolment.as_str()),
                ("correzione", "presente"),
                ("motivo", " "),
                ("classe", class.as_str()),
                ("_csrf", csrf.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        for (id, what) in [("999999", "presente"), (enrolment.as_str(), "boh")] {
            let r = post(
                &client,
                &app,
                "/t/esempio/backoffice/refettorio/correzione",
                &[
                    ("iscrizione", id),
                    ("correzione", what),
                    ("motivo", "x"),
                    ("classe", class.as_str()),
                    ("_csrf", csrf.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status(), 403, "{id} {what}");
        }
        let other_class = foreign_class(&t, &app).await;
        let (status, _) = page(&client, &app, &format!("{path}?classe={other_class}")).await;
        assert_eq!(status, 404);
        assert_eq!(written(&t).await, written_before);
        app.stop().await;
        t.cleanup().await;
    }
}

/// A number read with a query built by the test (the route table's ids).
async fn count_of(t: &TestDb, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    let mut h = t.db.acquire().await.unwrap();
    match &mut h.conn() {
        refettorio_db::Conn::Postgres(c) => {
            sqlx::query_scalar(sql).fetch_one(&mut **c).await.unwrap()
        }
        refettorio_db::Conn::Sqlite(c) => {
            sqlx::query_scalar(sql).fetch_one(&mut **c).await.unwrap()
        }
    }
}

/// The registry's routes for the route × role table: its pages (office only) and forms that
/// the office fills correctly (each writes and is audited), on rows made for them (a school, a
/// class, a year with its services, bands, a reduction, diets), so the demo stays as it is.
async fn registry_routes(
    t: &TestDb,
    base: &str,
) -> (Vec<(String, &'static [StaffRole])>, Vec<(String, Form)>) {
    use refettorio_db::registry::{calendar, school, service};
    use refettorio_domain::{Billing, DietKind, Residency, SchoolKind, ServiceKind, Weekdays};
    let tn = {
        let mut h = t.db.acquire().await.unwrap();
        tenant::by_slug(&mut h.conn(), "esempio")
            .await
            .unwrap()
            .unwrap()
    };
    let demo_school = scalar(t, "SELECT MIN(school_id) FROM enrolment").await;
    let demo_class = scalar(t, "SELECT MIN(class_id) FROM enrolment").await;
    let demo_service = scalar(t, "SELECT MIN(service_id) FROM enrolment").await;
    let demo_band = scalar(t, "SELECT MIN(tariff_band_id) FROM enrolment").await;
    let demo_year = scalar(t, "SELECT MIN(id) FROM school_year").await;
    let demo_diet = scalar(t, "SELECT MIN(id) FROM diet").await;
    let mut h = t.db.acquire().await.unwrap();
    let c = &mut h.conn();
    let new_school = |name: &str| school::NewSchool {
        name: name.into(),
        kind: SchoolKind::Primaria,
        address: String::new(),
        kitchen_email: None,
    };
    let sc = school::insert_school(c, tn.id, &new_school("Scuola dei ruoli 1"))
        .await
        .unwrap();
    let sc_gone = school::insert_school(c, tn.id, &new_school("Scuola dei ruoli 2"))
        .await
        .unwrap();
    let year = calendar::insert_school_year(
        c,
        tn.id,
        &calendar::NewSchoolYear {
            label: "2030/2031".into(),
            starts_on: "2030-09-01".parse().unwrap(),
            ends_on: "2031-08-31".parse().unwrap(),
            first_day: "2030-09-16".parse().unwrap(),
            last_day: "2031-06-10".parse().unwrap(),
        },
    )
    .await
    .unwrap();
    let class = |name: &str| school::NewClass {
        school_year_id: year,
        school_id: sc,
        name: name.into(),
        canteen_weekdays: Weekdays::MON_FRI,
    };
    let k = school::insert_class(c, tn.id, &class("1A")).await.unwrap();
    let k_gone = school::insert_class(c, tn.id, &class("1B")).await.unwrap();
    let svc = service::insert_service(
        c,
        tn.id,
        year,
        ServiceKind::Trasporto,
        Billing::Postpaid,
        "Trasporto",
    )
    .await
    .unwrap();
    let band = |name: &str| service::NewTariffBand {
        name: name.into(),
        isee_min: Cents::ZERO,
        isee_max: None,
        residency: Residency::Any,
        meal_price: Cents(100),
        fixed_fee: Cents::ZERO,
        exempt: false,
    };
    let b = service::insert_band(c, tn.id, svc, &band("Unica"))
        .await
        .unwrap();
    let b_gone = service::insert_band(c, tn.id, svc, &band("Da togliere"))
        .await
        .unwrap();
    service::set_sibling_reduction(c, tn.id, svc, 5, 1000)
        .await
        .unwrap();
    let d = service::insert_diet(c, tn.id, "R01", "Ruoli", DietKind::Ethical)
        .await
        .unwrap();
    let d_gone = service::insert_diet(c, tn.id, "R02", "Ruoli 2", DietKind::Ethical)
        .await
        .unwrap();
    let r = format!("{base}/anagrafiche");
    let office: &'static [StaffRole] = &[StaffRole::Office];
    let gets = [
        r.clone(),
        format!("{r}/scuole"),
        format!("{r}/scuole/{demo_school}"),
        format!("{r}/classi/{demo_class}"),
        format!("{r}/anni"),
        format!("{r}/anni/{demo_year}"),
        format!("{r}/servizi"),
        format!("{r}/servizi?anno={}", year.get()),
        format!("{r}/servizi/{demo_service}"),
        format!("{r}/fasce/{demo_band}"),
        format!("{r}/diete"),
        format!("{r}/diete/{demo_diet}"),
    ]
    .into_iter()
    .map(|p| (p, office))
    .collect();
    let s = |v: &str| v.to_string();
    let posts: Vec<(String, Form)> = vec![
        (
            format!("{r}/scuole"),
            vec![
                ("nome", s("Scuola nuova dei ruoli")),
                ("tipo", s("infanzia")),
            ],
        ),
        (
            format!("{r}/scuole/{}", sc.get()),
            vec![
                ("nome-scuola", s("Scuola dei ruoli 1")),
                ("tipo", s("primaria")),
                ("indirizzo", s("Via dei ruoli 1")),
            ],
        ),
        (
            format!("{r}/scuole/{}/classi", sc.get()),
            vec![
                ("anno", year.get().to_string()),
                ("nome", s("2A")),
                ("lun", s("1")),
            ],
        ),
        (
            format!("{r}/classi/{}", k.get()),
            vec![("nome", s("1A")), ("sab", s("1"))],
        ),
        (format!("{r}/classi/{}/elimina", k_gone.get()), vec![]),
        (format!("{r}/scuole/{}/elimina", sc_gone.get()), vec![]),
        (
            format!("{r}/anni"),
            vec![
                ("nome", s("2031/2032")),
                ("inizio", s("2031-09-01")),
                ("primo-giorno", s("2031-09-15")),
                ("ultimo-giorno", s("2032-06-08")),
                ("fine", s("2032-08-31")),
            ],
        ),
        (
            format!("{r}/anni/{}", year.get()),
            vec![
                ("nome", s("2030/31")),
                ("inizio", s("2030-09-01")),
                ("primo-giorno", s("2030-09-16")),
                ("ultimo-giorno", s("2031-06-10")),
                ("fine", s("2031-08-31")),
            ],
        ),
        (
            format!("{r}/servizi"),
            vec![
                ("anno", year.get().to_string()),
                ("tipo", s("refezione")),
                ("pagamento", s("prepaid")),
                ("nome", s("Refezione")),
            ],
        ),
        (
            format!("{r}/servizi/{}", svc.get()),
            vec![
                ("nome-servizio", s("Trasporto scolastico")),
                ("pagamento", s("postpaid")),
            ],
        ),
        (
            format!("{r}/servizi/{}/fasce", svc.get()),
            vec![
                ("nome", s("Seconda")),
                ("residenza", s("any")),
                ("prezzo-pasto", s("1,50")),
            ],
        ),
        (
            format!("{r}/servizi/{}/riduzioni", svc.get()),
            vec![("dal-figlio", s("3")), ("percentuale", s("20"))],
        ),
        (
            format!("{r}/servizi/{}/riduzioni/5/elimina", svc.get()),
            vec![],
        ),
        (
            format!("{r}/fasce/{}", b.get()),
            vec![
                ("nome", s("Unica")),
                ("residenza", s("any")),
                ("prezzo-pasto", s("1,20")),
            ],
        ),
        (format!("{r}/fasce/{}/elimina", b_gone.get()), vec![]),
        (
            format!("{r}/diete"),
            vec![
                ("codice", s("R03")),
                ("nome", s("Ruoli 3")),
                ("tipo", s("ethical")),
            ],
        ),
        (
            format!("{r}/diete/{}", d.get()),
            vec![
                ("codice", s("R01")),
                ("nome", s("Ruoli uno")),
                ("tipo", s("ethical")),
            ],
        ),
        (format!("{r}/diete/{}/elimina", d_gone.get()), vec![]),
    ];
    (gets, posts)
}

#[tokio::test]
async fn another_municipalitys_ids_are_not_found_under_ones_own_address() {
    for t in TestDb::all().await.unwrap() {
        let app = spawn(&t, true).await;
        let (_, acc) = crate::common::marios_account(&t).await;
        let client = browser();
        // The office of "altro" (no data of its own) tries Esempio's ids under /t/altro.
        let csrf = other_tenants_office(&t, &app, &client).await;
        let id = |table: &str| format!("SELECT MIN(id) FROM {table}");
        let mut ids = std::collections::HashMap::new();
        for table in [
            "family",
            "guardian",
            "pupil",
            "school",
            "class",
            "school_year",
            "service",
            "tariff_band",
            "diet",
            "enrolment",
            "news",
            "document",
        ] {
            ids.insert(table, scalar(&t, &id(table)).await);
        }
        let base = "/t/altro/backoffice";
        let gets = [
            format!("{base}/conti/{acc}"),
            format!("{base}/persone/famiglie/{}", ids["family"]),
            format!("{base}/persone/genitori/{}", ids["guardian"]),
            format!("{base}/persone/alunni/{}", ids["pupil"]),
            format!("{base}/anagrafiche/scuole/{}", ids["school"]),
            format!("{base}/anagrafiche/classi/{}", ids["class"]),
            format!("{base}/anagrafiche/anni/{}", ids["school_year"]),
            format!("{base}/anagrafiche/servizi/{}", ids["service"]),
            format!("{base}/anagrafiche/fasce/{}", ids["tariff_band"]),
            format!("{base}/anagrafiche/diete/{}", ids["diet"]),
            format!("{base}/scuola/classi/{}", ids["class"]),
        ];
        for path in &gets {
            let (status, html) = page(&client, &app, path).await;
            assert_eq!(status, 404, "GET {path}");
            assert!(!html.contains("Rossi"), "GET {path}");
        }
        // The class list of a class of Esempio: refused, never its pupils.
        let (status, html) = page(
            &client,
            &app,
            &format!("{base}/refettorio?classe={}", ids["class"]),
        )
        .await;
        assert!(status == 404 || status == 403, "{status}");
        assert!(!html.contains("Rossi"));

        let counts = async || {
            let mut n = Vec::new();
            for table in [
                "ledger_entry",
                "audit_log",
                "news",
                "document",
                "school",
                "class",
                "tariff_band",
                "diet",
                "family_delegate",
                "pupil",
                "enrolment",
                "enrolment_change",
            ] {
                n.push(scalar(&t, &format!("SELECT COUNT(*) FROM {table}")).await);
            }
            n
        };
        let before = counts().await;
        let token = "ef".repeat(32);
        let posts: Vec<(String, Vec<(&str, String)>)> = vec![
            (
                format!("{base}/conti/{acc}/rettifica"),
                vec![
                    ("rettifica-importo", "2,00".into()),
                    ("rettifica-causale", "da un altro Comune".into()),
                    ("_modulo", token.clone()),
                ],
            ),
            (
                format!("{base}/conti/{acc}/pagamento"),
                vec![
                    ("pagamento-data", "2026-11-20".into()),
                    ("pagamento-importo", "10,00".into()),
                    ("pagamento-canale", "bonifico".into()),
                    ("pagamento-riferimento", "CRO-ALTRO".into()),
                ],
            ),
            (
                format!("{base}/contenuti/notizie/{}/ritira", ids["news"]),
                vec![],
            ),
            (
                format!("{base}/contenuti/documenti/{}/ritira", ids["document"]),
                vec![],
            ),
            (format!("{base}/menu/{}/ritira", ids["document"]), vec![]),
            (
                format!("{base}/anagrafiche/scuole/{}/elimina", ids["school"]),
                vec![],
            ),
            (
                format!("{base}/anagrafiche/classi/{}/elimina", ids["class"]),
                vec![],
            ),
            (
                format!("{base}/anagrafiche/fasce/{}/elimina", ids["tariff_band"]),
                vec![],
            ),
            (
                format!("{base}/anagrafiche/diete/{}/elimina", ids["diet"]),
                vec![],
            ),
            (
                format!("{base}/persone/famiglie/{}/intestatario", ids["family"]),
                vec![("payer-intestatario", ids["guardian"].to_string())],
            ),
            (
                format!("{base}/scuola/iscrizioni/{}/conferma", ids["enrolment"]),
                vec![("classe", ids["class"].to_string())],
            ),
        ];
        for (path, form) in &posts {
            let mut fields: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fields.push(("_csrf", csrf.as_str()));
            let r = post(&client, &app, path, &fields).await;
            let status = r.status().as_u16();
            // Not found (or, for a school-only form, not for the office): never done.
            assert!(status == 404 || status == 403, "POST {path}: {status}");
            assert!(!r.text().await.unwrap().contains("Rossi"), "POST {path}");
            assert_eq!(counts().await, before, "POST {path}");
        }
        app.stop().await;
        t.cleanup().await;
    }
}
