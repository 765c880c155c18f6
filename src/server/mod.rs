//! Routes and transports: GraphQL over HTTP, GraphiQL, health. No business logic.

mod browser;
mod graphql;
mod media;
pub mod persisted;
pub mod rate_limit;
mod subscriptions;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse as _;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{AccessPolicy, Credentials};
use crate::cache::Cache;
use crate::config::{Config, Cors, Upstreams as UpstreamConfig};
use crate::events::Hub;
use crate::events::fanout::Fanout;
use crate::events::poller::Poller;
use crate::graphql::limits::Limits;
use crate::graphql::{PixgateSchema, WebhookUrl, build_schema};
use crate::loaders::DataSources;
use crate::redis_link::RedisLink;
use crate::request_id::{self, RequestId};
use crate::sandbox::{self, ProcessingSettings, Sandbox, SandboxSettings};
use crate::secret::Secret;
use crate::upstream::{PixelzCredentials, PixiesetCredentials, UpstreamUrls, Upstreams};

#[derive(Clone)]
pub struct AppState {
    pub schema: PixgateSchema,
    pub access: Arc<AccessPolicy>,
    pub sources: DataSources,
    pub hub: Hub,
    /// Operations over WebSocket and SSE; subscriptions run once for all who subscribe alike.
    pub executions: subscriptions::Executions,
    pub webhook_secrets: Arc<webhook::WebhookSecrets>,
    pub limits: Arc<Limits>,
    pub persisted: persisted::PersistedQueries,
    pub rate_limits: Arc<rate_limit::RateLimits>,
    pub cors: Cors,
    /// Turns true when the gateway begins to stop.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Held by every WebSocket connection while it lives.
    pub sockets: tokio::sync::mpsc::Sender<()>,
    /// A bigger body is refused before it is read.
    pub max_body_bytes: usize,
}

pub fn app(state: AppState) -> Router {
    let webhooks = Router::new()
        .route("/webhooks/pixelz", axum::routing::post(webhook::receive))
        .layer(RequestBodyLimitLayer::new(webhook::MAX_BODY_BYTES));
    let graphql = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(subscriptions::websocket))
        .route("/graphql/sse", axum::routing::post(subscriptions::sse))
        .layer(RequestBodyLimitLayer::new(state.max_body_bytes))
        .layer(axum::middleware::map_response_with_state(state.max_body_bytes, graphql::typed_payload_too_large))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::enforce));
    // GraphiQL's bundle is megabytes as published: gzip makes it a fraction of that.
    let browser = Router::new()
        .route("/assets/{*name}", get(browser::asset))
        .route("/demo", get(browser::demo_page))
        .route("/demo/", get(browser::demo_page))
        .route("/demo/{name}", get(browser::demo_file))
        .layer(CompressionLayer::new());
    let cors = cors_layer(&state.cors);
    Router::new()
        .merge(graphql)
        .merge(browser)
        .merge(webhooks)
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(cors)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(axum::middleware::from_fn(assign_request_id))
        .with_state(state)
}

/// The credentials a request acts with: as the rate-limit middleware resolved them,
/// or resolved here from its headers on a route without that middleware.
fn caller(state: &AppState, headers: &axum::http::HeaderMap, resolved: Option<Extension<Credentials>>) -> Credentials {
    match resolved {
        Some(Extension(credentials)) => credentials,
        None => state.access.resolve(crate::auth::Supplied::from_headers(headers)),
    }
}

/// Every log line of a request names its id; the query string stays out (variables may be personal).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request.extensions().get::<RequestId>().map_or("", RequestId::as_str);
    tracing::info_span!("request", method = %request.method(), path = request.uri().path(), request_id = id)
}

async fn assign_request_id(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = RequestId::from_headers(request.headers());
    request.extensions_mut().insert(id.clone());
    let mut response = request_id::scope(id.clone(), next.run(request)).await;
    response.headers_mut().insert(request_id::HEADER, id.header_value());
    response
}

/// Browsers on the allowed origins may call with the gateway's own headers; no cookies
/// ride along (credentials travel in explicit headers).
fn cors_layer(cors: &Cors) -> CorsLayer {
    use axum::http::{HeaderName, Method, header};
    let origins = match cors {
        Cors::Closed => return CorsLayer::new(),
        Cors::Any => AllowOrigin::any(),
        Cors::Origins(origins) => AllowOrigin::list(origins.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-pixieset-cookie"),
            HeaderName::from_static("x-pixelz-email"),
            HeaderName::from_static("x-pixelz-api-key"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(request_id::HEADER),
        ])
        .expose_headers([HeaderName::from_static(request_id::HEADER), header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

/// The Prometheus text format.
async fn metrics() -> impl axum::response::IntoResponse {
    let text = crate::telemetry::metrics::handle().render();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Ready while some upstream answers: what each said lately, probed only when silent.
/// One upstream down degrades the gateway but leaves it useful; both down, it is not ready.
async fn ready(State(state): State<AppState>) -> axum::response::Response {
    use crate::upstream::health::{Heard, Status};
    let upstreams = &state.sources.upstreams;
    let (pixieset, pixelz) = tokio::join!(upstreams.pixieset.health(), upstreams.pixelz.health());
    let up = |heard: &Option<Heard>| heard.is_some_and(|h| h.status == Status::Up);
    let (status, code) = match (up(&pixieset), up(&pixelz)) {
        (true, true) => ("ready", axum::http::StatusCode::OK),
        (false, false) => ("unready", axum::http::StatusCode::SERVICE_UNAVAILABLE),
        _ => ("degraded", axum::http::StatusCode::OK),
    };
    let body = serde_json::json!({ "status": status, "upstreams": { "pixieset": pixieset, "pixelz": pixelz } });
    (code, axum::Json(body)).into_response()
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the built-in sandbox: {0}")]
    Sandbox(std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Redis(#[from] crate::redis_link::BadRedisUrl),
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
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
        result
    }
}

/// Starts the gateway (and the sandbox when no upstream is configured) and begins serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    crate::telemetry::metrics::handle();
    let (sandbox, access, webhook_secrets, upstreams) = match &config.upstreams {
        UpstreamConfig::Sandbox => {
            let settings = SandboxSettings {
                processing: ProcessingSettings { step_ms: config.sandbox_step_ms, ..ProcessingSettings::default() },
                extras: config.sandbox_extras,
                ..SandboxSettings::default()
            };
            let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), settings).await.map_err(StartError::Sandbox)?;
            tracing::info!(sandbox = %sandbox.base_url(), "no upstream configured: using the built-in sandbox and its credentials by default");
            let secrets = webhook::WebhookSecrets {
                customer: Some(
                    config.pixelz_app_secret.clone().unwrap_or_else(|| Secret::new(sandbox::PIXELZ_APP_SECRET)),
                ),
                partner: Some(
                    config.pixelz_partner_secret.clone().unwrap_or_else(|| Secret::new(sandbox::PIXELZ_PARTNER_SECRET)),
                ),
                partner_required: config.pixelz_developer_api_key.is_some(),
            };
            let access = AccessPolicy {
                default_pixieset: Some(PixiesetCredentials::new(Secret::new(sandbox::PIXIESET_COOKIE))),
                default_pixelz: Some(PixelzCredentials::new(
                    sandbox::PIXELZ_CONTACT_EMAIL,
                    Secret::new(sandbox::PIXELZ_API_KEY),
                )),
                tokens: config.access_tokens.clone(),
                defaults_are_sandbox: true,
                pixelz_developer_key: config.pixelz_developer_api_key.clone(),
            };
            let urls = UpstreamUrls {
                pixieset: sandbox.pixieset_base_url().parse().expect("the sandbox URL is valid"),
                pixelz: sandbox.pixelz_base_url().parse().expect("the sandbox URL is valid"),
                pixelz_assets: config.pixelz_asset_base_url.clone(),
            };
            (Some(sandbox), access, secrets, Upstreams::new(urls, config.upstream.clone())?)
        }
        UpstreamConfig::Remote { pixieset, pixelz } => {
            let access = AccessPolicy {
                default_pixieset: config.pixieset_cookie.clone().map(PixiesetCredentials::new),
                default_pixelz: config.pixelz.clone().map(|d| PixelzCredentials::new(d.contact_email, d.api_key)),
                tokens: config.access_tokens.clone(),
                defaults_are_sandbox: false,
                pixelz_developer_key: config.pixelz_developer_api_key.clone(),
            };
            let urls = UpstreamUrls {
                pixieset: pixieset.clone(),
                pixelz: pixelz.clone(),
                pixelz_assets: config.pixelz_asset_base_url.clone(),
            };
            let secrets = webhook::WebhookSecrets {
                customer: config.pixelz_app_secret.clone(),
                partner: config.pixelz_partner_secret.clone(),
                partner_required: config.pixelz_developer_api_key.is_some(),
            };
            (None, access, secrets, Upstreams::new(urls, config.upstream.clone())?)
        }
    };
    let cache = match config.cache_bytes {
        Some(bytes) => Cache::new(bytes, config.cache_ttls.clone()),
        None => Cache::disabled(),
    };
    let sources =
        DataSources { upstreams, cache, batching: config.batching, embedded_summaries: config.embedded_summaries };
    let cache = sources.cache.clone();
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let webhook_url = WebhookUrl(format!("{}/webhooks/pixelz", public_base(config.public_url.as_ref(), addr)));
    let hub = Hub::default();
    let schema = build_schema(sources.clone(), webhook_url, hub.clone(), &config.limits);
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let (sockets, sockets_closed) = tokio::sync::mpsc::channel(1);
    let redis = config.redis_url.as_ref().map(|url| RedisLink::start(url, stopped.clone())).transpose()?;
    let fanout = redis.as_ref().map(|redis| Fanout::start(redis, &hub, stopped.clone()));
    let poller = Poller {
        hub: hub.clone(),
        pixelz: sources.upstreams.pixelz.clone(),
        cache: cache.clone(),
        interval: config.poll_interval,
        fanout,
    };
    let executions = subscriptions::Executions::new(schema.clone());
    let state = AppState {
        executions: executions.clone(),
        schema,
        access: Arc::new(access),
        sources,
        hub: hub.clone(),
        webhook_secrets: Arc::new(webhook_secrets),
        limits: Arc::new(config.limits.clone()),
        persisted: persisted::PersistedQueries::new(redis.clone()),
        rate_limits: rate_limit::RateLimits::new(&config.rate_limits),
        cors: config.cors.clone(),
        max_body_bytes: config.max_body_bytes,
        stopping: stopped.clone(),
        sockets: sockets.clone(),
    };
    tokio::spawn(poller.run(stopped.clone()));
    let server = tokio::spawn(async move {
        // Events are small writes; Nagle's algorithm would hold them back waiting for ACKs.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stopped.changed().await;
            })
            .await
    });
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
