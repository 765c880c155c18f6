//! The gateway's configuration: typed, validated once at start-up, safe to print,
//! and grouped in one section per concern. Each setting is declared once, in
//! `settings.rs`; `Config::merge` reads each into its section with its default and check.

mod connections;
mod settings;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use reqwest::Url;

use crate::cache::responses::DEFAULT_CAPACITY_BYTES as RESPONSE_CACHE_BYTES;
use crate::cache::{DEFAULT_CAPACITY_BYTES, Ttls};
use crate::secret::Secret;
use crate::telemetry::LogFormat;
use crate::upstream::UpstreamSettings;
pub use connections::ConnectionSettings;
use settings::Given;
pub use settings::{FileConfig, ServeArgs, Setting, key};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// A request body this large holds any real operation with room to spare.
pub const DEFAULT_MAX_BODY_KB: usize = 256;

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

fn invalid(key: Setting, message: impl Into<String>) -> ConfigError {
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
    pub telemetry: TelemetrySettings,
    pub sandbox: SandboxChoice,
}

/// Where the gateway listens and what it accepts there.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// The gateway's URL as Pixelz reaches it (webhook callbacks).
    pub public_url: Option<Url>,
    /// Largest request body.
    pub max_body_bytes: usize,
    pub cors: Cors,
    pub limits: Limits,
    /// Guards `POST /admin/invalidate`.
    pub admin_token: Option<Secret>,
    /// The manifest of the only operations that run.
    pub trusted_documents: Option<std::path::PathBuf>,
    /// Served as a Federation v2 subgraph.
    pub federation: bool,
    pub connections: ConnectionSettings,
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

pub const DEFAULT_MAX_DEPTH: usize = 15;
pub const DEFAULT_MAX_COMPLEXITY: usize = 5_000;
pub const DEFAULT_MAX_ALIASES: usize = 30;
/// graphql-armor's default: directive overloading (OWASP) costs the server per directive.
pub const DEFAULT_MAX_DIRECTIVES: usize = 50;
pub const DEFAULT_MAX_ROOT_FIELDS: usize = 20;
pub const DEFAULT_MAX_BATCH: usize = 10;
pub const DEFAULT_EXECUTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Upstream calls one operation may make: a studio's upstream quota is shared by everyone who uses it.
pub const DEFAULT_MAX_UPSTREAM_CALLS: u32 = 100;

/// What one operation may ask (enforced by `graphql::limits`), with safe defaults.
/// Introspection, field suggestions and GraphiQL help people explore; production
/// deployments may switch them off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_depth: usize,
    /// Each field costs 1; a connection field costs its page size (`first` or
    /// `last`, else the default page) times what each node costs.
    pub max_complexity: usize,
    pub max_aliases: usize,
    /// Directives in one document, wherever they stand.
    pub max_directives: usize,
    pub max_root_fields: usize,
    /// Operations in one batched HTTP request.
    pub max_batch: usize,
    pub execution_timeout: Duration,
    /// Upstream calls one operation may make, every attempt counted.
    pub max_upstream_calls: u32,
    pub introspection: bool,
    pub suggestions: bool,
    pub graphiql: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_complexity: DEFAULT_MAX_COMPLEXITY,
            max_aliases: DEFAULT_MAX_ALIASES,
            max_directives: DEFAULT_MAX_DIRECTIVES,
            max_root_fields: DEFAULT_MAX_ROOT_FIELDS,
            max_batch: DEFAULT_MAX_BATCH,
            execution_timeout: DEFAULT_EXECUTION_TIMEOUT,
            max_upstream_calls: DEFAULT_MAX_UPSTREAM_CALLS,
            introspection: true,
            suggestions: true,
            graphiql: true,
        }
    }
}

/// The two APIs: where they are and how they are called.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    pub location: UpstreamLocation,
    /// Base for Pixelz's relative image and invoice URLs; the Pixelz host when not set.
    pub pixelz_asset_base_url: Option<Url>,
    pub settings: UpstreamSettings,
}

/// Where the upstream APIs are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamLocation {
    /// Neither base URL is configured: run the built-in sandbox in-process.
    Sandbox,
    Remote {
        pixieset: Url,
        pixelz: Url,
    },
}

/// The credentials the gateway acts with for callers that send none, and who may use them.
#[derive(Clone, Debug)]
pub struct CredentialSettings {
    pub pixieset_cookie: Option<Secret>,
    pub pixelz: Option<PixelzDefaults>,
    /// Bearer tokens a caller presents to act with the defaults.
    pub access_tokens: Vec<Secret>,
    /// The partner acting for every studio: its key goes with each submission, and
    /// each webhook must then carry the partner signature.
    pub pixelz_developer_api_key: Option<Secret>,
    /// The partner's Pixelz email: with its key, who creates contacts.
    pub pixelz_developer_email: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PixelzDefaults {
    pub contact_email: String,
    pub api_key: Secret,
}

/// The secrets that verify Pixelz's webhooks.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub app_secret: Option<Secret>,
    pub partner_secret: Option<Secret>,
}

#[derive(Clone, Debug)]
pub struct CacheSettings {
    /// None when caching is off.
    pub bytes: Option<u64>,
    /// For whole answers; None or 0 when they are not kept.
    pub response_bytes: Option<u64>,
    pub ttls: Ttls,
}

/// Requests per second and the burst above it; a rate of 0 switches the bucket off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub per_second: u32,
    pub burst: u32,
}

/// The budgets `server::rate_limit` enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateSettings {
    pub per_ip: Bucket,
    pub per_tenant: Bucket,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            per_ip: Bucket { per_second: 100, burst: 200 },
            per_tenant: Bucket { per_second: 50, burst: 100 },
            trusted_proxies: Vec::new(),
        }
    }
}

/// Image status: how it is watched, and how instances share it (and persisted queries).
#[derive(Clone, Debug)]
pub struct EventSettings {
    pub redis_url: Option<Secret>,
    /// Where idempotency records are kept, when not in `redis_url`'s Redis: they may not be lost.
    pub records_redis_url: Option<Secret>,
    pub poll_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// Where spans are exported over OTLP/HTTP, when anywhere.
    pub otlp_endpoint: Option<Url>,
}

/// How the in-process sandbox runs, when no upstream is configured.
#[derive(Clone, Debug)]
pub struct SandboxChoice {
    /// None: the simulator's own default.
    pub step_ms: Option<u64>,
    pub extras: bool,
}

fn http_url(key: Setting, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(key, "must be an http:// or https:// URL"));
    }
    Ok(url)
}

fn optional_url(key: Setting, raw: Option<String>) -> Result<Option<Url>, ConfigError> {
    raw.map(|raw| http_url(key, &raw)).transpose()
}

/// Zero is refused where it would make the gateway refuse everything.
fn at_least_one<T: Default + PartialEq>(key: Setting, value: Option<T>, default: T) -> Result<T, ConfigError> {
    match value {
        Some(zero) if zero == T::default() => Err(invalid(key, "must be at least 1")),
        value => Ok(value.unwrap_or(default)),
    }
}

/// Addresses stand for themselves: `10.0.0.5` is `10.0.0.5/32`.
fn trusted_proxies(proxies: Option<Vec<String>>) -> Result<Vec<IpNet>, ConfigError> {
    let proxies = proxies.unwrap_or_default();
    let proxies = proxies.iter().map(|p| p.trim()).filter(|p| !p.is_empty());
    proxies
        .map(|proxy| {
            proxy
                .parse::<IpNet>()
                .map(|range| range.trunc())
                .or_else(|_| proxy.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        key::trusted_proxies,
                        format!("{proxy:?} is not an address or a CIDR range like 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

fn cors(origins: Option<Vec<String>>) -> Result<Cors, ConfigError> {
    const KEY: Setting = key::cors_origins;
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

impl Limits {
    fn given(given: &Given) -> Result<Self, ConfigError> {
        let defaults = Limits::default();
        let exploring = |value: Option<bool>| value.unwrap_or(true);
        let timeout_ms = at_least_one(key::execution_timeout_ms, given.execution_timeout_ms(), 0)?;
        Ok(Limits {
            max_depth: at_least_one(key::max_depth, given.max_depth(), defaults.max_depth)?,
            max_complexity: at_least_one(key::max_complexity, given.max_complexity(), defaults.max_complexity)?,
            // Zero aliases is a valid policy.
            max_aliases: given.max_aliases().unwrap_or(defaults.max_aliases),
            // As with aliases, zero is a policy: no directives at all.
            max_directives: given.max_directives().unwrap_or(defaults.max_directives),
            max_root_fields: at_least_one(key::max_root_fields, given.max_root_fields(), defaults.max_root_fields)?,
            max_batch: at_least_one(key::max_batch, given.max_batch(), defaults.max_batch)?,
            execution_timeout: match timeout_ms {
                0 => defaults.execution_timeout,
                ms => Duration::from_millis(ms),
            },
            max_upstream_calls: at_least_one(
                key::max_upstream_calls,
                given.max_upstream_calls(),
                defaults.max_upstream_calls,
            )?,
            introspection: exploring(given.introspection()),
            suggestions: exploring(given.field_suggestions()),
            graphiql: exploring(given.graphiql()),
        })
    }
}

impl ServerSettings {
    fn given(given: &Given) -> Result<Self, ConfigError> {
        let listen_raw = given.listen().unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_raw
            .trim()
            .parse()
            .map_err(|_| invalid(key::listen, format!("{listen_raw:?} is not an address like 127.0.0.1:8080")))?;
        let max_body_kb = at_least_one(key::max_body_kb, given.max_body_kb(), DEFAULT_MAX_BODY_KB)?;
        Ok(Self {
            listen,
            public_url: optional_url(key::public_url, given.public_url())?,
            max_body_bytes: max_body_kb.saturating_mul(1024),
            cors: cors(given.cors_origins())?,
            limits: Limits::given(given)?,
            admin_token: given.admin_token(),
            trusted_documents: given.trusted_documents().filter(|path| !path.trim().is_empty()).map(Into::into),
            federation: given.federation().unwrap_or(false),
            connections: ConnectionSettings::given(given)?,
        })
    }
}

impl UpstreamConfig {
    fn given(given: &Given) -> Result<Self, ConfigError> {
        const BOTH: &str = "set both upstream base URLs, or neither to use the sandbox";
        let location = match (given.pixieset_base_url(), given.pixelz_base_url()) {
            (None, None) => UpstreamLocation::Sandbox,
            (Some(pixieset), Some(pixelz)) => UpstreamLocation::Remote {
                pixieset: http_url(key::pixieset_base_url, &pixieset)?,
                pixelz: http_url(key::pixelz_base_url, &pixelz)?,
            },
            (Some(_), None) => return Err(invalid(key::pixelz_base_url, BOTH)),
            (None, Some(_)) => return Err(invalid(key::pixieset_base_url, BOTH)),
        };
        let defaults = UpstreamSettings::default();
        let timeout_ms = at_least_one(key::upstream_timeout_ms, given.upstream_timeout_ms(), 0)?;
        let max_attempts = given.upstream_max_attempts().unwrap_or(defaults.max_attempts);
        if !(1..=10).contains(&max_attempts) {
            return Err(invalid(key::upstream_max_attempts, "must be between 1 and 10"));
        }
        let settings = UpstreamSettings {
            timeout: if timeout_ms == 0 { defaults.timeout } else { Duration::from_millis(timeout_ms) },
            max_attempts,
            concurrency: at_least_one(key::upstream_concurrency, given.upstream_concurrency(), defaults.concurrency)?,
            failures_to_open: at_least_one(
                key::upstream_breaker_failures,
                given.upstream_breaker_failures(),
                defaults.failures_to_open,
            )?,
            open_for: match at_least_one(key::upstream_breaker_open_ms, given.upstream_breaker_open_ms(), 0)? {
                0 => defaults.open_for,
                ms => Duration::from_millis(ms),
            },
            ..defaults
        };
        let pixelz_asset_base_url = optional_url(key::pixelz_asset_base_url, given.pixelz_asset_base_url())?;
        Ok(Self { location, pixelz_asset_base_url, settings })
    }
}

impl CredentialSettings {
    fn given(given: &Given) -> Result<Self, ConfigError> {
        let pixelz = match (given.pixelz_contact_email(), given.pixelz_api_key()) {
            (None, None) => None,
            (Some(contact_email), Some(api_key)) => Some(PixelzDefaults { contact_email, api_key }),
            (Some(_), None) => return Err(invalid(key::pixelz_api_key, "is required with PIXELZ_CONTACT_EMAIL")),
            (None, Some(_)) => return Err(invalid(key::pixelz_contact_email, "is required with PIXELZ_API_KEY")),
        };
        let access_tokens = given.access_tokens().unwrap_or_default();
        if access_tokens.iter().any(|t| t.expose().trim().is_empty() || t.expose().chars().any(char::is_whitespace)) {
            return Err(invalid(key::access_tokens, "tokens must be non-empty and contain no whitespace"));
        }
        Ok(Self {
            pixieset_cookie: given.pixieset_cookie(),
            pixelz,
            access_tokens,
            pixelz_developer_api_key: given.pixelz_developer_api_key(),
            pixelz_developer_email: given.pixelz_developer_email(),
        })
    }

    pub fn has_defaults(&self) -> bool {
        self.pixieset_cookie.is_some() || self.pixelz.is_some()
    }
}

impl CacheSettings {
    fn given(given: &Given) -> Self {
        let defaults = Ttls::default();
        let secs = |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_secs);
        Self {
            // 0 MiB switches the cache off.
            bytes: match given.cache_mb() {
                Some(0) => None,
                Some(mb) => Some(mb.saturating_mul(1024 * 1024)),
                None => Some(DEFAULT_CAPACITY_BYTES),
            },
            response_bytes: match given.response_cache_mb() {
                Some(mb) => Some(mb.saturating_mul(1024 * 1024)),
                None => Some(RESPONSE_CACHE_BYTES),
            },
            ttls: Ttls {
                templates: secs(given.cache_templates_secs(), defaults.templates),
                records: secs(given.cache_records_secs(), defaults.records),
                image_status: secs(given.cache_image_status_secs(), defaults.image_status),
                ..defaults
            },
        }
    }
}

impl RateSettings {
    fn given(given: &Given) -> Result<Self, ConfigError> {
        let defaults = RateSettings::default();
        Ok(Self {
            per_ip: Bucket {
                per_second: given.rate_limit_ip().unwrap_or(defaults.per_ip.per_second),
                burst: given.rate_limit_ip_burst().unwrap_or(defaults.per_ip.burst),
            },
            per_tenant: Bucket {
                per_second: given.rate_limit_tenant().unwrap_or(defaults.per_tenant.per_second),
                burst: given.rate_limit_tenant_burst().unwrap_or(defaults.per_tenant.burst),
            },
            trusted_proxies: trusted_proxies(given.trusted_proxies())?,
        })
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
            webhooks: WebhookSettings {
                app_secret: given.pixelz_app_secret(),
                partner_secret: given.pixelz_partner_secret(),
            },
            cache: CacheSettings::given(&given),
            rate_limits: RateSettings::given(&given)?,
            events: EventSettings {
                redis_url: given.redis_url(),
                records_redis_url: given.records_redis_url(),
                poll_interval: given
                    .poll_interval_ms()
                    .filter(|ms| *ms > 0)
                    .map_or(crate::events::poller::DEFAULT_INTERVAL, Duration::from_millis),
            },
            telemetry: TelemetrySettings {
                log_format: given.log_format().unwrap_or_default(),
                otlp_endpoint: optional_url(key::otlp_endpoint, given.otlp_endpoint())?,
            },
            sandbox: SandboxChoice {
                step_ms: given.sandbox_step_ms(),
                extras: given.sandbox_extras().unwrap_or(false),
            },
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
