//! How far one instance carries live status, measured.
//!
//! The gateway runs as its own process (the release binary) over a sandbox in
//! this process. For 1,000 and then 10,000 WebSocket subscribers it reports the
//! gateway's memory per subscription, the time from a webhook's arrival to its
//! delivery at every subscriber (p50, p99, max), and the upstream poll calls per
//! interval against the bound ceil(watched images / 100) + 1. Then the floor: the same
//! fan-out from bare tokio tasks in a process of their own. The targets are judged
//! against that floor, measured in the same run on the same machine: at 10,000
//! subscribers, a p99 fan-out within 1.1× the floor's (the medians of rounds that
//! alternate the two), under 20 KiB per subscription, and poll calls within the bound;
//! it exits 1 when one is missed.
//!
//! `cargo bench --bench subscriptions`

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pixgate_sandbox::{self as sandbox, ProcessingSettings, Sandbox, SandboxSettings};
use serde_json::{Value, json};
use support::{Gateway, cpu_time, ms, percentile};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod support;

const SIZES: [usize; 2] = [1_000, 10_000];
/// Each subscriber watches the shared image and one of these, so the poller has many to refresh.
const SUBSCRIBERS_PER_IMAGE: usize = 10;
const POLL_INTERVAL: Duration = Duration::from_millis(1000);
const POLL_INTERVALS_MEASURED: u32 = 3;
const CONNECTING_AT_ONCE: usize = 200;
/// The p99 fan-out may be this many times the bare tasks' p99, measured in the same run.
const FLOOR_RATIO: f64 = 1.1;
/// Rounds of the largest fan-out, each the gateway's and then both floors', judged on the
/// medians: on two shared cores one fan-out of either moves by more than the target's
/// tenth (the bare tasks' p99 went from 61 to 118 ms between consecutive runs).
const ROUNDS: usize = 5;
const KIB_PER_SUBSCRIPTION: f64 = 20.0;

/// A FIFO perf reads commands from (`perf record -D -1 --control fifo:…`): set by
/// `scripts/profile fanout`, which samples the gateway during the largest fan-out only.
const PERF_CONTROL: &str = "PIXGATE_BENCH_PERF_CONTROL";

fn perf_control(size: usize, command: &str) {
    let Ok(fifo) = std::env::var(PERF_CONTROL) else { return };
    if size == SIZES[SIZES.len() - 1] {
        let written = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .and_then(|mut fifo| std::io::Write::write_all(&mut fifo, format!("{command}\n").as_bytes()));
        if let Err(error) = written {
            eprintln!("perf's control FIFO {fifo}: {error}");
        }
    }
}

/// What one size measured.
struct Fanout {
    row: String,
    p99: Duration,
    kib_per_subscription: f64,
    polls_within_bound: bool,
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

/// When the event reached each subscriber. The load generator shares the two cores with
/// the gateway, so it is as lean as it can be: one thread, epoll over every quiet socket,
/// raw reads (server frames are unmasked: the ticket appears as it is), no WebSocket framing.
fn arrivals(streams: Vec<std::net::TcpStream>, needle: &[u8]) -> (Vec<Instant>, Vec<std::net::TcpStream>) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    const EVENTS_AT_ONCE: usize = 1024;
    // SAFETY: plain epoll calls on descriptors `streams` owns for the whole function.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epoll >= 0, "epoll_create1");
    for (n, stream) in streams.iter().enumerate() {
        let mut interest = libc::epoll_event { events: libc::EPOLLIN as u32, u64: n as u64 };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, stream.as_raw_fd(), &mut interest) }, 0);
    }
    let mut arrived: Vec<Option<Instant>> = vec![None; streams.len()];
    let mut seen: Vec<Vec<u8>> = vec![Vec::new(); streams.len()];
    let (mut remaining, mut buffer) = (streams.len(), [0u8; 512]);
    let mut ready = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_AT_ONCE];
    let deadline = Instant::now() + Duration::from_secs(60);
    while remaining > 0 {
        assert!(Instant::now() < deadline, "{remaining} subscribers never got the event");
        // SAFETY: `ready` holds EVENTS_AT_ONCE entries.
        let count = unsafe { libc::epoll_wait(epoll, ready.as_mut_ptr(), EVENTS_AT_ONCE as i32, 1000) };
        for event in &ready[..usize::try_from(count).unwrap_or(0)] {
            let n = event.u64 as usize;
            let read = match (&streams[n]).read(&mut buffer) {
                Ok(0) => panic!("the gateway closed a subscription before the event"),
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("reading a subscription: {e}"),
            };
            seen[n].extend_from_slice(&buffer[..read]);
            if arrived[n].is_none() && seen[n].windows(needle.len()).any(|w| w == needle) {
                arrived[n] = Some(Instant::now());
                remaining -= 1;
            }
        }
    }
    // SAFETY: `epoll` is ours and closed once.
    unsafe { libc::close(epoll) };
    (arrived.into_iter().flatten().collect(), streams)
}

async fn run(size: usize, http: &reqwest::Client, sandbox: &Sandbox) -> Fanout {
    let gateway = Gateway::start(sandbox, &[("PIXGATE_POLL_INTERVAL_MS", &POLL_INTERVAL.as_millis().to_string())]);
    let addr = gateway.addr.clone();
    let images = size / SUBSCRIBERS_PER_IMAGE;
    let shared = submit(http, &addr, 0).await;
    let mut tickets = Vec::with_capacity(images);
    for n in 1..=images {
        tickets.push(submit(http, &addr, n).await);
    }
    let idle = gateway.rss_kib();

    let limit = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut subscribing = tokio::task::JoinSet::new();
    for n in 0..size {
        let (addr, shared, own, limit) = (addr.clone(), shared.clone(), tickets[n % images].clone(), limit.clone());
        subscribing.spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            match subscribe(&addr, [&shared, &own]).await.into_inner() {
                tokio_tungstenite::MaybeTlsStream::Plain(stream) => stream.into_std().expect("a std socket"),
                _ => unreachable!("plain ws:// connections"),
            }
        });
    }
    let streams: Vec<_> = subscribing.join_all().await;
    let subscribed = gateway.rss_kib();

    // Poll calls while every image waits in the sandbox.
    sandbox.reset_requests();
    tokio::time::sleep(POLL_INTERVAL * POLL_INTERVALS_MEASURED).await;
    let log = sandbox.requests();
    let polls = log.count("GET /REST.svc/JSON/Images") + log.count("GET /REST.svc/JSON/Image/{ticket}");
    let per_interval = polls as f64 / f64::from(POLL_INTERVALS_MEASURED);
    let bound = (images + 1).div_ceil(100) + 1;

    let body =
        json!({ "imageTicket": shared, "processedImageURL": "http://127.0.0.1:1/final.jpg", "templateId": "2066863" })
            .to_string();
    let signature = sandbox::sign(sandbox::PIXELZ_APP_SECRET, body.as_bytes());
    let gateway_pid = gateway.pid().to_string();
    let (gateway_cpu, own_cpu) = (cpu_time(&gateway_pid), cpu_time("self"));
    let needle = shared.clone().into_bytes();
    let watching = std::thread::spawn(move || arrivals(streams, &needle));
    perf_control(size, "enable");
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
    let (arrivals, sockets) = watching.join().expect("the arrivals thread");
    perf_control(size, "disable");
    let mut latencies: Vec<Duration> = arrivals.iter().map(|at| at.duration_since(sent)).collect();
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
    Fanout { row, p99, kib_per_subscription: per_subscription, polls_within_bound: per_interval <= bound as f64 }
}

/// The floors this machine sets, each in a process of its own (this benchmark, started
/// with `--floor-server`) and read by the same load generator: 10,000 bare tokio tasks,
/// each waiting on a watch channel and writing one pre-built frame (what a task per
/// connection costs at the least); and two threads writing that frame to 5,000 sockets
/// each in a loop (what one write per subscriber costs at the least, whatever the design).
/// As long as the frame the gateway sends each subscriber here.
const FLOOR_FRAME: &[u8] =
    b"floor-event: a pre-built frame as long as the gateway sends for this benchmark..................................";

#[derive(Clone, Copy, PartialEq)]
enum Floor {
    /// A tokio task per socket, woken through a watch channel.
    Tasks,
    /// Two threads, each writing to half of the sockets in turn.
    Loops,
}

fn floor_server(kind: Floor) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        let (event, watched) = tokio::sync::watch::channel(());
        let sockets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        // The first connection triggers an event per byte it sends; every other one waits for events.
        let (mut control, _) = listener.accept().await.unwrap();
        let accepted = sockets.clone();
        tokio::spawn(async move {
            let mut byte = [0u8; 1];
            while tokio::io::AsyncReadExt::read_exact(&mut control, &mut byte).await.is_ok() {
                if kind == Floor::Tasks {
                    event.send_replace(());
                    continue;
                }
                let mut first: Vec<std::net::TcpStream> = std::mem::take(&mut *accepted.lock().unwrap());
                let second = first.split_off(first.len() / 2);
                let writers = [first, second].map(|half| {
                    std::thread::spawn(move || {
                        for mut socket in &half {
                            let _ = std::io::Write::write_all(&mut socket, FLOOR_FRAME);
                        }
                        half
                    })
                });
                for writer in writers {
                    accepted.lock().unwrap().extend(writer.join().unwrap());
                }
            }
        });
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            socket.set_nodelay(true).unwrap();
            if kind == Floor::Loops {
                let socket = socket.into_std().unwrap();
                socket.set_nonblocking(false).unwrap();
                sockets.lock().unwrap().push(socket);
                continue;
            }
            let mut socket = socket;
            let mut watched = watched.clone();
            watched.mark_unchanged();
            tokio::spawn(async move {
                while watched.changed().await.is_ok() {
                    if tokio::io::AsyncWriteExt::write_all(&mut socket, FLOOR_FRAME).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// The floor's line for the table, and its p99.
async fn floor(size: usize, kind: Floor) -> (String, Duration) {
    use std::io::{BufRead, Write};
    let mut server = std::process::Command::new(std::env::current_exe().unwrap())
        .arg(match kind {
            Floor::Tasks => "--floor-server=tasks",
            Floor::Loops => "--floor-server=loops",
        })
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the floor server starts");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().to_string();
    let mut control = std::net::TcpStream::connect(&addr).unwrap();
    let mut streams = Vec::with_capacity(size);
    for _ in 0..size {
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        streams.push(stream.into_std().unwrap());
    }
    // Every connection accepted and waiting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = server.id().to_string();
    let (server_cpu, own_cpu) = (cpu_time(&pid), cpu_time("self"));
    let watching = std::thread::spawn(move || arrivals(streams, &FLOOR_FRAME[..11]));
    let sent = Instant::now();
    control.write_all(b"!").unwrap();
    let (arrived, sockets) = watching.join().expect("the arrivals thread");
    let (server_cpu, own_cpu) = (cpu_time(&pid) - server_cpu, cpu_time("self") - own_cpu);
    let mut latencies: Vec<Duration> = arrived.iter().map(|at| at.duration_since(sent)).collect();
    latencies.sort();
    drop(sockets);
    let _ = server.kill();
    let _ = server.wait();
    let what = match kind {
        Floor::Tasks => format!(
            "{size} bare tokio tasks, each waiting on a watch channel and writing one pre-built frame of {} bytes",
            FLOOR_FRAME.len()
        ),
        Floor::Loops => format!("two threads writing that frame to {} sockets each, in a loop", size / 2),
    };
    let p99 = percentile(&latencies, 0.99);
    let line = format!(
        "- {what}: p50 {} ms, p99 {} ms, max {} ms; that process's CPU {} ms, the load generator's {} ms.\n",
        ms(percentile(&latencies, 0.50)),
        ms(p99),
        ms(*latencies.last().unwrap()),
        server_cpu.as_millis(),
        own_cpu.as_millis()
    );
    (line, p99)
}

fn main() {
    if std::env::args().any(|arg| arg == "--floor-server=tasks") {
        return floor_server(Floor::Tasks);
    }
    if std::env::args().any(|arg| arg == "--floor-server=loops") {
        return floor_server(Floor::Loops);
    }
    tokio::runtime::Runtime::new().expect("a runtime").block_on(measure());
}

async fn measure() {
    let settings = SandboxSettings {
        // Images stay where they are: the webhook below is the only change.
        processing: ProcessingSettings { step_ms: 3_600_000, ..ProcessingSettings::default() },
        ..SandboxSettings::default()
    };
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), settings).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    let mut table = format!(
        "{}\n\nOne gateway process; each subscriber watches a shared image and one of n/{SUBSCRIBERS_PER_IMAGE} others; poll interval {} ms.\n\n",
        support::machine_line(&support::machine()),
        POLL_INTERVAL.as_millis()
    );
    table.push_str(
        "| subscribers | images watched | gateway RSS idle (MiB) | RSS subscribed (MiB) | KiB per subscription | webhook→all p50 (ms) | p99 (ms) | max (ms) | poll calls per interval | gateway CPU during fan-out (ms) | load generator CPU (ms) |\n",
    );
    table.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    let largest_size = SIZES[SIZES.len() - 1];
    for size in &SIZES[..SIZES.len() - 1] {
        let fanout = run(*size, &http, &sandbox).await;
        println!("{}", fanout.row);
        table.push_str(&fanout.row);
        table.push('\n');
    }
    let (mut rounds, mut tasks, mut loops) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let fanout = run(largest_size, &http, &sandbox).await;
        println!("round {round}: {}", fanout.row);
        rounds.push(fanout);
        tasks.push(floor(largest_size, Floor::Tasks).await);
        loops.push(floor(largest_size, Floor::Loops).await);
    }
    let p99s = |p99s: Vec<Duration>| p99s.iter().map(|p99| ms(*p99)).collect::<Vec<_>>().join(", ");
    let rounds_line = format!(
        "At {largest_size} subscribers, {ROUNDS} rounds, each the gateway's fan-out and then both floors': p99 {} ms for \
         the gateway, {} ms for the bare tasks, {} ms for the threads' loop. The row is the gateway's median round, the \
         floors' lines below theirs; the target is judged on the medians.",
        p99s(rounds.iter().map(|r| r.p99).collect()),
        p99s(tasks.iter().map(|t| t.1).collect()),
        p99s(loops.iter().map(|l| l.1).collect()),
    );
    rounds.sort_by_key(|round| round.p99);
    tasks.sort_by_key(|floor| floor.1);
    loops.sort_by_key(|floor| floor.1);
    let (largest, (tasks, tasks_p99), (loops, _)) = (&rounds[ROUNDS / 2], &tasks[ROUNDS / 2], &loops[ROUNDS / 2]);
    table.push_str(&largest.row);
    table.push('\n');
    table.push_str(&format!("\n{rounds_line}\n"));
    let ratio = largest.p99.as_secs_f64() / tasks_p99.as_secs_f64().max(1e-6);
    let mut missed = Vec::new();
    if ratio > FLOOR_RATIO {
        missed.push(format!("median p99 fan-out within {FLOOR_RATIO}× the bare tasks' median ({ratio:.2}×)"));
    }
    if largest.kib_per_subscription >= KIB_PER_SUBSCRIPTION {
        missed.push(format!("under {KIB_PER_SUBSCRIPTION} KiB per subscription ({:.1})", largest.kib_per_subscription));
    }
    if !rounds.iter().all(|round| round.polls_within_bound) {
        missed.push("poll calls within the bound".to_string());
    }
    let verdict = match missed.as_slice() {
        [] => format!(
            "Met at {largest_size} subscribers: median p99 fan-out {ratio:.2}× the bare tasks' (target ≤ {FLOOR_RATIO}×), {:.1} KiB \
             per subscription (under {KIB_PER_SUBSCRIPTION}), poll calls within the bound in every round.",
            largest.kib_per_subscription
        ),
        missed => format!("Missed at {largest_size} subscribers: {}.", missed.join(" and ")),
    };
    table.push_str(&format!("\n{verdict}\n\n"));
    table.push_str("The floors on this machine, measured in the same run: the same fan-out, read by the same load generator, from a process that does nothing else:\n\n");
    table.push_str(tasks);
    table.push_str(loops);
    println!("\n{table}");
    support::write_figures("subscriptions.md", &table);
    if !missed.is_empty() {
        std::process::exit(1);
    }
}
