//! Automatic persisted queries (Apollo's APQ protocol). A client sends the
//! SHA-256 of its query instead of the query; until the gateway knows that hash
//! it answers PERSISTED_QUERY_NOT_FOUND, and the client sends the query once with
//! its hash. A hash is short enough for a URL, so queries can travel over GET and
//! a CDN can cache them. Queries are kept in memory and, with Redis, shared by
//! every instance.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Request, ServerError};
use redis::AsyncCommands;
use sha2::{Digest, Sha256};

use crate::error_code::ErrorCode;
use crate::redis_link::RedisLink;

const REDIS_PREFIX: &str = "pixgate:apq:";
const REDIS_TTL: Duration = Duration::from_secs(24 * 3600);
/// Redis only saves a client one round trip: never wait long for it.
const REDIS_WAIT: Duration = Duration::from_millis(250);
const MEMORY_BYTES: u64 = 16 * 1024 * 1024;

#[derive(serde::Deserialize)]
struct Extension {
    version: i64,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

#[derive(Clone)]
pub struct PersistedQueries {
    memory: moka::future::Cache<String, Arc<str>>,
    redis: Option<RedisLink>,
}

impl std::fmt::Debug for PersistedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueries").field("in_memory", &self.memory.entry_count()).finish()
    }
}

fn is_sha256_hex(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

impl PersistedQueries {
    pub fn new(redis: Option<RedisLink>) -> Self {
        let memory = moka::future::Cache::builder()
            .max_capacity(MEMORY_BYTES)
            .weigher(|hash: &String, query: &Arc<str>| u32::try_from(hash.len() + query.len()).unwrap_or(u32::MAX))
            .build();
        Self { memory, redis }
    }

    /// Fills in the query a hash stands for, or registers a query under its hash.
    /// A request without the extension passes unchanged.
    pub async fn resolve(&self, request: &mut Request) -> Result<(), ServerError> {
        let Some(value) = request.extensions.remove("persistedQuery") else { return Ok(()) };
        let extension: Extension = value
            .into_json()
            .ok()
            .and_then(|json| serde_json::from_value(json).ok())
            .ok_or_else(|| ErrorCode::BadRequest.error("`persistedQuery` takes a version and a sha256Hash"))?;
        if extension.version != 1 {
            return Err(ErrorCode::PersistedQueryNotSupported.error("only version 1 of persisted queries is supported"));
        }
        let hash = extension.sha256_hash.to_ascii_lowercase();
        if !is_sha256_hex(&hash) {
            return Err(ErrorCode::BadRequest.error("`sha256Hash` is 64 hexadecimal digits"));
        }
        if request.query.is_empty() {
            let query = self
                .get(&hash)
                .await
                .ok_or_else(|| ErrorCode::PersistedQueryNotFound.error("PersistedQueryNotFound"))?;
            request.query = query.to_string();
            return Ok(());
        }
        if format!("{:x}", Sha256::digest(request.query.as_bytes())) != hash {
            return Err(ErrorCode::PersistedQueryHashMismatch.error("provided sha does not match query"));
        }
        self.put(hash, request.query.as_str().into()).await;
        Ok(())
    }

    async fn get(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(query) = self.memory.get(hash).await {
            return Some(query);
        }
        let mut connection = self.redis.as_ref()?.connection().await?;
        let key = format!("{REDIS_PREFIX}{hash}");
        let query: Option<String> = match tokio::time::timeout(REDIS_WAIT, connection.get(key)).await {
            Ok(Ok(query)) => query,
            Ok(Err(error)) => {
                tracing::warn!(error = ?error.kind(), "could not read a persisted query from Redis");
                None
            }
            Err(_) => None,
        };
        // Only a query that matches its hash is trusted, whoever wrote it.
        let query = query.filter(|q| format!("{:x}", Sha256::digest(q.as_bytes())) == hash)?;
        let query: Arc<str> = query.into();
        self.memory.insert(hash.to_string(), query.clone()).await;
        Some(query)
    }

    async fn put(&self, hash: String, query: Arc<str>) {
        self.memory.insert(hash.clone(), query.clone()).await;
        let Some(redis) = self.redis.clone() else { return };
        // The client has its answer before Redis has the query.
        tokio::spawn(async move {
            let Some(mut connection) = redis.connection().await else { return };
            let key = format!("{REDIS_PREFIX}{hash}");
            let stored = connection.set_ex::<_, _, ()>(key, &*query, REDIS_TTL.as_secs());
            if let Ok(Err(error)) = tokio::time::timeout(REDIS_WAIT, stored).await {
                tracing::warn!(error = ?error.kind(), "could not share a persisted query through Redis");
            }
        });
    }
}
