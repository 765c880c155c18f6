//! The id of the request being served. It arrives as `x-request-id` (or is made
//! here), goes back in the answer, names the request's span, so every log line
//! of the request carries it, and goes upstream with every call made for it
//! (`scope` carries it there, onto a DataLoader's tasks too).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};

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
