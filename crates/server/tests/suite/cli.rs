//! The `refettorio` binary as an operator runs it.

use std::process::{Command, Output};

fn refettorio(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refettorio"))
        .arg("--database-url")
        .arg(db)
        .args(args)
        .env("REFETTORIO_LOG", "warn")
        .env_remove("REFETTORIO_DATABASE_URL")
        .output()
        .unwrap()
}

fn last_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn close_day_from_the_command_line_charges_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/r.sqlite", dir.path().display());
    let o = refettorio(&db, &["demo"]);
    assert!(o.status.success(), "{o:?}");
    assert!(last_line(&o).starts_with("demo loaded"), "{o:?}");
    let o = refettorio(&db, &["demo"]);
    assert_eq!(last_line(&o), "demo already present: nothing written");

    // The last weekday before today (the demo's school year is the current one).
    let mut day = refettorio_domain::Clock::now(&refettorio_domain::SystemClock)
        .to_zoned(jiff::tz::TimeZone::system())
        .date()
        .yesterday()
        .unwrap();
    while matches!(
        day.weekday(),
        jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
    ) {
        day = day.yesterday().unwrap();
    }
    let date = day.to_string();
    let first = refettorio(&db, &["close-day", "--tenant", "esempio", "--date", &date]);
    assert!(first.status.success(), "{first:?}");
    let line = last_line(&first);
    let prefix = format!("close-day tenant=esempio date={date} charged=");
    assert!(
        line.starts_with(&prefix) && line.ends_with(" already=0"),
        "{line}"
    );
    let charged: u64 = line[prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let again = refettorio(&db, &["close-day", "--tenant", "esempio", "--date", &date]);
    assert_eq!(
        last_line(&again),
        format!("close-day tenant=esempio date={date} charged=0 already={charged}")
    );

    // The kitchen's numbers of the closed day, as CSV and as PDF.
    let o = refettorio(
        &db,
        &[
            "kitchen", "--tenant", "esempio", "--date", &date, "--format", "csv",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert!(
        o.stdout
            .starts_with(b"\xEF\xBB\xBFScuola;Classe;Standard;In bianco;"),
        "{o:?}"
    );
    if charged > 0 {
        let csv = String::from_utf8_lossy(&o.stdout);
        assert!(
            csv.contains(&format!(";{charged}\r\n")),
            "grand total {charged} missing: {csv}"
        );
    }
    let pdf = dir.path().join("cucina.pdf");
    let o = refettorio(
        &db,
        &[
            "kitchen",
            "--tenant",
            "esempio",
            "--date",
            &date,
            "--format",
            "pdf",
            "--output",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
    let o = refettorio(
        &db,
        &[
            "kitchen", "--tenant", "esempio", "--date", &date, "--format", "xml",
        ],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown --format 'xml'"),
        "{o:?}"
    );

    let o = refettorio(&db, &["close-day", "--tenant", "nessuno", "--date", &date]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown municipality 'nessuno'"),
        "{o:?}"
    );
    let o = refettorio(
        &db,
        &["close-day", "--tenant", "esempio", "--date", "2026-13-01"],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("invalid --date '2026-13-01'"),
        "{o:?}"
    );
}

#[test]
fn bad_configuration_stops_with_a_message() {
    let o = refettorio("mysql://root@localhost/x", &["migrate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("must start with sqlite:// or postgres://"),
        "{o:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("r.toml");
    std::fs::write(&cfg, "databse_url = \"sqlite://x\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_refettorio"))
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("databse_url"),
        "{o:?}"
    );
}
