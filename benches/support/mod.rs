//! What the benchmarks share: the gateway as its own process over an in-process
//! sandbox, and readings of a process's memory and CPU time.

#![allow(dead_code)] // each benchmark uses its own part

pub mod fixed_rate;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pixgate_sandbox::Sandbox;

pub struct Gateway {
    child: Child,
    pub addr: String,
    /// Held open: the gateway may still write to it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Gateway {
    /// The release binary over `sandbox`, rate limits and connection caps off (a benchmark measures the work),
    /// logging only warnings, with `settings` as extra environment. `PIXGATE_BENCH_GATEWAY`
    /// names another binary to measure: a build with frame pointers for `perf`, say.
    pub fn start(sandbox: &Sandbox, settings: &[(&str, &str)]) -> Gateway {
        let binary = std::env::var("PIXGATE_BENCH_GATEWAY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pixgate").into());
        Gateway::start_binary(&binary, sandbox, settings)
    }

    /// As `start`, with the gateway `binary` given: a build of another revision, say.
    pub fn start_binary(binary: &str, sandbox: &Sandbox, settings: &[(&str, &str)]) -> Gateway {
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0"])
            .envs(sandbox.gateway_env())
            .env("RUST_LOG", "warn")
            .env("PIXGATE_RATE_LIMIT_IP", "0")
            .env("PIXGATE_RATE_LIMIT_TENANT", "0")
            // Its thousands of clients share one address: the connection caps are for strangers.
            .env("PIXGATE_MAX_CONNECTIONS", "0")
            .env("PIXGATE_MAX_CONNECTIONS_PER_IP", "0")
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

/// Asks `query` of the gateway at `addr`; panics unless it answers without errors.
pub async fn ask(http: &reqwest::Client, addr: &str, query: &str) -> serde_json::Value {
    let answer: serde_json::Value = http
        .post(format!("http://{addr}/graphql"))
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("a JSON answer");
    assert!(answer["errors"].is_null(), "{query}: {answer}");
    answer
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

/// What wrk measured of one scenario.
pub struct WrkFigures {
    pub requests: u64,
    pub seconds: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Answers that were not HTTP 200 without GraphQL errors, and socket errors.
    pub failures: u64,
    /// The failures by kind, and the first failed answer's status and beginning.
    pub failed_how: String,
}

impl WrkFigures {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// wrk's version line; exits when wrk is not installed.
pub fn wrk_version() -> String {
    let output = Command::new("wrk").arg("--version").output();
    let text = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr));
    text.ok()
        .and_then(|t| t.lines().next().map(|l| l.split(" Copyright").next().unwrap_or(l).to_string()))
        .unwrap_or_else(|| {
            eprintln!("wrk is not installed: `apt-get install wrk`, or run scripts/benchmark, which installs it");
            std::process::exit(2)
        })
}

/// A wrk script: POSTs `body` with `headers`, counts answers that failed, and prints
/// its figures as JSON. With `numbered`, the body's `%d` is a number unique to each request.
fn wrk_script(body: &str, numbered: bool, headers: &[(&str, &str)]) -> String {
    let request = if numbered {
        "counter = 0\nfunction request()\n  counter = counter + 1\n  return wrk.format(nil, nil, nil, string.format(body, counter))\nend\n"
    } else {
        "wrk.body = body\n"
    };
    let headers: String =
        headers.iter().map(|(name, value)| format!("wrk.headers[\"{name}\"] = [==[{value}]==]\n")).collect();
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{headers}body = [==[{body}]==]
{request}
failures = 0
first = ""
function response(status, headers, answer)
  if status ~= 200 or answer:find('"errors"', 1, true) then
    failures = failures + 1
    -- Quotes, backslashes and control characters out, so that it fits in the JSON line below.
    if first == "" then first = status .. " " .. (answer:sub(1, 200):gsub('[%c"\\]', " ")) end
  end
end
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local errors = summary.errors
  local failed = errors.connect + errors.read + errors.write + errors.timeout
  local answers, example = 0, ""
  for _, thread in ipairs(threads) do
    answers = answers + thread:get("failures")
    if example == "" then example = thread:get("first") end
  end
  local how = string.format("sockets: connect %d, read %d, write %d, timeout %d; answers %d %s",
    errors.connect, errors.read, errors.write, errors.timeout, answers, example)
  io.write(string.format('{{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"failures":%d,"failed_how":"%s"}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, failed + answers, how))
end
"#
    )
}

/// Drives `POST http://{addr}/graphql` with `body` for `seconds`, one wrk thread.
pub async fn wrk(
    addr: &str,
    body: &str,
    numbered: bool,
    headers: &[(&str, &str)],
    connections: usize,
    seconds: u64,
) -> WrkFigures {
    let script = std::env::temp_dir().join(format!("pixgate-bench-{}-{}.lua", std::process::id(), free_port()));
    std::fs::write(&script, wrk_script(body, numbered, headers)).expect("the wrk script is written");
    let output = tokio::process::Command::new("wrk")
        .args(["--threads", "1", "--connections", &connections.to_string(), "--duration", &format!("{seconds}s")])
        .arg("--script")
        .arg(&script)
        .arg(format!("http://{addr}/graphql"))
        .output()
        .await
        .expect("wrk runs");
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let figures: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("wrk printed no figures: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    let micros = |field: &str| Duration::from_micros(figures[field].as_u64().unwrap_or(0));
    WrkFigures {
        requests: figures["requests"].as_u64().unwrap_or(0),
        seconds: figures["duration_us"].as_f64().unwrap_or(1.0) / 1e6,
        p50: micros("p50_us"),
        p99: micros("p99_us"),
        max: micros("max_us"),
        failures: figures["failures"].as_u64().unwrap_or(u64::MAX),
        failed_how: figures["failed_how"].as_str().unwrap_or_default().to_string(),
    }
}

/// The processes a process started, as any of its threads did.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|task| {
            std::fs::read_to_string(task.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Resident memory of a process and every process it started.
pub fn tree_rss_kib(pid: u32) -> u64 {
    rss_kib(&pid.to_string()) + children(pid).into_iter().map(tree_rss_kib).sum::<u64>()
}

/// CPU time a process and every process it started (and still runs) have used.
pub fn tree_cpu_time(pid: u32) -> Duration {
    cpu_time(&pid.to_string()) + children(pid).into_iter().map(tree_cpu_time).sum::<Duration>()
}

/// CPU time the whole machine has been busy, every core and every process, from `/proc/stat`.
pub fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .map(|fields| fields.split_whitespace().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    // user, nice, system, idle, iowait, irq, softirq, steal: all but idle and iowait are busy.
    let busy: u64 = ticks.iter().take(8).enumerate().filter(|(n, _)| !matches!(n, 3 | 4)).map(|(_, t)| t).sum();
    // In clock ticks of 1/100 s, as `cpu_time`'s.
    Duration::from_millis(busy * 10)
}

const NGINX: &str = "/usr/sbin/nginx";

/// Three gateways on a Redis of their own behind Debian's nginx, round robin, with the
/// load balancer's configuration pixgate ships (`deploy/nginx/pixgate.conf`).
pub struct Fleet {
    /// The load balancer's address.
    pub addr: String,
    pub gateways: Vec<Gateway>,
    redis: Child,
    nginx: Child,
    dir: std::path::PathBuf,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

impl Fleet {
    /// None when nginx or redis-server is not installed (`scripts/benchmark` installs both).
    pub async fn start(sandbox: &Sandbox, settings: &[(&str, &str)]) -> Option<Fleet> {
        if !std::path::Path::new(NGINX).exists() || Command::new("redis-server").arg("--version").output().is_err() {
            eprintln!("no nginx or redis-server: the three-instance rows are left out");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("pixgate-bench-fleet-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let redis_port = free_port().to_string();
        let redis = Command::new("redis-server")
            .args(["--port", &redis_port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let redis_url = format!("redis://127.0.0.1:{redis_port}");
        let mut shared = vec![("PIXGATE_REDIS_URL", redis_url.as_str())];
        shared.extend_from_slice(settings);
        let gateways: Vec<Gateway> = (0..3).map(|_| Gateway::start(sandbox, &shared)).collect();

        let lb_port = free_port();
        let servers: String = gateways.iter().map(|g| format!("server {};\n", g.addr)).collect();
        let site = include_str!("../../deploy/nginx/pixgate.conf")
            .replace("server pixgate:8080;", &servers)
            .replace("listen 8080;", &format!("listen 127.0.0.1:{lb_port};"));
        std::fs::write(dir.join("pixgate.conf"), site).expect("the site is written");
        let temp = dir.display();
        let conf = format!(
            "daemon off; pid {temp}/nginx.pid; error_log {temp}/error.log warn; events {{ worker_connections 4096; }}
            http {{ access_log off; client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;
              fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
              include {temp}/pixgate.conf; }}"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("the configuration is written");
        let nginx = Command::new(NGINX)
            .args(["-p", &temp.to_string(), "-c", &format!("{temp}/nginx.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let fleet = Fleet { addr: format!("127.0.0.1:{lb_port}"), gateways, redis, nginx, dir };
        fleet.until_linked().await;
        Some(fleet)
    }

    /// Waits until nginx accepts connections and every gateway hears the others through Redis.
    async fn until_linked(&self) {
        let http = reqwest::Client::new();
        // The events' channel: a gateway whose cache is off has no invalidations to hear.
        let linked = "pixgate_redis_link_up{channel=\"pixgate:image-status\"} 1";
        let mut waiting_for = Vec::new();
        for _ in 0..500 {
            waiting_for.clear();
            if tokio::net::TcpStream::connect(&self.addr).await.is_err() {
                waiting_for.push(format!("nginx on {}", self.addr));
            }
            for gateway in &self.gateways {
                let metrics = http.get(format!("http://{}/metrics", gateway.addr)).send().await;
                let text = match metrics {
                    Ok(answer) => answer.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                if !text.lines().any(|line| line == linked) {
                    waiting_for.push(format!("the gateway on {} to hear Redis", gateway.addr));
                }
            }
            if waiting_for.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        panic!("the fleet never came up: waiting for {}\nnginx's log: {log}", waiting_for.join(", "));
    }

    /// The resident memory of the three gateways together.
    pub fn rss_kib(&self) -> u64 {
        self.gateways.iter().map(Gateway::rss_kib).sum()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // SIGTERM, so nginx's master takes its workers with it.
        let _ = Command::new("kill").args(["-TERM", &self.nginx.id().to_string()]).status();
        let _ = self.nginx.wait();
        let _ = self.redis.kill();
        let _ = self.redis.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
