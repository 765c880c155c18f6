//! The `events` section: how image status is watched, and the Redis instances share it
//! through. The poll's default is the poller's own (`events::poller::DEFAULT_INTERVAL`).

use std::time::Duration;

use super::settings::Given;
use crate::secret::Secret;

/// Image status: how it is watched, and how instances share it (and persisted queries).
#[derive(Clone, Debug)]
pub struct EventSettings {
    pub redis_url: Option<Secret>,
    /// Where idempotency records are kept, when not in `redis_url`'s Redis: they may not be lost.
    pub records_redis_url: Option<Secret>,
    pub poll_interval: Duration,
}

impl EventSettings {
    pub(super) fn given(given: &Given) -> Self {
        Self {
            redis_url: given.redis_url(),
            records_redis_url: given.records_redis_url(),
            poll_interval: given
                .poll_interval_ms()
                .filter(|ms| *ms > 0)
                .map_or(crate::events::poller::DEFAULT_INTERVAL, Duration::from_millis),
        }
    }
}
