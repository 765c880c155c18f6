//! The gateway's configuration: typed, validated once at start-up, and safe to print.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use reqwest::Url;
use serde::Deserialize;

use crate::cache::{DEFAULT_CAPACITY_BYTES, Ttls};
use crate::cli::{LogFormat, ServeArgs};
use crate::graphql::limits::Limits;
use crate::secret::Secret;
use crate::server::rate_limit::{Bucket, RateSettings};
use crate::upstream::UpstreamSettings;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, message: message.into() }
}

/// The `--config` file. Every key is optional; an unknown key is an error, not a silent default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub pixieset_base_url: Option<String>,
    pub pixelz_base_url: Option<String>,
    pub pixieset_cookie: Option<Secret>,
    pub pixelz_contact_email: Option<String>,
    pub pixelz_api_key: Option<Secret>,
    pub pixelz_app_secret: Option<Secret>,
    pub pixelz_partner_secret: Option<Secret>,
    pub pixelz_developer_api_key: Option<Secret>,
    pub redis_url: Option<Secret>,
    pub access_tokens: Option<Vec<Secret>>,
    pub log_format: Option<LogFormat>,
    pub pixelz_asset_base_url: Option<String>,
    pub upstream_timeout_ms: Option<u64>,
    pub upstream_max_attempts: Option<u32>,
    pub upstream_concurrency: Option<usize>,
    pub cache_mb: Option<u64>,
    pub cache_templates_secs: Option<u64>,
    pub cache_records_secs: Option<u64>,
    pub cache_image_status_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub max_depth: Option<usize>,
    pub max_complexity: Option<usize>,
    pub max_aliases: Option<usize>,
    pub max_directives: Option<usize>,
    pub max_root_fields: Option<usize>,
    pub max_batch: Option<usize>,
    pub max_body_kb: Option<usize>,
    pub execution_timeout_ms: Option<u64>,
    pub introspection: Option<bool>,
    pub field_suggestions: Option<bool>,
    pub graphiql: Option<bool>,
    pub rate_limit_ip: Option<u32>,
    pub rate_limit_ip_burst: Option<u32>,
    pub rate_limit_tenant: Option<u32>,
    pub rate_limit_tenant_burst: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    pub cors_origins: Option<Vec<String>>,
    pub otlp_endpoint: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        // toml's message names the offending key and its line.
        toml::from_str(&text).map_err(|e| ConfigError::File { path: path.into(), message: e.to_string() })
    }
}

/// Where the upstream APIs are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upstreams {
    /// Neither base URL is configured: run the built-in sandbox in-process.
    Sandbox,
    Remote {
        pixieset: Url,
        pixelz: Url,
    },
}

#[derive(Clone, Debug)]
pub struct PixelzDefaults {
    pub contact_email: String,
    pub api_key: Secret,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: Option<Url>,
    pub upstreams: Upstreams,
    pub pixieset_cookie: Option<Secret>,
    pub pixelz: Option<PixelzDefaults>,
    pub pixelz_app_secret: Option<Secret>,
    pub pixelz_partner_secret: Option<Secret>,
    /// The partner acting for every studio: its key goes with each submission, and
    /// each webhook must then carry the partner signature.
    pub pixelz_developer_api_key: Option<Secret>,
    pub redis_url: Option<Secret>,
    pub access_tokens: Vec<Secret>,
    pub log_format: LogFormat,
    pub sandbox_step_ms: u64,
    pub sandbox_extras: bool,
    pub pixelz_asset_base_url: Option<Url>,
    pub upstream: UpstreamSettings,
    /// None when caching is off.
    pub cache_bytes: Option<u64>,
    pub cache_ttls: Ttls,
    /// Per-request batching of by-id lookups; off only to measure what it saves.
    pub batching: bool,
    /// Relations served from the summaries lists embed; off only to measure what it saves.
    pub embedded_summaries: bool,
    pub poll_interval: std::time::Duration,
    pub limits: Limits,
    /// Largest request body.
    pub max_body_bytes: usize,
    pub rate_limits: RateSettings,
    pub cors: Cors,
    /// Where spans are exported over OTLP/HTTP, when anywhere.
    pub otlp_endpoint: Option<Url>,
}

/// Which browser origins may call the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// No cross-origin calls: browsers only call from the gateway's own origin.
    #[default]
    Closed,
    Any,
    Origins(Vec<axum::http::HeaderValue>),
}

/// Addresses stand for themselves: `10.0.0.5` is `10.0.0.5/32`.
fn trusted_proxies(proxies: Option<Vec<String>>) -> Result<Vec<IpNet>, ConfigError> {
    const KEY: &str = "trusted_proxies (PIXGATE_TRUSTED_PROXIES)";
    let proxies = proxies.unwrap_or_default();
    let proxies = proxies.iter().map(|p| p.trim()).filter(|p| !p.is_empty());
    proxies
        .map(|proxy| {
            proxy
                .parse::<IpNet>()
                .map(|range| range.trunc())
                .or_else(|_| proxy.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| invalid(KEY, format!("{proxy:?} is not an address or a CIDR range like 10.0.0.0/8")))
        })
        .collect()
}

fn cors(origins: Option<Vec<String>>) -> Result<Cors, ConfigError> {
    const KEY: &str = "cors_origins (PIXGATE_CORS_ORIGINS)";
    let origins: Vec<String> =
        origins.unwrap_or_default().into_iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
    if origins.is_empty() {
        return Ok(Cors::Closed);
    }
    if origins.iter().any(|o| o == "*") {
        return if origins.len() == 1 { Ok(Cors::Any) } else { Err(invalid(KEY, "`*` stands alone")) };
    }
    origins
        .iter()
        .map(|origin| {
            let url = Url::parse(origin)
                .map_err(|_| invalid(KEY, format!("{origin:?} is not an origin like https://app.example.com")))?;
            let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && !origin.ends_with('/');
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
                return Err(invalid(KEY, format!("{origin:?} is not an origin like https://app.example.com")));
            }
            axum::http::HeaderValue::from_str(origin)
                .map_err(|_| invalid(KEY, format!("{origin:?} is not a valid header value")))
        })
        .collect::<Result<_, _>>()
        .map(Cors::Origins)
}

fn http_url(key: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(key, "must be an http:// or https:// URL"));
    }
    Ok(url)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A request body this large holds any real operation with room to spare.
pub const DEFAULT_MAX_BODY_KB: usize = 256;

fn limits(args: &ServeArgs, file: &FileConfig) -> Result<Limits, ConfigError> {
    let defaults = Limits::default();
    let at_least_one = |key: &'static str, value: Option<usize>, default: usize| match value {
        Some(0) => Err(invalid(key, "must be at least 1")),
        value => Ok(value.unwrap_or(default)),
    };
    let exploring = |flag: Option<bool>, file: Option<bool>| flag.or(file).unwrap_or(true);
    let timeout_ms = args.execution_timeout_ms.or(file.execution_timeout_ms);
    if timeout_ms == Some(0) {
        return Err(invalid("execution_timeout_ms (PIXGATE_EXECUTION_TIMEOUT_MS)", "must be at least 1"));
    }
    Ok(Limits {
        max_depth: at_least_one(
            "max_depth (PIXGATE_MAX_DEPTH)",
            args.max_depth.or(file.max_depth),
            defaults.max_depth,
        )?,
        max_complexity: at_least_one(
            "max_complexity (PIXGATE_MAX_COMPLEXITY)",
            args.max_complexity.or(file.max_complexity),
            defaults.max_complexity,
        )?,
        // Zero aliases is a valid policy.
        max_aliases: args.max_aliases.or(file.max_aliases).unwrap_or(defaults.max_aliases),
        // As with aliases, zero is a policy: no directives at all.
        max_directives: args.max_directives.or(file.max_directives).unwrap_or(defaults.max_directives),
        max_root_fields: at_least_one(
            "max_root_fields (PIXGATE_MAX_ROOT_FIELDS)",
            args.max_root_fields.or(file.max_root_fields),
            defaults.max_root_fields,
        )?,
        max_batch: at_least_one(
            "max_batch (PIXGATE_MAX_BATCH)",
            args.max_batch.or(file.max_batch),
            defaults.max_batch,
        )?,
        execution_timeout: timeout_ms.map_or(defaults.execution_timeout, std::time::Duration::from_millis),
        introspection: exploring(args.introspection, file.introspection),
        suggestions: exploring(args.field_suggestions, file.field_suggestions),
        graphiql: exploring(args.graphiql, file.graphiql),
    })
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
        let secret = |flag: Option<String>, file: Option<Secret>| non_empty(flag).map(Secret::new).or(file);
        let mut limits = limits(&args, &file)?;

        let listen_raw = non_empty(args.listen).or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_raw.trim().parse().map_err(|_| {
            invalid("listen (PIXGATE_LISTEN)", format!("{listen_raw:?} is not an address like 127.0.0.1:8080"))
        })?;
        let public_url = non_empty(args.public_url)
            .or(file.public_url)
            .map(|raw| http_url("public_url (PIXGATE_PUBLIC_URL)", &raw))
            .transpose()?;

        let pixieset = non_empty(args.pixieset_base_url).or(file.pixieset_base_url);
        let pixelz = non_empty(args.pixelz_base_url).or(file.pixelz_base_url);
        let upstreams = match (pixieset, pixelz) {
            (None, None) => Upstreams::Sandbox,
            (Some(pixieset), Some(pixelz)) => Upstreams::Remote {
                pixieset: http_url("pixieset_base_url (PIXIESET_BASE_URL)", &pixieset)?,
                pixelz: http_url("pixelz_base_url (PIXELZ_BASE_URL)", &pixelz)?,
            },
            (Some(_), None) => {
                return Err(invalid(
                    "pixelz_base_url (PIXELZ_BASE_URL)",
                    "set both upstream base URLs, or neither to use the sandbox",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "pixieset_base_url (PIXIESET_BASE_URL)",
                    "set both upstream base URLs, or neither to use the sandbox",
                ));
            }
        };

        if upstreams == Upstreams::Sandbox {
            // The sandbox opens nothing real: exploring it stays possible.
            (limits.introspection, limits.suggestions, limits.graphiql) = (true, true, true);
        }

        let contact_email = non_empty(args.pixelz_contact_email).or(file.pixelz_contact_email);
        let api_key = secret(args.pixelz_api_key, file.pixelz_api_key);
        let pixelz = match (contact_email, api_key) {
            (None, None) => None,
            (Some(contact_email), Some(api_key)) => Some(PixelzDefaults { contact_email, api_key }),
            (Some(_), None) => {
                return Err(invalid("pixelz_api_key (PIXELZ_API_KEY)", "is required with PIXELZ_CONTACT_EMAIL"));
            }
            (None, Some(_)) => {
                return Err(invalid("pixelz_contact_email (PIXELZ_CONTACT_EMAIL)", "is required with PIXELZ_API_KEY"));
            }
        };

        let access_tokens: Vec<Secret> = match args.access_tokens {
            Some(tokens) => tokens.into_iter().filter_map(|t| non_empty(Some(t))).map(Secret::new).collect(),
            None => file.access_tokens.unwrap_or_default(),
        };
        if access_tokens.iter().any(|t| t.expose().trim().is_empty() || t.expose().chars().any(char::is_whitespace)) {
            return Err(invalid(
                "access_tokens (PIXGATE_ACCESS_TOKENS)",
                "tokens must be non-empty and contain no whitespace",
            ));
        }

        let pixelz_asset_base_url = non_empty(args.pixelz_asset_base_url)
            .or(file.pixelz_asset_base_url)
            .map(|raw| http_url("pixelz_asset_base_url (PIXELZ_ASSET_BASE_URL)", &raw))
            .transpose()?;
        let defaults = UpstreamSettings::default();
        let timeout_ms = args.upstream_timeout_ms.or(file.upstream_timeout_ms);
        if timeout_ms == Some(0) {
            return Err(invalid("upstream_timeout_ms (PIXGATE_UPSTREAM_TIMEOUT_MS)", "must be at least 1"));
        }
        let max_attempts = args.upstream_max_attempts.or(file.upstream_max_attempts).unwrap_or(defaults.max_attempts);
        if !(1..=10).contains(&max_attempts) {
            return Err(invalid("upstream_max_attempts (PIXGATE_UPSTREAM_MAX_ATTEMPTS)", "must be between 1 and 10"));
        }
        let concurrency = args.upstream_concurrency.or(file.upstream_concurrency).unwrap_or(defaults.concurrency);
        if concurrency == 0 {
            return Err(invalid("upstream_concurrency (PIXGATE_UPSTREAM_CONCURRENCY)", "must be at least 1"));
        }
        let upstream = UpstreamSettings {
            timeout: timeout_ms.map_or(defaults.timeout, std::time::Duration::from_millis),
            max_attempts,
            concurrency,
            ..defaults
        };

        let cache_mb = args.cache_mb.or(file.cache_mb);
        let ttl_defaults = Ttls::default();
        let secs = |flag: Option<u64>, file: Option<u64>, default: std::time::Duration| {
            flag.or(file).map_or(default, std::time::Duration::from_secs)
        };
        let cache_ttls = Ttls {
            templates: secs(args.cache_templates_secs, file.cache_templates_secs, ttl_defaults.templates),
            records: secs(args.cache_records_secs, file.cache_records_secs, ttl_defaults.records),
            image_status: secs(args.cache_image_status_secs, file.cache_image_status_secs, ttl_defaults.image_status),
            ..ttl_defaults
        };

        let max_body_kb = args.max_body_kb.or(file.max_body_kb).unwrap_or(DEFAULT_MAX_BODY_KB);
        if max_body_kb == 0 {
            return Err(invalid("max_body_kb (PIXGATE_MAX_BODY_KB)", "must be at least 1"));
        }

        let rate_defaults = RateSettings::default();
        let rate_limits = RateSettings {
            per_ip: Bucket {
                per_second: args.rate_limit_ip.or(file.rate_limit_ip).unwrap_or(rate_defaults.per_ip.per_second),
                burst: args.rate_limit_ip_burst.or(file.rate_limit_ip_burst).unwrap_or(rate_defaults.per_ip.burst),
            },
            per_tenant: Bucket {
                per_second: args
                    .rate_limit_tenant
                    .or(file.rate_limit_tenant)
                    .unwrap_or(rate_defaults.per_tenant.per_second),
                burst: args
                    .rate_limit_tenant_burst
                    .or(file.rate_limit_tenant_burst)
                    .unwrap_or(rate_defaults.per_tenant.burst),
            },
            trusted_proxies: trusted_proxies(args.trusted_proxies.or(file.trusted_proxies))?,
        };
        let cors = cors(args.cors_origins.or(file.cors_origins))?;
        let otlp_endpoint = non_empty(args.otlp_endpoint)
            .or(file.otlp_endpoint)
            .map(|raw| http_url("otlp_endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)", &raw))
            .transpose()?;

        let config = Self {
            listen,
            public_url,
            upstreams,
            pixieset_cookie: secret(args.pixieset_cookie, file.pixieset_cookie),
            pixelz,
            pixelz_app_secret: secret(args.pixelz_app_secret, file.pixelz_app_secret),
            pixelz_partner_secret: secret(args.pixelz_partner_secret, file.pixelz_partner_secret),
            pixelz_developer_api_key: secret(args.pixelz_developer_api_key, file.pixelz_developer_api_key),
            redis_url: secret(args.redis_url, file.redis_url),
            access_tokens,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            sandbox_step_ms: args.sandbox_step_ms,
            sandbox_extras: args.sandbox_extras,
            pixelz_asset_base_url,
            upstream,
            // 0 MiB switches the cache off.
            cache_bytes: match cache_mb {
                Some(0) => None,
                Some(mb) => Some(mb.saturating_mul(1024 * 1024)),
                None => Some(DEFAULT_CAPACITY_BYTES),
            },
            cache_ttls,
            batching: true,
            embedded_summaries: true,
            poll_interval: args
                .poll_interval_ms
                .or(file.poll_interval_ms)
                .filter(|ms| *ms > 0)
                .map_or(crate::events::poller::DEFAULT_INTERVAL, std::time::Duration::from_millis),
            limits,
            max_body_bytes: max_body_kb.saturating_mul(1024),
            rate_limits,
            cors,
            otlp_endpoint,
        };
        config.check_default_credentials_are_guarded()?;
        config.check_partner_mode()?;
        Ok(config)
    }

    pub fn has_default_credentials(&self) -> bool {
        self.pixieset_cookie.is_some() || self.pixelz.is_some()
    }

    /// Real default credentials act for whoever calls; beyond loopback, only token holders may call.
    /// Pixelz signs a partner's webhooks with the partner secret as well: without it,
    /// the gateway could not tell a real delivery from a forged one.
    fn check_partner_mode(&self) -> Result<(), ConfigError> {
        if self.pixelz_developer_api_key.is_some()
            && self.pixelz_partner_secret.is_none()
            && self.upstreams != Upstreams::Sandbox
        {
            return Err(invalid(
                "pixelz_partner_secret (PIXELZ_PARTNER_SECRET)",
                "a developer API key is configured: Pixelz then signs webhooks with the partner secret, so set it",
            ));
        }
        Ok(())
    }

    fn check_default_credentials_are_guarded(&self) -> Result<(), ConfigError> {
        let exposed = !self.listen.ip().is_loopback();
        if self.upstreams != Upstreams::Sandbox
            && self.has_default_credentials()
            && exposed
            && self.access_tokens.is_empty()
        {
            return Err(invalid(
                "access_tokens (PIXGATE_ACCESS_TOKENS)",
                format!(
                    "default upstream credentials are configured and {} is reachable beyond loopback: \
                     set access tokens, listen on loopback, or drop the defaults",
                    self.listen
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs { sandbox_step_ms: 2000, ..ServeArgs::default() }
    }

    #[test]
    fn defaults_run_the_sandbox_on_loopback() {
        let config = Config::merge(args(), FileConfig::default()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.upstreams, Upstreams::Sandbox);
        assert!(!config.has_default_credentials());
    }

    #[test]
    fn flags_beat_the_file() {
        let file: FileConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\npublic_url = \"https://gw.example.com\"").unwrap();
        let config = Config::merge(ServeArgs { listen: Some("127.0.0.1:9100".into()), ..args() }, file).unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.public_url.unwrap().as_str(), "https://gw.example.com/");
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
