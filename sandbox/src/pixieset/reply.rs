//! What every Pixieset answer is made of: the replies, the two error shapes, and
//! reading a request (the session cookie, a JSON body, paging).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::model::Studio;
use crate::{SandboxState, locked};

pub(super) type Params = Query<HashMap<String, String>>;
pub(super) type Reply = Result<Response, Response>;

pub(super) const DEFAULT_PER_PAGE: usize = 25;
pub(super) const MAX_PER_PAGE: usize = 100;

pub(super) fn ok(body: Value) -> Reply {
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

pub(super) fn created(body: Value) -> Reply {
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

pub(super) fn unauthenticated() -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthenticated." }))).into_response()
}

pub(super) fn not_found(code: &str, message: String) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

pub(super) fn bad_request(code: &str, message: String) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

/// Field-by-field validation failures, answered as 422 when any were found.
#[derive(Default)]
pub(super) struct Invalid(Map<String, Value>);

impl Invalid {
    pub(super) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let entry = self.0.entry(field.into()).or_insert_with(|| json!([]));
        if let Value::Array(messages) = entry {
            messages.push(json!(message.into()));
        }
    }

    pub(super) fn finish(self) -> Result<(), Response> {
        if self.0.is_empty() {
            return Ok(());
        }
        let body = json!({ "message": "The given data was invalid.", "details": self.0 });
        Err((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response())
    }

    pub(super) fn one(field: &str, message: &str) -> Response {
        let mut invalid = Self::default();
        invalid.add(field, message);
        invalid.finish().expect_err("one failure was added")
    }
}

/// The studio a `Cookie: session_cookie=…` header opens, if any.
pub(super) fn studio_key(headers: &HeaderMap) -> Result<&'static str, Response> {
    let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    for pair in cookies.flat_map(|line| line.split(';')) {
        match pair.trim().strip_prefix("session_cookie=") {
            Some("sandbox") => return Ok("sandbox"),
            Some("sandbox-other") => return Ok("sandbox-other"),
            _ => {}
        }
    }
    Err(unauthenticated())
}

pub(super) fn with_studio<T>(
    state: &SandboxState,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Studio) -> Result<T, Response>,
) -> Result<T, Response> {
    let key = studio_key(headers)?;
    let mut studios = locked(&state.studios);
    let studio = studios.get_mut(key).ok_or_else(unauthenticated)?;
    f(studio)
}

pub(super) fn json_body(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("invalid_json", "The request body must be a JSON object.".into())),
        Err(e) => Err(bad_request("invalid_json", format!("The request body is not valid JSON: {e}"))),
    }
}

pub(super) fn positive(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, Response> {
    match params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Invalid::one(name, &format!("The {name} must be an integer between 1 and {max}."))),
        },
    }
}

pub(super) struct Paging {
    pub(super) page: usize,
    pub(super) per_page: usize,
}

impl Paging {
    /// `cap`, when set, is a smaller page than asked for, answered without complaint.
    pub(super) fn from(
        params: &HashMap<String, String>,
        per_page_name: &str,
        cap: Option<usize>,
    ) -> Result<Self, Response> {
        let asked = positive(params, per_page_name, DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
        Ok(Self { page: positive(params, "page", 1, usize::MAX)?, per_page: cap.map_or(asked, |cap| asked.min(cap)) })
    }

    /// `data` and `meta` as Pixieset pages them; `links` too with `extras`, since the
    /// overview names it but no example shows what it holds.
    pub(super) fn answer(&self, items: Vec<Value>, headers: &HeaderMap, path: &str, extras: bool) -> Value {
        let total = items.len();
        let last_page = total.div_ceil(self.per_page).max(1);
        let start = (self.page - 1).saturating_mul(self.per_page).min(total);
        let data: Vec<Value> = items.into_iter().skip(start).take(self.per_page).collect();
        let (from, to) =
            if data.is_empty() { (Value::Null, Value::Null) } else { (json!(start + 1), json!(start + data.len())) };
        let mut body = json!({
            "data": data,
            "meta": {
                "current_page": self.page,
                "from": from,
                "last_page": last_page,
                "per_page": self.per_page,
                "to": to,
                "total": total,
            },
        });
        if extras {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let link = |page: usize| json!(format!("http://{host}{path}?page={page}"));
            body["links"] = json!({
                "first": link(1),
                "last": link(last_page),
                "prev": if self.page > 1 { link(self.page - 1) } else { Value::Null },
                "next": if self.page < last_page { link(self.page + 1) } else { Value::Null },
            });
        }
        body
    }
}

pub(super) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

pub(super) fn opt_string(body: &Map<String, Value>, field: &str, invalid: &mut Invalid) -> Option<Option<String>> {
    match body.get(field)? {
        Value::Null => Some(None),
        Value::String(s) if s.len() <= 255 => Some(Some(s.clone())),
        Value::String(_) => {
            invalid.add(field, format!("The {field} may not be greater than 255 characters."));
            None
        }
        _ => {
            invalid.add(field, format!("The {field} must be a string."));
            None
        }
    }
}
