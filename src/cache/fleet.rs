//! Cache coherence between the instances sharing a Redis. A write's invalidations
//! (tenant hash, kind, id: never a credential) are published on one channel, and
//! every other instance drops the same entries, then confirms on the writer's own
//! channel. The write answers its caller once every instance Redis handed the
//! invalidation to has confirmed, so a read sent anywhere after the answer finds no
//! stale copy. An instance whose subscription broke cannot know what it missed, so
//! each time it subscribes it drops its whole cache. With Redis away, each instance's
//! cache is its own until it comes back, and its entries live no longer than their
//! time to live.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands as _;
use tokio::sync::watch;

use super::{Cache, Invalidation, Kind};
use crate::lock::locked;
use crate::redis_link::RedisLink;
use crate::telemetry::metrics::CACHE_INVALIDATIONS;

const CHANNEL: &str = "pixgate:cache-invalidations";
/// A write waits this long at most for Redis to take its invalidation.
const PUBLISH_WAIT: Duration = Duration::from_millis(250);
/// And then this long at most for the instances that heard it to confirm. Dropping a
/// copy takes microseconds, so only an instance that is stuck but still connected (a
/// dead one's subscription ends with its connection) holds a write this long.
const CONFIRM_WAIT: Duration = Duration::from_secs(1);

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    origin: String,
    /// The writer's number for it, echoed in the confirmations; absent from an instance
    /// of a version that did not ask for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serial: Option<u64>,
    #[serde(flatten)]
    invalidation: Invalidation,
}

/// Where the instances that heard `origin`'s invalidations confirm them.
fn confirmations_channel(origin: &str) -> String {
    format!("{CHANNEL}:confirmed:{origin}")
}

/// This instance's voice among the others.
#[derive(Clone)]
pub struct Fleet {
    redis: RedisLink,
    origin: Arc<str>,
    /// True while subscribed to the others' invalidations.
    hearing: Arc<AtomicBool>,
    serials: Arc<AtomicU64>,
    /// Confirmations counted so far of each invalidation a write is waiting on.
    awaited: Arc<Mutex<HashMap<u64, watch::Sender<usize>>>>,
}

/// Forgets an awaited invalidation however its write ends, answered or dropped.
struct Awaiting<'a> {
    fleet: &'a Fleet,
    serial: u64,
}

impl Drop for Awaiting<'_> {
    fn drop(&mut self) {
        locked(&self.fleet.awaited).remove(&self.serial);
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").field("origin", &self.origin).finish()
    }
}

impl Fleet {
    /// Joins `cache` to the instances sharing `redis`: its writes' invalidations go out,
    /// theirs come in.
    pub(super) fn start(redis: &RedisLink, cache: &Cache, shutdown: watch::Receiver<bool>) {
        let origin = uuid::Uuid::new_v4().simple().to_string().into();
        let fleet = Self {
            redis: redis.clone(),
            origin,
            hearing: Arc::default(),
            serials: Arc::default(),
            awaited: Arc::default(),
        };
        if cache.fleet.set(fleet.clone()).is_ok() {
            tokio::spawn(fleet.listen(cache.clone(), shutdown));
        }
    }

    pub(super) fn hearing(&self) -> bool {
        self.hearing.load(Ordering::Acquire)
    }

    /// Tells the others, and returns once each instance Redis handed it to has dropped its
    /// copy (or the waits ran out: then the write answers, and says so in the log).
    pub(super) async fn announce(&self, invalidation: &Invalidation) {
        let serial = self.serials.fetch_add(1, Ordering::Relaxed);
        let envelope =
            Envelope { origin: self.origin.to_string(), serial: Some(serial), invalidation: invalidation.clone() };
        let Ok(message) = serde_json::to_string(&envelope) else { return };
        // Counted from before the publication: a confirmation may arrive before Redis's answer to it.
        let (confirmations, mut confirmed) = watch::channel(0);
        locked(&self.awaited).insert(serial, confirmations);
        let _awaiting = Awaiting { fleet: self, serial };
        let receivers = match self.redis.connection().await {
            Some(mut connection) => {
                match tokio::time::timeout(PUBLISH_WAIT, connection.publish::<_, _, usize>(CHANNEL, message)).await {
                    Ok(Ok(receivers)) => Some(receivers),
                    _ => None,
                }
            }
            None => None,
        };
        let kind = invalidation.kind.map_or("all", Kind::label);
        let outcome = match receivers {
            None => {
                tracing::warn!(
                    kind,
                    "Redis did not take a cache invalidation: other instances keep their copy until it expires"
                );
                "unsent"
            }
            Some(receivers) => {
                let all_confirmed = confirmed.wait_for(|count| *count >= receivers);
                match tokio::time::timeout(CONFIRM_WAIT, all_confirmed).await {
                    Ok(Ok(_)) => "confirmed",
                    _ => {
                        tracing::warn!(
                            kind,
                            "not every instance confirmed a cache invalidation in time: one may serve its copy until \
                             it hears it"
                        );
                        "unconfirmed"
                    }
                }
            }
        };
        metrics::counter!(CACHE_INVALIDATIONS, "outcome" => outcome).increment(1);
    }

    /// One more instance dropped what this instance's invalidation `serial` named.
    fn count_confirmation(&self, serial: u64) {
        if let Some(confirmations) = locked(&self.awaited).get(&serial) {
            confirmations.send_modify(|count| *count += 1);
        }
    }

    /// Tells `origin` this instance dropped what its invalidation `serial` named.
    fn confirm(&self, origin: &str, serial: u64) {
        let (redis, channel) = (self.redis.clone(), confirmations_channel(origin));
        tokio::spawn(async move {
            if let Some(mut connection) = redis.connection().await {
                let _ = tokio::time::timeout(PUBLISH_WAIT, connection.publish::<_, _, ()>(channel, serial)).await;
            }
        });
    }

    async fn listen(self, cache: Cache, shutdown: watch::Receiver<bool>) {
        let subscribed = |failures: u32| {
            // Whatever was written elsewhere while this instance was not listening is unknown: forget it all.
            cache.invalidate_all();
            // And what this instance wrote while Redis was away is unknown to the shared tier.
            let settling = cache.clone();
            tokio::spawn(async move { settling.settle_shared().await });
            self.hearing.store(true, Ordering::Release);
            if failures > 0 {
                tracing::info!("hearing other instances' cache invalidations again; dropped this instance's cache");
            }
        };
        let confirmations = confirmations_channel(&self.origin);
        let heard = |channel: &str, payload: String| {
            if channel == confirmations {
                match payload.parse() {
                    Ok(serial) => self.count_confirmation(serial),
                    Err(_) => tracing::warn!("ignored an unreadable cache invalidation's confirmation from Redis"),
                }
                return;
            }
            match serde_json::from_str::<Envelope>(&payload) {
                Ok(envelope) if *envelope.origin == *self.origin => {
                    // Its own: dropped here before it was sent, and Redis counted this instance among its receivers.
                    if let Some(serial) = envelope.serial {
                        self.count_confirmation(serial);
                    }
                }
                Ok(envelope) => {
                    cache.apply(&envelope.invalidation);
                    metrics::counter!(CACHE_INVALIDATIONS, "outcome" => "received").increment(1);
                    if let Some(serial) = envelope.serial {
                        self.confirm(&envelope.origin, serial);
                    }
                }
                Err(error) => tracing::warn!(%error, "ignored an unreadable cache invalidation from Redis"),
            }
        };
        let lost = |failures: u32| {
            self.hearing.store(false, Ordering::Release);
            if failures == 0 {
                tracing::warn!(
                    "not hearing other instances' cache invalidations: serving from this instance's cache, and retrying"
                );
            }
        };
        self.redis.listen(&[CHANNEL, &confirmations], shutdown, subscribed, heard, lost).await;
    }
}
