//! pixgate beside the gateway a user would pick instead, and beside the machine's floor.
//!
//! The peer is GraphQL Mesh, composing the OpenAPI sources in `benches/peer/` (written
//! for the two documented APIs), served by Hive Gateway, from npm, once with its response
//! cache (scoped by the caller's Pixieset cookie) and once without. The floor is a bare
//! hyper service answering every request with the same fixed bytes: each scenario's own
//! answer. All of
//! them run on this machine over one in-process sandbox, and wrk drives each in turn, the
//! same way, in alternating rounds. Then each is offered fixed loads, a quarter, a half
//! and four fifths of the floor's own requests per second (`support/fixed_rate.rs`), and
//! their latency at each is read off as wrk2 would. Then one client asks the 45 contracts
//! cold, in sequence, with 20 ms added to every upstream answer, and the sandbox counts
//! the calls.
//!
//! Writes `target/bench/peer.md`, `peer.json`, `peer.svg` and `fixed-rate.svg` (the
//! charts BENCHMARKS.md shows). `scripts/benchmark` installs the peer (`npm ci` in `benches/peer/`) and wrk,
//! runs this and quotes the table. `PIXGATE_BENCH_SECS` sets each run's length (8).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pixgate_sandbox::{self as sandbox, Faults, Sandbox, SandboxSettings};
use serde_json::{Value, json};
use support::fixed_rate::{self, FixedRate};
use support::{Gateway, WrkFigures, free_port, machine_busy, ms, percentile, tree_cpu_time, tree_rss_kib};

mod support;

const CONNECTIONS: usize = 16;
const ROUNDS: usize = 2;
const COLD_RUNS: usize = 7;
const COLD_LATENCY_MS: u64 = 20;
const CLIENT_ID: &str = "cl_ABC123DEF456GHI789JKL012MNO345";
/// Offered loads, as shares of the floor's requests per second at saturation.
const LOADS: [f64; 3] = [0.25, 0.5, 0.8];
/// Connections the fixed loads are spread over: enough that each sends at most one
/// request every few hundred microseconds, so a timer's millisecond does not bunch them.
const FIXED_RATE_CONNECTIONS: usize = 64;

/// Who answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Floor,
    Pixgate,
    PeerCached,
    PeerUncached,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Server::Floor => "floor (hyper, fixed bytes)",
            Server::Pixgate => "pixgate",
            Server::PeerCached => "peer with response cache",
            Server::PeerUncached => "peer without",
        }
    }
}

/// One question, as each schema asks it.
struct Question {
    name: &'static str,
    pixgate: String,
    peer: String,
    /// The peer without its cache makes 91 upstream calls an answer here: left out, as too slow to load.
    uncached_peer: bool,
    /// The share of the floor's requests per second pixgate is to answer.
    of_floor_target: f64,
}

fn questions() -> Vec<Question> {
    vec![
        Question {
            name: "one client by id, warm",
            pixgate: format!("{{ client(id: \"{CLIENT_ID}\") {{ firstName lastName email type }} }}"),
            peer: format!("{{ client(client_id: \"{CLIENT_ID}\") {{ data {{ first_name last_name email type }} }} }}"),
            uncached_peer: true,
            of_floor_target: 0.70,
        },
        Question {
            name: "45 contracts with client and template, warm",
            pixgate: contracts_pixgate(""),
            peer: contracts_peer(""),
            uncached_peer: false,
            of_floor_target: 0.75,
        },
    ]
}

/// `alias` makes a document of its own, which no response cache has seen.
fn contracts_pixgate(alias: &str) -> String {
    format!("{{ {alias}contracts(first: 45) {{ edges {{ node {{ client {{ email }} template {{ name }} }} }} }} }}")
}

fn contracts_peer(alias: &str) -> String {
    format!(
        "{{ {alias}contracts(per_page: 45, expand: all) {{ data {{ clientRecord {{ email }} templateRecord {{ name }} }} }} }}"
    )
}

/// A process this benchmark started and stops.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        // SIGTERM, so nginx's master and Hive Gateway's workers go with them.
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer")
}

fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench/peer");
    std::fs::create_dir_all(&dir).expect("target/bench/peer is writable");
    dir
}

/// Composes the peer's supergraph from the OpenAPI sources, pointed at `sandbox`.
fn compose(sandbox: &Sandbox) -> PathBuf {
    let supergraph = bench_dir().join("supergraph.graphql");
    let upstream = sandbox.pixieset_base_url().trim_end_matches("/api/v1").to_string();
    let status = Command::new(peer_dir().join("node_modules/.bin/mesh-compose"))
        .current_dir(peer_dir())
        .args(["-o", &supergraph.display().to_string()])
        .env("PEER_UPSTREAM", upstream)
        .stdout(Stdio::null())
        .status()
        .expect("mesh-compose runs");
    assert!(status.success(), "mesh-compose failed");
    supergraph
}

fn start_peer(supergraph: &Path, cached: bool) -> (Process, String) {
    let port = free_port();
    let child = Command::new(peer_dir().join("node_modules/.bin/hive-gateway"))
        .current_dir(peer_dir())
        .args(["supergraph", &supergraph.display().to_string(), "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("PEER_RESPONSE_CACHE", if cached { "1" } else { "0" })
        .env("NODE_ENV", "production")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("hive-gateway starts");
    (Process(child), format!("127.0.0.1:{port}"))
}

/// A bare hyper service (axum's router over it, one route) answering every request with
/// the bytes in `body_file`: this very binary, started again as a process of its own, so
/// it runs on its own runtime as pixgate does. nginx cannot serve a POST a long fixed body.
fn start_floor(body_file: &Path) -> (Process, String) {
    let port = free_port();
    let child = Command::new(std::env::current_exe().expect("this benchmark's path"))
        .env(FLOOR_BODY, body_file)
        .env(FLOOR_ADDR, format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("the floor starts");
    (Process(child), format!("127.0.0.1:{port}"))
}

const FLOOR_BODY: &str = "PIXGATE_BENCH_FLOOR_BODY";
const FLOOR_ADDR: &str = "PIXGATE_BENCH_FLOOR_ADDR";

/// Serves the floor when this process was started as one.
async fn serve_floor_if_asked() {
    let (Ok(body_file), Ok(addr)) = (std::env::var(FLOOR_BODY), std::env::var(FLOOR_ADDR)) else { return };
    let body = bytes::Bytes::from(std::fs::read(body_file).expect("the floor's body"));
    let answer = move || {
        let body = body.clone();
        async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], body) }
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("the floor binds");
    let app = axum::Router::new().fallback(answer);
    let _ = axum::serve(listener, app).await;
    std::process::exit(0);
}

async fn post(http: &reqwest::Client, addr: &str, query: &str, headers: &[(&str, &str)]) -> Option<Value> {
    let mut request = http.post(format!("http://{addr}/graphql")).json(&json!({ "query": query }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.ok()?.json().await.ok()
}

/// Waits until `addr` answers `query` without errors, then asks it `warmup` more times.
async fn ready(http: &reqwest::Client, addr: &str, query: &str, headers: &[(&str, &str)], warmup: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(answer) = post(http, addr, query, headers).await
            && answer["errors"].is_null()
            && !answer["data"].is_null()
        {
            for _ in 0..warmup {
                post(http, addr, query, headers).await;
            }
            return answer;
        }
        assert!(Instant::now() < deadline, "{addr} never answered {query}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The measured runs of one question on one server, one per round.
struct Runs {
    question: usize,
    server: Server,
    rounds: Vec<Round>,
}

impl Runs {
    fn mean_per_second(&self) -> f64 {
        self.rounds.iter().map(|round| round.figures.per_second()).sum::<f64>() / self.rounds.len().max(1) as f64
    }
}

/// One wrk run of a server, and where the machine's time went meanwhile.
struct Round {
    figures: WrkFigures,
    used: Used,
}

/// What one saturation run used of the machine: a server that leaves a core idle is held
/// back by the load generator, one that leaves none by the cores it shares with it.
struct Used {
    cpu: Cpu,
    elapsed: Duration,
}

impl Used {
    /// The server's and everything else's CPU per answer (the rest is wrk), in µs, and
    /// the share of the two cores left idle.
    fn per_answer(&self, answers: u64) -> (f64, f64, f64) {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / answers.max(1) as f64;
        let busy = self.cpu.server + self.cpu.bench + self.cpu.rest;
        let idle = 1.0 - busy.as_secs_f64() / (2.0 * self.elapsed.as_secs_f64());
        (per(self.cpu.server), per(self.cpu.bench + self.cpu.rest), idle.max(0.0))
    }
}

/// The least and the most of `values`, as a range.
fn range(values: impl IntoIterator<Item = f64>, format: impl Fn(f64) -> String) -> String {
    let values: Vec<f64> = values.into_iter().collect();
    let (low, high) = values.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    if values.is_empty() {
        "—".into()
    } else if format(low) == format(high) {
        format(low)
    } else {
        format!("{}–{}", format(low), format(high))
    }
}

fn whole(v: f64) -> String {
    format!("{v:.0}")
}

fn tenth(v: f64) -> String {
    format!("{v:.1}")
}

/// A cold ask: its wall time and the upstream calls it made.
#[derive(Clone, Copy)]
struct Cold {
    wall: Duration,
    calls: u64,
}

async fn cold_asks(
    http: &reqwest::Client,
    sandbox: &Sandbox,
    addr: &str,
    question: impl Fn(usize) -> String,
    headers: &[(&str, &str)],
) -> Cold {
    let (mut walls, mut calls) = (Vec::new(), 0);
    for run in 0..COLD_RUNS {
        sandbox.reset_requests();
        let started = Instant::now();
        let answer = post(http, addr, &question(run), headers).await.expect("an answer");
        walls.push(started.elapsed());
        assert!(answer["errors"].is_null(), "{answer}");
        let log = sandbox.requests();
        // The same question asks the same calls: a run that differs caught someone else's.
        if run > 0 && log.total != calls {
            eprintln!("cold run {run} on {addr}: {} upstream calls, not {calls}: {:?}", log.total, log.by_endpoint);
        }
        calls = log.total;
    }
    walls.sort();
    Cold { wall: percentile(&walls, 0.5), calls }
}

/// One labelled bar of a chart.
struct Bar {
    y: f64,
    left: f64,
    height: f64,
    length: f64,
}

impl Bar {
    fn draw(&self, body: &mut String, label: &str, colour: &str, value: &str) {
        let Bar { y, left, height, length } = self;
        let text_y = y + height - 3.0;
        let _ = write!(
            body,
            r#"<text x="{}" y="{text_y}" text-anchor="end">{label}</text><rect x="{left}" y="{y}" width="{length:.1}" height="{height}" fill="{colour}"/><text x="{:.1}" y="{text_y}">{value}</text>"#,
            left - 8.0,
            left + length + 6.0,
        );
    }
}

/// A bar chart of requests per second for each warm question, one bar per server.
fn chart(questions: &[Question], runs: &[Runs]) -> String {
    let servers = [Server::Floor, Server::Pixgate, Server::PeerCached, Server::PeerUncached];
    let colours = ["#9e9e9e", "#1565c0", "#ef6c00", "#ffb74d"];
    let most = runs.iter().map(Runs::mean_per_second).fold(1.0, f64::max);
    let (left, width, bar, gap) = (330.0, 420.0, 18.0, 14.0);
    let mut y = 50.0;
    let mut body = String::new();
    for (index, question) in questions.iter().enumerate() {
        let _ = write!(body, r#"<text x="10" y="{y}" font-weight="bold">{}</text>"#, question.name);
        y += 10.0;
        for (server, colour) in servers.iter().zip(colours) {
            let Some(run) = runs.iter().find(|r| r.question == index && r.server == *server) else { continue };
            let value = run.mean_per_second();
            let at = Bar { y, left, height: bar, length: value / most * width };
            at.draw(&mut body, server.label(), colour, &format!("{value:.0}"));
            y += bar + 4.0;
        }
        y += gap + 10.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="13"><rect width="100%" height="100%" fill="white"/><text x="10" y="24" font-size="15">Requests per second, warm, mean of {ROUNDS} rounds (longer is better)</text>{body}</svg>
"#,
        left + width + 80.0,
        y
    )
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("PIXGATE_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    serve_floor_if_asked().await;
    let wrk = support::wrk_version();
    if !peer_dir().join("node_modules/.bin/hive-gateway").exists() {
        eprintln!("the peer is not installed: run scripts/benchmark, which installs it (npm ci in benches/peer)");
        std::process::exit(2);
    }
    let node =
        Command::new("node").arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), SandboxSettings::default()).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    // Both gateways act with the caller's own credentials, as a multi-studio deployment does.
    let cookie = [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)];
    let pixgate = Gateway::start(&sandbox, &[]);
    let pixgate_cold = Gateway::start(&sandbox, &[("PIXGATE_CACHE_MB", "0")]);
    let supergraph = compose(&sandbox);
    let (peer_cached, peer_cached_addr) = start_peer(&supergraph, true);
    let (peer_uncached, peer_uncached_addr) = start_peer(&supergraph, false);

    let questions = questions();
    let mut floors = Vec::new();
    for (index, question) in questions.iter().enumerate() {
        let answer = ready(&http, &pixgate.addr, &question.pixgate, &cookie, 200).await;
        ready(&http, &peer_cached_addr, &question.peer, &cookie, 200).await;
        if question.uncached_peer {
            ready(&http, &peer_uncached_addr, &question.peer, &cookie, 200).await;
        }
        let body_file = bench_dir().join(format!("floor-{index}.json"));
        std::fs::write(&body_file, answer.to_string()).expect("the floor's body is written");
        let floor = start_floor(&body_file);
        ready(&http, &floor.1, &question.pixgate, &[], 200).await;
        floors.push(floor);
    }

    let mut runs: Vec<Runs> = Vec::new();
    for round in 0..ROUNDS {
        for (index, question) in questions.iter().enumerate() {
            let mut targets = vec![
                (Server::Floor, floors[index].1.as_str(), &question.pixgate, floors[index].0.0.id()),
                (Server::Pixgate, pixgate.addr.as_str(), &question.pixgate, pixgate.pid()),
                (Server::PeerCached, peer_cached_addr.as_str(), &question.peer, peer_cached.0.id()),
            ];
            if question.uncached_peer {
                targets.push((Server::PeerUncached, peer_uncached_addr.as_str(), &question.peer, peer_uncached.0.id()));
            }
            // Alternate the order between rounds, so neither side always runs on a machine just warmed.
            if round % 2 == 1 {
                targets.reverse();
            }
            for (server, addr, query, pid) in targets {
                let body = json!({ "query": query }).to_string();
                // The Node.js peer goes on collecting garbage for seconds after its run: the
                // server after it in a round would share the cores with that.
                let settled = settle().await;
                eprintln!(
                    "round {}: {} on {}, after {:.1} s for the machine to settle",
                    round + 1,
                    question.name,
                    server.label(),
                    settled.as_secs_f64()
                );
                let (before, started) = (Cpu::now(pid), Instant::now());
                let figures = support::wrk(addr, &body, false, &cookie, CONNECTIONS, seconds).await;
                let used = Used { cpu: Cpu::now(pid).since(&before), elapsed: started.elapsed() };
                let round = Round { figures, used };
                match runs.iter_mut().find(|r| r.question == index && r.server == server) {
                    Some(run) => run.rounds.push(round),
                    None => runs.push(Runs { question: index, server, rounds: vec![round] }),
                }
            }
        }
    }
    let mut fixed: Vec<FixedRun> = Vec::new();
    for (index, question) in questions.iter().enumerate() {
        let floor_runs = runs.iter().find(|r| r.question == index && r.server == Server::Floor).expect("measured");
        let floor_rps = floor_runs.mean_per_second();
        for share in LOADS {
            let targets = [
                (Server::Floor, floors[index].1.as_str(), &question.pixgate, floors[index].0.0.id()),
                (Server::Pixgate, pixgate.addr.as_str(), &question.pixgate, pixgate.pid()),
                (Server::PeerCached, peer_cached_addr.as_str(), &question.peer, peer_cached.0.id()),
            ];
            for (server, addr, query, pid) in targets {
                let body = json!({ "query": query }).to_string();
                let rate = floor_rps * share;
                let settled = settle().await;
                eprintln!(
                    "fixed rate: {} on {} at {rate:.0} req/s, after {:.1} s for the machine to settle",
                    question.name,
                    server.label(),
                    settled.as_secs_f64()
                );
                let before = Cpu::now(pid);
                let figures = fixed_rate::run(addr, &body, &cookie, rate, FIXED_RATE_CONNECTIONS, seconds).await;
                let cpu = Cpu::now(pid).since(&before);
                fixed.push(FixedRun { question: index, server, share, figures, cpu });
            }
        }
    }
    let rss = |pid: u32| tree_rss_kib(pid) as f64 / 1024.0;
    let memory = [
        (Server::Pixgate, rss(pixgate.pid())),
        (Server::PeerCached, rss(peer_cached.0.id())),
        (Server::PeerUncached, rss(peer_uncached.0.id())),
    ];

    // A server the last fixed-rate run left behind still answers what it was sent, and its
    // upstream calls would count as the next cold run's.
    settle().await;
    sandbox.set_faults(Faults { latency_ms: COLD_LATENCY_MS, ..Faults::default() });
    let cold = [
        (Server::Pixgate, cold_asks(&http, &sandbox, &pixgate_cold.addr, |_| contracts_pixgate(""), &cookie).await),
        (
            Server::PeerCached,
            cold_asks(&http, &sandbox, &peer_cached_addr, |run| contracts_peer(&format!("cold{run}: ")), &cookie).await,
        ),
        (Server::PeerUncached, cold_asks(&http, &sandbox, &peer_uncached_addr, |_| contracts_peer(""), &cookie).await),
    ];
    sandbox.set_faults(Faults::default());
    drop((peer_cached, peer_uncached, floors));

    let find = |question: usize, server: Server| runs.iter().find(|r| r.question == question && r.server == server);
    let per_round = |question: usize, server: Server, measure: &dyn Fn(&WrkFigures) -> f64| -> Vec<f64> {
        find(question, server)
            .map(|r| r.rounds.iter().map(|round| measure(&round.figures)).collect())
            .unwrap_or_default()
    };
    // Ratios within a round: both sides measured minutes apart, on the same machine state.
    let ratios = |question: usize, a: Server, b: Server, measure: &dyn Fn(&WrkFigures) -> f64| -> Vec<f64> {
        per_round(question, a, measure).iter().zip(per_round(question, b, measure)).map(|(x, y)| x / y).collect()
    };
    let rps = |f: &WrkFigures| f.per_second();
    let p99 = |f: &WrkFigures| f.p99.as_secs_f64() * 1000.0;

    let machine = support::machine();
    let mut table = format!(
        "{}; {wrk}, 1 thread, {CONNECTIONS} connections, {seconds} s a run, {ROUNDS} rounds in alternating order; \
         the peer is Hive Gateway {} with GraphQL Mesh, on Node.js {}.\n\n",
        support::machine_line(&machine),
        peer_version(),
        node.unwrap_or_default()
    );
    table.push_str(
        "| scenario | floor (hyper, fixed bytes) | pixgate | peer with response cache | peer without | pixgate ÷ cached peer | pixgate ÷ floor |\n|---|---|---|---|---|---|---|\n",
    );
    let mut targets = Vec::new();
    for (index, question) in questions.iter().enumerate() {
        let cell = |server, measure: &dyn Fn(&WrkFigures) -> f64, format: &dyn Fn(f64) -> String| {
            range(per_round(index, server, measure), format)
        };
        let speedup = ratios(index, Server::Pixgate, Server::PeerCached, &rps);
        let of_floor = ratios(index, Server::Pixgate, Server::Floor, &rps);
        table.push_str(&format!(
            "| {}: req/s | {} | {} | {} | {} | {}× | {} |\n",
            question.name,
            cell(Server::Floor, &rps, &whole),
            cell(Server::Pixgate, &rps, &whole),
            cell(Server::PeerCached, &rps, &whole),
            cell(Server::PeerUncached, &rps, &whole),
            range(speedup.iter().copied(), tenth),
            range(of_floor.iter().map(|r| r * 100.0), |v| format!("{v:.0}%")),
        ));
        let p99_ratio = ratios(index, Server::PeerCached, Server::Pixgate, &p99);
        table.push_str(&format!(
            "| same: p99 (ms) | {} | {} | {} | {} | 1/{} | |\n",
            cell(Server::Floor, &p99, &tenth),
            cell(Server::Pixgate, &p99, &tenth),
            cell(Server::PeerCached, &p99, &tenth),
            cell(Server::PeerUncached, &p99, &tenth),
            range(p99_ratio.iter().copied(), tenth),
        ));
        let least = |values: &[f64]| values.iter().copied().fold(f64::MAX, f64::min);
        targets.push(format!(
            "- {}: {} (≥ 5× the cached peer's requests per second: at least {:.1}×), {} (p99 at most 1/5 of its: \
             at least 1/{:.1}), {} ({:.0}% of the floor or more in every round: at least {:.0}%).",
            question.name,
            met(least(&speedup) >= 5.0),
            least(&speedup),
            met(least(&p99_ratio) >= 5.0),
            least(&p99_ratio),
            met(least(&of_floor) >= question.of_floor_target),
            question.of_floor_target * 100.0,
            least(&of_floor) * 100.0
        ));
    }
    let cold_of = |server: Server| cold.iter().find(|(s, _)| *s == server).map(|(_, c)| *c);
    let cold_cell = |server| cold_of(server).map_or("—".into(), |c: Cold| format!("{} / {}", ms(c.wall), c.calls));
    let pixgate_cold_run = cold_of(Server::Pixgate).expect("measured");
    let cached_peer_cold = cold_of(Server::PeerCached).expect("measured");
    table.push_str(&format!(
        "| 45 contracts, cold, {COLD_LATENCY_MS} ms upstream latency: wall (ms) / upstream calls, median of {COLD_RUNS} | — | {} | {} | {} | {:.1}× / {:.0}× fewer calls | |\n",
        cold_cell(Server::Pixgate),
        cold_cell(Server::PeerCached),
        cold_cell(Server::PeerUncached),
        cached_peer_cold.wall.as_secs_f64() / pixgate_cold_run.wall.as_secs_f64(),
        cached_peer_cold.calls as f64 / pixgate_cold_run.calls.max(1) as f64,
    ));
    let memory_of = |server: Server| memory.iter().find(|(s, _)| *s == server).map_or(0.0, |(_, m)| *m);
    table.push_str(&format!(
        "| RSS after load (MiB) | — | {:.1} | {:.1} | {:.1} | 1/{:.0} | |\n",
        memory_of(Server::Pixgate),
        memory_of(Server::PeerCached),
        memory_of(Server::PeerUncached),
        memory_of(Server::PeerCached) / memory_of(Server::Pixgate),
    ));
    table.push_str("\nTargets:\n\n");
    for target in &targets {
        table.push_str(target);
        table.push('\n');
    }
    table.push_str(&format!(
        "- cold: {} (one upstream call for the 45 contracts: {}); memory: {} (under 1/10 of the cached peer's: 1/{:.0}).\n",
        met(pixgate_cold_run.calls == 1),
        pixgate_cold_run.calls,
        met(memory_of(Server::PeerCached) >= 10.0 * memory_of(Server::Pixgate)),
        memory_of(Server::PeerCached) / memory_of(Server::Pixgate),
    ));
    table.push_str(&saturation_cpu_table(&questions, &runs));
    table.push_str(&fixed_rate_table(&questions, &fixed, seconds));
    let failures: u64 = runs.iter().flat_map(|r| r.rounds.iter().map(|round| round.figures.failures)).sum::<u64>()
        + fixed.iter().map(|run| run.figures.failures).sum::<u64>();
    table.push_str(&format!("\nFailed answers across every run: {failures}.\n"));

    let figures = json!({
        "machine": machine,
        "load_generator": { "wrk": wrk, "threads": 1, "connections": CONNECTIONS, "seconds_per_run": seconds, "rounds": ROUNDS },
        "warm": runs.iter().map(|r| json!({
            "question": questions[r.question].name,
            "server": r.server.label(),
            "rounds": r.rounds.iter().map(|Round { figures: f, used }| {
                let (server_us, rest_us, idle) = used.per_answer(f.requests);
                json!({
                    "requests_per_second": f.per_second(),
                    "p50_ms": f.p50.as_secs_f64() * 1000.0,
                    "p99_ms": f.p99.as_secs_f64() * 1000.0,
                    "failures": f.failures,
                    "cpu_us_per_answer": { "server": server_us, "load_generator_and_rest": rest_us },
                    "cores_idle": idle,
                })
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "cold": cold.iter().map(|(server, c)| json!({
            "server": server.label(), "added_latency_ms": COLD_LATENCY_MS, "wall_ms": c.wall.as_secs_f64() * 1000.0, "upstream_calls": c.calls,
        })).collect::<Vec<_>>(),
        "fixed_rate": fixed.iter().map(|run| json!({
            "question": questions[run.question].name,
            "server": run.server.label(),
            "share_of_floor": run.share,
            "offered_per_second": run.figures.offered,
            "answered_per_second": run.figures.answered,
            "p50_ms": millis(run.figures.percentile(0.5)),
            "p99_ms": millis(run.figures.percentile(0.99)),
            "p999_ms": millis(run.figures.percentile(0.999)),
            // By when each request was due: a tail from bursts shows apart from one spread evenly.
            "p99_ms_by_second": (0..seconds)
                .map(|second| {
                    let due = Duration::from_secs(second)..Duration::from_secs(second + 1);
                    millis(run.figures.percentile_due(due, 0.99))
                })
                .collect::<Vec<_>>(),
            "unanswered": run.figures.unanswered,
            "failures": run.figures.failures,
            "cpu_ms": { "server": run.cpu.server.as_millis() as u64, "bench": run.cpu.bench.as_millis() as u64, "rest": run.cpu.rest.as_millis() as u64 },
        })).collect::<Vec<_>>(),
        "rss_after_load_mib": memory.iter().map(|(server, mib)| json!({ "server": server.label(), "mib": mib })).collect::<Vec<_>>(),
    });
    support::write_figures("peer.md", &table);
    support::write_figures("peer.json", &serde_json::to_string_pretty(&figures).expect("JSON"));
    support::write_figures("peer.svg", &chart(&questions, &runs));
    support::write_figures("fixed-rate.svg", &fixed_rate_chart(&questions, &fixed));
    println!("{table}");
}

/// One fixed load on one server.
struct FixedRun {
    question: usize,
    server: Server,
    /// Of the floor's requests per second.
    share: f64,
    figures: FixedRate,
    cpu: Cpu,
}

/// Where the two cores went in each saturation run of the floor and pixgate, per answer.
fn saturation_cpu_table(questions: &[Question], runs: &[Runs]) -> String {
    let mut table = String::from(
        "\nWhere the two cores went during those runs, per answer and round by round: the server's CPU / the load \
         generator's (wrk, with everything else on the machine), in µs, and the cores' idle share, from `/proc`:\n\n\
         | scenario | floor (hyper, fixed bytes) | pixgate |\n|---|---|---|\n",
    );
    for (index, question) in questions.iter().enumerate() {
        let cell = |server: Server| {
            let Some(run) = runs.iter().find(|r| r.question == index && r.server == server) else {
                return "—".into();
            };
            let rounds = run.rounds.iter().map(|Round { figures, used }| {
                let (server_us, rest_us, idle) = used.per_answer(figures.requests);
                format!("{server_us:.1} / {rest_us:.1}, {:.0}% idle", idle * 100.0)
            });
            rounds.collect::<Vec<_>>().join("; ")
        };
        let _ = writeln!(table, "| {} | {} | {} |", question.name, cell(Server::Floor), cell(Server::Pixgate));
    }
    table
}

/// The longest a run waits for the machine to settle.
const SETTLE_MAX: Duration = Duration::from_secs(20);

/// Waits until the machine is all but idle (the whole of it busy for under a tenth of a
/// core over half a second), or `SETTLE_MAX`; answers how long that took. The servers
/// loaded before may still be busy: a Node.js peer was seen at 7–19% of a core for
/// seconds after its runs, and a fixed-rate tail is that sensitive to such company
/// (beside a Node process churning garbage at an eighth of a core, pixgate's p99 at a
/// quarter of the floor's rate was 8–15 ms, against 2 ms on a quiet machine).
async fn settle() -> Duration {
    let started = Instant::now();
    while started.elapsed() < SETTLE_MAX {
        let before = machine_busy();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if machine_busy().saturating_sub(before) <= Duration::from_millis(50) {
            break;
        }
    }
    started.elapsed()
}

/// Where the machine's CPU time went during a run: a tail that only one run shows may
/// be another process's doing, since the load generator and every server share two cores.
struct Cpu {
    /// The server measured, with any process it started.
    server: Duration,
    /// This process: the load generator and the sandbox.
    bench: Duration,
    /// Everything else on the machine, the idle servers among it.
    rest: Duration,
}

impl Cpu {
    /// Readings so far, `rest` holding the whole machine's.
    fn now(server: u32) -> Cpu {
        Cpu { server: tree_cpu_time(server), bench: support::cpu_time("self"), rest: machine_busy() }
    }

    fn since(&self, before: &Cpu) -> Cpu {
        let (server, bench) = (self.server.saturating_sub(before.server), self.bench.saturating_sub(before.bench));
        let machine = self.rest.saturating_sub(before.rest);
        Cpu { server, bench, rest: machine.saturating_sub(server + bench) }
    }

    fn cell(&self) -> String {
        format!("{} / {} / {}", self.server.as_millis(), self.bench.as_millis(), self.rest.as_millis())
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50 / p99 / p99.9 in ms (at least that much while requests went unanswered), and the
/// answered rate when it fell short of the offered one.
fn fixed_cell(figures: &FixedRate) -> String {
    let at_least = if figures.unanswered > 0 { "≥ " } else { "" };
    let mut cell = [0.5, 0.99, 0.999].map(|p| format!("{at_least}{}", latency(figures.percentile(p)))).join(" / ");
    if figures.answered < figures.offered * 0.97 {
        let _ = write!(cell, " (answered {:.0}/s)", figures.answered);
    }
    cell
}

/// Milliseconds with the digits a sub-millisecond figure needs.
fn latency(d: Duration) -> String {
    let ms = millis(d);
    if ms < 1.0 { format!("{ms:.2}") } else { format!("{ms:.1}") }
}

fn fixed_rate_table(questions: &[Question], fixed: &[FixedRun], seconds: u64) -> String {
    let mut table = format!(
        "\nLatency at a fixed offered load (`benches/support/fixed_rate.rs`: requests sent on schedule over \
         {FIXED_RATE_CONNECTIONS} connections, each timed from when it was due, as wrk2 does; {seconds} s each, and \
         what is unanswered {} s after the schedule's end is timed to then, marked ≥), in ms, p50 / p99 / p99.9; \
         the load is a share of the floor's requests per second measured above:\n\n\
         | scenario | offered (req/s) | floor | pixgate | peer with response cache | pixgate p99 ÷ floor p99 | \
         pixgate p99: first second / after |\n\
         |---|---|---|---|---|---|---|\n",
        fixed_rate::GRACE.as_secs()
    );
    let mut verdicts = Vec::new();
    for (index, question) in questions.iter().enumerate() {
        for share in LOADS {
            let find = |server: Server| {
                fixed.iter().find(|run| run.question == index && run.server == server && run.share == share)
            };
            let (Some(floor), Some(pixgate), Some(peer)) =
                (find(Server::Floor), find(Server::Pixgate), find(Server::PeerCached))
            else {
                continue;
            };
            let ratio = millis(pixgate.figures.percentile(0.99)) / millis(floor.figures.percentile(0.99)).max(1e-3);
            let _ = writeln!(
                table,
                "| {} at {:.0}% | {:.0} | {} | {} | {} | {ratio:.1}× | {} / {} |",
                question.name,
                share * 100.0,
                floor.figures.offered,
                fixed_cell(&floor.figures),
                fixed_cell(&pixgate.figures),
                fixed_cell(&peer.figures),
                latency(pixgate.figures.percentile_due(Duration::ZERO..Duration::from_secs(1), 0.99)),
                latency(pixgate.figures.percentile_due(Duration::from_secs(1)..Duration::MAX, 0.99)),
            );
            if share == 0.5 {
                verdicts.push(format!(
                    "- {} at half the floor's rate: {} (pixgate's p99 within 2× the floor's: {ratio:.1}×).",
                    question.name,
                    met(ratio <= 2.0)
                ));
            }
        }
    }
    table.push('\n');
    for verdict in verdicts {
        table.push_str(&verdict);
        table.push('\n');
    }
    table.push_str(
        "\nCPU time during each fixed-rate run, in ms: the server measured / this benchmark's process (the load \
         generator and the sandbox) / everything else on the machine (the idle servers among it), from `/proc`:\n\n\
         | scenario | floor | pixgate | peer with response cache |\n|---|---|---|---|\n",
    );
    for (index, question) in questions.iter().enumerate() {
        for share in LOADS {
            let cells: Vec<String> = [Server::Floor, Server::Pixgate, Server::PeerCached]
                .into_iter()
                .map(|server| {
                    fixed
                        .iter()
                        .find(|run| run.question == index && run.server == server && run.share == share)
                        .map_or_else(String::new, |run| run.cpu.cell())
                })
                .collect();
            let _ = writeln!(table, "| {} at {:.0}% | {} |", question.name, share * 100.0, cells.join(" | "));
        }
    }
    table
}

/// p99 at each fixed load, per server, on a logarithmic scale (the peer's is orders above).
fn fixed_rate_chart(questions: &[Question], fixed: &[FixedRun]) -> String {
    let servers = [Server::Floor, Server::Pixgate, Server::PeerCached];
    let colours = ["#9e9e9e", "#1565c0", "#ef6c00"];
    let (left, width, bar) = (330.0, 420.0, 14.0);
    // From 0.01 ms to 10 s, a decade every 70 px.
    let scale = |ms: f64| ((ms.max(0.01).log10() + 2.0) / 6.0 * width).clamp(2.0, width);
    let mut y = 50.0;
    let mut body = String::new();
    for (index, question) in questions.iter().enumerate() {
        let _ = write!(body, r#"<text x="10" y="{y}" font-weight="bold">{}</text>"#, question.name);
        y += 10.0;
        for share in LOADS {
            let _ =
                write!(body, r#"<text x="10" y="{}">at {:.0}% of the floor's rate</text>"#, y + 13.0, share * 100.0);
            for (server, colour) in servers.iter().zip(colours) {
                let Some(run) = fixed.iter().find(|r| r.question == index && r.server == *server && r.share == share)
                else {
                    continue;
                };
                let p99 = run.figures.percentile(0.99);
                let at = Bar { y, left, height: bar, length: scale(millis(p99)) };
                let at_least = if run.figures.unanswered > 0 { "≥ " } else { "" };
                at.draw(&mut body, server.label(), colour, &format!("{at_least}{}", latency(p99)));
                y += bar + 3.0;
            }
            y += 8.0;
        }
        y += 14.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="10" y="24" font-size="15">p99 latency (ms) at fixed offered load, logarithmic scale (shorter is better)</text>{body}</svg>
"#,
        left + width + 80.0,
        y
    )
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "missed" }
}

/// The Hive Gateway version the lock file installed.
fn peer_version() -> String {
    let package = peer_dir().join("node_modules/@graphql-hive/gateway/package.json");
    std::fs::read_to_string(package)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|package| package["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}
