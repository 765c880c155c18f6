//! The `limits` of one operation, enforced by `graphql::limits`. Defaults written once, here.

use std::time::Duration;

use super::settings::{Given, key};
use super::{ConfigError, at_least_one};

/// Introspection, field suggestions and GraphiQL: on, so people can explore; production may switch them off.
pub const DEFAULT_EXPLORING: bool = true;
pub const DEFAULT_MAX_DEPTH: usize = 15;
pub const DEFAULT_MAX_COMPLEXITY: usize = 5_000;
pub const DEFAULT_MAX_ALIASES: usize = 30;
/// graphql-armor's default: directive overloading (OWASP) costs the server per directive.
pub const DEFAULT_MAX_DIRECTIVES: usize = 50;
pub const DEFAULT_MAX_ROOT_FIELDS: usize = 20;
pub const DEFAULT_MAX_BATCH: usize = 10;
pub const DEFAULT_EXECUTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Upstream calls one operation may make: a studio's upstream quota is shared by everyone who uses it.
pub const DEFAULT_MAX_UPSTREAM_CALLS: u32 = 100;

/// What one operation may ask (enforced by `graphql::limits`), with safe defaults.
/// Introspection, field suggestions and GraphiQL help people explore; production
/// deployments may switch them off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_depth: usize,
    /// Each field costs 1; a connection field costs its page size (`first` or
    /// `last`, else the default page) times what each node costs.
    pub max_complexity: usize,
    pub max_aliases: usize,
    /// Directives in one document, wherever they stand.
    pub max_directives: usize,
    pub max_root_fields: usize,
    /// Operations in one batched HTTP request.
    pub max_batch: usize,
    pub execution_timeout: Duration,
    /// Upstream calls one operation may make, every attempt counted.
    pub max_upstream_calls: u32,
    pub introspection: bool,
    pub suggestions: bool,
    pub graphiql: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_complexity: DEFAULT_MAX_COMPLEXITY,
            max_aliases: DEFAULT_MAX_ALIASES,
            max_directives: DEFAULT_MAX_DIRECTIVES,
            max_root_fields: DEFAULT_MAX_ROOT_FIELDS,
            max_batch: DEFAULT_MAX_BATCH,
            execution_timeout: DEFAULT_EXECUTION_TIMEOUT,
            max_upstream_calls: DEFAULT_MAX_UPSTREAM_CALLS,
            introspection: DEFAULT_EXPLORING,
            suggestions: DEFAULT_EXPLORING,
            graphiql: DEFAULT_EXPLORING,
        }
    }
}

impl Limits {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        let defaults = Limits::default();
        let exploring = |value: Option<bool>| value.unwrap_or(DEFAULT_EXPLORING);
        let timeout_ms = at_least_one(key::execution_timeout_ms, given.execution_timeout_ms(), 0)?;
        Ok(Limits {
            max_depth: at_least_one(key::max_depth, given.max_depth(), defaults.max_depth)?,
            max_complexity: at_least_one(key::max_complexity, given.max_complexity(), defaults.max_complexity)?,
            // Zero aliases is a valid policy.
            max_aliases: given.max_aliases().unwrap_or(defaults.max_aliases),
            // As with aliases, zero is a policy: no directives at all.
            max_directives: given.max_directives().unwrap_or(defaults.max_directives),
            max_root_fields: at_least_one(key::max_root_fields, given.max_root_fields(), defaults.max_root_fields)?,
            max_batch: at_least_one(key::max_batch, given.max_batch(), defaults.max_batch)?,
            execution_timeout: match timeout_ms {
                0 => defaults.execution_timeout,
                ms => Duration::from_millis(ms),
            },
            max_upstream_calls: at_least_one(
                key::max_upstream_calls,
                given.max_upstream_calls(),
                defaults.max_upstream_calls,
            )?,
            introspection: exploring(given.introspection()),
            suggestions: exploring(given.field_suggestions()),
            graphiql: exploring(given.graphiql()),
        })
    }
}
