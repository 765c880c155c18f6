//! One request's scope, and within it one operation's: the request id, the
//! operation's upstream-call budget, and whatever the layers below record for it
//! (the cache entries it read, what it cost). It rides along as a task-local, so
//! the upstream transport and the cache reach it without being handed it, and
//! `spawn` carries it onto the tasks a DataLoader starts on the request's behalf.
//!
//! The layers that record define what they record; this module only keeps it, so
//! it names none of them and every layer may call it.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use tracing::Instrument as _;

use crate::request_id::RequestId;

tokio::task_local! {
    static CURRENT: Arc<Scope>;
}

/// Upstream calls one operation may make; each attempt counts, as the upstream counts it.
#[derive(Debug)]
struct Budget {
    limit: u32,
    used: AtomicU32,
}

/// The operation has made every upstream call its budget allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetSpent {
    pub limit: u32,
}

#[derive(Debug)]
pub struct Scope {
    id: RequestId,
    budget: Budget,
    /// One slot per kind a layer asked to be kept: a scope that keeps none costs a note nothing.
    records: Mutex<Vec<Box<dyn Any + Send>>>,
}

impl Scope {
    /// A request's scope: its id, and no limit on what it spends (each operation gets its own).
    pub fn request(id: RequestId) -> Self {
        Self { id, budget: Budget { limit: u32::MAX, used: AtomicU32::new(0) }, records: Mutex::default() }
    }

    /// An operation of the current request (or of none), allowed `upstream_calls`.
    pub fn operation(upstream_calls: u32) -> Self {
        let id = current_id().unwrap_or_default();
        Self { budget: Budget { limit: upstream_calls, used: AtomicU32::new(0) }, ..Self::request(id) }
    }

    /// Keeps a `T` that notes made inside the scope add to.
    pub fn keeping<T: Any + Send + Default>(self) -> Self {
        self.lock_records().push(Box::new(T::default()));
        self
    }

    /// What was recorded as `T`, taken out: None when the scope did not keep one.
    pub fn take<T: Any + Send>(&self) -> Option<T> {
        let mut records = self.lock_records();
        let index = records.iter().position(|record| record.is::<T>())?;
        records.swap_remove(index).downcast::<T>().ok().map(|record| *record)
    }

    pub fn upstream_budget(&self) -> u32 {
        self.budget.limit
    }

    /// Upstream calls made inside the scope so far.
    pub fn upstream_calls(&self) -> u32 {
        self.budget.used.load(Ordering::Relaxed).min(self.budget.limit)
    }

    fn lock_records(&self) -> std::sync::MutexGuard<'_, Vec<Box<dyn Any + Send>>> {
        crate::lock::locked(&self.records)
    }
}

/// Runs `future` inside `scope`.
pub fn run<F: Future>(scope: Arc<Scope>, future: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(scope, future)
}

/// The id of the request this task serves, if any.
pub fn current_id() -> Option<RequestId> {
    CURRENT.try_with(|scope| scope.id.clone()).ok()
}

/// Adds to the current scope's `T`, when it keeps one.
pub fn note<T: Any + Send>(note: impl FnOnce(&mut T)) {
    let _ = CURRENT.try_with(|scope| {
        let mut records = scope.lock_records();
        if let Some(record) = records.iter_mut().find_map(|record| record.downcast_mut::<T>()) {
            note(record);
        }
    });
}

/// Takes one upstream call from the current operation's budget. Outside any
/// operation (the poller, a webhook) nothing is counted.
pub fn spend_upstream_call() -> Result<(), BudgetSpent> {
    CURRENT
        .try_with(|scope| {
            let budget = &scope.budget;
            budget
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| (used < budget.limit).then_some(used + 1))
                .map(drop)
                .map_err(|_| BudgetSpent { limit: budget.limit })
        })
        .unwrap_or(Ok(()))
}

/// Gives back a unit [`spend_upstream_call`] took for a call that was not made.
pub fn refund_upstream_call() {
    let _ = CURRENT.try_with(|scope| {
        let _ = scope.budget.used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| used.checked_sub(1));
    });
}

/// Spawns work done for the current request (a DataLoader batch): it keeps the
/// request's scope and stays inside its span.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let future = future.in_current_span();
    match CURRENT.try_with(Arc::clone) {
        Ok(scope) => tokio::spawn(run(scope, future)),
        Err(_) => tokio::spawn(future),
    }
}

/// Spawns one operation of the current request, allowed `upstream_calls`.
pub fn spawn_operation<F>(upstream_calls: u32, future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(run(Arc::new(Scope::operation(upstream_calls)), future.in_current_span()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Count(u32);

    #[tokio::test]
    async fn notes_reach_the_scope_that_keeps_them_on_spawned_tasks_too() {
        note::<Count>(|count| count.0 += 1);
        let scope = Arc::new(Scope::operation(10).keeping::<Count>());
        run(scope.clone(), async {
            note::<Count>(|count| count.0 += 1);
            note::<String>(|text| text.push('x'));
            spawn(async { note::<Count>(|count| count.0 += 1) }).await.unwrap();
        })
        .await;
        assert_eq!(scope.take::<Count>(), Some(Count(2)));
        assert_eq!(scope.take::<String>(), None, "not kept, so not noted");
    }

    #[tokio::test]
    async fn the_budget_refuses_the_call_past_it_on_every_task() {
        assert!(spend_upstream_call().is_ok(), "no operation, no budget");
        let scope = Arc::new(Scope::operation(3));
        let spent = run(scope.clone(), async {
            let mut results = vec![spend_upstream_call(), spend_upstream_call()];
            results.push(spawn(async { spend_upstream_call() }).await.unwrap());
            results.push(spend_upstream_call());
            results
        })
        .await;
        assert_eq!(spent, [Ok(()), Ok(()), Ok(()), Err(BudgetSpent { limit: 3 })]);
        assert_eq!(scope.upstream_calls(), 3);
    }
}
