//! What changed in the cache, told to whoever watches it (live queries): an entry
//! stored or dropped here, or dropped on another instance's word. A watcher
//! watches the tenants it acts for, so a change wakes only the watchers of its
//! tenant; it learns which entries the change touched and decides whether it read
//! any of them. One that falls behind is told it missed some, which it must take
//! as everything having changed. Nothing is kept for a watcher beyond a bounded
//! backlog, and a tenant nobody watches is told nothing at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::reads::Dependencies;
use super::{Invalidation, Key};
use crate::lock::locked;
use crate::upstream::TenantKey;

/// Changes a watcher may fall behind by before it hears that it missed some.
const BACKLOG: usize = 1024;

/// What one change touched.
#[derive(Clone, Debug)]
enum Change {
    Entries(Arc<Invalidation>),
    Everything,
}

impl Change {
    fn touches(&self, made_from: &Dependencies) -> bool {
        match self {
            Change::Everything => true,
            Change::Entries(invalidation) => made_from.reads().any(|read| {
                let key = &read.stored.key;
                key.tenant == invalidation.tenant
                    && invalidation.kind.is_none_or(|kind| kind == key.kind)
                    && invalidation.id.as_deref().is_none_or(|id| id == &*key.id)
            }),
        }
    }
}

/// A channel per watched tenant; shared by every clone of the cache.
#[derive(Clone, Default)]
pub(super) struct Changes(Arc<Mutex<HashMap<TenantKey, broadcast::Sender<Change>>>>);

impl Changes {
    pub(super) fn stored(&self, key: &Key) {
        self.tell(&key.tenant, || {
            let id = Some(key.id.to_string());
            Change::Entries(Arc::new(Invalidation { tenant: key.tenant.clone(), kind: Some(key.kind), id }))
        });
    }

    pub(super) fn dropped(&self, invalidation: &Invalidation) {
        self.tell(&invalidation.tenant, || Change::Entries(Arc::new(invalidation.clone())));
    }

    pub(super) fn dropped_everything(&self) {
        for channel in locked(&self.0).values() {
            let _ = channel.send(Change::Everything);
        }
    }

    fn tell(&self, tenant: &TenantKey, change: impl FnOnce() -> Change) {
        // Every store on a cold path passes here: for a tenant nobody watches, it costs no allocation.
        if let Some(channel) = locked(&self.0).get(tenant) {
            let _ = channel.send(change());
        }
    }

    /// Changes to `tenants`' entries from now on.
    pub(super) fn watch(&self, tenants: impl IntoIterator<Item = TenantKey>) -> Watch {
        let mut channels = locked(&self.0);
        // Channels whose watchers all left go when the next watcher comes.
        channels.retain(|_, channel| channel.receiver_count() > 0);
        let receivers = tenants
            .into_iter()
            .map(|tenant| channels.entry(tenant).or_insert_with(|| broadcast::channel(BACKLOG).0).subscribe())
            .collect();
        Watch(receivers)
    }
}

/// One watcher's view of the changes to its tenants, from when it began watching.
pub struct Watch(Vec<broadcast::Receiver<Change>>);

impl Watch {
    /// Resolves at the first change since the last call that may touch what
    /// `made_from` read (an entry of the same tenant, kind and id, or more).
    pub async fn touching(&mut self, made_from: &Dependencies) {
        if self.0.is_empty() {
            // Acting for no tenant, it reads nothing the cache holds.
            return std::future::pending().await;
        }
        let heard = self.0.iter_mut().map(|receiver| Box::pin(touching(receiver, made_from)));
        futures_util::future::select_all(heard).await;
    }
}

async fn touching(receiver: &mut broadcast::Receiver<Change>, made_from: &Dependencies) {
    loop {
        match receiver.recv().await {
            Ok(change) if change.touches(made_from) => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            // The cache outlives its watchers; should it not, nothing changes any more.
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::reads::recording;
    use super::super::{Cache, Kind, Ttls};
    use super::*;

    async fn heard(watch: &mut Watch, made_from: &Dependencies) -> bool {
        tokio::time::timeout(Duration::from_millis(50), watch.touching(made_from)).await.is_ok()
    }

    #[tokio::test]
    async fn a_watcher_hears_only_changes_to_what_it_read_of_its_own_tenants() {
        let cache = Cache::new(1 << 20, Ttls::default());
        let (a, b) = (TenantKey::of_cookie("a"), TenantKey::of_cookie("b"));
        let client = Key::new(&a, Kind::Client, "cl_1");
        cache.insert(client.clone(), Arc::new("v1".to_string())).await;
        let mut watch = cache.watch([a.clone()]);
        let ((), recorded) = recording(async {
            cache.get::<String>(&client).await;
        })
        .await;
        let made_from = recorded.into_dependencies();

        cache.insert(Key::new(&b, Kind::Client, "cl_1"), Arc::new("B's".to_string())).await;
        cache.insert(Key::new(&a, Kind::Client, "cl_2"), Arc::new("another".to_string())).await;
        cache.invalidate_kinds(&a, &[Kind::Invoice]).await;
        assert!(!heard(&mut watch, &made_from).await, "another tenant, another client, another kind");
        assert!(cache.still_holds(&made_from).await);

        cache.insert(client.clone(), Arc::new("v2".to_string())).await;
        assert!(heard(&mut watch, &made_from).await, "the client it read was replaced");
        assert!(!cache.still_holds(&made_from).await);

        cache.apply(&Invalidation { tenant: a.clone(), kind: Some(Kind::Client), id: None });
        assert!(heard(&mut watch, &made_from).await, "another instance dropped every client of the tenant");
        cache.invalidate_all();
        assert!(heard(&mut watch, &made_from).await, "everything was dropped");
    }
}
