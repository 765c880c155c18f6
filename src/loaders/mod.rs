//! Data access for one request. By-id lookups go through DataLoaders, which
//! gather every id a level of the query asks for, drop duplicates and fetch
//! them concurrently: one round trip per level of nesting, not per object.
//! Everything fetched passes through the shared cache under the caller's
//! tenant key. A list's items are cached one by one only where an item is the
//! whole record (clients, images, invoices as listed); a contract or template by
//! id is always read whole, since its list item may disagree with it.

mod pixelz;
mod pixieset;

pub use pixelz::Pixelz;
pub use pixieset::{INVOICE_PAGE, Pixieset};

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use futures_util::future::{BoxFuture, join_all};

use crate::auth::Unavailable;
use crate::cache::{Cache, Cacheable, Key, Kind};
use crate::session::Session;
use crate::upstream::{TenantKey, UpstreamError, Upstreams};

pub type Loaded<T> = Result<Arc<T>, UpstreamError>;

/// Whether a write's answer leaves the copies of what it may change stale: it was made, or may have been.
fn may_have_written<T>(answer: &Result<T, UpstreamError>) -> bool {
    matches!(answer, Ok(_) | Err(UpstreamError::OutcomeUnknown { .. }))
}

/// Shared by every request.
#[derive(Clone, Debug)]
pub struct DataSources {
    pub upstreams: Upstreams,
    pub cache: Cache,
    pub lookups: Lookups,
}

/// How one level's lookups by id reach the upstream, fixed when the gateway is built:
/// gathered into batches, as it ships, or one call each, which only the benchmark that
/// measures what batching saves builds (`startup::start_measuring`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lookups {
    #[default]
    Batched,
    OneByOne,
}

/// What one request reads with: per upstream, a source or the reason there is none.
pub struct Loaders {
    pub pixieset: Result<Pixieset, Unavailable>,
    pub pixelz: Result<Pixelz, Unavailable>,
}

impl Loaders {
    /// The one way a session becomes data sources, over HTTP, SSE or a WebSocket.
    pub fn new(sources: &DataSources, session: &Session) -> Self {
        let credentials = session.credentials();
        Self {
            pixieset: credentials.pixieset.clone().map(|c| Pixieset::new(sources, c)),
            pixelz: credentials.pixelz.clone().map(|c| Pixelz::new(sources, c)),
        }
    }
}

/// A loader of one kind of object by id, over a fetch function.
pub(super) struct ById<S, V> {
    /// What it loads, as the batch-size metric names it.
    pub(super) name: &'static str,
    pub(super) source: S,
    pub(super) fetch: fn(S, String) -> BoxFuture<'static, Loaded<V>>,
}

impl<S, V> Loader<String> for ById<S, V>
where
    S: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    type Value = Loaded<V>;
    type Error = Infallible;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, Loaded<V>>, Infallible> {
        metrics::histogram!(crate::telemetry::metrics::LOADER_BATCH_SIZE, "loader" => self.name)
            .record(ids.len() as f64);
        crate::telemetry::cost::loader_batch(self.name, ids.len());
        let loads = ids.iter().map(|id| {
            let fetch = (self.fetch)(self.source.clone(), id.clone());
            async move { (id.clone(), fetch.await) }
        });
        Ok(join_all(loads).await.into_iter().collect())
    }
}

pub(super) fn loader<S, V>(
    lookups: Lookups,
    name: &'static str,
    source: &S,
    fetch: fn(S, String) -> BoxFuture<'static, Loaded<V>>,
) -> DataLoader<ById<S, V>>
where
    S: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let loader = DataLoader::new(ById { name, source: source.clone(), fetch }, crate::scope::spawn);
    match lookups {
        Lookups::Batched => loader,
        // A batch of one is fetched at once, without waiting for company.
        Lookups::OneByOne => loader.max_batch_size(1),
    }
}

pub(super) async fn load<S, V>(loader: &DataLoader<ById<S, V>>, source: &S, id: &str) -> Loaded<V>
where
    S: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let Ok(loaded) = loader.load_one(id.to_string()).await;
    match loaded {
        Some(loaded) => loaded,
        None => (loader.loader().fetch)(source.clone(), id.to_string()).await,
    }
}

/// A list through the cache. Its objects are cached one by one, so a later lookup by id
/// costs nothing, when the list is fetched: doing it on every hit cost more than the hit.
pub(super) async fn get_or_fetch_list<L, T, Fut>(
    cache: &Cache,
    tenant: &TenantKey,
    key: Key,
    fetch: impl FnOnce() -> Fut,
    kind: Kind,
    id: impl Fn(&T) -> &str,
) -> Loaded<L>
where
    L: AsRef<[T]> + Cacheable,
    T: Cacheable + Clone,
    Fut: Future<Output = Result<L, UpstreamError>>,
{
    cache
        .get_or_fill(key, |mark| async {
            let list = fetch().await?;
            let items: Vec<(&str, Arc<T>)> =
                list.as_ref().iter().map(|item| (id(item), Arc::new(item.clone()))).collect();
            cache.insert_listed(tenant, kind, &items, mark).await;
            drop(items);
            Ok(list)
        })
        .await
}
