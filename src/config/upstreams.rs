//! The `upstreams` section: where the two APIs are and how they are called. The call
//! settings' defaults are the upstream layer's own (`upstream::UpstreamSettings`).

use std::time::Duration;

use reqwest::Url;

use super::settings::{Given, key};
use super::{ConfigError, at_least_one, http_url, invalid, optional_url};
use crate::upstream::UpstreamSettings;

/// The two APIs: where they are and how they are called.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    pub location: UpstreamLocation,
    /// Base for Pixelz's relative image and invoice URLs; the Pixelz host when not set.
    pub pixelz_asset_base_url: Option<Url>,
    pub settings: UpstreamSettings,
}

/// Where the upstream APIs are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamLocation {
    /// Neither base URL is configured: run the built-in sandbox in-process.
    Sandbox,
    Remote {
        pixieset: Url,
        pixelz: Url,
    },
}

impl UpstreamConfig {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        const BOTH: &str = "set both upstream base URLs, or neither to use the sandbox";
        let location = match (given.pixieset_base_url(), given.pixelz_base_url()) {
            (None, None) => UpstreamLocation::Sandbox,
            (Some(pixieset), Some(pixelz)) => UpstreamLocation::Remote {
                pixieset: http_url(key::pixieset_base_url, &pixieset)?,
                pixelz: http_url(key::pixelz_base_url, &pixelz)?,
            },
            (Some(_), None) => return Err(invalid(key::pixelz_base_url, BOTH)),
            (None, Some(_)) => return Err(invalid(key::pixieset_base_url, BOTH)),
        };
        let defaults = UpstreamSettings::default();
        let timeout_ms = at_least_one(key::upstream_timeout_ms, given.upstream_timeout_ms(), 0)?;
        let max_attempts = given.upstream_max_attempts().unwrap_or(defaults.max_attempts);
        if !(1..=10).contains(&max_attempts) {
            return Err(invalid(key::upstream_max_attempts, "must be between 1 and 10"));
        }
        let settings = UpstreamSettings {
            timeout: if timeout_ms == 0 { defaults.timeout } else { Duration::from_millis(timeout_ms) },
            max_attempts,
            concurrency: at_least_one(key::upstream_concurrency, given.upstream_concurrency(), defaults.concurrency)?,
            failures_to_open: at_least_one(
                key::upstream_breaker_failures,
                given.upstream_breaker_failures(),
                defaults.failures_to_open,
            )?,
            open_for: match at_least_one(key::upstream_breaker_open_ms, given.upstream_breaker_open_ms(), 0)? {
                0 => defaults.open_for,
                ms => Duration::from_millis(ms),
            },
            ..defaults
        };
        let pixelz_asset_base_url = optional_url(key::pixelz_asset_base_url, given.pixelz_asset_base_url())?;
        Ok(Self { location, pixelz_asset_base_url, settings })
    }
}
