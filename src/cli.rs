//! The command line: its subcommands and the sandbox's flags. The gateway's own
//! settings (`ServeArgs`) are declared in `config/settings.rs`, where each is also an
//! environment variable and a key of the `--config` TOML file.

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::config::ServeArgs;
use crate::sandbox::{FaultTarget, WebhookEncoding};
pub use crate::telemetry::LogFormat;

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
    Schema {
        /// Print it as the Federation v2 subgraph a router composes (what `_service { sdl }` answers).
        #[arg(long)]
        federation: bool,
    },
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
