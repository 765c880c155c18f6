//! The process's one Redis connection, shared by everything the instances share
//! (events, persisted queries, idempotency, the cache, rate limits). It is made in
//! the background and remade when lost, so an unreachable Redis delays nothing:
//! callers get None and carry on alone.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::ConnectionManager;
use tokio::sync::{RwLock, watch};

use crate::secret::Secret;

const RETRY_MAX: Duration = Duration::from_secs(5);
const CONFIG_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[error("the Redis URL is not valid: {0}")]
pub struct BadRedisUrl(String);

#[derive(Clone)]
pub struct RedisLink {
    client: redis::Client,
    connection: Arc<RwLock<Option<ConnectionManager>>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's debug form would show the URL, and the URL may hold a password.
        f.debug_struct("RedisLink").finish_non_exhaustive()
    }
}

/// `command`'s answer, if Redis gives one within `wait`. A refusal is logged by its kind
/// only (its text may quote a key) as one of `what`'s.
pub async fn within<T>(wait: Duration, what: &str, command: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
    match tokio::time::timeout(wait, command).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            tracing::warn!(error = ?error.kind(), "Redis refused {what} command");
            None
        }
        Err(_) => None,
    }
}

/// One `CONFIG GET` setting's value; None where Redis refuses `CONFIG` (a managed Redis may)
/// or does not answer within `CONFIG_WAIT`. Asked at start-up and by `pixgate doctor`,
/// never on a request's path, so it may wait longer than a request would.
pub async fn config_setting(connection: &mut (impl redis::aio::ConnectionLike + Send), name: &str) -> Option<String> {
    let mut command = redis::cmd("CONFIG");
    command.arg("GET").arg(name);
    let pair: Vec<String> = within(CONFIG_WAIT, "a CONFIG", command.query_async(connection)).await?;
    pair.get(1).cloned()
}

/// How long to wait before the next attempt after `failures` failed ones.
pub fn backoff(failures: u32) -> Duration {
    (Duration::from_millis(100) * 2u32.saturating_pow(failures.min(6))).min(RETRY_MAX)
}

impl RedisLink {
    /// Starts connecting; returns at once.
    pub fn start(url: &Secret, shutdown: watch::Receiver<bool>) -> Result<Self, BadRedisUrl> {
        // The error's own message may quote the URL: only its kind is kept.
        let client = redis::Client::open(url.expose()).map_err(|e| BadRedisUrl(format!("{:?}", e.kind())))?;
        let link = Self { client, connection: Arc::default() };
        tokio::spawn(link.clone().connect(shutdown));
        Ok(link)
    }

    async fn connect(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures = 0;
        loop {
            match self.client.get_connection_manager().await {
                Ok(manager) => {
                    *self.connection.write().await = Some(manager);
                    tracing::info!("connected to Redis");
                    return;
                }
                Err(error) => {
                    if failures == 0 {
                        tracing::warn!(error = ?error.kind(), "Redis is unreachable: working without it, and retrying");
                    }
                    failures += 1;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff(failures)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// The connection, once made. It reconnects by itself when Redis comes back.
    pub async fn connection(&self) -> Option<ConnectionManager> {
        self.connection.read().await.clone()
    }

    /// Hears `channels` until `shutdown`, subscribing again (with backoff) whenever the
    /// subscription breaks. `subscribed` runs each time it is made, `lost` each time it
    /// breaks or cannot be made, with the number of failures in a row; `heard` gets
    /// each message's channel and text. The link's gauge is labelled with the first channel. Every instance-to-instance channel listens this way.
    pub async fn listen(
        &self,
        channels: &[&str],
        mut shutdown: watch::Receiver<bool>,
        mut subscribed: impl FnMut(u32),
        mut heard: impl FnMut(&str, String),
        mut lost: impl FnMut(u32),
    ) {
        let link_up = metrics::gauge!(crate::telemetry::metrics::REDIS_LINK_UP, "channel" => channels.first().copied().unwrap_or_default().to_string());
        link_up.set(0.0);
        let mut failures = 0;
        loop {
            let subscription = match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => pubsub.subscribe(channels).await.map(|()| pubsub).ok(),
                Err(_) => None,
            };
            if let Some(pubsub) = subscription {
                // Up only once `subscribed` has run: what it does (dropping a stale cache) is part of being up.
                subscribed(failures);
                link_up.set(1.0);
                failures = 0;
                let mut messages = pubsub.into_on_message();
                loop {
                    let message = tokio::select! {
                        message = messages.next() => message,
                        _ = shutdown.changed() => return,
                    };
                    let Some(message) = message else { break };
                    if let Ok(payload) = message.get_payload::<String>() {
                        heard(message.get_channel_name(), payload);
                    }
                }
            }
            link_up.set(0.0);
            lost(failures);
            failures += 1;
            tokio::select! {
                _ = tokio::time::sleep(backoff(failures)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
