//! The `live_queries` section: how many `@live` queries one connection may hold
//! open, and how many different ones one tenant may keep running. Defaults written
//! once, here.

use super::settings::{Given, key};
use super::{ConfigError, at_least_one};

/// Each open live query holds a place in its connection's outbox and its share of
/// the runs: as many as a page of a dashboard asks for, with room.
pub const DEFAULT_PER_CONNECTION: usize = 50;
/// Each different live query runs again on every change to what it read, and may
/// spend the tenant's upstream quota doing so; identical ones share one run.
pub const DEFAULT_PER_TENANT: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveQueryLimits {
    pub per_connection: usize,
    /// Different live queries (identical ones count once) running for one tenant.
    pub per_tenant: usize,
}

impl Default for LiveQueryLimits {
    fn default() -> Self {
        Self { per_connection: DEFAULT_PER_CONNECTION, per_tenant: DEFAULT_PER_TENANT }
    }
}

impl LiveQueryLimits {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        Ok(Self {
            per_connection: at_least_one(
                key::live_queries_per_connection,
                given.live_queries_per_connection(),
                DEFAULT_PER_CONNECTION,
            )?,
            per_tenant: at_least_one(
                key::live_queries_per_tenant,
                given.live_queries_per_tenant(),
                DEFAULT_PER_TENANT,
            )?,
        })
    }
}
