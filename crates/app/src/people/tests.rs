use super::*;

#[test]
fn queries_read_names_codes_and_cards() {
    let q = people_query("  Rossi   Mario ");
    assert_eq!(q.name_prefix, "rossi mario");
    assert!(q.fiscal_code.is_none());
    assert!(q.card_codes.is_empty());
    let q = people_query("rssmra80a01h501u");
    assert_eq!(q.fiscal_code.as_deref(), Some("RSSMRA80A01H501U"));
    let q = people_query("ese-0001");
    assert_eq!(q.card_codes, ["ese-0001", "ESE-0001"]);
    assert_eq!(people_query("r").name_prefix, "");
}

#[test]
fn guardians_are_checked() {
    let bad = GuardianInput {
        fiscal_code: "RSSMRA80A01H501X".into(),
        first_name: " ".into(),
        last_name: "Rossi".into(),
        email: "nope".into(),
        ..GuardianInput::default()
    };
    let fields: Vec<_> = check_guardian(&bad)
        .unwrap_err()
        .iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, ["codice-fiscale", "nome", "email"]);
    let ok = GuardianInput {
        fiscal_code: "rssmra80a01h501u".into(),
        first_name: "Mario".into(),
        last_name: "Rossi".into(),
        email: "m@example.org".into(),
        ..GuardianInput::default()
    };
    assert_eq!(
        check_guardian(&ok).unwrap().fiscal_code.as_str(),
        "RSSMRA80A01H501U"
    );
}
