//! The `cache` section: how much memory the caches may use and how long what they keep
//! lives. The defaults are the cache's own (`cache::DEFAULT_CAPACITY_BYTES`, `cache::Ttls`).

use std::time::Duration;

use super::settings::Given;
use crate::cache::DEFAULT_CAPACITY_BYTES;
use crate::cache::Ttls;
use crate::cache::responses::DEFAULT_CAPACITY_BYTES as RESPONSE_CACHE_BYTES;

#[derive(Clone, Debug)]
pub struct CacheSettings {
    /// None when caching is off.
    pub bytes: Option<u64>,
    /// For whole answers; None or 0 when they are not kept.
    pub response_bytes: Option<u64>,
    pub ttls: Ttls,
}

impl CacheSettings {
    pub(super) fn given(given: &Given) -> Self {
        let defaults = Ttls::default();
        let secs = |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_secs);
        Self {
            // 0 MiB switches the cache off.
            bytes: match given.cache_mb() {
                Some(0) => None,
                Some(mb) => Some(mb.saturating_mul(1024 * 1024)),
                None => Some(DEFAULT_CAPACITY_BYTES),
            },
            response_bytes: match given.response_cache_mb() {
                Some(mb) => Some(mb.saturating_mul(1024 * 1024)),
                None => Some(RESPONSE_CACHE_BYTES),
            },
            ttls: Ttls {
                templates: secs(given.cache_templates_secs(), defaults.templates),
                records: secs(given.cache_records_secs(), defaults.records),
                image_status: secs(given.cache_image_status_secs(), defaults.image_status),
                ..defaults
            },
        }
    }
}
