//! A live query's runs: the first at once, then one each time something it read
//! may have changed, and its result sent only when it differs from the last.
//!
//! Each run records what it read from the cache (`cache/reads.rs`). The query then
//! waits for whichever comes first: a change to one of those entries (a write
//! through this instance or, told through the fleet's channel, any other; an
//! image's state the poller stored; an admin invalidation), or the first of them
//! expiring, after which a run reads the upstream again and so sees what changed
//! outside pixgate. A change that leaves every entry it read as it was (another
//! query storing what this one already holds) costs nothing. Runs are at least the
//! query's `throttle` apart, and a run waits a moment after the change that
//! prompted it so one write's several invalidations make one run. Each run has the
//! upstream-call budget of one operation and draws on the caller's rate budget as
//! a request does: a tenant over its budget waits for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use tokio::time::Instant;

use super::protocol::OperationPayload;
use super::shared::serialise;
use crate::cache::Cache;
use crate::cache::changes::Watch;
use crate::cache::reads::{Dependencies, Recorded};
use crate::config::LiveQueryLimits;
use crate::graphql::PixgateSchema;
use crate::graphql::live::mark_live;
use crate::loaders::Loaders;
use crate::scope::{self, Scope};
use crate::server::rate_limit::RateLimits;
use crate::session::Session;
use crate::telemetry::metrics::{LIVE_QUERY_RESULTS, LIVE_QUERY_RUNS};

/// A result that something outside the cache decided (a failed fetch, webhook
/// deliveries, the client-image links) is made again this often, as nothing tells
/// when that changes.
const UNTRACKED_EVERY: Duration = Duration::from_secs(5);
/// How long a run waits after the change that prompted it: a write's invalidations
/// (the object, then each list that shows it) arrive within this.
const SETTLE: Duration = Duration::from_millis(20);
/// Past an entry's expiry, so the run finds it gone rather than just about to go.
const EXPIRY_MARGIN: Duration = Duration::from_millis(10);

/// What every live query of this instance shares.
#[derive(Clone)]
pub struct LiveServices {
    pub cache: Cache,
    pub rate_limits: Arc<RateLimits>,
    pub limits: LiveQueryLimits,
    runs: Arc<AtomicU64>,
}

impl LiveServices {
    pub fn new(cache: Cache, rate_limits: Arc<RateLimits>, limits: LiveQueryLimits) -> Self {
        Self { cache, rate_limits, limits, runs: Arc::default() }
    }

    pub(super) fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

/// One live query, for everyone who asked it alike.
pub(super) struct LiveQuery {
    pub schema: PixgateSchema,
    pub payload: OperationPayload,
    pub loaders: Arc<Loaders>,
    pub session: Session,
    pub upstream_calls: u32,
    pub throttle: Duration,
}

/// Why a live query runs, as `pixgate_live_query_runs_total` counts it.
#[derive(Clone, Copy)]
enum Prompt {
    First,
    Change,
    Expiry,
}

impl Prompt {
    fn label(self) -> &'static str {
        match self {
            Prompt::First => "first",
            Prompt::Change => "change",
            Prompt::Expiry => "expiry",
        }
    }
}

struct Runs {
    query: LiveQuery,
    services: LiveServices,
    /// Watched from before the first run: nothing that happens during a run is missed.
    watch: Watch,
    last_sent: Option<Bytes>,
    /// What the last run read, and when it began.
    last_run: Option<(Dependencies, Instant)>,
}

impl LiveQuery {
    /// Its results, each different from the one before; the stream never ends.
    pub(super) fn results(self, services: &LiveServices) -> BoxStream<'static, Bytes> {
        // What it can read is what its credentials' tenants hold.
        let credentials = self.session.credentials();
        let pixieset = credentials.pixieset.as_ref().ok().map(|c| c.tenant().clone());
        let pixelz = credentials.pixelz.as_ref().ok().map(|c| c.tenant().clone());
        let runs = Runs {
            watch: services.cache.watch(pixieset.into_iter().chain(pixelz)),
            query: self,
            services: services.clone(),
            last_sent: None,
            last_run: None,
        };
        stream::unfold(runs, |mut runs| async move {
            let result = runs.next_different().await;
            Some((result, runs))
        })
        .boxed()
    }
}

impl Runs {
    async fn next_different(&mut self) -> Bytes {
        loop {
            let prompt = match &self.last_run {
                None => Prompt::First,
                Some((made_from, began)) => {
                    let prompt = prompted(&mut self.watch, &self.services.cache, made_from, *began).await;
                    let mut earliest = *began + self.query.throttle;
                    if matches!(prompt, Prompt::Change) {
                        earliest = earliest.max(Instant::now() + SETTLE);
                    }
                    tokio::time::sleep_until(earliest).await;
                    prompt
                }
            };
            // Made on the caller's behalf, so counted as their request; the first was, where it was asked.
            if !matches!(prompt, Prompt::First) {
                while let Err(wait) = self.services.rate_limits.check(&self.query.session).await {
                    tokio::time::sleep(wait).await;
                }
            }
            let began = Instant::now();
            let (result, made_from) = self.run(prompt).await;
            self.last_run = Some((made_from, began));
            let changed = self.last_sent.as_ref() != Some(&result);
            let outcome = if changed { "sent" } else { "unchanged" };
            metrics::counter!(LIVE_QUERY_RESULTS, "outcome" => outcome).increment(1);
            if changed {
                self.last_sent = Some(result.clone());
                return result;
            }
        }
    }

    async fn run(&self, prompt: Prompt) -> (Bytes, Dependencies) {
        self.services.runs.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(LIVE_QUERY_RUNS, "prompt" => prompt.label()).increment(1);
        let query = &self.query;
        let request = query.payload.clone().into_request().data(query.loaders.clone());
        let operation = Arc::new(Scope::operation(query.upstream_calls).keeping::<Recorded>());
        let mut response = scope::run(operation.clone(), query.schema.execute(request)).await;
        self.services.rate_limits.charge(&query.session, operation.upstream_calls()).await;
        let made_from = operation.take::<Recorded>().unwrap_or_default().into_dependencies();
        mark_live(&mut response);
        (serialise(&response), made_from)
    }
}

/// Waits until something `made_from` read changed, or the first of it expired.
async fn prompted(watch: &mut Watch, cache: &Cache, made_from: &Dependencies, began: Instant) -> Prompt {
    let expires = made_from.expires_at().map(|at| Instant::from_std(at) + EXPIRY_MARGIN);
    let untracked = made_from.untracked().then(|| began + UNTRACKED_EVERY);
    let deadline = [expires, untracked].into_iter().flatten().min();
    let expiry = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            () = watch.touching(made_from) => {
                if !cache.still_holds(made_from).await {
                    return Prompt::Change;
                }
            }
            () = &mut expiry => return Prompt::Expiry,
        }
    }
}
