//! Token buckets per client IP and per tenant, and who the client is behind
//! trusted proxies. A caller over either limit gets 429 `RATE_LIMITED` with
//! `Retry-After`, before any GraphQL work or upstream call.
//! Over a WebSocket each operation draws a token, and a refused one gets the same
//! error in the protocol's `error` message.
//!
//! A tenant's bucket is spent by upstream calls too: an operation that cost n calls
//! takes n tokens in all (the one it was admitted with and n - 1 after), as GitHub's
//! and Shopify's GraphQL APIs charge points, so one tenant cannot spend the studio's
//! upstream quota with a few costly operations.
//!
//! With Redis, the buckets are the fleet's: one GCRA per bucket in Redis, checked and
//! drawn for both buckets in one script, on Redis's clock, so N instances allow the
//! configured rate, not N times it. When Redis is away or slow, each instance falls
//! back to its own buckets, and `pixgate_rate_limit_checks_total{scope}` says which.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::ServerError;
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use super::AppState;
use crate::config::{Bucket, RateSettings};
use crate::error_code::ErrorCode;
use crate::redis_link::RedisLink;
use crate::session::Session;
use crate::telemetry::metrics::RATE_LIMIT_CHECKS;
use crate::upstream::TenantKey;

/// A bucket's quota; None when its rate of 0 switches it off.
fn quota(bucket: Bucket) -> Option<Quota> {
    let rate = NonZeroU32::new(bucket.per_second)?;
    Some(Quota::per_second(rate).allow_burst(NonZeroU32::new(bucket.burst).unwrap_or(rate)))
}

pub struct RateLimits {
    settings: RateSettings,
    redis: Option<RedisLink>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_tenant: Option<DefaultKeyedRateLimiter<TenantKey>>,
    trusted_proxies: Vec<IpNet>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").field("per_ip", &self.per_ip.is_some()).finish_non_exhaustive()
    }
}

const FLEET_PREFIX: &str = "pixgate:rate:";
/// A check is on every request's path: Redis slower than this, and the instance decides alone.
const FLEET_WAIT: Duration = Duration::from_millis(50);

/// Both scripts read the time on Redis's clock, so every instance's buckets run on one.
const REDIS_NOW: &str = r#"
    local time = redis.call("TIME")
    local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
"#;

fn script(cell: &'static std::sync::OnceLock<redis::Script>, body: &str) -> &'static redis::Script {
    cell.get_or_init(|| redis::Script::new(&format!("{REDIS_NOW}{body}")))
}

/// GCRA over every bucket a request draws on, all or nothing: a refusal by one bucket
/// takes no token from the other. `KEYS` are the buckets; `ARGV` holds, per bucket, its
/// emission interval and its tolerance (interval times burst), in microseconds. Answers
/// 0 when allowed, else the microseconds to wait.
fn gcra() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    script(
        &SCRIPT,
        r#"
        local next = {}
        for i, key in ipairs(KEYS) do
          local interval = tonumber(ARGV[2 * i - 1])
          local tolerance = tonumber(ARGV[2 * i])
          local tat = tonumber(redis.call("GET", key) or now)
          if tat < now then tat = now end
          local new_tat = tat + interval
          if new_tat - now > tolerance then return new_tat - now - tolerance end
          next[i] = new_tat
        end
        for i, key in ipairs(KEYS) do
          redis.call("SET", key, next[i], "PX", math.ceil((next[i] - now) / 1000) + 1)
        end
        return 0
        "#,
    )
}

/// Charges `KEYS[1]`'s GCRA for `ARGV[2]` more tokens at once, in debt if need be: the
/// calls were made already. `ARGV[1]` is the emission interval in microseconds.
fn gcra_charge() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    script(
        &SCRIPT,
        r#"
        local tat = tonumber(redis.call("GET", KEYS[1]) or now)
        if tat < now then tat = now end
        local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
        redis.call("SET", KEYS[1], new_tat, "PX", math.ceil((new_tat - now) / 1000) + 1)
        return 0
        "#,
    )
}

/// How often buckets that have refilled are forgotten, so idle callers cost no memory.
const FORGET_EVERY: Duration = Duration::from_secs(60);

impl RateLimits {
    pub fn new(settings: &RateSettings, redis: Option<RedisLink>) -> Arc<Self> {
        let limits = Arc::new(Self {
            settings: settings.clone(),
            redis,
            per_ip: quota(settings.per_ip).map(DefaultKeyedRateLimiter::keyed),
            per_tenant: quota(settings.per_tenant).map(DefaultKeyedRateLimiter::keyed),
            trusted_proxies: settings.trusted_proxies.clone(),
            clock: DefaultClock::default(),
        });
        let weak = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FORGET_EVERY);
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { return };
                for limiter in limits.per_ip.iter() {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
                for limiter in limits.per_tenant.iter() {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        });
        limits
    }

    /// The client a request comes from. Behind trusted proxies it is the nearest
    /// address in `X-Forwarded-For` that is not one of them: the entries to its
    /// left are whatever the client chose to send, so they are never believed.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`.
        let peer = peer.to_canonical();
        let trusted = |ip: IpAddr| self.trusted_proxies.iter().any(|range| range.contains(&ip));
        if !trusted(peer) {
            return peer;
        }
        let values = headers.get_all("x-forwarded-for").iter();
        let Ok(values) = values.map(HeaderValue::to_str).collect::<Result<Vec<_>, _>>() else { return peer };
        let mut client = peer;
        for hop in values.iter().rev().flat_map(|value| value.rsplit(',')).map(str::trim) {
            // Garbage ends the trail: the last proxy that handed it on is the client we know.
            let Some(ip) = forwarded_ip(hop) else { return client };
            client = ip;
            if !trusted(ip) {
                break;
            }
        }
        client
    }

    /// Takes one token from each bucket the session draws on, the fleet's when Redis
    /// answers, else this instance's; on refusal, how long to wait.
    pub async fn check(&self, session: &Session) -> Result<(), Duration> {
        if self.redis.is_none() {
            return self.check_here(session);
        }
        let mut buckets = Vec::with_capacity(2);
        if self.settings.per_ip.per_second > 0 {
            buckets.push((format!("{FLEET_PREFIX}ip:{}", session.client()), self.settings.per_ip));
        }
        if let (true, Some(tenant)) = (self.settings.per_tenant.per_second > 0, session.tenant()) {
            buckets.push((format!("{FLEET_PREFIX}tenant:{tenant}"), self.settings.per_tenant));
        }
        if buckets.is_empty() {
            return Ok(());
        }
        if let Some(decided) = self.check_fleet(&buckets).await {
            metrics::counter!(RATE_LIMIT_CHECKS, "scope" => "fleet").increment(1);
            return decided;
        }
        metrics::counter!(RATE_LIMIT_CHECKS, "scope" => "instance").increment(1);
        self.check_here(session)
    }

    /// The fleet's decision, or None when Redis did not give one in time.
    async fn check_fleet(&self, buckets: &[(String, Bucket)]) -> Option<Result<(), Duration>> {
        let mut connection = self.redis.as_ref()?.connection().await?;
        let mut invocation = gcra().prepare_invoke();
        for (key, bucket) in buckets {
            let interval_us = 1_000_000 / u64::from(bucket.per_second.max(1));
            // As `quota`: a burst of 0 means one second's worth.
            let burst = u64::from(if bucket.burst > 0 { bucket.burst } else { bucket.per_second });
            invocation.key(key).arg(interval_us).arg(interval_us * burst);
        }
        match tokio::time::timeout(FLEET_WAIT, invocation.invoke_async::<i64>(&mut connection)).await {
            Ok(Ok(0)) => Some(Ok(())),
            Ok(Ok(wait_us)) => Some(Err(Duration::from_micros(wait_us.unsigned_abs()))),
            Ok(Err(error)) => {
                tracing::warn!(error = ?error.kind(), "Redis refused a rate-limit check: this instance's buckets decide");
                None
            }
            Err(_) => None,
        }
    }

    /// Takes from the session's tenant bucket what an admitted operation cost beyond
    /// its first token: one per upstream call after the first.
    pub async fn charge(&self, session: &Session, upstream_calls: u32) {
        let extra = upstream_calls.saturating_sub(1);
        let Some(tenant) = session.tenant().filter(|_| extra > 0 && self.settings.per_tenant.per_second > 0) else {
            return;
        };
        if let Some(redis) = &self.redis
            && let Some(mut connection) = redis.connection().await
        {
            let interval_us = 1_000_000 / u64::from(self.settings.per_tenant.per_second.max(1));
            let mut invocation = gcra_charge().prepare_invoke();
            invocation.key(format!("{FLEET_PREFIX}tenant:{tenant}")).arg(interval_us).arg(extra);
            if let Ok(Ok(_)) = tokio::time::timeout(FLEET_WAIT, invocation.invoke_async::<i64>(&mut connection)).await {
                return;
            }
        }
        // This instance's bucket cannot go into debt: it gives what it holds, which
        // leaves the tenant refused until it refills.
        if let Some(limiter) = &self.per_tenant {
            for _ in 0..extra {
                if limiter.check_key(tenant).is_err() {
                    break;
                }
            }
        }
    }

    fn check_here(&self, session: &Session) -> Result<(), Duration> {
        if let Some(limiter) = &self.per_ip
            && let Err(not_until) = limiter.check_key(&session.client())
        {
            return Err(not_until.wait_time_from(self.clock.now()));
        }
        if let (Some(limiter), Some(tenant)) = (&self.per_tenant, session.tenant())
            && let Err(not_until) = limiter.check_key(tenant)
        {
            return Err(not_until.wait_time_from(self.clock.now()));
        }
        Ok(())
    }
}

/// The GraphQL error a refused caller gets, over HTTP or over a WebSocket, and the
/// whole seconds it says to wait.
pub fn over_budget(wait: Duration) -> (u64, ServerError) {
    // Retry-After counts whole seconds; rounding down would invite an early retry.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut error = ErrorCode::RateLimited.error(format!("too many requests: retry after {seconds} s"));
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.set("retryAfter", seconds);
    }
    (seconds, error)
}

/// An `X-Forwarded-For` entry: an address, perhaps with a port, IPv6 perhaps in brackets.
fn forwarded_ip(hop: &str) -> Option<IpAddr> {
    hop.parse()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .or_else(|_| hop.trim_start_matches('[').trim_end_matches(']').parse())
        .ok()
        .map(|ip: IpAddr| ip.to_canonical())
}

pub(super) fn refused(wait: Duration) -> Response {
    let (seconds, error) = over_budget(wait);
    let mut response = super::refuse(StatusCode::TOO_MANY_REQUESTS, error);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The middleware on the GraphQL routes, inside the one that resolves the session.
pub async fn enforce(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    request: Request,
    next: Next,
) -> Response {
    match state.rate_limits.check(&session).await {
        Ok(()) => next.run(request).await,
        Err(wait) => refused(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behind(trusted: &[&str]) -> Arc<RateLimits> {
        let trusted_proxies = trusted.iter().map(|range| range.parse().unwrap()).collect();
        RateLimits::new(&RateSettings { trusted_proxies, ..RateSettings::default() }, None)
    }

    fn client(limits: &RateLimits, peer: &str, forwarded: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        limits.client_ip(peer.parse().unwrap(), &headers).to_string()
    }

    #[tokio::test]
    async fn only_trusted_proxies_name_the_client() {
        let limits = behind(&["127.0.0.1/32", "10.0.0.0/8"]);
        assert_eq!(client(&limits, "192.0.2.1", &["203.0.113.7"]), "192.0.2.1", "an untrusted peer is the client");
        assert_eq!(client(&limits, "127.0.0.1", &[]), "127.0.0.1");
        assert_eq!(client(&limits, "127.0.0.1", &["203.0.113.7"]), "203.0.113.7");
        assert_eq!(client(&limits, "127.0.0.1", &["198.51.100.1, 10.0.0.5"]), "198.51.100.1", "through two proxies");
        assert_eq!(client(&limits, "127.0.0.1", &["6.6.6.6, 203.0.113.7"]), "203.0.113.7", "what the client made up");
        assert_eq!(
            client(&limits, "127.0.0.1", &["6.6.6.6", "203.0.113.9"]),
            "203.0.113.9",
            "the last header is nearest"
        );
        assert_eq!(client(&limits, "127.0.0.1", &["203.0.113.7, garbage"]), "127.0.0.1", "garbage ends the trail");
        assert_eq!(client(&limits, "127.0.0.1", &["10.0.0.1"]), "10.0.0.1", "all trusted: the farthest");
        assert_eq!(client(&limits, "127.0.0.1", &["[2001:db8::1]:4711"]), "2001:db8::1");
        assert_eq!(client(&limits, "::ffff:10.0.0.2", &["203.0.113.7"]), "203.0.113.7", "an IPv4 peer seen over IPv6");
        assert_eq!(client(&behind(&[]), "127.0.0.1", &["203.0.113.7"]), "127.0.0.1", "no proxy is trusted by default");
    }
}
