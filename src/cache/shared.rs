//! The second cache tier, in the Redis the instances share: what one instance
//! fetched, the others read from here instead of from the upstream, so N
//! instances cost one upstream call per object per time to live, not N.
//!
//! Values are MessagePack with field names kept (absent fields stay absent, which
//! positional encodings would lose), compressed with LZ4, under the tenant's hash
//! and the kind, with the first tier's time to live. A write stores its answer here before it tells the
//! other instances to drop their copy, so what they read next is the new one.
//!
//! Dropping every list of a kind, or all of a tenant's entries, must not scan
//! Redis: each value's key holds the tenant's and the kind's generation, read in
//! the same script as the value, and such a drop bumps a generation instead. What
//! was stored under an older one is never read again and expires.
//!
//! A fill (what a missed lookup fetched, or the objects a list showed) may carry
//! what another instance's write has replaced since the lookup: read from the
//! upstream before the write, stored after it, it would stand in for the write's
//! answer until it expired. So every write and drop gives the tenant a new random
//! mark, read in the lookup's script, and a fill is stored only while the mark is
//! the one its lookup read. A mark is random, not a counter, so that Redis losing
//! its keys mid-fetch cannot make an old mark current again.
//!
//! Redis slower than `WAIT`, or away: the lookup counts as `unavailable` and the
//! instance reads from the upstream, with no error to its caller. A drop Redis did
//! not take is owed: the tenant's entries here are dropped whole as soon as Redis
//! answers again, since another instance would otherwise read the old copy.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{Cacheable, Invalidation, Key, Kind, Ttls};
use crate::redis_link::RedisLink;
use crate::telemetry::metrics::SHARED_CACHE_OPERATIONS;
use crate::upstream::TenantKey;

/// Every lookup that misses the first tier waits this long at most for Redis.
const WAIT: Duration = Duration::from_millis(50);
/// Another build may encode a type differently: each reads only what its own version wrote.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where a missed lookup's value goes, under the generations read with it, and
/// the tenant's mark then: the value is stored only if no write came in between.
pub(super) struct Slot {
    key: String,
    /// Where the tenant's mark is kept.
    mark_key: String,
    pub(super) mark: WriteMark,
}

/// A tenant's last write or drop in the shared tier, as a lookup read it.
#[derive(Clone, Debug)]
pub(super) struct WriteMark(String);

impl WriteMark {
    fn fresh() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

pub(super) enum Found<T> {
    Hit(T),
    Miss(Slot),
    Unavailable,
}

pub(super) struct SharedTier {
    redis: RedisLink,
    /// Which upstreams the values came from (`Upstreams::source`).
    source: String,
    ttls: Ttls,
    /// Tenants whose drop Redis did not take.
    owed: Mutex<HashSet<TenantKey>>,
    owing: AtomicBool,
}

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTier").finish_non_exhaustive()
    }
}

/// Every script's first line: `KEYS` are the tenant's and the kind's generation and
/// the tenant's write mark, `ARGV[1]` a value key's prefix; `prefix` is that prefix
/// under both generations.
const UNDER_CURRENT_GENERATIONS: &str = r#"local prefix = ARGV[1] .. (redis.call("GET", KEYS[1]) or "0") .. "."
    .. (redis.call("GET", KEYS[2]) or "0") .. ":""#;

fn script(cell: &'static OnceLock<redis::Script>, body: &str) -> &'static redis::Script {
    cell.get_or_init(|| redis::Script::new(&format!("{UNDER_CURRENT_GENERATIONS}\n{body}")))
}

/// Reads one value: `ARGV[2]` is its id, `ARGV[3]` the tenant's mark should it have none
/// yet (a fill must never match a mark that was absent: Redis may lose one mid-fetch).
/// Answers its key and the mark, then the value when there is one.
fn lookup_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    script(
        &SCRIPT,
        r#"local key = prefix .. ARGV[2]
        local mark = redis.call("GET", KEYS[3])
        if not mark then
            mark = ARGV[3]
            redis.call("SET", KEYS[3], mark)
        end
        local value = redis.call("GET", key)
        if value then return {key, mark, value} end
        return {key, mark}"#,
    )
}

/// Stores a missed lookup's value in its slot (`ARGV[1]`) for `ARGV[3]` milliseconds,
/// if the tenant's mark (`KEYS[1]`) is still `ARGV[4]`.
fn store_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        redis::Script::new(
            r#"if redis.call("GET", KEYS[1]) ~= ARGV[4] then return 0 end
            redis.call("SET", ARGV[1], ARGV[2], "PX", ARGV[3])
            return 1"#,
        )
    })
}

const PUT_VALUES: &str =
    r#"for i = 4, #ARGV, 2 do redis.call("SET", prefix .. ARGV[i], ARGV[i + 1], "PX", ARGV[2]) end"#;

/// Stores a write's values: `ARGV[2]` is the time to live in milliseconds, `ARGV[3]` the
/// tenant's new mark, then come id and value pairs.
fn put_written_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    script(&SCRIPT, &format!("redis.call(\"SET\", KEYS[3], ARGV[3])\n{PUT_VALUES}\nreturn 1"))
}

/// Stores the objects a list showed, as `put_written_script` does, if the tenant's mark
/// is still `ARGV[3]`, the one the list's lookup read.
fn put_listed_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    script(&SCRIPT, &format!("if redis.call(\"GET\", KEYS[3]) ~= ARGV[3] then return 0 end\n{PUT_VALUES}\nreturn 1"))
}

/// Deletes one value: `ARGV[2]` is its id, `ARGV[3]` the tenant's new mark.
fn delete_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    script(
        &SCRIPT,
        r#"redis.call("SET", KEYS[3], ARGV[3])
        return redis.call("DEL", prefix .. ARGV[2])"#,
    )
}

/// A store's result: `outdated` when a write or drop of the tenant's entries came
/// after the lookup it fills, so what it fetched may be what that write replaced.
fn stored_result(stored: Option<i64>) -> &'static str {
    match stored {
        Some(1) => "ok",
        Some(_) => "outdated",
        None => "unavailable",
    }
}

fn count(operation: &'static str, result: &'static str) {
    metrics::counter!(SHARED_CACHE_OPERATIONS, "operation" => operation, "result" => result).increment(1);
}

async fn within<T>(call: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
    tokio::time::timeout(WAIT, call).await.ok()?.ok()
}

impl SharedTier {
    pub(super) fn new(redis: &RedisLink, source: &str, ttls: Ttls) -> Self {
        Self {
            redis: redis.clone(),
            source: source.to_string(),
            ttls,
            owed: Mutex::default(),
            owing: AtomicBool::new(false),
        }
    }

    fn tenant_generation(&self, tenant: &TenantKey) -> String {
        format!("pixgate:cache:generation:{}:{tenant}", self.source)
    }

    fn kind_generation(&self, tenant: &TenantKey, kind: Kind) -> String {
        format!("pixgate:cache:generation:{}:{tenant}:{}", self.source, kind.label())
    }

    /// The tenant's write mark: changed by every write and drop of its entries.
    fn write_mark(&self, tenant: &TenantKey) -> String {
        format!("pixgate:cache:written:{}:{tenant}", self.source)
    }

    /// The keys every script of a value starts from.
    fn invoke(
        &self,
        script: &'static redis::Script,
        tenant: &TenantKey,
        kind: Kind,
    ) -> redis::ScriptInvocation<'static> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.tenant_generation(tenant))
            .key(self.kind_generation(tenant, kind))
            .key(self.write_mark(tenant))
            .arg(self.prefix(tenant, kind));
        invocation
    }

    /// A value's key up to the generations.
    fn prefix(&self, tenant: &TenantKey, kind: Kind) -> String {
        format!("pixgate:cache:{VERSION}:{}:{tenant}:{}:", self.source, kind.label())
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        self.redis.connection().await
    }

    pub(super) async fn lookup<T: Cacheable>(&self, key: &Key) -> Found<T> {
        self.settle().await;
        let Some(mut redis) = self.connection().await else {
            count("lookup", "unavailable");
            return Found::Unavailable;
        };
        let mut invocation = self.invoke(lookup_script(), &key.tenant, key.kind);
        invocation.arg(&*key.id).arg(WriteMark::fresh());
        let Some(mut answer) = within(invocation.invoke_async::<Vec<Vec<u8>>>(&mut redis)).await else {
            count("lookup", "unavailable");
            return Found::Unavailable;
        };
        let value = (answer.len() == 3).then(|| answer.pop()).flatten();
        let mark = answer.pop().and_then(|mark| String::from_utf8(mark).ok());
        let slot = answer.pop().and_then(|key| String::from_utf8(key).ok());
        let (Some(slot), Some(mark)) = (slot, mark) else {
            count("lookup", "unavailable");
            return Found::Unavailable;
        };
        let slot = Slot { key: slot, mark_key: self.write_mark(&key.tenant), mark: WriteMark(mark) };
        match value.map(|bytes| decode::<T>(&bytes)) {
            Some(Ok(value)) => {
                count("lookup", "hit");
                Found::Hit(value)
            }
            Some(Err(error)) => {
                // Nothing this build wrote; read it as a miss and let the fetch replace it.
                tracing::warn!(%error, kind = key.kind.label(), "ignored an unreadable value in the shared cache");
                count("lookup", "miss");
                Found::Miss(slot)
            }
            None => {
                count("lookup", "miss");
                Found::Miss(slot)
            }
        }
    }

    /// Stores what a missed lookup's caller fetched, where the lookup said, unless the
    /// tenant's entries were written or dropped since.
    pub(super) async fn store<T: Cacheable>(&self, slot: Slot, kind: Kind, value: &T) {
        let (Some(mut redis), Some(bytes)) = (self.connection().await, encode(value)) else { return };
        let mut invocation = store_script().prepare_invoke();
        invocation.key(slot.mark_key).arg(slot.key).arg(bytes).arg(millis(self.ttls.of(kind))).arg(slot.mark.0);
        let stored = within(invocation.invoke_async::<i64>(&mut redis)).await;
        count("store", stored_result(stored));
    }

    /// Stores a write's values (or an event's) under the current generations, and marks
    /// the tenant written, so that no fill begun before lands over them. Answers whether
    /// Redis took them.
    pub(super) async fn put_written<'a, T: Cacheable>(
        &self,
        tenant: &TenantKey,
        kind: Kind,
        values: impl IntoIterator<Item = (&'a str, &'a T)>,
    ) -> bool {
        let mut invocation = self.invoke(put_written_script(), tenant, kind);
        invocation.arg(millis(self.ttls.of(kind))).arg(WriteMark::fresh());
        self.put(invocation, values).await == Some(1)
    }

    /// Stores the objects a list showed, unless the tenant's entries were written or
    /// dropped since the list's lookup read `mark`.
    pub(super) async fn put_listed<'a, T: Cacheable>(
        &self,
        tenant: &TenantKey,
        kind: Kind,
        values: impl IntoIterator<Item = (&'a str, &'a T)>,
        mark: &WriteMark,
    ) {
        let mut invocation = self.invoke(put_listed_script(), tenant, kind);
        invocation.arg(millis(self.ttls.of(kind))).arg(&mark.0);
        self.put(invocation, values).await;
    }

    async fn put<'a, T: Cacheable>(
        &self,
        mut invocation: redis::ScriptInvocation<'static>,
        values: impl IntoIterator<Item = (&'a str, &'a T)>,
    ) -> Option<i64> {
        let Some(mut redis) = self.connection().await else {
            count("store", "unavailable");
            return None;
        };
        for (id, value) in values {
            if let Some(bytes) = encode(value) {
                invocation.arg(id).arg(bytes);
            }
        }
        let stored = within(invocation.invoke_async::<i64>(&mut redis)).await;
        count("store", stored_result(stored));
        stored
    }

    /// Drops what an invalidation names: one value, or a kind's or a tenant's values by
    /// moving to a new generation. A drop Redis did not take is owed.
    pub(super) async fn drop(&self, invalidation: &Invalidation) {
        let dropped = match self.connection().await {
            Some(mut redis) => match (invalidation.kind, invalidation.id.as_deref()) {
                (Some(kind), Some(id)) => {
                    let mut invocation = self.invoke(delete_script(), &invalidation.tenant, kind);
                    invocation.arg(id).arg(WriteMark::fresh());
                    within(invocation.invoke_async::<i64>(&mut redis)).await.is_some()
                }
                (Some(kind), None) => self.bump(&mut redis, &invalidation.tenant, Some(kind)).await,
                (None, _) => self.bump(&mut redis, &invalidation.tenant, None).await,
            },
            None => false,
        };
        count("drop", if dropped { "ok" } else { "unavailable" });
        if !dropped {
            self.owe(&invalidation.tenant);
        }
    }

    /// Moves the tenant's generation on, or its `kind`'s, and marks the tenant written (a
    /// fill begun before would store under the old generation; a list's objects, under
    /// the new one). Generations never expire: one that went back to an earlier number
    /// could make entries stored under it readable again.
    async fn bump(&self, redis: &mut ConnectionManager, tenant: &TenantKey, kind: Option<Kind>) -> bool {
        let generation = match kind {
            Some(kind) => self.kind_generation(tenant, kind),
            None => self.tenant_generation(tenant),
        };
        let mut bumped = redis::pipe();
        bumped
            .atomic()
            .cmd("INCR")
            .arg(generation)
            .ignore()
            .cmd("SET")
            .arg(self.write_mark(tenant))
            .arg(WriteMark::fresh())
            .ignore();
        within(bumped.query_async::<()>(redis)).await.is_some()
    }

    /// Remembers that `tenant`'s shared entries may be stale until Redis takes a drop.
    pub(super) fn owe(&self, tenant: &TenantKey) {
        crate::lock::locked(&self.owed).insert(tenant.clone());
        self.owing.store(true, Ordering::Release);
        tracing::warn!(
            "Redis did not take a cache drop: this tenant's shared entries are dropped whole once it answers again"
        );
    }

    /// Pays what is owed: every tenant whose drop Redis missed moves to a new generation.
    /// A lookup pays first, so it never reads what an owed drop should have removed.
    pub(super) async fn settle(&self) {
        if !self.owing.swap(false, Ordering::AcqRel) {
            return;
        }
        let owed: Vec<TenantKey> = crate::lock::locked(&self.owed).drain().collect();
        let connection = self.connection().await;
        for tenant in owed {
            let paid = match connection.clone() {
                Some(mut connection) => self.bump(&mut connection, &tenant, None).await,
                None => false,
            };
            if !paid {
                crate::lock::locked(&self.owed).insert(tenant);
                self.owing.store(true, Ordering::Release);
            }
        }
    }
}

/// The largest value the shared tier takes back: a length prefix beyond it is not a
/// value this build wrote, and must not make the decoder allocate that much.
const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// MessagePack, then LZ4: field names and repeated text (contracts' HTML) shrink
/// several times for microseconds of work.
pub(super) fn encode<T: Cacheable>(value: &T) -> Option<Vec<u8>> {
    let packed = rmp_serde::to_vec_named(value)
        .inspect_err(|error| tracing::warn!(%error, "a value could not be encoded for the shared cache"))
        .ok()?;
    Some(lz4_flex::block::compress_prepend_size(&packed))
}

#[derive(Debug, thiserror::Error)]
pub(super) enum Undecodable {
    #[error("the value claims {0} bytes, more than any value this build stores")]
    TooLarge(usize),
    #[error("not LZ4: {0}")]
    Compression(#[from] lz4_flex::block::DecompressError),
    #[error("not the MessagePack of this type: {0}")]
    Encoding(#[from] rmp_serde::decode::Error),
}

pub(super) fn decode<T: Cacheable>(bytes: &[u8]) -> Result<T, Undecodable> {
    let claimed = bytes.get(..4).and_then(|size| <[u8; 4]>::try_from(size).ok()).map_or(0, u32::from_le_bytes);
    let claimed = usize::try_from(claimed).unwrap_or(usize::MAX);
    if claimed > MAX_VALUE_BYTES {
        return Err(Undecodable::TooLarge(claimed));
    }
    let packed = lz4_flex::block::decompress_size_prepended(bytes)?;
    Ok(rmp_serde::from_slice(&packed)?)
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// What a shared Redis does that would break this tier: an `allkeys-*` policy may evict a
/// generation counter, which has no time to live, and make dropped entries readable again.
/// A managed Redis that refuses `CONFIG GET` is taken at its word.
pub async fn keeping_problems(redis: &mut (impl redis::aio::ConnectionLike + Send)) -> Vec<String> {
    match crate::redis_link::config_setting(redis, "maxmemory-policy").await {
        Some(policy) if policy.starts_with("allkeys-") => vec![format!(
            "its maxmemory-policy {policy} may evict the shared cache's generation counters; use noeviction or a volatile-* policy"
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;

    use super::*;
    use crate::secret::Secret;

    const REDIS: &str = "127.0.0.1:6379";

    /// A TCP proxy to Redis that the test can cut (every connection closed, new ones
    /// refused) and mend, so one instance loses Redis while another keeps it.
    async fn cuttable_proxy() -> (SocketAddr, watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (open, _) = watch::channel(true);
        let accepting = open.subscribe();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*accepting.borrow() {
                    continue;
                }
                let mut open = accepting.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(REDIS).await else { return };
                    tokio::select! {
                        biased;
                        _ = open.wait_for(|open| !open) => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        (addr, open)
    }

    /// Whatever sits in Redis under a key, decoding it never panics nor allocates what a
    /// forged length claims.
    #[test]
    fn garbage_in_redis_is_refused_cheaply() {
        assert!(matches!(decode::<String>(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]), Err(Undecodable::TooLarge(_))));
        assert!(decode::<String>(&[]).is_err());
        assert!(decode::<String>(b"\x05\x00\x00\x00not lz4 at all").is_err());
        let packed = encode(&vec![1u8, 2, 3]).unwrap();
        assert!(matches!(decode::<String>(&packed), Err(Undecodable::Encoding(_))), "another type's value");
        let text = "<p>Terms</p>".repeat(200);
        let stored = encode(&text).unwrap();
        assert!(stored.len() * 10 < text.len(), "repeated text shrinks: {} bytes for {}", stored.len(), text.len());
        assert_eq!(decode::<String>(&stored).unwrap(), text);
    }

    /// False where no Redis runs, outside CI: there these tests have nothing to test.
    async fn redis_is_running() -> bool {
        let running = TcpStream::connect(REDIS).await.is_ok();
        assert!(running || std::env::var_os("CI").is_none(), "Redis is not running on {REDIS}; .ci/run starts it");
        running
    }

    /// Two tiers on one Redis, as two instances have, once both are connected.
    async fn two_instances(stopped: &watch::Receiver<bool>) -> (SharedTier, SharedTier) {
        let link = || RedisLink::start(&Secret::new(format!("redis://{REDIS}")), stopped.clone()).unwrap();
        let source = uuid::Uuid::new_v4().simple().to_string();
        let tiers =
            (SharedTier::new(&link(), &source, Ttls::default()), SharedTier::new(&link(), &source, Ttls::default()));
        for tier in [&tiers.0, &tiers.1] {
            while tier.connection().await.is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        tiers
    }

    async fn missed<T: Cacheable>(tier: &SharedTier, key: &Key) -> Slot {
        match tier.lookup::<T>(key).await {
            Found::Miss(slot) => slot,
            Found::Hit(_) => panic!("a value was there"),
            Found::Unavailable => panic!("Redis did not answer"),
        }
    }

    /// An instance that looked an object up (or listed it) before another instance's
    /// write, and stores what it fetched after the write, must not put back what the
    /// write replaced: every instance would read it until it expired.
    #[tokio::test]
    async fn a_fill_that_began_before_another_instances_write_is_not_stored() {
        if !redis_is_running().await {
            return;
        }
        let (_stop, stopped) = watch::channel(false);
        let (reader, writer) = two_instances(&stopped).await;
        let tenant = TenantKey::of_cookie("session_cookie=fill");
        let key = Key::new(&tenant, Kind::Client, "cl_1");
        let list = Key::new(&tenant, Kind::ClientPage, "page 1");
        let before = "before the write".to_string();
        let after = "after the write".to_string();

        let slot = missed::<String>(&reader, &key).await;
        assert!(writer.put_written(&tenant, Kind::Client, [("cl_1", &after)]).await);
        reader.store(slot, Kind::Client, &before).await;
        assert_eq!(answer(&writer, &key).await, Some(after.clone()), "a lookup's fill over a write");

        let listing = missed::<Vec<String>>(&reader, &list).await;
        writer.drop(&Invalidation { tenant: tenant.clone(), kind: Some(Kind::Client), id: Some("cl_1".into()) }).await;
        reader.put_listed(&tenant, Kind::Client, [("cl_1", &before)], &listing.mark).await;
        assert_eq!(answer(&writer, &key).await, None, "a list's objects over a drop of one");

        let listing = missed::<Vec<String>>(&reader, &list).await;
        writer.drop(&Invalidation { tenant: tenant.clone(), kind: None, id: None }).await;
        reader.put_listed(&tenant, Kind::Client, [("cl_1", &before)], &listing.mark).await;
        assert_eq!(answer(&writer, &key).await, None, "a list's objects over a drop of the tenant's entries");

        // With nothing written in between, both fills are kept.
        let slot = missed::<String>(&reader, &key).await;
        let listing = missed::<Vec<String>>(&reader, &list).await;
        reader.store(slot, Kind::Client, &after).await;
        assert_eq!(answer(&writer, &key).await, Some(after.clone()));
        let other = Key::new(&tenant, Kind::Client, "cl_2");
        reader.put_listed(&tenant, Kind::Client, [("cl_2", &after)], &listing.mark).await;
        assert_eq!(answer(&writer, &other).await, Some(after), "listed with nothing written since");
    }

    /// What a tier answers for `key` once Redis answers it.
    async fn answer(tier: &SharedTier, key: &Key) -> Option<String> {
        for _ in 0..500 {
            match tier.lookup::<String>(key).await {
                Found::Hit(value) => return Some(value),
                Found::Miss(_) => return None,
                Found::Unavailable => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("Redis never answered");
    }

    /// An instance whose drop Redis did not take makes up for it when Redis answers
    /// again: another instance must not keep reading the copy the write made stale.
    #[tokio::test]
    async fn a_drop_redis_missed_is_made_up_for_when_it_answers_again() {
        if !redis_is_running().await {
            return;
        }
        let (_stop, stopped) = watch::channel(false);
        let (proxy, open) = cuttable_proxy().await;
        let link = |url: String| RedisLink::start(&Secret::new(url), stopped.clone()).unwrap();
        let source = uuid::Uuid::new_v4().simple().to_string();
        let cut_off = SharedTier::new(&link(format!("redis://{proxy}")), &source, Ttls::default());
        let linked = SharedTier::new(&link(format!("redis://{REDIS}")), &source, Ttls::default());
        let tenant = TenantKey::of_cookie("session_cookie=owed");
        let key = Key::new(&tenant, Kind::Client, "cl_1");

        for tier in [&cut_off, &linked] {
            while tier.connection().await.is_none() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        assert!(linked.put_written(&tenant, Kind::Client, [("cl_1", &"before the write".to_string())]).await);
        assert_eq!(answer(&cut_off, &key).await.as_deref(), Some("before the write"), "both read the shared copy");

        open.send_replace(false);
        // The proxy closes its connections before the drop is tried.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let invalidation = Invalidation { tenant: tenant.clone(), kind: Some(Kind::Client), id: Some("cl_1".into()) };
        cut_off.drop(&invalidation).await;
        assert!(cut_off.owing.load(Ordering::Acquire), "the drop did not reach Redis");
        assert_eq!(answer(&linked, &key).await.as_deref(), Some("before the write"), "stale while the drop is owed");

        open.send_replace(true);
        assert_eq!(answer(&cut_off, &key).await, None, "a lookup pays what is owed before it reads");
        assert!(!cut_off.owing.load(Ordering::Acquire));
        assert_eq!(answer(&linked, &key).await, None, "the other instance no longer reads the stale copy");
    }
}
