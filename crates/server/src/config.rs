//! Configuration: defaults, then an optional TOML file (`--config`), then `REFETTORIO_*`
//! environment variables, then command-line flags. Unknown keys are refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::HeaderName;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use refettorio_web::pagopa::caller::StationAccess;
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
    /// Run the scheduler in this node (default true): it closes each day after its cut-off.
    /// Off only for a node that must not close days (a test, a read-only replica's node).
    pub scheduler: bool,
    /// Seconds between two runs of the scheduler (default 30, at least 1).
    pub scheduler_tick_secs: u64,
    /// Reverse proxies (addresses or CIDR ranges) whose forwarding headers are believed:
    /// `X-Forwarded-For` and the header that carries the verified client certificate.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// How the pagoPA station recognises the node (live mode is closed without it).
    #[serde(default)]
    pub pagopa_station: StationConfig,
    /// The SMTP server e-mails go through: `smtp://host:25`, `smtp://user:password@host:587?tls=starttls`
    /// or `smtps://user:password@host:465`. Unset: nothing is sent, e-mails go to the test
    /// mailbox (a simulation, for the demo).
    pub smtp_url: Option<String>,
    /// The address e-mails come from (`noreply@comune.example.it`); required with `smtp_url`.
    pub mail_from: Option<String>,
    /// The first wait after a temporary delivery failure, in seconds; each next one doubles
    /// (at most an hour).
    pub mail_retry_seconds: u64,
    /// How long one call to a municipality's SMS gateway or to App IO may take, in seconds; a
    /// call that takes longer is tried again later.
    pub channel_timeout_seconds: u64,
    /// Whether SMS gateways, App IO and municipalities' OpenID providers may be at private
    /// addresses (loopback, 10/8, 192.168/16, link-local…): off, so an office cannot make the
    /// server call the installation's own network; on for a gateway inside it.
    pub channels_allow_private_hosts: bool,
    /// SPID's identity providers for municipalities in live mode: metadata files (the
    /// registry's list, `https://registry.spid.gov.it/metadata/idp/spid-entities-idps.xml`,
    /// saved by the operator; more files add providers, e.g. AgID's validator).
    #[serde(default)]
    pub spid_idp_metadata: Vec<PathBuf>,
    /// CIE's identity provider: its metadata file(s).
    #[serde(default)]
    pub cie_idp_metadata: Vec<PathBuf>,
}

/// `[pagopa_station]`: every proof given here must hold for a call to the station.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StationConfig {
    /// The node's addresses or CIDR ranges.
    pub allowed_ips: Vec<String>,
    /// The header a trusted proxy sets after verifying the node's client certificate (e.g.
    /// `X-SSL-Client-S-DN`), and the values that identify the node.
    pub client_cert_header: Option<String>,
    pub client_cert_values: Vec<String>,
    /// A shared key the node sends in `key_header` (default `X-Station-Key`). Also
    /// `REFETTORIO_PAGOPA_STATION_KEY`.
    pub key_header: Option<String>,
    pub key: Option<String>,
}

/// Addresses or CIDR ranges, read for `key`: a single address is a /32 (or /128).
fn nets(key: &str, list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("invalid configuration: {key}: '{s}' is not an address or CIDR range")
                })
        })
        .collect()
}

fn header(key: &str, name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("invalid configuration: {key}: '{name}' is not a header name"))
}

impl Config {
    /// The trusted proxies, read.
    pub fn proxies(&self) -> Result<Vec<IpNet>, String> {
        nets("trusted_proxies", &self.trusted_proxies)
    }

    /// The station's access rules, read; an error names the key.
    pub fn station_access(&self) -> Result<StationAccess, String> {
        let c = &self.pagopa_station;
        let client_cert_header = c
            .client_cert_header
            .as_deref()
            .map(|h| header("pagopa_station.client_cert_header", h))
            .transpose()?;
        if client_cert_header.is_some() && c.client_cert_values.is_empty() {
            return Err("invalid configuration: pagopa_station.client_cert_values: name the certificate values that identify the node".into());
        }
        if client_cert_header.is_some() && self.trusted_proxies.is_empty() {
            return Err("invalid configuration: pagopa_station.client_cert_header needs trusted_proxies (the proxy that verifies the certificate)".into());
        }
        let key = c.key.clone().filter(|k| !k.is_empty());
        if key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(
                "invalid configuration: pagopa_station.key: use at least 32 characters".into(),
            );
        }
        Ok(StationAccess {
            allowed_ips: nets("pagopa_station.allowed_ips", &c.allowed_ips)?,
            client_cert_header,
            client_cert_values: c.client_cert_values.clone(),
            key_header: Some(header(
                "pagopa_station.key_header",
                c.key_header.as_deref().unwrap_or("X-Station-Key"),
            )?),
            key,
        })
    }
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
            trusted_proxies: Vec::new(),
            pagopa_station: StationConfig::default(),
            scheduler: true,
            scheduler_tick_secs: 30,
            smtp_url: None,
            mail_from: None,
            mail_retry_seconds: 30,
            channel_timeout_seconds: 20,
            channels_allow_private_hosts: false,
            spid_idp_metadata: Vec::new(),
            cie_idp_metadata: Vec::new(),
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
const ENV_KEYS: [&str; 13] = [
    "database_url",
    "bind",
    "demo",
    "base_domain",
    "public_url",
    "log_format",
    "scheduler",
    "scheduler_tick_secs",
    "smtp_url",
    "mail_from",
    "mail_retry_seconds",
    "channel_timeout_seconds",
    "channels_allow_private_hosts",
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
    let mut config: Config = figment
        .extract()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    // The station's key may come from the environment, apart from the file.
    if let Ok(key) = std::env::var("REFETTORIO_PAGOPA_STATION_KEY") {
        config.pagopa_station.key = Some(key);
    }
    config.proxies()?;
    config.station_access()?;
    if !(config.database_url.starts_with("sqlite:")
        || config.database_url.starts_with("postgres://")
        || config.database_url.starts_with("postgresql://"))
    {
        return Err(format!(
            "invalid configuration: database_url '{}' must start with sqlite:// or postgres://",
            refettorio_db::redact(&config.database_url)
        ));
    }
    if config.scheduler_tick_secs == 0 {
        return Err("invalid configuration: scheduler_tick_secs must be at least 1".into());
    }
    config
        .mail()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    Ok(config)
}

impl Config {
    /// The identity providers of SPID and CIE for live mode, read from their metadata files; a
    /// file that does not load is logged and left out (the server runs on).
    pub fn federation(&self) -> refettorio_app::spid::Federation {
        let f =
            refettorio_app::spid::Federation::load(&self.spid_idp_metadata, &self.cie_idp_metadata);
        for e in &f.errors {
            tracing::warn!(error = %e, "identity provider metadata not loaded");
        }
        f
    }

    /// How e-mail is delivered; an error names the key at fault.
    pub fn mail(&self) -> Result<refettorio_app::outbox::MailSettings, String> {
        refettorio_app::outbox::MailSettings::new(
            self.smtp_url.as_deref(),
            self.mail_from.as_deref(),
            self.mail_retry_seconds,
        )?
        .with_channel_timeout(self.channel_timeout_seconds)
        .map(|m| m.with_private_hosts(self.channels_allow_private_hosts))
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
            assert!(c.scheduler);
            assert_eq!(c.scheduler_tick_secs, 30);
            let f = write("scheduler = false\nscheduler_tick_secs = 5\n");
            let c = load(Some(f.path()), &Overrides::default()).unwrap();
            assert!(!c.scheduler);
            assert_eq!(c.scheduler_tick_secs, 5);
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
    fn the_station_access_is_read_and_bad_values_are_named() {
        figment::Jail::expect_with(|jail| {
            let f = write(
                "trusted_proxies = [\"10.0.0.5\", \"fd00::/8\"]\n\
                 [pagopa_station]\n\
                 allowed_ips = [\"198.51.100.0/24\"]\n\
                 client_cert_header = \"X-SSL-Client-S-DN\"\n\
                 client_cert_values = [\"CN=nodo\"]\n",
            );
            let c = load(Some(f.path()), &Overrides::default()).unwrap();
            assert_eq!(c.proxies().unwrap().len(), 2);
            let a = c.station_access().unwrap();
            assert!(a.configured());
            assert_eq!(a.allowed_ips.len(), 1);
            assert_eq!(a.key, None);
            for (content, needle) in [
                (
                    "trusted_proxies = [\"10.0.0.300\"]",
                    "trusted_proxies: '10.0.0.300'",
                ),
                (
                    "[pagopa_station]\nallowed_ips = [\"rete\"]",
                    "pagopa_station.allowed_ips",
                ),
                ("[pagopa_station]\nkey = \"corta\"", "pagopa_station.key"),
                (
                    "[pagopa_station]\nclient_cert_header = \"X-Cert\"\nclient_cert_values = [\"CN=x\"]",
                    "needs trusted_proxies",
                ),
                ("[pagopa_station]\nchiave = \"x\"", "chiave"),
            ] {
                let f = write(content);
                let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
                assert!(e.contains(needle), "{content}: {e}");
            }
            // The key from the environment wins over the file's.
            jail.set_env("REFETTORIO_PAGOPA_STATION_KEY", "k".repeat(40));
            let c = load(Some(f.path()), &Overrides::default()).unwrap();
            assert_eq!(c.station_access().unwrap().key, Some("k".repeat(40)));
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
            let f = write("scheduler_tick_secs = 0\n");
            let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
            assert!(e.contains("scheduler_tick_secs"), "{e}");
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
