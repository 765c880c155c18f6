//! Routes and transports: GraphQL over HTTP, GraphiQL, health. No business logic.

mod admin;
mod browser;
pub mod connections;
mod graphql;
mod kept;
mod media;
pub mod persisted;
pub mod rate_limit;
pub(crate) mod subscriptions;
pub mod trusted;
pub(crate) mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::response::IntoResponse as _;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{AccessPolicy, Supplied};
use crate::config::Cors;
use crate::events::Hub;
use crate::graphql::PixgateSchema;
use crate::graphql::limits::Limits;
use crate::loaders::DataSources;
use crate::request_id::{self, RequestId};
use crate::scope::{self, Scope};
use crate::session::Session;

/// What every route reads. Each middleware and handler takes its own handle, so a
/// clone must cost one reference count, not a copy of every part.
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

pub struct AppStateParts {
    pub schema: PixgateSchema,
    pub access: Arc<AccessPolicy>,
    pub sources: DataSources,
    /// Whole answers to queries, kept while what they were made from is unchanged.
    pub responses: crate::cache::responses::ResponseCache,
    /// What was learnt of each document; the schema's limits consult it too.
    pub documents: crate::graphql::documents::Documents,
    pub hub: Hub,
    /// Operations over WebSocket and SSE; subscriptions run once for all who subscribe alike.
    pub executions: subscriptions::Executions,
    /// graphql-sse's single-connection streams, by their tokens.
    pub streams: Arc<subscriptions::Streams>,
    pub webhook_secrets: Arc<webhook::WebhookSecrets>,
    pub limits: Arc<Limits>,
    pub persisted: persisted::PersistedQueries,
    /// With a manifest, only its operations run.
    pub trusted: Option<Arc<trusted::TrustedDocuments>>,
    pub rate_limits: Arc<rate_limit::RateLimits>,
    pub cors: Cors,
    /// `scheme://host[:port]` of `PIXGATE_PUBLIC_URL`, when set: pages there are the gateway's own.
    pub public_origin: Option<String>,
    /// Turns true when the gateway begins to stop.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Held by every WebSocket connection while it lives.
    pub sockets: tokio::sync::mpsc::Sender<()>,
    /// A bigger body is refused before it is read.
    pub max_body_bytes: usize,
    /// How long connections may idle or dribble; WebSocket pings.
    pub connections: crate::config::ConnectionSettings,
    /// Guards `POST /admin/invalidate`; without it the route is not there.
    pub admin_token: Option<crate::secret::Secret>,
    /// Wrong admin tokens per address lately.
    pub admin_guesses: admin::Guesses,
}

/// What each connection serves: CORS around everything, then a query asked again
/// exactly as before from its kept answer (`kept`), else the router.
#[derive(Clone)]
pub struct Gateway(tower_http::cors::Cors<KeptOrRouted>);

impl Gateway {
    pub async fn serve(self, request: axum::extract::Request) -> axum::response::Response {
        use tower::ServiceExt as _;
        self.0.oneshot(request).await.unwrap_or_else(|never| match never {})
    }
}

#[derive(Clone)]
struct KeptOrRouted {
    state: AppState,
    router: Router,
}

impl tower::Service<axum::extract::Request> for KeptOrRouted {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        use tower::ServiceExt as _;
        let Self { state, router } = self.clone();
        Box::pin(async move {
            match kept::answer(&state, request).await {
                Ok(answered) => Ok(answered),
                Err(request) => router.oneshot(request).await,
            }
        })
    }
}

pub fn app(state: AppState) -> Gateway {
    let cors = cors_layer(&state.cors);
    Gateway(tower::Layer::layer(&cors, KeptOrRouted { router: router(state.clone()), state }))
}

fn router(state: AppState) -> Router {
    let webhooks = Router::new()
        .route("/webhooks/pixelz", axum::routing::post(webhook::receive))
        .layer(RequestBodyLimitLayer::new(webhook::MAX_BODY_BYTES));
    let graphql = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(subscriptions::websocket))
        .route(
            "/graphql/sse",
            axum::routing::post(subscriptions::sse)
                .put(subscriptions::reserve)
                .get(subscriptions::open_stream)
                .delete(subscriptions::stop_streamed),
        )
        .layer(RequestBodyLimitLayer::new(state.max_body_bytes))
        .layer(axum::middleware::map_response_with_state(state.max_body_bytes, graphql::typed_payload_too_large))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::enforce))
        .layer(axum::middleware::from_fn_with_state(state.clone(), resolve_session));
    // GraphiQL's bundle is megabytes as published: gzip makes it a fraction of that.
    let browser = Router::new()
        .route("/assets/{*name}", get(browser::asset))
        .route("/demo", get(browser::demo_page))
        .route("/demo/", get(browser::demo_page))
        .route("/demo/{name}", get(browser::demo_file))
        .layer(CompressionLayer::new());
    Router::new()
        .merge(graphql)
        .merge(browser)
        .merge(webhooks)
        .route("/admin/invalidate", axum::routing::post(admin::invalidate))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(RequestBodyTimeoutLayer::new(state.connections.body_timeout))
        .layer(axum::middleware::from_fn(assign_request_id))
        .with_state(state)
}

/// Resolves who the request is, once, for the rate limits and the handler after them
/// (`kept` may have done so already).
async fn resolve_session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.extensions().get::<Session>().is_none() {
        let session = session_of(&state, peer, request.headers());
        request.extensions_mut().insert(session);
    }
    next.run(request).await
}

fn session_of(state: &AppState, peer: SocketAddr, headers: &axum::http::HeaderMap) -> Session {
    let client = state.rate_limits.client_ip(peer.ip(), headers);
    Session::resolve(&state.access, Supplied::from_headers(headers), client)
}

/// The one shape of an HTTP refusal: a GraphQL answer holding only its error.
pub(crate) fn refuse(status: axum::http::StatusCode, error: async_graphql::ServerError) -> axum::response::Response {
    (status, axum::Json(serde_json::json!({ "errors": [error] }))).into_response()
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
    let scope = Arc::new(Scope::request(id.clone()));
    let mut response = scope::run(scope, next.run(request)).await;
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
        .allow_headers(
            [
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static(request_id::HEADER),
                HeaderName::from_static(graphql::COST_HEADER),
            ]
            .into_iter()
            .chain(crate::auth::credential_header_names())
            .collect::<Vec<_>>(),
        )
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
