//! Which Pixelz images were submitted for which Pixieset client: pixgate's own link between
//! the two APIs, made by `submitPixelzImage(input: { clientId })`.
//!
//! Pixelz has no field for it that is not the caller's: its `productId` packages images for
//! consistent retouching ("All images with the same ProductID will be collected into a single
//! package"), so carrying the client's id there would make every image of a client, across
//! years and shoots, one package. The link is kept here instead, in the records' Redis beside
//! the idempotency records (kept on disk, never evicted, shared by the fleet), and in this
//! instance's memory when that Redis is absent or does not answer: then an instance knows only
//! the links it made itself, until it stops, and says so in its log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;

use crate::lock::locked;
use crate::redis_link::{RedisLink, within};
use crate::upstream::TenantKey;
use crate::upstream::pixelz::Ticket;

const PREFIX: &str = "pixgate:client-images:";
const REDIS_WAIT: Duration = Duration::from_millis(500);

/// The links, by the Pixelz account that owns the images (its tenant key) and the client's id.
pub struct ClientImages {
    redis: Option<RedisLink>,
    /// Links this instance made while the records' Redis was absent or away.
    memory: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    /// Tickets newest last, with when each was linked.
    by_client: HashMap<String, Vec<(i64, Ticket)>>,
    /// The client's id, by `ticket_key`.
    by_ticket: HashMap<String, String>,
}

/// A client's linked tickets, newest first: the ones asked for, and how many there are in all.
pub struct Linked {
    pub tickets: Vec<Ticket>,
    pub total: usize,
}

fn client_key(account: &TenantKey, client_id: &str) -> String {
    format!("{PREFIX}{account}:client:{client_id}")
}

fn ticket_key(account: &TenantKey, ticket: &Ticket) -> String {
    format!("{PREFIX}{account}:ticket:{ticket}")
}

impl ClientImages {
    pub fn new(redis: Option<RedisLink>) -> Self {
        Self { redis, memory: Mutex::default() }
    }

    async fn connection(&self) -> Option<redis::aio::ConnectionManager> {
        self.redis.as_ref()?.connection().await
    }

    /// Records that `ticket` was submitted for `client_id`; the first time counts, so a retried
    /// submission links once.
    pub async fn link(&self, account: &TenantKey, client_id: &str, ticket: &Ticket) {
        let now = Utc::now().timestamp_millis();
        if let Some(mut redis) = self.connection().await {
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("ZADD")
                .arg(client_key(account, client_id))
                .arg("NX")
                .arg(now)
                .arg(ticket.as_str())
                .ignore()
                .cmd("SET")
                .arg(ticket_key(account, ticket))
                .arg(client_id)
                .arg("NX")
                .ignore();
            if within(REDIS_WAIT, "a client-image link", pipe.query_async::<()>(&mut redis)).await.is_some() {
                return;
            }
        }
        if self.redis.is_some() {
            tracing::warn!("the records' Redis is away: an image's client is linked on this instance only");
        }
        let mut memory = locked(&self.memory);
        if memory.by_ticket.contains_key(&ticket_key(account, ticket)) {
            return;
        }
        memory.by_ticket.insert(ticket_key(account, ticket), client_id.to_string());
        memory.by_client.entry(client_key(account, client_id)).or_default().push((now, ticket.clone()));
    }

    /// The tickets linked to `client_id`, newest first, from `offset`, at most `count`.
    pub async fn tickets(&self, account: &TenantKey, client_id: &str, offset: usize, count: usize) -> Linked {
        let key = client_key(account, client_id);
        let mut linked: Vec<(i64, Ticket)> = locked(&self.memory).by_client.get(&key).cloned().unwrap_or_default();
        if let Some(mut redis) = self.connection().await {
            let mut all = redis::cmd("ZRANGE");
            all.arg(&key).arg(0).arg(-1).arg("WITHSCORES");
            let all = all.query_async(&mut redis);
            if let Some(stored) = within::<Vec<(String, i64)>>(REDIS_WAIT, "a client-image link", all).await {
                linked.extend(stored.into_iter().map(|(ticket, at)| (at, Ticket::of(&ticket))));
            }
        }
        linked.sort_by(|a, b| b.cmp(a));
        linked.dedup_by(|a, b| a.1 == b.1);
        let total = linked.len();
        Linked { tickets: linked.into_iter().skip(offset).take(count).map(|(_, ticket)| ticket).collect(), total }
    }

    /// The client `ticket` was submitted for, if it was linked to one.
    pub async fn client_of(&self, account: &TenantKey, ticket: &Ticket) -> Option<String> {
        let remembered = locked(&self.memory).by_ticket.get(&ticket_key(account, ticket)).cloned();
        if remembered.is_some() {
            return remembered;
        }
        let mut redis = self.connection().await?;
        let mut get = redis::cmd("GET");
        get.arg(ticket_key(account, ticket));
        within::<Option<String>>(REDIS_WAIT, "a client-image link", get.query_async(&mut redis)).await.flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> TenantKey {
        crate::upstream::PixelzCredentials::new(name, crate::secret::Secret::new("key")).tenant().clone()
    }

    #[tokio::test]
    async fn links_are_kept_per_account_newest_first_and_once() {
        let links = ClientImages::new(None);
        let (ours, theirs) = (account("ours"), account("theirs"));
        links.link(&ours, "cl_a", &Ticket::of("T-1")).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
        links.link(&ours, "cl_a", &Ticket::of("t-2")).await;
        links.link(&ours, "cl_b", &Ticket::of("t-1")).await;
        let linked = links.tickets(&ours, "cl_a", 0, 10).await;
        assert_eq!((linked.tickets, linked.total), (vec![Ticket::of("t-2"), Ticket::of("t-1")], 2));
        assert_eq!(links.tickets(&ours, "cl_a", 1, 10).await.tickets, [Ticket::of("t-1")]);
        assert_eq!(links.tickets(&ours, "cl_b", 0, 10).await.total, 0, "a ticket is linked to its first client");
        assert_eq!(links.tickets(&theirs, "cl_a", 0, 10).await.total, 0);
        assert_eq!(links.client_of(&ours, &Ticket::of("T-2")).await.as_deref(), Some("cl_a"));
        assert_eq!(links.client_of(&theirs, &Ticket::of("t-2")).await, None);
    }
}
