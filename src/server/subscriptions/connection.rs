//! One WebSocket connection, from `connection_init` to its close: the client's
//! messages in, results out. Subscriptions join a shared execution; queries and
//! mutations run for this connection alone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};

use super::protocol::{ClientMessage, OperationPayload, Protocol, close};
use super::shared::{Body, Caller, Executions, Outbox, Started};
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
    /// The client's id for it.
    id: String,
    _started: Started,
}

pub struct Connection {
    socket: WebSocket,
    protocol: Protocol,
    services: Services,
    /// What the upgrade request's headers carried: credentials `connection_init` does
    /// not carry come from them. Copied out, since a header value shares the buffer
    /// hyper read the whole request into (16 KiB a connection, kept for its life).
    sent_with_upgrade: Supplied,
    /// Whose per-IP bucket the operations draw on.
    client: IpAddr,
    outbox: Arc<Outbox>,
    /// Running operations by serial: results name their operation by it, so a result
    /// for an operation the client completed (and whose id it may reuse) finds none.
    operations: HashMap<u64, Operation>,
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
        let (outbox, operations) = (Arc::default(), HashMap::new());
        Self { socket, protocol, services, sent_with_upgrade, client, outbox, operations, serials: 0 }
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
        let ending = loop {
            let step = tokio::select! {
                message = self.socket.next() => {
                    heard = tokio::time::Instant::now();
                    self.receive(message, &initialised).await
                }
                () = self.outbox.ready() => self.flush().await,
                () = &mut heartbeat => {
                    heartbeat.as_mut().reset(tokio::time::Instant::now() + self.services.ping_every);
                    if heard.elapsed() >= self.services.idle_after {
                        let idle = self.services.idle_after.as_secs();
                        Err(Ending::close(close::GOING_AWAY, format!("no frame from the client in {idle} s")))
                    } else {
                        self.socket.send(Message::Ping(Default::default())).await.map_err(|_| Ending::Gone)
                    }
                }
                () = &mut stopped => Err(stopping_now()),
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
            let Ok(message) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
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
                if let Some(serial) = self.serial_of(&id) {
                    self.operations.remove(&serial);
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
        if let Some(previous) = self.serial_of(&id) {
            if self.protocol == Protocol::TransportWs {
                return Err(Ending::close(close::DUPLICATE_ID, format!("Subscriber for {id} already exists")));
            }
            // The older protocol restarts an operation whose id is reused.
            self.operations.remove(&previous);
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
        match self.services.executions.start(payload, &initialised.caller, &self.outbox, serial) {
            Ok(started) => {
                self.operations.insert(serial, Operation { id, _started: started });
                Ok(())
            }
            Err(refused) => self.send(self.protocol.error(&id, &refused.into_error())).await,
        }
    }

    /// The running operation the client calls `id`; client messages are few, so a scan does.
    fn serial_of(&self, id: &str) -> Option<u64> {
        self.operations.iter().find(|(_, operation)| operation.id == id).map(|(serial, _)| *serial)
    }

    /// Sends everything queued, then flushes once.
    async fn flush(&mut self) -> Result<(), Ending> {
        while let Some(delivery) = self.outbox.pop() {
            // Absent: the client completed the operation after this result was queued.
            let Some(operation) = self.operations.get(&delivery.operation) else { continue };
            let text = match delivery.body {
                Body::Next(result) => self.protocol.next(&operation.id, &result),
                Body::Complete => {
                    let text = Protocol::complete(&operation.id);
                    self.operations.remove(&delivery.operation);
                    text
                }
            };
            self.socket.feed(Message::Text(text.into())).await.map_err(|_| Ending::Gone)?;
        }
        self.socket.flush().await.map_err(|_| Ending::Gone)
    }

    pub fn into_socket(self) -> WebSocket {
        self.socket
    }

    async fn send(&mut self, text: String) -> Result<(), Ending> {
        self.socket.send(Message::Text(text.into())).await.map_err(|_| Ending::Gone)
    }
}

fn stopping_now() -> Ending {
    Ending::close(axum::extract::ws::close_code::AWAY, "pixgate is stopping")
}
