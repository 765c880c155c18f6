//! Client connections: accepted within a cap (overall and per client address),
//! served by hyper, and closed when they idle or dribble. The timeouts are the ones
//! a reverse proxy's operators know from nginx:
//! - a request head must arrive within the header timeout of its first byte, and a
//!   new connection must send its first head within that time too (`client_header_timeout`);
//! - a kept-alive connection may wait for its next request for the keep-alive timeout
//!   (`keepalive_timeout`);
//! - a request body may pause between two reads for the body timeout (`client_body_timeout`,
//!   enforced by tower-http's `RequestBodyTimeoutLayer` in `server::app`).
//!
//! While a request is in flight (its answer still streaming, an SSE stream open) the
//! connection is never idle. An upgraded WebSocket leaves this module: its pings and
//! idle timeout are the WebSocket code's.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

pub use crate::config::ConnectionSettings;
use crate::lock::locked;
use crate::telemetry::metrics::{CONNECTIONS_OPEN, CONNECTIONS_REFUSED};

/// What the watchdog of one connection reads: when it went idle, when the next head
/// began, how many requests are in flight, and when the watchdog will look next.
/// Milliseconds since `born`; 0 is "not yet".
///
/// The watchdog is not woken by each request: it looks when its timer fires and sets
/// the timer by what it finds (a deadline only ever moves later as requests come and
/// go). The one change that can bring a deadline nearer, a head beginning while the
/// timer is set for the end of a keep-alive, wakes it. So a busy connection costs a
/// timer a header timeout, not a timer and three wake-ups a request.
struct Activity {
    born: Instant,
    idle_since: AtomicU64,
    head_started: AtomicU64,
    in_flight: AtomicUsize,
    /// When the watchdog's timer fires.
    looks_at: AtomicU64,
    /// The header timeout, in milliseconds.
    header_timeout: u64,
    changed: Notify,
}

impl Activity {
    fn new(settings: &ConnectionSettings) -> Self {
        let header_timeout = u64::try_from(settings.header_timeout.as_millis()).unwrap_or(u64::MAX);
        Self {
            born: Instant::now(),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            looks_at: AtomicU64::new(header_timeout),
            header_timeout,
            changed: Notify::new(),
        }
    }

    /// Never 0, so a stamp is always "set".
    fn now(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    fn read_some(&self) {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return;
        }
        let now = self.now();
        if self.head_started.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire).is_ok()
            && self.looks_at.load(Ordering::Acquire) > now.saturating_add(self.header_timeout)
        {
            self.changed.notify_one();
        }
    }

    fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.head_started.store(0, Ordering::Release);
            self.idle_since.store(self.now(), Ordering::Release);
        }
    }

    /// When the connection is to be closed as things stand; None while a request is in flight.
    fn deadline(&self, settings: &ConnectionSettings) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let at = |ms: u64, after: Duration| self.born + Duration::from_millis(ms) + after;
        let head = self.head_started.load(Ordering::Acquire);
        let idle = self.idle_since.load(Ordering::Acquire);
        Some(match (head, idle) {
            (0, 0) => at(0, settings.header_timeout),
            (0, idle) => at(idle, settings.keep_alive_timeout),
            (head, _) => at(head, settings.header_timeout),
        })
    }

    /// When the watchdog looks next: the deadline, or while requests are in flight, a
    /// header timeout from now.
    fn next_look(&self, settings: &ConnectionSettings) -> Instant {
        let at = self.deadline(settings).unwrap_or_else(|| Instant::now() + settings.header_timeout);
        let ms = u64::try_from(at.saturating_duration_since(self.born).as_millis()).unwrap_or(u64::MAX);
        self.looks_at.store(ms, Ordering::Release);
        at
    }
}

/// A socket that tells its connection's watchdog when bytes of a new request arrive.
/// It holds the connection's place under the caps, so a WebSocket, which takes the
/// socket with it when it leaves hyper, counts until it closes.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
    _place: Place,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Open connections, in all and per client address.
#[derive(Default)]
struct Open {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`Open`], given back when it closes.
struct Place {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn take(self: &Arc<Self>, ip: IpAddr, settings: &ConnectionSettings) -> Result<Place, &'static str> {
        if settings.max_connections > 0 && self.total.load(Ordering::Acquire) >= settings.max_connections {
            return Err("total");
        }
        let mut per_ip = locked(&self.per_ip);
        let held = per_ip.entry(ip).or_default();
        if settings.max_connections_per_ip > 0 && *held >= settings.max_connections_per_ip {
            return Err("per_ip");
        }
        *held += 1;
        self.total.fetch_add(1, Ordering::AcqRel);
        metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
        Ok(Place { open: self.clone(), ip })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut per_ip = locked(&self.open.per_ip);
        if let Some(held) = per_ip.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.open.total.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
    }
}

/// Serves `app` on `listener` until `stopped` turns true, then lets the connections
/// finish what they are answering.
pub async fn serve(
    listener: TcpListener,
    app: super::Gateway,
    settings: ConnectionSettings,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let open = Arc::new(Open::default());
    let (draining, _) = watch::channel(false);
    let (closed, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before it was taken: the
                // listener itself is fine, and a pause lets descriptors come free.
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = async { let _ = stopped.wait_for(|stop| *stop).await; } => break,
        };
        let place = match open.take(peer.ip().to_canonical(), &settings) {
            Ok(place) => place,
            Err(reason) => {
                metrics::counter!(CONNECTIONS_REFUSED, "reason" => reason).increment(1);
                drop(socket);
                continue;
            }
        };
        // Events are small writes; Nagle's algorithm would hold them back waiting for ACKs.
        let _ = socket.set_nodelay(true);
        tokio::spawn(connection(
            socket,
            peer,
            app.clone(),
            settings.clone(),
            draining.subscribe(),
            closed.clone(),
            place,
        ));
    }
    let _ = draining.send(true);
    drop(closed);
    let _ = all_closed.recv().await;
    Ok(())
}

async fn connection(
    socket: TcpStream,
    peer: SocketAddr,
    app: super::Gateway,
    settings: ConnectionSettings,
    mut draining: watch::Receiver<bool>,
    _closed: tokio::sync::mpsc::Sender<()>,
    place: Place,
) {
    let activity = Arc::new(Activity::new(&settings));
    let io = TokioIo::new(Watched { inner: socket, activity: activity.clone(), _place: place });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            activity.started();
            // In flight until its answer's body is sent or dropped: an SSE stream is never idle.
            let guard = InFlight(activity.clone());
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let request = request.map(Body::new);
            let app = app.clone();
            async move {
                let response = app.serve(request).await;
                Ok::<_, std::convert::Infallible>(response.map(move |body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &guard;
                        frame
                    }))
                }))
            }
        })
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(settings.keep_alive_timeout / 2));
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let look = tokio::time::sleep_until(activity.next_look(&settings).into());
    tokio::pin!(look);
    let drain = async { draining.wait_for(|draining| *draining).await.is_ok() };
    tokio::pin!(drain);
    let mut draining_seen = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::trace!(%error, "connection ended");
                }
                return;
            }
            _ = drain.as_mut(), if !draining_seen => {
                draining_seen = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.changed.notified() => {}
            () = look.as_mut() => {
                if activity.deadline(&settings).is_some_and(|deadline| deadline <= Instant::now()) {
                    tracing::debug!(%peer, "closing a connection that idled or dribbled past its timeout");
                    return;
                }
            }
        }
        look.as_mut().reset(activity.next_look(&settings).into());
    }
}

/// Marks a request in flight while its answer is being sent.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished();
    }
}
