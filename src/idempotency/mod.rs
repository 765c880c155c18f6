//! A write under an `Idempotency-Key` happens once, whatever fails in between (a
//! retouched image and an invoice cost real money).
//!
//! Each key has a record, per tenant, for a day. It goes from *claimed* (before the
//! upstream call) to *done* (the answer kept, and given to every retry) or *unknown*
//! (the request may have reached the upstream, and no answer says what it did). A
//! retry of a claimed write waits for it, or is told `IN_PROGRESS`; of an unknown one,
//! the upstream is asked, through the write's natural key (`Natural`), whether the
//! write was made: what it finds is the answer, and becomes the record. Nothing is
//! sent again blindly: only when the upstream says it holds nothing, long after the
//! write was sent (`Timing::absent_after`), is the write made again. A failure the
//! upstream gave before acting (a refusal, no connection) frees the key. The same key
//! with another body is refused, as the IETF Idempotency-Key draft says.
//!
//! With Redis the records are the fleet's: a claim is `SET NX`, and every change of a
//! record is a compare-and-set on the request that holds it. That Redis must keep
//! them through a restart and never evict them (see the README's section on Redis);
//! when it cannot be reached, a keyed write is refused (`Refused::Unrecorded`) unless
//! the upstream can be asked first whether it was made. Without Redis, this instance's
//! memory holds the records, and says so in `pixgate_idempotent_writes_total{scope="instance"}`.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

mod records;

use records::{Away, Record, Records, State};
pub use records::{check_keeping, keeping_problems as records_keeping_problems};

use crate::redis_link::RedisLink;
use crate::telemetry::metrics::{IDEMPOTENT_OUTCOMES, IDEMPOTENT_WRITES};
use crate::upstream::{TenantKey, UpstreamError, UpstreamSettings};

pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);
const CAPACITY: u64 = 100_000;
pub const MAX_KEY_LEN: usize = 255;
/// How often a request waiting for another instance's write looks again.
const POLL: Duration = Duration::from_millis(25);

/// How long each step of a keyed write may take.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long a retry waits for the write another request is making before `IN_PROGRESS`.
    pub wait_for_claim: Duration,
    /// A claim older than this whose holder never reported died mid-write (its instance was
    /// killed, its request cancelled): its outcome is unknown.
    pub abandoned_after: Duration,
    /// Until this long after a write was sent, the upstream's holding nothing proves nothing: a
    /// request the gateway stopped waiting for may still be acted on.
    pub absent_after: Duration,
}

impl Timing {
    /// From how long the longest write may take: every attempt's timeout and the waits between.
    pub fn for_writes(upstream: &UpstreamSettings) -> Self {
        let abandoned_after = upstream.longest_call() + Duration::from_secs(5);
        Self {
            wait_for_claim: abandoned_after.min(Duration::from_secs(15)),
            abandoned_after,
            absent_after: (abandoned_after * 2).max(Duration::from_secs(120)),
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self::for_writes(&UpstreamSettings::default())
    }
}

/// Whether a failed write may have been made all the same.
pub trait WriteFailure {
    fn may_have_acted(&self) -> bool;
}

impl WriteFailure for UpstreamError {
    fn may_have_acted(&self) -> bool {
        matches!(self, UpstreamError::OutcomeUnknown { .. })
    }
}

/// What the upstream says about a write whose outcome was unknown, asked through its natural key.
#[derive(Clone, Debug)]
pub enum Settled<T> {
    /// It holds what the write made.
    Found(T),
    /// It holds nothing the write would have made.
    Absent,
    /// It cannot tell (several candidates, a key of the caller's that may name an earlier
    /// write); the text says what a person should look at.
    CannotTell(String),
}

/// How a write can be found upstream once made.
#[derive(Clone, Debug)]
pub struct Natural {
    /// The upstream answers by a key of the gateway's own making, so asking before a write says
    /// for certain whether it was made (Pixelz's `customerImageId` derived from the key): the
    /// write needs no record to happen once.
    pub checkable: bool,
    /// What to look for upstream when the gateway cannot tell, in words for a person.
    pub look_for: String,
}

/// Why a write under a key gave no result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused<E> {
    /// The upstream refused the write before acting, or it was never sent: the key is free again.
    Failed(E),
    /// The key was used before with another body.
    BodyDiffers,
    /// Another request is making this write now.
    InProgress,
    /// The write may have been made and the upstream cannot yet say: `check` is what to look for.
    OutcomeUnknown { check: String },
    /// The record store cannot be reached and the upstream cannot be asked first: nothing was sent.
    Unrecorded,
}

type Remembered = (String, Arc<dyn Any + Send + Sync>);

#[derive(Clone)]
pub struct Idempotency {
    records: Records,
    /// Results this instance wrote or read, with their body's fingerprint, so a repeat costs no
    /// round trip. Keyed by the slot and the result's `TypeId`, so a value is always of the type asked for.
    done: moka::future::Cache<(String, TypeId), Remembered>,
    /// One lock per slot: requests on this instance with the same key take turns.
    turns: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    timing: Timing,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("remembered", &self.done.entry_count())
            .field("records", &self.records.scope())
            .finish()
    }
}

impl Default for Idempotency {
    fn default() -> Self {
        Self::new(None, Timing::default())
    }
}

/// A hex SHA-256 of the parts: keys and bodies are kept as fingerprints only.
fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        hasher.update([0u8]);
    }
    format!("{:x}", hasher.finalize())
}

/// The key's own short name for a write, for an upstream that lets the caller name what it
/// makes (Pixelz's `customerImageId`): the same tenant, key and write always give the same name.
pub fn natural_key(tenant: &TenantKey, key: &str, write: &str) -> String {
    let digest = fingerprint(&[tenant.as_str().as_bytes(), key.as_bytes(), write.as_bytes()]);
    // Not all digits: Pixelz answers an id that looks like a number as a number.
    format!("pg-{}", &digest[..24])
}

/// Marks a write unknown if its request is dropped while the write is in flight (a client gone,
/// the execution time limit): the bytes may have left, and the record must not stay claimed.
struct InFlight {
    records: Records,
    slot: String,
    record: Option<Record>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(record) = self.record.take() else { return };
        let (records, slot) = (self.records.clone(), std::mem::take(&mut self.slot));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = records.replace(&slot, &record.holder, &record.with(State::Unknown, None)).await;
            });
        }
    }
}

impl Idempotency {
    /// Records in `redis` when given (shared by the fleet), else in this instance's memory.
    pub fn new(redis: Option<RedisLink>, timing: Timing) -> Self {
        let records = match redis {
            Some(link) => Records::Redis(link),
            None => Records::Memory(moka::future::Cache::builder().max_capacity(CAPACITY).time_to_live(TTL).build()),
        };
        Self {
            records,
            done: moka::future::Cache::builder().max_capacity(CAPACITY).time_to_live(TTL).build(),
            turns: moka::sync::Cache::builder().max_capacity(CAPACITY).time_to_idle(Duration::from_secs(600)).build(),
            timing,
        }
    }

    /// Runs `write` once for the tenant, key and kind of result, here or on any instance sharing
    /// the records; without a key, runs it. `body` is what is written: the same key with another
    /// body is refused. `settle` asks the upstream whether the write was made, given when it was
    /// first sent; it runs only when the outcome is unknown (or before writing, for a `checkable` write).
    pub async fn once<T, E, W, S, SFut>(
        &self,
        tenant: &TenantKey,
        key: Option<String>,
        body: &impl Serialize,
        natural: &Natural,
        write: impl FnOnce() -> W,
        settle: S,
    ) -> Result<Arc<T>, Refused<E>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        E: WriteFailure,
        W: Future<Output = Result<T, E>>,
        S: Fn(DateTime<Utc>) -> SFut,
        SFut: Future<Output = Result<Settled<T>, E>>,
    {
        let Some(key) = key else {
            let sent = Utc::now();
            return match write().await {
                Ok(value) => Ok(Arc::new(value)),
                Err(error) if error.may_have_acted() => settle_or_unknown(&settle, sent, natural).await,
                Err(error) => Err(Refused::Failed(error)),
            };
        };
        let body = fingerprint(&[body_text(body).as_bytes()]);
        let kind = std::any::type_name::<T>();
        let slot = fingerprint(&[tenant.as_str().as_bytes(), key.as_bytes(), kind.as_bytes()]);
        let turn = self.turns.get_with(slot.clone(), Default::default);
        let _turn = tokio::time::timeout(self.timing.wait_for_claim, turn.lock_owned())
            .await
            .map_err(|_| outcome(Refused::InProgress))?;
        let remembered = (slot.clone(), TypeId::of::<T>());
        if let Some((kept_body, value)) = self.done.get(&remembered).await {
            if kept_body != body {
                return Err(outcome(Refused::BodyDiffers));
            }
            outcome_counted("repeated");
            return Ok(value.downcast::<T>().expect("a slot names the type of its value"));
        }
        let answer = self.keyed(&slot, &body, natural, write, &settle).await;
        if let Ok(value) = &answer {
            self.done.insert(remembered, (body, value.clone() as Arc<dyn Any + Send + Sync>)).await;
        }
        answer
    }

    async fn keyed<T, E, W, S, SFut>(
        &self,
        slot: &str,
        body: &str,
        natural: &Natural,
        write: impl FnOnce() -> W,
        settle: &S,
    ) -> Result<Arc<T>, Refused<E>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        E: WriteFailure,
        W: Future<Output = Result<T, E>>,
        S: Fn(DateTime<Utc>) -> SFut,
        SFut: Future<Output = Result<Settled<T>, E>>,
    {
        let waiting = Instant::now();
        let claim = Record::claim(body);
        loop {
            let held = match self.records.claim(slot, &claim).await {
                Err(Away) => return self.unrecorded(natural, write, settle).await,
                Ok(None) => break,
                Ok(Some(held)) => held,
            };
            if held.body != body {
                return Err(outcome(Refused::BodyDiffers));
            }
            match held.state {
                State::Done => {
                    // Written by a version that words its results otherwise: it expires in a day.
                    let value = held.result.and_then(|r| serde_json::from_value::<T>(r).ok());
                    outcome_counted("repeated");
                    return value.map(Arc::new).ok_or(Refused::BodyDiffers);
                }
                // In this instance's memory a claim is held only by a request taking its turn,
                // so one seen here was abandoned; in Redis it may be another instance's write.
                State::Claimed
                    if matches!(self.records, Records::Redis(_)) && held.age() < self.timing.abandoned_after =>
                {
                    if waiting.elapsed() >= self.timing.wait_for_claim {
                        return Err(outcome(Refused::InProgress));
                    }
                    tokio::time::sleep(POLL).await;
                }
                State::Claimed | State::Unknown => {
                    match self.settle_unknown(slot, &held, natural, settle).await {
                        Some(answer) => return answer,
                        // The upstream holds nothing, long after: write again, if still this request's to write.
                        None => {
                            let again = Record::claim(body);
                            match self.records.replace(slot, &held.holder, &again).await {
                                Ok(true) => return self.write_claimed(slot, again, natural, write, settle).await,
                                Ok(false) => continue,
                                Err(Away) => return self.unrecorded(natural, write, settle).await,
                            }
                        }
                    }
                }
            }
        }
        self.write_claimed(slot, claim, natural, write, settle).await
    }

    /// Asks the upstream about a write whose outcome is unknown: the answer to give, or None when
    /// it holds nothing long after the write was sent, so the write may be made again.
    async fn settle_unknown<T, E, S, SFut>(
        &self,
        slot: &str,
        held: &Record,
        natural: &Natural,
        settle: &S,
    ) -> Option<Result<Arc<T>, Refused<E>>>
    where
        T: Serialize + Send + Sync + 'static,
        S: Fn(DateTime<Utc>) -> SFut,
        SFut: Future<Output = Result<Settled<T>, E>>,
    {
        match settle(held.since()).await {
            Ok(Settled::Found(value)) => {
                let done = held.with(State::Done, serde_json::to_value(&value).ok());
                if !matches!(self.records.replace(slot, &held.holder, &done).await, Ok(true)) {
                    tracing::warn!("could not record a settled write; a retry will ask the upstream again");
                }
                outcome_counted("settled");
                Some(Ok(Arc::new(value)))
            }
            Ok(Settled::Absent) if held.age() >= self.timing.absent_after => None,
            Ok(Settled::Absent) => Some(Err(outcome(Refused::OutcomeUnknown {
                check: format!(
                    "{} (none yet; the upstream may still act on the request sent at {}: ask again later)",
                    natural.look_for,
                    held.since().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
            }))),
            Ok(Settled::CannotTell(why)) => Some(Err(outcome(Refused::OutcomeUnknown { check: why }))),
            Err(_) => Some(Err(outcome(Refused::OutcomeUnknown {
                check: format!("{} (the upstream could not be asked just now)", natural.look_for),
            }))),
        }
    }

    /// Makes the write this request claimed, and records what became of it.
    async fn write_claimed<T, E, W, S, SFut>(
        &self,
        slot: &str,
        claim: Record,
        natural: &Natural,
        write: impl FnOnce() -> W,
        settle: &S,
    ) -> Result<Arc<T>, Refused<E>>
    where
        T: Serialize + Send + Sync + 'static,
        E: WriteFailure,
        W: Future<Output = Result<T, E>>,
        S: Fn(DateTime<Utc>) -> SFut,
        SFut: Future<Output = Result<Settled<T>, E>>,
    {
        metrics::counter!(IDEMPOTENT_WRITES, "scope" => self.records.scope()).increment(1);
        // A record lost to a restart or an eviction leaves a write the upstream still knows by its key.
        if natural.checkable {
            match settle(claim.since()).await {
                Ok(Settled::Found(value)) => {
                    let done = claim.with(State::Done, serde_json::to_value(&value).ok());
                    let _ = self.records.replace(slot, &claim.holder, &done).await;
                    outcome_counted("settled");
                    return Ok(Arc::new(value));
                }
                Ok(Settled::Absent) => {}
                // Nothing was sent: the key is free again, and the caller hears why.
                Ok(Settled::CannotTell(why)) => {
                    let _ = self.records.release(slot, &claim.holder).await;
                    return Err(outcome(Refused::OutcomeUnknown { check: why }));
                }
                Err(error) => {
                    let _ = self.records.release(slot, &claim.holder).await;
                    return Err(outcome(Refused::Failed(error)));
                }
            }
        }
        let mut in_flight = InFlight { records: self.records.clone(), slot: slot.to_string(), record: Some(claim) };
        let written = write().await;
        let claim = in_flight.record.take().expect("taken once");
        match written {
            Ok(value) => {
                let done = claim.with(State::Done, serde_json::to_value(&value).ok());
                if !matches!(self.records.replace(slot, &claim.holder, &done).await, Ok(true)) {
                    tracing::warn!(
                        "could not record a write's result: a retry will ask the upstream whether it was made"
                    );
                }
                outcome_counted("written");
                Ok(Arc::new(value))
            }
            Err(error) if error.may_have_acted() => {
                let unknown = claim.with(State::Unknown, None);
                let _ = self.records.replace(slot, &claim.holder, &unknown).await;
                // Just sent, so the upstream's holding nothing yet proves nothing.
                let settled = self.settle_unknown(slot, &unknown, natural, settle).await;
                settled.unwrap_or_else(|| Err(outcome(Refused::OutcomeUnknown { check: natural.look_for.clone() })))
            }
            Err(error) => {
                let _ = self.records.release(slot, &claim.holder).await;
                outcome_counted("refused_upstream");
                Err(Refused::Failed(error))
            }
        }
    }

    /// A keyed write while the records cannot be reached: made only when the upstream can be
    /// asked first whether it was made, else refused (fail closed).
    async fn unrecorded<T, E, W, S, SFut>(
        &self,
        natural: &Natural,
        write: impl FnOnce() -> W,
        settle: &S,
    ) -> Result<Arc<T>, Refused<E>>
    where
        E: WriteFailure,
        W: Future<Output = Result<T, E>>,
        S: Fn(DateTime<Utc>) -> SFut,
        SFut: Future<Output = Result<Settled<T>, E>>,
    {
        if !natural.checkable {
            tracing::warn!("the idempotency records cannot be reached: a keyed write is refused");
            return Err(outcome(Refused::Unrecorded));
        }
        metrics::counter!(IDEMPOTENT_WRITES, "scope" => "upstream").increment(1);
        let sent = Utc::now();
        match settle(sent).await {
            Ok(Settled::Found(value)) => return Ok(Arc::new(value)),
            Ok(Settled::Absent) => {}
            Ok(Settled::CannotTell(_)) | Err(_) => return Err(outcome(Refused::Unrecorded)),
        }
        match write().await {
            Ok(value) => Ok(Arc::new(value)),
            Err(error) if error.may_have_acted() => settle_or_unknown(settle, sent, natural).await,
            Err(error) => Err(Refused::Failed(error)),
        }
    }
}

/// After a write without a record whose outcome is unknown: what the upstream shows, or unknown.
async fn settle_or_unknown<T, E, S, SFut>(
    settle: &S,
    sent: DateTime<Utc>,
    natural: &Natural,
) -> Result<Arc<T>, Refused<E>>
where
    S: Fn(DateTime<Utc>) -> SFut,
    SFut: Future<Output = Result<Settled<T>, E>>,
{
    match settle(sent).await {
        Ok(Settled::Found(value)) => {
            outcome_counted("settled");
            Ok(Arc::new(value))
        }
        Ok(Settled::CannotTell(why)) => Err(outcome(Refused::OutcomeUnknown { check: why })),
        Ok(Settled::Absent) | Err(_) => Err(outcome(Refused::OutcomeUnknown { check: natural.look_for.clone() })),
    }
}

fn outcome_counted(outcome: &'static str) {
    metrics::counter!(IDEMPOTENT_OUTCOMES, "outcome" => outcome).increment(1);
}

/// Counts a refusal by its kind, and gives it back.
fn outcome<E>(refused: Refused<E>) -> Refused<E> {
    outcome_counted(match &refused {
        Refused::Failed(_) => "refused_upstream",
        Refused::BodyDiffers => "key_reused",
        Refused::InProgress => "in_progress",
        Refused::OutcomeUnknown { .. } => "unknown",
        Refused::Unrecorded => "unrecorded",
    });
    refused
}

/// The body as canonical JSON: object keys in order, so the same input written another way
/// (fields in another order) is the same body.
fn body_text(body: &impl Serialize) -> String {
    fn canonical(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(fields) => {
                let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                    fields.into_iter().map(|(k, v)| (k, canonical(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(canonical).collect()),
            other => other,
        }
    }
    serde_json::to_value(body).map(canonical).map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Fail {
        /// Refused before acting.
        Refused,
        /// Sent, and the answer lost.
        Lost,
    }

    impl WriteFailure for Fail {
        fn may_have_acted(&self) -> bool {
            *self == Fail::Lost
        }
    }

    fn tenant(cookie: &str) -> TenantKey {
        TenantKey::of_cookie(cookie)
    }

    fn natural(checkable: bool) -> Natural {
        Natural { checkable, look_for: "the thing".into() }
    }

    fn quick(absent_after: Duration) -> Idempotency {
        let timing =
            Timing { wait_for_claim: Duration::from_secs(5), abandoned_after: Duration::from_secs(5), absent_after };
        Idempotency::new(None, timing)
    }

    /// What the upstream holds: how many writes it took, and whether the last one is there to find.
    #[derive(Default)]
    struct Upstream {
        writes: AtomicUsize,
        holds: AtomicUsize,
    }

    impl Upstream {
        async fn write(&self, answer: Result<(), Fail>) -> Result<usize, Fail> {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if answer != Err(Fail::Refused) {
                let n = self.writes.fetch_add(1, Ordering::SeqCst);
                self.holds.store(n + 1, Ordering::SeqCst);
            }
            answer.map(|()| self.writes.load(Ordering::SeqCst) - 1)
        }

        async fn settle(&self) -> Result<Settled<usize>, Fail> {
            Ok(match self.holds.load(Ordering::SeqCst) {
                0 => Settled::Absent,
                n => Settled::Found(n - 1),
            })
        }

        fn writes(&self) -> usize {
            self.writes.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_key_writes_once_per_tenant() {
        let store = Idempotency::default();
        let up = Upstream::default();
        let once = |t: &'static str, key: Option<&str>, body: u8| {
            let (store, up, key) = (&store, &up, key.map(str::to_string));
            async move {
                let tenant = tenant(t);
                store.once(&tenant, key, &body, &natural(false), || up.write(Ok(())), |_| up.settle()).await
            }
        };
        let (first, second) = tokio::join!(once("a", Some("k"), 1), once("a", Some("k"), 1));
        assert_eq!((*first.unwrap(), *second.unwrap()), (0, 0), "retries at once share the write");
        assert_eq!(*once("a", Some("k"), 1).await.unwrap(), 0, "a later retry gets the first result");
        assert_eq!(*once("b", Some("k"), 1).await.unwrap(), 1, "another tenant's key is its own");
        assert_eq!(*once("a", None, 1).await.unwrap(), 2, "no key, no memory");
        assert_eq!(once("a", Some("k"), 2).await.unwrap_err(), Refused::BodyDiffers, "another body");
        assert_eq!(up.writes(), 3);
    }

    #[tokio::test]
    async fn a_refusal_before_acting_frees_the_key() {
        let store = Idempotency::default();
        let up = Upstream::default();
        let a = tenant("a");
        let refused = store
            .once(&a, Some("k".into()), &(), &natural(false), || up.write(Err(Fail::Refused)), |_| up.settle())
            .await;
        assert_eq!(refused.unwrap_err(), Refused::Failed(Fail::Refused));
        let retried =
            store.once(&a, Some("k".into()), &(), &natural(false), || up.write(Ok(())), |_| up.settle()).await;
        assert_eq!(*retried.unwrap(), 0);
        assert_eq!(up.writes(), 1);
    }

    #[tokio::test]
    async fn a_lost_answer_is_settled_by_asking_never_by_writing_again() {
        let store = quick(Duration::from_secs(600));
        let up = Upstream::default();
        let a = tenant("a");
        let lost =
            store.once(&a, Some("k".into()), &(), &natural(false), || up.write(Err(Fail::Lost)), |_| up.settle()).await;
        assert_eq!(*lost.unwrap(), 0, "the write was made: asking finds it");
        let retried =
            store.once(&a, Some("k".into()), &(), &natural(false), || up.write(Ok(())), |_| up.settle()).await;
        assert_eq!(*retried.unwrap(), 0);
        assert_eq!(up.writes(), 1, "one write upstream");
    }

    #[tokio::test]
    async fn an_unclear_write_the_upstream_does_not_show_is_unknown_until_long_after() {
        let up = Upstream::default();
        let a = tenant("a");
        // The upstream lost the request after all: it holds nothing.
        let lost = || async { Err::<usize, _>(Fail::Lost) };
        let store = quick(Duration::from_secs(600));
        let first = store.once(&a, Some("k".into()), &(), &natural(false), lost, |_| up.settle()).await;
        assert!(matches!(first.unwrap_err(), Refused::OutcomeUnknown { .. }));
        let retried =
            store.once(&a, Some("k".into()), &(), &natural(false), || up.write(Ok(())), |_| up.settle()).await;
        assert!(matches!(retried.unwrap_err(), Refused::OutcomeUnknown { .. }), "not written again so soon");
        assert_eq!(up.writes(), 0);

        let store = quick(Duration::ZERO);
        let first = store.once(&a, Some("k".into()), &(), &natural(false), lost, |_| up.settle()).await;
        assert!(matches!(first.unwrap_err(), Refused::OutcomeUnknown { .. }), "just sent proves nothing");
        let retried =
            store.once(&a, Some("k".into()), &(), &natural(false), || up.write(Ok(())), |_| up.settle()).await;
        assert_eq!(*retried.unwrap(), 0, "long after, the upstream's holding nothing lets the write through");
        assert_eq!(up.writes(), 1);
    }

    #[tokio::test]
    async fn a_write_cancelled_in_flight_is_settled_by_its_retry() {
        let store = quick(Duration::from_secs(600));
        let up = Upstream::default();
        let a = tenant("a");
        let slow = || async {
            up.writes.fetch_add(1, Ordering::SeqCst);
            up.holds.store(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<usize, Fail>(0)
        };
        let cancelled = tokio::time::timeout(
            Duration::from_millis(50),
            store.once(&a, Some("k".into()), &(), &natural(false), slow, |_| up.settle()),
        )
        .await;
        assert!(cancelled.is_err());
        let retried =
            store.once(&a, Some("k".into()), &(), &natural(false), || up.write(Ok(())), |_| up.settle()).await;
        assert_eq!(*retried.unwrap(), 0, "found upstream");
        assert_eq!(up.writes(), 1);
    }

    #[tokio::test]
    async fn a_checkable_write_asks_first_so_a_lost_record_writes_nothing() {
        let up = Upstream::default();
        let a = tenant("a");
        let first = Idempotency::default();
        first.once(&a, Some("k".into()), &(), &natural(true), || up.write(Ok(())), |_| up.settle()).await.unwrap();
        // A restart: the records are gone, the upstream still knows the write by its key.
        let restarted = Idempotency::default();
        let again =
            restarted.once(&a, Some("k".into()), &(), &natural(true), || up.write(Ok(())), |_| up.settle()).await;
        assert_eq!(*again.unwrap(), 0);
        assert_eq!(up.writes(), 1);
    }

    #[test]
    fn a_body_is_the_same_whatever_order_its_fields_came_in() {
        let a = serde_json::json!({ "input": { "email": "x@y.z", "firstName": "X" } });
        let b = serde_json::json!({ "input": { "firstName": "X", "email": "x@y.z" } });
        assert_eq!(body_text(&a), body_text(&b));
        assert_ne!(body_text(&a), body_text(&serde_json::json!({ "input": { "email": "x@y.z" } })));
    }

    #[test]
    fn a_derived_key_is_stable_and_never_a_number() {
        let key = natural_key(&tenant("a"), "k", "submitPixelzImage");
        assert_eq!(key, natural_key(&tenant("a"), "k", "submitPixelzImage"));
        assert_ne!(key, natural_key(&tenant("b"), "k", "submitPixelzImage"));
        assert!(key.starts_with("pg-") && key.len() == 27);
    }
}
