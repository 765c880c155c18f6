//! Who may call and how often: rate limits per client IP and per tenant, CORS,
//! and the request id that follows a request upstream.

use futures_util::SinkExt;
use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox as sandbox;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};

use crate::gateway::gateway;
use crate::live::next_json;
use crate::support::*;

const ACCOUNT: &str = "{ pixelzAccount { email } }";

async fn send(gateway: &Running, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = http().post(format!("http://{}/graphql", gateway.addr())).json(&json!({ "query": ACCOUNT }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn assert_rate_limited(response: reqwest::Response) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "whole seconds, rounded up: {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], retry_after);
}

#[tokio::test]
async fn one_client_ip_gets_its_burst_then_waits() {
    let gateway = gateway(ServeArgs {
        rate_limit_ip: Some(1),
        rate_limit_ip_burst: Some(3),
        rate_limit_tenant: Some(0),
        ..ServeArgs::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(send(&gateway, &[]).await.status(), 200);
    }
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    assert_rate_limited(send(&gateway, &[]).await).await;
    // Other credentials come from the same address: still refused.
    let other = [("X-Pixelz-Email", "someone@else.test"), ("X-Pixelz-Api-Key", "other-key")];
    assert_eq!(send(&gateway, &other).await.status(), 429);
    assert_eq!(sandbox.requests().total, 0, "refused before any upstream call");
    let health = http().get(format!("http://{}/healthz", gateway.addr())).send().await.unwrap();
    assert_eq!(health.status(), 200, "health checks are never limited");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let limited = |trusted_proxies: Option<Vec<String>>| ServeArgs {
        rate_limit_ip: Some(1),
        rate_limit_ip_burst: Some(1),
        rate_limit_tenant: Some(0),
        trusted_proxies,
        ..ServeArgs::default()
    };
    let proxied = gateway(limited(Some(vec!["127.0.0.1".into()]))).await;
    assert_eq!(send(&proxied, &[("X-Forwarded-For", "203.0.113.7")]).await.status(), 200);
    assert_rate_limited(send(&proxied, &[("X-Forwarded-For", "203.0.113.7")]).await).await;
    assert_eq!(send(&proxied, &[("X-Forwarded-For", "203.0.113.8")]).await.status(), 200, "another client");
    // Over a WebSocket too: the upgrade takes a forwarded client's one token, so an
    // operation on that socket is refused (the proxy's own bucket was never drawn on).
    let upgrade = || {
        let mut request = format!("ws://{}/graphql/ws", proxied.addr()).into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        request.headers_mut().insert("X-Forwarded-For", "203.0.113.9".parse().unwrap());
        request
    };
    let (mut socket, _) = tokio_tungstenite::connect_async(upgrade()).await.unwrap();
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": ACCOUNT } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    let refusal = next_json(&mut socket).await;
    assert_eq!(refusal["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{refusal}");
    let refused = tokio_tungstenite::connect_async(upgrade()).await.unwrap_err();
    assert!(matches!(&refused, Error::Http(response) if response.status() == 429), "{refused}");

    // Without trusted proxies the header is the client's say-so: one peer, one bucket.
    let direct = gateway(limited(None)).await;
    assert_eq!(send(&direct, &[("X-Forwarded-For", "203.0.113.7")]).await.status(), 200);
    assert_rate_limited(send(&direct, &[("X-Forwarded-For", "203.0.113.8")]).await).await;
}

#[tokio::test]
async fn one_tenant_gets_its_burst_and_others_are_not_held_back() {
    let gateway = gateway(ServeArgs {
        rate_limit_ip: Some(0),
        rate_limit_tenant: Some(1),
        rate_limit_tenant_burst: Some(2),
        ..ServeArgs::default()
    })
    .await;
    let studio = [("X-Pixelz-Email", sandbox::PIXELZ_CONTACT_EMAIL), ("X-Pixelz-Api-Key", sandbox::PIXELZ_API_KEY)];
    for _ in 0..2 {
        assert_eq!(send(&gateway, &studio).await.status(), 200);
    }
    assert_rate_limited(send(&gateway, &studio).await).await;
    let another = [("X-Pixelz-Email", "another@studio.test"), ("X-Pixelz-Api-Key", "another-key")];
    assert_eq!(send(&gateway, &another).await.status(), 200, "another tenant has its own bucket");
}

#[tokio::test]
async fn browsers_may_call_only_from_allowed_origins() {
    let gateway =
        gateway(ServeArgs { cors_origins: Some(vec!["https://app.example.com".into()]), ..ServeArgs::default() }).await;
    let preflight = |origin: &'static str| {
        http()
            .request(reqwest::Method::OPTIONS, format!("http://{}/graphql", gateway.addr()))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type, x-pixelz-api-key")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example.com");
    let headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(headers.contains("x-pixelz-api-key") && headers.contains("content-type"), "{headers}");
    let foreign = preflight("https://evil.example.net").await.unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());

    let answer = send(&gateway, &[("Origin", "https://app.example.com")]).await;
    assert_eq!(answer.headers()["access-control-allow-origin"], "https://app.example.com");
    let exposed = answer.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");

    let closed = crate::gateway::gateway(ServeArgs::default()).await;
    let answer = send(&closed, &[("Origin", "https://app.example.com")]).await;
    assert!(answer.headers().get("access-control-allow-origin").is_none(), "no origin is allowed by default");
}

#[tokio::test]
async fn the_request_id_reaches_every_upstream_call_of_the_request() {
    // No cache: every request goes upstream.
    let gateway = gateway(ServeArgs { cache_mb: Some(0), ..ServeArgs::default() }).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    // Both APIs, a list, and by-id lookups that a DataLoader batches on a task of its own.
    let query = "{ pixelzAccount { email } invoices(first: 3) { edges { node { client { email phone } } } } }";
    let response = http()
        .post(format!("http://{}/graphql", gateway.addr()))
        .header("x-request-id", "trace-me-42")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
    let log = sandbox.requests();
    assert!(log.total >= 3, "{log:?}");
    assert!(log.count("GET /api/v1/clients/{client_id}") >= 1, "a batched lookup ran: {log:?}");
    for call in &log.recent {
        assert_eq!(call.request_id.as_deref(), Some("trace-me-42"), "{call:?}");
    }

    sandbox.reset_requests();
    let response = send(&gateway, &[("x-request-id", "bad id with spaces")]).await;
    let made = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(made, "bad id with spaces");
    assert_eq!(sandbox.requests().recent[0].request_id.as_deref(), Some(made.as_str()), "a new id, sent upstream");
}
