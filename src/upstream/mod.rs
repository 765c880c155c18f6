//! The only code that speaks HTTP to Pixieset and Pixelz: one typed client per API.

mod credentials;
mod error;
pub mod pixelz;
pub mod pixieset;

use std::time::Duration;

use bytes::Bytes;
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use credentials::{PixelzCredentials, PixiesetCredentials, TenantKey};
pub use error::{Api, Endpoint, UpstreamError};
pub use pixelz::PixelzClient;
pub use pixieset::PixiesetClient;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const EXCERPT_CHARS: usize = 120;

/// Both clients, sharing one connection pool.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub pixieset: PixiesetClient,
    pub pixelz: PixelzClient,
}

impl Upstreams {
    pub fn new(pixieset_base: Url, pixelz_base: Url) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(DEFAULT_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .user_agent(concat!("pixgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            pixieset: PixiesetClient::new(http.clone(), pixieset_base),
            pixelz: PixelzClient::new(http, pixelz_base),
        })
    }
}

/// Appends path segments to a base URL, percent-encoding each.
pub(crate) fn url_with(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Sends a request and sorts the answer into a body or a typed error.
/// `secrets` are scrubbed from anything kept from the answer.
pub(crate) async fn send(
    endpoint: Endpoint,
    request: RequestBuilder,
    secrets: &[&str],
) -> Result<(StatusCode, Bytes), UpstreamError> {
    let response = request.send().await.map_err(|e| UpstreamError::Unavailable {
        endpoint,
        status: None,
        // Without the URL: Pixelz URLs carry the API key.
        reason: e.without_url().to_string(),
    })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.map_err(|e| UpstreamError::Unavailable {
        endpoint,
        status: Some(status.as_u16()),
        reason: e.without_url().to_string(),
    })?;
    if status.is_success() {
        return Ok((status, body));
    }
    let (message, details) = error_message(&body);
    let code = status.as_u16();
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => UpstreamError::Unauthenticated { endpoint, status: code },
        StatusCode::NOT_FOUND => UpstreamError::NotFound { endpoint, message: message.map(|m| scrub(&m, secrets)) },
        StatusCode::TOO_MANY_REQUESTS => UpstreamError::RateLimited { endpoint, retry_after },
        s if s.is_server_error() => {
            UpstreamError::Unavailable { endpoint, status: Some(code), reason: format!("HTTP {code}") }
        }
        _ => UpstreamError::Invalid {
            endpoint,
            status: code,
            message: scrub(&message.unwrap_or_else(|| format!("HTTP {code}")), secrets),
            details,
        },
    })
}

/// The message and details of a Pixieset error body, in either of its two shapes.
fn error_message(body: &[u8]) -> (Option<String>, Option<Value>) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else { return (None, None) };
    let inner = value.get("error").filter(|e| e.is_object()).unwrap_or(&value);
    let message = inner.get("message").and_then(Value::as_str).map(str::to_string);
    let details = inner.get("details").cloned().filter(|d| !d.is_null());
    (message, details)
}

pub(crate) fn parse<T: DeserializeOwned>(
    endpoint: Endpoint,
    status: StatusCode,
    body: &[u8],
    secrets: &[&str],
) -> Result<T, UpstreamError> {
    serde_json::from_slice(body).map_err(|e| UpstreamError::Malformed {
        endpoint,
        status: status.as_u16(),
        reason: e.to_string(),
        excerpt: scrub(
            &String::from_utf8_lossy(&body[..body.len().min(EXCERPT_CHARS * 4)])
                .chars()
                .take(EXCERPT_CHARS)
                .collect::<String>(),
            secrets,
        ),
    })
}

pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |text, secret| text.replace(secret, "[redacted]"))
}
