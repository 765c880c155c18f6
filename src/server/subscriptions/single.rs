//! graphql-sse's single-connection mode, for browsers on HTTP/1 (six connections to a host):
//! a `PUT` reserves a stream and answers its token; one `GET` with the token opens the event
//! stream; each operation is `POST`ed with the token and an `extensions.operationId`, and its
//! results arrive on that stream as `{ id, payload }`; a `DELETE ?operationId=` stops one.
//! The token is `x-graphql-event-stream-token` (or `?token=` for an `EventSource`).
//!
//! A reservation is its caller's: a request under other credentials is told it does not
//! exist. Reservations no stream took within `RESERVATION_WAIT` are dropped, and when the
//! stream ends every operation it carried stops.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::stream;

use super::protocol::OperationPayload;
use super::shared::{Body, Caller, Delivery, Outbox, Started};
use super::{admit, refused_payload, sse_response};
use crate::error_code::ErrorCode;
use crate::lock::locked;
use crate::server::{AppState, refuse};
use crate::session::Session;

pub const TOKEN_HEADER: &str = "x-graphql-event-stream-token";
/// How long a reservation waits for its stream.
const RESERVATION_WAIT: Duration = Duration::from_secs(30);
/// Reservations held at once, all callers together, and by one caller.
const MAX_RESERVATIONS: usize = 10_000;
const MAX_RESERVATIONS_PER_CALLER: usize = 16;
/// Operations one stream carries at once, as one WebSocket connection may.
const MAX_OPERATIONS: usize = 100;

/// Every reservation of this instance, by token.
#[derive(Default)]
pub struct Streams {
    reservations: std::sync::Mutex<HashMap<String, Arc<Reservation>>>,
}

struct Reservation {
    /// Whom it was made for: only they may stream, post or stop.
    identity: String,
    streaming: AtomicBool,
    outbox: Arc<Outbox>,
    /// Running operations by serial, with the client's id for each.
    operations: std::sync::Mutex<HashMap<u64, (String, Started)>>,
    serials: AtomicU64,
}

impl Streams {
    /// A new reservation's token; it lapses, with whatever was posted to it, unless a stream
    /// takes it within `RESERVATION_WAIT`.
    fn reserve(self: &Arc<Self>, identity: String) -> Option<String> {
        let mut reservations = locked(&self.reservations);
        let held = reservations.values().filter(|r| r.identity == identity).count();
        if reservations.len() >= MAX_RESERVATIONS || held >= MAX_RESERVATIONS_PER_CALLER {
            return None;
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        let reservation = Reservation {
            identity,
            streaming: AtomicBool::new(false),
            outbox: Arc::default(),
            operations: std::sync::Mutex::default(),
            serials: AtomicU64::new(0),
        };
        reservations.insert(token.clone(), Arc::new(reservation));
        let (streams, lapsing) = (self.clone(), token.clone());
        tokio::spawn(async move {
            tokio::time::sleep(RESERVATION_WAIT).await;
            let mut reservations = locked(&streams.reservations);
            if reservations.get(&lapsing).is_some_and(|r| !r.streaming.load(Ordering::Relaxed)) {
                reservations.remove(&lapsing);
            }
        });
        Some(token)
    }

    /// The caller's reservation under `token`; another caller's is as good as none.
    fn find(&self, token: &str, identity: &str) -> Option<Arc<Reservation>> {
        locked(&self.reservations).get(token).filter(|r| r.identity == identity).cloned()
    }

    fn release(&self, token: &str) {
        locked(&self.reservations).remove(token);
    }
}

fn token(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    headers
        .get(TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.get("token").cloned())
        .filter(|token| !token.is_empty())
}

/// The caller's reservation the request's token names, with the token.
fn requested(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<(String, Arc<Reservation>)> {
    let token = token(headers, query)?;
    let reservation = state.streams.find(&token, &session.identity())?;
    Some((token, reservation))
}

fn no_reservation() -> Response {
    let message = "no stream is reserved under this token: PUT to reserve one";
    refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound.error(message))
}

/// `PUT`: a reservation, answered 201 with its token.
pub async fn reserve(State(state): State<AppState>, Extension(session): Extension<Session>) -> Response {
    match state.streams.reserve(session.identity()) {
        Some(token) => (StatusCode::CREATED, token).into_response(),
        None => {
            let message = format!("at most {MAX_RESERVATIONS_PER_CALLER} streams reserved at once: use one");
            refuse(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited.error(message))
        }
    }
}

/// `GET` with a token: the one event stream of its reservation.
pub async fn stream(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((token, reservation)) = requested(&state, &session, &headers, &query) else { return no_reservation() };
    if reservation.streaming.swap(true, Ordering::Relaxed) {
        let message = "this reservation's stream is already open: one stream per reservation";
        return refuse(StatusCode::CONFLICT, ErrorCode::BadRequest.error(message));
    }
    // Dropped with the stream, when the client goes away: its operations stop with it.
    let release = Release { streams: state.streams.clone(), token };
    let stopping = state.stopping.clone();
    let events = stream::unfold((reservation, release, stopping), |(reservation, release, mut stopping)| async move {
        loop {
            let Some(Delivery { operation, body, .. }) = reservation.outbox.pop() else {
                tokio::select! {
                    () = reservation.outbox.ready() => {}
                    // As in the distinct-connections mode: the client connects again, elsewhere.
                    () = super::stopped(&mut stopping) => return None,
                }
                continue;
            };
            let mut operations = locked(&reservation.operations);
            // An operation stopped since its result was queued.
            let Some((id, _)) = operations.get(&operation) else { continue };
            let id = serde_json::Value::String(id.clone());
            let event = match body {
                Body::Next(result) => {
                    let payload = String::from_utf8_lossy(&result);
                    Event::default().event("next").data(format!(r#"{{"id":{id},"payload":{payload}}}"#))
                }
                Body::Complete => {
                    operations.remove(&operation);
                    Event::default().event("complete").data(format!(r#"{{"id":{id}}}"#))
                }
            };
            drop(operations);
            return Some((Ok::<_, Infallible>(event), (reservation, release, stopping)));
        }
    });
    sse_response(events)
}

struct Release {
    streams: Arc<Streams>,
    token: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.streams.release(&self.token);
    }
}

/// `POST` with a token: an operation whose results go to the reservation's stream; 202.
pub async fn execute(
    state: AppState,
    session: Session,
    token: String,
    payload: Result<Json<OperationPayload>, JsonRejection>,
) -> Response {
    let Some(reservation) = state.streams.find(&token, &session.identity()) else { return no_reservation() };
    let mut payload = match payload {
        Ok(Json(payload)) => payload,
        Err(rejection) => return refused_payload(rejection),
    };
    let Some(id) = payload.extensions.remove("operationId").and_then(|id| match id {
        async_graphql::Value::String(id) if !id.is_empty() => Some(id),
        _ => None,
    }) else {
        let message = "name the operation in `extensions.operationId`: its results carry that id";
        return refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message));
    };
    if let Err(refused) = admit(state.trusted.as_deref(), &mut payload, &session) {
        return refuse(StatusCode::BAD_REQUEST, refused);
    }
    let mut operations = locked(&reservation.operations);
    if operations.values().any(|(running, _)| *running == id) {
        let message = "an operation with this operationId is running on this stream";
        return refuse(StatusCode::CONFLICT, ErrorCode::BadRequest.error(message));
    }
    if operations.len() >= MAX_OPERATIONS {
        let message = format!("at most {MAX_OPERATIONS} operations at once on one stream");
        return refuse(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited.error(message));
    }
    let serial = reservation.serials.fetch_add(1, Ordering::Relaxed);
    let caller = Caller::new(&state.sources, &session);
    let started = match state.executions.start(payload, &caller, &reservation.outbox, serial) {
        Ok(started) => started,
        Err(refused) => return refuse(refused.status(), refused.into_error()),
    };
    operations.insert(serial, (id, started));
    StatusCode::ACCEPTED.into_response()
}

/// `DELETE ?operationId=` with a token: stops that operation.
pub async fn stop(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, reservation)) = requested(&state, &session, &headers, &query) else { return no_reservation() };
    let Some(id) = query.get("operationId") else {
        let message = "name the operation to stop in `?operationId=`";
        return refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message));
    };
    locked(&reservation.operations).retain(|_, (running, _)| running != id);
    StatusCode::OK.into_response()
}

/// Whether a `POST` belongs to the single-connection mode: it carries a token.
pub fn posted_token(headers: &HeaderMap) -> Option<String> {
    token(headers, &HashMap::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_reservation_no_stream_takes_lapses_and_a_caller_holds_few() {
        let streams = Arc::new(Streams::default());
        let tokens: Vec<_> = (0..MAX_RESERVATIONS_PER_CALLER).map(|_| streams.reserve("a".into())).collect();
        assert!(tokens.iter().all(Option::is_some));
        assert!(streams.reserve("a".into()).is_none(), "one caller holds at most {MAX_RESERVATIONS_PER_CALLER}");
        let other = streams.reserve("b".into()).unwrap();
        assert!(streams.find(&other, "a").is_none(), "another caller's token is none of theirs");
        let streamed = tokens[0].clone().unwrap();
        streams.find(&streamed, "a").unwrap().streaming.store(true, Ordering::Relaxed);
        tokio::time::sleep(RESERVATION_WAIT + Duration::from_secs(1)).await;
        assert!(streams.find(&streamed, "a").is_some(), "a streamed reservation stays");
        assert!(streams.find(tokens[1].as_ref().unwrap(), "a").is_none(), "an unstreamed one lapsed");
        assert_eq!(locked(&streams.reservations).len(), 1);
    }
}
