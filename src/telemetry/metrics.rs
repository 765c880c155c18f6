//! What an operator pages on, in the Prometheus text format at `/metrics`.
//! Every label comes from a closed set (upstream, endpoint template, status,
//! cache kind, loader, outcome) or is a sanitised, bounded operation name:
//! never a secret and never a raw object id.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::lock::locked;

pub const GRAPHQL_REQUESTS: &str = "pixgate_graphql_requests_total";
pub const GRAPHQL_DURATION: &str = "pixgate_graphql_request_duration_seconds";
pub const UPSTREAM_REQUESTS: &str = "pixgate_upstream_requests_total";
pub const UPSTREAM_DURATION: &str = "pixgate_upstream_request_duration_seconds";
pub const CACHE_LOOKUPS: &str = "pixgate_cache_lookups_total";
/// Documents parsed and validated, or found done before.
pub const DOCUMENT_CACHE_LOOKUPS: &str = "pixgate_document_cache_lookups_total";
/// Whole answers served again (hit), not held (miss), made from data since changed (stale), or not asked for.
pub const RESPONSE_CACHE_LOOKUPS: &str = "pixgate_response_cache_lookups_total";
/// Answers to queries the response cache did not keep, by why.
pub const RESPONSE_CACHE_UNKEPT: &str = "pixgate_response_cache_unkept_total";
pub const LOADER_BATCH_SIZE: &str = "pixgate_dataloader_batch_size";
pub const ACTIVE_SUBSCRIPTIONS: &str = "pixgate_subscriptions_active";
/// `@live` queries open on this instance's connections, identical ones each counted.
pub const LIVE_QUERIES_OPEN: &str = "pixgate_live_queries_open";
/// Different `@live` queries running on this instance: what is run again on a change.
pub const LIVE_QUERIES_RUNNING: &str = "pixgate_live_queries_running";
/// Runs of live queries, by what prompted them: the first, a change to what they read, an expiry.
pub const LIVE_QUERY_RUNS: &str = "pixgate_live_query_runs_total";
/// Live queries' runs whose result was sent (it changed) or not (it did not).
pub const LIVE_QUERY_RESULTS: &str = "pixgate_live_query_results_total";
/// Live queries refused for a limit: per connection or per tenant.
pub const LIVE_QUERIES_REFUSED: &str = "pixgate_live_queries_refused_total";
pub const WEBHOOKS: &str = "pixgate_webhooks_total";
/// A write's cache invalidations told to other instances, or heard from them.
pub const CACHE_INVALIDATIONS: &str = "pixgate_cache_invalidations_total";
/// The shared cache tier in Redis: lookups (hit, miss, unavailable), stores and drops (ok, unavailable).
pub const SHARED_CACHE_OPERATIONS: &str = "pixgate_shared_cache_operations_total";
/// Rate-limit checks, by whether the fleet's buckets in Redis or this instance's decided.
pub const RATE_LIMIT_CHECKS: &str = "pixgate_rate_limit_checks_total";
/// 1 while this instance hears a channel the instances share through Redis, 0 while it does not.
pub const REDIS_LINK_UP: &str = "pixgate_redis_link_up";
/// Writes run under an idempotency key, by whether the fleet (Redis) or this instance alone kept them once.
pub const IDEMPOTENT_WRITES: &str = "pixgate_idempotent_writes_total";
/// What became of keyed writes and their retries: written, repeated, settled by asking the upstream, unknown, refused.
pub const IDEMPOTENT_OUTCOMES: &str = "pixgate_idempotent_outcomes_total";
/// Credentials whose circuit to an upstream is open (or probing) now.
pub const UPSTREAM_BREAKERS_OPEN: &str = "pixgate_upstream_breakers_open";
pub const UPSTREAM_BREAKER_TRANSITIONS: &str = "pixgate_upstream_breaker_transitions_total";
pub const UPSTREAM_CALLS_SHORT_CIRCUITED: &str = "pixgate_upstream_calls_short_circuited_total";
/// Operations refused before running, and calls refused while running, for the upstream-call budget.
pub const UPSTREAM_BUDGET_REFUSALS: &str = "pixgate_upstream_budget_refusals_total";
pub const CONNECTIONS_OPEN: &str = "pixgate_connections_open";
pub const CONNECTIONS_REFUSED: &str = "pixgate_connections_refused_total";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesType {
    Counter,
    Gauge,
    Histogram,
}

/// Every series pixgate exports, with its `# HELP` line. `deploy/grafana/pixgate.json`
/// charts each of them and nothing else (a test checks).
pub const SERIES: [(&str, SeriesType, &str); 28] = [
    (GRAPHQL_REQUESTS, SeriesType::Counter, "GraphQL operations answered, by operation name and outcome."),
    (GRAPHQL_DURATION, SeriesType::Histogram, "Time to answer a GraphQL operation."),
    (UPSTREAM_REQUESTS, SeriesType::Counter, "HTTP attempts to an upstream, by endpoint template and status."),
    (UPSTREAM_DURATION, SeriesType::Histogram, "Time of one HTTP attempt to an upstream."),
    (CACHE_LOOKUPS, SeriesType::Counter, "Lookups in this instance's cache, by kind and result."),
    (DOCUMENT_CACHE_LOOKUPS, SeriesType::Counter, "Documents' parses and validations found done before, or not."),
    (
        RESPONSE_CACHE_LOOKUPS,
        SeriesType::Counter,
        "Whole answers looked for: served again, not held, stale, or bypassed by the caller.",
    ),
    (RESPONSE_CACHE_UNKEPT, SeriesType::Counter, "Answers to queries not kept for repeats, by why."),
    (LOADER_BATCH_SIZE, SeriesType::Histogram, "Ids a DataLoader fetched in one batch."),
    (ACTIVE_SUBSCRIPTIONS, SeriesType::Gauge, "Subscribers connected to this instance."),
    (LIVE_QUERIES_OPEN, SeriesType::Gauge, "Live queries open on this instance's connections."),
    (LIVE_QUERIES_RUNNING, SeriesType::Gauge, "Different live queries running here; identical ones share one."),
    (LIVE_QUERY_RUNS, SeriesType::Counter, "Runs of live queries, by what prompted them."),
    (LIVE_QUERY_RESULTS, SeriesType::Counter, "Live queries' runs whose result was sent (changed) or not."),
    (LIVE_QUERIES_REFUSED, SeriesType::Counter, "Live queries refused for a limit, per connection or per tenant."),
    (WEBHOOKS, SeriesType::Counter, "Pixelz webhook deliveries, by outcome."),
    (CACHE_INVALIDATIONS, SeriesType::Counter, "Cache invalidations sent to or received from other instances."),
    (SHARED_CACHE_OPERATIONS, SeriesType::Counter, "Operations on the shared cache tier in Redis, by result."),
    (REDIS_LINK_UP, SeriesType::Gauge, "1 while this instance hears the others on a Redis channel."),
    (RATE_LIMIT_CHECKS, SeriesType::Counter, "Rate-limit checks, by whether the fleet or this instance decided."),
    (
        IDEMPOTENT_WRITES,
        SeriesType::Counter,
        "Writes under an Idempotency-Key, by whether the fleet or one instance kept them.",
    ),
    (
        IDEMPOTENT_OUTCOMES,
        SeriesType::Counter,
        "Keyed writes and retries by outcome: written, repeated, settled upstream, unknown, refused.",
    ),
    (UPSTREAM_BREAKERS_OPEN, SeriesType::Gauge, "Credentials whose circuit to an upstream is open or probing."),
    (UPSTREAM_BREAKER_TRANSITIONS, SeriesType::Counter, "Circuits to an upstream opened, probing or closed."),
    (UPSTREAM_CALLS_SHORT_CIRCUITED, SeriesType::Counter, "Upstream calls failed fast while their circuit was open."),
    (
        UPSTREAM_BUDGET_REFUSALS,
        SeriesType::Counter,
        "Operations refused (estimate) and upstream calls refused (execution) for the per-operation budget.",
    ),
    (CONNECTIONS_OPEN, SeriesType::Gauge, "Client connections open now."),
    (CONNECTIONS_REFUSED, SeriesType::Counter, "Client connections closed at once: over the cap overall or per IP."),
];

const SECONDS_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];
/// Distinct operation names kept as labels; later ones are counted as `other`.
const MAX_OPERATION_NAMES: usize = 200;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
static OPERATION_NAMES: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// One operation's count and time in `pixgate_graphql_requests_total` (outcome `ok`)
/// and `pixgate_graphql_request_duration_seconds`, looked up once: a kept answer served
/// again records through these without finding its series each time.
#[derive(Clone)]
pub struct AnsweredOk {
    count: metrics::Counter,
    time: metrics::Histogram,
}

impl AnsweredOk {
    pub fn of(operation: &str) -> Self {
        Self {
            count: metrics::counter!(GRAPHQL_REQUESTS, "operation" => operation.to_string(), "outcome" => "ok"),
            time: metrics::histogram!(GRAPHQL_DURATION, "operation" => operation.to_string()),
        }
    }

    pub fn record(&self, took: std::time::Duration) {
        self.count.increment(1);
        self.time.record(took.as_secs_f64());
    }
}

/// Counts one in a gauge (`pixgate_subscriptions_active`, `pixgate_live_queries_open`,
/// `pixgate_live_queries_running`) for as long as it lives, however it ends.
#[derive(Debug)]
pub struct Held(&'static str);

impl Held {
    pub fn start(gauge: &'static str) -> Self {
        metrics::gauge!(gauge).increment(1);
        Self(gauge)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1);
    }
}

/// Installs the process's recorder once and returns what renders it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(LOADER_BATCH_SIZE.into()), &BATCH_BUCKETS))
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // A histogram keeps every sample until something folds them into its buckets,
        // which rendering does; nobody may scrape for hours, and at tens of thousands
        // of answers a second the samples would grow without bound.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
        // Fails only when something else in the process installed a recorder first.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics shows nothing");
        }
        for (name, series, help) in SERIES {
            match series {
                SeriesType::Counter => metrics::describe_counter!(name, help),
                SeriesType::Gauge => metrics::describe_gauge!(name, help),
                SeriesType::Histogram => metrics::describe_histogram!(name, help),
            }
        }
        handle
    })
}

/// An operation name as a label: `anonymous`, the name, or `other` once many names were seen.
pub fn operation_label(name: Option<&str>) -> String {
    let Some(name) = name else { return "anonymous".into() };
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !valid {
        return "other".into();
    }
    let mut names = locked(OPERATION_NAMES.get_or_init(Mutex::default));
    if names.contains(name) || names.len() < MAX_OPERATION_NAMES && names.insert(name.to_string()) {
        name.to_string()
    } else {
        "other".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every series name a dashboard query reads, histogram parts named by their histogram.
    fn charted(dashboard: &serde_json::Value, names: &mut std::collections::BTreeSet<String>) {
        match dashboard {
            serde_json::Value::Object(fields) => {
                if let Some(serde_json::Value::String(expr)) = fields.get("expr") {
                    for (start, _) in expr.match_indices("pixgate_") {
                        let name: String =
                            expr[start..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                        let histogram = ["_bucket", "_sum", "_count"].iter().find_map(|part| {
                            let base = name.strip_suffix(part)?;
                            SERIES.iter().any(|(n, t, _)| *n == base && *t == SeriesType::Histogram).then_some(base)
                        });
                        names.insert(histogram.unwrap_or(&name).to_string());
                    }
                }
                fields.values().for_each(|value| charted(value, names));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| charted(item, names)),
            _ => {}
        }
    }

    #[test]
    fn the_dashboard_charts_every_series_and_no_other() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../deploy/grafana/pixgate.json")).expect("the dashboard is JSON");
        let mut names = std::collections::BTreeSet::new();
        charted(&dashboard, &mut names);
        let exported: std::collections::BTreeSet<String> = SERIES.iter().map(|(name, ..)| name.to_string()).collect();
        assert_eq!(names, exported, "deploy/grafana/pixgate.json and SERIES differ");
    }
}
