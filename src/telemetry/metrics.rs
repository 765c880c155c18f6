//! What an operator pages on, in the Prometheus text format at `/metrics`.
//! Every label comes from a closed set (upstream, endpoint template, status,
//! cache kind, loader, outcome) or is a sanitised, bounded operation name:
//! never a secret and never a raw object id.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const GRAPHQL_REQUESTS: &str = "pixgate_graphql_requests_total";
pub const GRAPHQL_DURATION: &str = "pixgate_graphql_request_duration_seconds";
pub const UPSTREAM_REQUESTS: &str = "pixgate_upstream_requests_total";
pub const UPSTREAM_DURATION: &str = "pixgate_upstream_request_duration_seconds";
pub const CACHE_LOOKUPS: &str = "pixgate_cache_lookups_total";
pub const LOADER_BATCH_SIZE: &str = "pixgate_dataloader_batch_size";
pub const ACTIVE_SUBSCRIPTIONS: &str = "pixgate_subscriptions_active";
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

const SECONDS_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];
/// Distinct operation names kept as labels; later ones are counted as `other`.
const MAX_OPERATION_NAMES: usize = 200;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static OPERATION_NAMES: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// Counts one subscriber in `pixgate_subscriptions_active` for as long as it lives, however it ends.
#[derive(Debug)]
pub struct ActiveSubscription(());

impl ActiveSubscription {
    pub fn start() -> Self {
        metrics::gauge!(ACTIVE_SUBSCRIPTIONS).increment(1);
        Self(())
    }
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        metrics::gauge!(ACTIVE_SUBSCRIPTIONS).decrement(1);
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
        // Fails only when something else in the process installed a recorder first.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics shows nothing");
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
    let mut names = OPERATION_NAMES.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner());
    if names.contains(name) || names.len() < MAX_OPERATION_NAMES && names.insert(name.to_string()) {
        name.to_string()
    } else {
        "other".into()
    }
}
