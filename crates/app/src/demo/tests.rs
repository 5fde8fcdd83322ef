use super::*;
use jiff::civil::date;

#[test]
fn calendar_rules_over_many_years() {
    for y in 2024..2060 {
        let p = plan(y).unwrap();
        assert_eq!(p.first_day.weekday(), Weekday::Monday);
        assert!(p.first_day >= date(y, 9, 10) && p.first_day <= date(y, 9, 16));
        assert!(!matches!(
            p.last_day.weekday(),
            Weekday::Saturday | Weekday::Sunday
        ));
        assert!(p.last_day >= date(y + 1, 6, 7) && p.last_day <= date(y + 1, 6, 9));
        for (_, from, to, _, reason) in &p.closures {
            assert!(from <= to, "{y} {reason}");
            assert!(*from > p.first_day && *to < p.last_day, "{y} {reason}");
        }
    }
}

#[test]
fn plan_is_deterministic_and_plausible() {
    let a = plan(2026).unwrap();
    let b = plan(2026).unwrap();
    let codes = |p: &Plan| -> Vec<String> {
        p.families
            .iter()
            .flat_map(|f| {
                let mut v = vec![f.payer.person.cf.to_string()];
                v.extend(
                    f.children
                        .iter()
                        .filter_map(|c| c.cf.as_ref())
                        .map(|c| c.to_string()),
                );
                v
            })
            .collect()
    };
    assert_eq!(codes(&a), codes(&b));
    let pupils: usize = a.families.iter().map(|f| f.children.len()).sum();
    assert!((350..=450).contains(&pupils), "{pupils}");
    assert_eq!(a.classes.len(), 21);
    let with_siblings = a.families.iter().filter(|f| f.children.len() > 1).count();
    assert!((60..=120).contains(&with_siblings), "{with_siblings}");
    let delegates = a.families.iter().filter(|f| f.delegate.is_some()).count();
    assert!((90..=150).contains(&delegates), "{delegates}");
    let undeclared = a.families.iter().filter(|f| f.isee.is_none()).count();
    assert!((15..=50).contains(&undeclared), "{undeclared}");
    let no_cf = a
        .families
        .iter()
        .flat_map(|f| &f.children)
        .filter(|c| c.cf.is_none())
        .count();
    assert!((3..=8).contains(&no_cf), "{no_cf}");
    // Ages fit the school: a pupil of level l is born in 2026 - 3 - l.
    for f in &a.families {
        for c in &f.children {
            let age = 2026 - c.birth.year();
            let kind = SCHOOLS[a.classes[c.class].school].1;
            let ok = match kind {
                SchoolKind::Infanzia => (3..=5).contains(&age),
                SchoolKind::Primaria => (6..=10).contains(&age),
                _ => (11..=13).contains(&age),
            };
            assert!(ok, "{} {} {age}", c.first_name, c.last_name);
        }
        for w in f.children.windows(2) {
            assert!(w[0].birth < w[1].birth, "eldest first");
        }
    }
}

#[test]
fn email_parts() {
    assert_eq!(email_part("Nicolò"), "nicolo");
    assert_eq!(email_part("D'Angelo"), "dangelo");
    assert_eq!(email_part("De Santis"), "desantis");
}
