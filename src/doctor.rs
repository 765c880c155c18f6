//! `pixgate doctor`: with the settings `serve` would start with, asks whether each upstream
//! answers at its base URL, whether the default credentials are accepted (one harmless
//! documented read on each API), whether webhooks can be verified where Pixelz can reach
//! the gateway, and whether Redis answers and keeps what the README says it must. One line
//! per check, with what to fix; the first day on the real APIs should not be spent trying
//! queries. It prints no secret: only which setting to look at.

use std::time::Duration;

use reqwest::Url;

use crate::config::{Config, ServeArgs, UpstreamLocation};
use crate::error_code::ErrorCode;
use crate::secret::Secret;
use crate::upstream::pixieset::{ClientQuery, Paging};
use crate::upstream::{PixelzCredentials, PixiesetCredentials, UpstreamError, UpstreamUrls, Upstreams};

/// How long one probe may take: a first-day check, not a load test.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Nothing to check with these settings.
    Skipped,
    Failed,
}

/// One check's line: what was checked, and what was found or is to be fixed.
#[derive(Clone, Debug)]
pub struct Finding {
    pub verdict: Verdict,
    pub check: &'static str,
    pub said: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Skipped => "skip",
            Verdict::Failed => "FAIL",
        };
        write!(f, "{mark}  {}: {}", self.check, self.said)
    }
}

fn ok(check: &'static str, said: impl Into<String>) -> Finding {
    Finding { verdict: Verdict::Ok, check, said: said.into() }
}

fn skipped(check: &'static str, said: impl Into<String>) -> Finding {
    Finding { verdict: Verdict::Skipped, check, said: said.into() }
}

fn failed(check: &'static str, said: impl Into<String>) -> Finding {
    Finding { verdict: Verdict::Failed, check, said: said.into() }
}

/// Every check, in order. A configuration that does not resolve is the only finding.
pub async fn examine(args: &ServeArgs) -> Vec<Finding> {
    let config = match Config::resolve(args) {
        Ok(config) => config,
        Err(error) => return vec![failed("configuration", format!("{error}"))],
    };
    let mut findings = vec![ok("configuration", "every setting reads")];
    findings.extend(upstreams(&config).await);
    findings.push(webhooks(&config));
    findings.extend(redis(&config).await);
    findings
}

async fn upstreams(config: &Config) -> Vec<Finding> {
    let UpstreamLocation::Remote { pixieset, pixelz } = &config.upstreams.location else {
        return vec![skipped(
            "upstreams",
            "no base URL is set: serve runs the built-in sandbox (set PIXIESET_BASE_URL and PIXELZ_BASE_URL for the real APIs)",
        )];
    };
    let http = match reqwest::Client::builder().timeout(PROBE_TIMEOUT).build() {
        Ok(http) => http,
        Err(error) => return vec![failed("upstreams", format!("cannot build an HTTP client: {error}"))],
    };
    let pixieset_answers = answers(&http, "pixieset", "PIXIESET_BASE_URL", pixieset, "clients/", "/api/v1").await;
    let pixelz_answers = answers(&http, "pixelz", "PIXELZ_BASE_URL", pixelz, "Contact/", "/REST.svc/JSON").await;
    let urls = UpstreamUrls { pixieset: pixieset.clone(), pixelz: pixelz.clone(), pixelz_assets: None };
    let clients = match Upstreams::new(urls, config.upstreams.settings.clone()) {
        Ok(clients) => clients,
        Err(error) => return vec![pixieset_answers, pixelz_answers, failed("credentials", format!("{error}"))],
    };
    let credentials = &config.credentials;
    let pixieset_accepts = match (&pixieset_answers.verdict, &credentials.pixieset_cookie) {
        (Verdict::Failed, _) => skipped("pixieset credentials", "not asked: Pixieset's base URL is not right"),
        (_, None) => skipped("pixieset credentials", "no default cookie (PIXIESET_COOKIE): callers send their own"),
        (_, Some(cookie)) => {
            let query = ClientQuery { paging: Paging { page: Some(1), per_page: Some(1) }, types: Vec::new() };
            let read = clients.pixieset.clients(&PixiesetCredentials::new(cookie.clone()), &query).await;
            accepted("pixieset credentials", "PIXIESET_COOKIE", "GET /clients", read.map(drop))
        }
    };
    let pixelz_accepts = match (&pixelz_answers.verdict, &credentials.pixelz) {
        (Verdict::Failed, _) => skipped("pixelz credentials", "not asked: Pixelz's base URL is not right"),
        (_, None) => skipped(
            "pixelz credentials",
            "no default contact (PIXELZ_CONTACT_EMAIL, PIXELZ_API_KEY): callers send their own",
        ),
        (_, Some(defaults)) => {
            let contact = PixelzCredentials::new(&defaults.contact_email, defaults.api_key.clone());
            let read = clients.pixelz.contact(&contact).await;
            accepted("pixelz credentials", "PIXELZ_CONTACT_EMAIL and PIXELZ_API_KEY", "GET Contact", read.map(drop))
        }
    };
    vec![pixieset_answers, pixieset_accepts, pixelz_answers, pixelz_accepts]
}

/// Whether anything answers HTTP at the API's documented path under `base`, with no
/// credentials: any status but 404 is the API (a refusal included); a 404 is a wrong path.
async fn answers(
    http: &reqwest::Client,
    check: &'static str,
    setting: &str,
    base: &Url,
    path: &str,
    expected_path: &str,
) -> Finding {
    let url = format!("{}/{path}", base.as_str().trim_end_matches('/'));
    match http.get(&url).send().await {
        Ok(answer) if answer.status() == reqwest::StatusCode::NOT_FOUND => {
            failed(check, format!("{url} answers 404: {setting} is not the API's base (it ends in {expected_path})"))
        }
        Ok(answer) => ok(check, format!("{base} answers (HTTP {} without credentials)", answer.status().as_u16())),
        Err(error) => {
            let why = if error.is_timeout() {
                "no answer in time"
            } else if error.is_connect() {
                "cannot connect"
            } else {
                "no HTTP answer"
            };
            failed(check, format!("{base}: {why}; check {setting}"))
        }
    }
}

fn accepted(check: &'static str, setting: &str, read: &str, outcome: Result<(), UpstreamError>) -> Finding {
    match outcome {
        Ok(()) => ok(check, format!("the defaults are accepted ({read})")),
        Err(error) if error.code() == ErrorCode::Unauthenticated => {
            failed(check, format!("{read} was refused ({}): {setting} is wrong or expired", error.public_message()))
        }
        Err(error) => failed(check, format!("{read} failed: {}", error.public_message())),
    }
}

fn webhooks(config: &Config) -> Finding {
    const CHECK: &str = "webhooks";
    match (&config.server.public_url, &config.webhooks.app_secret) {
        (_, _) if config.upstreams.location == UpstreamLocation::Sandbox => {
            skipped(CHECK, "the built-in sandbox signs with its own secret")
        }
        (Some(url), None) => failed(
            CHECK,
            format!(
                "Pixelz calls back at {url}webhooks/pixelz, but PIXELZ_APP_SECRET is not set: every delivery would be refused"
            ),
        ),
        (Some(_), Some(_)) => ok(CHECK, "a public URL and the secret that verifies its deliveries"),
        (None, _) => {
            skipped(CHECK, "no PIXGATE_PUBLIC_URL: Pixelz cannot call back, and images are followed by polling alone")
        }
    }
}

async fn redis(config: &Config) -> Vec<Finding> {
    let Some(shared) = &config.events.redis_url else {
        return vec![skipped("redis", "no PIXGATE_REDIS_URL: one instance alone (a fleet needs it)")];
    };
    let mut findings = vec![redis_role("redis", "PIXGATE_REDIS_URL", shared, Role::Shared).await];
    match &config.events.records_redis_url {
        Some(records) => {
            findings.push(redis_role("records redis", "PIXGATE_RECORDS_REDIS_URL", records, Role::Records).await);
        }
        // Sharing the Redis, the records ask of it what their own would have to be.
        None => findings.push(redis_role("records redis", "PIXGATE_REDIS_URL", shared, Role::Records).await),
    }
    findings
}

#[derive(Clone, Copy)]
enum Role {
    Shared,
    Records,
}

async fn redis_role(check: &'static str, setting: &str, url: &Secret, role: Role) -> Finding {
    // Only the kind of a failure is said: its text may quote the URL, which may hold a password.
    let client = match redis::Client::open(url.expose()) {
        Ok(client) => client,
        Err(error) => return failed(check, format!("{setting} is not a Redis URL ({:?})", error.kind())),
    };
    let mut connection = match tokio::time::timeout(PROBE_TIMEOUT, client.get_multiplexed_async_connection()).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => return failed(check, format!("cannot reach the Redis of {setting} ({:?})", error.kind())),
        Err(_) => return failed(check, format!("the Redis of {setting} did not answer in time")),
    };
    let problems = match role {
        Role::Shared => crate::cache::shared_keeping_problems(&mut connection).await,
        Role::Records => crate::idempotency::records_keeping_problems(&mut connection).await,
    };
    if problems.is_empty() {
        ok(check, format!("the Redis of {setting} answers and keeps what it must"))
    } else {
        failed(check, format!("the Redis of {setting} answers, but {}", problems.join("; ")))
    }
}

/// Runs every check, prints one line each, and answers whether all passed.
pub async fn run(args: &ServeArgs) -> bool {
    let findings = examine(args).await;
    for finding in &findings {
        println!("{finding}");
    }
    findings.iter().all(|finding| finding.verdict != Verdict::Failed)
}
