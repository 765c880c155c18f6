//! Remembers a write's result for a day, per tenant and key, so a retried
//! request returns the first result instead of writing again (a retouched
//! image and an invoice cost real money). Concurrent retries share one write;
//! failures are not remembered, so a failed write can be retried. A key sent
//! again with another body is refused, as the IETF Idempotency-Key draft says.
//!
//! With Redis, every instance sharing it keeps the promise together: the first
//! request claims the key (`SET NX` with an expiry), writes, and stores the result
//! for 24 hours; a request with the same key on any instance waits for that result.
//! A claim whose holder died expires after `CLAIM`, so a retry can then write.
//! Without Redis, or while it does not answer, each instance keeps the promise
//! alone: it says so in its log and in `pixgate_idempotent_writes_total{scope="instance"}`.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, ExistenceCheck, SetExpiry, SetOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::redis_link::RedisLink;
use crate::telemetry::metrics::IDEMPOTENT_WRITES;
use crate::upstream::TenantKey;

pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);
const CAPACITY: u64 = 100_000;
pub const MAX_KEY_LEN: usize = 255;
/// Longer than one write may take: three attempts of ten seconds, and the waits between.
const CLAIM: Duration = Duration::from_secs(60);
/// How often a request waiting for another instance's write looks again.
const POLL: Duration = Duration::from_millis(25);
/// A Redis command that takes longer than this counts as Redis being away.
const REDIS_WAIT: Duration = Duration::from_millis(500);
const PREFIX: &str = "pixgate:idempotency:";

/// Why a write under a key gave no result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused<E> {
    /// The write failed; nothing is remembered, so a retry writes again.
    Failed(E),
    /// The key was used before with another body.
    BodyDiffers,
}

/// What Redis holds under a key: a fingerprint of the body written, who claimed
/// it, and the result once written.
#[derive(Clone, Debug, serde::Deserialize, Serialize)]
struct Record {
    body: String,
    holder: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<serde_json::Value>,
}

type Remembered = (String, Arc<dyn Any + Send + Sync>);

#[derive(Clone)]
pub struct Idempotency {
    /// Results this instance wrote or read, with their body's fingerprint.
    /// Keyed by the slot and the result's `TypeId`, so a remembered value is always of the type asked for.
    local: moka::future::Cache<(String, TypeId), Remembered>,
    redis: Option<RedisLink>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("entries", &self.local.entry_count())
            .field("shared", &self.redis.is_some())
            .finish()
    }
}

impl Default for Idempotency {
    fn default() -> Self {
        Self::new(None)
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

impl Idempotency {
    pub fn new(redis: Option<RedisLink>) -> Self {
        let local = moka::future::Cache::builder().max_capacity(CAPACITY).time_to_live(TTL).build();
        Self { local, redis }
    }

    /// Runs `write` unless a write under the same tenant, key and kind of result
    /// already succeeded, here or on an instance sharing Redis; without a key, always
    /// runs it. `body` is what is written: the same key with another body is refused.
    pub async fn once<T, E, Fut>(
        &self,
        tenant: &TenantKey,
        key: Option<String>,
        body: &impl Serialize,
        write: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, Refused<E>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(key) = key else { return write().await.map(Arc::new).map_err(Refused::Failed) };
        let body = fingerprint(&[serde_json::to_vec(body).unwrap_or_default().as_slice()]);
        let kind = std::any::type_name::<T>();
        let slot = fingerprint(&[tenant.as_str().as_bytes(), key.as_bytes(), kind.as_bytes()]);
        let (remembered_body, value) = self
            .local
            .try_get_with((slot.clone(), TypeId::of::<T>()), async {
                let value = self.shared_once::<T, E, Fut>(&slot, &body, write).await?;
                Ok::<Remembered, Refused<E>>((body.clone(), value))
            })
            .await
            .map_err(|refused: Arc<Refused<E>>| (*refused).clone())?;
        if remembered_body != body {
            return Err(Refused::BodyDiffers);
        }
        Ok(value.downcast::<T>().expect("a slot names the type of its value"))
    }

    /// The write, once across the instances sharing Redis when it answers, else once here.
    async fn shared_once<T, E, Fut>(
        &self,
        slot: &str,
        body: &str,
        write: impl FnOnce() -> Fut,
    ) -> Result<Arc<dyn Any + Send + Sync>, Refused<E>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let alone = |why: &str| {
            metrics::counter!(IDEMPOTENT_WRITES, "scope" => "instance").increment(1);
            if !why.is_empty() {
                tracing::warn!("{why}: this write is kept once by this instance alone");
            }
        };
        let connection = match &self.redis {
            Some(redis) => redis.connection().await,
            None => None,
        };
        let Some(mut redis) = connection else {
            alone(if self.redis.is_some() { "Redis is not connected" } else { "" });
            return write().await.map(|value| Arc::new(value) as _).map_err(Refused::Failed);
        };
        let key = format!("{PREFIX}{slot}");
        let claim = Record { body: body.to_string(), holder: uuid::Uuid::new_v4().simple().to_string(), result: None };
        loop {
            match claim_or_read(&mut redis, &key, &claim).await {
                Seen::Claimed => {
                    metrics::counter!(IDEMPOTENT_WRITES, "scope" => "fleet").increment(1);
                    return match write().await {
                        Ok(value) => {
                            let record = Record { result: serde_json::to_value(&value).ok(), ..claim };
                            keep(&mut redis, &key, &record).await;
                            Ok(Arc::new(value))
                        }
                        Err(error) => {
                            release(&mut redis, &key, &claim.holder).await;
                            Err(Refused::Failed(error))
                        }
                    };
                }
                Seen::Held(record) if record.body != body => return Err(Refused::BodyDiffers),
                Seen::Held(Record { result: Some(result), .. }) => match serde_json::from_value::<T>(result) {
                    Ok(value) => return Ok(Arc::new(value)),
                    // Written by a version that words its results otherwise: it expires in a day.
                    Err(_) => return Err(Refused::BodyDiffers),
                },
                // Claimed, not yet written; or freed in between: look again.
                Seen::Held(_) | Seen::Free => tokio::time::sleep(POLL).await,
                Seen::Away => {
                    alone("Redis did not answer");
                    return write().await.map(|value| Arc::new(value) as _).map_err(Refused::Failed);
                }
            }
        }
    }
}

/// What a request wanting to write under a key finds in Redis.
enum Seen {
    /// The key was free and is now this request's.
    Claimed,
    /// Another request's claim, or its result.
    Held(Record),
    /// Freed between the claim and the read.
    Free,
    /// Redis did not answer in time, or refused.
    Away,
}

async fn within<T>(command: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
    match tokio::time::timeout(REDIS_WAIT, command).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            tracing::warn!(error = ?error.kind(), "Redis refused an idempotency command");
            None
        }
        Err(_) => None,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

async fn claim_or_read(redis: &mut ConnectionManager, key: &str, claim: &Record) -> Seen {
    let Ok(text) = serde_json::to_string(claim) else { return Seen::Away };
    let options =
        SetOptions::default().conditional_set(ExistenceCheck::NX).with_expiration(SetExpiry::PX(millis(CLAIM)));
    match within(redis.set_options::<_, _, Option<String>>(key, text, options)).await {
        None => Seen::Away,
        Some(Some(_)) => Seen::Claimed,
        Some(None) => match within(redis.get::<_, Option<String>>(key)).await {
            None => Seen::Away,
            Some(None) => Seen::Free,
            // Only pixgate writes under its prefix; anything unreadable there is treated as Redis being away.
            Some(Some(text)) => serde_json::from_str(&text).map_or(Seen::Away, Seen::Held),
        },
    }
}

/// Stores the result for a day. Should Redis fail here, other instances see the claim
/// expire and may write again: the log says so.
async fn keep(redis: &mut ConnectionManager, key: &str, record: &Record) {
    let Ok(text) = serde_json::to_string(record) else { return };
    let stored = within(redis.pset_ex::<_, _, ()>(key, text, millis(TTL))).await;
    if stored.is_none() {
        tracing::warn!("could not share a write's result through Redis: another instance may repeat it");
    }
}

/// Frees a claim after a failed write, if it is still this request's: failures are not remembered.
async fn release(redis: &mut ConnectionManager, key: &str, holder: &str) {
    // Compare and delete in one step, so a claim another request took after this one expired stays.
    let script = redis::Script::new(
        r#"local held = redis.call("GET", KEYS[1])
        if held and cjson.decode(held).holder == ARGV[1] then return redis.call("DEL", KEYS[1]) end
        return 0"#,
    );
    let _ = within(script.key(key).arg(holder).invoke_async::<i64>(redis)).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn tenant(cookie: &str) -> TenantKey {
        TenantKey::of_cookie(cookie)
    }

    #[tokio::test]
    async fn a_key_writes_once_per_tenant() {
        let store = Idempotency::default();
        let writes = AtomicUsize::new(0);
        let write = || async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, String>(writes.fetch_add(1, Ordering::SeqCst))
        };
        let key = || Some("retry-me".to_string());
        let (a, b) = (tenant("a"), tenant("b"));
        let (first, second) = tokio::join!(store.once(&a, key(), &1, write), store.once(&a, key(), &1, write));
        assert_eq!((*first.unwrap(), *second.unwrap()), (0, 0));
        assert_eq!(*store.once(&a, key(), &1, write).await.unwrap(), 0, "a later retry gets the first result");
        assert_eq!(*store.once(&b, key(), &1, write).await.unwrap(), 1, "another tenant's key is its own");
        assert_eq!(*store.once(&a, None, &1, write).await.unwrap(), 2, "no key, no memory");
        assert_eq!(store.once(&a, key(), &2, write).await.unwrap_err(), Refused::BodyDiffers, "another body");
    }

    #[tokio::test]
    async fn failures_are_not_remembered() {
        let store = Idempotency::default();
        let a = tenant("a");
        let failed = store.once::<u8, _, _>(&a, Some("k".into()), &(), || async { Err("down".to_string()) }).await;
        assert_eq!(failed.unwrap_err(), Refused::Failed("down".to_string()));
        let retried = store.once::<u8, String, _>(&a, Some("k".into()), &(), || async { Ok(7) }).await;
        assert_eq!(*retried.unwrap(), 7);
    }
}
