//! Whole answers to queries, kept as the bytes that were sent, per caller (the
//! credentials it acts with, or why it has none), document, operation and
//! variables. A kept answer is served again only while every cache entry its
//! resolvers read is still held at the version they read (`reads.rs`): a write
//! here, an invalidation heard from another instance, a refetch or an expiry
//! makes the next repeat execute again. No kept answer outlives the first entry
//! it was made from. The server decides what may be kept: answers without errors
//! to queries. Bounded in bytes; the least used go first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;

use super::Cache;
use super::reads::{Read, Recorded};
use crate::auth::Unavailable;
use crate::session::Session;
use crate::telemetry::metrics::{AnsweredOk, RESPONSE_CACHE_LOOKUPS, RESPONSE_CACHE_UNKEPT};
use crate::upstream::TenantKey;

pub const DEFAULT_CAPACITY_BYTES: u64 = 32 * 1024 * 1024;

/// Whom an answer was made for: two callers alike here were given the same data and
/// the same refusals, so they may share an answer. Hashes, never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Whom {
    pixieset: Result<TenantKey, Unavailable>,
    pixelz: Result<TenantKey, Unavailable>,
}

/// What an answer depends on besides the data it was made from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResponseKey {
    whom: Whom,
    query: Arc<str>,
    operation_name: Option<Arc<str>>,
    /// The variables as JSON: they are a map ordered by name, so equal variables serialise alike.
    variables: Box<str>,
}

impl ResponseKey {
    pub fn new(session: &Session, query: &str, operation_name: Option<&str>, variables: String) -> Self {
        let credentials = session.credentials();
        let whom = Whom {
            pixieset: credentials.pixieset.as_ref().map(|c| c.tenant().clone()).map_err(|why| *why),
            pixelz: credentials.pixelz.as_ref().map(|c| c.tenant().clone()).map_err(|why| *why),
        };
        Self {
            whom,
            query: Arc::from(query),
            operation_name: operation_name.map(Arc::from),
            variables: variables.into(),
        }
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn operation_name(&self) -> Option<&str> {
        self.operation_name.as_deref()
    }

    fn weight(&self) -> usize {
        self.query.len() + self.variables.len() + self.operation_name.as_ref().map_or(0, |name| name.len())
    }
}

struct Kept {
    body: Bytes,
    /// Where serving it again is counted, with the operations executed.
    answered: AnsweredOk,
    reads: Box<[Read]>,
    kept_at: Instant,
    time_to_live: Duration,
}

/// A kept answer served again.
pub struct Hit {
    pub body: Bytes,
    pub answered: AnsweredOk,
    /// Since it was made.
    pub age: Duration,
}

struct UntilFirstReadExpires;

impl Expiry<ResponseKey, Arc<Kept>> for UntilFirstReadExpires {
    fn expire_after_create(&self, _: &ResponseKey, kept: &Arc<Kept>, _: Instant) -> Option<Duration> {
        Some(kept.time_to_live)
    }
}

/// Shared by every request; cloning shares it.
#[derive(Clone)]
pub struct ResponseCache {
    /// None when switched off, or when the cache it depends on is.
    kept: Option<moka::sync::Cache<ResponseKey, Arc<Kept>>>,
    cache: Cache,
    lookups: Lookups,
}

/// `pixgate_response_cache_lookups_total` by result, found once: every request counts one.
#[derive(Clone)]
struct Lookups {
    hit: metrics::Counter,
    miss: metrics::Counter,
    stale: metrics::Counter,
    bypassed: metrics::Counter,
}

impl Lookups {
    fn new() -> Self {
        let counter = |result: &'static str| metrics::counter!(RESPONSE_CACHE_LOOKUPS, "result" => result);
        Self { hit: counter("hit"), miss: counter("miss"), stale: counter("stale"), bypassed: counter("bypassed") }
    }
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache").field("enabled", &self.kept.is_some()).finish_non_exhaustive()
    }
}

/// Roughly what one read takes in memory: its key and version.
const READ_WEIGHT: usize = 128;

impl ResponseCache {
    /// Answers made from `cache`, in `capacity_bytes`; none kept when either is zero or off.
    pub fn new(capacity_bytes: Option<u64>, cache: Cache) -> Self {
        let kept = capacity_bytes.filter(|bytes| *bytes > 0 && cache.entries.is_some()).map(|bytes| {
            moka::sync::Cache::builder()
                .max_capacity(bytes)
                .weigher(|key: &ResponseKey, kept: &Arc<Kept>| {
                    let bytes = key.weight() + kept.body.len() + kept.reads.len() * READ_WEIGHT + 128;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .expire_after(UntilFirstReadExpires)
                .build()
        });
        Self { kept, cache, lookups: Lookups::new() }
    }

    pub fn enabled(&self) -> bool {
        self.kept.is_some()
    }

    /// The answer kept for `key`, while everything it was made from is unchanged.
    pub async fn lookup(&self, key: &ResponseKey) -> Option<Hit> {
        let kept = self.kept.as_ref()?;
        let Some(found) = kept.get(key) else {
            self.lookups.miss.increment(1);
            return None;
        };
        if !self.cache.unchanged(&found.reads).await {
            kept.invalidate(key);
            self.lookups.stale.increment(1);
            return None;
        }
        self.lookups.hit.increment(1);
        Some(Hit { body: found.body.clone(), answered: found.answered.clone(), age: found.kept_at.elapsed() })
    }

    /// The caller asked for an answer made now (`Cache-Control: no-cache`).
    pub fn bypassed(&self) {
        if self.kept.is_some() {
            self.lookups.bypassed.increment(1);
        }
    }

    /// Keeps `body`, the answer to `operation` that `key` was given, made from what `recorded` read.
    pub fn keep(&self, key: ResponseKey, body: Bytes, recorded: Recorded, operation: &str) {
        let Some(kept) = &self.kept else { return };
        let Some((reads, first_expiry)) = recorded.into_reads() else {
            self.unkept("untracked");
            return;
        };
        let kept_at = Instant::now();
        let time_to_live =
            first_expiry.map_or_else(|| self.cache.longest_time_to_live(), |at| at.saturating_duration_since(kept_at));
        if time_to_live.is_zero() {
            return;
        }
        let answered = AnsweredOk::of(operation);
        kept.insert(key, Arc::new(Kept { body, answered, reads: reads.into(), kept_at, time_to_live }));
    }

    /// An answer was not kept, for `reason` (a metric label).
    pub fn unkept(&self, reason: &'static str) {
        if self.kept.is_some() {
            metrics::counter!(RESPONSE_CACHE_UNKEPT, "reason" => reason).increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::{AccessPolicy, Supplied};
    use crate::cache::reads::{recording, untracked};
    use crate::cache::{Invalidation, Key, Kind, Ttls};

    struct Fixture {
        cache: Cache,
        responses: ResponseCache,
        key: ResponseKey,
        client: Key,
        /// Read and found absent.
        invoice: Key,
    }

    impl Fixture {
        async fn new(ttls: Ttls) -> Self {
            let cache = Cache::new(1 << 20, ttls);
            let responses = ResponseCache::new(Some(1 << 20), cache.clone());
            let session = Session::resolve(&AccessPolicy::default(), Supplied::default(), [127, 0, 0, 1].into());
            let key = ResponseKey::new(&session, "{ client { email } }", None, "{}".into());
            let tenant = TenantKey::of_cookie("a");
            let client = Key::new(&tenant, Kind::Client, "cl_1");
            cache.insert(client.clone(), Arc::new("v1".to_string())).await;
            Self { cache, responses, key, invoice: Key::new(&tenant, Kind::Invoice, "in_1"), client }
        }

        /// Makes and keeps an answer from the client and the absent invoice, the
        /// client read on a task of its own as a DataLoader reads it.
        async fn keep(&self) {
            let cache = self.cache.clone();
            let client = self.client.clone();
            let ((), recorded) = recording(async {
                let read = crate::scope::spawn(async move { cache.get::<String>(&client).await });
                assert!(read.await.unwrap().is_some());
                assert!(self.cache.get::<String>(&self.invoice).await.is_none());
            })
            .await;
            self.responses.keep(self.key.clone(), Bytes::from_static(b"answer"), recorded, "op");
            assert!(self.responses.lookup(&self.key).await.is_some(), "kept");
        }

        async fn stale(&self) -> bool {
            self.responses.lookup(&self.key).await.is_none()
        }
    }

    #[tokio::test]
    async fn a_kept_answer_is_stale_once_anything_it_read_changed() {
        let fixture = Fixture::new(Ttls::default()).await;
        fixture.keep().await;
        assert!(!fixture.stale().await);

        fixture.cache.insert(fixture.client.clone(), Arc::new("v2".to_string())).await;
        assert!(fixture.stale().await, "the client it read was replaced");

        fixture.keep().await;
        fixture.cache.insert(fixture.invoice.clone(), Arc::new("now".to_string())).await;
        assert!(fixture.stale().await, "an invoice is held where it found none");
        fixture.cache.invalidate::<String>(&fixture.invoice).await;

        fixture.keep().await;
        let heard = Invalidation { tenant: fixture.client.tenant().clone(), kind: Some(Kind::Client), id: None };
        fixture.cache.apply(&heard);
        assert!(fixture.stale().await, "another instance's write dropped the client");
    }

    #[tokio::test]
    async fn a_kept_answer_lives_no_longer_than_the_first_entry_it_read() {
        // Long enough that a loaded machine still keeps the answer before the client expires.
        let fixture = Fixture::new(Ttls { records: Duration::from_millis(400), ..Ttls::default() }).await;
        fixture.keep().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        // moka's own expiry of it, not the check of what it read, which the client's is.
        assert!(fixture.responses.kept.as_ref().unwrap().get(&fixture.key).is_none());
    }

    #[tokio::test]
    async fn an_answer_that_read_untracked_state_is_not_kept() {
        let fixture = Fixture::new(Ttls::default()).await;
        let ((), recorded) = recording(async {
            fixture.cache.get::<String>(&fixture.client).await;
            untracked();
        })
        .await;
        fixture.responses.keep(fixture.key.clone(), Bytes::from_static(b"answer"), recorded, "op");
        assert!(fixture.stale().await);
    }
}
