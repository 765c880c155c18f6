//! What batching, caching and embedded summaries save, measured.
//!
//! Runs the sandbox on loopback with 20 ms added to every upstream answer, and
//! times one query through three gateways: pixgate as it ships, the same
//! resolvers built with batching and caching off, and those against a Pixieset
//! whose lists embed no summaries (the sandbox set to ignore `expand` on lists).
//! Prints upstream calls and wall times, cold and warm, as measured.
//!
//! `cargo bench --bench resolvers`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pixgate::cli::ServeArgs;
use pixgate::config::{Config, FileConfig};
use pixgate::loaders::Lookups;
use pixgate::startup::{self, Running};
use pixgate_sandbox::{Faults, Sandbox, SandboxSettings};

const QUERY: &str = "{ contracts(first: 45) { edges { node { client { email } template { name } } } } }";
const LATENCY_MS: u64 = 20;
const COLD_RUNS: usize = 7;
const WARM_RUNS: usize = 30;

struct Mode {
    name: &'static str,
    batching: bool,
    caching: bool,
    summaries: bool,
}

const MODES: [Mode; 3] = [
    Mode { name: "pixgate", batching: true, caching: true, summaries: true },
    Mode { name: "batching and caching off", batching: false, caching: false, summaries: true },
    Mode { name: "also no embedded summaries", batching: false, caching: false, summaries: false },
];

async fn start(sandbox: &Sandbox, mode: &Mode) -> Running {
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        pixieset_base_url: Some(sandbox.pixieset_base_url()),
        pixelz_base_url: Some(sandbox.pixelz_base_url()),
        pixieset_cookie: Some(pixgate_sandbox::PIXIESET_COOKIE.into()),
        cache_mb: Some(if mode.caching { 64 } else { 0 }),
        // The benchmark measures the work, not the rate limits.
        rate_limit_ip: Some(0),
        rate_limit_tenant: Some(0),
        ..ServeArgs::default()
    };
    let config = Config::merge(args, FileConfig::default()).expect("bench config is valid");
    let lookups = if mode.batching { Lookups::Batched } else { Lookups::OneByOne };
    startup::start_measuring(config, lookups).await.expect("gateway starts")
}

/// Runs the query once; returns its wall time, the upstream calls it made, and how many repeated an earlier one.
async fn run(http: &reqwest::Client, gateway: &Running, sandbox: &Sandbox) -> (Duration, u64, u64) {
    sandbox.reset_requests();
    let started = Instant::now();
    let response = http
        .post(format!("http://{}/graphql", gateway.addr()))
        .json(&serde_json::json!({ "query": QUERY }))
        .send()
        .await
        .expect("gateway answers");
    let body: serde_json::Value = response.json().await.expect("JSON answer");
    let elapsed = started.elapsed();
    assert!(body["errors"].is_null(), "the query failed: {body}");
    assert_eq!(body["data"]["contracts"]["edges"].as_array().map(Vec::len), Some(45));
    let log = sandbox.requests();
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for request in &log.recent {
        *seen.entry(&request.path).or_default() += 1;
    }
    let duplicates = seen.values().map(|n| n - 1).sum();
    (elapsed, log.total, duplicates)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let settings = SandboxSettings {
        faults: Faults { latency_ms: LATENCY_MS, ..Faults::default() },
        ..SandboxSettings::default()
    };
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), settings).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    println!("query: {QUERY}");
    println!(
        "sandbox latency: {LATENCY_MS} ms per upstream answer; {COLD_RUNS} cold runs (a fresh gateway each), {WARM_RUNS} warm runs\n"
    );
    println!(
        "| resolvers | cold calls | cold duplicate calls | cold wall p50 (ms) | cold wall max (ms) | warm calls | warm wall p50 (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut verdicts = Vec::new();
    for mode in &MODES {
        let (mut cold_times, mut cold_calls, mut cold_duplicates) = (Vec::new(), 0, 0);
        sandbox.set_lists_embed(mode.summaries);
        let mut warm_gateway = None;
        for _ in 0..COLD_RUNS {
            let gateway = start(&sandbox, mode).await;
            let (elapsed, calls, duplicates) = run(&http, &gateway, &sandbox).await;
            cold_times.push(elapsed);
            cold_calls = cold_calls.max(calls);
            cold_duplicates = cold_duplicates.max(duplicates);
            warm_gateway = Some(gateway);
        }
        let gateway = warm_gateway.expect("at least one cold run");
        let (mut warm_times, mut warm_calls) = (Vec::new(), 0);
        for _ in 0..WARM_RUNS {
            let (elapsed, calls, _) = run(&http, &gateway, &sandbox).await;
            warm_times.push(elapsed);
            warm_calls = warm_calls.max(calls);
        }
        let cold_max = *cold_times.iter().max().expect("runs");
        let (cold_p50, warm_p50) = (median(cold_times), median(warm_times));
        println!(
            "| {} | {cold_calls} | {cold_duplicates} | {} | {} | {warm_calls} | {} |",
            mode.name,
            ms(cold_p50),
            ms(cold_max),
            ms(warm_p50)
        );
        if mode.name == "pixgate" {
            verdicts.push(("cold: no duplicate upstream call", cold_duplicates == 0));
            verdicts.push((
                "cold: wall time (p50) under 3x the injected latency",
                cold_p50 < Duration::from_millis(3 * LATENCY_MS),
            ));
            verdicts.push(("warm: zero upstream calls", warm_calls == 0));
        }
        gateway.shutdown().await.expect("gateway stops");
    }
    println!();
    let mut all = true;
    for (target, met) in verdicts {
        println!("{} {target}", if met { "met:   " } else { "MISSED:" });
        all &= met;
    }
    if !all {
        std::process::exit(1);
    }
}
