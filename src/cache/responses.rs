//! Whole answers to queries, kept as the bytes that were sent, per caller (the
//! credentials it acts with, or why it has none), document, operation and
//! variables. A kept answer is served again only while every cache entry its
//! resolvers read is still held at the version they read (`reads.rs`): a write
//! here, an invalidation heard from another instance, a refetch or an expiry
//! makes the next repeat execute again. No kept answer outlives the first entry
//! it was made from. The server decides what may be kept: answers without errors
//! to queries. Bounded in bytes; the least used go first.
//!
//! A kept answer is also found by the request as it was sent (`RequestKey`): the
//! same caller sending the same bytes again is answered before its body is parsed.
//!
//! A query asked again while its answer is being made for another request waits for
//! that answer rather than running beside it (`lookup_or_lead`): a burst of callers
//! asking the same moments after an answer expired, or after a write, runs the
//! operation once, not once each (the entries it reads were already fetched once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;

use super::Cache;
use super::reads::{Read, Recorded};
use crate::auth::Unavailable;
use crate::lock::locked;
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

impl Whom {
    fn of(session: &Session) -> Self {
        let credentials = session.credentials();
        Self {
            pixieset: credentials.pixieset.as_ref().map(|c| c.tenant().clone()).map_err(|why| *why),
            pixelz: credentials.pixelz.as_ref().map(|c| c.tenant().clone()).map_err(|why| *why),
        }
    }
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
        Self {
            whom: Whom::of(session),
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

/// One operation's request body exactly as a caller sent it, and who sent it. Two
/// requests alike here ask the same: the document, operation and variables are in
/// the bytes, and so is the persisted-query hash or document id they are admitted
/// by. What trusted documents admit depends on the manifest in force and on whether
/// the caller holds an access token, so both are part of it. Only requests whose
/// headers ask for nothing else are keyed so (`server::kept`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestKey {
    whom: Whom,
    holds_token: bool,
    /// The trusted-document manifest's reload count (0 without one).
    manifest: u64,
    body: Bytes,
}

impl RequestKey {
    pub fn new(session: &Session, manifest: u64, body: Bytes) -> Self {
        Self { whom: Whom::of(session), holds_token: session.holds_token(), manifest, body }
    }
}

struct Kept {
    body: Bytes,
    /// Where serving it again is counted, with the operations executed.
    answered: AnsweredOk,
    reads: Box<[Read]>,
    kept_at: Instant,
    expires_at: Instant,
}

impl Kept {
    fn hit(&self) -> Hit {
        Hit { body: self.body.clone(), answered: self.answered.clone(), age: self.kept_at.elapsed() }
    }
}

/// A kept answer served again.
pub struct Hit {
    pub body: Bytes,
    pub answered: AnsweredOk,
    /// Since it was made.
    pub age: Duration,
}

struct UntilFirstReadExpires;

impl<K> Expiry<K, Arc<Kept>> for UntilFirstReadExpires {
    fn expire_after_create(&self, _: &K, kept: &Arc<Kept>, created_at: Instant) -> Option<Duration> {
        Some(kept.expires_at.saturating_duration_since(created_at))
    }
}

/// Shared by every request; cloning shares it.
#[derive(Clone)]
pub struct ResponseCache {
    /// None when switched off, or when the cache it depends on is.
    kept: Option<moka::sync::Cache<ResponseKey, Arc<Kept>>>,
    /// The same answers by the requests that were answered them, as sent.
    by_request: Option<moka::sync::Cache<RequestKey, Arc<Kept>>>,
    cache: Cache,
    lookups: Lookups,
    in_flight: Arc<InFlight>,
}

/// `pixgate_response_cache_lookups_total` by result, found once: every request counts one.
#[derive(Clone)]
struct Lookups {
    hit: metrics::Counter,
    miss: metrics::Counter,
    stale: metrics::Counter,
    bypassed: metrics::Counter,
    joined: metrics::Counter,
}

impl Lookups {
    fn new() -> Self {
        let counter = |result: &'static str| metrics::counter!(RESPONSE_CACHE_LOOKUPS, "result" => result);
        Self {
            hit: counter("hit"),
            miss: counter("miss"),
            stale: counter("stale"),
            bypassed: counter("bypassed"),
            joined: counter("joined"),
        }
    }
}

/// The queries whose answers are being made now, each with what tells its waiters
/// it is done: the sender is never sent on, only dropped, so a leader that fails,
/// keeps nothing or is cancelled (its caller gone) lets them go all the same.
type InFlight = Mutex<HashMap<ResponseKey, tokio::sync::watch::Receiver<()>>>;

/// Held by the request making an answer others may wait for; dropping it lets them
/// look again. Hold it until the answer is kept.
#[must_use = "the requests waiting for this answer go on once it is dropped"]
pub struct Leading {
    in_flight: Arc<InFlight>,
    key: ResponseKey,
    _done: tokio::sync::watch::Sender<()>,
}

impl Drop for Leading {
    fn drop(&mut self) {
        // Only the leader puts its key in and takes it out, so this is its own entry;
        // the waiters wake once `_done` drops, after it is gone, and find the answer kept.
        locked(&self.in_flight).remove(&self.key);
    }
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache").field("enabled", &self.kept.is_some()).finish_non_exhaustive()
    }
}

/// Roughly what one read takes in memory: its key and version.
const READ_WEIGHT: usize = 128;
/// The share of the capacity that finds answers by the requests as sent: their bodies,
/// since the answers they lead to are counted once, where they are kept.
const BY_REQUEST_SHARE: u64 = 4;

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
        let by_request = kept.as_ref().map(|kept| {
            moka::sync::Cache::builder()
                .max_capacity(kept.policy().max_capacity().unwrap_or_default() / BY_REQUEST_SHARE)
                .weigher(|key: &RequestKey, _: &Arc<Kept>| u32::try_from(key.body.len() + 128).unwrap_or(u32::MAX))
                .expire_after(UntilFirstReadExpires)
                .build()
        });
        Self { kept, by_request, cache, lookups: Lookups::new(), in_flight: Arc::default() }
    }

    pub fn enabled(&self) -> bool {
        self.kept.is_some()
    }

    /// The answer kept for `key`, while everything it was made from is unchanged; found
    /// by `sent` from then on.
    pub async fn lookup(&self, key: &ResponseKey, sent: Option<RequestKey>) -> Option<Hit> {
        let kept = self.kept.as_ref()?;
        match self.current(kept, key).await {
            Ok(found) => Some(self.served(&self.lookups.hit, sent, found)),
            Err(missed) => {
                missed.increment(1);
                None
            }
        }
    }

    /// As `lookup`, for a query: when nothing is kept but the same query is being
    /// answered for another request now, waits for that answer and serves it as kept
    /// (`joined`). Otherwise the caller makes the answer, and the `Leading` it is given
    /// makes the identical queries arriving meanwhile wait for it; or, having waited
    /// and found nothing kept (the leader's answer had errors), makes its own alone.
    /// Never for a mutation: two of those are two writes.
    pub async fn lookup_or_lead(&self, key: &ResponseKey, sent: Option<RequestKey>) -> Result<Hit, Option<Leading>> {
        let Some(kept) = self.kept.as_ref() else { return Err(None) };
        let missed = match self.current(kept, key).await {
            Ok(found) => return Ok(self.served(&self.lookups.hit, sent, found)),
            Err(missed) => missed,
        };
        let mut done = {
            let mut in_flight = locked(&self.in_flight);
            match in_flight.get(key) {
                Some(done) => done.clone(),
                None => {
                    let (sender, done) = tokio::sync::watch::channel(());
                    in_flight.insert(key.clone(), done);
                    missed.increment(1);
                    return Err(Some(Leading { in_flight: self.in_flight.clone(), key: key.clone(), _done: sender }));
                }
            }
        };
        // Ends, with an error, when the leader's `Leading` is dropped.
        let _ = done.changed().await;
        match self.current(kept, key).await {
            Ok(found) => Ok(self.served(&self.lookups.joined, sent, found)),
            Err(_) => {
                missed.increment(1);
                Err(None)
            }
        }
    }

    /// The answer kept for `key` while what it was made from is unchanged, else the
    /// lookup result to count (`miss`, or `stale`, having dropped it).
    async fn current(
        &self,
        kept: &moka::sync::Cache<ResponseKey, Arc<Kept>>,
        key: &ResponseKey,
    ) -> Result<Arc<Kept>, &metrics::Counter> {
        let found = kept.get(key).ok_or(&self.lookups.miss)?;
        if !self.cache.unchanged(&found.reads).await {
            kept.invalidate(key);
            return Err(&self.lookups.stale);
        }
        Ok(found)
    }

    fn served(&self, result: &metrics::Counter, sent: Option<RequestKey>, found: Arc<Kept>) -> Hit {
        result.increment(1);
        let hit = found.hit();
        self.found_by(sent, found);
        hit
    }

    /// The answer kept for a request sent exactly so before, while everything it was made
    /// from is unchanged. Counts only a hit: otherwise the request is parsed and looked
    /// up by what it asks, which counts.
    pub async fn lookup_sent(&self, sent: &RequestKey) -> Option<Hit> {
        let by_request = self.by_request.as_ref()?;
        let found = by_request.get(sent)?;
        if !self.cache.unchanged(&found.reads).await {
            by_request.invalidate(sent);
            return None;
        }
        self.lookups.hit.increment(1);
        Some(found.hit())
    }

    fn found_by(&self, sent: Option<RequestKey>, kept: Arc<Kept>) {
        if let (Some(by_request), Some(sent)) = (&self.by_request, sent) {
            by_request.insert(sent, kept);
        }
    }

    /// The caller asked for an answer made now (`Cache-Control: no-cache`).
    pub fn bypassed(&self) {
        if self.kept.is_some() {
            self.lookups.bypassed.increment(1);
        }
    }

    /// Keeps `body`, the answer to `operation` that `key` was given, made from what
    /// `recorded` read, to be found by `key` and by `sent`.
    pub fn keep(&self, key: ResponseKey, sent: Option<RequestKey>, body: Bytes, recorded: Recorded, operation: &str) {
        let Some(kept) = &self.kept else { return };
        let Some((reads, first_expiry)) = recorded.into_reads() else {
            self.unkept("untracked");
            return;
        };
        let kept_at = Instant::now();
        let expires_at = first_expiry.unwrap_or_else(|| kept_at + self.cache.longest_time_to_live());
        if expires_at <= kept_at {
            return;
        }
        let answered = AnsweredOk::of(operation);
        let answer = Arc::new(Kept { body, answered, reads: reads.into(), kept_at, expires_at });
        kept.insert(key, answer.clone());
        self.found_by(sent, answer);
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
            self.responses.keep(self.key.clone(), None, Bytes::from_static(b"answer"), recorded, "op");
            assert!(self.responses.lookup(&self.key, None).await.is_some(), "kept");
        }

        async fn stale(&self) -> bool {
            self.responses.lookup(&self.key, None).await.is_none()
        }
    }

    /// A second caller of the same query while the first one's answer is being made.
    fn follower(fixture: &Fixture) -> tokio::task::JoinHandle<Result<Hit, Option<Leading>>> {
        let (responses, key) = (fixture.responses.clone(), fixture.key.clone());
        tokio::spawn(async move { responses.lookup_or_lead(&key, None).await })
    }

    #[tokio::test]
    async fn a_query_asked_while_its_answer_is_being_made_is_given_that_answer() {
        let fixture = Fixture::new(Ttls::default()).await;
        let leading = fixture.responses.lookup_or_lead(&fixture.key, None).await.err().expect("nothing kept yet");
        let leading = leading.expect("the first caller makes the answer");
        let waiting = follower(&fixture);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "it waits for the answer being made");

        fixture.keep().await;
        drop(leading);
        let joined = waiting.await.unwrap().ok().expect("given the answer made meanwhile");
        assert_eq!(&joined.body[..], b"answer");
    }

    #[tokio::test]
    async fn a_waiter_whose_leader_kept_nothing_makes_its_own_answer() {
        let fixture = Fixture::new(Ttls::default()).await;
        let leading = fixture.responses.lookup_or_lead(&fixture.key, None).await.err().expect("nothing kept yet");
        let waiting = follower(&fixture);
        tokio::time::sleep(Duration::from_millis(50)).await;
        // An answer with errors is not kept; a caller gone drops its `Leading` alike.
        drop(leading);
        let alone = waiting.await.unwrap().err().expect("nothing was kept");
        assert!(alone.is_none(), "it makes its own, leading no one: a failing query is not run in turn");

        let next = fixture.responses.lookup_or_lead(&fixture.key, None).await.err().expect("still nothing kept");
        assert!(next.is_some(), "the next caller leads again");
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
        fixture.responses.keep(fixture.key.clone(), None, Bytes::from_static(b"answer"), recorded, "op");
        assert!(fixture.stale().await);
    }
}
