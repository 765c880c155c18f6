//! Webhooks only say "finished"; the statuses before that come from polling the
//! images someone watches and that are not final yet. Per tenant, the newest
//! images are read a hundred at a time, so n watched images cost at most
//! ceil(n / 100) + 1 upstream calls per interval, however many subscribers watch.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Hub;
use super::fanout::Fanout;
use crate::cache::{Cache, Key, Kind};
use crate::upstream::pixelz::Ticket;
use crate::upstream::pixelz::wire::{ImageQuery, ImageRef, ImageSort};
use crate::upstream::{PixelzClient, PixelzCredentials};

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const PAGE: usize = 100;

#[derive(Clone, Debug)]
pub struct Poller {
    pub hub: Hub,
    pub pixelz: PixelzClient,
    pub cache: Cache,
    pub interval: Duration,
    /// With other instances: who polls which image.
    pub fanout: Option<Fanout>,
}

impl Poller {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => return,
            }
            for (credentials, tickets) in self.hub.to_poll() {
                let tickets = match &self.fanout {
                    // A lease outlives a missed interval or two, not a dead instance.
                    Some(fanout) => fanout.claim(tickets, self.interval * 3).await,
                    None => tickets,
                };
                if !tickets.is_empty() {
                    self.refresh(&credentials, tickets).await;
                }
            }
        }
    }

    async fn publish(&self, credentials: &PixelzCredentials, image: crate::upstream::pixelz::wire::ImageStatus) {
        let image = Arc::new(image);
        // Queries after an event see the same state as the event.
        let key = Key::new(credentials.tenant(), Kind::PixelzImage, String::from(Ticket::of(&image.image_ticket)));
        self.cache.insert(key, image.clone()).await;
        self.hub.publish(image);
    }

    /// Refreshes one tenant's watched images; answers the upstream calls it made.
    pub async fn refresh(&self, credentials: &PixelzCredentials, tickets: Vec<Ticket>) -> usize {
        let budget = tickets.len().div_ceil(PAGE) + 1;
        let mut wanted: HashSet<Ticket> = tickets.into_iter().collect();
        let mut calls = 0;
        // Watched images are mostly new ones: newest first finds them on the first pages.
        for page in 1..=budget {
            if wanted.is_empty() {
                break;
            }
            calls += 1;
            let query = ImageQuery {
                page: Some(page as u32),
                per_page: Some(PAGE as u32),
                sort_by: Some(ImageSort::Date),
                descending: Some(true),
                ..ImageQuery::default()
            };
            match self.pixelz.images(credentials, &query).await {
                Ok(images) => {
                    let last_page = images.len() < PAGE;
                    for image in images {
                        if wanted.remove(&Ticket::of(&image.image_ticket)) {
                            self.publish(credentials, image).await;
                        }
                    }
                    if last_page {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "polling image statuses failed; trying again next interval");
                    return calls;
                }
            }
        }
        // Older images, one by one, while the budget lasts; the rest wait for the next interval.
        let remaining = budget.saturating_sub(calls);
        for ticket in wanted.into_iter().take(remaining) {
            calls += 1;
            match self.pixelz.image_status(credentials, &ImageRef::Ticket(ticket.into())).await {
                Ok(image) => self.publish(credentials, image).await,
                Err(error) => tracing::warn!(%error, "polling an image status failed"),
            }
        }
        calls
    }
}
