//! Fault injection and the request counter, wrapped around both simulated APIs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::SandboxState;
use crate::{locked, read};

const LOG_CAPACITY: usize = 10_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultTarget {
    #[default]
    All,
    Pixieset,
    Pixelz,
}

/// What goes wrong, and how often. The default is nothing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every answer.
    pub latency_ms: u64,
    /// Share of requests answered with `error_status` instead, in [0, 1].
    pub error_rate: f64,
    pub error_status: u16,
    /// Sent as `Retry-After` when `error_status` is 429.
    pub retry_after_secs: u64,
    /// Share of answers whose JSON body is cut in half, in [0, 1]. The request is served first:
    /// a write is made, and its answer lost.
    pub malformed_rate: f64,
    /// Added after the request was served and before its answer: a write is made, and answered
    /// late (past a client's timeout, say).
    pub late_answer_ms: u64,
    /// Share of requests served and then answered by closing the connection, in [0, 1].
    pub drop_answer_rate: f64,
    /// Keys every JSON answer leaves out, each a path of keys from the answer's root with lists
    /// passed through: `data.currency` (an invoice's, or each listed invoice's),
    /// `data.line_items.amount`, `ImagesCount`. What the documents allow a server to send.
    pub left_out: Vec<String>,
    /// Keys every JSON answer sends as `null` where it has them, as `left_out` names them.
    pub nulled: Vec<String>,
    pub target: FaultTarget,
    /// The methods faults apply to (`["POST"]`, say); empty for all.
    pub methods: Vec<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            error_status: 503,
            retry_after_secs: 1,
            malformed_rate: 0.0,
            late_answer_ms: 0,
            drop_answer_rate: 0.0,
            left_out: Vec::new(),
            nulled: Vec::new(),
            target: FaultTarget::All,
            methods: Vec::new(),
        }
    }
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        if [self.error_rate, self.malformed_rate, self.drop_answer_rate].iter().any(|rate| !(0.0..=1.0).contains(rate))
        {
            return Err("error_rate, malformed_rate and drop_answer_rate must lie in [0, 1]".into());
        }
        if !(400..=599).contains(&self.error_status) {
            return Err("error_status must be a 4xx or 5xx status".into());
        }
        if self.left_out.iter().chain(&self.nulled).any(|path| path.split('.').any(str::is_empty)) {
            return Err("left_out and nulled take key paths such as data.line_items.amount".into());
        }
        Ok(())
    }

    fn applies_to(&self, method: &str, path: &str) -> bool {
        let api = match self.target {
            FaultTarget::All => true,
            FaultTarget::Pixieset => path.starts_with("/api/"),
            FaultTarget::Pixelz => path.starts_with("/REST.svc/"),
        };
        api && (self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    pub endpoint: String,
    /// The path asked for, without the query string (which may hold credentials).
    pub path: String,
    pub status: u16,
    pub request_id: Option<String>,
    /// Headers the documents require that the request went without.
    pub missing_headers: Vec<&'static str>,
}

/// Requests per endpoint (`"GET /api/v1/clients/{client_id}"`) and the most recent ones.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RequestLog {
    pub total: u64,
    pub by_endpoint: BTreeMap<String, u64>,
    /// Requests per endpoint that went without a header the documents require: a real
    /// server may refuse them, so a client of the sandbox should have none.
    pub without_documented_headers: BTreeMap<String, u64>,
    pub recent: VecDeque<LoggedRequest>,
}

impl RequestLog {
    pub fn count(&self, endpoint: &str) -> u64 {
        self.by_endpoint.get(endpoint).copied().unwrap_or(0)
    }

    fn record(&mut self, entry: LoggedRequest) {
        self.total += 1;
        *self.by_endpoint.entry(entry.endpoint.clone()).or_default() += 1;
        if !entry.missing_headers.is_empty() {
            *self.without_documented_headers.entry(entry.endpoint.clone()).or_default() += 1;
        }
        if self.recent.len() == LOG_CAPACITY {
            self.recent.pop_front();
        }
        self.recent.push_back(entry);
    }
}

/// The headers each API's documents require on every call, with the value they give.
/// Pixieset's examples all send the XHR pair (and the session cookie, which its
/// routes check themselves); Pixelz "require[s] header Content-Type: application/json;
/// charset=UTF-8 for the RESTful API".
fn documented_headers(path: &str) -> &'static [(&'static str, &'static str)] {
    if path.starts_with("/api/") {
        &[("x-requested-with", "XMLHttpRequest"), ("content-type", "application/json")]
    } else if path.starts_with("/REST.svc/") {
        &[("content-type", "application/json; charset=UTF-8")]
    } else {
        &[]
    }
}

fn missing_headers(request: &Request) -> Vec<&'static str> {
    let squeeze = |text: &str| text.split_whitespace().collect::<String>().to_ascii_lowercase();
    documented_headers(request.uri().path())
        .iter()
        .filter(|(name, value)| {
            let sent = request.headers().get(*name).and_then(|v| v.to_str().ok());
            sent.is_none_or(|sent| squeeze(sent) != squeeze(value))
        })
        .map(|(name, _)| *name)
        .collect()
}

pub async fn inject(State(state): State<Arc<SandboxState>>, request: Request, next: Next) -> Response {
    let missing_headers = missing_headers(&request);
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let template = request.extensions().get::<MatchedPath>().map_or(path.as_str(), |m| m.as_str());
    let endpoint = format!("{method} {}", template.trim_end_matches('/'));
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let faults = read(&state.faults).clone();
    let faults = faults.applies_to(&method, &path).then_some(faults);

    let response = match &faults {
        Some(f) if f.latency_ms > 0 || f.error_rate > 0.0 => {
            tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
            if f.error_rate > 0.0 && state.rng.next_f64() < f.error_rate {
                injected_error(f)
            } else {
                next.run(request).await
            }
        }
        _ => next.run(request).await,
    };
    let response = match &faults {
        Some(f) if !f.left_out.is_empty() || !f.nulled.is_empty() => reshaped(response, f).await,
        _ => response,
    };
    let response = match &faults {
        Some(f) if f.malformed_rate > 0.0 && state.rng.next_f64() < f.malformed_rate => malformed(response).await,
        Some(f) if f.drop_answer_rate > 0.0 && state.rng.next_f64() < f.drop_answer_rate => dropped(response),
        _ => response,
    };
    locked(&state.requests).record(LoggedRequest {
        method,
        endpoint,
        path,
        status: response.status().as_u16(),
        request_id,
        missing_headers,
    });
    // Served and counted; only the answer is late.
    if let Some(f) = faults.as_ref().filter(|f| f.late_answer_ms > 0) {
        tokio::time::sleep(Duration::from_millis(f.late_answer_ms)).await;
    }
    response
}

fn injected_error(faults: &Faults) -> Response {
    let status = StatusCode::from_u16(faults.error_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = (status, axum::Json(serde_json::json!({ "message": "Injected fault" }))).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(faults.retry_after_secs));
    }
    response
}

/// The same answer with the keys `faults` names left out or made null; an answer that is
/// not JSON is passed on as it is.
async fn reshaped(response: Response, faults: &Faults) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let Ok(mut answer) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    for (paths, leave_out) in [(&faults.left_out, true), (&faults.nulled, false)] {
        for path in paths {
            reshape(&mut answer, &path.split('.').collect::<Vec<_>>(), leave_out);
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(answer.to_string()))
}

fn reshape(value: &mut serde_json::Value, path: &[&str], leave_out: bool) {
    use serde_json::Value;
    match (value, path) {
        (Value::Array(items), _) => items.iter_mut().for_each(|item| reshape(item, path, leave_out)),
        (Value::Object(keys), [last]) if leave_out => {
            keys.remove(*last);
        }
        (Value::Object(keys), [last]) => {
            if let Some(held) = keys.get_mut(*last) {
                *held = Value::Null;
            }
        }
        (Value::Object(keys), [first, rest @ ..]) => {
            if let Some(inner) = keys.get_mut(*first) {
                reshape(inner, rest, leave_out);
            }
        }
        _ => {}
    }
}

/// The same answer with its body cut in half: what a dropped connection or a broken proxy leaves.
async fn malformed(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

/// No answer at all: the body fails before its first byte, so the server closes the connection
/// (what a crash or a reset after the request was read leaves a client with).
fn dropped(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let failing =
        futures_util::stream::once(async { Err::<axum::body::Bytes, _>(std::io::Error::other("answer dropped")) });
    Response::from_parts(parts, Body::from_stream(failing))
}
