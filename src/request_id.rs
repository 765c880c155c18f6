//! The id of the request being served. It arrives as `x-request-id` (or is made
//! here), goes back in the answer, names the request's span, so every log line
//! of the request carries it, and goes upstream with every call made for it,
//! including calls a DataLoader makes on a task of its own.

use std::future::Future;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";
const MAX_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The caller's id when it is a sane one (visible ASCII, at most 128 bytes), else a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= MAX_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(Self::new, |v| Self(v.into()))
    }

    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().to_string().into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn header_value(&self) -> HeaderValue {
        // Only visible ASCII gets here.
        HeaderValue::from_str(&self.0).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request this task serves, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(RequestId::clone).ok()
}

/// Runs `future` as part of request `id`.
pub fn scope<F: Future>(id: RequestId, future: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(id, future)
}

/// Spawns work done for the current request (a DataLoader batch): it keeps the
/// request's id, stays inside the request's span, and what it reads from the cache
/// and costs upstream counts as the request's.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let future = crate::cache::reads::carried(crate::telemetry::cost::carried(future.in_current_span()));
    match current() {
        Some(id) => tokio::spawn(scope(id, future)),
        None => tokio::spawn(future),
    }
}
