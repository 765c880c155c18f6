//! Subscriptions over WebSocket (`graphql-transport-ws` and the older
//! `graphql-ws`) and over Server-Sent Events (the graphql-sse protocol, in its
//! distinct-connections mode here and its single-connection mode in `single.rs`).
//! Every transport starts operations through `shared::Executions`, so a subscription
//! or a `@live` query (its runs in `live.rs`) runs once for all who send it alike.

mod connection;
mod live;
mod protocol;
mod shared;
mod single;
mod socket;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use futures_util::stream::{self, Stream};
use tracing::Instrument;

use super::AppState;
use super::trusted::TrustedDocuments;
use crate::auth::Supplied;
use crate::error_code::ErrorCode;
use crate::scope::{self, Scope};
use crate::session::Session;
use connection::{Connection, Ending, Services};
use protocol::{OperationPayload, Protocol};
use shared::{Body, Caller, Delivery, Outbox};

pub use live::LiveServices;
pub use shared::Executions;
pub use single::{Streams, reserve, stop as stop_streamed, stream as open_stream};

/// GraphQL messages are small: small buffers keep a connection to a few KiB. The
/// read buffer grows for a larger message (up to `MAX_MESSAGE_BYTES`); a subscription
/// and the pings after it fit in this. From 4 KiB, this took 3 KiB off each connection.
const READ_BUFFER_BYTES: usize = 1024;
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// A subscriber that stops reading is cut off here instead of growing the gateway.
const MAX_UNSENT_BYTES: usize = 1024 * 1024;

/// Credentials come in the `connection_init` payload (browsers cannot set
/// WebSocket headers), with the upgrade request's headers as a fallback.
pub async fn websocket(
    State(state): State<AppState>,
    axum::Extension(session): axum::Extension<Session>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.cors, state.public_origin.as_deref()) {
        // A browser sends `Origin` with every upgrade, and a page elsewhere must not act with
        // the credentials this gateway holds (cross-site WebSocket hijacking); CORS does not
        // cover WebSockets, so the check is here. Servers and CLIs send no `Origin`.
        let message = "this page's origin may not open a WebSocket here: add it to PIXGATE_CORS_ORIGINS";
        return super::refuse(StatusCode::FORBIDDEN, ErrorCode::OriginNotAllowed.error(message));
    }
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok());
    let Some(protocol) = Protocol::negotiate(offered) else {
        let message = "offer `graphql-transport-ws` or `graphql-ws` in Sec-WebSocket-Protocol";
        return super::refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message));
    };
    let (id, span) = (scope::current_id().unwrap_or_default(), tracing::Span::current());
    let sent_with_upgrade = Supplied::from_headers(&headers);
    let services = Services {
        executions: state.executions.clone(),
        sources: state.sources.clone(),
        access: state.access.clone(),
        rate_limits: state.rate_limits.clone(),
        trusted: state.trusted.clone(),
        ping_every: state.connections.websocket_ping,
        idle_after: state.connections.websocket_idle,
    };
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_UNSENT_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .protocols([protocol.name()])
        .on_upgrade(move |socket| {
            let (stopping, alive) = (state.stopping.clone(), state.sockets.clone());
            let conversation = async move {
                let mut connection = Connection::new(socket, protocol, services, sent_with_upgrade, session.client());
                let ending = connection.serve(stopping).await;
                // A close frame tells clients why, and a stopping gateway's clients to reconnect elsewhere.
                if let Some(mut socket) = connection.into_socket() {
                    if ending == Ending::ClosedByClient {
                        let _ = socket.flush().await;
                    } else if let Some(frame) = ending.frame() {
                        let _ = socket.send(axum::extract::ws::Message::Close(Some(frame))).await;
                    }
                }
                drop(alive);
            };
            // The connection outlives the upgrade request; it keeps its id and span.
            scope::run(Arc::new(Scope::request(id)), conversation.instrument(span))
        })
        .into_response()
}

/// No `Origin` (not a browser), the gateway's own (its `Host`, or its public URL), or one
/// CORS allows.
fn origin_allowed(headers: &HeaderMap, cors: &crate::config::Cors, public_origin: Option<&str>) -> bool {
    use crate::config::Cors;
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    if authority.zip(host).is_some_and(|(authority, host)| authority.eq_ignore_ascii_case(host)) {
        return true;
    }
    if public_origin.is_some_and(|own| own.eq_ignore_ascii_case(origin)) {
        return true;
    }
    match cors {
        Cors::Closed => false,
        Cors::Any => true,
        Cors::Origins(allowed) => {
            allowed.iter().any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
        }
    }
}

/// One operation per request; its results stream back as `next` events, then `complete`.
/// With a stream's token, it is the single-connection mode's (`single.rs`).
pub async fn sse(
    State(state): State<AppState>,
    axum::Extension(session): axum::Extension<Session>,
    headers: HeaderMap,
    payload: Result<Json<OperationPayload>, JsonRejection>,
) -> Response {
    if let Some(token) = single::posted_token(&headers) {
        return single::execute(state, session, token, payload).await;
    }
    let mut payload = match payload {
        Ok(Json(payload)) => payload,
        Err(rejection) => return refused_payload(rejection),
    };
    if let Err(refused) = admit(state.trusted.as_deref(), &mut payload, &session) {
        return super::refuse(StatusCode::BAD_REQUEST, refused);
    }
    let caller = Caller::new(&state.sources, &session);
    let outbox = Arc::new(Outbox::default());
    let started = match state.executions.start(payload, &caller, &outbox, 0) {
        Ok(started) => started,
        Err(refused) => return super::refuse(refused.status(), refused.into_error()),
    };
    // The operation runs for as long as the response streams: a client that goes away stops it.
    let streaming = Some((outbox, started, state.stopping.clone()));
    let events = stream::unfold(streaming, |streaming| async move {
        let (outbox, started, mut stopping) = streaming?;
        loop {
            match outbox.pop() {
                Some(Delivery { body: Body::Next(result), .. }) => {
                    let event = Event::default().event("next").data(String::from_utf8_lossy(&result));
                    return Some((Ok::<_, Infallible>(event), Some((outbox, started, stopping))));
                }
                Some(Delivery { body: Body::Complete, .. }) => {
                    return Some((Ok(Event::default().event("complete").data("")), None));
                }
                None => tokio::select! {
                    () = outbox.ready() => {}
                    // A stopping gateway ends its streams without `complete`, so that clients (a live query's
                    // never completes) connect again, to another instance, instead of holding the drain open.
                    () = stopped(&mut stopping) => return None,
                },
            }
        }
    });
    sse_response(events)
}

/// Resolves once the gateway is stopping.
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    // Never stopping is the same as not stopping yet.
    if stopping.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A body that is not an operation, refused as GraphQL over HTTP refuses it.
fn refused_payload(rejection: JsonRejection) -> Response {
    let code = match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        _ => ErrorCode::BadRequest,
    };
    super::refuse(rejection.status(), code.error(rejection.body_text()))
}

/// Whether an operation may run, as over HTTP: with trusted documents, only theirs.
/// Automatic persisted queries travel over HTTP only.
fn admit(
    trusted: Option<&TrustedDocuments>,
    payload: &mut OperationPayload,
    session: &Session,
) -> Result<(), async_graphql::ServerError> {
    let document_id = payload.document_id.take();
    match trusted {
        Some(trusted) => {
            let operation = super::trusted::Operation {
                query: &mut payload.query,
                document_id,
                extensions: &mut payload.extensions,
            };
            trusted.admit(operation, session.holds_token()).map(drop)
        }
        None => super::trusted::without_manifest(document_id.as_deref()),
    }
}

fn sse_response(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
