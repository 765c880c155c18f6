//! How long a client connection may idle or dribble, and how many may be open: the
//! `connections` section. Defaults are written once, here.

use std::time::Duration;

use super::settings::{Given, key};
use super::{ConfigError, invalid};

/// A request head must be whole this long after its first byte (Apache's `RequestReadTimeout`
/// starts at 20 s; nginx's `client_header_timeout` is 60 s, long enough for a slowloris to hold sockets).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// nginx's `keepalive_timeout`.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(75);
/// nginx's `client_body_timeout`: the longest pause between two reads of a body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
/// Behind a load balancer every client has the balancer's address: raise it, or 0 to switch it off.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 1_024;
/// How often a quiet WebSocket is pinged.
pub const DEFAULT_WEBSOCKET_PING: Duration = Duration::from_secs(15);
/// A WebSocket from which no frame (a pong included) came for this long is closed.
pub const DEFAULT_WEBSOCKET_IDLE: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub header_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub body_timeout: Duration,
    /// 0 switches the cap off.
    pub max_connections: usize,
    /// 0 switches the cap off.
    pub max_connections_per_ip: usize,
    pub websocket_ping: Duration,
    pub websocket_idle: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            websocket_ping: DEFAULT_WEBSOCKET_PING,
            websocket_idle: DEFAULT_WEBSOCKET_IDLE,
        }
    }
}

fn millis(setting: super::Setting, given: Option<u64>, default: Duration) -> Result<Duration, ConfigError> {
    match given {
        None => Ok(default),
        Some(0) => Err(invalid(setting, "must be at least 1")),
        Some(ms) => Ok(Duration::from_millis(ms)),
    }
}

impl ConnectionSettings {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let settings = Self {
            header_timeout: millis(key::header_timeout_ms, given.header_timeout_ms(), defaults.header_timeout)?,
            keep_alive_timeout: millis(
                key::keep_alive_timeout_ms,
                given.keep_alive_timeout_ms(),
                defaults.keep_alive_timeout,
            )?,
            body_timeout: millis(key::body_timeout_ms, given.body_timeout_ms(), defaults.body_timeout)?,
            max_connections: given.max_connections().unwrap_or(defaults.max_connections),
            max_connections_per_ip: given.max_connections_per_ip().unwrap_or(defaults.max_connections_per_ip),
            websocket_ping: millis(key::websocket_ping_ms, given.websocket_ping_ms(), defaults.websocket_ping)?,
            websocket_idle: millis(key::websocket_idle_ms, given.websocket_idle_ms(), defaults.websocket_idle)?,
        };
        if settings.websocket_idle <= settings.websocket_ping {
            return Err(invalid(
                key::websocket_idle_ms,
                "must be longer than the ping interval, or no pong can come in time",
            ));
        }
        Ok(settings)
    }
}
