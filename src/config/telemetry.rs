//! The `telemetry` section: the log format and where spans are exported.

use reqwest::Url;

use super::settings::{Given, key};
use super::{ConfigError, optional_url};
use crate::telemetry::LogFormat;

#[derive(Clone, Debug)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// Where spans are exported over OTLP/HTTP, when anywhere.
    pub otlp_endpoint: Option<Url>,
}

impl TelemetrySettings {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        Ok(Self {
            log_format: given.log_format().unwrap_or_default(),
            otlp_endpoint: optional_url(key::otlp_endpoint, given.otlp_endpoint())?,
        })
    }
}
