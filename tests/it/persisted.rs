//! Automatic persisted queries: miss, register, hit, over GET, and shared through Redis.

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::gateway::gateway;
use crate::instances::{REDIS, redis_available};
use crate::support::*;

const QUERY: &str = "query Account { pixelzAccount { email } }";

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(gateway: &Running, body: Value) -> Value {
    let (status, body) = answer(http().post(format!("http://{}/graphql", gateway.addr())).json(&body)).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn get(gateway: &Running, params: &[(&str, String)]) -> reqwest::Response {
    http().get(format!("http://{}/graphql", gateway.addr())).query(params).send().await.unwrap()
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_query_is_registered_once_then_sent_by_its_hash_over_post_and_get() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    let hash = sha256(QUERY);

    sandbox.reset_requests();
    let miss = post(&gateway, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(code(&miss), "PERSISTED_QUERY_NOT_FOUND", "{miss}");
    assert_eq!(miss["errors"][0]["message"], "PersistedQueryNotFound", "what Apollo clients look for");
    assert_eq!(sandbox.requests().total, 0);

    let wrong = post(&gateway, json!({ "query": QUERY, "extensions": persisted(&sha256("something else")) })).await;
    assert_eq!(code(&wrong), "PERSISTED_QUERY_HASH_MISMATCH", "{wrong}");
    let unknown_version =
        post(&gateway, json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } })).await;
    assert_eq!(code(&unknown_version), "PERSISTED_QUERY_NOT_SUPPORTED");

    let registered = post(&gateway, json!({ "query": QUERY, "extensions": persisted(&hash) })).await;
    assert_eq!(registered["data"]["pixelzAccount"]["email"], pixgate_sandbox::PIXELZ_CONTACT_EMAIL, "{registered}");
    let hit = post(&gateway, json!({ "extensions": persisted(&hash), "operationName": "Account" })).await;
    assert_eq!(hit["data"], registered["data"]);

    let over_get =
        get(&gateway, &[("operationName", "Account".into()), ("extensions", persisted(&hash).to_string())]).await;
    assert_eq!(over_get.status(), 200);
    assert_eq!(over_get.headers()["cache-control"], "public, max-age=10", "anyone's answer: a CDN may keep it");
    assert!(over_get.headers()["vary"].to_str().unwrap().contains("X-Pixelz-Api-Key"));
    let body: Value = over_get.json().await.unwrap();
    assert_eq!(body["data"], registered["data"]);

    let with_credentials = http()
        .get(format!("http://{}/graphql", gateway.addr()))
        .query(&[("extensions", persisted(&hash).to_string())])
        .header("X-Pixelz-Email", pixgate_sandbox::PIXELZ_CONTACT_EMAIL)
        .header("X-Pixelz-Api-Key", pixgate_sandbox::PIXELZ_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(with_credentials.headers()["cache-control"], "private, no-store");

    let miss_over_get = get(&gateway, &[("extensions", persisted(&sha256("{ __typename }")).to_string())]).await;
    let body: Value = miss_over_get.json().await.unwrap();
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
}

#[tokio::test]
async fn a_persisted_mutation_is_not_run_over_get() {
    let gateway = gateway(ServeArgs::default()).await;
    let mutation = "mutation { createPixelzContact(input: { email: \"apq@example.com\", name: \"APQ\", countryCode: \"US\" }) { userErrors { code } } }";
    let hash = sha256(mutation);
    post(&gateway, json!({ "query": mutation, "extensions": persisted(&hash) })).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let refused = get(&gateway, &[("extensions", persisted(&hash).to_string())]).await;
    assert_eq!(refused.status(), 405);
    assert_eq!(sandbox.requests().total, 0);
}

#[tokio::test]
async fn instances_share_persisted_queries_through_redis() {
    if !redis_available().await {
        return;
    }
    let with_redis = || gateway(ServeArgs { redis_url: Some(REDIS.into()), ..ServeArgs::default() });
    let (a, b) = (with_redis().await, with_redis().await);
    // A query no earlier run registered: Redis outlives test runs.
    let query = format!("query Shared{} {{ pixelzAccount {{ email }} }}", uuid::Uuid::new_v4().simple());
    let hash = sha256(&query);
    let body = post(&a, json!({ "query": query, "extensions": persisted(&hash) })).await;
    assert!(body["errors"].is_null(), "{body}");
    eventually("instance B finds the query A registered", || async {
        // Gently: a tight loop would meet the rate limit first.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // Each instance connects to Redis in the background: until A has, what it registers
        // stays in its own memory, so A registers again, as a client's retry would.
        post(&a, json!({ "query": query, "extensions": persisted(&hash) })).await;
        post(&b, json!({ "extensions": persisted(&hash) })).await["data"]["pixelzAccount"]["email"].is_string()
    })
    .await;
}
