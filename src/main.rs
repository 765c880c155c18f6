use std::io::Write as _;

use anyhow::Context as _;
use clap::Parser as _;
use pixgate::cli::{Cli, Command};
use pixgate::config::Config;
use pixgate::{graphql, startup, telemetry};

/// A request allocates and frees many small objects across two worker threads;
/// mimalloc's thread-local free lists serve those with far less contention than glibc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => {
            let config = Config::resolve(&args).context("invalid configuration")?;
            // Outside the runtime: the trace exporter runs threads of its own, and its
            // last flush, when this guard drops after the runtime ends, blocks.
            let _telemetry = telemetry::init(config.telemetry.log_format, config.telemetry.otlp_endpoint.as_ref());
            runtime()?.block_on(serve(config))
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => {
            let _telemetry = telemetry::init(pixgate::cli::LogFormat::Human, None);
            runtime()?.block_on(pixgate_sandbox::cli::run(args, startup::shutdown_signal()))
        }
        Command::Doctor(args) => {
            let healthy = runtime()?.block_on(pixgate::doctor::run(&args));
            std::process::exit(if healthy { 0 } else { 1 })
        }
        Command::Schema { federation } => {
            print!("{}", if federation { graphql::subgraph_sdl() } else { graphql::sdl() });
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(?config, "starting pixgate");
    let running = startup::start(config).await.context("cannot start pixgate")?;
    announce(&[
        format!("listening on http://{}", running.addr()),
        format!("GraphiQL: http://{}/graphql", running.addr()),
    ]);
    running.serve_until(startup::shutdown_signal()).await.context("server failed")
}

/// Tells whoever started the process where it listens. A reader that has gone
/// away (a closed pipe) must not stop a running server, so write errors are ignored.
fn announce(lines: &[String]) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}
