//! The gateway's configuration: typed, validated once at start-up, safe to print,
//! and grouped in one section per concern, a file each (`server.rs`, `limits.rs`,
//! `connections.rs`, `upstreams.rs`, `credentials.rs`, `cache.rs`, `rate_limits.rs`,
//! `events.rs`, `live_queries.rs`, `telemetry.rs`, `sandbox.rs`). Each section reads its settings with
//! their checks, and its defaults are named constants written once: in the section, or
//! in the module whose behaviour they set (the cache's sizes, the upstream's timeouts).
//! Each setting is declared once, in `settings.rs`, which only names those constants.
//! This module assembles the sections and checks what spans several.

mod cache;
mod connections;
mod credentials;
mod events;
mod limits;
mod live_queries;
mod rate_limits;
mod sandbox;
mod server;
mod settings;
mod telemetry;
mod upstreams;

use reqwest::Url;

pub use cache::CacheSettings;
pub use connections::ConnectionSettings;
pub use credentials::{CredentialSettings, PixelzDefaults, WebhookSettings};
pub use events::EventSettings;
pub use limits::Limits;
pub use live_queries::LiveQueryLimits;
pub use rate_limits::{Bucket, RateSettings};
pub use sandbox::SandboxChoice;
pub use server::{Cors, ServerSettings};
use settings::Given;
pub use settings::{FileConfig, ServeArgs, Setting, key};
pub use telemetry::TelemetrySettings;
pub use upstreams::{UpstreamConfig, UpstreamLocation};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    File { path: std::path::PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: Setting, message: String },
}

pub(super) fn invalid(key: Setting, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, message: message.into() }
}

/// Everything the gateway is started with.
#[derive(Clone, Debug)]
pub struct Config {
    pub server: ServerSettings,
    pub upstreams: UpstreamConfig,
    pub credentials: CredentialSettings,
    pub webhooks: WebhookSettings,
    pub cache: CacheSettings,
    pub rate_limits: RateSettings,
    pub events: EventSettings,
    pub live_queries: LiveQueryLimits,
    pub telemetry: TelemetrySettings,
    pub sandbox: SandboxChoice,
}

pub(super) fn http_url(key: Setting, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(key, "must be an http:// or https:// URL"));
    }
    Ok(url)
}

pub(super) fn optional_url(key: Setting, raw: Option<String>) -> Result<Option<Url>, ConfigError> {
    raw.map(|raw| http_url(key, &raw)).transpose()
}

/// Zero is refused where it would make the gateway refuse everything.
pub(super) fn at_least_one<T: Default + PartialEq>(
    key: Setting,
    value: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        Some(zero) if zero == T::default() => Err(invalid(key, "must be at least 1")),
        value => Ok(value.unwrap_or(default)),
    }
}

impl Config {
    /// Flags and environment (already merged by clap) over the file, then validation.
    pub fn resolve(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        Self::merge(args.clone(), file)
    }

    pub fn merge(args: ServeArgs, file: FileConfig) -> Result<Self, ConfigError> {
        let given = Given::new(args, file);
        let mut server = ServerSettings::given(&given)?;
        let upstreams = UpstreamConfig::given(&given)?;
        if upstreams.location == UpstreamLocation::Sandbox {
            // The sandbox opens nothing real: exploring it stays possible.
            let limits = &mut server.limits;
            (limits.introspection, limits.suggestions, limits.graphiql) = (true, true, true);
        }
        let config = Self {
            server,
            upstreams,
            credentials: CredentialSettings::given(&given)?,
            webhooks: WebhookSettings::given(&given),
            cache: CacheSettings::given(&given),
            rate_limits: RateSettings::given(&given)?,
            events: EventSettings::given(&given),
            live_queries: LiveQueryLimits::given(&given)?,
            telemetry: TelemetrySettings::given(&given)?,
            sandbox: SandboxChoice::given(&given),
        };
        config.check_default_credentials_are_guarded()?;
        config.check_partner_mode()?;
        Ok(config)
    }

    fn on_sandbox(&self) -> bool {
        self.upstreams.location == UpstreamLocation::Sandbox
    }

    /// Pixelz signs a partner's webhooks with the partner secret as well: without it,
    /// the gateway could not tell a real delivery from a forged one.
    fn check_partner_mode(&self) -> Result<(), ConfigError> {
        if self.credentials.pixelz_developer_api_key.is_some()
            && self.webhooks.partner_secret.is_none()
            && !self.on_sandbox()
        {
            return Err(invalid(
                key::pixelz_partner_secret,
                "a developer API key is configured: Pixelz then signs webhooks with the partner secret, so set it",
            ));
        }
        Ok(())
    }

    /// Real default credentials act for whoever calls; beyond loopback, only token holders may call.
    fn check_default_credentials_are_guarded(&self) -> Result<(), ConfigError> {
        let exposed = !self.server.listen.ip().is_loopback();
        if !self.on_sandbox() && self.credentials.has_defaults() && exposed && self.credentials.access_tokens.is_empty()
        {
            return Err(invalid(
                key::access_tokens,
                format!(
                    "default upstream credentials are configured and {} is reachable beyond loopback: \
                     set access tokens, listen on loopback, or drop the defaults",
                    self.server.listen
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ipnet::IpNet;

    use super::server::DEFAULT_LISTEN;
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs::default()
    }

    #[test]
    fn defaults_run_the_sandbox_on_loopback() {
        let config = Config::merge(args(), FileConfig::default()).unwrap();
        assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.upstreams.location, UpstreamLocation::Sandbox);
        assert!(!config.credentials.has_defaults());
    }

    #[test]
    fn flags_beat_the_file() {
        let file: FileConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\npublic_url = \"https://gw.example.com\"").unwrap();
        let config = Config::merge(ServeArgs { listen: Some("127.0.0.1:9100".into()), ..args() }, file).unwrap();
        assert_eq!(config.server.listen.port(), 9100);
        assert_eq!(config.server.public_url.unwrap().as_str(), "https://gw.example.com/");
    }

    /// The README's table of settings shows each default the code keeps as a constant, as
    /// `--help` shows it: a default changed in the code and not in the table fails here.
    #[test]
    fn the_readme_shows_each_default_the_code_keeps() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let mut defaults = settings::defaults();
        assert!(defaults.len() > 30, "the constant defaults are listed: {defaults:?}");
        defaults.push((key::sandbox_step_ms, pixgate_sandbox::DEFAULT_STEP_MS.to_string()));
        for (setting, value) in defaults {
            let named = format!("`{}`", setting.env);
            let row = readme
                .lines()
                .filter(|line| line.starts_with("| `"))
                .find(|line| line.split(" | ").next().is_some_and(|cell| cell.split(", ").any(|n| n.ends_with(&named))))
                .unwrap_or_else(|| panic!("the README's table has no row for {}", setting.env));
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            let position = cells[0].split(", ").position(|n| n == named).unwrap_or(0);
            let shown: Vec<&str> = cells[cells.len() - 1].split(", ").collect();
            let shown = shown.get(position).or(shown.first()).copied().unwrap_or_default();
            assert!(shown.contains(&format!("`{value}`")), "README: {} shows {shown}, the code {value}", setting.env);
        }
    }

    #[test]
    fn every_setting_has_one_flag_one_env_and_one_file_key() {
        use clap::CommandFactory as _;
        let command = crate::cli::Cli::command();
        for key in settings::SETTINGS {
            let flag = key.name.replace('_', "-");
            let arg = command.get_arguments().find(|arg| arg.get_long() == Some(flag.as_str()));
            let arg = arg.unwrap_or_else(|| panic!("no --{flag}"));
            assert_eq!(arg.get_env().and_then(|env| env.to_str()), Some(key.env), "--{flag}");
            let file = format!("{} = 1", key.name);
            let refused = toml::from_str::<FileConfig>(&file).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!refused.contains("unknown field"), "{} is a file key: {refused}", key.name);
        }
    }

    #[test]
    fn an_unknown_file_key_is_named() {
        let error = toml::from_str::<FileConfig>("lisen = \"127.0.0.1:9000\"").unwrap_err().to_string();
        assert!(error.contains("lisen"), "{error}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let error =
            Config::merge(ServeArgs { listen: Some("nowhere".into()), ..args() }, FileConfig::default()).unwrap_err();
        assert!(error.to_string().starts_with("listen (PIXGATE_LISTEN)"), "{error}");
        let error = Config::merge(
            ServeArgs { pixieset_base_url: Some("ftp://x".into()), pixelz_base_url: Some("http://y".into()), ..args() },
            FileConfig::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("PIXIESET_BASE_URL"), "{error}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let proxies = Some(vec!["10.0.0.0/8".into(), " 192.0.2.7 ".into(), "::1".into()]);
        let config = Config::merge(ServeArgs { trusted_proxies: proxies, ..args() }, FileConfig::default()).unwrap();
        let expected: Vec<IpNet> =
            vec!["10.0.0.0/8".parse().unwrap(), "192.0.2.7/32".parse().unwrap(), "::1/128".parse().unwrap()];
        assert_eq!(config.rate_limits.trusted_proxies, expected);
        let error = Config::merge(
            ServeArgs { trusted_proxies: Some(vec!["10.0.0.0/33".into()]), ..args() },
            FileConfig::default(),
        )
        .unwrap_err();
        assert!(error.to_string().starts_with("trusted_proxies (PIXGATE_TRUSTED_PROXIES)"), "{error}");
    }

    #[test]
    fn one_upstream_alone_is_refused() {
        let error =
            Config::merge(ServeArgs { pixieset_base_url: Some("http://x".into()), ..args() }, FileConfig::default())
                .unwrap_err();
        assert!(error.to_string().contains("PIXELZ_BASE_URL"), "{error}");
    }

    fn remote_with_defaults(listen: &str, tokens: Option<Vec<String>>) -> Result<Config, ConfigError> {
        Config::merge(
            ServeArgs {
                listen: Some(listen.into()),
                pixieset_base_url: Some("https://studio.example.com/api/v1".into()),
                pixelz_base_url: Some("https://pixelz.example.com/REST.svc/JSON".into()),
                pixieset_cookie: Some("session_cookie=real".into()),
                access_tokens: tokens,
                ..args()
            },
            FileConfig::default(),
        )
    }

    #[test]
    fn exposed_defaults_need_access_tokens() {
        assert!(remote_with_defaults("127.0.0.1:8080", None).is_ok());
        let error = remote_with_defaults("0.0.0.0:8080", None).unwrap_err().to_string();
        assert!(error.contains("PIXGATE_ACCESS_TOKENS"), "{error}");
        assert!(remote_with_defaults("0.0.0.0:8080", Some(vec!["t0ken".into()])).is_ok());
    }

    #[test]
    fn a_developer_key_needs_the_partner_secret_that_signs_its_webhooks() {
        let remote = |partner_secret: Option<&str>| {
            Config::merge(
                ServeArgs {
                    pixieset_base_url: Some("https://studio.example.com/api/v1".into()),
                    pixelz_base_url: Some("https://pixelz.example.com/REST.svc/JSON".into()),
                    pixelz_developer_api_key: Some("partner-key".into()),
                    pixelz_partner_secret: partner_secret.map(str::to_string),
                    ..args()
                },
                FileConfig::default(),
            )
        };
        let error = remote(None).unwrap_err().to_string();
        assert!(error.contains("PIXELZ_PARTNER_SECRET"), "{error}");
        assert!(remote(Some("partner-secret")).is_ok());
    }

    #[test]
    fn the_sandbox_may_listen_anywhere() {
        assert!(
            Config::merge(ServeArgs { listen: Some("0.0.0.0:8080".into()), ..args() }, FileConfig::default()).is_ok()
        );
    }

    #[test]
    fn printing_the_config_shows_no_secret() {
        let config = remote_with_defaults("127.0.0.1:8080", Some(vec!["t0ken-value".into()])).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("session_cookie=real") && !printed.contains("t0ken-value"), "{printed}");
    }
}
