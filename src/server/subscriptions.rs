//! Subscriptions over WebSocket (`graphql-transport-ws` and the older
//! `graphql-ws`) and over Server-Sent Events (the graphql-sse protocol's
//! distinct-connections mode).

use std::convert::Infallible;
use std::sync::Arc;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::ws::{CloseFrame, Message, close_code};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use futures_util::stream::{self, Stream, StreamExt};
use tracing::Instrument;

use super::AppState;
use crate::auth::Supplied;
use crate::loaders::Loaders;
use crate::request_id;

/// GraphQL messages are small: small buffers keep a connection to a few KiB, and an
/// eager write sends each event at once.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// A subscriber that stops reading is cut off here instead of growing the gateway.
const MAX_UNSENT_BYTES: usize = 1024 * 1024;

/// Results waiting for a slow SSE reader; the watch channels behind them keep only the latest anyway.
const SSE_BUFFER: usize = 16;

/// Credentials come in the `connection_init` payload (browsers cannot set
/// WebSocket headers), with the upgrade request's headers as a fallback.
pub async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (id, span) = (request_id::current().unwrap_or_default(), tracing::Span::current());
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_UNSENT_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let (sources, access, schema) = (state.sources.clone(), state.access.clone(), state.schema.clone());
            let (mut stopping, alive) = (state.stopping.clone(), state.sockets.clone());
            let connection = async move {
                let (mut sink, incoming) = socket.split();
                // A stopping gateway ends the conversation as if the client had gone quiet...
                let incoming = incoming.take_until(async move {
                    let _ = stopping.wait_for(|stopping| *stopping).await;
                });
                GraphQLWebSocket::new_with_pair(&mut sink, incoming, schema, protocol)
                    .on_connection_init(move |payload| async move {
                        let supplied = Supplied::from_init_payload(&payload, &headers);
                        let mut data = Data::default();
                        data.insert(Arc::new(Loaders::new(&sources, access.resolve(supplied))));
                        Ok(data)
                    })
                    .serve()
                    .await;
                // ...then says goodbye with a close frame, so clients know to reconnect elsewhere.
                let goodbye = CloseFrame { code: close_code::AWAY, reason: "pixgate is stopping".into() };
                let _ = sink.send(Message::Close(Some(goodbye))).await;
                drop(alive);
            };
            // The connection outlives the upgrade request; it keeps its id and span.
            request_id::scope(id, connection.instrument(span))
        })
        .into_response()
}

fn next(response: &async_graphql::Response) -> Event {
    Event::default().event("next").json_data(response).unwrap_or_else(|_| Event::default().event("next").data("{}"))
}

/// One operation per request; its results stream back as `next` events, then `complete`.
pub async fn sse(
    State(state): State<AppState>,
    headers: HeaderMap,
    resolved: Option<axum::Extension<crate::auth::Credentials>>,
    request: Result<Json<async_graphql::Request>, JsonRejection>,
) -> Response {
    let request = match request {
        Ok(Json(request)) => request,
        Err(rejection) => {
            let code = match rejection.status() {
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
                StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
                _ => "BAD_REQUEST",
            };
            return super::graphql::refusal(rejection.status(), &rejection.body_text(), code);
        }
    };
    let loaders = Arc::new(Loaders::new(&state.sources, super::caller(&state, &headers, resolved)));
    let mut responses = state.schema.execute_stream(request.data(loaders));
    // The stream is read after this handler returns: a task of the request's own keeps its id and span.
    let (sender, receiver) = tokio::sync::mpsc::channel(SSE_BUFFER);
    request_id::spawn(async move {
        while let Some(response) = responses.next().await {
            if sender.send(response).await.is_err() {
                return;
            }
        }
    });
    let events = tokio_stream::wrappers::ReceiverStream::new(receiver)
        .map(|response| Ok::<_, Infallible>(next(&response)))
        .chain(stream::once(async { Ok(Event::default().event("complete").data("")) }));
    sse_response(events)
}

fn sse_response(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
