//! The command line: its subcommands. The gateway's own settings (`ServeArgs`) are
//! declared in `config/settings.rs`, where each is also an environment variable and a
//! key of the `--config` TOML file; the sandbox's flags are the sandbox crate's.

use clap::{Parser, Subcommand};

pub use crate::config::ServeArgs;
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
    #[cfg(feature = "sandbox")]
    Sandbox(pixgate_sandbox::cli::Args),
    /// Check, with the settings serve would start with, that each upstream answers, the default
    /// credentials are accepted, webhooks can be verified and Redis is kept as it must be;
    /// one line per check, exit status 1 when any fails.
    Doctor(ServeArgs),
    /// Print the GraphQL schema (SDL).
    Schema {
        /// Print it as the Federation v2 subgraph a router composes (what `_service { sdl }` answers).
        #[arg(long)]
        federation: bool,
    },
}
