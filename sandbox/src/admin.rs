//! `/__sandbox/…`: what tests and operators use to steer and observe the sandbox.
//! Never counted, never faulted.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::SandboxState;
use super::faults::{Faults, RequestLog};
use super::processing::ProcessingSettings;
use crate::{locked, read, write};

pub fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/", get(index))
        .route("/__sandbox/faults", get(get_faults).put(put_faults).delete(clear_faults))
        .route("/__sandbox/requests", get(get_requests).delete(clear_requests))
        .route("/__sandbox/webhooks", get(get_webhooks).delete(clear_webhooks))
        .route("/__sandbox/processing", get(get_processing).put(put_processing))
}

async fn index(State(state): State<Arc<SandboxState>>) -> Response {
    axum::Json(json!({
        "sandbox": "pixgate's simulator of Pixieset Studio and Pixelz",
        "pixieset_base_url": format!("{}/api/v1", state.base_url),
        "pixelz_base_url": format!("{}/REST.svc/JSON", state.base_url),
        "admin": ["/__sandbox/faults", "/__sandbox/requests", "/__sandbox/webhooks", "/__sandbox/processing"],
    }))
    .into_response()
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.to_string() }))).into_response())
}

async fn get_faults(State(state): State<Arc<SandboxState>>) -> Response {
    axum::Json(read(&state.faults).clone()).into_response()
}

async fn put_faults(State(state): State<Arc<SandboxState>>, body: Bytes) -> Result<Response, Response> {
    let faults: Faults = parse(&body)?;
    faults.validate().map_err(|e| (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e }))).into_response())?;
    *write(&state.faults) = faults.clone();
    Ok(axum::Json(faults).into_response())
}

async fn clear_faults(State(state): State<Arc<SandboxState>>) -> StatusCode {
    *write(&state.faults) = Faults::default();
    StatusCode::NO_CONTENT
}

async fn get_requests(State(state): State<Arc<SandboxState>>) -> Response {
    axum::Json(locked(&state.requests).clone()).into_response()
}

async fn clear_requests(State(state): State<Arc<SandboxState>>) -> StatusCode {
    *locked(&state.requests) = RequestLog::default();
    StatusCode::NO_CONTENT
}

async fn get_webhooks(State(state): State<Arc<SandboxState>>) -> Response {
    axum::Json(locked(&state.webhooks).clone()).into_response()
}

async fn clear_webhooks(State(state): State<Arc<SandboxState>>) -> StatusCode {
    locked(&state.webhooks).clear();
    StatusCode::NO_CONTENT
}

async fn get_processing(State(state): State<Arc<SandboxState>>) -> Response {
    axum::Json(read(&state.processing).clone()).into_response()
}

async fn put_processing(State(state): State<Arc<SandboxState>>, body: Bytes) -> Result<Response, Response> {
    let settings: ProcessingSettings = parse(&body)?;
    *write(&state.processing) = settings.clone();
    Ok(axum::Json(settings).into_response())
}
