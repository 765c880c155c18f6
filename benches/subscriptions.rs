//! How far one instance carries live status, measured.
//!
//! The gateway runs as its own process (the release binary) over a sandbox in
//! this process. For 1,000 and then 10,000 WebSocket subscribers it reports the
//! gateway's memory per subscription, the time from a webhook's arrival to its
//! delivery at every subscriber (p50, p99, max), and the upstream poll calls per
//! interval against the bound ceil(watched images / 100) + 1.
//!
//! `cargo bench --bench subscriptions`

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pixgate::sandbox::{self, ProcessingSettings, Sandbox, SandboxSettings};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SIZES: [usize; 2] = [1_000, 10_000];
/// Each subscriber watches the shared image and one of these, so the poller has many to refresh.
const SUBSCRIBERS_PER_IMAGE: usize = 10;
const POLL_INTERVAL: Duration = Duration::from_millis(1000);
const POLL_INTERVALS_MEASURED: u32 = 3;
const CONNECTING_AT_ONCE: usize = 200;

struct Gateway {
    child: Child,
    addr: String,
    /// Held open: the gateway may still write to it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_gateway(sandbox: &Sandbox) -> Gateway {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pixgate"))
        .args(["--listen", "127.0.0.1:0"])
        .env("PIXIESET_BASE_URL", sandbox.pixieset_base_url())
        .env("PIXELZ_BASE_URL", sandbox.pixelz_base_url())
        .env("PIXIESET_COOKIE", sandbox::PIXIESET_COOKIE)
        .env("PIXELZ_CONTACT_EMAIL", sandbox::PIXELZ_CONTACT_EMAIL)
        .env("PIXELZ_API_KEY", sandbox::PIXELZ_API_KEY)
        .env("PIXELZ_APP_SECRET", sandbox::PIXELZ_APP_SECRET)
        .env("PIXGATE_POLL_INTERVAL_MS", POLL_INTERVAL.as_millis().to_string())
        .env("RUST_LOG", "warn")
        // 10,000 subscribers connect from one address: the benchmark measures fan-out, not rate limits.
        .env("PIXGATE_RATE_LIMIT_IP", "0")
        .env("PIXGATE_RATE_LIMIT_TENANT", "0")
        .env_remove("PIXGATE_REDIS_URL")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the pixgate binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a first line");
    let addr = line.trim().strip_prefix("listening on http://").expect("a listening line").to_string();
    Gateway { child, addr, _stdout: stdout }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn submit(http: &reqwest::Client, addr: &str, n: usize) -> String {
    let query = format!(
        "mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/bench-{n}.jpg\"] }}) {{ ticket }} }}"
    );
    let body: Value = http
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["submitPixelzImage"]["ticket"].as_str().unwrap_or_else(|| panic!("{body}")).to_string()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("the subscription ended: {other:?}"),
        }
    }
}

/// Connects and subscribes; answers once both current states have arrived.
async fn subscribe(addr: &str, tickets: [&str; 2]) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await.expect("the gateway accepts");
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_text(&mut socket).await["type"], "connection_ack");
    let query = format!(
        "subscription {{ pixelzImageStatusChanged(tickets: [\"{}\", \"{}\"]) {{ ticket statusId }} }}",
        tickets[0], tickets[1]
    );
    socket
        .send(Message::Text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }).to_string().into(),
        ))
        .await
        .unwrap();
    for _ in 0..2 {
        let message = next_text(&mut socket).await;
        assert_eq!(message["type"], "next", "{message}");
    }
    socket
}

/// User plus system CPU time a process has used, from `/proc/<pid>/stat`.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    // Linux reports clock ticks of 1/100 s.
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

async fn run(size: usize, http: &reqwest::Client, sandbox: &Sandbox) -> (String, bool) {
    let gateway = start_gateway(sandbox);
    let addr = gateway.addr.clone();
    let images = size / SUBSCRIBERS_PER_IMAGE;
    let shared = submit(http, &addr, 0).await;
    let mut tickets = Vec::with_capacity(images);
    for n in 1..=images {
        tickets.push(submit(http, &addr, n).await);
    }
    let idle = rss_kib(gateway.child.id());

    let limit = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(size);
    let (go_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut arrivals = tokio::task::JoinSet::new();
    for n in 0..size {
        let (addr, shared, own) = (addr.clone(), shared.clone(), tickets[n % images].clone());
        let (limit, ready, mut go) = (limit.clone(), ready_tx.clone(), go_tx.subscribe());
        arrivals.spawn(async move {
            let mut socket = {
                let _permit = limit.acquire().await.unwrap();
                subscribe(&addr, [&shared, &own]).await
            };
            ready.send(()).await.unwrap();
            let _ = go.recv().await;
            // The arrival is all that matters here: a substring check, not a JSON parse,
            // keeps the load generator's share of the two cores small.
            loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) if text.contains(shared.as_str()) => return (Instant::now(), socket),
                    Some(Ok(_)) => continue,
                    other => panic!("the subscription ended: {other:?}"),
                }
            }
        });
    }
    for _ in 0..size {
        ready_rx.recv().await.unwrap();
    }
    let subscribed = rss_kib(gateway.child.id());

    // Poll calls while every image waits in the sandbox.
    sandbox.reset_requests();
    tokio::time::sleep(POLL_INTERVAL * POLL_INTERVALS_MEASURED).await;
    let log = sandbox.requests();
    let polls = log.count("GET /REST.svc/JSON/Images") + log.count("GET /REST.svc/JSON/Image/{ticket}");
    let per_interval = polls as f64 / f64::from(POLL_INTERVALS_MEASURED);
    let bound = (images + 1).div_ceil(100) + 1;

    let _ = go_tx.send(());
    let body =
        json!({ "imageTicket": shared, "processedImageURL": "http://127.0.0.1:1/final.jpg", "templateId": "2066863" })
            .to_string();
    let signature = sandbox::sign(sandbox::PIXELZ_APP_SECRET, body.as_bytes());
    let gateway_pid = gateway.child.id().to_string();
    let (gateway_cpu, own_cpu) = (cpu_time(&gateway_pid), cpu_time("self"));
    let sent = Instant::now();
    let status = http
        .post(format!("http://{addr}/webhooks/pixelz"))
        .header("Content-Type", "application/json")
        .header(sandbox::CUSTOMER_SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let mut latencies = Vec::with_capacity(size);
    let mut sockets = Vec::with_capacity(size);
    while let Some(arrival) = arrivals.join_next().await {
        let (at, socket) = arrival.expect("a subscriber task");
        latencies.push(at.duration_since(sent));
        sockets.push(socket);
    }
    let (gateway_cpu, own_cpu) = (cpu_time(&gateway_pid) - gateway_cpu, cpu_time("self") - own_cpu);
    latencies.sort();
    let (p50, p99, max) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99), *latencies.last().unwrap());
    let per_subscription = (subscribed.saturating_sub(idle) as f64) / size as f64;
    let row = format!(
        "| {size} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {per_interval:.1} (bound {bound}) | {} | {} |",
        images + 1,
        idle as f64 / 1024.0,
        subscribed as f64 / 1024.0,
        per_subscription,
        ms(p50),
        ms(p99),
        ms(max),
        gateway_cpu.as_millis(),
        own_cpu.as_millis()
    );
    drop(sockets);
    let met = p99 < Duration::from_millis(100) && per_interval <= bound as f64;
    (row, met)
}

#[tokio::main]
async fn main() {
    let settings = SandboxSettings {
        // Images stay where they are: the webhook below is the only change.
        processing: ProcessingSettings { step_ms: 3_600_000, ..ProcessingSettings::default() },
        ..SandboxSettings::default()
    };
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), settings).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    println!(
        "One gateway process; each subscriber watches a shared image and one of n/{SUBSCRIBERS_PER_IMAGE} others; poll interval {} ms.\n",
        POLL_INTERVAL.as_millis()
    );
    println!(
        "| subscribers | images watched | gateway RSS idle (MiB) | RSS subscribed (MiB) | KiB per subscription | webhook→all p50 (ms) | p99 (ms) | max (ms) | poll calls per interval | gateway CPU during fan-out (ms) | load generator CPU (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut all_met = true;
    for size in SIZES {
        let (row, met) = run(size, &http, &sandbox).await;
        println!("{row}");
        if size == 10_000 {
            all_met &= met;
        }
    }
    println!();
    println!(
        "{} 10,000 subscribers: p99 fan-out under 100 ms and poll calls within the bound",
        if all_met { "met:   " } else { "MISSED:" }
    );
    if !all_met {
        std::process::exit(1);
    }
}
