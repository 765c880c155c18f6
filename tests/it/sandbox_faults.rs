//! Fault injection and the request counter.

use std::time::{Duration, Instant};

use pixgate_sandbox::{FaultTarget, Faults};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn requests_are_counted_per_endpoint() {
    let sandbox = sandbox().await;
    pixieset_get(&sandbox, "/clients/").await;
    pixieset_get(&sandbox, "/clients").await;
    pixieset_get(&sandbox, &format!("/clients/{CLIENT_ID}")).await;
    pixelz_get(&sandbox, "/Images/", &[]).await;
    let log = sandbox.requests();
    assert_eq!(log.count("GET /api/v1/clients"), 2, "{:?}", log.by_endpoint);
    assert_eq!(log.count("GET /api/v1/clients/{client_id}"), 1);
    assert_eq!(log.count("GET /REST.svc/JSON/Images"), 1);
    assert_eq!(log.total, 4);

    // The admin routes report the same and are not counted themselves.
    let (status, body) = answer(http().get(format!("{}/__sandbox/requests", sandbox.base_url()))).await;
    assert_eq!(status, 200);
    assert_eq!(body["by_endpoint"]["GET /api/v1/clients"], 2);
    assert_eq!(body["total"], 4);
    let (status, _) = answer(http().delete(format!("{}/__sandbox/requests", sandbox.base_url()))).await;
    assert_eq!(status, 204);
    assert_eq!(sandbox.requests().total, 0);
}

#[tokio::test]
async fn the_request_log_keeps_request_ids() {
    let sandbox = sandbox().await;
    let request = pixieset(&sandbox, reqwest::Method::GET, "/clients/").header("x-request-id", "req-42");
    answer(request).await;
    let log = sandbox.requests();
    let entry = log.recent.back().unwrap();
    assert_eq!((entry.request_id.as_deref(), entry.status), (Some("req-42"), 200));
}

async fn put_faults(sandbox: &pixgate_sandbox::Sandbox, faults: Value) -> u16 {
    answer(http().put(format!("{}/__sandbox/faults", sandbox.base_url())).json(&faults)).await.0
}

#[tokio::test]
async fn error_rate_and_status_are_set_at_run_time() {
    let sandbox = sandbox().await;
    assert_eq!(put_faults(&sandbox, json!({ "error_rate": 1.0, "error_status": 502 })).await, 200);
    assert_eq!(pixieset_get(&sandbox, "/clients/").await.0, 502);
    assert_eq!(put_faults(&sandbox, json!({ "error_rate": 0.3, "error_status": 500 })).await, 200);
    let mut failures = 0;
    for _ in 0..200 {
        if pixieset_get(&sandbox, "/templates/contracts").await.0 == 500 {
            failures += 1;
        }
    }
    assert!((30..=90).contains(&failures), "about 30% of 200 fail: {failures}");
    let (status, _) = answer(http().delete(format!("{}/__sandbox/faults", sandbox.base_url()))).await;
    assert_eq!(status, 204);
    assert_eq!(pixieset_get(&sandbox, "/clients/").await.0, 200);
    // Failed requests are counted like any other.
    assert_eq!(sandbox.requests().count("GET /api/v1/templates/contracts"), 200);
}

#[tokio::test]
async fn rate_limiting_sends_retry_after() {
    let sandbox = sandbox().await;
    sandbox.set_faults(Faults { error_rate: 1.0, error_status: 429, retry_after_secs: 7, ..Faults::default() });
    let response = pixieset(&sandbox, reqwest::Method::GET, "/clients/").send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
}

#[tokio::test]
async fn latency_is_added() {
    let sandbox = sandbox().await;
    sandbox.set_faults(Faults { latency_ms: 60, ..Faults::default() });
    let started = Instant::now();
    assert_eq!(pixieset_get(&sandbox, "/templates/contracts").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn malformed_bodies_are_cut_json() {
    let sandbox = sandbox().await;
    sandbox.set_faults(Faults { malformed_rate: 1.0, ..Faults::default() });
    let response = pixieset(&sandbox, reqwest::Method::GET, "/clients/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"data\""), "{}", &text[..20]);
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn faults_can_target_one_api() {
    let sandbox = sandbox().await;
    sandbox.set_faults(Faults { error_rate: 1.0, target: FaultTarget::Pixieset, ..Faults::default() });
    assert_eq!(pixieset_get(&sandbox, "/clients/").await.0, 503);
    assert_eq!(pixelz_get(&sandbox, "/Contact/", &[]).await["ErrorCode"], "NoError");
}

#[tokio::test]
async fn bad_fault_settings_are_refused() {
    let sandbox = sandbox().await;
    assert_eq!(put_faults(&sandbox, json!({ "error_rate": 2.0 })).await, 400);
    assert_eq!(put_faults(&sandbox, json!({ "error_status": 200, "error_rate": 0.5 })).await, 400);
    assert_eq!(put_faults(&sandbox, json!({ "latency": 5 })).await, 400, "unknown keys are refused");
    assert_eq!(pixieset_get(&sandbox, "/clients/").await.0, 200);
}
