//! Operations for the transports that stream results (WebSocket, SSE): one
//! execution per subscription, however many subscribe to it; queries and
//! mutations run for their caller alone.
//!
//! Subscribers who send the same operation with the same variables and act as
//! the same tenant would each receive the same results, so the gateway runs it
//! once: each result is resolved and serialised once and handed, as shared
//! bytes, to every subscriber's outbox; only the protocol's envelope is written
//! per subscriber. Someone who joins a running execution first gets the latest
//! result for each image, as a subscription of their own would have started with
//! each image's current state. Tenants never share: the key holds whom the
//! subscriber acts as. A subscription whose images depend on when it started (a
//! product's, listed at the start) takes in no one once it has listed them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::protocol::OperationPayload;
use crate::error_code::ErrorCode;
use crate::graphql::{EventSubjects, PixgateSchema};
use crate::loaders::{DataSources, Loaders};
use crate::lock::locked;
use crate::scope;
use crate::session::Session;
use crate::telemetry::metrics::ActiveSubscription;

/// What one operation of a connection has to send next.
#[derive(Debug)]
pub struct Delivery {
    /// The connection's own number for the operation: a result for an operation the
    /// client has since completed (and whose id it may reuse) is recognised and dropped.
    pub operation: u64,
    /// The image the result is about, when it is about one.
    pub subject: Option<Arc<str>>,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    /// A serialised GraphQL response.
    Next(Bytes),
    Complete,
}

/// A connection's queue of results to send. A subscriber that reads slowly never
/// holds anyone back and never grows it without bound: a newer result about an
/// image replaces an unsent older one about the same image.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Mutex<VecDeque<Delivery>>,
    ready: Notify,
}

impl Outbox {
    pub fn push(&self, delivery: Delivery) {
        {
            let mut queue = locked(&self.queue);
            let stale = delivery.subject.as_ref().and_then(|subject| {
                queue.iter_mut().find(|queued| {
                    queued.operation == delivery.operation
                        && queued.subject.as_ref() == Some(subject)
                        && matches!(queued.body, Body::Next(_))
                })
            });
            match stale {
                Some(stale) => *stale = delivery,
                None => queue.push_back(delivery),
            }
        }
        // One reader per outbox: a stored permit means a push is never missed.
        self.ready.notify_one();
    }

    pub fn pop(&self) -> Option<Delivery> {
        locked(&self.queue).pop_front()
    }

    /// Resolves once something was pushed since the last wait.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }
}

/// Whom an operation acts for.
pub struct Caller {
    pub loaders: Arc<Loaders>,
    /// Whom the caller acts as: subscribers share executions only with the same identity.
    pub identity: String,
}

impl Caller {
    pub fn new(sources: &DataSources, session: &Session) -> Self {
        Self { loaders: Arc::new(Loaders::new(sources, session)), identity: session.identity() }
    }
}

/// An operation under way for one caller; dropping it stops it for them.
pub enum Started {
    Shared { _membership: Membership },
    Alone { _task: AbortOnDrop },
}

pub struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Operations for the transports that stream results: subscriptions run once for
/// everyone alike, queries and mutations for their caller alone.
#[derive(Clone)]
pub struct Executions {
    schema: PixgateSchema,
    /// Upstream calls one query or mutation may make; subscriptions resolve their events from memory.
    upstream_calls: u32,
    /// The joinable execution under each key.
    running: Arc<Mutex<HashMap<String, Arc<Execution>>>>,
    /// Executions not ended, joinable or not.
    live: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Executions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executions").field("running", &locked(&self.running).len()).finish()
    }
}

struct Execution {
    key: String,
    subjects: Arc<EventSubjects>,
    state: Mutex<ExecutionState>,
}

#[derive(Default)]
struct ExecutionState {
    /// Each image's latest result, in the order the images first appeared, then any
    /// result about no image (an error): what a subscriber joining now starts with.
    latest: Vec<(Option<Arc<str>>, Bytes)>,
    members: HashMap<u64, Member>,
    /// Finished, or abandoned by its last member: no longer joinable.
    ended: bool,
    task: Option<AbortHandle>,
}

struct Member {
    outbox: Arc<Outbox>,
    operation: u64,
}

static MEMBERS: AtomicU64 = AtomicU64::new(0);

/// A subscriber's place in an execution; leaving is dropping it.
pub struct Membership {
    executions: Executions,
    execution: Arc<Execution>,
    member: u64,
    _active: ActiveSubscription,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.executions.leave(&self.execution, self.member);
    }
}

impl Executions {
    pub fn new(schema: PixgateSchema, upstream_calls: u32) -> Self {
        Self { schema, upstream_calls, running: Arc::default(), live: Arc::default() }
    }

    /// Starts `payload` for `caller`; its results go to `outbox` under `operation`,
    /// followed by `complete`.
    pub fn start(&self, payload: OperationPayload, caller: &Caller, outbox: &Arc<Outbox>, operation: u64) -> Started {
        let loaders = caller.loaders.clone();
        // Everything that can change a result: whom it acts for, the operation and its variables.
        let key = format!("{}\n{}", caller.identity, payload.canonical());
        // Only subscriptions run under a key: a running one spares parsing the document again.
        if locked(&self.running).contains_key(&key) || payload.is_subscription() {
            let request = move |subjects| payload.into_request().data(loaders).data(subjects);
            return Started::Shared { _membership: self.join(key, request, outbox, operation) };
        }
        let mut results = self.schema.execute_stream(payload.into_request().data(loaders));
        let outbox = outbox.clone();
        let task = scope::spawn_operation(self.upstream_calls, async move {
            while let Some(result) = results.next().await {
                let body = Body::Next(serialise(&result));
                outbox.push(Delivery { operation, subject: None, body });
            }
            outbox.push(Delivery { operation, subject: None, body: Body::Complete });
        });
        Started::Alone { _task: AbortOnDrop(task.abort_handle()) }
    }

    /// Subscribes `operation` of a connection to the execution `key` names,
    /// starting it with `request` when none runs.
    fn join(
        &self,
        key: String,
        request: impl FnOnce(Arc<EventSubjects>) -> async_graphql::Request,
        outbox: &Arc<Outbox>,
        operation: u64,
    ) -> Membership {
        let member = MEMBERS.fetch_add(1, Ordering::Relaxed);
        let joined = Member { outbox: outbox.clone(), operation };
        let mut running = locked(&self.running);
        // One that stopped being joinable stays in the map until it ends; a
        // latecomer replaces it there with an execution of its own.
        let execution = match running.get(&key).filter(|execution| execution.subjects.joinable()) {
            Some(execution) => {
                let mut state = locked(&execution.state);
                for (subject, result) in &state.latest {
                    outbox.push(Delivery { operation, subject: subject.clone(), body: Body::Next(result.clone()) });
                }
                state.members.insert(member, joined);
                execution.clone()
            }
            None => {
                let subjects = Arc::new(EventSubjects::default());
                let results = self.schema.execute_stream(request(subjects.clone()));
                let execution = Arc::new(Execution { key: key.clone(), subjects, state: Mutex::default() });
                // A member before the first result: the task waits for this lock.
                let mut state = locked(&execution.state);
                state.members.insert(member, joined);
                let task = scope::spawn(self.clone().run(execution.clone(), results));
                state.task = Some(task.abort_handle());
                self.live.fetch_add(1, Ordering::Relaxed);
                drop(state);
                running.insert(key, execution.clone());
                execution
            }
        };
        Membership { executions: self.clone(), execution, member, _active: ActiveSubscription::start() }
    }

    async fn run(self, execution: Arc<Execution>, mut results: BoxStream<'static, Response>) {
        // Ends the execution however the task stops: its results run out, it is
        // aborted, or a resolver panics (members still get `complete`, and no one
        // joins a dead execution).
        let _finish = Finish { executions: self, execution: execution.clone() };
        while let Some(result) = results.next().await {
            let subject = execution.subjects.take();
            let serialised = serialise(&result);
            let mut state = locked(&execution.state);
            match state.latest.iter_mut().find(|(about, _)| subject.is_some() && *about == subject) {
                Some(latest) => latest.1 = serialised.clone(),
                None => state.latest.push((subject.clone(), serialised.clone())),
            }
            for member in state.members.values() {
                member.outbox.push(Delivery {
                    operation: member.operation,
                    subject: subject.clone(),
                    body: Body::Next(serialised.clone()),
                });
            }
        }
    }

    fn leave(&self, execution: &Arc<Execution>, member: u64) {
        {
            let mut state = locked(&execution.state);
            state.members.remove(&member);
            if !state.members.is_empty() || state.ended {
                return;
            }
        }
        // The last one out stops the execution (and with it the watching and the
        // polling), unless someone joined in between.
        let mut running = locked(&self.running);
        let mut state = locked(&execution.state);
        if state.members.is_empty() && self.end(&mut state) {
            if let Some(task) = state.task.take() {
                task.abort();
            }
            if running.get(&execution.key).is_some_and(|current| Arc::ptr_eq(current, execution)) {
                running.remove(&execution.key);
            }
        }
    }

    fn finish(&self, execution: &Arc<Execution>) {
        let mut running = locked(&self.running);
        if running.get(&execution.key).is_some_and(|current| Arc::ptr_eq(current, execution)) {
            running.remove(&execution.key);
        }
        let mut state = locked(&execution.state);
        // Its last member may have left (and aborted it) while it was finishing.
        if !self.end(&mut state) {
            return;
        }
        for member in state.members.values() {
            member.outbox.push(Delivery { operation: member.operation, subject: None, body: Body::Complete });
        }
    }

    /// Marks an execution ended; false when it already was.
    fn end(&self, state: &mut ExecutionState) -> bool {
        if state.ended {
            return false;
        }
        state.ended = true;
        self.live.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Executions running now.
    pub fn running(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }
}

struct Finish {
    executions: Executions,
    execution: Arc<Execution>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.executions.finish(&self.execution);
    }
}

fn serialise(result: &Response) -> Bytes {
    Bytes::from(serde_json::to_vec(result).unwrap_or_else(|_| unserialisable()))
}

/// Serialising a value async-graphql built cannot fail; should it ever, the subscriber hears so, typed.
fn unserialisable() -> Vec<u8> {
    let error = ErrorCode::InternalServerError.error("the result could not be serialised");
    serde_json::to_vec(&serde_json::json!({ "data": null, "errors": [error] })).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(operation: u64, subject: Option<&str>, body: &'static [u8]) -> Delivery {
        Delivery { operation, subject: subject.map(Into::into), body: Body::Next(Bytes::from_static(body)) }
    }

    fn drain(outbox: &Outbox) -> Vec<(u64, Option<String>, String)> {
        std::iter::from_fn(|| outbox.pop())
            .map(|d| {
                let body = match d.body {
                    Body::Next(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                    Body::Complete => "complete".into(),
                };
                (d.operation, d.subject.map(|s| s.to_string()), body)
            })
            .collect()
    }

    #[test]
    fn a_slow_reader_skips_to_each_images_latest_result() {
        let outbox = Outbox::default();
        outbox.push(next(1, Some("a"), b"a1"));
        outbox.push(next(1, Some("b"), b"b1"));
        outbox.push(next(1, Some("a"), b"a2"));
        outbox.push(next(2, Some("a"), b"other operation"));
        outbox.push(next(1, None, b"error"));
        outbox.push(next(1, None, b"another error"));
        outbox.push(Delivery { operation: 1, subject: None, body: Body::Complete });
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            drain(&outbox),
            [
                (1, some("a"), "a2".into()),
                (1, some("b"), "b1".into()),
                (2, some("a"), "other operation".into()),
                (1, None, "error".into()),
                (1, None, "another error".into()),
                (1, None, "complete".into()),
            ]
        );
    }
}
