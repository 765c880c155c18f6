//! Minutes of mixed queries, mutations and subscriptions against the gateway as
//! its own process, its memory sampled each second: it fails when memory keeps
//! growing. `.ci/run` runs it; `PIXGATE_SOAK_SECS` sets how long (default 90).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::cli::{pixgate, terminate};
use crate::support::*;

const READS: [&str; 4] = [
    "{ contracts(first: 20) { edges { node { client { email phone } template { name } } } } }",
    "{ clients(first: 10, after: \"b2Zmc2V0OjQ\") { edges { node { id email } } } }",
    "{ pixelzImages(first: 10) { edges { node { ticket status } } } pixelzAccount { email } }",
    "{ invoices(first: 5) { edges { node { amount { amount } client { email } } } } }",
];
const WORKERS: usize = 6;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn post(base: &str, query: &str) -> Value {
    let (status, body) = answer(http().post(format!("{base}/graphql")).json(&json!({ "query": query }))).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Submits an image and follows it to delivered over a WebSocket subscription.
async fn follow_one_image(base: &str, n: usize) {
    let submit = format!(
        "mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/soak-{n}.jpg\"] }}) {{ ticket }} }}"
    );
    let body = post(base, &submit).await;
    let ticket = body["data"]["submitPixelzImage"]["ticket"].as_str().unwrap_or_else(|| panic!("{body}")).to_string();
    let mut request = format!("{}/graphql/ws", base.replace("http", "ws")).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    let query = format!("subscription {{ pixelzImageStatusChanged(tickets: [\"{ticket}\"]) {{ status }} }}");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(20), socket.next()).await {
        if let Message::Text(text) = message
            && serde_json::from_str::<Value>(&text).is_ok_and(|m| m["type"] == "complete")
        {
            return;
        }
    }
    panic!("image {ticket} was not followed to the end");
}

fn median(samples: &[u64]) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: .ci/run runs it with --ignored"]
async fn memory_stays_flat_under_mixed_load() {
    let seconds: u64 = std::env::var("PIXGATE_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(90);
    // The sandbox lives in this process, so what it stores is not counted as the gateway's.
    let upstream = sandbox_with_step(40).await;
    let mut command = pixgate(&["--listen", "127.0.0.1:0"]);
    command
        .envs(upstream.gateway_env())
        .env("PIXGATE_POLL_INTERVAL_MS", "200")
        .env("PIXGATE_RATE_LIMIT_IP", "0")
        .env("PIXGATE_RATE_LIMIT_TENANT", "0")
        .env("RUST_LOG", "warn");
    let mut child = command.spawn().unwrap();
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.unwrap().unwrap().unwrap();
    let base = line.strip_prefix("listening on ").unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let base = base.clone();
        workers.spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                match (worker, n % 10) {
                    // One worker follows images through their life, one at a time.
                    (0, _) => follow_one_image(&base, n).await,
                    (_, 0) => {
                        let email = format!("soak-{worker}-{n}@example.com");
                        let create = format!(
                            "mutation {{ createClient(input: {{ firstName: \"Soak\", email: \"{email}\" }}) {{ userErrors {{ code }} }} }}"
                        );
                        let body = post(&base, &create).await;
                        assert!(body["errors"].is_null(), "{body}");
                    }
                    _ => {
                        let body = post(&base, READS[n % READS.len()]).await;
                        assert!(body["errors"].is_null(), "{body}");
                    }
                }
            }
            n
        });
    }
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(rss_kib(pid));
    }
    let mut operations = 0;
    while let Some(done) = workers.join_next().await {
        operations += done.expect("a worker");
    }
    assert!(terminate(&mut child).await.success());

    // The first third warms caches and pools; the last third must not sit clearly above the middle one.
    let third = samples.len() / 3;
    assert!(third >= 3, "too short to judge: {seconds} s");
    let (middle, last) = (median(&samples[third..2 * third]), median(&samples[2 * third..]));
    println!(
        "soak: {seconds} s, {operations} operations, RSS median {:.1} MiB then {:.1} MiB, peak {:.1} MiB",
        middle as f64 / 1024.0,
        last as f64 / 1024.0,
        *samples.iter().max().unwrap() as f64 / 1024.0
    );
    assert!(last <= middle + middle / 10 + 4 * 1024, "memory keeps growing: {samples:?}");
}
