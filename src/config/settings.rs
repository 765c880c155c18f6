//! Every gateway setting, declared once: its key in the `--config` file, its flag,
//! its environment variable and its help. `ServeArgs` (flags and environment),
//! `FileConfig` (the file) and `key` (the names errors use) are all made from the
//! one list below; a flag beats the environment, which beats the file. A setting's
//! `(default …)` names the constant its section applies, for `--help` and for the test
//! that holds the README's table to it; the section applies it and checks the value.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use super::ConfigError;

const MIB: u64 = 1024 * 1024;
use crate::secret::Secret;
use crate::telemetry::LogFormat;

/// A setting's name in the file and in the environment, as an error names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub env: &'static str,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.env)
    }
}

/// How a flag's value becomes the file's type: strings are trimmed and a blank one is
/// not given (so the file's value stands), secrets are wrapped so they never print.
pub trait FromFlag<F> {
    fn from_flag(flag: &F) -> Option<Self>
    where
        Self: Sized;
}

fn non_blank(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

impl FromFlag<String> for String {
    fn from_flag(flag: &String) -> Option<Self> {
        non_blank(flag).map(str::to_string)
    }
}

impl FromFlag<String> for Secret {
    fn from_flag(flag: &String) -> Option<Self> {
        non_blank(flag).map(Secret::new)
    }
}

impl FromFlag<Vec<String>> for Vec<Secret> {
    fn from_flag(flag: &Vec<String>) -> Option<Self> {
        Some(flag.iter().filter_map(|value| non_blank(value)).map(Secret::new).collect())
    }
}

macro_rules! as_given {
    ($($ty:ty),+) => {$(
        impl FromFlag<$ty> for $ty {
            fn from_flag(flag: &$ty) -> Option<Self> {
                Some(flag.clone())
            }
        }
    )+};
}
as_given!(u16, u32, u64, usize, bool, LogFormat, Vec<String>);

/// A default as `--help` and the README write it.
macro_rules! shown {
    () => {
        None::<String>
    };
    ($default:expr) => {
        Some($default.to_string())
    };
}

/// A setting's help: its doc comment on one line, and the default where one is a constant.
fn help(doc: &str, default: Option<String>) -> String {
    let text = doc.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ");
    match default {
        Some(value) => format!("{} [default: {value}].", text.trim_end_matches('.')),
        None => text,
    }
}

macro_rules! settings {
    (
        $(
            $(#[doc = $doc:literal])+
            $(#[arg($($arg:tt)*)])*
            $name:ident: $flag:ty => $file:ty = $env:literal $((default $default:expr))?,
        )+
    ) => {
        /// Gateway settings as given on the command line or in the environment.
        /// Secrets are accepted as flags for completeness, but belong in the environment or the file.
        #[derive(Clone, Debug, Default, Args)]
        pub struct ServeArgs {
            /// TOML file with any of the settings below (keys in snake_case: `listen`, `pixelz_api_key`, …).
            #[arg(long, env = "PIXGATE_CONFIG")]
            pub config: Option<PathBuf>,
            $(
                $(#[doc = $doc])+
                #[arg(long, env = $env, help = help(concat!($($doc, "\n"),+), shown!($($default)?)))]
                $(#[arg($($arg)*)])*
                pub $name: Option<$flag>,
            )+
        }

        /// The `--config` file. Every key is optional; an unknown key is an error, not a silent default.
        #[derive(Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $( pub $name: Option<$file>, )+
        }

        /// Each setting's names, for errors.
        #[allow(non_upper_case_globals)]
        pub mod key {
            use super::Setting;
            $( pub const $name: Setting = Setting { name: stringify!($name), env: $env }; )+
        }

        /// Every setting's names, in the order declared: the tests check each has its flag and file key.
        #[cfg(test)]
        pub const SETTINGS: &[Setting] = &[$(key::$name),+];

        /// Each setting's default where it is a constant, as `--help` and the README show it.
        #[cfg(test)]
        pub fn defaults() -> Vec<(Setting, String)> {
            let mut defaults = Vec::new();
            $( if let Some(value) = shown!($($default)?) { defaults.push((key::$name, value)); } )+
            defaults
        }

        /// The flags and environment over the file: each setting's value, or None when no source gives it.
        pub struct Given {
            args: ServeArgs,
            file: FileConfig,
        }

        impl Given {
            pub fn new(args: ServeArgs, file: FileConfig) -> Self {
                Self { args, file }
            }

            $(
                pub fn $name(&self) -> Option<$file> {
                    self.args.$name.as_ref().and_then(<$file as FromFlag<$flag>>::from_flag).or_else(|| self.file.$name.clone())
                }
            )+
        }
    };
}

settings! {
    /// Address to listen on; port 0 picks a free port.
    listen: String => String = "PIXGATE_LISTEN" (default super::server::DEFAULT_LISTEN),
    /// URL at which Pixelz reaches this gateway (webhook callbacks) [default: derived from the listen address].
    public_url: String => String = "PIXGATE_PUBLIC_URL",
    /// Pixieset Studio API base, e.g. https://studio.pixieset.com/api/v1 [default: the built-in sandbox].
    pixieset_base_url: String => String = "PIXIESET_BASE_URL",
    /// Pixelz JSON API base, e.g. https://api.pixelz.com/REST.svc/JSON [default: the built-in sandbox].
    pixelz_base_url: String => String = "PIXELZ_BASE_URL",
    /// Default Pixieset session cookie, for single-studio deployments.
    #[arg(hide_env_values = true)]
    pixieset_cookie: String => Secret = "PIXIESET_COOKIE",
    /// Default Pixelz contact email.
    pixelz_contact_email: String => String = "PIXELZ_CONTACT_EMAIL",
    /// Default Pixelz API key.
    #[arg(hide_env_values = true)]
    pixelz_api_key: String => Secret = "PIXELZ_API_KEY",
    /// Pixelz application secret, which verifies webhooks; without it webhooks are refused.
    #[arg(hide_env_values = true)]
    pixelz_app_secret: String => Secret = "PIXELZ_APP_SECRET",
    /// Pixelz partner secret, which verifies the partner webhook signature.
    #[arg(hide_env_values = true)]
    pixelz_partner_secret: String => Secret = "PIXELZ_PARTNER_SECRET",
    /// Pixelz developer (partner or reseller) API key, sent as `developerAPIkey` with every image
    /// submitted; webhooks must then carry the partner signature too.
    #[arg(hide_env_values = true)]
    pixelz_developer_api_key: String => Secret = "PIXELZ_DEVELOPER_API_KEY",
    /// The partner's own Pixelz email, sent with its developer key as `developerEmail` when a
    /// contact is created (`createPixelzContact`) [default: none: contacts are created as the caller].
    pixelz_developer_email: String => String = "PIXELZ_DEVELOPER_EMAIL",
    /// Redis URL; enables event fan-out across instances.
    #[arg(hide_env_values = true)]
    redis_url: String => Secret = "PIXGATE_REDIS_URL",
    /// Redis URL for idempotency records, which must survive a restart and never be evicted
    /// (append-only file, `noeviction`) [default: PIXGATE_REDIS_URL].
    #[arg(hide_env_values = true)]
    records_redis_url: String => Secret = "PIXGATE_RECORDS_REDIS_URL",
    /// Bearer token that guards POST /admin/invalidate [default: none, the route is not there].
    #[arg(hide_env_values = true)]
    admin_token: String => Secret = "PIXGATE_ADMIN_TOKEN",
    /// Comma-separated bearer tokens a caller must present to act with the default credentials.
    #[arg(hide_env_values = true, value_delimiter = ',')]
    access_tokens: Vec<String> => Vec<Secret> = "PIXGATE_ACCESS_TOKENS",
    /// Base for Pixelz's relative image and invoice URLs [default: the Pixelz host].
    pixelz_asset_base_url: String => String = "PIXELZ_ASSET_BASE_URL",
    /// Time limit of one upstream attempt, in milliseconds.
    upstream_timeout_ms: u64 => u64 = "PIXGATE_UPSTREAM_TIMEOUT_MS" (default crate::upstream::UpstreamSettings::default().timeout.as_millis()),
    /// Attempts per upstream call, the first included.
    upstream_max_attempts: u32 => u32 = "PIXGATE_UPSTREAM_MAX_ATTEMPTS" (default crate::upstream::UpstreamSettings::default().max_attempts),
    /// Upstream calls in flight per API.
    upstream_concurrency: usize => usize = "PIXGATE_UPSTREAM_CONCURRENCY" (default crate::upstream::UpstreamSettings::default().concurrency),
    /// Memory the cache of upstream objects may use, in MiB; 0 switches it and the response cache off.
    cache_mb: u64 => u64 = "PIXGATE_CACHE_MB" (default crate::cache::DEFAULT_CAPACITY_BYTES / MIB),
    /// Memory whole answers to queries may use, kept while their data is unchanged, in MiB; 0 switches them off.
    response_cache_mb: u64 => u64 = "PIXGATE_RESPONSE_CACHE_MB" (default crate::cache::responses::DEFAULT_CAPACITY_BYTES / MIB),
    /// How long templates stay cached, in seconds.
    cache_templates_secs: u64 => u64 = "PIXGATE_CACHE_TEMPLATES_SECS" (default crate::cache::DEFAULT_TEMPLATES_TTL.as_secs()),
    /// How long clients, invoices and contracts stay cached, in seconds.
    cache_records_secs: u64 => u64 = "PIXGATE_CACHE_RECORDS_SECS" (default crate::cache::DEFAULT_RECORDS_TTL.as_secs()),
    /// How long image statuses stay cached, in seconds.
    cache_image_status_secs: u64 => u64 = "PIXGATE_CACHE_IMAGE_STATUS_SECS" (default crate::cache::DEFAULT_IMAGE_STATUS_TTL.as_secs()),
    /// How often watched, unfinished images are polled, in milliseconds.
    poll_interval_ms: u64 => u64 = "PIXGATE_POLL_INTERVAL_MS" (default crate::events::poller::DEFAULT_INTERVAL.as_millis()),
    /// `@live` queries one WebSocket or SSE stream may hold open at once.
    live_queries_per_connection: usize => usize = "PIXGATE_LIVE_QUERIES_PER_CONNECTION" (default super::live_queries::DEFAULT_PER_CONNECTION),
    /// Different `@live` queries one tenant may keep running at once (identical ones share one run and count once).
    live_queries_per_tenant: usize => usize = "PIXGATE_LIVE_QUERIES_PER_TENANT" (default super::live_queries::DEFAULT_PER_TENANT),
    /// Deepest field nesting an operation may have.
    max_depth: usize => usize = "PIXGATE_MAX_DEPTH" (default super::limits::DEFAULT_MAX_DEPTH),
    /// Highest cost an operation may have; a connection costs its page size times its node.
    max_complexity: usize => usize = "PIXGATE_MAX_COMPLEXITY" (default super::limits::DEFAULT_MAX_COMPLEXITY),
    /// Aliases one document may hold.
    max_aliases: usize => usize = "PIXGATE_MAX_ALIASES" (default super::limits::DEFAULT_MAX_ALIASES),
    /// Directives one document may hold.
    max_directives: usize => usize = "PIXGATE_MAX_DIRECTIVES" (default super::limits::DEFAULT_MAX_DIRECTIVES),
    /// Root fields one operation may select.
    max_root_fields: usize => usize = "PIXGATE_MAX_ROOT_FIELDS" (default super::limits::DEFAULT_MAX_ROOT_FIELDS),
    /// Operations one batched request may hold.
    max_batch: usize => usize = "PIXGATE_MAX_BATCH" (default super::limits::DEFAULT_MAX_BATCH),
    /// Largest request body, in KiB.
    max_body_kb: usize => usize = "PIXGATE_MAX_BODY_KB" (default super::server::DEFAULT_MAX_BODY_KB),
    /// Upstream calls one operation may make (each attempt counts); an operation whose arguments
    /// name more objects is refused before it runs.
    max_upstream_calls: u32 => u32 = "PIXGATE_MAX_UPSTREAM_CALLS" (default super::limits::DEFAULT_MAX_UPSTREAM_CALLS),
    /// Consecutive failed upstream calls (5xx, timeouts) of one credential that open its circuit.
    upstream_breaker_failures: u32 => u32 = "PIXGATE_UPSTREAM_BREAKER_FAILURES" (default crate::upstream::UpstreamSettings::default().failures_to_open),
    /// How long a circuit opened by failures stays open before one probe, in milliseconds.
    upstream_breaker_open_ms: u64 => u64 = "PIXGATE_UPSTREAM_BREAKER_OPEN_MS" (default crate::upstream::UpstreamSettings::default().open_for.as_millis()),
    /// Time limit of one operation, in milliseconds.
    execution_timeout_ms: u64 => u64 = "PIXGATE_EXECUTION_TIMEOUT_MS" (default super::limits::DEFAULT_EXECUTION_TIMEOUT.as_millis()),
    /// Answer introspection queries; always on with the sandbox.
    introspection: bool => bool = "PIXGATE_INTROSPECTION" (default super::limits::DEFAULT_EXPLORING),
    /// Suggest field names in validation errors; always on with the sandbox.
    field_suggestions: bool => bool = "PIXGATE_FIELD_SUGGESTIONS" (default super::limits::DEFAULT_EXPLORING),
    /// Persisted-documents manifest (GraphQL Code Generator's or Apollo's): only its operations run,
    /// except for callers with an access token; read again on SIGHUP [default: none, any operation].
    trusted_documents: String => String = "PIXGATE_TRUSTED_DOCUMENTS",
    /// Serve the schema as an Apollo Federation v2 subgraph (`_service`, `_entities`).
    #[arg(num_args = 0..=1, default_missing_value = "true")]
    federation: bool => bool = "PIXGATE_FEDERATION" (default super::server::DEFAULT_FEDERATION),
    /// Serve GraphiQL to browsers at /graphql; always on with the sandbox.
    graphiql: bool => bool = "PIXGATE_GRAPHIQL" (default super::limits::DEFAULT_EXPLORING),
    /// Requests per second from one client IP on the GraphQL routes; 0 switches the limit off.
    rate_limit_ip: u32 => u32 = "PIXGATE_RATE_LIMIT_IP" (default super::rate_limits::DEFAULT_PER_IP.per_second),
    /// Requests one client IP may send at once above its rate.
    rate_limit_ip_burst: u32 => u32 = "PIXGATE_RATE_LIMIT_IP_BURST" (default super::rate_limits::DEFAULT_PER_IP.burst),
    /// Requests per second for one tenant (whoever the credentials act for); 0 switches it off.
    rate_limit_tenant: u32 => u32 = "PIXGATE_RATE_LIMIT_TENANT" (default super::rate_limits::DEFAULT_PER_TENANT.per_second),
    /// Requests one tenant may send at once above its rate.
    rate_limit_tenant_burst: u32 => u32 = "PIXGATE_RATE_LIMIT_TENANT_BURST" (default super::rate_limits::DEFAULT_PER_TENANT.burst),
    /// Time a client has to send a whole request head, from its first byte (and a new
    /// connection, from connecting), in milliseconds.
    header_timeout_ms: u64 => u64 = "PIXGATE_HEADER_TIMEOUT_MS" (default super::connections::DEFAULT_HEADER_TIMEOUT.as_millis()),
    /// Time a kept-alive connection may wait for its next request, in milliseconds.
    keep_alive_timeout_ms: u64 => u64 = "PIXGATE_KEEP_ALIVE_TIMEOUT_MS" (default super::connections::DEFAULT_KEEP_ALIVE_TIMEOUT.as_millis()),
    /// Longest pause between two reads of a request body, in milliseconds.
    body_timeout_ms: u64 => u64 = "PIXGATE_BODY_TIMEOUT_MS" (default super::connections::DEFAULT_BODY_TIMEOUT.as_millis()),
    /// Client connections open at once; more are closed on arrival; 0 switches the cap off.
    max_connections: usize => usize = "PIXGATE_MAX_CONNECTIONS" (default super::connections::DEFAULT_MAX_CONNECTIONS),
    /// Client connections open at once from one address; 0 switches the cap off.
    max_connections_per_ip: usize => usize = "PIXGATE_MAX_CONNECTIONS_PER_IP" (default super::connections::DEFAULT_MAX_CONNECTIONS_PER_IP),
    /// How often a quiet WebSocket is pinged, in milliseconds.
    websocket_ping_ms: u64 => u64 = "PIXGATE_WEBSOCKET_PING_MS" (default super::connections::DEFAULT_WEBSOCKET_PING.as_millis()),
    /// A WebSocket that sends no frame (a pong included) for this long is closed, in milliseconds.
    websocket_idle_ms: u64 => u64 = "PIXGATE_WEBSOCKET_IDLE_MS" (default super::connections::DEFAULT_WEBSOCKET_IDLE.as_millis()),
    /// Comma-separated proxies in front of the gateway (addresses or CIDR ranges, `10.0.0.0/8`)
    /// whose `X-Forwarded-For` names the client IP for the per-IP limit [default: none, the peer is the client].
    #[arg(value_delimiter = ',')]
    trusted_proxies: Vec<String> => Vec<String> = "PIXGATE_TRUSTED_PROXIES",
    /// Comma-separated origins browsers may call from (`https://app.example.com`), or `*` for any [default: none].
    #[arg(value_delimiter = ',')]
    cors_origins: Vec<String> => Vec<String> = "PIXGATE_CORS_ORIGINS",
    /// OTLP/HTTP collector to export spans to, e.g. http://127.0.0.1:4318 [default: none, spans are only logged].
    otlp_endpoint: String => String = "OTEL_EXPORTER_OTLP_ENDPOINT",
    /// Log format [default: human].
    #[arg(value_enum)]
    log_format: LogFormat => LogFormat = "PIXGATE_LOG_FORMAT",
    /// Real time per simulated processing step of the in-process sandbox, in milliseconds.
    sandbox_step_ms: u64 => u64 = "PIXGATE_SANDBOX_STEP_MS",
    /// Let the in-process sandbox also write fields and endpoints the upstream documents never show.
    #[arg(num_args = 0..=1, default_missing_value = "true")]
    sandbox_extras: bool => bool = "PIXGATE_SANDBOX_EXTRAS" (default super::sandbox::DEFAULT_EXTRAS),
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        // toml's message names the offending key and its line.
        toml::from_str(&text).map_err(|e| ConfigError::File { path: path.into(), message: e.to_string() })
    }
}

/// Which keys the file sets, never their values: some are secrets.
impl std::fmt::Debug for FileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileConfig").finish_non_exhaustive()
    }
}
