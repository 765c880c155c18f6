//! A keyed write happens once, whatever fails between the write and its retry: an answer
//! garbled, late past the timeout or dropped; the records' Redis killed and restarted; the
//! cache filling memory; an instance killed mid-write. Redis runs as `deploy/compose.yaml` runs
//! it (its two roles, read from that file), two instances share it, and every test counts the
//! writes the sandbox received.

use std::process::{Command, Stdio};
use std::time::Duration;

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::{FaultTarget, Faults, Sandbox, documented};
use serde_json::Value;

use crate::fleet::{Process, free_port, pixgate_with, post};
use crate::gateway::{gateway, graphql};
use crate::support::http;
use sha2::Digest as _;

const CLIENTS: &str = "POST /api/v1/clients";
const INVOICES: &str = "POST /api/v1/invoices";
const IMAGES: &str = "POST /REST.svc/JSON/Image";
const WHITE_GLOVE: &str = "POST /REST.svc/JSON/WhiteGloveService";

/// The arguments `deploy/compose.yaml` starts one of its Redis services with.
fn compose_command(service: &str) -> Vec<String> {
    let compose = include_str!("../../deploy/compose.yaml");
    let block = compose.split(&format!("\n  {service}:\n")).nth(1).expect("the service is in deploy/compose.yaml");
    let command = block.split("command:").nth(1).expect("the service has a command");
    let list = &command[command.find('[').unwrap() + 1..command.find(']').unwrap()];
    let args: Vec<String> = list.split('"').skip(1).step_by(2).map(str::to_string).collect();
    assert_eq!(args.first().map(String::as_str), Some("redis-server"));
    args[1..].to_vec()
}

/// redis-server comes from Debian on the test machines (`.ci/run` installs it).
pub(crate) fn redis_server_available() -> bool {
    let present = Command::new("redis-server").arg("--version").output().is_ok();
    if !present {
        assert!(std::env::var_os("CI").is_none(), "redis-server is missing; .ci/run installs it");
        eprintln!("skipped: no redis-server");
    }
    present
}

/// A keyed write sent until the records' Redis answers again (a refused write sent nothing).
async fn keyed_once_recorded(gateway: &Running, query: &str, key: &str) -> Result<String, String> {
    for _ in 0..100 {
        match keyed(gateway, query, key).await {
            Err(code) if code == "IDEMPOTENCY_UNAVAILABLE" => tokio::time::sleep(Duration::from_millis(50)).await,
            answer => return answer,
        }
    }
    panic!("the records' Redis never answered again");
}

/// A Redis server started as compose starts `service`, on its own port and directory.
pub(crate) struct Redis {
    args: Vec<String>,
    port: u16,
    dir: std::path::PathBuf,
    process: Option<Process>,
}

impl Redis {
    fn start(service: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pixgate-{service}-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self { args: compose_command(service), port: free_port(), dir, process: None };
        redis.run();
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let mut args = self.args.clone();
        if let Some(at) = args.iter().position(|a| a == "--dir") {
            args[at + 1] = self.dir.display().to_string();
        }
        args.extend(["--port".into(), self.port.to_string(), "--bind".into(), "127.0.0.1".into()]);
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.process = Some(Process(child));
    }

    /// SIGKILL: no chance to write anything more.
    fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.0.kill().unwrap();
            process.0.wait().unwrap();
        }
    }

    async fn until_up(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..250 {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut connection).await.is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server on {} never answered", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn uuid_like() -> String {
    format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

/// Both roles of Redis, as compose runs them.
pub(crate) async fn both_redis() -> (Redis, Redis) {
    let (shared, records) = (Redis::start("redis"), Redis::start("redis-records"));
    shared.until_up().await;
    records.until_up().await;
    (shared, records)
}

async fn instance(upstream: &Sandbox, shared: &Redis, records: &Redis) -> Running {
    gateway(ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        pixieset_cookie: Some(pixgate_sandbox::PIXIESET_COOKIE.into()),
        pixelz_contact_email: Some(pixgate_sandbox::PIXELZ_CONTACT_EMAIL.into()),
        pixelz_api_key: Some(pixgate_sandbox::PIXELZ_API_KEY.into()),
        redis_url: Some(shared.url()),
        records_redis_url: Some(records.url()),
        upstream_timeout_ms: Some(500),
        rate_limit_ip: Some(0),
        ..ServeArgs::default()
    })
    .await
}

fn writes(upstream: &Sandbox, endpoint: &str) -> u64 {
    upstream.requests().count(endpoint)
}

fn create_client(email: &str) -> String {
    format!(
        "mutation {{ createClient(input: {{ firstName: \"Once\", lastName: \"Only\", email: \"{email}\" }}) {{ client {{ id }} userErrors {{ message }} }} }}"
    )
}

fn create_invoice(name: &str) -> String {
    format!(
        "mutation {{ createInvoice(input: {{ clientId: \"{}\", dueDate: \"2027-03-01\", lineItems: [{{ name: \"{name}\", unitAmount: 25000, quantity: 2 }}] }}) {{ invoice {{ id }} userErrors {{ message }} }} }}",
        documented::CLIENT_ID
    )
}

fn submit(field: &str, url: &str) -> String {
    format!("mutation {{ {field}(input: {{ imageUrls: [\"{url}\"] }}) {{ ticket userErrors {{ message }} }} }}")
}

/// The id the write answered with, or the error code it was refused with.
fn written(body: &Value) -> Result<String, String> {
    let data = body["data"].as_object().and_then(|d| d.values().next()).cloned().unwrap_or(Value::Null);
    let id = [&data["client"]["id"], &data["invoice"]["id"], &data["ticket"]].into_iter().find_map(|v| v.as_str());
    match id {
        Some(id) => Ok(id.to_string()),
        None => Err(body["errors"][0]["extensions"]["code"].as_str().map_or_else(|| body.to_string(), str::to_string)),
    }
}

async fn keyed(gateway: &Running, query: &str, key: &str) -> Result<String, String> {
    written(&graphql(gateway, query, &[("Idempotency-Key", key)]).await)
}

#[tokio::test]
async fn a_lost_answer_is_settled_upstream_with_one_write_through_two_instances() {
    if !redis_server_available() {
        return;
    }
    let (shared, records) = both_redis().await;
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b) = (instance(&upstream, &shared, &records).await, instance(&upstream, &shared, &records).await);
    let faults = [
        ("garbled", Faults { malformed_rate: 1.0, ..Faults::default() }),
        ("late", Faults { late_answer_ms: 1_500, ..Faults::default() }),
        ("dropped", Faults { drop_answer_rate: 1.0, ..Faults::default() }),
    ];
    for (n, (fault, injected)) in faults.into_iter().enumerate() {
        let writes_before: Vec<u64> = [CLIENTS, INVOICES, IMAGES, WHITE_GLOVE].map(|e| writes(&upstream, e)).to_vec();
        let cases = [
            (CLIENTS, create_client(&format!("lost-{fault}@example.com"))),
            (INVOICES, create_invoice(&format!("Lost answer ({fault})"))),
            (IMAGES, submit("submitPixelzImage", &format!("https://images.example.com/{fault}.jpg"))),
            (WHITE_GLOVE, submit("requestWhiteGloveService", &format!("https://images.example.com/{fault}-glove.jpg"))),
        ];
        for (endpoint, query) in &cases {
            let key = format!("{fault}-{endpoint}");
            let target = if endpoint.contains("REST.svc") { FaultTarget::Pixelz } else { FaultTarget::Pixieset };
            upstream.set_faults(Faults { target, methods: vec!["POST".into()], ..injected.clone() });
            let first = keyed(&a, query, &key).await;
            upstream.set_faults(Faults::default());
            let retried = keyed(&b, query, &key).await;
            assert!(first.is_ok(), "{fault} {endpoint}: the write was found upstream at once: {first:?}");
            assert_eq!(retried, first, "{fault} {endpoint}: the retry on the other instance answers the write");
            assert_eq!(keyed(&a, query, &key).await, first, "{fault} {endpoint}: and so does a third");
        }
        for ((endpoint, _), before) in cases.iter().zip(writes_before) {
            assert_eq!(writes(&upstream, endpoint), before + 1, "{fault} (round {n}): {endpoint} written once");
        }
    }
}

#[tokio::test]
async fn records_outlive_their_redis_killed_and_restarted_and_a_keyed_write_waits_for_them() {
    if !redis_server_available() {
        return;
    }
    let (shared, mut records) = both_redis().await;
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b) = (instance(&upstream, &shared, &records).await, instance(&upstream, &shared, &records).await);
    let invoice = create_invoice("Survives a restart");
    let first = keyed(&a, &invoice, "restart-invoice").await.expect("written");

    records.kill();
    // With the records away, a keyed write the upstream cannot check is refused and nothing is sent;
    // a Pixelz submission is checked by its key-made customerImageId, and made once.
    let client = create_client("while-away@example.com");
    assert_eq!(keyed(&b, &client, "away-client").await, Err("IDEMPOTENCY_UNAVAILABLE".into()));
    assert_eq!(writes(&upstream, CLIENTS), 0, "refused, never risked twice");
    let image = submit("submitPixelzImage", "https://images.example.com/while-away.jpg");
    let submitted = keyed(&b, &image, "away-image").await.expect("checked upstream, then written");
    let unkeyed = graphql(&a, &create_invoice("No key"), &[]).await;
    assert!(unkeyed["data"]["createInvoice"]["invoice"]["id"].is_string(), "a write without a key is unaffected");

    records.run();
    records.until_up().await;
    let retried = keyed_once_recorded(&b, &invoice, "restart-invoice").await;
    assert_eq!(retried, Ok(first), "the record came back with Redis");
    assert_eq!(keyed_once_recorded(&a, &image, "away-image").await, Ok(submitted), "found upstream by its key");
    assert_eq!(writes(&upstream, INVOICES), 2, "the keyed invoice once, and the one without a key");
    assert_eq!(writes(&upstream, IMAGES), 1);
    assert_eq!(keyed_once_recorded(&a, &client, "away-client").await.map(|_| ()), Ok(()), "now recorded, and written");
    assert_eq!(writes(&upstream, CLIENTS), 1);
}

#[tokio::test]
async fn records_are_not_evicted_when_the_shared_redis_fills_with_cache_and_queries() {
    if !redis_server_available() {
        return;
    }
    let (shared, records) = both_redis().await;
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b) = (instance(&upstream, &shared, &records).await, instance(&upstream, &shared, &records).await);
    let mut firsts = Vec::new();
    for n in 0..20 {
        firsts.push(keyed(&a, &create_invoice(&format!("Pressure {n}")), &format!("pressure-{n}")).await.unwrap());
    }
    // 96 MB of persisted queries, registered through the gateway into a shared Redis bounded at 64 MB.
    let padding = "q".repeat(240 * 1024);
    for n in 0..400 {
        let query = format!("{{ __typename }}\n# {n} {padding}");
        let hash = format!("{:x}", sha2::Sha256::digest(query.as_bytes()));
        let body = serde_json::json!({
            "query": query,
            "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } },
        });
        let response = http().post(format!("http://{}/graphql", a.addr())).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200, "registration {n}");
    }
    let client = redis::Client::open(shared.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO").arg("stats").query_async(&mut connection).await.unwrap();
    let evicted: u64 = info.lines().find_map(|l| l.strip_prefix("evicted_keys:")).unwrap().trim().parse().unwrap();
    assert!(evicted > 0, "the shared Redis was under pressure");
    for (n, first) in firsts.into_iter().enumerate() {
        let retried = keyed(&b, &create_invoice(&format!("Pressure {n}")), &format!("pressure-{n}")).await;
        assert_eq!(retried, Ok(first), "write {n}");
    }
    assert_eq!(writes(&upstream, INVOICES), 20);
}

#[tokio::test]
async fn an_instance_killed_mid_write_is_settled_by_the_retry_on_another() {
    if !redis_server_available() {
        return;
    }
    let (shared, records) = both_redis().await;
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let env = [
        ("PIXGATE_RECORDS_REDIS_URL", records.url()),
        ("PIXGATE_UPSTREAM_TIMEOUT_MS", "1000".to_string()),
        ("PIXGATE_UPSTREAM_MAX_ATTEMPTS", "1".to_string()),
        ("PIXIESET_COOKIE", pixgate_sandbox::PIXIESET_COOKIE.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut a, a_addr) = pixgate_with(&upstream, &shared.url(), "http://127.0.0.1:1", &env);
    let (_b, b_addr) = pixgate_with(&upstream, &shared.url(), "http://127.0.0.1:1", &env);
    // The invoice is made at once, its answer held back: A dies waiting for it.
    upstream.set_faults(Faults { late_answer_ms: 5_000, methods: vec!["POST".into()], ..Faults::default() });
    let invoice = create_invoice("Outlives its instance");
    let headers = [("Idempotency-Key", "killed-mid-write")];
    let pending = {
        let (addr, invoice) = (a_addr.clone(), invoice.clone());
        tokio::spawn(async move { post(&addr, &invoice, &[("Idempotency-Key", "killed-mid-write")]).await })
    };
    for _ in 0..200 {
        if writes(&upstream, INVOICES) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(writes(&upstream, INVOICES), 1, "the write reached the upstream");
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    pending.abort();
    upstream.set_faults(Faults::default());

    let (status, body) = post(&b_addr, &invoice, &headers).await;
    assert_eq!(status, 200);
    let settled = written(&body).expect("found upstream");
    assert_eq!(writes(&upstream, INVOICES), 1, "never written twice");
    let (_, invoices) =
        crate::support::pixieset_get(&upstream, &format!("/invoices/?client_id={}", documented::CLIENT_ID)).await;
    let newest =
        invoices["data"].as_array().unwrap().iter().find(|i| i["line_items"][0]["name"] == "Outlives its instance");
    assert_eq!(newest.map(|i| i["id"].as_str().unwrap().to_string()), Some(settled));
}

#[tokio::test]
async fn a_key_names_the_operations_meaning_not_its_wording() {
    let gateway = gateway(ServeArgs::default()).await;
    let upstream = gateway.sandbox().unwrap();
    let client = documented::CLIENT_ID;
    let plain = format!(
        "mutation {{ createInvoice(input: {{ clientId: \"{client}\", dueDate: \"2027-04-01\", lineItems: [{{ name: \"Album\", unitAmount: 900 }}] }}) {{ invoice {{ id }} }} }}"
    );
    let reworded = format!(
        "mutation Album {{\n  renamed: createInvoice(\n    input: {{ lineItems: [{{ unitAmount: 900, name: \"Album\" }}], dueDate: \"2027-04-01\", clientId: \"{client}\" }}\n  ) {{ invoice {{ id }} }}\n}}"
    );
    let first = graphql(&gateway, &plain, &[("Idempotency-Key", "album")]).await;
    let again = graphql(&gateway, &reworded, &[("Idempotency-Key", "album")]).await;
    assert_eq!(first["data"]["createInvoice"]["invoice"]["id"], again["data"]["renamed"]["invoice"]["id"]);
    assert!(first["data"]["createInvoice"]["invoice"]["id"].is_string(), "{first}");
    assert_eq!(writes(upstream, INVOICES), 1, "the same write, worded otherwise");

    // Two writes of one kind in one operation under one key stay two writes, each once.
    let two = format!(
        "mutation {{ one: createInvoice(input: {{ clientId: \"{client}\", lineItems: [{{ name: \"Print\", unitAmount: 100 }}] }}) {{ invoice {{ id }} }} two: createInvoice(input: {{ clientId: \"{client}\", lineItems: [{{ name: \"Frame\", unitAmount: 200 }}] }}) {{ invoice {{ id }} }} }}"
    );
    let both = graphql(&gateway, &two, &[("Idempotency-Key", "two")]).await;
    let both_again = graphql(&gateway, &two, &[("Idempotency-Key", "two")]).await;
    assert_eq!(both["data"], both_again["data"]);
    assert_ne!(both["data"]["one"]["invoice"]["id"], both["data"]["two"]["invoice"]["id"], "{both}");
    assert_eq!(writes(upstream, INVOICES), 3);
}
