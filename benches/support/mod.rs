//! What the benchmarks share: the gateway as its own process over an in-process
//! sandbox, and readings of a process's memory and CPU time.

#![allow(dead_code)] // each benchmark uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pixgate::sandbox::Sandbox;

pub struct Gateway {
    child: Child,
    pub addr: String,
    /// Held open: the gateway may still write to it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Gateway {
    /// The release binary over `sandbox`, rate limits off (a benchmark measures the work),
    /// logging only warnings, with `settings` as extra environment. `PIXGATE_BENCH_GATEWAY`
    /// names another binary to measure: a build with frame pointers for `perf`, say.
    pub fn start(sandbox: &Sandbox, settings: &[(&str, &str)]) -> Gateway {
        let binary = std::env::var("PIXGATE_BENCH_GATEWAY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pixgate").into());
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0"])
            .envs(sandbox.gateway_env())
            .env("RUST_LOG", "warn")
            .env("PIXGATE_RATE_LIMIT_IP", "0")
            .env("PIXGATE_RATE_LIMIT_TENANT", "0")
            .env_remove("PIXGATE_REDIS_URL")
            .envs(settings.iter().copied())
            .stdout(Stdio::piped());
        let mut child = command.spawn().expect("the pixgate binary starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("a first line");
        let addr = line.trim().strip_prefix("listening on http://").expect("a listening line").to_string();
        Gateway { child, addr, _stdout: stdout }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(&self.pid().to_string())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process (`self` for this one), from `/proc/<pid>/status`.
pub fn rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time a process has used, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    // Linux reports clock ticks of 1/100 s.
    Duration::from_millis(ticks * 10)
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// What the figures were measured on.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']));
    let memory_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let run = |program: &str, args: &[&str]| {
        Command::new(program).args(args).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    serde_json::json!({
        "cpu": model.unwrap_or("unknown"),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "memory_gib": (memory_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": run("uname", &["-sr"]),
        "rustc": run("rustc", &["--version"]),
        "measured_at": run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    })
}

pub fn machine_line(machine: &serde_json::Value) -> String {
    let text = |field: &str| machine[field].as_str().unwrap_or("unknown").to_string();
    format!(
        "Measured {} on {} ({} cores, {} GiB), {}, {}",
        text("measured_at"),
        text("cpu"),
        machine["cores"],
        machine["memory_gib"],
        text("kernel"),
        text("rustc")
    )
}

/// Writes a benchmark's output under `target/bench/`.
pub fn write_figures(name: &str, contents: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench is writable");
    std::fs::write(dir.join(name), contents).expect("the figures are written");
}
