use std::time::{Duration, Instant};

use jiff::civil::Date;
use refettorio_db::import::{ImportJob, JobStatus};
use refettorio_domain::{
    Billing, Cents, ClassId, CodiceFiscale, DietId, FamilyId, GuardianId, PupilId, SchoolId,
    SchoolYearId, ServiceId, ServiceKind, TariffBandId,
};

use super::kind::{BALANCE_COLUMNS, ENROLMENT_COLUMNS, GUARDIAN_COLUMNS};
use super::*;

mod read;

fn cf(last: &str, first: &str, y: i16, m: i8, d: i8) -> CodiceFiscale {
    CodiceFiscale::compute(last, first, Date::new(y, m, d).unwrap(), false, "H501").unwrap()
}

fn table(headers: &[&str], rows: &[&[&str]]) -> Table {
    Table {
        headers: headers.iter().map(|s| s.to_string()).collect(),
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i + 2, r.iter().map(|s| s.to_string()).collect()))
            .collect(),
    }
}

fn csv_of(sep: char, rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(sep as u8)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

#[test]
fn dates_years_and_yes_no() {
    let d = Date::new(2026, 9, 1).ok();
    for s in [
        "01/09/2026",
        "1/9/2026",
        "01-09-2026",
        "01.09.2026",
        "2026-09-01",
        "2026-09-01T00:00:00",
        "2026-09-01 00:00:00",
    ] {
        assert_eq!(parse_date(s), d, "{s}");
    }
    for s in [
        "31/02/2026",
        "2026/09/01",
        "01/09/26",
        "ieri",
        "",
        "2026-09-01x",
        "1/9/2026/1",
    ] {
        assert_eq!(parse_date(s), None, "{s}");
    }
    assert_eq!(parse_year("2026/2027").as_deref(), Some("2026/2027"));
    assert_eq!(parse_year("2026-2027").as_deref(), Some("2026/2027"));
    assert_eq!(parse_year("2026/27").as_deref(), Some("2026/2027"));
    assert_eq!(parse_year("2099/00").as_deref(), Some("2099/2100"));
    assert_eq!(parse_year("2026/2028"), None);
    assert_eq!(parse_year("26/27"), None);
    assert_eq!(parse_yes_no("Sì"), Some(true));
    assert_eq!(parse_yes_no("NO"), Some(false));
    assert_eq!(parse_yes_no("forse"), None);
    assert_eq!(
        parse_service("Refezione scolastica"),
        Some(ServiceKind::Refezione)
    );
    assert_eq!(parse_service("SCUOLABUS"), Some(ServiceKind::Trasporto));
    assert_eq!(parse_service("piscina"), None);
    assert_eq!(
        fold("  Scuola  dell’Infanzia   Città "),
        "scuola dell'infanzia citta"
    );
}

#[test]
fn headers_match_loosely_and_missing_columns_refuse_the_file() {
    let map = map_headers(
        ImportKind::Pupils,
        &[
            "codice FISCALE",
            "Extra",
            "cognome",
            "nome",
            "Data di  nascita",
            "Codice fiscale intestatario",
        ]
        .map(String::from),
    )
    .unwrap();
    assert_eq!(map, vec![Some(0), Some(2), Some(3), Some(4), Some(5)]);
    let err = map_headers(
        ImportKind::Pupils,
        &["Codice fiscale", "Nome"].map(String::from),
    )
    .unwrap_err();
    assert!(
        err.contains("«Cognome»") && err.contains("«Data di nascita»"),
        "{err}"
    );
    let err = map_headers(ImportKind::Pupils, &["Nome", "nome"].map(String::from)).unwrap_err();
    assert!(err.contains("più volte"), "{err}");
}

#[test]
fn every_bad_row_is_reported_with_its_number_and_reason() {
    let mario = cf("Rossi", "Mario", 1980, 1, 1);
    let h = [
        "Codice fiscale intestatario",
        "Servizio",
        "Anno scolastico",
        "Saldo",
        "Data",
        "Nota",
    ];
    let m = mario.as_str();
    let t = table(
        &h,
        &[
            &[m, "Refezione", "2026/2027", "10,00", "", ""],
            &["RSSMRA80A01H501X", "Refezione", "2026/2027", "1,00", "", ""],
            &[m, "Refezione", "2026/2027", "3,00", "", ""],
            &[m, "Trasporto", "2026/2027", "dieci", "", ""],
            &[m, "Piscina", "2026/2027", "1,00", "", ""],
            &[m, "Trasporto", "2026/2028", "1,00", "", ""],
            &["", "Trasporto", "2025/2026", "1,00", "", ""],
            &[m, "Trasporto", "2025/2026", "1,00", "31/02/2026", ""],
            &[m, "Trasporto", "2024/2025", "1,001", "", ""],
        ],
    );
    let (rows, errors) = parse(ImportKind::Balances, &t).unwrap();
    assert_eq!(rows.len(), 1);
    let rows_with_errors: Vec<usize> = errors.iter().map(|e| e.row).collect();
    assert_eq!(rows_with_errors, vec![3, 4, 5, 6, 7, 8, 9, 10]);
    let msg = |row: usize| -> String {
        errors
            .iter()
            .filter(|e| e.row == row)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(
        msg(3).contains("non valido") && msg(3).contains("controllo"),
        "{}",
        msg(3)
    );
    assert!(
        msg(4).contains("Duplicato nel file") && msg(4).contains("riga 2"),
        "{}",
        msg(4)
    );
    assert!(msg(5).contains("non è un importo valido"), "{}", msg(5));
    assert!(msg(6).contains("Servizio sconosciuto"), "{}", msg(6));
    assert!(msg(7).contains("Anno scolastico non valido"), "{}", msg(7));
    assert!(
        msg(8).contains("Manca il campo obbligatorio «Codice fiscale intestatario»"),
        "{}",
        msg(8)
    );
    assert!(msg(9).contains("non è una data valida"), "{}", msg(9));
    assert!(msg(10).contains("non è un importo valido"), "{}", msg(10));
}

#[test]
fn guardians_rows_check_email_isee_and_payer() {
    let mario = cf("Rossi", "Mario", 1980, 1, 1);
    let anna = cf("Bianchi", "Anna", 1982, 5, 21);
    let h: Vec<&str> = GUARDIAN_COLUMNS.iter().map(|c| c.header).collect();
    let (m, a) = (mario.as_str(), anna.as_str());
    let t = table(
        &h,
        &[
            &[a, "Bianchi", "Anna", "", "", "", "", "", m, "sì"],
            &[
                m,
                "Rossi",
                "Mario",
                "mario@example.org",
                "",
                "",
                "no",
                "8.000,00",
                "",
                "",
            ],
            &[m, "Rossi", "Mario", "", "", "", "", "", "", ""],
            &[
                a,
                "Bianchi",
                "Anna",
                "senza-chiocciola",
                "",
                "",
                "forse",
                "-1",
                a,
                "",
            ],
        ],
    );
    let (rows, errors) = parse(ImportKind::Guardians, &t).unwrap();
    let Rows::Guardians(rows) = rows else {
        panic!()
    };
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].payer.as_ref(), Some(&mario));
    assert!(rows[0].sees_payments);
    assert_eq!(rows[1].isee, Some(Cents(800_000)));
    assert!(!rows[1].resident);
    let messages: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.message.as_str())).collect();
    assert!(
        messages
            .iter()
            .any(|(r, m)| *r == 4 && m.contains("Duplicato")),
        "{messages:?}"
    );
    for needle in ["Email", "sì o no", "negativo", "persona stessa"] {
        assert!(
            messages.iter().any(|(r, m)| *r == 5 && m.contains(needle)),
            "{needle}: {messages:?}"
        );
    }
}

fn snapshot() -> (Snapshot, CodiceFiscale, CodiceFiscale) {
    let mario = cf("Rossi", "Mario", 1980, 1, 1);
    let luca = cf("Rossi", "Luca", 2018, 5, 10);
    let mut s = Snapshot::default();
    s.guardians.insert(mario.as_str().into(), GuardianId(1));
    s.payer_family.insert(GuardianId(1), FamilyId(10));
    s.pupils.insert(luca.as_str().into(), PupilId(100));
    s.years.insert("2026/2027".into(), SchoolYearId(5));
    s.services.insert(
        (SchoolYearId(5), ServiceKind::Refezione),
        (ServiceId(50), Billing::Prepaid),
    );
    s.schools
        .insert(fold("Scuola primaria Gianni Rodari"), SchoolId(7));
    s.classes
        .insert((SchoolYearId(5), SchoolId(7), fold("3 A")), ClassId(70));
    s.bands.insert(
        (ServiceId(50), fold("Fascia 3")),
        BandInfo {
            id: TariffBandId(500),
            meal_price: Cents(300),
            fixed_fee: Cents(0),
            exempt: false,
        },
    );
    s.diets.insert("d01".into(), DietId(9));
    (s, mario, luca)
}

#[test]
fn a_blank_price_gets_the_sibling_reduction_of_the_pupils_rank() {
    let (mut s, _, luca) = snapshot();
    // Luca (2018) has an elder brother enrolled already, and a younger sister in the file.
    let sara = cf("Rossi", "Sara", 2019, 3, 3);
    s.pupils.insert(sara.as_str().into(), PupilId(101));
    s.siblings
        .insert(PupilId(99), (FamilyId(10), jiff::civil::date(2016, 1, 1)));
    s.siblings
        .insert(PupilId(100), (FamilyId(10), jiff::civil::date(2018, 5, 10)));
    s.siblings
        .insert(PupilId(101), (FamilyId(10), jiff::civil::date(2019, 3, 3)));
    s.enrolled.insert((PupilId(99), ServiceId(50)));
    s.active.insert((PupilId(99), ServiceId(50)));
    s.reductions
        .insert(ServiceId(50), vec![(2, 2000), (3, 5000)]);
    let h: Vec<&str> = ENROLMENT_COLUMNS.iter().map(|c| c.header).collect();
    let row = |pupil: &str, price: &str, card: &str| -> Vec<String> {
        [
            pupil,
            "Refezione",
            "2026/2027",
            "Scuola primaria Gianni Rodari",
            "3 A",
            "Fascia 3",
            price,
            "",
            "",
            "14/09/2026",
            card,
        ]
        .iter()
        .map(|c| (*c).to_string())
        .collect()
    };
    let (r1, r2) = (row(sara.as_str(), "", "T-2"), row(luca.as_str(), "", "T-1"));
    let r1: Vec<&str> = r1.iter().map(String::as_str).collect();
    let r2: Vec<&str> = r2.iter().map(String::as_str).collect();
    let t = table(&h, &[&r1, &r2]);
    let (rows, errors) = parse(ImportKind::Enrolments, &t).unwrap();
    assert_eq!(errors, vec![]);
    let p = plan(&rows, &s);
    assert_eq!(p.errors, vec![]);
    let prices: Vec<(PupilId, Cents)> = p
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Enrolment { new, .. } => Some((new.pupil_id, new.meal_price)),
            _ => None,
        })
        .collect();
    // 3,00 €: Luca second (−20%), Sara third (−50%), as the office's form prices them.
    assert_eq!(
        prices,
        vec![(PupilId(101), Cents(150)), (PupilId(100), Cents(240))]
    );
    // A price given in the file is kept as it is.
    let r3 = row(luca.as_str(), "2,75", "T-1");
    let r3: Vec<&str> = r3.iter().map(String::as_str).collect();
    let t = table(&h, &[&r3]);
    let (rows, _) = parse(ImportKind::Enrolments, &t).unwrap();
    let p = plan(&rows, &s);
    let Some(Step::Enrolment { new, .. }) = p.steps.first() else {
        panic!("{p:?}")
    };
    assert_eq!(new.meal_price, Cents(275));
}

#[test]
fn plan_finds_unknown_references_and_skips_rows_already_present() {
    let (mut s, _, luca) = snapshot();
    let sara = cf("Rossi", "Sara", 2019, 3, 3);
    s.pupils.insert(sara.as_str().into(), PupilId(101));
    s.cards.insert("OLD-1".into(), PupilId(101));
    let h: Vec<&str> = ENROLMENT_COLUMNS.iter().map(|c| c.header).collect();
    let (l, sa) = (luca.as_str(), sara.as_str());
    let ghost = cf("Verdi", "Ugo", 2018, 1, 1);
    let t = table(
        &h,
        &[
            &[
                l,
                "Refezione",
                "2026/2027",
                "scuola primaria gianni rodari",
                "3 a",
                "FASCIA 3",
                "2,50",
                "D01",
                "",
                "14/09/2026",
                "T-1",
            ],
            &[
                sa,
                "Refezione",
                "2026/2027",
                "Scuola Inesistente",
                "3 A",
                "Fascia 3",
                "",
                "",
                "",
                "14/09/2026",
                "T-2",
            ],
            &[
                sa,
                "Trasporto",
                "2026/2027",
                "Scuola primaria Gianni Rodari",
                "9 Z",
                "Fascia 3",
                "",
                "",
                "",
                "14/09/2026",
                "T-3",
            ],
            &[
                ghost.as_str(),
                "Refezione",
                "2025/2026",
                "Scuola primaria Gianni Rodari",
                "9 Z",
                "Fascia 9",
                "",
                "X",
                "",
                "14/09/2026",
                "OLD-1",
            ],
        ],
    );
    let (rows, errors) = parse(ImportKind::Enrolments, &t).unwrap();
    assert_eq!(errors, vec![]);
    let p = plan(&rows, &s);
    assert_eq!(p.steps.len(), 1);
    let Step::Enrolment { new, billing, .. } = &p.steps[0] else {
        panic!()
    };
    assert_eq!(
        (
            new.pupil_id,
            new.service_id,
            new.class_id,
            new.tariff_band_id
        ),
        (PupilId(100), ServiceId(50), ClassId(70), TariffBandId(500))
    );
    assert_eq!(new.meal_price, Cents(250));
    assert_eq!(new.diet_id, Some(DietId(9)));
    assert_eq!(*billing, Billing::Prepaid);
    let msg = |row: usize| -> String {
        p.errors
            .iter()
            .filter(|e| e.row == row)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(msg(3).contains("Scuola sconosciuta"), "{}", msg(3));
    assert!(
        msg(4).contains("Il servizio Trasporto scolastico non c'è"),
        "{}",
        msg(4)
    );
    assert!(msg(4).contains("Classe sconosciuta"), "{}", msg(4));
    assert!(
        msg(5).contains("Alunno sconosciuto") && msg(5).contains("Anno scolastico sconosciuto"),
        "{}",
        msg(5)
    );
    assert!(msg(5).contains("Codice dieta sconosciuto"), "{}", msg(5));

    // Once written, the same row is present, and the same card on another pupil is refused.
    s.enrolled.insert((PupilId(100), ServiceId(50)));
    s.cards.insert("T-1".into(), PupilId(100));
    let t2 = table(
        &h,
        &[
            &[
                l,
                "Refezione",
                "2026/2027",
                "Scuola primaria Gianni Rodari",
                "3 A",
                "Fascia 3",
                "",
                "",
                "",
                "14/09/2026",
                "T-1",
            ],
            &[
                sa,
                "Refezione",
                "2026/2027",
                "Scuola primaria Gianni Rodari",
                "3 A",
                "Fascia 3",
                "",
                "",
                "",
                "14/09/2026",
                "t-1",
            ],
        ],
    );
    let (rows, errors) = parse(ImportKind::Enrolments, &t2).unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.row == 3 && e.message.contains("stessa tessera")),
        "{errors:?}"
    );
    let p = plan(&rows, &s);
    assert_eq!(p.present, vec![2]);
    assert!(p.steps.is_empty());
}

#[test]
fn balances_plan_once_per_payer_and_service() {
    let (mut s, mario, _) = snapshot();
    let h: Vec<&str> = BALANCE_COLUMNS.iter().map(|c| c.header).collect();
    let stranger = cf("Neri", "Ada", 1970, 2, 2);
    let t = table(
        &h,
        &[
            &[mario.as_str(), "Refezione", "2026/2027", "-12,50", "", ""],
            &[stranger.as_str(), "Refezione", "2026/2027", "5,00", "", ""],
        ],
    );
    let (rows, errors) = parse(ImportKind::Balances, &t).unwrap();
    assert_eq!(errors, vec![]);
    let p = plan(&rows, &s);
    assert_eq!(p.steps.len(), 1);
    let Step::Balance {
        key,
        family,
        service,
        row,
    } = &p.steps[0]
    else {
        panic!()
    };
    assert_eq!(
        key.to_string(),
        format!("import:balance:{}:50", mario.as_str())
    );
    assert_eq!(
        (*family, *service, row.amount),
        (FamilyId(10), ServiceId(50), Cents(-1250))
    );
    assert!(p.errors[0].message.contains("Intestatario sconosciuto"));
    s.balance_keys.insert(key.to_string());
    let p = plan(&rows, &s);
    assert!(p.steps.is_empty());
    assert_eq!(p.present, vec![2]);
}

#[test]
fn guardians_plan_accepts_a_payer_later_in_the_same_file() {
    let (s, mario, _) = snapshot();
    let anna = cf("Bianchi", "Anna", 1982, 5, 21);
    let piero = cf("Verdi", "Piero", 1975, 4, 4);
    let nobody = cf("Neri", "Ada", 1970, 2, 2);
    let h: Vec<&str> = GUARDIAN_COLUMNS.iter().map(|c| c.header).collect();
    let t = table(
        &h,
        &[
            &[
                anna.as_str(),
                "Bianchi",
                "Anna",
                "",
                "",
                "",
                "",
                "",
                piero.as_str(),
                "",
            ],
            &[piero.as_str(), "Verdi", "Piero", "", "", "", "", "", "", ""],
            &[mario.as_str(), "Rossi", "Mario", "", "", "", "", "", "", ""],
            &[
                cf("Gialli", "Eva", 1990, 1, 1).as_str(),
                "Gialli",
                "Eva",
                "",
                "",
                "",
                "",
                "",
                nobody.as_str(),
                "",
            ],
        ],
    );
    let (rows, errors) = parse(ImportKind::Guardians, &t).unwrap();
    assert_eq!(errors, vec![]);
    let p = plan(&rows, &s);
    assert_eq!(p.steps.len(), 2);
    assert_eq!(p.present, vec![4]);
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].row, 5);
}

#[test]
fn a_job_left_running_by_a_stopped_node_is_interrupted() {
    let now: jiff::Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
    let ago = |mins: i64| now - jiff::SignedDuration::from_mins(mins);
    let job = |status, mins: i64, reported: Option<i64>| ImportJob {
        id: 424_242,
        kind: "guardians".into(),
        file_name: "genitori.csv".into(),
        file_sha256: String::new(),
        status,
        rows_total: 1,
        rows_new: 0,
        rows_present: 0,
        message: String::new(),
        created_by: "staff:1".into(),
        created_at: ago(mins),
        finished_at: None,
        progress: reported.map(|_| (1, 2)),
        progress_at: reported.map(ago),
    };
    assert!(interrupted(&job(JobStatus::Running, 31, None), now));
    assert!(!interrupted(&job(JobStatus::Running, 5, None), now));
    assert!(!interrupted(&job(JobStatus::Done, 31, None), now));
    // Its import (on any node) reported lately: not interrupted, however long it takes.
    assert!(!interrupted(&job(JobStatus::Running, 90, Some(1)), now));
    assert!(interrupted(&job(JobStatus::Running, 90, Some(31)), now));
    // The progress shown is the last reported, while it runs.
    assert_eq!(progress(&job(JobStatus::Running, 1, Some(0))), Some((1, 2)));
    assert_eq!(progress(&job(JobStatus::Done, 1, Some(0))), None);
    assert_eq!(progress(&job(JobStatus::Running, 1, None)), None);
}
