//! Configuration: defaults, then an optional TOML file (`--config`), then `REFETTORIO_*`
//! environment variables, then command-line flags. Unknown keys are refused.

use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/refettorio.sqlite";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://path/to/file.sqlite` (single node) or `postgres://…` (any number of nodes).
    pub database_url: String,
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Load the demo municipality at start if it is not there yet.
    pub demo: bool,
    /// Serve `<slug>.<base_domain>` as the municipality `<slug>`.
    pub base_domain: Option<String>,
    /// The address families reach the service at (`https://scuola.example.it`), used in e-mailed
    /// links; with https the cookies are marked `Secure`. Unset: the request's own host.
    pub public_url: Option<String>,
    /// `json` (default) or `text` logs on standard error.
    pub log_format: LogFormat,
    /// The SMTP server e-mails go through: `smtp://host:25`, `smtp://user:password@host:587?tls=starttls`
    /// or `smtps://user:password@host:465`. Unset: nothing is sent, e-mails go to the test
    /// mailbox (a simulation, for the demo).
    pub smtp_url: Option<String>,
    /// The address e-mails come from (`noreply@comune.example.it`); required with `smtp_url`.
    pub mail_from: Option<String>,
    /// The first wait after a temporary delivery failure, in seconds; each next one doubles
    /// (at most an hour).
    pub mail_retry_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: DEFAULT_DATABASE_URL.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: false,
            base_domain: None,
            public_url: None,
            log_format: LogFormat::Json,
            smtp_url: None,
            mail_from: None,
            mail_retry_seconds: 30,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
}

/// The keys read from the environment (`REFETTORIO_DATABASE_URL`, …). Other `REFETTORIO_*`
/// variables (such as the tests' `REFETTORIO_TEST_POSTGRES_URL`) are not configuration.
const ENV_KEYS: [&str; 9] = [
    "database_url",
    "bind",
    "demo",
    "base_domain",
    "public_url",
    "log_format",
    "smtp_url",
    "mail_from",
    "mail_retry_seconds",
];

pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, String> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(format!("configuration file {} not found", path.display()));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment
        .merge(Env::prefixed("REFETTORIO_").only(&ENV_KEYS))
        .merge(Serialized::defaults(overrides));
    let config: Config = figment
        .extract()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    if !(config.database_url.starts_with("sqlite:")
        || config.database_url.starts_with("postgres://")
        || config.database_url.starts_with("postgresql://"))
    {
        return Err(format!(
            "invalid configuration: database_url '{}' must start with sqlite:// or postgres://",
            refettorio_db::redact(&config.database_url)
        ));
    }
    config
        .mail()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    Ok(config)
}

impl Config {
    /// How e-mail is delivered; an error names the key at fault.
    pub fn mail(&self) -> Result<refettorio_app::outbox::MailSettings, String> {
        refettorio_app::outbox::MailSettings::new(
            self.smtp_url.as_deref(),
            self.mail_from.as_deref(),
            self.mail_retry_seconds,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::result_large_err)]
    use super::*;

    fn write(content: &str) -> tempfile::NamedTempFile {
        let f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::fs::write(f.path(), content).unwrap();
        f
    }

    #[test]
    fn defaults_file_and_flags_stack() {
        figment::Jail::expect_with(|_| {
            let c = load(None, &Overrides::default()).unwrap();
            assert_eq!(c, Config::default());
            let f = write("bind = \"127.0.0.1:9000\"\ndemo = true\n");
            let c = load(Some(f.path()), &Overrides::default()).unwrap();
            assert_eq!(c.bind.port(), 9000);
            assert!(c.demo);
            let o = Overrides {
                bind: Some("127.0.0.1:9100".into()),
                ..Default::default()
            };
            assert_eq!(load(Some(f.path()), &o).unwrap().bind.port(), 9100);
            Ok(())
        });
    }

    #[test]
    fn environment_variables_apply_and_test_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("REFETTORIO_BIND", "127.0.0.1:9200");
            jail.set_env("REFETTORIO_TEST_POSTGRES_URL", "postgres://x");
            let c = load(None, &Overrides::default()).unwrap();
            assert_eq!(c.bind.port(), 9200);
            Ok(())
        });
    }

    #[test]
    fn bad_configuration_is_named() {
        figment::Jail::expect_with(|_| {
            let f = write("bnd = \"x\"\n");
            let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
            assert!(e.contains("bnd"), "{e}");
            let f = write("bind = \"not an address\"\n");
            let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
            assert!(e.contains("bind"), "{e}");
            let f = write("this is not toml");
            assert!(load(Some(f.path()), &Overrides::default()).is_err());
            let e = load(
                Some(Path::new("/nonexistent/x.toml")),
                &Overrides::default(),
            )
            .unwrap_err();
            assert!(e.contains("not found"), "{e}");
            let o = Overrides {
                database_url: Some("mysql://root@h/db".into()),
                ..Default::default()
            };
            let e = load(None, &o).unwrap_err();
            assert!(
                e.contains("must start with sqlite:// or postgres://"),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_mail_settings_stop_the_start_naming_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("REFETTORIO_SMTP_URL", "smtp://127.0.0.1:2525");
            let e = load(None, &Overrides::default()).unwrap_err();
            assert!(e.contains("mail_from is required"), "{e}");
            jail.set_env("REFETTORIO_MAIL_FROM", "noreply@comune.example.it");
            let c = load(None, &Overrides::default()).unwrap();
            assert_eq!(c.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
            assert!(!c.mail().unwrap().simulated());
            jail.set_env("REFETTORIO_SMTP_URL", "smtp://u:segreta@host:587?tls=forse");
            let e = load(None, &Overrides::default()).unwrap_err();
            assert!(e.contains("smtp_url") && !e.contains("segreta"), "{e}");
            jail.set_env("REFETTORIO_SMTP_URL", "imap://host");
            let e = load(None, &Overrides::default()).unwrap_err();
            assert!(e.contains("smtp_url"), "{e}");
            jail.set_env("REFETTORIO_SMTP_URL", "smtps://host:465");
            jail.set_env("REFETTORIO_MAIL_FROM", "non un indirizzo");
            let e = load(None, &Overrides::default()).unwrap_err();
            assert!(e.contains("mail_from"), "{e}");
            Ok(())
        });
    }
}
