//! Builds of the gateway side by side: what a change cost or saved, measured.
//!
//! `PIXGATE_BENCH_BUILDS` names the builds as `label=binary` pairs, comma-separated, the
//! first the one the others are compared with, `.` for this tree's own build
//! (`scripts/compare-builds` builds revisions and sets it). Each round starts every build in turn, the order reversed every other
//! round so that neither always runs first on a warmer machine, and drives three rows with
//! wrk over one in-process sandbox: one client by id and the 45-contract dashboard on a
//! warmed cache, and the dashboard with the cache off (every request goes upstream). Each
//! row is reported as the median requests per second over the rounds, its range, and the
//! ratio of medians to the first build's. One machine's figures drift by more than a
//! small change costs; the rounds alternating in time are what lets a few percent show.
//!
//! `PIXGATE_BENCH_ROUNDS` (default 5) and `PIXGATE_BENCH_SECS` (default 4) set the
//! rounds and each row's length. Writes `target/bench/builds.md`.

use pixgate_sandbox::{Sandbox, SandboxSettings};
use serde_json::json;
use support::Gateway;

mod support;

const CONNECTIONS: usize = 16;
const CLIENT: &str = "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { firstName lastName email type } }";
const CONTRACTS: &str = "{ contracts(first: 45) { edges { node { client { email } template { name } } } } }";

struct Row {
    name: &'static str,
    query: &'static str,
    warm: bool,
}

const ROWS: [Row; 3] = [
    Row { name: "one client by id (warm cache)", query: CLIENT, warm: true },
    Row { name: "45 contracts with client and template (warm cache)", query: CONTRACTS, warm: true },
    Row { name: "45 contracts with client and template (cold: cache off)", query: CONTRACTS, warm: false },
];

struct Build {
    label: String,
    binary: String,
}

fn builds() -> Vec<Build> {
    let listed = std::env::var("PIXGATE_BENCH_BUILDS").unwrap_or_default();
    let builds: Vec<Build> = listed
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (label, binary) = pair.split_once('=').unwrap_or_else(|| {
                eprintln!("PIXGATE_BENCH_BUILDS: `{pair}` is not label=binary");
                std::process::exit(2)
            });
            // `.`: this tree, as this benchmark was built with it.
            let binary = if binary.trim() == "." { env!("CARGO_BIN_EXE_pixgate") } else { binary };
            if !std::path::Path::new(binary).is_file() {
                eprintln!("PIXGATE_BENCH_BUILDS: {label}'s binary {binary} does not exist");
                std::process::exit(2)
            }
            Build { label: label.trim().to_string(), binary: binary.trim().to_string() }
        })
        .collect();
    if builds.len() < 2 {
        eprintln!(
            "PIXGATE_BENCH_BUILDS names the builds to compare, at least two, as label=binary,label=binary: \
             scripts/compare-builds builds revisions and sets it"
        );
        std::process::exit(2)
    }
    builds
}

/// One build's rows in one round: requests per second, in the order of ROWS.
async fn round(build: &Build, sandbox: &Sandbox, http: &reqwest::Client, seconds: u64) -> Vec<f64> {
    let mut figures = Vec::with_capacity(ROWS.len());
    for warm in [true, false] {
        let settings: &[(&str, &str)] = if warm { &[] } else { &[("PIXGATE_CACHE_MB", "0")] };
        let gateway = Gateway::start_binary(&build.binary, sandbox, settings);
        for row in ROWS.iter().filter(|row| row.warm == warm) {
            // Asked a few times first: the cache filled, the connections' buffers grown.
            for _ in 0..3 {
                support::ask(http, &gateway.addr, row.query).await;
            }
            let body = json!({ "query": row.query }).to_string();
            let measured = support::wrk(&gateway.addr, &body, false, &[], CONNECTIONS, seconds).await;
            if measured.failures > 0 {
                eprintln!("{} on {}: {} failed ({})", row.name, build.label, measured.failures, measured.failed_how);
            }
            figures.push(measured.per_second());
        }
    }
    figures
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 0 { (sorted[middle - 1] + sorted[middle]) / 2.0 } else { sorted[middle] }
}

#[tokio::main]
async fn main() {
    let builds = builds();
    let rounds: usize = std::env::var("PIXGATE_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let seconds: u64 = std::env::var("PIXGATE_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let wrk = support::wrk_version();
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), SandboxSettings::default()).await.expect("sandbox starts");
    let http = reqwest::Client::new();

    // measured[build][row] holds one figure per round.
    let mut measured = vec![vec![Vec::with_capacity(rounds); ROWS.len()]; builds.len()];
    for n in 0..rounds {
        let order: Vec<usize> =
            if n % 2 == 0 { (0..builds.len()).collect() } else { (0..builds.len()).rev().collect() };
        for b in order {
            let figures = round(&builds[b], &sandbox, &http, seconds).await;
            let line: Vec<String> = figures.iter().map(|f| format!("{f:.0}")).collect();
            println!("round {} {}: {} req/s", n + 1, builds[b].label, line.join(" / "));
            for (row, figure) in figures.into_iter().enumerate() {
                measured[b][row].push(figure);
            }
        }
    }

    let mut table = format!(
        "{}\n\n{wrk}, {CONNECTIONS} connections, {rounds} rounds of {seconds} s per row, builds alternating; \
         requests per second, median (lowest–highest), and the ratio of medians to {}.\n\n",
        support::machine_line(&support::machine()),
        builds[0].label
    );
    table.push_str("| row |");
    for build in &builds {
        table.push_str(&format!(" {} |", build.label));
    }
    for build in &builds[1..] {
        table.push_str(&format!(" {} ÷ {} |", build.label, builds[0].label));
    }
    table.push_str(&format!("\n|---|{}\n", "---|".repeat(2 * builds.len() - 1)));
    for (r, row) in ROWS.iter().enumerate() {
        table.push_str(&format!("| {} |", row.name));
        for figures in &measured {
            let (low, high) = figures[r].iter().fold((f64::MAX, 0.0f64), |(l, h), f| (l.min(*f), h.max(*f)));
            table.push_str(&format!(" {:.0} ({low:.0}–{high:.0}) |", median(&figures[r])));
        }
        let base = median(&measured[0][r]);
        for figures in &measured[1..] {
            table.push_str(&format!(" {:.3} |", median(&figures[r]) / base));
        }
        table.push('\n');
    }
    table.push_str("\nThe builds:\n\n");
    for build in &builds {
        let binary = build.binary.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/")).unwrap_or(&build.binary);
        table.push_str(&format!("- {}: `{binary}`\n", build.label));
    }
    println!("\n{table}");
    support::write_figures("builds.md", &table);
}
