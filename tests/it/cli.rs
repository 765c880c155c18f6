//! The binary as a user runs it: `listening on` lines, config errors, signals.

use std::process::Stdio;
use std::time::Duration;

use pixgate_sandbox as sandbox;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::*;

pub fn pixgate(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pixgate"));
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    for var in ["PIXIESET_BASE_URL", "PIXELZ_BASE_URL", "PIXGATE_LISTEN", "PIXGATE_CONFIG"] {
        command.env_remove(var);
    }
    command
}

/// Starts the binary and waits for its `listening on http://ADDR` line.
async fn spawn_listening(args: &[&str]) -> (Child, String, Lines<BufReader<ChildStdout>>) {
    let mut child = pixgate(args).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = listening_on(&mut lines).await;
    (child, addr, lines)
}

async fn listening_on(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
    line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string()
}

/// Where a started binary listens, once it says.
pub async fn listening(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = listening_on(&mut lines).await;
    // Read on, so the binary never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    addr
}

pub async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits promptly on SIGTERM").unwrap()
}

#[tokio::test]
async fn sandbox_command_serves_the_documented_examples_and_stops_on_sigterm() {
    let (mut child, base, _) = spawn_listening(&["sandbox", "--listen", "127.0.0.1:0", "--step-ms", "10"]).await;
    // The quick start's first call, host replaced.
    let (status, body) =
        answer(http().get(format!("{base}/api/v1/clients/")).header("Cookie", sandbox::PIXIESET_COOKIE)).await;
    assert_eq!(status, 200);
    assert_eq!(body["meta"]["total"], 513);
    let (_, contact) = answer(
        http()
            .get(format!("{base}/REST.svc/JSON/Contact/"))
            .query(&[("contactEmail", sandbox::PIXELZ_CONTACT_EMAIL), ("contactAPIkey", sandbox::PIXELZ_API_KEY)]),
    )
    .await;
    assert_eq!(contact["ErrorCode"], "NoError");
    assert!(terminate(&mut child).await.success());
}

#[tokio::test]
async fn serve_prints_where_it_listens_and_drains_on_sigterm() {
    let (mut child, base, mut lines) = spawn_listening(&["--listen", "127.0.0.1:0"]).await;
    let graphiql = lines.next_line().await.unwrap().unwrap();
    assert_eq!(graphiql, format!("GraphiQL: {base}/graphql"));
    let (status, body) = answer(
        http().post(format!("{base}/graphql")).json(&serde_json::json!({ "query": "{ pixelzAccount { email } }" })),
    )
    .await;
    assert_eq!((status, body["data"]["pixelzAccount"]["email"].as_str()), (200, Some(sandbox::PIXELZ_CONTACT_EMAIL)));
    assert!(terminate(&mut child).await.success());
}

#[tokio::test]
async fn a_bad_config_file_names_the_key() {
    let dir = std::env::temp_dir().join(format!("pixgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:0\"\npixelz_api_kee = \"x\"\n").unwrap();
    let output = pixgate(&["serve", "--config", path.to_str().unwrap()]).output().await.unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pixelz_api_kee"), "{stderr}");

    let output = pixgate(&["--listen", "everywhere"]).output().await.unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("PIXGATE_LISTEN"));
}

#[tokio::test]
async fn help_hides_secret_values() {
    let output = pixgate(&["--help"])
        .env("PIXELZ_API_KEY", "super-secret-key")
        .env("PIXIESET_COOKIE", "session_cookie=hush")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("PIXELZ_API_KEY") && help.contains("PIXGATE_ACCESS_TOKENS"), "{help}");
    assert!(!help.contains("super-secret-key") && !help.contains("hush"), "{help}");
}

#[tokio::test]
async fn schema_command_prints_the_committed_schema() {
    let output = pixgate(&["schema"]).output().await.unwrap();
    assert!(output.status.success());
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
}

#[tokio::test]
async fn a_closed_stdout_does_not_stop_the_server() {
    let mut child = pixgate(&["--listen", "127.0.0.1:0"]).spawn().unwrap();
    // Hang up before the server announces where it listens.
    drop(child.stdout.take());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(child.try_wait().unwrap().is_none(), "the server is still running");
    assert!(terminate(&mut child).await.success());
}

#[tokio::test]
async fn json_logs_name_the_request_and_nest_upstream_calls_in_the_operation() {
    let mut command = pixgate(&["--listen", "127.0.0.1:0", "--log-format", "json"]);
    command.env("RUST_LOG", "pixgate=debug,tower_http=debug");
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
    let addr = line.strip_prefix("listening on ").unwrap().to_string();
    let query = "{ pixelzAccount { email } invoices(first: 3) { edges { node { client { email phone } } } } }";
    let (status, body) = answer(
        http()
            .post(format!("{addr}/graphql"))
            .header("x-request-id", "json-logs-7")
            .json(&serde_json::json!({ "query": query })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(terminate(&mut child).await.success());
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).await.unwrap();

    let records: Vec<serde_json::Value> = stderr.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!records.is_empty() && records.len() == stderr.lines().count(), "every line is JSON:\n{stderr}");
    let span_names = |record: &serde_json::Value| -> Vec<String> {
        record["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(str::to_string))
            .collect()
    };
    let upstream_events: Vec<&serde_json::Value> =
        records.iter().filter(|r| span_names(r).last().is_some_and(|n| n == "upstream")).collect();
    assert!(upstream_events.len() >= 3, "the list, the account and a batched lookup:\n{stderr}");
    for event in &upstream_events {
        let names = span_names(event);
        let n = names.len();
        assert!(n >= 3 && names[n - 2] == "graphql" && names[n - 3] == "request", "{event}");
    }
    let of_the_request: Vec<&serde_json::Value> =
        records.iter().filter(|r| span_names(r).first().is_some_and(|n| n == "request")).collect();
    assert!(of_the_request.len() > upstream_events.len());
    for record in of_the_request {
        assert_eq!(record["spans"][0]["request_id"], "json-logs-7", "{record}");
    }
}

#[tokio::test]
async fn spans_are_exported_over_otlp_when_an_endpoint_is_configured() {
    // A collector that keeps what it is sent.
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let kept = received.clone();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                kept.lock().unwrap().push((kind, body.to_vec()));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let mut child = pixgate(&["--listen", "127.0.0.1:0", "--otlp-endpoint", &endpoint]).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
    let addr = line.strip_prefix("listening on ").unwrap().to_string();
    let query = "{ pixelzAccount { email } client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { email } }";
    let (status, _) = answer(http().post(format!("{addr}/graphql")).json(&serde_json::json!({ "query": query }))).await;
    assert_eq!(status, 200);
    // The last spans leave when the process stops.
    assert!(terminate(&mut child).await.success());

    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "the collector heard from pixgate");
    let all: Vec<u8> = received.iter().flat_map(|(_, body)| body.clone()).collect();
    assert!(received.iter().all(|(kind, _)| kind == "application/x-protobuf"), "OTLP/HTTP protobuf");
    let holds = |needle: &str| all.windows(needle.len()).any(|w| w == needle.as_bytes());
    for name in ["pixgate", "request", "graphql", "upstream", "/clients/{client_id}"] {
        assert!(holds(name), "the export holds {name:?}");
    }
    for secret in [sandbox::PIXELZ_API_KEY, sandbox::PIXIESET_COOKIE, sandbox::PIXELZ_APP_SECRET] {
        assert!(!holds(secret), "a credential was exported");
    }
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_closes_subscriptions() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    // A slow upstream keeps a query in flight while the signal arrives.
    let upstream = sandbox_with_step(600_000).await;
    let mut command = pixgate(&["--listen", "127.0.0.1:0"]);
    command.envs(upstream.gateway_env());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
    let base = line.strip_prefix("listening on ").unwrap().to_string();

    let submitted =
        "mutation { submitPixelzImage(input: { imageUrls: [\"https://images.example.com/stop.jpg\"] }) { ticket } }";
    let (_, body) =
        answer(http().post(format!("{base}/graphql")).json(&serde_json::json!({ "query": submitted }))).await;
    let ticket = body["data"]["submitPixelzImage"]["ticket"].as_str().unwrap().to_string();
    let mut request = format!("{}/graphql/ws", base.replace("http", "ws")).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(serde_json::json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    let query = format!("subscription {{ pixelzImageStatusChanged(tickets: [\"{ticket}\"]) {{ statusId }} }}");
    let subscribe = serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    for _ in 0..2 {
        socket.next().await.unwrap().unwrap(); // the ack, then the current state
    }

    upstream.set_faults(sandbox::Faults { latency_ms: 700, ..Default::default() });
    let slow = "{ clients(first: 1) { edges { node { id } } } }";
    let in_flight =
        tokio::spawn(answer(http().post(format!("{base}/graphql")).json(&serde_json::json!({ "query": slow }))));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = terminate(&mut child).await;

    let (code, body) = in_flight.await.unwrap();
    assert_eq!(code, 200, "the request in flight was finished: {body}");
    assert!(body["data"]["clients"]["edges"].is_array(), "{body}");
    assert!(status.success(), "a clean exit");
    let mut goodbye = None;
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        match message {
            Ok(Message::Close(frame)) => {
                goodbye = frame;
                break;
            }
            Ok(_) => continue,
            Err(e) => panic!("the connection was dropped, not closed: {e}"),
        }
    }
    let goodbye = goodbye.expect("a close frame");
    assert_eq!(u16::from(goodbye.code), 1001, "going away: {goodbye:?}");
}
