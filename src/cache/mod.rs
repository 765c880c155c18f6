//! The cache shared by all requests: every key carries the tenant whose
//! credentials fetched the value, every kind of value has its own time to live,
//! capacity is bounded in bytes, concurrent misses for one key make one
//! upstream call, and errors are never stored. With Redis, a second tier there
//! serves what any instance fetched (`shared.rs`), and a write's invalidations
//! reach every instance (`fleet.rs`). Whole GraphQL answers are kept too, each as
//! long as every entry it was made from is unchanged (`reads.rs`, `responses.rs`),
//! and live queries hear when one of those entries changes (`changes.rs`).

pub mod changes;
pub mod fleet;
pub mod reads;
pub mod responses;
mod shared;

pub use shared::keeping_problems as shared_keeping_problems;

use std::any::{Any, TypeId};
use std::fmt::{self, Debug};
use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use moka::Expiry;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::redis_link::RedisLink;
use crate::upstream::{TenantKey, UpstreamError};

pub const DEFAULT_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// What a cached value is; it decides the time to live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Client,
    ClientPage,
    ClientSearch,
    ClientCollections,
    ClientDocuments,
    Invoice,
    /// An invoice as a list shows it: the whole record where the server has no
    /// `GET /invoices/{id}`.
    InvoiceListed,
    InvoicePage,
    Contract,
    ContractPage,
    ContractTemplate,
    ContractTemplateList,
    PixelzTemplate,
    PixelzTemplateList,
    PixelzImage,
    PixelzImagePage,
    PixelzImageCount,
    PixelzProductPage,
    PixelzAccount,
    PixelzInvoicePage,
}

impl Kind {
    /// What else holds a copy of an object of this kind (the lists that show it, the
    /// objects that embed it): a change to the object makes those stale too.
    pub fn copies(self) -> &'static [Kind] {
        match self {
            Kind::Client => &[
                Kind::ClientPage,
                Kind::ClientSearch,
                Kind::InvoicePage,
                Kind::InvoiceListed,
                Kind::ContractPage,
                Kind::Contract,
            ],
            Kind::Invoice => &[Kind::InvoicePage, Kind::InvoiceListed, Kind::ClientDocuments],
            Kind::Contract => &[Kind::ContractPage, Kind::ClientDocuments],
            Kind::ContractTemplate => &[Kind::ContractTemplateList, Kind::ContractPage, Kind::Contract],
            Kind::PixelzTemplate => &[Kind::PixelzTemplateList],
            Kind::PixelzImage => &[Kind::PixelzImagePage, Kind::PixelzImageCount, Kind::PixelzProductPage],
            _ => &[],
        }
    }

    /// The kind as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::ClientPage => "client_page",
            Kind::ClientSearch => "client_search",
            Kind::ClientCollections => "client_collections",
            Kind::ClientDocuments => "client_documents",
            Kind::Invoice => "invoice",
            Kind::InvoiceListed => "invoice_listed",
            Kind::InvoicePage => "invoice_page",
            Kind::Contract => "contract",
            Kind::ContractPage => "contract_page",
            Kind::ContractTemplate => "contract_template",
            Kind::ContractTemplateList => "contract_template_list",
            Kind::PixelzTemplate => "pixelz_template",
            Kind::PixelzTemplateList => "pixelz_template_list",
            Kind::PixelzImage => "pixelz_image",
            Kind::PixelzImagePage => "pixelz_image_page",
            Kind::PixelzImageCount => "pixelz_image_count",
            Kind::PixelzProductPage => "pixelz_product_page",
            Kind::PixelzAccount => "pixelz_account",
            Kind::PixelzInvoicePage => "pixelz_invoice_page",
        }
    }
}

/// Times to live, by how fast each kind of thing changes upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ttls {
    pub templates: Duration,
    pub records: Duration,
    pub image_status: Duration,
    pub account: Duration,
}

/// Templates change when a studio edits one, rarely.
pub const DEFAULT_TEMPLATES_TTL: Duration = Duration::from_secs(300);
/// Clients, invoices and contracts change as people work, and a write through pixgate drops them at once.
pub const DEFAULT_RECORDS_TTL: Duration = Duration::from_secs(30);
/// An image moves through its statuses in seconds while it is processed.
pub const DEFAULT_IMAGE_STATUS_TTL: Duration = Duration::from_secs(3);
const ACCOUNT_TTL: Duration = Duration::from_secs(60);

impl Default for Ttls {
    fn default() -> Self {
        Self {
            templates: DEFAULT_TEMPLATES_TTL,
            records: DEFAULT_RECORDS_TTL,
            image_status: DEFAULT_IMAGE_STATUS_TTL,
            account: ACCOUNT_TTL,
        }
    }
}

impl Ttls {
    fn of(&self, kind: Kind) -> Duration {
        match kind {
            // Templates change rarely; a list lives as long as what it lists.
            Kind::ContractTemplate | Kind::ContractTemplateList | Kind::PixelzTemplate | Kind::PixelzTemplateList => {
                self.templates
            }
            Kind::PixelzImage | Kind::PixelzImagePage | Kind::PixelzImageCount | Kind::PixelzProductPage => {
                self.image_status
            }
            Kind::PixelzAccount | Kind::PixelzInvoicePage => self.account,
            _ => self.records,
        }
    }
}

/// What the cache can hold: weighed by its debug form, carried to the shared tier as compressed MessagePack.
pub trait Cacheable: Debug + Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Debug + Serialize + DeserializeOwned + Send + Sync + 'static> Cacheable for T {}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    tenant: TenantKey,
    kind: Kind,
    /// The object's id, or a list's parameters.
    id: Arc<str>,
}

impl Key {
    pub fn new(tenant: &TenantKey, kind: Kind, id: impl AsRef<str>) -> Self {
        Self { tenant: tenant.clone(), kind, id: Arc::from(id.as_ref()) }
    }

    pub fn tenant(&self) -> &TenantKey {
        &self.tenant
    }
}

/// What moka holds: the key and the type stored under it, so a lookup can only
/// ever find a value of the type it asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Stored {
    key: Key,
    type_id: TypeId,
}

impl Stored {
    fn of<T: 'static>(key: Key) -> Self {
        Self { key, type_id: TypeId::of::<T>() }
    }
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    weight: u32,
    /// Unique to this entry: an answer made from it stays good while a lookup finds this version.
    version: u64,
    time_to_live: Duration,
    /// No later than moka lets it expire, since moka starts the time to live after this.
    expires_at: Instant,
}

/// Versions are unique within the process, so a replaced entry never looks unchanged.
static VERSIONS: AtomicU64 = AtomicU64::new(1);

impl Entry {
    fn new(value: Arc<dyn Any + Send + Sync>, weight: u32, time_to_live: Duration) -> Self {
        let version = VERSIONS.fetch_add(1, Ordering::Relaxed);
        Self { value, weight, version, time_to_live, expires_at: Instant::now() + time_to_live }
    }
}

/// Counts what `Debug` would print, without printing it: a cheap stand-in for heap size.
struct Counter(usize);

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

fn weigh<T: Debug>(key: &Stored, value: &T) -> u32 {
    let mut counter = Counter(key.key.id.len() + 64);
    let _ = fmt::write(&mut counter, format_args!("{value:?}"));
    u32::try_from(counter.0).unwrap_or(u32::MAX)
}

/// Each entry lives as long as its kind's time to live, which it carries.
struct PerKind;

impl Expiry<Stored, Entry> for PerKind {
    fn expire_after_create(&self, _: &Stored, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.time_to_live)
    }

    fn expire_after_update(&self, _: &Stored, entry: &Entry, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(entry.time_to_live)
    }
}

/// What a write made stale, for one tenant: one object (`kind` and `id`), every entry
/// of a kind, or (no kind) everything. It names the tenant by its key's hash, never by
/// a credential.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Invalidation {
    pub tenant: TenantKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Clone)]
pub struct Cache {
    /// None when caching is switched off: every lookup fetches.
    entries: Option<moka::future::Cache<Stored, Entry>>,
    ttls: Arc<Ttls>,
    /// The other instances, once Redis is configured: they hear of every write's invalidations.
    fleet: Arc<OnceLock<fleet::Fleet>>,
    /// The tier in Redis behind this one, once Redis is configured.
    shared: Arc<OnceLock<shared::SharedTier>>,
    /// Told of every entry stored or dropped, for live queries.
    changes: changes::Changes,
    drops: Arc<Drops>,
}

/// Where a tenant's drops stood when a fetch began.
#[derive(Clone, Copy, Debug)]
struct DropMark(u64);

/// Where a tenant's entries stood when a fetch began, here and in the shared tier:
/// what it fetched is kept only if none was written or dropped before it is stored.
#[derive(Clone, Debug)]
pub struct FillMark {
    drops: DropMark,
    /// None when the shared tier was not asked (Redis away, or none): the objects a
    /// list showed then stay out of it.
    shared: Option<shared::WriteMark>,
}

/// Drops counted by tenant, in stripes (tenants sharing one cost each other no more
/// than an entry not kept). A fetch that ran while its tenant's entries were dropped
/// may carry what the drop was for (read before the write, stored after the drop, it
/// would outlive it until it expired): its answer serves whoever waited on it and is
/// not kept.
struct Drops([AtomicU64; 64]);

impl Default for Drops {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Drops {
    fn of(&self, tenant: &TenantKey) -> &AtomicU64 {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(tenant);
        &self.0[(hash % self.0.len() as u64) as usize]
    }

    /// How many drops of `tenant`'s entries this instance has made.
    fn count(&self, tenant: &TenantKey) -> u64 {
        self.of(tenant).load(Ordering::Acquire)
    }

    fn dropping(&self, tenant: &TenantKey) {
        self.of(tenant).fetch_add(1, Ordering::AcqRel);
    }

    fn dropping_everything(&self) {
        for stripe in &self.0 {
            stripe.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache").field("enabled", &self.entries.is_some()).finish()
    }
}

fn count(kind: Kind, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!(crate::telemetry::metrics::CACHE_LOOKUPS, "kind" => kind.label(), "result" => result)
        .increment(1);
    crate::telemetry::cost::cache_lookup(kind.label(), hit);
}

impl Cache {
    pub fn new(capacity_bytes: u64, ttls: Ttls) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_, entry: &Entry| entry.weight)
            .expire_after(PerKind)
            .support_invalidation_closures()
            .build();
        let (fleet, shared, changes, drops) = Default::default();
        Self { entries: Some(entries), ttls: Arc::new(ttls), fleet, shared, changes, drops }
    }

    pub fn disabled() -> Self {
        let (fleet, shared, changes, drops) = Default::default();
        Self { entries: None, ttls: Arc::default(), fleet, shared, changes, drops }
    }

    /// Joins the instances sharing `redis`: a second tier there, behind this one, for
    /// what was read from the upstreams named `source`, and invalidations to and from
    /// the others. A disabled cache stays disabled.
    pub fn join_fleet(&self, redis: &RedisLink, source: &str, shutdown: watch::Receiver<bool>) {
        let tier = shared::SharedTier::new(redis, source, (*self.ttls).clone());
        if self.entries.is_some() && self.shared.set(tier).is_ok() {
            fleet::Fleet::start(redis, self, shutdown);
        }
    }

    /// The cached value, or `fetch`'s; concurrent callers for one key share one fetch,
    /// and a failed fetch is not remembered.
    pub async fn get_or_fetch<T, Fut>(&self, key: Key, fetch: impl FnOnce() -> Fut) -> Result<Arc<T>, UpstreamError>
    where
        T: Cacheable,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        self.get_or_fill(key, |_| fetch()).await
    }

    /// As `get_or_fetch`, telling `fetch` where the tenant's entries stood before it
    /// began (`insert_listed` needs it for the objects a list shows).
    pub async fn get_or_fill<T, Fut>(
        &self,
        key: Key,
        fetch: impl FnOnce(FillMark) -> Fut,
    ) -> Result<Arc<T>, UpstreamError>
    where
        T: Cacheable,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let Some(entries) = &self.entries else {
            reads::untracked();
            let mark = FillMark { drops: self.drop_mark(&key.tenant), shared: None };
            return fetch(mark).await.map(Arc::new);
        };
        let stored = Stored::of::<T>(key);
        let weighed = stored.clone();
        let kind = stored.key.kind;
        let entry = entries
            .entry(stored)
            .or_try_insert_with(async move {
                let mark = self.drop_mark(&weighed.key.tenant);
                let value = self.fetch_through_shared(&weighed.key, mark, fetch).await?;
                let weight = weigh(&weighed, &value);
                let kept = !self.dropped_since(&weighed.key.tenant, mark);
                let time_to_live = if kept { self.ttls.of(kind) } else { Duration::ZERO };
                Ok::<_, UpstreamError>(Entry::new(Arc::new(value), weight, time_to_live))
            })
            .await
            .map_err(|e: Arc<UpstreamError>| {
                // A resolver may answer around the failure (a template Pixelz lacks is null),
                // and nothing held stands for what it saw.
                reads::untracked();
                (*e).clone()
            })?;
        // A caller that waited on another's fetch made no upstream call: a hit.
        count(kind, !entry.is_fresh());
        if entry.is_fresh() {
            self.changes.stored(&entry.key().key);
        }
        reads::found(entry.key(), entry.value());
        Ok(entry.into_value().value.downcast::<T>().expect("a stored key names the type of its value"))
    }

    /// The shared tier's value, or `fetch`'s, which the shared tier then keeps.
    async fn fetch_through_shared<T, Fut>(
        &self,
        key: &Key,
        drops: DropMark,
        fetch: impl FnOnce(FillMark) -> Fut,
    ) -> Result<T, UpstreamError>
    where
        T: Cacheable,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let alone = FillMark { drops, shared: None };
        let Some(shared) = self.shared.get() else { return fetch(alone).await };
        match shared.lookup::<T>(key).await {
            shared::Found::Hit(value) => Ok(value),
            shared::Found::Miss(slot) => {
                let value = fetch(FillMark { drops, shared: Some(slot.mark.clone()) }).await?;
                shared.store(slot, key.kind, &value).await;
                Ok(value)
            }
            shared::Found::Unavailable => fetch(alone).await,
        }
    }

    /// The value held for `key`, here or in the shared tier; never fetched.
    pub async fn get<T: Cacheable>(&self, key: &Key) -> Option<Arc<T>> {
        let Some(entries) = self.entries.as_ref() else {
            reads::untracked();
            return None;
        };
        let stored = Stored::of::<T>(key.clone());
        let found = entries.get(&stored).await;
        count(key.kind, found.is_some());
        if let Some(found) = found {
            reads::found(&stored, &found);
            return found.value.downcast::<T>().ok();
        }
        let from_shared = match self.shared.get() {
            Some(shared) => shared.lookup::<T>(key).await,
            None => shared::Found::Unavailable,
        };
        match from_shared {
            shared::Found::Hit(value) => {
                let value = Arc::new(value);
                if let Some(entry) = self.insert_here(key.clone(), value.clone()).await {
                    reads::found(&stored, &entry);
                }
                Some(value)
            }
            shared::Found::Miss(_) | shared::Found::Unavailable => {
                // What was decided on finding nothing holds until something is stored here.
                reads::absent(&stored);
                None
            }
        }
    }

    async fn insert_here<T: Cacheable>(&self, key: Key, value: Arc<T>) -> Option<Entry> {
        let entries = self.entries.as_ref()?;
        let stored = Stored::of::<T>(key);
        let weight = weigh(&stored, &value);
        let entry = Entry::new(value, weight, self.ttls.of(stored.key.kind));
        entries.insert(stored.clone(), entry.clone()).await;
        // Told once it holds: a watcher that looks then finds the new version.
        self.changes.stored(&stored.key);
        Some(entry)
    }

    /// True while each entry read is still held at the version read (or, read as
    /// absent, is still absent): an answer made from them would be made the same.
    async fn unchanged(&self, read: &[reads::Read]) -> bool {
        self.unchanged_reads(read.iter()).await
    }

    async fn unchanged_reads(&self, read: impl Iterator<Item = &reads::Read>) -> bool {
        let Some(entries) = &self.entries else { return false };
        for read in read {
            if entries.get(&read.stored).await.map(|entry| entry.version) != read.version {
                return false;
            }
        }
        true
    }

    /// How long an answer made from nothing held (introspection, `__typename`) is kept.
    fn longest_time_to_live(&self) -> Duration {
        let Ttls { templates, records, image_status, account } = &*self.ttls;
        *[templates, records, image_status, account].into_iter().max().unwrap_or(&Duration::ZERO)
    }

    /// Stores an object whose state arrived outside a lookup (an event), here and in the
    /// shared tier. Answers whether the shared tier took it (true without one).
    pub async fn insert<T: Cacheable>(&self, key: Key, value: Arc<T>) -> bool {
        self.insert_here(key.clone(), value.clone()).await;
        // The shared tier exists only behind an enabled cache (`join_fleet`).
        match self.shared.get() {
            Some(shared) => shared.put_written(&key.tenant, key.kind, [(&*key.id, &*value)]).await,
            None => true,
        }
    }

    /// Stores the objects a list showed, so a later lookup by id, here or on another
    /// instance, costs nothing; unless the tenant's entries were written or dropped since
    /// the list's fetch began (`fetched_since`), when the list may show what a write just changed.
    pub async fn insert_listed<T: Cacheable>(
        &self,
        tenant: &TenantKey,
        kind: Kind,
        items: &[(&str, Arc<T>)],
        fetched_since: FillMark,
    ) {
        if self.entries.is_none() || items.is_empty() || self.dropped_since(tenant, fetched_since.drops) {
            return;
        }
        for (id, item) in items {
            self.insert_here(Key::new(tenant, kind, id), item.clone()).await;
        }
        if let (Some(shared), Some(mark)) = (self.shared.get(), &fetched_since.shared) {
            shared.put_listed(tenant, kind, items.iter().map(|(id, item)| (*id, &**item)), mark).await;
        }
    }

    /// Stores what a write returned, here and in the shared tier, and tells the other
    /// instances that their copy is stale, in that order: what they read next is this.
    pub async fn insert_written<T: Cacheable>(&self, key: Key, value: Arc<T>) {
        let written = Invalidation { tenant: key.tenant.clone(), kind: Some(key.kind), id: Some(key.id.to_string()) };
        if !self.insert(key, value).await
            && let Some(shared) = self.shared.get()
        {
            shared.owe(&written.tenant);
        }
        self.announce(written).await;
    }

    /// Drops an object a write changed, here, in the shared tier and on the other instances.
    pub async fn invalidate<T: 'static>(&self, key: &Key) {
        let invalidation =
            Invalidation { tenant: key.tenant.clone(), kind: Some(key.kind), id: Some(key.id.to_string()) };
        if let Some(entries) = &self.entries {
            self.drops.dropping(&key.tenant);
            entries.invalidate(&Stored::of::<T>(key.clone())).await;
            self.changes.dropped(&invalidation);
        }
        self.drop_shared(&invalidation).await;
        self.announce(invalidation).await;
    }

    /// Drops every entry of these kinds for one tenant (lists a write may have changed),
    /// here and on the other instances: all at once, so a write waits for the slowest
    /// confirmation, not for their sum.
    pub async fn invalidate_kinds(&self, tenant: &TenantKey, kinds: &[Kind]) {
        let dropping = kinds
            .iter()
            .map(|kind| self.drop_everywhere(Invalidation { tenant: tenant.clone(), kind: Some(*kind), id: None }));
        futures_util::future::join_all(dropping).await;
    }

    /// Drops what `invalidation` names, here, in the shared tier and on the other instances.
    pub async fn drop_everywhere(&self, invalidation: Invalidation) {
        self.apply(&invalidation);
        self.drop_shared(&invalidation).await;
        self.announce(invalidation).await;
    }

    /// Drops in the shared tier what this instance's writes could not drop while Redis was away.
    async fn settle_shared(&self) {
        if let Some(shared) = self.shared.get() {
            shared.settle().await;
        }
    }

    async fn drop_shared(&self, invalidation: &Invalidation) {
        if let Some(shared) = self.shared.get() {
            shared.drop(invalidation).await;
        }
    }

    /// Where `tenant`'s drops stand now: what is fetched from here on is kept only if none comes before it is stored.
    fn drop_mark(&self, tenant: &TenantKey) -> DropMark {
        DropMark(self.drops.count(tenant))
    }

    /// True when some of `tenant`'s entries were dropped since `mark`.
    fn dropped_since(&self, tenant: &TenantKey, mark: DropMark) -> bool {
        self.drops.count(tenant) != mark.0
    }

    /// Drops what an invalidation names, here only.
    pub fn apply(&self, invalidation: &Invalidation) {
        if let Some(entries) = &self.entries {
            // Counted first: a fetch that stores after the predicate below is registered still sees it.
            self.drops.dropping(&invalidation.tenant);
            let Invalidation { tenant, kind, id } = invalidation.clone();
            let id: Option<Arc<str>> = id.map(Arc::from);
            // Only fails when predicates are not enabled, which they are by default.
            let _ = entries.invalidate_entries_if(move |stored, _| {
                stored.key.tenant == tenant
                    && kind.is_none_or(|kind| stored.key.kind == kind)
                    && id.as_ref().is_none_or(|id| stored.key.id == *id)
            });
            // A lookup skips what a registered predicate names from now on, so a watcher told now finds it gone.
            self.changes.dropped(invalidation);
        }
    }

    /// True while this instance hears the others' invalidations through Redis.
    pub fn hears_fleet(&self) -> bool {
        self.fleet.get().is_some_and(fleet::Fleet::hearing)
    }

    async fn announce(&self, invalidation: Invalidation) {
        if let Some(fleet) = self.fleet.get() {
            fleet.announce(&invalidation).await;
        }
    }

    /// Forgets everything: a cold start without a restart.
    pub fn invalidate_all(&self) {
        if let Some(entries) = &self.entries {
            self.drops.dropping_everything();
            entries.invalidate_all();
            self.changes.dropped_everything();
        }
    }

    /// Changes to `tenants`' entries from now on, for a live query to hear which touch what it read.
    pub fn watch(&self, tenants: impl IntoIterator<Item = TenantKey>) -> changes::Watch {
        self.changes.watch(tenants)
    }

    /// True while everything `made_from` read is held as it was read: a result made
    /// again now would be made from the same entries.
    pub async fn still_holds(&self, made_from: &reads::Dependencies) -> bool {
        self.unchanged_reads(made_from.reads()).await
    }

    /// Every key held for a tenant; for tests proving tenants stay apart.
    pub fn keys_of(&self, tenant: &TenantKey) -> Vec<Key> {
        self.entries
            .as_ref()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|(stored, _)| stored.key.tenant() == tenant)
                    .map(|(stored, _)| stored.key.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn run_pending_tasks(&self) {
        if let Some(entries) = &self.entries {
            entries.run_pending_tasks().await;
        }
    }
}

/// `value` as another instance reads it from the shared tier.
#[cfg(test)]
pub(crate) fn through_shared_tier<T: Cacheable>(value: &T) -> T {
    let bytes = shared::encode(value).expect("every cached type encodes");
    shared::decode(&bytes).unwrap_or_else(|error| panic!("{error}: {value:?}"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::upstream::{Endpoint, Verb};

    fn tenant(cookie: &str) -> TenantKey {
        TenantKey::of_cookie(cookie)
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch_and_errors_are_not_kept() {
        let cache = Cache::new(1 << 20, Ttls::default());
        let calls = AtomicUsize::new(0);
        let key = Key::new(&tenant("a"), Kind::Client, "cl_1");
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, UpstreamError>("value".to_string())
        };
        let (a, b) = tokio::join!(cache.get_or_fetch(key.clone(), fetch), cache.get_or_fetch(key.clone(), fetch));
        assert_eq!((a.unwrap().as_str(), b.unwrap().as_str()), ("value", "value"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let failing = Key::new(&tenant("a"), Kind::Client, "cl_2");
        let error = UpstreamError::Unavailable {
            endpoint: Endpoint::pixieset(Verb::Get, "/x"),
            status: Some(503),
            reason: "down".into(),
        };
        assert!(cache.get_or_fetch::<String, _>(failing.clone(), || async { Err(error) }).await.is_err());
        let recovered = cache.get_or_fetch(failing, || async { Ok::<_, UpstreamError>("back".to_string()) }).await;
        assert_eq!(recovered.unwrap().as_str(), "back", "the error was not cached");
    }

    /// A read that fetched before a write and finishes after the write dropped the object
    /// must not leave the old value behind for the next read.
    #[tokio::test]
    async fn a_fetch_that_ran_across_a_drop_of_its_tenants_entries_is_not_kept() {
        let cache = Cache::new(1 << 20, Ttls::default());
        let key = Key::new(&tenant("t"), Kind::Client, "cl_1");
        let (fetched, upstream_answered) = tokio::sync::oneshot::channel();
        let (dropped, drop_made) = tokio::sync::oneshot::channel();
        let slow_read = cache.get_or_fetch(key.clone(), || async move {
            let _ = fetched.send(());
            let _ = drop_made.await;
            Ok::<_, UpstreamError>("before the write".to_string())
        });
        let write = async {
            upstream_answered.await.unwrap();
            cache.invalidate::<String>(&key).await;
            dropped.send(()).unwrap();
        };
        let (read, ()) = tokio::join!(slow_read, write);
        assert_eq!(read.unwrap().as_str(), "before the write", "whoever waited on the fetch gets it");
        let next = cache.get_or_fetch(key.clone(), || async { Ok::<_, UpstreamError>("after the write".to_string()) });
        assert_eq!(next.await.unwrap().as_str(), "after the write");

        // Nor the objects of a list fetched across the drop.
        let fetched_since = FillMark { drops: cache.drop_mark(&key.tenant), shared: None };
        cache.invalidate::<String>(&key).await;
        let listed = [(&*key.id, Arc::new("listed before the write".to_string()))];
        cache.insert_listed(&key.tenant, key.kind, &listed, fetched_since).await;
        assert!(cache.get::<String>(&key).await.is_none(), "a listed object fetched across a drop was kept");
    }

    #[tokio::test]
    async fn tenants_never_share_entries() {
        let cache = Cache::new(1 << 20, Ttls::default());
        let (a, b) = (tenant("session_cookie=a"), tenant("session_cookie=b"));
        cache.insert(Key::new(&a, Kind::Client, "cl_1"), Arc::new("A's".to_string())).await;
        assert!(cache.get::<String>(&Key::new(&b, Kind::Client, "cl_1")).await.is_none());
        assert_eq!(cache.get::<String>(&Key::new(&a, Kind::Client, "cl_1")).await.unwrap().as_str(), "A's");
        cache.run_pending_tasks().await;
        assert_eq!(cache.keys_of(&a).len(), 1);
        assert!(cache.keys_of(&b).is_empty());
    }

    #[tokio::test]
    async fn invalidating_a_kind_spares_other_kinds_and_tenants() {
        let cache = Cache::new(1 << 20, Ttls::default());
        let (a, b) = (tenant("a"), tenant("b"));
        for (t, kind) in [(&a, Kind::ClientPage), (&a, Kind::Client), (&b, Kind::ClientPage)] {
            cache.insert(Key::new(t, kind, "x"), Arc::new(1u8)).await;
        }
        cache.invalidate_kinds(&a, &[Kind::ClientPage]).await;
        assert!(cache.get::<u8>(&Key::new(&a, Kind::ClientPage, "x")).await.is_none());
        assert!(cache.get::<u8>(&Key::new(&a, Kind::Client, "x")).await.is_some());
        assert!(cache.get::<u8>(&Key::new(&b, Kind::ClientPage, "x")).await.is_some());
        // What is stored after the invalidation is served again.
        cache.insert(Key::new(&a, Kind::ClientPage, "x"), Arc::new(2u8)).await;
        assert_eq!(cache.get::<u8>(&Key::new(&a, Kind::ClientPage, "x")).await.as_deref(), Some(&2));
    }

    #[tokio::test]
    async fn entries_expire_by_kind() {
        let ttls = Ttls { image_status: Duration::from_millis(30), ..Ttls::default() };
        let cache = Cache::new(1 << 20, ttls);
        let t = tenant("t");
        cache.insert(Key::new(&t, Kind::PixelzImage, "x"), Arc::new(1u8)).await;
        cache.insert(Key::new(&t, Kind::Client, "x"), Arc::new(1u8)).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(cache.get::<u8>(&Key::new(&t, Kind::PixelzImage, "x")).await.is_none());
        assert!(cache.get::<u8>(&Key::new(&t, Kind::Client, "x")).await.is_some());
    }

    #[tokio::test]
    async fn capacity_is_bounded_in_bytes() {
        let cache = Cache::new(10_000, Ttls::default());
        let t = tenant("t");
        for n in 0..100 {
            cache.insert(Key::new(&t, Kind::Client, format!("cl_{n}")), Arc::new("x".repeat(1000))).await;
        }
        cache.run_pending_tasks().await;
        let held = cache.keys_of(&t).len();
        assert!(held > 0 && held < 10, "about ten 1 kB entries fit in 10 kB: {held}");
    }
}
