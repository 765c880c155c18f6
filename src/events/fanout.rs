//! More than one instance: events travel through Redis pub/sub, so every
//! instance tells its own subscribers, and a lease in Redis lets one instance
//! poll a given image. When Redis is unreachable, each instance goes on serving
//! its own subscribers, says so in the log, and keeps trying to reconnect.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use tokio::sync::{mpsc, watch};

use super::{Hub, Relayed};
use crate::redis_link::RedisLink;
use crate::upstream::pixelz::Ticket;

const CHANNEL: &str = "pixgate:image-status";
const LEASE_PREFIX: &str = "pixgate:poll-lease:";
const RELAY_BUFFER: usize = 4096;

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    origin: String,
    event: Relayed,
}

/// This instance's link to the others.
#[derive(Clone)]
pub struct Fanout {
    redis: RedisLink,
    instance: Arc<str>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout").field("instance", &self.instance).finish()
    }
}

impl Fanout {
    /// Starts relaying `hub`'s events through Redis and applying other instances' events to it.
    pub fn start(redis: &RedisLink, hub: &Hub, shutdown: watch::Receiver<bool>) -> Self {
        let fanout = Self { redis: redis.clone(), instance: uuid::Uuid::new_v4().to_string().into() };
        let (sender, receiver) = mpsc::channel(RELAY_BUFFER);
        hub.relay_to(sender);
        tokio::spawn(fanout.clone().publish(receiver, shutdown.clone()));
        tokio::spawn(fanout.clone().listen(hub.clone(), shutdown));
        fanout
    }

    async fn publish(self, mut events: mpsc::Receiver<Relayed>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let event = tokio::select! {
                event = events.recv() => match event { Some(event) => event, None => return },
                _ = shutdown.changed() => return,
            };
            let Some(mut connection) = self.redis.connection().await else { continue };
            let Ok(message) = serde_json::to_string(&Envelope { origin: self.instance.to_string(), event }) else {
                continue;
            };
            if let Err(error) = connection.publish::<_, _, ()>(CHANNEL, message).await {
                tracing::warn!(error = ?error.kind(), "could not relay an event through Redis");
            }
        }
    }

    async fn listen(self, hub: Hub, shutdown: watch::Receiver<bool>) {
        let subscribed = |failures: u32| {
            if failures > 0 {
                tracing::info!("listening to other instances again");
            }
        };
        let heard = |_: &str, payload: String| match serde_json::from_str::<Envelope>(&payload) {
            Ok(envelope) if *envelope.origin != *self.instance => {
                hub.apply(envelope.event);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ignored an unreadable event from Redis"),
        };
        let lost = |failures: u32| {
            if failures == 0 {
                tracing::warn!(
                    "not hearing other instances' events: serving this instance's subscribers only, and retrying"
                );
            }
        };
        self.redis.listen(&[CHANNEL], shutdown, subscribed, heard, lost).await;
    }

    /// The tickets this instance may poll now: those whose lease it takes or holds.
    /// Without Redis, all of them: better twice than never.
    pub async fn claim(&self, tickets: Vec<Ticket>, lease: Duration) -> Vec<Ticket> {
        let Some(mut connection) = self.redis.connection().await else { return tickets };
        let millis = lease.as_millis().max(1) as u64;
        let mut taken = redis::pipe();
        for ticket in &tickets {
            taken
                .cmd("SET")
                .arg(format!("{LEASE_PREFIX}{ticket}"))
                .arg(&*self.instance)
                .arg("NX")
                .arg("PX")
                .arg(millis);
        }
        let results: Vec<Option<String>> = match taken.query_async(&mut connection).await {
            Ok(results) => results,
            Err(error) => {
                tracing::warn!(error = ?error.kind(), "could not take poll leases; polling here");
                return tickets;
            }
        };
        let (mut mine, mut others) = (Vec::new(), Vec::new());
        for (ticket, result) in tickets.into_iter().zip(results) {
            if result.is_some() { mine.push(ticket) } else { others.push(ticket) }
        }
        if others.is_empty() {
            return mine;
        }
        // A lease already held may be this instance's own: renew it.
        let mut holders = redis::pipe();
        for ticket in &others {
            holders.cmd("GET").arg(format!("{LEASE_PREFIX}{ticket}"));
        }
        let held: Vec<Option<String>> = holders.query_async(&mut connection).await.unwrap_or_default();
        let mut renew = redis::pipe();
        for (ticket, holder) in others.into_iter().zip(held) {
            if holder.as_deref() == Some(&*self.instance) {
                renew.cmd("PEXPIRE").arg(format!("{LEASE_PREFIX}{ticket}")).arg(millis).ignore();
                mine.push(ticket);
            }
        }
        let _: Result<(), _> = renew.query_async(&mut connection).await;
        mine
    }

    /// True once connected to Redis.
    pub async fn connected(&self) -> bool {
        self.redis.connection().await.is_some()
    }
}
