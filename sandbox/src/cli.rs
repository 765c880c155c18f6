//! `pixgate sandbox`: the simulator as a process of its own, with its flags.

use std::future::Future;
use std::io::Write as _;

use anyhow::Context as _;
use clap::{Args as ClapArgs, ValueEnum};

use crate::{FaultTarget, Faults, ProcessingSettings, Sandbox, SandboxSettings, WebhookEncoding};

#[derive(Clone, Debug, ClapArgs)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "PIXGATE_SANDBOX_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: std::net::SocketAddr,
    /// Real time per simulated processing step (one status, or one minute of the webhook retry schedule).
    #[arg(long, env = "PIXGATE_SANDBOX_STEP_MS", default_value_t = crate::DEFAULT_STEP_MS)]
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

/// Serves until `stop` resolves, having told whoever started the process where it listens.
pub async fn run(args: Args, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    let faults = Faults {
        latency_ms: args.latency_ms,
        error_rate: args.error_rate,
        error_status: args.error_status,
        retry_after_secs: args.retry_after_secs,
        malformed_rate: args.malformed_rate,
        target: args.fault_target.into(),
        ..Faults::default()
    };
    faults.validate().map_err(anyhow::Error::msg).context("invalid fault settings")?;
    let processing = ProcessingSettings { step_ms: args.step_ms, webhook_encoding: args.webhook_encoding.into() };
    let sandbox = Sandbox::start(args.listen, SandboxSettings { processing, faults, extras: args.extras })
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // A reader that has gone away (a closed pipe) must not stop a running server.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "listening on http://{}", sandbox.addr());
    let _ = stdout.flush();
    drop(stdout);
    stop.await;
    sandbox.shutdown().await;
    Ok(())
}
