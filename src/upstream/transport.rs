//! How every upstream call is made: a concurrency limit per API, a timeout per
//! attempt, bounded retries with exponential backoff and jitter, a circuit per
//! credential, the operation's upstream-call budget, one tracing span per call,
//! and answers sorted into bodies or typed errors.
//! Nothing here knows a particular endpoint.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::breaker::{Breakers, Outcome};
use super::health::Health;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use super::{Api, Endpoint, TenantKey, UpstreamError};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_CONCURRENCY: usize = 32;
const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Retries of one call wait at most this long.
const LONGEST_BACKOFF: Duration = Duration::from_secs(5);
const EXCERPT_CHARS: usize = 120;

#[derive(Clone, Debug)]
pub struct UpstreamSettings {
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Calls in flight per API, across all requests.
    pub concurrency: usize,
    pub backoff_base: Duration,
    /// Consecutive failures of one credential's calls that open its circuit.
    pub failures_to_open: u32,
    /// How long a circuit opened by failures stays open before a probe.
    pub open_for: Duration,
}

impl UpstreamSettings {
    /// The longest one call may take: every attempt's timeout, and the waits between them.
    pub fn longest_call(&self) -> Duration {
        let attempts = self.max_attempts.max(1);
        self.timeout * attempts + LONGEST_BACKOFF * (attempts - 1)
    }
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            concurrency: DEFAULT_CONCURRENCY,
            backoff_base: DEFAULT_BACKOFF_BASE,
            failures_to_open: super::breaker::DEFAULT_FAILURES_TO_OPEN,
            open_for: super::breaker::DEFAULT_OPEN_FOR,
        }
    }
}

/// When a failed call may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A read: retry on transport errors, 5xx and unreadable answers
    /// (never on a 429: the circuit waits out its `Retry-After` for every call).
    Idempotent,
    /// A write: retried only when it provably never left (the connection was never made).
    /// Once its bytes may have reached the upstream, a failure without a clear answer is
    /// `OutcomeUnknown`, for the caller to settle by asking the upstream, never by sending again.
    UnlessSent,
}

struct Failure {
    error: UpstreamError,
    /// False only when the connection was never made, so the server cannot have seen the request.
    sent: bool,
}

impl Failure {
    /// A write's failure as its caller must see it: when the request may have been acted on
    /// and nothing says what happened, the outcome is unknown. A 503 and a 429 say the server
    /// did not take the request on; a 500, 502 or 504 may come after it acted.
    fn unclear_write(self) -> UpstreamError {
        if !self.sent {
            return self.error;
        }
        match self.error {
            UpstreamError::Unavailable { endpoint, status, reason } if status.is_none_or(may_follow_an_act) => {
                UpstreamError::OutcomeUnknown { endpoint, status, reason }
            }
            UpstreamError::Malformed { endpoint, status, reason, .. } => {
                UpstreamError::OutcomeUnknown { endpoint, status: Some(status), reason }
            }
            error => error,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Transport {
    pub http: reqwest::Client,
    limit: Arc<Semaphore>,
    settings: UpstreamSettings,
    breakers: Breakers,
    pub health: Health,
}

/// Whether an answer with this status may come from a server that acted on the request: a
/// success whose body was lost, or a failure behind or inside the server after it began.
fn may_follow_an_act(status: u16) -> bool {
    matches!(status, 200..=299 | 500 | 502 | 504)
}

/// A number in [0, 1) that differs on every call; jitter needs no more than that.
/// Each `RandomState` is keyed afresh, so hashing the same byte gives a new value.
fn random_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |text, secret| text.replace(secret, "[redacted]"))
}

fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    scrub(&String::from_utf8_lossy(head).chars().take(EXCERPT_CHARS).collect::<String>(), secrets)
}

/// An answer that is not the JSON it should be.
pub(crate) fn malformed(
    endpoint: Endpoint,
    status: StatusCode,
    reason: impl ToString,
    body: &[u8],
    secrets: &[&str],
) -> UpstreamError {
    UpstreamError::Malformed {
        endpoint,
        status: status.as_u16(),
        reason: scrub(&reason.to_string(), secrets),
        excerpt: excerpt(body, secrets),
    }
}

/// What an error body says: `{message, details}` or `{error: {code, message, details}}`.
#[derive(Default)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
    details: Option<Value>,
}

fn error_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<Value>(body) else { return ErrorBody::default() };
    let inner = value.get("error").filter(|e| e.is_object()).unwrap_or(&value);
    let text = |name: &str| inner.get(name).and_then(Value::as_str).map(str::to_string);
    ErrorBody {
        code: text("code"),
        message: text("message"),
        details: inner.get("details").cloned().filter(|d| !d.is_null()),
    }
}

pub(super) fn status_error(
    endpoint: Endpoint,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    secrets: &[&str],
) -> UpstreamError {
    let ErrorBody { code: upstream_code, message, details } = error_body(body);
    let code = status.as_u16();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => UpstreamError::Unauthenticated { endpoint, status: code },
        StatusCode::NOT_FOUND => UpstreamError::NotFound {
            endpoint,
            code: upstream_code.map(|c| scrub(&c, secrets)),
            message: message.map(|m| scrub(&m, secrets)),
        },
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
    }
}

/// One upstream HTTP exchange, labelled by the endpoint's template (never its ids) and
/// the status, or `none` when no answer came.
fn record_attempt(endpoint: Endpoint, status: Option<StatusCode>, took: Duration) {
    use crate::telemetry::metrics::{UPSTREAM_DURATION, UPSTREAM_REQUESTS};
    let (upstream, verb, path) = (endpoint.api.name(), endpoint.verb.as_str(), endpoint.path);
    let status = status.map_or_else(|| "none".to_string(), |s| s.as_u16().to_string());
    metrics::counter!(UPSTREAM_REQUESTS, "upstream" => upstream, "method" => verb, "endpoint" => path, "status" => status)
        .increment(1);
    metrics::histogram!(UPSTREAM_DURATION, "upstream" => upstream, "method" => verb, "endpoint" => path)
        .record(took.as_secs_f64());
    crate::telemetry::cost::upstream_call(upstream, verb, path);
}

impl Transport {
    pub fn new(api: Api, http: reqwest::Client, settings: UpstreamSettings) -> Self {
        Self {
            http,
            limit: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            breakers: Breakers::new(api, settings.failures_to_open, settings.open_for),
            settings,
            health: Health::default(),
        }
    }

    /// Runs a call for `tenant`: `build` makes each attempt's request, `read` turns a 2xx
    /// body into `T`. `secrets` are scrubbed from anything kept from an answer.
    pub async fn call<T>(
        &self,
        endpoint: Endpoint,
        retry: Retry,
        tenant: &TenantKey,
        secrets: &[&str],
        build: impl Fn() -> RequestBuilder,
        read: impl Fn(StatusCode, &[u8]) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let span = tracing::info_span!(
            "upstream",
            upstream = endpoint.api.name(),
            method = endpoint.verb.as_str(),
            path = endpoint.path,
            status = tracing::field::Empty,
            attempt = tracing::field::Empty,
            ms = tracing::field::Empty,
        );
        let started = Instant::now();
        // The upstream's own logs can then be matched with this gateway's.
        let request_id = crate::scope::current_id();
        let result = async {
            let mut attempt = 1;
            loop {
                let mut request = build();
                if let Some(id) = &request_id {
                    request = request.header(crate::request_id::HEADER, id.as_str());
                }
                let admitted = self.admit(endpoint, tenant)?;
                let outcome = self.attempt(endpoint, secrets, request, &read).await;
                self.breakers.record(admitted, circuit_outcome(&outcome));
                let failure = match outcome {
                    Ok((status, value)) => {
                        tracing::Span::current().record("status", status.as_u16()).record("attempt", attempt);
                        return Ok(value);
                    }
                    Err(failure) => failure,
                };
                if let Some(status) = failure.error.status() {
                    tracing::Span::current().record("status", status);
                }
                tracing::Span::current().record("attempt", attempt);
                match self.retry_wait(retry, &failure, attempt) {
                    Some(wait) => {
                        tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %failure.error, "retrying upstream call");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None if retry == Retry::UnlessSent => return Err(failure.unclear_write()),
                    None => return Err(failure.error),
                }
            }
        }
        .instrument(span.clone())
        .await;
        span.record("ms", started.elapsed().as_millis() as u64);
        span.in_scope(|| match &result {
            Ok(_) => tracing::debug!("upstream call succeeded"),
            // The cause a client is not told (see `UpstreamError::public_message`) is kept here.
            Err(
                error @ (UpstreamError::Unavailable { .. }
                | UpstreamError::Malformed { .. }
                | UpstreamError::OutcomeUnknown { .. }),
            ) => {
                tracing::warn!(%error, "upstream call failed")
            }
            Err(error) => tracing::info!(%error, "upstream call refused"),
        });
        result
    }

    /// One attempt's place: a circuit that lets it through, and a unit of the operation's budget.
    fn admit(&self, endpoint: Endpoint, tenant: &TenantKey) -> Result<super::breaker::Admitted, UpstreamError> {
        crate::scope::spend_upstream_call().map_err(|spent| {
            metrics::counter!(crate::telemetry::metrics::UPSTREAM_BUDGET_REFUSALS, "stage" => "execution").increment(1);
            UpstreamError::BudgetSpent { endpoint, limit: spent.limit }
        })?;
        self.breakers.admit(tenant).map_err(|retry_after| {
            // Failing fast is no call: the budget gets its unit back.
            crate::scope::refund_upstream_call();
            UpstreamError::CircuitOpen { endpoint, retry_after }
        })
    }

    async fn attempt<T>(
        &self,
        endpoint: Endpoint,
        secrets: &[&str],
        request: RequestBuilder,
        read: &impl Fn(StatusCode, &[u8]) -> Result<T, UpstreamError>,
    ) -> Result<(StatusCode, T), Failure> {
        let unavailable = |status: Option<u16>, reason: String, sent: bool| Failure {
            error: UpstreamError::Unavailable { endpoint, status, reason },
            sent,
        };
        // Held for the attempt only, never across a backoff wait.
        let _permit = self.limit.acquire().await.map_err(|_| unavailable(None, "client shut down".into(), false))?;
        let started = Instant::now();
        let sent = request.timeout(self.settings.timeout).send().await;
        let status = sent.as_ref().map(|r| r.status()).ok();
        record_attempt(endpoint, status, started.elapsed());
        self.health.record(status);
        let response = sent.map_err(|e| {
            // Without the URL: Pixelz URLs carry the API key.
            let e = e.without_url();
            unavailable(None, e.to_string(), !e.is_connect())
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body =
            bounded_body(response, status).await.map_err(|reason| unavailable(Some(status.as_u16()), reason, true))?;
        if !status.is_success() {
            return Err(Failure { error: status_error(endpoint, status, retry_after, &body, secrets), sent: true });
        }
        read(status, &body).map(|value| (status, value)).map_err(|error| Failure { error, sent: true })
    }

    fn retry_wait(&self, retry: Retry, failure: &Failure, attempt: u32) -> Option<Duration> {
        if attempt >= self.settings.max_attempts {
            return None;
        }
        let transient = matches!(failure.error, UpstreamError::Unavailable { .. } | UpstreamError::Malformed { .. });
        if failure.sent && !(retry == Retry::Idempotent && transient) {
            return None;
        }
        if matches!(failure.error, UpstreamError::RateLimited { .. }) {
            return None;
        }
        let ceiling = self.settings.backoff_base.saturating_mul(1 << (attempt - 1).min(16)).min(LONGEST_BACKOFF);
        // Equal jitter: at least half the backoff, so retries spread out but never bunch at zero.
        Some(ceiling / 2 + ceiling.mul_f64(random_fraction() / 2.0))
    }
}

/// What an attempt tells the circuit: refusals of the input or the credentials are answers.
fn circuit_outcome<T>(outcome: &Result<(StatusCode, T), Failure>) -> Outcome {
    match outcome {
        Ok(_) => Outcome::Answered,
        Err(Failure { error: UpstreamError::RateLimited { retry_after, .. }, .. }) => Outcome::Limited(*retry_after),
        Err(Failure { error: UpstreamError::Unavailable { .. } | UpstreamError::Malformed { .. }, .. }) => {
            Outcome::Failed
        }
        Err(_) => Outcome::Answered,
    }
}

/// The most one upstream answer may hold: an answer is read whole before it is parsed, so a
/// server that sends without end would otherwise be held in memory without end.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

async fn bounded_body(mut response: reqwest::Response, status: StatusCode) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|length| length > MAX_ANSWER_BYTES as u64) {
        return Err(format!("the answer ({status}) is larger than {} MiB", MAX_ANSWER_BYTES >> 20));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.without_url().to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("the answer ({status}) is larger than {} MiB", MAX_ANSWER_BYTES >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
