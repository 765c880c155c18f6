//! The cache shared by all requests: every key carries the tenant whose
//! credentials fetched the value, every kind of value has its own time to live,
//! capacity is bounded in bytes, concurrent misses for one key make one
//! upstream call, and errors are never stored. A write's invalidations reach every
//! instance sharing Redis (`fleet.rs`).

pub mod fleet;

use std::any::{Any, TypeId};
use std::fmt::{self, Debug};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use moka::Expiry;

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

impl Default for Ttls {
    fn default() -> Self {
        Self {
            templates: Duration::from_secs(300),
            records: Duration::from_secs(30),
            image_status: Duration::from_secs(3),
            account: Duration::from_secs(60),
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

struct PerKind(Ttls);

impl Expiry<Stored, Entry> for PerKind {
    fn expire_after_create(&self, stored: &Stored, _: &Entry, _: Instant) -> Option<Duration> {
        Some(self.0.of(stored.key.kind))
    }

    fn expire_after_update(&self, stored: &Stored, _: &Entry, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(self.0.of(stored.key.kind))
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
    /// The other instances, once Redis is configured: they hear of every write's invalidations.
    fleet: Arc<OnceLock<fleet::Fleet>>,
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
}

impl Cache {
    pub fn new(capacity_bytes: u64, ttls: Ttls) -> Self {
        let entries = moka::future::Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_, entry: &Entry| entry.weight)
            .expire_after(PerKind(ttls))
            .support_invalidation_closures()
            .build();
        Self { entries: Some(entries), fleet: Arc::default() }
    }

    pub fn disabled() -> Self {
        Self { entries: None, fleet: Arc::default() }
    }

    /// The cached value, or `fetch`'s; concurrent callers for one key share one fetch,
    /// and a failed fetch is not remembered.
    pub async fn get_or_fetch<T, Fut>(&self, key: Key, fetch: impl FnOnce() -> Fut) -> Result<Arc<T>, UpstreamError>
    where
        T: Debug + Send + Sync + 'static,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let Some(entries) = &self.entries else { return fetch().await.map(Arc::new) };
        let stored = Stored::of::<T>(key);
        let weighed = stored.clone();
        let kind = stored.key.kind;
        let entry = entries
            .entry(stored)
            .or_try_insert_with(async move {
                let value = fetch().await?;
                let weight = weigh(&weighed, &value);
                Ok::<_, UpstreamError>(Entry { value: Arc::new(value), weight })
            })
            .await
            .map_err(|e: Arc<UpstreamError>| (*e).clone())?;
        // A caller that waited on another's fetch made no upstream call: a hit.
        count(kind, !entry.is_fresh());
        Ok(entry.into_value().value.downcast::<T>().expect("a stored key names the type of its value"))
    }

    pub async fn get<T: Send + Sync + 'static>(&self, key: &Key) -> Option<Arc<T>> {
        let found = self.entries.as_ref()?.get(&Stored::of::<T>(key.clone())).await;
        count(key.kind, found.is_some());
        found?.value.downcast::<T>().ok()
    }

    /// Stores an object that arrived inside a list, so a later lookup by id costs nothing.
    pub async fn insert<T: Debug + Send + Sync + 'static>(&self, key: Key, value: Arc<T>) {
        if let Some(entries) = &self.entries {
            let stored = Stored::of::<T>(key);
            let weight = weigh(&stored, &value);
            entries.insert(stored, Entry { value, weight }).await;
        }
    }

    /// Stores what a write returned, and tells the other instances that their copy is stale.
    pub async fn insert_written<T: Debug + Send + Sync + 'static>(&self, key: Key, value: Arc<T>) {
        let written = Invalidation { tenant: key.tenant.clone(), kind: Some(key.kind), id: Some(key.id.to_string()) };
        self.insert(key, value).await;
        self.announce(written).await;
    }

    /// Drops an object a write changed, here and on the other instances.
    pub async fn invalidate<T: 'static>(&self, key: &Key) {
        if let Some(entries) = &self.entries {
            entries.invalidate(&Stored::of::<T>(key.clone())).await;
        }
        self.announce(Invalidation { tenant: key.tenant.clone(), kind: Some(key.kind), id: Some(key.id.to_string()) })
            .await;
    }

    /// Drops every entry of one kind for one tenant (lists a write may have changed),
    /// here and on the other instances.
    pub async fn invalidate_kind(&self, tenant: &TenantKey, kind: Kind) {
        self.drop_everywhere(Invalidation { tenant: tenant.clone(), kind: Some(kind), id: None }).await;
    }

    /// Drops what `invalidation` names, here and on the other instances.
    pub async fn drop_everywhere(&self, invalidation: Invalidation) {
        self.apply(&invalidation);
        self.announce(invalidation).await;
    }

    /// Drops what an invalidation names, here only.
    pub fn apply(&self, invalidation: &Invalidation) {
        if let Some(entries) = &self.entries {
            let Invalidation { tenant, kind, id } = invalidation.clone();
            let id: Option<Arc<str>> = id.map(Arc::from);
            // Only fails when predicates are not enabled, which they are by default.
            let _ = entries.invalidate_entries_if(move |stored, _| {
                stored.key.tenant == tenant
                    && kind.is_none_or(|kind| stored.key.kind == kind)
                    && id.as_ref().is_none_or(|id| stored.key.id == *id)
            });
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
            entries.invalidate_all();
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::secret::Secret;
    use crate::upstream::{Endpoint, PixiesetCredentials, Verb};

    fn tenant(cookie: &str) -> TenantKey {
        PixiesetCredentials::new(Secret::new(cookie)).tenant().clone()
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
        cache.invalidate_kind(&a, Kind::ClientPage).await;
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
