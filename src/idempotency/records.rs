//! Where idempotency records are kept: this instance's memory, or the fleet's Redis, where a
//! claim is `SET NX` and every later change a compare-and-set on the request that holds it.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, ExistenceCheck, SetExpiry, SetOptions};
use serde::{Deserialize, Serialize};

use super::TTL;
use crate::redis_link::{RedisLink, config_setting};

/// A Redis command that takes longer than this counts as Redis being away.
pub(super) const REDIS_WAIT: Duration = Duration::from_millis(500);
const PREFIX: &str = "pixgate:idempotency:";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum State {
    #[default]
    Claimed,
    Done,
    Unknown,
}

/// What is kept under a key: a fingerprint of the body written, who holds it, where it stands.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(super) struct Record {
    pub(super) body: String,
    pub(super) holder: String,
    #[serde(default)]
    pub(super) state: State,
    /// When the write was claimed, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub(super) since: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) result: Option<serde_json::Value>,
}

impl Record {
    pub(super) fn claim(body: &str) -> Self {
        Self {
            body: body.to_string(),
            holder: uuid::Uuid::new_v4().simple().to_string(),
            state: State::Claimed,
            since: Utc::now().timestamp_millis(),
            result: None,
        }
    }

    pub(super) fn since(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.since).unwrap_or_default()
    }

    pub(super) fn age(&self) -> Duration {
        (Utc::now() - self.since()).to_std().unwrap_or_default()
    }

    pub(super) fn with(&self, state: State, result: Option<serde_json::Value>) -> Self {
        Self { state, result, ..self.clone() }
    }
}

/// The store of records could not be reached.
#[derive(Debug)]
pub(super) struct Away;

/// Where the records are kept.
#[derive(Clone)]
pub(super) enum Records {
    /// This instance's memory: the only record without Redis.
    Memory(moka::future::Cache<String, Record>),
    /// The fleet's Redis, which must persist them and never evict them.
    Redis(RedisLink),
}

impl Records {
    pub(super) fn scope(&self) -> &'static str {
        match self {
            Self::Memory(_) => "instance",
            Self::Redis(_) => "fleet",
        }
    }

    /// The records' connection; one still being made (at start-up) is waited for a moment, since
    /// a keyed write refused for want of it would be refused for nothing.
    pub(super) async fn redis(link: &RedisLink) -> Result<ConnectionManager, Away> {
        let started = Instant::now();
        loop {
            match link.connection().await {
                Some(connection) => return Ok(connection),
                None if started.elapsed() < REDIS_WAIT => tokio::time::sleep(Duration::from_millis(10)).await,
                None => return Err(Away),
            }
        }
    }

    /// Claims `slot` for `claim`, or gives the record already there.
    pub(super) async fn claim(&self, slot: &str, claim: &Record) -> Result<Option<Record>, Away> {
        match self {
            Self::Memory(records) => {
                let entry = records.entry(slot.to_string()).or_insert_with(async { claim.clone() }).await;
                Ok((!entry.is_fresh()).then(|| entry.into_value()))
            }
            Self::Redis(link) => {
                let mut redis = Self::redis(link).await?;
                let key = format!("{PREFIX}{slot}");
                let text = serde_json::to_string(claim).map_err(|_| Away)?;
                let options = SetOptions::default()
                    .conditional_set(ExistenceCheck::NX)
                    .with_expiration(SetExpiry::PX(millis(TTL)));
                if within(redis.set_options::<_, _, Option<String>>(&key, text, options)).await?.is_some() {
                    return Ok(None);
                }
                match within(redis.get::<_, Option<String>>(&key)).await? {
                    // Freed in between: claim again.
                    None => Box::pin(self.claim(slot, claim)).await,
                    // Only pixgate writes under its prefix; anything unreadable there is a fault of the store.
                    Some(text) => {
                        serde_json::from_str::<Record>(&text).map(|held| Some(held.normalised())).map_err(|_| Away)
                    }
                }
            }
        }
    }

    /// Puts `record` in place of the one `holder` holds (or of none); false when another request holds the key now.
    pub(super) async fn replace(&self, slot: &str, holder: &str, record: &Record) -> Result<bool, Away> {
        match self {
            Self::Memory(records) => {
                if records.get(slot).await.is_some_and(|held| held.holder != holder) {
                    return Ok(false);
                }
                records.insert(slot.to_string(), record.clone()).await;
                Ok(true)
            }
            Self::Redis(link) => {
                let mut redis = Self::redis(link).await?;
                let text = serde_json::to_string(record).map_err(|_| Away)?;
                let script = redis::Script::new(
                    r#"local held = redis.call("GET", KEYS[1])
                    if held and cjson.decode(held).holder ~= ARGV[1] then return 0 end
                    redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
                    return 1"#,
                );
                let key = format!("{PREFIX}{slot}");
                let mut invocation = script.key(key);
                invocation.arg(holder).arg(text).arg(millis(TTL));
                Ok(within(invocation.invoke_async::<i64>(&mut redis)).await? == 1)
            }
        }
    }

    /// Frees the key after a write the upstream refused, if `holder` still holds it.
    pub(super) async fn release(&self, slot: &str, holder: &str) -> Result<(), Away> {
        match self {
            Self::Memory(records) => {
                if records.get(slot).await.is_some_and(|held| held.holder == holder) {
                    records.invalidate(slot).await;
                }
                Ok(())
            }
            Self::Redis(link) => {
                let mut redis = Self::redis(link).await?;
                let script = redis::Script::new(
                    r#"local held = redis.call("GET", KEYS[1])
                    if held and cjson.decode(held).holder == ARGV[1] then return redis.call("DEL", KEYS[1]) end
                    return 0"#,
                );
                within(script.key(format!("{PREFIX}{slot}")).arg(holder).invoke_async::<i64>(&mut redis))
                    .await
                    .map(drop)
            }
        }
    }
}

impl Record {
    /// Records written before the three states were: a result means done.
    pub(super) fn normalised(mut self) -> Self {
        if self.result.is_some() {
            self.state = State::Done;
        }
        self
    }
}

/// Says in the log, once Redis answers, when the Redis holding the records may lose them
/// (`keeping_problems`).
pub async fn check_keeping(link: RedisLink) {
    let mut redis = loop {
        match link.connection().await {
            Some(redis) => break redis,
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    for problem in keeping_problems(&mut redis).await {
        tracing::warn!("the Redis holding idempotency records {problem} (or set PIXGATE_RECORDS_REDIS_URL)");
    }
}

/// What a Redis holding the records does that may lose them: evicting keys under memory
/// pressure, or keeping no append-only file. A managed Redis that refuses `CONFIG GET` is
/// taken at its word.
pub async fn keeping_problems(redis: &mut (impl redis::aio::ConnectionLike + Send)) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(policy) = config_setting(redis, "maxmemory-policy").await
        && policy != "noeviction"
    {
        problems.push(format!(
            "evicts keys under memory pressure (maxmemory-policy {policy}): a record lost that way lets a retried write through twice; set maxmemory-policy noeviction"
        ));
    }
    if config_setting(redis, "appendonly").await.is_some_and(|on| on != "yes") {
        problems.push("keeps no append-only file: a restart loses the records; set appendonly yes".into());
    }
    problems
}

pub(super) async fn within<T>(command: impl Future<Output = redis::RedisResult<T>>) -> Result<T, Away> {
    crate::redis_link::within(REDIS_WAIT, "an idempotency", command).await.ok_or(Away)
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
