//! Operations for the transports that stream results (WebSocket, SSE): one
//! execution per subscription or live query, however many ask for it; queries
//! and mutations run for their caller alone.
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
//! A live query (`live.rs`) is shared the same way; each of its results replaces
//! the last, so a joiner starts with the latest, and a tenant may keep only so
//! many distinct ones running, a connection only so many open.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::{Response, ServerError};
use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::live::{LiveQuery, LiveServices};
use super::protocol::OperationPayload;
use crate::error_code::ErrorCode;
use crate::graphql::live::Streaming;
use crate::graphql::{EventSubjects, PixgateSchema};
use crate::loaders::{DataSources, Loaders};
use crate::lock::locked;
use crate::scope;
use crate::session::Session;
use crate::telemetry::metrics::{
    ACTIVE_SUBSCRIPTIONS, Held, LIVE_QUERIES_OPEN, LIVE_QUERIES_REFUSED, LIVE_QUERIES_RUNNING,
};

/// What one operation of a connection has to send next.
#[derive(Debug)]
pub struct Delivery {
    /// The connection's own number for the operation: a result for an operation the
    /// client has since completed (and whose id it may reuse) is recognised and dropped.
    pub operation: u64,
    /// What the result is about (an image, or a live query's whole answer): a newer
    /// result about the same replaces one not yet sent.
    pub subject: Option<Arc<str>>,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    /// A serialised GraphQL response.
    Next(Bytes),
    Complete,
}

/// A transport a result can be written to at once, by whichever task produced it.
pub trait WriteNow: Send + Sync + std::fmt::Debug {
    /// Writes `result` for `operation` if that needs no waiting.
    fn write_now(&self, operation: u64, result: &Bytes) -> Written;
}

pub enum Written {
    Done,
    /// Handed over but not all out yet: the connection's task must finish it.
    Flush,
    /// Not written: queue it.
    Queue,
}

/// A connection's queue of results to send. A subscriber that reads slowly never
/// holds anyone back and never grows it without bound: a newer result about an
/// image replaces an unsent older one about the same image.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Mutex<VecDeque<Delivery>>,
    ready: Notify,
    /// Live queries open on the connection this outbox serves.
    live: AtomicUsize,
    /// Where a result may be written without the queue (`socket.rs`), while the queue is empty.
    writer: Option<Arc<dyn WriteNow>>,
}

impl Outbox {
    pub fn writing_to(writer: Arc<dyn WriteNow>) -> Self {
        Self { writer: Some(writer), ..Self::default() }
    }

    pub fn push(&self, delivery: Delivery) {
        {
            let mut queue = locked(&self.queue);
            // Held while writing, so that nothing queued after this can be written before it.
            if let (true, Some(writer), Body::Next(result)) = (queue.is_empty(), &self.writer, &delivery.body) {
                match writer.write_now(delivery.operation, result) {
                    Written::Done => return,
                    Written::Flush => {
                        drop(queue);
                        self.ready.notify_one();
                        return;
                    }
                    Written::Queue => {}
                }
            }
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

    /// A place for one more live query on this connection, while fewer than `limit` are open.
    fn open_live(self: &Arc<Self>, limit: usize) -> Option<LiveSlot> {
        self.live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < limit).then_some(open + 1)).ok()?;
        Some(LiveSlot { outbox: self.clone(), _counted: Held::start(LIVE_QUERIES_OPEN) })
    }
}

/// One live query open on a connection; closing it is dropping this.
struct LiveSlot {
    outbox: Arc<Outbox>,
    _counted: Held,
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        self.outbox.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whom an operation acts for.
pub struct Caller {
    pub loaders: Arc<Loaders>,
    pub session: Session,
    /// Whom the caller acts as: subscribers share executions only with the same identity.
    pub identity: String,
}

impl Caller {
    pub fn new(sources: &DataSources, session: &Session) -> Self {
        Self {
            loaders: Arc::new(Loaders::new(sources, session)),
            session: session.clone(),
            identity: session.identity(),
        }
    }
}

/// An operation refused before it ran.
#[derive(Debug)]
pub enum Refused {
    /// Its arguments are wrong (a `throttle` out of bounds).
    Invalid(ServerError),
    /// It would take the caller past a limit on what it may keep running.
    OverLimit(ServerError),
}

impl Refused {
    /// The status a transport that answers over HTTP refuses it with.
    pub fn status(&self) -> StatusCode {
        match self {
            Refused::Invalid(_) => StatusCode::BAD_REQUEST,
            Refused::OverLimit(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn into_error(self) -> ServerError {
        match self {
            Refused::Invalid(error) | Refused::OverLimit(error) => error,
        }
    }

    fn over_limit(limit: &'static str, message: String) -> Self {
        metrics::counter!(LIVE_QUERIES_REFUSED, "limit" => limit).increment(1);
        Refused::OverLimit(ErrorCode::TooManyOperations.error(message))
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

/// Operations for the transports that stream results: subscriptions and live
/// queries run once for everyone alike, queries and mutations for their caller alone.
#[derive(Clone)]
pub struct Executions {
    schema: PixgateSchema,
    /// Upstream calls one query or mutation (or one run of a live query) may make;
    /// subscriptions resolve their events from memory.
    upstream_calls: u32,
    /// Shared, so each subscriber's handle on its execution stays small.
    live_queries: Arc<LiveServices>,
    running: Arc<Mutex<Running>>,
    /// Executions not ended, joinable or not.
    ongoing: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Running {
    /// The joinable execution under each key.
    by_key: HashMap<String, Arc<Execution>>,
    /// Distinct live queries running for each identity.
    live_by_identity: HashMap<String, usize>,
}

impl std::fmt::Debug for Executions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executions").field("running", &locked(&self.running).by_key.len()).finish()
    }
}

struct Execution {
    key: String,
    subjects: Arc<EventSubjects>,
    /// Set for a live query: whom it counts against, and the one subject of all its results.
    live: Option<LiveExecution>,
    state: Mutex<ExecutionState>,
}

struct LiveExecution {
    identity: String,
    subject: Arc<str>,
    _counted: Held,
}

impl Execution {
    /// What the result just produced is about.
    fn subject(&self) -> Option<Arc<str>> {
        match &self.live {
            Some(live) => Some(live.subject.clone()),
            None => self.subjects.take(),
        }
    }
}

/// How to begin an execution nobody runs yet.
enum Begin {
    Events(Box<dyn FnOnce(Arc<EventSubjects>) -> BoxStream<'static, Bytes> + Send>),
    Live { identity: String, results: BoxStream<'static, Bytes> },
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
    _counted: Counted,
}

/// Where a member is counted: among subscribers, or among live queries (and its connection's).
enum Counted {
    Subscription { _active: Held },
    LiveQuery { _slot: LiveSlot },
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.executions.leave(&self.execution, self.member);
    }
}

impl Executions {
    pub fn new(schema: PixgateSchema, upstream_calls: u32, live_queries: LiveServices) -> Self {
        let live_queries = Arc::new(live_queries);
        Self { schema, upstream_calls, live_queries, running: Arc::default(), ongoing: Arc::default() }
    }

    /// Starts `payload` for `caller`; its results go to `outbox` under `operation`,
    /// followed by `complete` (a live query's never come to one).
    pub fn start(
        &self,
        payload: OperationPayload,
        caller: &Caller,
        outbox: &Arc<Outbox>,
        operation: u64,
    ) -> Result<Started, Refused> {
        // Everything that can change a result: whom it acts for, the operation and its variables.
        let key = format!("{}\n{}", caller.identity, payload.canonical());
        // Only subscriptions and live queries run under a key: a running one spares parsing the document again.
        if let Some(joined) = self.join_running(&key, outbox, operation) {
            return joined.map(|membership| Started::Shared { _membership: membership });
        }
        let streaming = Streaming::of(&payload.query, payload.operation_name.as_deref(), payload.variables.as_ref())
            .map_err(Refused::Invalid)?;
        let begin = match streaming {
            Streaming::Once => return Ok(self.alone(payload, caller, outbox, operation)),
            Streaming::Subscription => {
                let (schema, loaders) = (self.schema.clone(), caller.loaders.clone());
                Begin::Events(Box::new(move |subjects| {
                    let request = payload.into_request().data(loaders).data(subjects);
                    schema.execute_stream(request).map(|result| serialise(&result)).boxed()
                }))
            }
            Streaming::Live { throttle } => {
                let live = LiveQuery {
                    schema: self.schema.clone(),
                    payload,
                    loaders: caller.loaders.clone(),
                    session: caller.session.clone(),
                    upstream_calls: self.upstream_calls,
                    throttle,
                };
                Begin::Live { identity: caller.identity.clone(), results: live.results(&self.live_queries) }
            }
        };
        self.join(key, begin, outbox, operation).map(|membership| Started::Shared { _membership: membership })
    }

    /// A query or mutation, run for its caller alone.
    fn alone(&self, payload: OperationPayload, caller: &Caller, outbox: &Arc<Outbox>, operation: u64) -> Started {
        let mut results = self.schema.execute_stream(payload.into_request().data(caller.loaders.clone()));
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

    /// Joins the execution running under `key`, if one does and takes newcomers.
    fn join_running(&self, key: &str, outbox: &Arc<Outbox>, operation: u64) -> Option<Result<Membership, Refused>> {
        let running = locked(&self.running);
        let execution = running.by_key.get(key).filter(|execution| execution.subjects.joinable())?;
        Some(self.enter(execution, outbox, operation))
    }

    /// Subscribes `operation` of a connection to the execution `key` names,
    /// beginning it as `begin` says when none runs.
    fn join(&self, key: String, begin: Begin, outbox: &Arc<Outbox>, operation: u64) -> Result<Membership, Refused> {
        let mut running = locked(&self.running);
        // One that stopped being joinable stays in the map until it ends; a
        // latecomer replaces it there with an execution of its own.
        if let Some(execution) = running.by_key.get(&key).filter(|execution| execution.subjects.joinable()) {
            return self.enter(execution, outbox, operation);
        }
        let subjects = Arc::new(EventSubjects::default());
        let (results, live) = match begin {
            Begin::Events(results) => (results(subjects.clone()), None),
            Begin::Live { identity, results } => {
                let limits = self.live_queries.limits;
                let keeping = running.live_by_identity.get(&identity).copied().unwrap_or(0);
                if keeping >= limits.per_tenant {
                    let message = format!(
                        "at most {} different live queries at once for one tenant (PIXGATE_LIVE_QUERIES_PER_TENANT): \
                         identical ones share one and count once",
                        limits.per_tenant
                    );
                    return Err(Refused::over_limit("tenant", message));
                }
                let subject = Arc::from("");
                (results, Some(LiveExecution { identity, subject, _counted: Held::start(LIVE_QUERIES_RUNNING) }))
            }
        };
        let execution = Arc::new(Execution { key: key.clone(), subjects, live, state: Mutex::default() });
        let membership = self.enter(&execution, outbox, operation)?;
        if let Some(live) = &execution.live {
            *running.live_by_identity.entry(live.identity.clone()).or_default() += 1;
        }
        // A member before the first result: the task waits for this lock.
        let mut state = locked(&execution.state);
        let task = scope::spawn(self.clone().run(execution.clone(), results));
        state.task = Some(task.abort_handle());
        self.ongoing.fetch_add(1, Ordering::Relaxed);
        drop(state);
        running.by_key.insert(key, execution);
        Ok(membership)
    }

    /// Adds a member to `execution`, which starts them on its latest results.
    fn enter(&self, execution: &Arc<Execution>, outbox: &Arc<Outbox>, operation: u64) -> Result<Membership, Refused> {
        let counted = match &execution.live {
            None => Counted::Subscription { _active: Held::start(ACTIVE_SUBSCRIPTIONS) },
            Some(_) => {
                let limit = self.live_queries.limits.per_connection;
                let Some(slot) = outbox.open_live(limit) else {
                    let message = format!(
                        "at most {limit} live queries at once on one connection (PIXGATE_LIVE_QUERIES_PER_CONNECTION)"
                    );
                    return Err(Refused::over_limit("connection", message));
                };
                Counted::LiveQuery { _slot: slot }
            }
        };
        let member = MEMBERS.fetch_add(1, Ordering::Relaxed);
        let mut state = locked(&execution.state);
        for (subject, result) in &state.latest {
            outbox.push(Delivery { operation, subject: subject.clone(), body: Body::Next(result.clone()) });
        }
        state.members.insert(member, Member { outbox: outbox.clone(), operation });
        Ok(Membership { executions: self.clone(), execution: execution.clone(), member, _counted: counted })
    }

    async fn run(self, execution: Arc<Execution>, mut results: BoxStream<'static, Bytes>) {
        // Ends the execution however the task stops: its results run out, it is
        // aborted, or a resolver panics (members still get `complete`, and no one
        // joins a dead execution).
        let _finish = Finish { executions: self, execution: execution.clone() };
        while let Some(serialised) = results.next().await {
            let subject = execution.subject();
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
        if state.members.is_empty() && self.end(&mut running, execution, &mut state) {
            if let Some(task) = state.task.take() {
                task.abort();
            }
            if running.by_key.get(&execution.key).is_some_and(|current| Arc::ptr_eq(current, execution)) {
                running.by_key.remove(&execution.key);
            }
        }
    }

    fn finish(&self, execution: &Arc<Execution>) {
        let mut running = locked(&self.running);
        if running.by_key.get(&execution.key).is_some_and(|current| Arc::ptr_eq(current, execution)) {
            running.by_key.remove(&execution.key);
        }
        let mut state = locked(&execution.state);
        // Its last member may have left (and aborted it) while it was finishing.
        if !self.end(&mut running, execution, &mut state) {
            return;
        }
        for member in state.members.values() {
            member.outbox.push(Delivery { operation: member.operation, subject: None, body: Body::Complete });
        }
    }

    /// Marks an execution ended; false when it already was.
    fn end(&self, running: &mut Running, execution: &Execution, state: &mut ExecutionState) -> bool {
        if state.ended {
            return false;
        }
        state.ended = true;
        self.ongoing.fetch_sub(1, Ordering::Relaxed);
        if let Some(live) = &execution.live
            && let Some(keeping) = running.live_by_identity.get_mut(&live.identity)
        {
            *keeping -= 1;
            if *keeping == 0 {
                running.live_by_identity.remove(&live.identity);
            }
        }
        true
    }

    /// Executions running now.
    pub fn running(&self) -> usize {
        self.ongoing.load(Ordering::Relaxed)
    }

    /// Runs of live queries this instance made: each serves everyone who asked the same.
    pub fn live_query_runs(&self) -> u64 {
        self.live_queries.runs()
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

pub(super) fn serialise(result: &Response) -> Bytes {
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
