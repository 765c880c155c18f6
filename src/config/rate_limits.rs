//! The `rate_limits` section: the budgets `server::rate_limit` enforces, and whose
//! `X-Forwarded-For` is believed. Defaults written once, here.

use std::net::IpAddr;

use ipnet::IpNet;

use super::settings::{Given, key};
use super::{ConfigError, invalid};

/// Requests per second and the burst above it; a rate of 0 switches the bucket off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub per_second: u32,
    pub burst: u32,
}

/// The budgets `server::rate_limit` enforces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateSettings {
    pub per_ip: Bucket,
    pub per_tenant: Bucket,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// One client address: a person's browser, or a script.
pub const DEFAULT_PER_IP: Bucket = Bucket { per_second: 100, burst: 200 };
/// One tenant: lower than one address, since a tenant's calls spend one studio's upstream quota.
pub const DEFAULT_PER_TENANT: Bucket = Bucket { per_second: 50, burst: 100 };

impl Default for RateSettings {
    fn default() -> Self {
        Self { per_ip: DEFAULT_PER_IP, per_tenant: DEFAULT_PER_TENANT, trusted_proxies: Vec::new() }
    }
}

/// Addresses stand for themselves: `10.0.0.5` is `10.0.0.5/32`.
fn trusted_proxies(proxies: Option<Vec<String>>) -> Result<Vec<IpNet>, ConfigError> {
    let proxies = proxies.unwrap_or_default();
    let proxies = proxies.iter().map(|p| p.trim()).filter(|p| !p.is_empty());
    proxies
        .map(|proxy| {
            proxy
                .parse::<IpNet>()
                .map(|range| range.trunc())
                .or_else(|_| proxy.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        key::trusted_proxies,
                        format!("{proxy:?} is not an address or a CIDR range like 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

impl RateSettings {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        let defaults = RateSettings::default();
        Ok(Self {
            per_ip: Bucket {
                per_second: given.rate_limit_ip().unwrap_or(defaults.per_ip.per_second),
                burst: given.rate_limit_ip_burst().unwrap_or(defaults.per_ip.burst),
            },
            per_tenant: Bucket {
                per_second: given.rate_limit_tenant().unwrap_or(defaults.per_tenant.per_second),
                burst: given.rate_limit_tenant_burst().unwrap_or(defaults.per_tenant.burst),
            },
            trusted_proxies: trusted_proxies(given.trusted_proxies())?,
        })
    }
}
