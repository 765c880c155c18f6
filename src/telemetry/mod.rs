//! Logs go to stderr (stdout carries the `listening on` line scripts read);
//! `RUST_LOG` filters them. With an OTLP endpoint configured, spans are also
//! exported over OTLP/HTTP. Metrics are in `metrics`; what one operation cost
//! upstream, for the developer who asks, in `cost`.

pub mod cost;
pub mod metrics;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use reqwest::Url;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Keeps the span exporter running; dropping it sends what is still buffered.
#[must_use = "spans are exported only while this lives"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(traces) = self.traces.take()
            && let Err(error) = traces.shutdown()
        {
            eprintln!("could not flush the last spans: {error}");
        }
    }
}

fn traces(endpoint: &Url) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let url = format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(url).build()?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name("pixgate").build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// The libraries under pixgate that log what passes on the wire at their finest
/// levels: WebSocket frames (a `connection_init` carries a cookie and an API key),
/// HTTP/2 header blocks, TLS records. Whatever `RUST_LOG` asks, they say no more
/// than `debug`, which names events but not payloads.
const WIRE_LEVEL: &[&str] = &["tungstenite", "tokio_tungstenite", "h2", "hyper", "hyper_util", "rustls", "reqwest"];

/// A filter that lets every event through but the wire-level libraries' finest: set
/// beside `RUST_LOG`'s filter, an event must pass both, so it caps them and never
/// makes them say more than asked.
pub fn wire_cap() -> Targets {
    let everything = Targets::new().with_default(LevelFilter::TRACE);
    WIRE_LEVEL.iter().fold(everything, |cap, target| cap.with_target(*target, LevelFilter::DEBUG))
}

pub fn init(format: LogFormat, otlp: Option<&Url>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (traces, failure) = match otlp.map(traces) {
        Some(Ok(provider)) => (Some(provider), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };
    let export = traces.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("pixgate")));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter).with(wire_cap()).with(export);
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = match format {
        LogFormat::Human => registry.with(logs).try_init(),
        LogFormat::Json => registry.with(logs.json()).try_init(),
    };
    if let Some(error) = failure {
        tracing::warn!(%error, "cannot export spans over OTLP; logging only");
    }
    Telemetry { traces }
}
