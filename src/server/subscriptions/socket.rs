//! A WebSocket shared by its connection's task and the executions that deliver to it.
//!
//! A result used to reach a subscriber through its outbox: queued, its connection's task
//! woken and scheduled, the socket written from there. At 10,000 subscribers those
//! wake-ups and turns were a fifth of the gateway's CPU in a fan-out. So an execution
//! writes a result straight to the socket when it can without waiting: nothing queued
//! before it, no one else using the socket this instant, and the socket taking the frame.
//! Otherwise it queues the result as before, and the connection's task, which can wait,
//! writes it.
//!
//! Order is kept by one rule: a result is written directly only while the outbox is empty
//! and nothing written before it is still unsent; the connection's task writes queued
//! results while it holds the socket, so nothing is written between its taking a result
//! and writing it.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker, ready};

use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use futures_util::{Sink, Stream};

use super::protocol::Protocol;
use super::shared::{Body, Outbox, WriteNow, Written};
use crate::lock::{locked, try_locked};

#[derive(Debug)]
pub struct SharedSocket {
    protocol: Protocol,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Taken when the conversation ends, for its close frame.
    socket: Option<WebSocket>,
    /// The running operations' ids, by the serial results name them by.
    ids: Vec<(u64, String)>,
    /// The socket may not take a frame now: a writer that could not wait left one not all
    /// out, or the connection's task is waiting for the socket to drain. Only the
    /// connection's task, whose waker the socket holds, writes until it is clear again.
    congested: bool,
}

/// A socket that broke.
#[derive(Debug)]
pub struct Broken;

impl SharedSocket {
    pub fn new(socket: WebSocket, protocol: Protocol) -> Self {
        Self { protocol, state: Mutex::new(State { socket: Some(socket), ids: Vec::new(), congested: false }) }
    }

    pub fn add_operation(&self, serial: u64, id: String) {
        locked(&self.state).ids.push((serial, id));
    }

    pub fn remove_operation(&self, serial: u64) {
        let mut state = locked(&self.state);
        if let Some(at) = state.ids.iter().position(|(running, _)| *running == serial) {
            state.ids.swap_remove(at);
        }
    }

    /// The running operation the client calls `id`.
    pub fn serial_of(&self, id: &str) -> Option<u64> {
        locked(&self.state).ids.iter().find(|(_, running)| running == id).map(|(serial, _)| *serial)
    }

    /// The client's next message.
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, axum::Error>>> {
        match locked(&self.state).socket.as_mut() {
            Some(socket) => Pin::new(socket).poll_next(cx),
            None => Poll::Ready(None),
        }
    }

    /// Sends `message` and waits until it is out.
    pub async fn send(&self, message: Message) -> Result<(), Broken> {
        let mut message = Some(message);
        std::future::poll_fn(|cx| {
            self.poll_writing(|mut socket, _| {
                if message.is_some() {
                    // Whatever an execution left unsent goes out first.
                    ready!(socket.as_mut().poll_ready(cx)).map_err(|_| Broken)?;
                    if let Some(message) = message.take() {
                        socket.as_mut().start_send(message).map_err(|_| Broken)?;
                    }
                }
                socket.as_mut().poll_flush(cx).map_err(|_| Broken)
            })
        })
        .await
    }

    /// Writes what `outbox` holds, then waits until it is out. `next` frames are built
    /// here, under each result's operation id; a result for an operation no longer
    /// running is dropped, and `complete` ends its operation: the serials it ended are
    /// returned.
    pub async fn deliver(&self, outbox: &Outbox) -> Result<Vec<u64>, Broken> {
        let mut completed = Vec::new();
        std::future::poll_fn(|cx| {
            self.poll_writing(|mut socket, ids| {
                loop {
                    ready!(socket.as_mut().poll_ready(cx)).map_err(|_| Broken)?;
                    let Some(delivery) = outbox.pop() else { break };
                    let Some(at) = ids.iter().position(|(serial, _)| *serial == delivery.operation) else {
                        continue;
                    };
                    let text = match delivery.body {
                        Body::Next(result) => self.protocol.next(&ids[at].1, &result),
                        Body::Complete => {
                            completed.push(delivery.operation);
                            Protocol::complete(&ids.swap_remove(at).1)
                        }
                    };
                    socket.as_mut().start_send(Message::Text(text.into())).map_err(|_| Broken)?;
                }
                socket.as_mut().poll_flush(cx).map_err(|_| Broken)
            })
        })
        .await?;
        Ok(completed)
    }

    /// One poll of the connection's task writing, with the socket and the operations' ids.
    /// Until a poll finishes the write, the socket counts as congested: should it wait,
    /// an execution writing meanwhile would leave its own waker, which wakes nobody, in
    /// this task's place.
    fn poll_writing(
        &self,
        write: impl FnOnce(Pin<&mut WebSocket>, &mut Vec<(u64, String)>) -> Poll<Result<(), Broken>>,
    ) -> Poll<Result<(), Broken>> {
        let mut state = locked(&self.state);
        let state = &mut *state;
        let Some(socket) = state.socket.as_mut() else { return Poll::Ready(Err(Broken)) };
        state.congested = true;
        let written = write(Pin::new(socket), &mut state.ids);
        if let Poll::Ready(Ok(())) = written {
            state.congested = false;
        }
        written
    }

    /// The socket, for the conversation's last frame; no one writes to it after this.
    pub fn take(&self) -> Option<WebSocket> {
        locked(&self.state).socket.take()
    }
}

impl WriteNow for SharedSocket {
    fn write_now(&self, operation: u64, result: &Bytes) -> Written {
        // Someone is using the socket this instant (its task reading, or another execution
        // writing): waiting here would hold up every other subscriber of this execution.
        let Some(mut state) = try_locked(&self.state) else { return Written::Queue };
        let state = &mut *state;
        if state.congested {
            return Written::Queue;
        }
        let Some((_, id)) = state.ids.iter().find(|(serial, _)| *serial == operation) else {
            // Completed by the client since: as the queue would, drop it.
            return Written::Done;
        };
        let Some(socket) = state.socket.as_mut() else { return Written::Queue };
        let mut socket = Pin::new(socket);
        // Nothing to wake: a write that cannot finish now is left to the connection's task.
        let mut cx = Context::from_waker(Waker::noop());
        if !matches!(socket.as_mut().poll_ready(&mut cx), Poll::Ready(Ok(()))) {
            // Queued, the connection's task told, and the socket left to it.
            state.congested = true;
            return Written::Queue;
        }
        let text = self.protocol.next(id, result);
        if socket.as_mut().start_send(Message::Text(text.into())).is_err() {
            // Broken: the connection's task finds so when it next uses the socket.
            state.congested = true;
            return Written::Flush;
        }
        match socket.as_mut().poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => Written::Done,
            Poll::Ready(Err(_)) | Poll::Pending => {
                state.congested = true;
                Written::Flush
            }
        }
    }
}
