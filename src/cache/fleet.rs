//! Cache coherence between the instances sharing a Redis. A write's invalidations
//! (tenant hash, kind, id: never a credential) are published on one channel, and
//! every other instance drops the same entries. An instance whose subscription
//! broke cannot know what it missed, so each time it subscribes it drops its whole
//! cache. With Redis away, each instance's cache is its own until it comes back,
//! and its entries live no longer than their time to live.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::AsyncCommands as _;
use tokio::sync::watch;

use super::{Cache, Invalidation, Kind};
use crate::redis_link::RedisLink;
use crate::telemetry::metrics::CACHE_INVALIDATIONS;

const CHANNEL: &str = "pixgate:cache-invalidations";
/// A write waits this long at most for Redis to take its invalidation.
const PUBLISH_WAIT: Duration = Duration::from_millis(250);

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    origin: String,
    #[serde(flatten)]
    invalidation: Invalidation,
}

/// This instance's voice among the others.
#[derive(Clone)]
pub struct Fleet {
    redis: RedisLink,
    origin: Arc<str>,
    /// True while subscribed to the others' invalidations.
    hearing: Arc<AtomicBool>,
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
        let fleet = Self { redis: redis.clone(), origin, hearing: Arc::default() };
        if cache.fleet.set(fleet.clone()).is_ok() {
            tokio::spawn(fleet.listen(cache.clone(), shutdown));
        }
    }

    pub(super) fn hearing(&self) -> bool {
        self.hearing.load(Ordering::Acquire)
    }

    /// Tells the others; the write answers its caller only after Redis took it (or did not answer).
    pub(super) async fn announce(&self, invalidation: &Invalidation) {
        let envelope = Envelope { origin: self.origin.to_string(), invalidation: invalidation.clone() };
        let Ok(message) = serde_json::to_string(&envelope) else { return };
        let sent = match self.redis.connection().await {
            Some(mut connection) => {
                matches!(
                    tokio::time::timeout(PUBLISH_WAIT, connection.publish::<_, _, ()>(CHANNEL, message)).await,
                    Ok(Ok(()))
                )
            }
            None => false,
        };
        let outcome = if sent { "sent" } else { "unsent" };
        metrics::counter!(CACHE_INVALIDATIONS, "outcome" => outcome).increment(1);
        if !sent {
            tracing::warn!(
                kind = invalidation.kind.map_or("all", Kind::label),
                "Redis did not take a cache invalidation: other instances keep their copy until it expires"
            );
        }
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
        let heard = |payload: String| match serde_json::from_str::<Envelope>(&payload) {
            Ok(envelope) if *envelope.origin != *self.origin => {
                cache.apply(&envelope.invalidation);
                metrics::counter!(CACHE_INVALIDATIONS, "outcome" => "received").increment(1);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ignored an unreadable cache invalidation from Redis"),
        };
        let lost = |failures: u32| {
            self.hearing.store(false, Ordering::Release);
            if failures == 0 {
                tracing::warn!(
                    "not hearing other instances' cache invalidations: serving from this instance's cache, and retrying"
                );
            }
        };
        self.redis.listen(CHANNEL, shutdown, subscribed, heard, lost).await;
    }
}
