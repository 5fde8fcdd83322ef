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
    /// links; with https the cookies are marked `Secure`. Unset: `https://<slug>.<base_domain>`
    /// when `base_domain` is set, else links only for requests to a loopback host (the demo);
    /// never the request's `Host` header.
    pub public_url: Option<String>,
    /// `json` (default) or `text` logs on standard error.
    pub log_format: LogFormat,
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
const ENV_KEYS: [&str; 6] = [
    "database_url",
    "bind",
    "demo",
    "base_domain",
    "public_url",
    "log_format",
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
    Ok(config)
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
}
