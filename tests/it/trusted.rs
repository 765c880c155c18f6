//! Trusted documents: with a manifest, only its operations run, named by
//! `documentId` or Apollo's hash, or sent as their exact text; anything else is
//! refused before parsing and costs no upstream call. An access token opens the rest.

use std::path::PathBuf;
use std::time::Duration;

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::documented;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::gateway::gateway;
use crate::live::{next_json, websocket};
use crate::support::*;

const CLIENT: &str = "query Client($id: ID!) { client(id: $id) { email } }";
const CONTRACTS: &str = "query Contracts { contracts(first: 45) { edges { node { client { email } } } } }";
const UNLISTED: &str = "{ clients(first: 5) { nodes { email } } }";

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// A manifest as GraphQL Code Generator's client preset writes it, in a file of its own.
fn manifest(documents: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pixgate-trusted-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("persisted-documents.json");
    let map: serde_json::Map<String, Value> = documents.iter().map(|d| (sha256(d), Value::from(*d))).collect();
    std::fs::write(&path, Value::Object(map).to_string()).unwrap();
    path
}

async fn trusted_gateway(documents: &[&str], tokens: Option<Vec<String>>) -> Running {
    let path = manifest(documents);
    gateway(ServeArgs {
        trusted_documents: Some(path.display().to_string()),
        access_tokens: tokens,
        ..ServeArgs::default()
    })
    .await
}

async fn post(gateway: &Running, body: Value, headers: &[(&str, &str)]) -> Value {
    let mut request = http().post(format!("http://{}/graphql", gateway.addr())).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, body) = answer(request).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn only_the_manifests_operations_run_and_the_rest_cost_nothing() {
    let gateway = trusted_gateway(&[CLIENT, CONTRACTS], None).await;
    let sandbox = gateway.sandbox().unwrap();
    let variables = json!({ "id": documented::CLIENT_ID });

    // By `documentId`, as the client preset sends it; by Apollo's hash; as its exact text.
    let by_id = post(&gateway, json!({ "documentId": sha256(CLIENT), "variables": variables }), &[]).await;
    assert_eq!(by_id["data"]["client"]["email"], "client@example.com", "{by_id}");
    let apollo = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(CLIENT) } });
    let by_hash = post(&gateway, json!({ "variables": variables, "extensions": apollo }), &[]).await;
    assert_eq!(by_hash["data"], by_id["data"]);
    let by_text = post(&gateway, json!({ "query": CLIENT, "variables": variables }), &[]).await;
    assert_eq!(by_text["data"], by_id["data"]);
    let url = format!("http://{}/graphql?documentId={}&variables={}", gateway.addr(), sha256(CLIENT), variables);
    let (status, by_get) = answer(http().get(url)).await;
    assert_eq!((status, &by_get["data"]), (200, &by_id["data"]));

    // Anything else: refused with a code, nothing parsed, nothing asked upstream.
    sandbox.reset_requests();
    let unlisted = post(&gateway, json!({ "query": UNLISTED }), &[]).await;
    assert_eq!(code(&unlisted), "PERSISTED_QUERY_NOT_IN_LIST", "{unlisted}");
    assert!(unlisted.get("data").is_none(), "refused before execution: {unlisted}");
    let malformed = post(&gateway, json!({ "query": "{ clients(" }), &[]).await;
    assert_eq!(code(&malformed), "PERSISTED_QUERY_NOT_IN_LIST", "refused before parsing: {malformed}");
    let unknown = post(&gateway, json!({ "documentId": sha256(UNLISTED) }), &[]).await;
    assert_eq!(code(&unknown), "PERSISTED_QUERY_NOT_FOUND");
    let mismatch = post(&gateway, json!({ "documentId": sha256(CLIENT), "query": UNLISTED }), &[]).await;
    assert_eq!(code(&mismatch), "PERSISTED_QUERY_HASH_MISMATCH");
    let registering = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(UNLISTED) } });
    let apq = post(&gateway, json!({ "query": UNLISTED, "extensions": registering }), &[]).await;
    assert_eq!(code(&apq), "PERSISTED_QUERY_NOT_FOUND", "no registering beside the manifest: {apq}");
    let batch = post(&gateway, json!([{ "query": UNLISTED }, { "documentId": sha256(CONTRACTS) }]), &[]).await;
    assert_eq!(code(&batch[0]), "PERSISTED_QUERY_NOT_IN_LIST");
    assert_eq!(sandbox.requests().total, 1, "only the trusted half of the batch went upstream: {batch}");

    // The same over SSE and a WebSocket.
    let sse = http()
        .post(format!("http://{}/graphql/sse", gateway.addr()))
        .header("Accept", "text/event-stream")
        .json(&json!({ "query": UNLISTED }))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 400);
    let sse: Value = sse.json().await.unwrap();
    assert_eq!(code(&sse), "PERSISTED_QUERY_NOT_IN_LIST");
    let mut socket = websocket(&gateway, "graphql-transport-ws").await;
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": UNLISTED } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    let refused = next_json(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_IN_LIST");
    assert_eq!(sandbox.requests().total, 1);

    // GraphiQL would run what its user writes, which no one here may.
    let page = http().get(format!("http://{}/graphql", gateway.addr())).header("Accept", "text/html").send().await;
    assert_eq!(page.unwrap().status(), 404);
}

/// `sha256:<hex>`, the persisted-documents convention of the GraphQL-over-HTTP work and of
/// several codegen presets, names the same document as the bare hash, on every transport.
#[tokio::test]
async fn a_document_id_may_be_written_sha256_prefixed_on_every_transport() {
    let gateway = trusted_gateway(&[CLIENT], None).await;
    let variables = json!({ "id": documented::CLIENT_ID });
    let id = format!("sha256:{}", sha256(CLIENT));
    let expected = json!({ "client": { "email": "client@example.com" } });

    let by_post = post(&gateway, json!({ "documentId": id, "variables": variables }), &[]).await;
    assert_eq!(by_post["data"], expected, "{by_post}");
    let upper = format!("SHA256:{}", sha256(CLIENT).to_ascii_uppercase());
    let by_upper = post(&gateway, json!({ "documentId": upper, "variables": variables }), &[]).await;
    assert_eq!(by_upper["data"], expected, "{by_upper}");

    let url = format!("http://{}/graphql", gateway.addr());
    let query = [("documentId", id.clone()), ("variables", variables.to_string())];
    let (status, by_get) = answer(http().get(&url).query(&query)).await;
    assert_eq!((status, &by_get["data"]), (200, &expected), "{by_get}");

    let sse = http()
        .post(format!("http://{}/graphql/sse", gateway.addr()))
        .header("Accept", "text/event-stream")
        .json(&json!({ "documentId": id, "variables": variables }))
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(10), sse.text()).await.unwrap().unwrap();
    let event = text
        .lines()
        .find_map(|line| line.strip_prefix("data:").map(str::trim).filter(|data| data.contains("client")))
        .unwrap_or_else(|| panic!("a next event: {text}"));
    assert_eq!(serde_json::from_str::<Value>(event).unwrap()["data"], expected, "{event}");

    let mut socket = websocket(&gateway, "graphql-transport-ws").await;
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "documentId": id, "variables": variables } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    let next = next_json(&mut socket).await;
    assert_eq!((&next["type"], &next["payload"]["data"]), (&json!("next"), &expected), "{next}");
}

#[tokio::test]
async fn without_a_manifest_a_document_id_names_nothing() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let unnamed = post(&gateway, json!({ "documentId": sha256(CLIENT) }), &[]).await;
    assert_eq!(code(&unnamed), "PERSISTED_QUERY_NOT_FOUND", "{unnamed}");
    assert_eq!(sandbox.requests().total, 0);
    let free = post(&gateway, json!({ "query": UNLISTED }), &[]).await;
    assert!(free["data"]["clients"].is_object(), "any text runs: {free}");
}

#[tokio::test]
async fn an_access_token_runs_any_operation() {
    let gateway = trusted_gateway(&[CLIENT], Some(vec!["support-token".into()])).await;
    let refused = post(&gateway, json!({ "query": UNLISTED }), &[("Authorization", "Bearer wrong")]).await;
    assert_eq!(code(&refused), "PERSISTED_QUERY_NOT_IN_LIST");
    let answered = post(&gateway, json!({ "query": UNLISTED }), &[("Authorization", "Bearer support-token")]).await;
    assert!(answered["data"]["clients"]["nodes"].as_array().is_some_and(|n| !n.is_empty()), "{answered}");
    let page = http().get(format!("http://{}/graphql", gateway.addr())).header("Accept", "text/html").send().await;
    let page = page.unwrap().text().await.unwrap();
    assert!(page.contains("Authorization"), "GraphiQL, with a place for the token");
}

/// A repeat is answered from the bytes it was sent as (`server::kept`): what a token
/// holder ran is not thereby open to a caller without one, however alike the two are.
#[tokio::test]
async fn what_an_access_token_ran_is_not_served_again_to_a_caller_without_one() {
    let gateway = trusted_gateway(&[CLIENT], Some(vec!["support-token".into()])).await;
    // The same credentials, sent by both: only the token tells them apart.
    let credentials = [
        ("X-Pixieset-Cookie", pixgate_sandbox::PIXIESET_COOKIE),
        ("X-Pixelz-Email", pixgate_sandbox::PIXELZ_CONTACT_EMAIL),
        ("X-Pixelz-Api-Key", pixgate_sandbox::PIXELZ_API_KEY),
    ];
    let with_token = [credentials.as_slice(), &[("Authorization", "Bearer support-token")]].concat();
    let body = json!({ "query": UNLISTED });
    let first = post(&gateway, body.clone(), &with_token).await;
    assert!(first["data"]["clients"]["nodes"].as_array().is_some_and(|n| !n.is_empty()), "{first}");
    assert_eq!(post(&gateway, body.clone(), &with_token).await, first, "kept for the token holder");
    for _ in 0..2 {
        let refused = post(&gateway, body.clone(), &credentials).await;
        assert_eq!(code(&refused), "PERSISTED_QUERY_NOT_IN_LIST", "{refused}");
    }
}

#[tokio::test]
async fn sighup_reads_the_manifest_again_and_keeps_it_when_the_new_one_is_broken() {
    let path = manifest(&[CLIENT]);
    let mut child = crate::cli::pixgate(&["--listen", "127.0.0.1:0"])
        .env("PIXGATE_TRUSTED_DOCUMENTS", &path)
        .env("PIXGATE_SANDBOX_STEP_MS", "5")
        .spawn()
        .unwrap();
    let base = crate::cli::listening(&mut child).await;
    let base = base.as_str();
    let ask = |document: &str| {
        let body = json!({ "documentId": sha256(document), "variables": { "id": documented::CLIENT_ID } });
        answer(http().post(format!("{base}/graphql")).json(&body))
    };
    assert_eq!(code(&ask(CONTRACTS).await.1), "PERSISTED_QUERY_NOT_FOUND");
    // A socket open across the reloads stays open.
    let mut request = format!("{}/graphql/ws", base.replace("http", "ws")).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");

    let hangup = |child: &tokio::process::Child| {
        let pid = child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    };
    std::fs::write(&path, json!({ sha256(CLIENT): CLIENT, sha256(CONTRACTS): CONTRACTS }).to_string()).unwrap();
    hangup(&child);
    eventually("the new manifest is in force", || async { ask(CONTRACTS).await.1["data"]["contracts"].is_object() })
        .await;

    std::fs::write(&path, "not a manifest").unwrap();
    hangup(&child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ask(CONTRACTS).await.1["data"]["contracts"].is_object(), "a broken manifest leaves the last good one");

    // Asked alike again and again, an answer is served as sent (`server::kept`), until
    // the manifest that admitted it is gone.
    std::fs::write(&path, json!({ sha256(CLIENT): CLIENT }).to_string()).unwrap();
    hangup(&child);
    eventually("the document is out of the manifest", || async {
        code(&ask(CONTRACTS).await.1) == "PERSISTED_QUERY_NOT_FOUND"
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP does not stop the gateway");
    socket.send(Message::Text(json!({ "type": "ping" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "pong", "the socket lived through both reloads");
    crate::cli::terminate(&mut child).await;
}
