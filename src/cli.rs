//! The command line. Every gateway setting is also an environment variable and
//! a key of the `--config` TOML file; a flag beats the environment, which beats the file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::sandbox::{FaultTarget, WebhookEncoding};

#[derive(Debug, Parser)]
#[command(
    name = "pixgate",
    version,
    about = "One GraphQL endpoint over Pixieset Studio and Pixelz",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand, pixgate serves.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
// Parsed once at start-up; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the gateway (the default). With no upstream configured, it runs on the built-in sandbox.
    Serve(ServeArgs),
    /// Run only the simulator of both upstream APIs.
    Sandbox(SandboxArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Gateway settings as given on the command line or in the environment.
/// Secrets are accepted as flags for completeness, but belong in the environment or the file.
#[derive(Clone, Debug, Default, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys in snake_case: `listen`, `pixelz_api_key`, …).
    #[arg(long, env = "PIXGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port.
    #[arg(long, env = "PIXGATE_LISTEN")]
    pub listen: Option<String>,
    /// URL at which Pixelz reaches this gateway (webhook callbacks) [default: derived from the listen address].
    #[arg(long, env = "PIXGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Pixieset Studio API base, e.g. https://studio.pixieset.com/api/v1 [default: the built-in sandbox].
    #[arg(long, env = "PIXIESET_BASE_URL")]
    pub pixieset_base_url: Option<String>,
    /// Pixelz JSON API base, e.g. https://api.pixelz.com/REST.svc/JSON [default: the built-in sandbox].
    #[arg(long, env = "PIXELZ_BASE_URL")]
    pub pixelz_base_url: Option<String>,
    /// Default Pixieset session cookie, for single-studio deployments.
    #[arg(long, env = "PIXIESET_COOKIE", hide_env_values = true)]
    pub pixieset_cookie: Option<String>,
    /// Default Pixelz contact email.
    #[arg(long, env = "PIXELZ_CONTACT_EMAIL")]
    pub pixelz_contact_email: Option<String>,
    /// Default Pixelz API key.
    #[arg(long, env = "PIXELZ_API_KEY", hide_env_values = true)]
    pub pixelz_api_key: Option<String>,
    /// Pixelz application secret, which verifies webhooks; without it webhooks are refused.
    #[arg(long, env = "PIXELZ_APP_SECRET", hide_env_values = true)]
    pub pixelz_app_secret: Option<String>,
    /// Pixelz partner secret, which verifies the partner webhook signature.
    #[arg(long, env = "PIXELZ_PARTNER_SECRET", hide_env_values = true)]
    pub pixelz_partner_secret: Option<String>,
    /// Pixelz developer (partner or reseller) API key, sent as `developerAPIkey` with every image
    /// submitted; webhooks must then carry the partner signature too.
    #[arg(long, env = "PIXELZ_DEVELOPER_API_KEY", hide_env_values = true)]
    pub pixelz_developer_api_key: Option<String>,
    /// Redis URL; enables event fan-out across instances.
    #[arg(long, env = "PIXGATE_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Comma-separated bearer tokens a caller must present to act with the default credentials.
    #[arg(long, env = "PIXGATE_ACCESS_TOKENS", hide_env_values = true, value_delimiter = ',')]
    pub access_tokens: Option<Vec<String>>,
    /// Base for Pixelz's relative image and invoice URLs [default: the Pixelz host].
    #[arg(long, env = "PIXELZ_ASSET_BASE_URL")]
    pub pixelz_asset_base_url: Option<String>,
    /// Time limit of one upstream attempt, in milliseconds [default: 10000].
    #[arg(long, env = "PIXGATE_UPSTREAM_TIMEOUT_MS")]
    pub upstream_timeout_ms: Option<u64>,
    /// Attempts per upstream call, the first included [default: 3].
    #[arg(long, env = "PIXGATE_UPSTREAM_MAX_ATTEMPTS")]
    pub upstream_max_attempts: Option<u32>,
    /// Upstream calls in flight per API [default: 32].
    #[arg(long, env = "PIXGATE_UPSTREAM_CONCURRENCY")]
    pub upstream_concurrency: Option<usize>,
    /// Memory the response cache may use, in MiB [default: 64].
    #[arg(long, env = "PIXGATE_CACHE_MB")]
    pub cache_mb: Option<u64>,
    /// How long templates stay cached, in seconds [default: 300].
    #[arg(long, env = "PIXGATE_CACHE_TEMPLATES_SECS")]
    pub cache_templates_secs: Option<u64>,
    /// How long clients, invoices and contracts stay cached, in seconds [default: 30].
    #[arg(long, env = "PIXGATE_CACHE_RECORDS_SECS")]
    pub cache_records_secs: Option<u64>,
    /// How long image statuses stay cached, in seconds [default: 3].
    #[arg(long, env = "PIXGATE_CACHE_IMAGE_STATUS_SECS")]
    pub cache_image_status_secs: Option<u64>,
    /// How often watched, unfinished images are polled, in milliseconds [default: 5000].
    #[arg(long, env = "PIXGATE_POLL_INTERVAL_MS")]
    pub poll_interval_ms: Option<u64>,
    /// Deepest field nesting an operation may have [default: 15].
    #[arg(long, env = "PIXGATE_MAX_DEPTH")]
    pub max_depth: Option<usize>,
    /// Highest cost an operation may have; a connection costs its page size times its node [default: 5000].
    #[arg(long, env = "PIXGATE_MAX_COMPLEXITY")]
    pub max_complexity: Option<usize>,
    /// Aliases one document may hold [default: 30].
    #[arg(long, env = "PIXGATE_MAX_ALIASES")]
    pub max_aliases: Option<usize>,
    /// Directives one document may hold [default: 50].
    #[arg(long, env = "PIXGATE_MAX_DIRECTIVES")]
    pub max_directives: Option<usize>,
    /// Root fields one operation may select [default: 20].
    #[arg(long, env = "PIXGATE_MAX_ROOT_FIELDS")]
    pub max_root_fields: Option<usize>,
    /// Operations one batched request may hold [default: 10].
    #[arg(long, env = "PIXGATE_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Largest request body, in KiB [default: 256].
    #[arg(long, env = "PIXGATE_MAX_BODY_KB")]
    pub max_body_kb: Option<usize>,
    /// Time limit of one operation, in milliseconds [default: 30000].
    #[arg(long, env = "PIXGATE_EXECUTION_TIMEOUT_MS")]
    pub execution_timeout_ms: Option<u64>,
    /// Answer introspection queries [default: true; always on with the sandbox].
    #[arg(long, env = "PIXGATE_INTROSPECTION")]
    pub introspection: Option<bool>,
    /// Suggest field names in validation errors [default: true; always on with the sandbox].
    #[arg(long, env = "PIXGATE_FIELD_SUGGESTIONS")]
    pub field_suggestions: Option<bool>,
    /// Serve GraphiQL to browsers at /graphql [default: true; always on with the sandbox].
    #[arg(long, env = "PIXGATE_GRAPHIQL")]
    pub graphiql: Option<bool>,
    /// Requests per second from one client IP on the GraphQL routes; 0 switches the limit off [default: 100].
    #[arg(long, env = "PIXGATE_RATE_LIMIT_IP")]
    pub rate_limit_ip: Option<u32>,
    /// Requests one client IP may send at once above its rate [default: 200].
    #[arg(long, env = "PIXGATE_RATE_LIMIT_IP_BURST")]
    pub rate_limit_ip_burst: Option<u32>,
    /// Requests per second for one tenant (whoever the credentials act for); 0 switches it off [default: 50].
    #[arg(long, env = "PIXGATE_RATE_LIMIT_TENANT")]
    pub rate_limit_tenant: Option<u32>,
    /// Requests one tenant may send at once above its rate [default: 100].
    #[arg(long, env = "PIXGATE_RATE_LIMIT_TENANT_BURST")]
    pub rate_limit_tenant_burst: Option<u32>,
    /// Comma-separated proxies in front of the gateway (addresses or CIDR ranges, `10.0.0.0/8`)
    /// whose `X-Forwarded-For` names the client IP for the per-IP limit [default: none, the peer is the client].
    #[arg(long, env = "PIXGATE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// Comma-separated origins browsers may call from (`https://app.example.com`), or `*` for any [default: none].
    #[arg(long, env = "PIXGATE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// OTLP/HTTP collector to export spans to, e.g. http://127.0.0.1:4318 [default: none, spans are only logged].
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Log format [default: human].
    #[arg(long, env = "PIXGATE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Real time per simulated processing step of the in-process sandbox.
    #[arg(long, env = "PIXGATE_SANDBOX_STEP_MS", default_value_t = 2000)]
    pub sandbox_step_ms: u64,
    /// Let the in-process sandbox also write fields and endpoints the upstream documents never show.
    #[arg(long, env = "PIXGATE_SANDBOX_EXTRAS")]
    pub sandbox_extras: bool,
}

#[derive(Clone, Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "PIXGATE_SANDBOX_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: std::net::SocketAddr,
    /// Real time per simulated processing step (one status, or one minute of the webhook retry schedule).
    #[arg(long, env = "PIXGATE_SANDBOX_STEP_MS", default_value_t = 2000)]
    pub step_ms: u64,
    /// How webhook bodies are encoded.
    #[arg(long, env = "PIXGATE_SANDBOX_WEBHOOK_ENCODING", value_enum, default_value = "json")]
    pub webhook_encoding: WebhookEncodingArg,
    /// Latency added to every API answer.
    #[arg(long, env = "PIXGATE_SANDBOX_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of API requests answered with --error-status, in [0, 1].
    #[arg(long, env = "PIXGATE_SANDBOX_ERROR_RATE", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Status of injected errors; 429 comes with Retry-After.
    #[arg(long, env = "PIXGATE_SANDBOX_ERROR_STATUS", default_value_t = 503)]
    pub error_status: u16,
    #[arg(long, env = "PIXGATE_SANDBOX_RETRY_AFTER_SECS", default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Share of API answers whose body is cut in half, in [0, 1].
    #[arg(long, env = "PIXGATE_SANDBOX_MALFORMED_RATE", default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Which API the faults hit.
    #[arg(long, env = "PIXGATE_SANDBOX_FAULT_TARGET", value_enum, default_value = "all")]
    pub fault_target: FaultTargetArg,
    /// Also write fields and endpoints the upstream documents never show [default: only what they show].
    #[arg(long, env = "PIXGATE_SANDBOX_EXTRAS")]
    pub extras: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum WebhookEncodingArg {
    Json,
    Form,
}

impl From<WebhookEncodingArg> for WebhookEncoding {
    fn from(arg: WebhookEncodingArg) -> Self {
        match arg {
            WebhookEncodingArg::Json => Self::Json,
            WebhookEncodingArg::Form => Self::Form,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FaultTargetArg {
    All,
    Pixieset,
    Pixelz,
}

impl From<FaultTargetArg> for FaultTarget {
    fn from(arg: FaultTargetArg) -> Self {
        match arg {
            FaultTargetArg::All => Self::All,
            FaultTargetArg::Pixieset => Self::Pixieset,
            FaultTargetArg::Pixelz => Self::Pixelz,
        }
    }
}
