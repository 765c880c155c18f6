//! What every Pixelz answer is made of (`ErrorCode` and `Message` in a 200), the
//! refusals, reading parameters from a query string or a JSON body, and the
//! account the credentials open.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use super::model::*;
use crate::{SandboxState, locked};

pub(super) type Params = Query<HashMap<String, String>>;
pub(super) type Reply = Result<Response, Response>;

pub(super) const NONTICKET: &str = "nonticket";
pub(super) const DEFAULT_PER_PAGE: usize = 10;
pub(super) const MAX_PER_PAGE: usize = 100;

pub(super) fn answer(mut body: Value) -> Reply {
    body["ErrorCode"] = json!("NoError");
    if body.get("Message").is_none() {
        body["Message"] = json!("");
    }
    Ok(axum::Json(body).into_response())
}

pub(super) fn fail(failure: Failure, message: impl Into<String>) -> Response {
    let mut response = axum::Json(json!({ "ErrorCode": failure.code(), "Message": message.into() })).into_response();
    response.extensions_mut().insert(failure);
    response
}

/// The documents name no `ErrorCode` but `NoError` (and `0` in DELETE's answer). Without
/// extras, a refusal therefore carries only a number, as DELETE's do: nothing a client
/// could match by name. With extras, the names a real server plausibly sends.
pub(crate) async fn numbered_refusals(
    axum::extract::State(state): axum::extract::State<Arc<SandboxState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    match response.extensions().get::<Failure>().copied() {
        Some(failure) if !state.extras() => {
            let (parts, body) = response.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return Response::from_parts(parts, axum::body::Body::empty());
            };
            let mut answer: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
            answer["ErrorCode"] = json!(failure.number());
            let mut response = axum::Json(answer).into_response();
            *response.status_mut() = parts.status;
            response
        }
        _ => response,
    }
}

pub(super) fn invalid(message: impl Into<String>) -> Response {
    fail(Failure::InvalidParameter, message)
}

/// A parameter as text: Pixelz takes numbers and booleans as strings too, and "" as absent.
pub(super) fn text(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn query_map(params: HashMap<String, String>) -> Map<String, Value> {
    params.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
}

pub(super) fn body_map(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("The request body must be a JSON object.")),
    }
}

pub(super) fn int(
    params: &Map<String, Value>,
    key: &str,
    allowed: impl Fn(i64) -> bool,
) -> Result<Option<i64>, Response> {
    match text(params, key) {
        None => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if allowed(n) => Ok(Some(n)),
            _ => Err(invalid(format!("{key} has an invalid value."))),
        },
    }
}

pub(super) fn flag(params: &Map<String, Value>, key: &str) -> Result<Option<bool>, Response> {
    match text(params, key).map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if s == "true" => Ok(Some(true)),
        Some(s) if s == "false" => Ok(Some(false)),
        Some(_) => Err(invalid(format!("{key} accepts \"true\" or \"false\"."))),
    }
}

pub(super) fn page(params: &Map<String, Value>, key: &str, default: usize, max: usize) -> Result<usize, Response> {
    Ok(int(params, key, |n| n >= 1 && n as usize <= max)?.map_or(default, |n| n as usize))
}

pub(super) fn http_url(raw: &str) -> bool {
    reqwest::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

pub(super) fn optional_url(params: &Map<String, Value>, key: &str) -> Result<Option<String>, Response> {
    match text(params, key) {
        Some(url) if !http_url(&url) => Err(invalid(format!("{key} must be an http or https URL."))),
        other => Ok(other),
    }
}

/// Dates as Pixelz takes them: a day, or a day and a time; a bare `to` day includes all of it.
pub(super) fn date_bound(
    params: &Map<String, Value>,
    key: &str,
    end_of_day: bool,
) -> Result<Option<DateTime<Utc>>, Response> {
    let Some(raw) = text(params, key) else { return Ok(None) };
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(&raw, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    match NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
        Ok(day) if end_of_day => Ok(Some(day.and_hms_opt(23, 59, 59).expect("valid time").and_utc())),
        Ok(day) => Ok(Some(day.and_hms_opt(0, 0, 0).expect("valid time").and_utc())),
        Err(_) => Err(invalid(format!("{key} is not a valid date (yyyy-MM-dd)."))),
    }
}

pub(super) fn with_account<T>(
    state: &SandboxState,
    params: &Map<String, Value>,
    on_bad_credentials: impl FnOnce() -> Response,
    f: impl FnOnce(&mut Store, usize) -> Result<T, Response>,
) -> Result<T, Response> {
    let mut store = locked(&state.pixelz);
    let email = text(params, "contactEmail").unwrap_or_default();
    let key = text(params, "contactAPIkey").unwrap_or_default();
    match store.account(&email, &key) {
        Some(index) => f(&mut store, index),
        None => Err(on_bad_credentials()),
    }
}

pub(super) fn bad_credentials() -> Response {
    fail(Failure::InvalidApiKey, "The contact email or API key is not valid.")
}
