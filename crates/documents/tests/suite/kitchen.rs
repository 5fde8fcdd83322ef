use std::collections::BTreeMap;
use std::time::Instant;

use refettorio_documents::kitchen::{
    DietLegend, KitchenClass, KitchenCounts, KitchenReport, KitchenSchool, kitchen_csv,
    kitchen_pdf, kitchen_xlsx,
};

fn counts(standard: u32, bland: u32, diets: &[(&str, u32)]) -> KitchenCounts {
    let diets: BTreeMap<String, u32> = diets.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect();
    let total = standard + bland + diets.values().sum::<u32>();
    KitchenCounts {
        standard,
        bland,
        diets,
        total,
    }
}

fn class(name: &str, counts: KitchenCounts) -> KitchenClass {
    KitchenClass {
        name: name.to_owned(),
        counts,
    }
}

fn report(tenant_name: &str, frozen: bool) -> KitchenReport {
    KitchenReport {
        tenant_name: tenant_name.to_owned(),
        date: jiff::civil::date(2026, 11, 23),
        date_label: "lunedì 23 novembre 2026".to_owned(),
        frozen,
        generated_at_label: "Generato il 23/11/2026 alle 10:05".to_owned(),
        schools: vec![
            KitchenSchool::from_classes(
                "Primaria Rodari",
                vec![
                    class("1A", counts(10, 1, &[("VEG", 2)])),
                    class("1B", counts(8, 0, &[("CEL", 1)])),
                ],
            ),
            KitchenSchool::from_classes(
                "Scuola \"Collodi\"; plesso B",
                vec![class("2A", counts(5, 0, &[]))],
            ),
        ],
        diet_codes: vec![
            DietLegend {
                code: "CEL".to_owned(),
                name: "Senza glutine (celiachia)".to_owned(),
            },
            DietLegend {
                code: "VEG".to_owned(),
                name: "Vegetariana".to_owned(),
            },
        ],
    }
}

#[test]
fn csv_exact_bytes() {
    let csv = kitchen_csv(&report("Comune di Prova", true));
    let expected = "\u{feff}Scuola;Classe;Standard;In bianco;CEL;VEG;Totale\r\n\
        Primaria Rodari;1A;10;1;0;2;13\r\n\
        Primaria Rodari;1B;8;0;1;0;9\r\n\
        Totale Primaria Rodari;;18;1;1;2;22\r\n\
        \"Scuola \"\"Collodi\"\"; plesso B\";2A;5;0;0;0;5\r\n\
        \"Totale Scuola \"\"Collodi\"\"; plesso B\";;5;0;0;0;5\r\n\
        Totale generale;;23;1;1;2;27\r\n";
    assert_eq!(String::from_utf8(csv.clone()).unwrap(), expected);
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]));
}

#[test]
fn csv_without_diets_or_schools() {
    let mut r = report("Comune di Prova", false);
    r.schools.clear();
    let csv = String::from_utf8(kitchen_csv(&r)).unwrap();
    assert_eq!(
        csv,
        "\u{feff}Scuola;Classe;Standard;In bianco;Totale\r\nTotale generale;;0;0;0\r\n"
    );
}

#[test]
fn xlsx_holds_the_same_numbers_as_numbers() {
    use calamine::{Data, Reader, Xlsx};
    let bytes = kitchen_xlsx(&report("Comune di Prova", true)).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("Pasti 2026-11-23").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    assert_eq!(
        rows[0],
        [
            "Scuola",
            "Classe",
            "Standard",
            "In bianco",
            "CEL",
            "VEG",
            "Totale"
        ]
    );
    assert_eq!(
        rows[1],
        ["Primaria Rodari", "1A", "10", "1", "0", "2", "13"]
    );
    assert_eq!(rows[6], ["Totale generale", "", "23", "1", "1", "2", "27"]);
    assert_eq!(range.get((6, 6)), Some(&Data::Float(27.0)));
}

fn pdf_text(pdf: &[u8]) -> String {
    let text = pdf_extract::extract_text_from_mem(pdf).expect("text extraction");
    // Collapse whitespace: the extractor's spacing follows glyph positions.
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn pdf_contains_the_numbers() {
    let pdf = kitchen_pdf(&report("Comune di Prova", true)).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    println!("kitchen PDF: {} bytes", pdf.len());
    let text = pdf_text(&pdf);
    for needle in [
        "Pasti da preparare",
        "Comune di Prova",
        "lunedì 23 novembre 2026",
        "DEFINITIVO (giornata chiusa)",
        "Primaria Rodari",
        "Scuola \"Collodi\"; plesso B",
        "1A",
        "2A",
        "Totale Primaria Rodari",
        "Totale generale",
        "Senza glutine (celiachia)",
        "Generato il 23/11/2026 alle 10:05",
        "27",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
    assert!(!text.contains("PREVISIONE"));
}

#[test]
fn pdf_forecast_is_labelled() {
    let text = pdf_text(&kitchen_pdf(&report("Comune di Prova", false)).unwrap());
    assert!(
        text.contains("PREVISIONE (prima dell'ora limite)"),
        "{text}"
    );
    assert!(!text.contains("DEFINITIVO"));
}

#[test]
fn markup_in_names_renders_literally() {
    let tenant = "#let x = 1 *bold* [x]";
    let mut r = report(tenant, true);
    r.schools[0].name = "Scuola _Verdi_ #panic(\"no\") $x$ @ref <lbl> \\".to_owned();
    r.schools[0].classes[0].name = "= 3C //".to_owned();
    let pdf = kitchen_pdf(&r).unwrap();
    let text = pdf_text(&pdf);
    assert!(text.contains(tenant), "{text:?}");
    assert!(
        text.contains("Scuola _Verdi_ #panic(\"no\") $x$ @ref <lbl> \\"),
        "{text:?}"
    );
    assert!(text.contains("= 3C //"), "{text:?}");
}

#[test]
fn pdf_with_no_schools() {
    let mut r = report("Comune di Prova", false);
    r.schools.clear();
    r.diet_codes.clear();
    let text = pdf_text(&kitchen_pdf(&r).unwrap());
    assert!(text.contains("Nessun pasto"), "{text}");
}

/// Not a benchmark: just shows that a big day renders in reasonable time.
/// `cargo test -p refettorio-documents --release -- --ignored --nocapture`
#[test]
#[ignore]
fn large_report_renders() {
    let codes = ["CEL", "LAT", "VEG", "MUS", "ISL"];
    let schools: Vec<KitchenSchool> = (1..=30)
        .map(|s| {
            let classes = (1..=20)
                .map(|c| {
                    let code = codes[(s + c) % codes.len()];
                    class(
                        &format!("Classe {c}"),
                        counts(18 + (c % 5) as u32, (s % 2) as u32, &[(code, 1)]),
                    )
                })
                .collect();
            KitchenSchool::from_classes(format!("Scuola numero {s}"), classes)
        })
        .collect();
    let mut r = report("Comune di Prova", true);
    r.schools = schools;
    let started = Instant::now();
    let pdf = kitchen_pdf(&r).unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    let again = kitchen_pdf(&r).unwrap();
    let second = started.elapsed();
    assert_eq!(pdf, again, "rendering is deterministic");
    println!(
        "30 schools x 20 classes: {} bytes, first render {first:?}, second {second:?}",
        pdf.len()
    );
    let text = pdf_text(&pdf);
    assert!(text.contains("Scuola numero 30"));
}
