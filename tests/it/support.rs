//! Shared test plumbing: a sandbox on a free port, and requests to it.

use std::time::Duration;

use pixgate_sandbox::{self as sandbox, ProcessingSettings, Sandbox, SandboxSettings};
use serde_json::Value;

pub const CLIENT_ID: &str = sandbox::documented::CLIENT_ID;

/// A sandbox whose clock steps every few milliseconds.
pub async fn sandbox() -> Sandbox {
    sandbox_with_step(5).await
}

pub async fn sandbox_with_step(step_ms: u64) -> Sandbox {
    capture_logs();
    let settings = SandboxSettings {
        processing: ProcessingSettings { step_ms, ..ProcessingSettings::default() },
        ..SandboxSettings::default()
    };
    Sandbox::start(([127, 0, 0, 1], 0).into(), settings).await.expect("sandbox starts")
}

/// With `PIXGATE_TEST_LOG=<file>`, the whole run logs to that file, pixgate at TRACE
/// and the HTTP stack below it too, so `.ci/run` can show no credential reached a line.
pub fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(path) = std::env::var_os("PIXGATE_TEST_LOG") else { return };
        let file = std::fs::File::create(path).expect("the test log file can be created");
        // The wire-level libraries asked at TRACE too: `log_filter` must hold them back.
        let filter = "pixgate=trace,tower_http=trace,reqwest=trace,hyper=trace,hyper_util=trace,tungstenite=trace,\
                      tokio_tungstenite=trace,async_graphql=trace,redis=debug,info";
        let logs = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .finish();
        let _ = tracing_subscriber::util::SubscriberInitExt::try_init(tracing_subscriber::layer::SubscriberExt::with(
            logs,
            pixgate::telemetry::wire_cap(),
        ));
    });
}

thread_local! {
    // One per test: each test runs on its own thread and runtime, and a pooled
    // connection must not outlive the runtime that opened it.
    static HTTP: reqwest::Client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
}

pub fn http() -> reqwest::Client {
    HTTP.with(Clone::clone)
}

/// A Pixieset request as the documents make it: the session cookie and the XHR headers.
pub fn pixieset(sandbox: &Sandbox, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http()
        .request(method, format!("{}{path}", sandbox.pixieset_base_url()))
        .header("Cookie", sandbox::PIXIESET_COOKIE)
        .header("X-Requested-With", "XMLHttpRequest")
        .header("Content-Type", "application/json")
}

pub async fn pixieset_get(sandbox: &Sandbox, path: &str) -> (u16, Value) {
    answer(pixieset(sandbox, reqwest::Method::GET, path)).await
}

pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the sandbox answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A Pixelz GET with the sandbox contact's credentials in the query string.
pub async fn pixelz_get(sandbox: &Sandbox, path: &str, params: &[(&str, &str)]) -> Value {
    let mut query = vec![("contactEmail", sandbox::PIXELZ_CONTACT_EMAIL), ("contactAPIkey", sandbox::PIXELZ_API_KEY)];
    query.extend_from_slice(params);
    let request = http().get(format!("{}{path}", sandbox.pixelz_base_url()));
    let request = request.header("Content-Type", "application/json; charset=UTF-8").query(&query);
    let (status, body) = answer(request).await;
    assert_eq!(status, 200, "Pixelz answers 200 even for its failures: {body}");
    body
}

/// A Pixelz write: the credentials join the JSON body.
pub async fn pixelz_send(sandbox: &Sandbox, method: reqwest::Method, path: &str, mut body: Value) -> Value {
    body["contactEmail"] = sandbox::PIXELZ_CONTACT_EMAIL.into();
    body["contactAPIkey"] = sandbox::PIXELZ_API_KEY.into();
    let request = http()
        .request(method, format!("{}{path}", sandbox.pixelz_base_url()))
        .header("Content-Type", "application/json; charset=UTF-8")
        .json(&body);
    let (status, body) = answer(request).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls `check` until it holds or the time runs out.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
