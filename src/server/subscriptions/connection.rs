//! One WebSocket connection, from `connection_init` to its close: the client's
//! messages in, results out. Subscriptions join a shared execution; queries and
//! mutations run for this connection alone.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};

use super::protocol::{ClientMessage, OperationPayload, Protocol, close};
use super::shared::{Caller, Executions, Outbox, Started};
use super::socket::SharedSocket;
use super::stopped;
use crate::auth::{AccessPolicy, Supplied};
use crate::error_code::ErrorCode;
use crate::loaders::DataSources;
use crate::server::rate_limit::{self, RateLimits};
use crate::server::trusted::TrustedDocuments;
use crate::session::Session;

/// `graphql-transport-ws` closes a connection that stays silent this long after opening.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Operations one connection may run at once: each holds watchers and a place in the outbox.
pub const MAX_OPERATIONS: usize = 100;

/// What a connection needs from the gateway.
#[derive(Clone)]
pub struct Services {
    pub executions: Executions,
    pub sources: DataSources,
    pub access: Arc<AccessPolicy>,
    /// Each operation draws on the caller's buckets, as a request over HTTP does.
    pub rate_limits: Arc<RateLimits>,
    pub trusted: Option<Arc<TrustedDocuments>>,
    /// How often a quiet connection is pinged, and how long it may send nothing at all.
    pub ping_every: Duration,
    pub idle_after: Duration,
}

/// Whom a connection acts for, from its `connection_init` on.
struct Initialised {
    session: Session,
    caller: Caller,
}

/// How a conversation ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The socket broke or the client left without a close frame: nothing more to send.
    Gone,
    /// The client sent a close frame. The WebSocket layer queued its echo (the same
    /// code) when it read it; the echo must still be flushed, or the client sees the
    /// connection drop (1006) and graphql-ws waits before it reconnects.
    ClosedByClient,
    /// Close the connection with this code and reason.
    Close(u16, String),
}

impl Ending {
    fn close(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        // A close frame's reason holds at most 123 bytes.
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Self::Close(code, reason)
    }

    pub fn frame(self) -> Option<CloseFrame> {
        match self {
            Self::Gone | Self::ClosedByClient => None,
            Self::Close(code, reason) => Some(CloseFrame { code, reason: reason.into() }),
        }
    }
}

struct Operation {
    /// The connection's own number for it, which results name it by (its id is the socket's to know).
    serial: u64,
    _started: Started,
}

/// What woke a connection.
enum Step {
    Message(Option<Result<Message, axum::Error>>),
    Deliver,
    Heartbeat,
    Stop,
}

pub struct Connection {
    /// Shared with the executions that write results to it.
    socket: Arc<SharedSocket>,
    protocol: Protocol,
    services: Services,
    /// What the upgrade request's headers carried: credentials `connection_init` does
    /// not carry come from them. Copied out, since a header value shares the buffer
    /// hyper read the whole request into (16 KiB a connection, kept for its life).
    sent_with_upgrade: Supplied,
    /// Whose per-IP bucket the operations draw on.
    client: IpAddr,
    outbox: Arc<Outbox>,
    /// Running operations: results name theirs by serial, so a result for an operation
    /// the client completed (and whose id it may reuse) finds none.
    operations: Vec<Operation>,
    serials: u64,
}

impl Connection {
    pub fn new(
        socket: WebSocket,
        protocol: Protocol,
        services: Services,
        sent_with_upgrade: Supplied,
        client: IpAddr,
    ) -> Self {
        let socket = Arc::new(SharedSocket::new(socket, protocol));
        let outbox = Arc::new(Outbox::writing_to(socket.clone()));
        Self { socket, protocol, services, sent_with_upgrade, client, outbox, operations: Vec::new(), serials: 0 }
    }

    /// Talks until the client leaves, breaks the protocol, or `stopping` turns true.
    pub async fn serve(&mut self, mut stopping: tokio::sync::watch::Receiver<bool>) -> Ending {
        // Made once: every connection waits on the same channel, so a wait made per
        // step would take its lock once per delivered event.
        let stopped = stopped(&mut stopping);
        tokio::pin!(stopped);
        // The handshake and an operation's start are boxed: inline, their states would
        // be part of this future, which every connection holds for its whole life.
        let initialised = tokio::select! {
            initialised = Box::pin(self.handshake()) => initialised,
            () = &mut stopped => return stopping_now(),
        };
        let initialised = match initialised {
            Ok(initialised) => initialised,
            Err(ending) => return ending,
        };
        // A peer that vanished without a close (a laptop lid, a dropped route) sends
        // nothing, not even a pong: after `idle_after` its connection is closed.
        let mut heard = tokio::time::Instant::now();
        let heartbeat = tokio::time::sleep(self.services.ping_every);
        tokio::pin!(heartbeat);
        let outbox = self.outbox.clone();
        // True while the socket's last poll found nothing to read. Its waker is then
        // registered, and a wake-up it causes polls it again, so the first look after
        // a delivery may pass it by: polling a WebSocket that has nothing to read was a
        // tenth of the gateway's work in a 10,000-subscriber fan-out.
        let mut read_waiting = false;
        let ending = loop {
            let ready = outbox.ready();
            tokio::pin!(ready);
            let mut pass_socket_once = read_waiting;
            // Deliveries first: a subscriber's results never wait behind its own messages.
            let step = std::future::poll_fn(|cx| {
                if ready.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Step::Deliver);
                }
                if !std::mem::take(&mut pass_socket_once) {
                    match self.socket.poll_next(cx) {
                        Poll::Ready(message) => return Poll::Ready(Step::Message(message)),
                        Poll::Pending => read_waiting = true,
                    }
                }
                if heartbeat.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Step::Heartbeat);
                }
                stopped.as_mut().poll(cx).map(|()| Step::Stop)
            })
            .await;
            let step = match step {
                Step::Message(message) => {
                    read_waiting = false;
                    heard = tokio::time::Instant::now();
                    self.receive(message, &initialised).await
                }
                Step::Deliver => self.flush().await,
                Step::Heartbeat => {
                    heartbeat.as_mut().reset(tokio::time::Instant::now() + self.services.ping_every);
                    if heard.elapsed() >= self.services.idle_after {
                        let idle = self.services.idle_after.as_secs();
                        Err(Ending::close(close::GOING_AWAY, format!("no frame from the client in {idle} s")))
                    } else {
                        self.socket.send(Message::Ping(Default::default())).await.map_err(|_| Ending::Gone)
                    }
                }
                Step::Stop => Err(stopping_now()),
            };
            if let Err(ending) = step {
                break ending;
            }
        };
        // Leave every execution before the socket goes.
        self.operations.clear();
        ending
    }

    /// Waits for `connection_init`, answering pings meanwhile.
    async fn handshake(&mut self) -> Result<Initialised, Ending> {
        let deadline = tokio::time::Instant::now() + INIT_TIMEOUT;
        loop {
            let next = std::future::poll_fn(|cx| self.socket.poll_next(cx));
            let Ok(message) = tokio::time::timeout_at(deadline, next).await else {
                return Err(Ending::close(close::INIT_TIMEOUT, "Connection initialisation timeout"));
            };
            match self.read(message)? {
                None => continue,
                Some(ClientMessage::ConnectionInit { payload }) => {
                    let payload = payload.unwrap_or_default();
                    let supplied = Supplied::from_init_payload(&payload, self.sent_with_upgrade.clone());
                    let session = Session::resolve(&self.services.access, supplied, self.client);
                    let caller = Caller::new(&self.services.sources, &session);
                    self.send(Protocol::ACK.to_string()).await?;
                    return Ok(Initialised { session, caller });
                }
                Some(ClientMessage::Ping {}) => self.send(Protocol::PONG.to_string()).await?,
                Some(ClientMessage::Pong {}) => {}
                Some(ClientMessage::ConnectionTerminate) => return Err(Ending::Gone),
                Some(ClientMessage::Subscribe { .. } | ClientMessage::Complete { .. }) => {
                    return Err(Ending::close(close::UNAUTHORIZED, "Unauthorized"));
                }
            }
        }
    }

    /// The client's next protocol message; None for a frame that carries none.
    fn read(&self, message: Option<Result<Message, axum::Error>>) -> Result<Option<ClientMessage>, Ending> {
        let text = match message {
            None | Some(Err(_)) => return Err(Ending::Gone),
            Some(Ok(Message::Close(_))) => return Err(Ending::ClosedByClient),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                Ok(text) => text.into(),
                Err(_) => return Err(Ending::close(close::BAD_REQUEST, "messages are UTF-8 JSON")),
            },
            // The WebSocket layer answers pings itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Ok(None),
        };
        ClientMessage::parse(&text).map(Some).map_err(|reason| Ending::close(close::BAD_REQUEST, reason))
    }

    async fn receive(
        &mut self,
        message: Option<Result<Message, axum::Error>>,
        initialised: &Initialised,
    ) -> Result<(), Ending> {
        match self.read(message)? {
            None | Some(ClientMessage::Pong {}) => Ok(()),
            Some(ClientMessage::Ping {}) => self.send(Protocol::PONG.to_string()).await,
            Some(ClientMessage::ConnectionInit { .. }) => {
                Err(Ending::close(close::TOO_MANY_INITS, "Too many initialisation requests"))
            }
            Some(ClientMessage::ConnectionTerminate) => Err(Ending::Gone),
            Some(ClientMessage::Subscribe { id, payload }) => Box::pin(self.start(id, payload, initialised)).await,
            Some(ClientMessage::Complete { id }) => {
                if let Some(serial) = self.socket.serial_of(&id) {
                    self.end_operation(serial);
                    // The older protocol confirms a stop; the newer one expects silence.
                    if self.protocol == Protocol::Legacy {
                        self.send(Protocol::complete(&id)).await?;
                    }
                }
                Ok(())
            }
        }
    }

    async fn start(&mut self, id: String, payload: OperationPayload, initialised: &Initialised) -> Result<(), Ending> {
        if let Some(previous) = self.socket.serial_of(&id) {
            if self.protocol == Protocol::TransportWs {
                return Err(Ending::close(close::DUPLICATE_ID, format!("Subscriber for {id} already exists")));
            }
            // The older protocol restarts an operation whose id is reused.
            self.end_operation(previous);
        }
        if self.operations.len() >= MAX_OPERATIONS {
            let message = format!("at most {MAX_OPERATIONS} operations at once on one connection");
            return self.send(self.protocol.error(&id, &ErrorCode::TooManyOperations.error(message))).await;
        }
        if let Err(wait) = self.services.rate_limits.check(&initialised.session).await {
            return self.send(self.protocol.error(&id, &rate_limit::over_budget(wait).1)).await;
        }
        let mut payload = payload;
        if let Err(refused) = super::admit(self.services.trusted.as_deref(), &mut payload, &initialised.session) {
            return self.send(self.protocol.error(&id, &refused)).await;
        }
        self.serials += 1;
        let serial = self.serials;
        // Named before it starts: joining a running execution writes its latest results at once.
        self.socket.add_operation(serial, id.clone());
        match self.services.executions.start(payload, &initialised.caller, &self.outbox, serial) {
            Ok(started) => {
                self.operations.push(Operation { serial, _started: started });
                Ok(())
            }
            Err(refused) => {
                self.socket.remove_operation(serial);
                self.send(self.protocol.error(&id, &refused.into_error())).await
            }
        }
    }

    /// Stops an operation: dropping it leaves its execution.
    fn end_operation(&mut self, serial: u64) {
        self.socket.remove_operation(serial);
        if let Some(at) = self.operations.iter().position(|operation| operation.serial == serial) {
            self.operations.swap_remove(at);
        }
    }

    /// Sends everything queued (and anything an execution left unsent), then flushes once.
    async fn flush(&mut self) -> Result<(), Ending> {
        let completed = self.socket.deliver(&self.outbox).await.map_err(|_| Ending::Gone)?;
        for serial in completed {
            self.end_operation(serial);
        }
        Ok(())
    }

    /// The socket, for the close frame; None when it broke.
    pub fn into_socket(self) -> Option<WebSocket> {
        self.socket.take()
    }

    async fn send(&mut self, text: String) -> Result<(), Ending> {
        self.socket.send(Message::Text(text.into())).await.map_err(|_| Ending::Gone)
    }
}

fn stopping_now() -> Ending {
    Ending::close(axum::extract::ws::close_code::AWAY, "pixgate is stopping")
}
