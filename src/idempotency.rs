//! Remembers a write's result for a day, per tenant and key, so a retried
//! request returns the first result instead of writing again (a retouched
//! image and an invoice cost real money). Concurrent retries share one write;
//! failures are not remembered, so a failed write can be retried.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::upstream::TenantKey;

pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);
const CAPACITY: u64 = 100_000;
pub const MAX_KEY_LEN: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Slot {
    tenant: TenantKey,
    key: String,
    type_id: TypeId,
}

#[derive(Clone)]
pub struct Idempotency {
    results: moka::future::Cache<Slot, Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency").field("entries", &self.results.entry_count()).finish()
    }
}

impl Default for Idempotency {
    fn default() -> Self {
        Self { results: moka::future::Cache::builder().max_capacity(CAPACITY).time_to_live(TTL).build() }
    }
}

impl Idempotency {
    /// Runs `write` unless a write under the same tenant and key already succeeded;
    /// without a key, always runs it.
    pub async fn once<T, E, Fut>(
        &self,
        tenant: &TenantKey,
        key: Option<String>,
        write: impl FnOnce() -> Fut,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(key) = key else { return write().await.map(Arc::new) };
        let slot = Slot { tenant: tenant.clone(), key, type_id: TypeId::of::<T>() };
        let stored = self
            .results
            .try_get_with(slot, async move { write().await.map(|value| Arc::new(value) as Arc<dyn Any + Send + Sync>) })
            .await
            .map_err(|e: Arc<E>| (*e).clone())?;
        Ok(stored.downcast::<T>().expect("a slot names the type of its value"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::secret::Secret;
    use crate::upstream::PixiesetCredentials;

    fn tenant(cookie: &str) -> TenantKey {
        PixiesetCredentials::new(Secret::new(cookie)).tenant().clone()
    }

    #[tokio::test]
    async fn a_key_writes_once_per_tenant() {
        let store = Idempotency::default();
        let writes = AtomicUsize::new(0);
        let write = || async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, String>(writes.fetch_add(1, Ordering::SeqCst))
        };
        let key = || Some("retry-me".to_string());
        let (a, b) = (tenant("a"), tenant("b"));
        let (first, second) = tokio::join!(store.once(&a, key(), write), store.once(&a, key(), write));
        assert_eq!((*first.unwrap(), *second.unwrap()), (0, 0));
        assert_eq!(*store.once(&a, key(), write).await.unwrap(), 0, "a later retry gets the first result");
        assert_eq!(*store.once(&b, key(), write).await.unwrap(), 1, "another tenant's key is its own");
        assert_eq!(*store.once(&a, None, write).await.unwrap(), 2, "no key, no memory");
    }

    #[tokio::test]
    async fn failures_are_not_remembered() {
        let store = Idempotency::default();
        let a = tenant("a");
        let failed = store.once::<u8, _, _>(&a, Some("k".into()), || async { Err("down".to_string()) }).await;
        assert!(failed.is_err());
        let retried = store.once::<u8, String, _>(&a, Some("k".into()), || async { Ok(7) }).await;
        assert_eq!(*retried.unwrap(), 7);
    }
}
