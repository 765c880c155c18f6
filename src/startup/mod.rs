//! Start-up: the gateway's assembly. Configuration becomes upstream clients (or
//! the built-in sandbox and its credentials), then the cache, the schema, the
//! event hub with its poller and Redis fan-out, the router, and a listener.
//! `server` holds the routes and transports; this module puts them to work.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::auth::AccessPolicy;
use crate::cache::Cache;
use crate::cache::responses::ResponseCache;
use crate::client_images::ClientImages;
use crate::config::{Config, UpstreamLocation};
use crate::events::Hub;
use crate::events::fanout::Fanout;
use crate::events::poller::Poller;
use crate::graphql::documents::Documents;
use crate::graphql::{SchemaParts, WebhookUrl, build_schema};
use crate::idempotency::{Idempotency, Timing};
use crate::loaders::{DataSources, Lookups};
use crate::redis_link::RedisLink;
use crate::server::trusted::{self, TrustedDocuments};
use crate::server::webhook::WebhookSecrets;
use crate::server::{AppState, AppStateParts, app, connections, persisted, rate_limit, subscriptions};
use crate::upstream::{PixelzCredentials, PixiesetCredentials, UpstreamUrls, Upstreams};

#[cfg(feature = "sandbox")]
mod sandbox;
#[cfg(feature = "sandbox")]
pub use pixgate_sandbox::Sandbox;
/// Stands for the simulator in a build without it: no value of it exists.
#[cfg(not(feature = "sandbox"))]
pub enum Sandbox {}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the built-in sandbox: {0}")]
    Sandbox(std::io::Error),
    #[error("this build has no built-in sandbox (its `sandbox` feature is off): set both upstream base URLs")]
    NoSandbox,
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Redis(#[from] crate::redis_link::BadRedisUrl),
    #[error(transparent)]
    TrustedDocuments(#[from] crate::server::trusted::ManifestError),
}

/// A gateway that is listening.
pub struct Running {
    addr: SocketAddr,
    sandbox: Option<Sandbox>,
    cache: Cache,
    hub: Hub,
    executions: subscriptions::Executions,
    server: JoinHandle<std::io::Result<()>>,
    stop: tokio::sync::watch::Sender<bool>,
    /// Yields None once every WebSocket connection has said goodbye.
    sockets_closed: tokio::sync::mpsc::Receiver<()>,
}

/// How long a stopping gateway waits for its WebSocket connections to close.
const SOCKETS_CLOSING: std::time::Duration = std::time::Duration::from_secs(5);

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The cache shared by this gateway's requests.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The image-status events this gateway carries.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Subscription executions running now, each serving everyone who subscribed alike.
    pub fn subscription_executions(&self) -> usize {
        self.executions.running()
    }

    /// Runs of live queries so far, each serving everyone who asked the same.
    pub fn live_query_runs(&self) -> u64 {
        self.executions.live_query_runs()
    }

    /// The in-process sandbox, when no upstream was configured.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    /// Serves until `signal` completes, then drains in-flight requests.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.shutdown().await
    }

    pub async fn shutdown(mut self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        let result = self.server.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        // Upgraded connections live outside the HTTP server's drain: wait for their close frames.
        let _ = tokio::time::timeout(SOCKETS_CLOSING, self.sockets_closed.recv()).await;
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
        result
    }
}

/// Starts the gateway (and the sandbox when no upstream is configured) and begins serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    start_measuring(config, Lookups::Batched).await
}

/// The same with its lookups by id made as `lookups` says, for the benchmark that
/// measures what batching saves.
pub async fn start_measuring(config: Config, lookups: Lookups) -> Result<Running, StartError> {
    crate::telemetry::metrics::handle();
    let (sandbox, access, webhook_secrets, urls) = match &config.upstreams.location {
        #[cfg(feature = "sandbox")]
        UpstreamLocation::Sandbox => {
            let (sandbox, access, secrets, urls) = sandbox::start(&config).await?;
            (Some(sandbox), access, secrets, urls)
        }
        #[cfg(not(feature = "sandbox"))]
        UpstreamLocation::Sandbox => return Err(StartError::NoSandbox),
        UpstreamLocation::Remote { pixieset, pixelz } => {
            let access = AccessPolicy {
                default_pixieset: config.credentials.pixieset_cookie.clone().map(PixiesetCredentials::new),
                default_pixelz: config
                    .credentials
                    .pixelz
                    .clone()
                    .map(|d| PixelzCredentials::new(d.contact_email, d.api_key)),
                tokens: config.credentials.access_tokens.clone(),
                defaults_are_sandbox: false,
                pixelz_developer_key: config.credentials.pixelz_developer_api_key.clone(),
                pixelz_developer_email: config.credentials.pixelz_developer_email.clone(),
            };
            let urls = UpstreamUrls {
                pixieset: pixieset.clone(),
                pixelz: pixelz.clone(),
                pixelz_assets: config.upstreams.pixelz_asset_base_url.clone(),
            };
            let secrets = WebhookSecrets {
                customer: config.webhooks.app_secret.clone(),
                partner: config.webhooks.partner_secret.clone(),
                partner_required: config.credentials.pixelz_developer_api_key.is_some(),
            };
            (None::<Sandbox>, access, secrets, urls)
        }
    };
    let upstreams = Upstreams::new(urls, config.upstreams.settings.clone())?;
    let cache = match config.cache.bytes {
        Some(bytes) => Cache::new(bytes, config.cache.ttls.clone()),
        None => Cache::disabled(),
    };
    let sources = DataSources { upstreams, cache, lookups };
    let cache = sources.cache.clone();
    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| StartError::Bind { addr: config.server.listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.server.listen, source })?;
    let webhook_url = WebhookUrl(format!("{}/webhooks/pixelz", public_base(config.server.public_url.as_ref(), addr)));
    let hub = Hub::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (sockets, sockets_closed) = tokio::sync::mpsc::channel(1);
    let redis = config.events.redis_url.as_ref().map(|url| RedisLink::start(url, stopped.clone())).transpose()?;
    let records = match &config.events.records_redis_url {
        Some(url) => Some(RedisLink::start(url, stopped.clone())?),
        None => redis.clone(),
    };
    if let Some(records) = &records {
        tokio::spawn(crate::idempotency::check_keeping(records.clone()));
    }
    let client_images = Arc::new(ClientImages::new(records.clone()));
    let idempotency = Idempotency::new(records, Timing::for_writes(&config.upstreams.settings));
    let documents = Documents::default();
    let schema = build_schema(SchemaParts {
        sources: sources.clone(),
        webhook_url,
        hub: hub.clone(),
        idempotency,
        client_images,
        limits: &config.server.limits,
        documents: documents.clone(),
        federation: config.server.federation,
    });
    let responses = ResponseCache::new(config.cache.response_bytes, cache.clone());
    if let Some(redis) = &redis {
        cache.join_fleet(redis, sources.upstreams.source(), stopped.clone());
    }
    let fanout = redis.as_ref().map(|redis| Fanout::start(redis, &hub, stopped.clone()));
    let poller = Poller {
        hub: hub.clone(),
        pixelz: sources.upstreams.pixelz.clone(),
        cache: cache.clone(),
        interval: config.events.poll_interval,
        fanout,
    };
    let trusted = config.server.trusted_documents.as_deref().map(TrustedDocuments::load).transpose()?.map(Arc::new);
    if let Some(trusted) = &trusted {
        trusted::reload_on_hangup(trusted.clone(), stopped.clone());
    }
    let rate_limits = rate_limit::RateLimits::new(&config.rate_limits, redis.clone());
    let live_queries = subscriptions::LiveServices::new(cache.clone(), rate_limits.clone(), config.live_queries);
    let executions =
        subscriptions::Executions::new(schema.clone(), config.server.limits.max_upstream_calls, live_queries);
    let state = AppState::new(AppStateParts {
        executions: executions.clone(),
        streams: Arc::default(),
        schema,
        access: Arc::new(access),
        sources,
        responses,
        documents,
        hub: hub.clone(),
        webhook_secrets: Arc::new(webhook_secrets),
        limits: Arc::new(config.server.limits.clone()),
        persisted: persisted::PersistedQueries::new(redis.clone()),
        trusted,
        rate_limits,
        cors: config.server.cors.clone(),
        public_origin: config.server.public_url.as_ref().map(|url| url.origin().ascii_serialization()),
        max_body_bytes: config.server.max_body_bytes,
        connections: config.server.connections.clone(),
        admin_token: config.server.admin_token.clone(),
        admin_guesses: Default::default(),
        stopping: stopped.clone(),
        sockets: sockets.clone(),
    });
    tokio::spawn(poller.run(stopped.clone()));
    let server = tokio::spawn(connections::serve(listener, app(state), config.server.connections.clone(), stopped));
    drop(sockets);
    Ok(Running { addr, sandbox, cache, hub, executions, server, stop, sockets_closed })
}

/// Where Pixelz reaches this gateway: the configured public URL, or else the bound
/// address (loopback when bound to every interface).
fn public_base(public_url: Option<&reqwest::Url>, addr: SocketAddr) -> String {
    match public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_string(),
        None if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
        None => format!("http://{addr}"),
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
