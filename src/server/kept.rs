//! A query asked again, answered before the router: when a POST's headers leave its
//! answer to its body alone, the body's bytes and the caller find the answer kept for
//! the same request before (`cache::responses`), and the stored bytes go out as they
//! are: no middleware stack, no parsing, no GraphQL work. The caller is still resolved
//! and rate limited, the answer counted and given its request id, exactly as the
//! router would. Anything else, or a request not answered so before, goes on to the
//! router with what was read of it.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use super::AppState;
use super::media::{Media, Replies, Reply};
use crate::cache::responses::RequestKey;
use crate::error_code::ErrorCode;
use crate::request_id::{self, RequestId};
use crate::session::Session;

/// Bodies up to this size are keyed as sent; a query larger than this is asked rarely enough.
const MAX_BODY: usize = 16 * 1024;

/// The media type a POST's answer goes out as, when nothing in its headers but that
/// decides the answer: JSON, no cost asked (`x-pixgate-cost`), no cache directive and
/// no idempotency key. (CORS, around this, adds its own headers alike to either path.)
fn plain(headers: &HeaderMap) -> Option<Media> {
    let unasked = [
        header::CACHE_CONTROL,
        header::HeaderName::from_static("idempotency-key"),
        header::HeaderName::from_static(super::graphql::COST_HEADER),
    ];
    if unasked.iter().any(|name| headers.contains_key(name)) || !super::graphql::is_json(headers) {
        return None;
    }
    Media::negotiate(headers)
}

/// The length a request's `Content-Length` declares.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The key a single operation's POST is found by as sent, when a repeat of it would be
/// answered here (its answer depends on nothing else, its length is declared); the
/// router's handler keys what it answers with the same.
pub(super) fn sent_key(state: &AppState, headers: &HeaderMap, body: Bytes, session: &Session) -> Option<RequestKey> {
    (body.len() <= MAX_BODY && declared_length(headers) == Some(body.len()) && plain(headers).is_some())
        .then(|| RequestKey::new(session, manifest_in_force(state), body))
}

fn manifest_in_force(state: &AppState) -> u64 {
    state.trusted.as_ref().map_or(0, |trusted| trusted.reloads())
}

/// The answer kept for this request as sent, or the request (with its session resolved
/// and its body read, if it came to that) for the router.
pub(super) async fn answer(state: &AppState, request: Request) -> Result<Response, Request> {
    if !state.responses.enabled() || request.method() != Method::POST || request.uri().path() != "/graphql" {
        return Err(request);
    }
    let Some(media) = plain(request.headers()) else { return Err(request) };
    let declared = declared_length(request.headers());
    // Only a body whose whole length is known and small is read here: the rest is
    // the router's, with its body limit.
    if !declared.is_some_and(|length| length > 0 && length <= MAX_BODY.min(state.max_body_bytes)) {
        return Err(request);
    }
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return Err(request);
    };
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    // The router allows a body this long a pause between two reads; a body this
    // small arrives in one or two.
    let read = tokio::time::timeout(state.connections.body_timeout, axum::body::to_bytes(body, MAX_BODY)).await;
    let Ok(Ok(body)) = read else {
        let refused = ErrorCode::BadRequest.error("the request body did not arrive whole in time");
        return Ok(with_request_id(super::refuse(StatusCode::BAD_REQUEST, refused), &parts.headers));
    };
    let session = super::session_of(state, peer, &parts.headers);
    let sent = RequestKey::new(&session, manifest_in_force(state), body.clone());
    let Some(hit) = state.responses.lookup_sent(&sent).await else {
        parts.extensions.insert(session);
        return Err(Request::from_parts(parts, Body::from(body)));
    };
    if let Err(wait) = state.rate_limits.check(&session).await {
        return Ok(with_request_id(super::rate_limit::refused(wait), &parts.headers));
    }
    hit.answered.record(started.elapsed());
    let id = RequestId::from_headers(&parts.headers);
    tracing::debug!(request_id = id.as_str(), "answered from the response cache as sent before");
    let reply = Reply::Serialised { body: hit.body, age: Some(hit.age) };
    let mut answer = super::media::answer(Replies::Single(reply), media);
    answer.headers_mut().insert(request_id::HEADER, id.header_value());
    // The router's routes say how long an answer is (axum does); here it is known as well.
    if let Some(length) = axum::body::HttpBody::size_hint(answer.body()).exact() {
        answer.headers_mut().insert(header::CONTENT_LENGTH, length.into());
    }
    Ok(answer)
}

fn with_request_id(mut response: Response, headers: &HeaderMap) -> Response {
    response.headers_mut().insert(request_id::HEADER, RequestId::from_headers(headers).header_value());
    response
}
