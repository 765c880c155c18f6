//! The gateway under load, measured, and beside it the same data fetched the naive way.
//!
//! Starts the sandbox in this process and the gateway (the release binary) as its
//! own, on loopback. wrk drives each scenario for a few seconds and reports
//! throughput and latency; the sandbox counts the upstream calls; the gateway's
//! memory is sampled while it works. Then one client, in sequence, fetches the
//! contracts with their clients and templates through the gateway (cold and warm)
//! and straight from the sandbox's REST API, one request per object, with and
//! without latency added to every upstream answer.
//!
//! Writes `target/bench/gateway.md` and `target/bench/gateway.json`.
//! `scripts/benchmark` installs wrk, runs this and quotes the table in BENCHMARKS.md.
//! With nginx and redis-server installed, three gateways on one Redis behind nginx are
//! measured too. `PIXGATE_BENCH_SECS` sets each scenario's length (default 5).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pixgate_sandbox::{self as sandbox, Faults, Sandbox, SandboxSettings};
use serde_json::{Value, json};
use support::{Fleet, Gateway, ms, percentile};

mod support;

const CONNECTIONS: usize = 16;
const CONTRACTS: &str = "{ contracts(first: 45) { edges { node { client { email } template { name } } } } }";
const CLIENT: &str = "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { firstName lastName email type } }";
const CREATE_CLIENT: &str =
    "mutation { createClient(input: { firstName: \"Bench\", email: \"bench-%d@example.com\" }) { client { id } } }";
/// Sequential runs for the side-by-side comparison, per latency.
const SEQUENTIAL_RUNS: usize = 9;
const ADDED_LATENCIES_MS: [u64; 2] = [0, 20];

/// Which gateway a scenario drives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    /// One gateway, cache on.
    Warm,
    /// One gateway with its cache switched off: every request goes upstream.
    Cold,
    /// Three gateways on one Redis behind nginx, cache on.
    FleetWarm,
    /// The same three with their caches off.
    FleetCold,
}

struct Scenario {
    name: &'static str,
    query: String,
    on: On,
    /// The query's `%d` is replaced by a number unique to each request.
    numbered: bool,
}

/// Where wrk sends its requests, and the processes whose memory counts.
struct Target {
    addr: String,
    pids: Vec<u32>,
}

impl Target {
    fn of(gateway: &Gateway) -> Self {
        Target { addr: gateway.addr.clone(), pids: vec![gateway.pid()] }
    }

    fn of_fleet(fleet: &Fleet) -> Self {
        Target { addr: fleet.addr.clone(), pids: fleet.gateways.iter().map(Gateway::pid).collect() }
    }

    fn rss_kib(&self) -> u64 {
        self.pids.iter().map(|pid| support::rss_kib(&pid.to_string())).sum()
    }
}

/// What wrk measured, and what was seen meanwhile.
struct Measured {
    name: &'static str,
    on: On,
    requests: u64,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Answers that were not HTTP 200 without GraphQL errors, and socket errors.
    failures: u64,
    upstream_calls: u64,
    rss_peak_kib: u64,
}

async fn run_scenario(scenario: &Scenario, target: Target, sandbox: &Sandbox, seconds: u64) -> Measured {
    let body = json!({ "query": scenario.query }).to_string();
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(target.rss_kib()));
    let addr = target.addr.clone();
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(target.rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    sandbox.reset_requests();
    let figures = support::wrk(&addr, &body, scenario.numbered, &[], CONNECTIONS, seconds).await;
    let upstream_calls = sandbox.requests().total;
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("the memory sampler");
    Measured {
        name: scenario.name,
        on: scenario.on,
        requests: figures.requests,
        seconds: figures.seconds,
        p50: figures.p50,
        p99: figures.p99,
        max: figures.max,
        failures: figures.failures,
        upstream_calls,
        rss_peak_kib: peak.load(Ordering::Relaxed),
    }
}

/// The contracts, then each contract's client and template, one request each, in sequence.
/// Returns the requests made.
async fn naive_contracts(http: &reqwest::Client, sandbox: &Sandbox) -> u64 {
    let get = |path: String| {
        http.get(format!("{}{path}", sandbox.pixieset_base_url()))
            .header("Cookie", sandbox::PIXIESET_COOKIE)
            .header("X-Requested-With", "XMLHttpRequest")
            .header("Content-Type", "application/json")
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        assert!(response.status().is_success(), "the sandbox answered {}", response.status());
        response.json::<Value>().await.expect("a JSON answer")
    };
    // The documents show a contract naming its client and template only by embedding them.
    let list = answer(get("/contracts?per_page=45&expand=all".into()).await.expect("the sandbox answers")).await;
    let contracts = list["data"].as_array().expect("a list of contracts");
    assert_eq!(contracts.len(), 45);
    for contract in contracts {
        let (client, template) = (&contract["client"]["id"], &contract["template"]["id"]);
        let client = answer(get(format!("/clients/{}", client.as_str().unwrap())).await.unwrap()).await;
        assert!(client["data"]["email"].is_string());
        let template = answer(get(format!("/templates/contracts/{}", template.as_str().unwrap())).await.unwrap());
        assert!(template.await["data"]["name"].is_string());
    }
    1 + 2 * contracts.len() as u64
}

/// The median of `runs` timed runs of `work`, and the upstream calls of the last.
async fn timed<F, Fut>(sandbox: &Sandbox, runs: usize, mut work: F) -> (Duration, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (mut times, mut calls) = (Vec::with_capacity(runs), 0);
    for _ in 0..runs {
        sandbox.reset_requests();
        let started = Instant::now();
        work().await;
        times.push(started.elapsed());
        calls = sandbox.requests().total;
    }
    times.sort();
    (percentile(&times, 0.5), calls)
}

struct SideBySide {
    added_latency_ms: u64,
    naive: (Duration, u64),
    cold: (Duration, u64),
    warm: (Duration, u64),
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("PIXGATE_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let wrk = support::wrk_version();
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), SandboxSettings::default()).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    let warm = Gateway::start(&sandbox, &[]);
    let cold = Gateway::start(&sandbox, &[("PIXGATE_CACHE_MB", "0")]);

    // Warm the cache, and find the second page of the client list.
    support::ask(&http, &warm.addr, CLIENT).await;
    support::ask(&http, &warm.addr, CONTRACTS).await;
    let first_page = support::ask(&http, &warm.addr, "{ clients(first: 10) { pageInfo { endCursor } } }").await;
    let cursor = first_page["data"]["clients"]["pageInfo"]["endCursor"].as_str().expect("a cursor").to_string();
    let page = format!(
        "{{ clients(first: 10, after: {cursor:?}) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id firstName email }} }} }} }}"
    );
    support::ask(&http, &warm.addr, &page).await;
    let idle_kib = warm.rss_kib();

    // Three instances: each asked the 45 contracts once, cold, in turn; then warmed through the load balancer.
    let fleet = Fleet::start(&sandbox, &[]).await;
    let fleet_cold = match fleet {
        Some(_) => Fleet::start(&sandbox, &[("PIXGATE_CACHE_MB", "0")]).await,
        None => None,
    };
    let mut fleet_first = None;
    if let Some(fleet) = &fleet {
        sandbox.reset_requests();
        let mut times = Vec::new();
        for gateway in &fleet.gateways {
            let started = Instant::now();
            support::ask(&http, &gateway.addr, CONTRACTS).await;
            times.push(started.elapsed());
        }
        fleet_first = Some((times, sandbox.requests().total));
        for _ in 0..fleet.gateways.len() {
            support::ask(&http, &fleet.addr, CLIENT).await;
            support::ask(&http, &fleet.addr, CONTRACTS).await;
        }
    }

    let mut scenarios = vec![
        Scenario { name: "one client by id (warm cache)", query: CLIENT.into(), on: On::Warm, numbered: false },
        Scenario {
            name: "45 contracts with client and template (warm cache)",
            query: CONTRACTS.into(),
            on: On::Warm,
            numbered: false,
        },
        Scenario {
            name: "45 contracts with client and template (cold: cache off)",
            query: CONTRACTS.into(),
            on: On::Cold,
            numbered: false,
        },
        Scenario { name: "clients, second page of 10 (warm cache)", query: page, on: On::Warm, numbered: false },
    ];
    if fleet.is_some() && fleet_cold.is_some() {
        scenarios.extend([
            Scenario {
                name: "three instances behind nginx: one client by id (warm cache)",
                query: CLIENT.into(),
                on: On::FleetWarm,
                numbered: false,
            },
            Scenario {
                name: "three instances behind nginx: 45 contracts (warm cache)",
                query: CONTRACTS.into(),
                on: On::FleetWarm,
                numbered: false,
            },
            Scenario {
                name: "three instances behind nginx: 45 contracts (cold: cache off)",
                query: CONTRACTS.into(),
                on: On::FleetCold,
                numbered: false,
            },
        ]);
    }
    // Last: the clients it creates make every later contract list slower for the sandbox to build.
    scenarios.push(Scenario {
        name: "createClient mutation",
        query: CREATE_CLIENT.into(),
        on: On::Warm,
        numbered: true,
    });
    let mut measured = Vec::new();
    for scenario in &scenarios {
        let target = match (scenario.on, &fleet, &fleet_cold) {
            (On::Warm, ..) => Target::of(&warm),
            (On::Cold, ..) => Target::of(&cold),
            (On::FleetWarm, Some(fleet), _) | (On::FleetCold, _, Some(fleet)) => Target::of_fleet(fleet),
            _ => continue,
        };
        measured.push(run_scenario(scenario, target, &sandbox, seconds).await);
    }
    drop((fleet, fleet_cold));

    let mut side_by_side = Vec::new();
    for added_latency_ms in ADDED_LATENCIES_MS {
        sandbox.set_faults(Faults { latency_ms: added_latency_ms, ..Faults::default() });
        let runs = if added_latency_ms == 0 { SEQUENTIAL_RUNS * 3 } else { SEQUENTIAL_RUNS };
        let naive = timed(&sandbox, runs, || async {
            naive_contracts(&http, &sandbox).await;
        })
        .await;
        let cold_run = timed(&sandbox, runs, || async {
            support::ask(&http, &cold.addr, CONTRACTS).await;
        })
        .await;
        let warm_run = timed(&sandbox, runs, || async {
            support::ask(&http, &warm.addr, CONTRACTS).await;
        })
        .await;
        side_by_side.push(SideBySide { added_latency_ms, naive, cold: cold_run, warm: warm_run });
    }
    sandbox.set_faults(Faults::default());

    let peak_kib =
        measured.iter().filter(|m| matches!(m.on, On::Warm | On::Cold)).map(|m| m.rss_peak_kib).max().unwrap_or(0);
    let machine = support::machine();
    let mut table = format!(
        "{}; {wrk}, 1 thread, {CONNECTIONS} connections, {seconds} s per scenario.\n\n",
        support::machine_line(&machine)
    );
    table.push_str(
        "| scenario | requests/s | p50 (ms) | p99 (ms) | max (ms) | upstream calls per query | failed answers |\n",
    );
    table.push_str("|---|---|---|---|---|---|---|\n");
    for m in &measured {
        table.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {:.2} | {} |\n",
            m.name,
            m.requests as f64 / m.seconds,
            ms(m.p50),
            ms(m.p99),
            ms(m.max),
            m.upstream_calls as f64 / m.requests.max(1) as f64,
            m.failures
        ));
    }
    table.push_str(&format!(
        "\nGateway memory (RSS): {} MiB idle after warming, {} MiB at most under load (one instance).\n\n",
        mib(idle_kib),
        mib(peak_kib)
    ));
    if let Some((times, calls)) = &fleet_first {
        let each: Vec<String> = times.iter().map(|t| format!("{} ms", ms(*t))).collect();
        let shared = if *calls == 1 { " (the first fetched; the others read what it stored in Redis)" } else { "" };
        table.push_str(&format!(
            "Three instances on one Redis, each asked the 45 contracts once, cold, in turn: {calls} upstream call(s) \
             in all; {}{shared}. The three-instance rows run nginx, three gateways and Redis on the same {} cores as \
             wrk and the sandbox: they measure what the load balancer and the shared tier cost, not how a fleet \
             scales.\n\n",
            each.join(", "),
            machine["cores"]
        ));
    }
    table.push_str("The 45 contracts with client and template, one client in sequence, median of the runs:\n\n");
    table.push_str("| latency added per upstream answer | naive REST client (ms) | its requests | pixgate cold (ms) | its upstream calls | pixgate warm (ms) | its upstream calls | naive ÷ cold | naive ÷ warm |\n");
    table.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for row in &side_by_side {
        table.push_str(&format!(
            "| {} ms | {} | {} | {} | {} | {} | {} | {:.1}x | {:.1}x |\n",
            row.added_latency_ms,
            ms(row.naive.0),
            row.naive.1,
            ms(row.cold.0),
            row.cold.1,
            ms(row.warm.0),
            row.warm.1,
            row.naive.0.as_secs_f64() / row.cold.0.as_secs_f64(),
            row.naive.0.as_secs_f64() / row.warm.0.as_secs_f64(),
        ));
    }
    let figures = json!({
        "machine": machine,
        "load_generator": { "wrk": wrk, "threads": 1, "connections": CONNECTIONS, "seconds_per_scenario": seconds },
        "scenarios": measured.iter().map(|m| json!({
            "name": m.name,
            "requests": m.requests,
            "requests_per_second": m.requests as f64 / m.seconds,
            "p50_ms": m.p50.as_secs_f64() * 1000.0,
            "p99_ms": m.p99.as_secs_f64() * 1000.0,
            "max_ms": m.max.as_secs_f64() * 1000.0,
            "upstream_calls_per_query": m.upstream_calls as f64 / m.requests.max(1) as f64,
            "failed_answers": m.failures,
            "gateway_rss_peak_mib": m.rss_peak_kib as f64 / 1024.0,
        })).collect::<Vec<_>>(),
        "gateway_rss_mib": { "idle": idle_kib as f64 / 1024.0, "under_load_peak": peak_kib as f64 / 1024.0 },
        "three_instances_first_asks": fleet_first.as_ref().map(|(times, calls)| json!({
            "query": CONTRACTS,
            "ms": times.iter().map(|t| t.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
            "upstream_calls_in_all": calls,
        })),
        "side_by_side": side_by_side.iter().map(|row| json!({
            "query": CONTRACTS,
            "added_latency_ms": row.added_latency_ms,
            "naive_ms": row.naive.0.as_secs_f64() * 1000.0,
            "naive_requests": row.naive.1,
            "pixgate_cold_ms": row.cold.0.as_secs_f64() * 1000.0,
            "pixgate_cold_upstream_calls": row.cold.1,
            "pixgate_warm_ms": row.warm.0.as_secs_f64() * 1000.0,
            "pixgate_warm_upstream_calls": row.warm.1,
            "naive_over_cold": row.naive.0.as_secs_f64() / row.cold.0.as_secs_f64(),
            "naive_over_warm": row.naive.0.as_secs_f64() / row.warm.0.as_secs_f64(),
        })).collect::<Vec<_>>(),
    });
    support::write_figures("gateway.md", &table);
    support::write_figures("gateway.json", &(serde_json::to_string_pretty(&figures).expect("JSON") + "\n"));
    println!("{table}");
    println!("written: target/bench/gateway.md, target/bench/gateway.json");
    if measured.iter().any(|m| m.failures > 0 || m.requests == 0) {
        eprintln!("some answers failed: these figures do not measure working requests");
        std::process::exit(1);
    }
}
