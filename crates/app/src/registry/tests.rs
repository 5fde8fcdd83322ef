use refettorio_db::registry::calendar::SchoolYear;
use refettorio_db::registry::school::School;
use refettorio_domain::Cents;
use refettorio_domain::SchoolId;
use refettorio_domain::SchoolKind;
use refettorio_domain::SchoolYearId;
use refettorio_domain::Weekdays;

use super::*;
use crate::AppError;

fn school(id: i64, name: &str) -> School {
    School {
        id: SchoolId(id),
        name: name.into(),
        kind: SchoolKind::Primaria,
        address: String::new(),
        kitchen_email: None,
    }
}

fn errors_of<T: std::fmt::Debug>(r: Result<T, AppError>) -> Vec<&'static str> {
    match r {
        Err(AppError::Fields(e)) => e.iter().map(|e| e.field).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[test]
fn school_names_are_required_and_unique_ignoring_case() {
    let all = [school(1, "Primaria Dante Alighieri")];
    let input = SchoolInput {
        name: "  primaria  dante alighieri ".into(),
        kind: "primaria".into(),
        ..Default::default()
    };
    assert_eq!(errors_of(check_school(&input, &all, None)), ["nome"]);
    // Its own name is not a duplicate.
    assert!(check_school(&input, &all, Some(SchoolId(1))).is_ok());
    let empty = SchoolInput {
        kitchen_email: "non-valida".into(),
        ..Default::default()
    };
    assert_eq!(
        errors_of(check_school(&empty, &all, None)),
        ["nome", "tipo", "email-cucina"]
    );
}

#[test]
fn classes_need_a_weekday() {
    let input = ClassInput {
        year: "1".into(),
        name: "1A".into(),
        weekdays: vec![],
    };
    assert_eq!(
        errors_of(check_class(&input, Some(SchoolYearId(1)), &[], None)),
        ["giorni"]
    );
    let input = ClassInput {
        weekdays: vec!["lun".into(), "gio".into(), "dom".into()],
        ..input
    };
    let (_, days) = check_class(&input, Some(SchoolYearId(1)), &[], None).unwrap();
    assert_eq!(days.to_it(), Weekdays::parse_it("lun gio").unwrap().to_it());
}

#[test]
fn band_amounts_are_never_negative_and_exempt_pays_nothing() {
    let input = BandInput {
        name: "Fascia A".into(),
        residency: "any".into(),
        meal_price: "-1,00".into(),
        isee_min: "10.000,00".into(),
        isee_max: "5.000,00".into(),
        ..Default::default()
    };
    assert_eq!(
        errors_of(check_band(&input, &[], None)),
        ["isee-a", "prezzo-pasto"]
    );
    let exempt = BandInput {
        name: "Esenti".into(),
        residency: "any".into(),
        meal_price: "3,00".into(),
        exempt: true,
        ..Default::default()
    };
    let b = check_band(&exempt, &[], None).unwrap();
    assert_eq!(
        (b.meal_price, b.fixed_fee, b.exempt),
        (Cents::ZERO, Cents::ZERO, true)
    );
}

#[test]
fn years_are_in_order_and_do_not_overlap() {
    let input = YearInput {
        label: "2027/2028".into(),
        starts_on: "2027-09-01".into(),
        ends_on: "2028-08-31".into(),
        first_day: "2027-09-15".into(),
        last_day: "2027-09-10".into(),
    };
    assert_eq!(errors_of(check_year(&input, &[], None)), ["ultimo-giorno"]);
    let ok = YearInput {
        last_day: "2028-06-10".into(),
        ..input
    };
    let y = check_year(&ok, &[], None).unwrap();
    let existing = SchoolYear {
        id: SchoolYearId(1),
        label: "2026/2027".into(),
        starts_on: "2026-09-01".parse().unwrap(),
        ends_on: "2027-09-01".parse().unwrap(),
        first_day: y.first_day,
        last_day: y.first_day,
    };
    assert_eq!(errors_of(check_year(&ok, &[existing], None)), ["inizio"]);
}

#[test]
fn reductions_and_diets() {
    assert_eq!(
        check_reduction(&ReductionInput {
            rank: "2".into(),
            percent: "12,5".into()
        })
        .unwrap(),
        (2, 1250)
    );
    assert_eq!(
        errors_of(check_reduction(&ReductionInput {
            rank: "1".into(),
            percent: "120".into()
        })),
        ["dal-figlio", "percentuale"]
    );
    let d = check_diet(
        &DietInput {
            code: " d01 ".into(),
            name: "Senza glutine".into(),
            kind: "health".into(),
        },
        &[],
        None,
    )
    .unwrap();
    assert_eq!(d.0, "D01");
}
