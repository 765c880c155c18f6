//! Image-status events. Webhooks and the poller publish; subscriptions watch.
//!
//! One `watch` channel per watched ticket holds the image's latest state: a
//! publish that repeats the current status is dropped (one event per image and
//! status), and a subscriber that falls behind simply sees the newest state next,
//! so no subscriber can hold the others back.

pub mod fanout;
pub mod poller;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use crate::lock::locked;
use crate::upstream::PixelzCredentials;
use crate::upstream::pixelz::Ticket;
use crate::upstream::pixelz::wire::{ImageStatus, Output};

pub type ImageState = Option<Arc<ImageStatus>>;

/// Statuses after which nothing changes: delivered, rejected by Pixelz, closed, deleted.
pub fn is_final(status_id: Option<i64>) -> bool {
    matches!(status_id, Some(0 | 80 | 90 | 100 | 999))
}

struct Watched {
    state: watch::Sender<ImageState>,
    /// Whose credentials the poller refreshes this image with: the first watcher's.
    credentials: PixelzCredentials,
}

/// What one instance tells the others.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Relayed {
    /// A verified webhook: the image is finished, in the version it names.
    Finished {
        ticket: Ticket,
        processed_url: Option<String>,
        #[serde(default)]
        template_id: Option<String>,
    },
    /// A new state, from the poller.
    State { image: ImageStatus },
}

/// How many images' delivered versions are kept, and for how long: Pixelz retries a
/// delivery for about six hours, and a studio reads its images within days.
const DELIVERED_IMAGES: u64 = 100_000;
const DELIVERED_FOR: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Every watched image and its latest state, and the versions delivered of any image.
#[derive(Clone)]
pub struct Hub {
    images: Arc<Mutex<HashMap<Ticket, Watched>>>,
    /// By ticket, every output version a webhook delivered, watched or not.
    delivered: moka::sync::Cache<Ticket, Arc<Vec<Output>>>,
    /// Where changes go for other instances, when there are others.
    relay: Arc<Mutex<Option<mpsc::Sender<Relayed>>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            images: Arc::default(),
            delivered: moka::sync::Cache::builder().max_capacity(DELIVERED_IMAGES).time_to_live(DELIVERED_FOR).build(),
            relay: Arc::default(),
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("watched", &locked(&self.images).len()).finish()
    }
}

impl Hub {
    /// Starts (or joins) watching an image that `credentials` were shown to open.
    pub fn watch(&self, credentials: &PixelzCredentials, current: Arc<ImageStatus>) -> watch::Receiver<ImageState> {
        let mut images = locked(&self.images);
        let ticket = Ticket::of(&current.image_ticket);
        match images.get(&ticket) {
            Some(watched) => {
                let receiver = watched.state.subscribe();
                if watched.state.borrow().is_none() {
                    watched.state.send_replace(Some(current));
                }
                receiver
            }
            None => {
                let (state, receiver) = watch::channel(Some(current));
                images.insert(ticket, Watched { state, credentials: credentials.clone() });
                receiver
            }
        }
    }

    /// Sends what happened here to the other instances, without ever waiting for them.
    pub fn relay_to(&self, sender: mpsc::Sender<Relayed>) {
        *locked(&self.relay) = Some(sender);
    }

    fn relay(&self, event: Relayed) {
        if let Some(sender) = locked(&self.relay).as_ref()
            && sender.try_send(event).is_err()
        {
            tracing::warn!("the event relay is full or closed; other instances miss an event");
        }
    }

    /// Applies what another instance relayed, without relaying it back.
    pub fn apply(&self, event: Relayed) -> bool {
        match event {
            Relayed::Finished { ticket, processed_url, template_id } => {
                self.finish_here(&ticket, processed_url, template_id)
            }
            Relayed::State { image } => self.publish_here(Arc::new(image)),
        }
    }

    /// Records an image's state; true when its status changed and watchers were told.
    pub fn publish(&self, image: Arc<ImageStatus>) -> bool {
        let changed = self.publish_here(image.clone());
        if changed {
            self.relay(Relayed::State { image: (*image).clone() });
        }
        changed
    }

    /// A state that changes the status is news, and so is a further version of a
    /// finished image; the first version comes with the status that finished it (or,
    /// where a poll saw that first, is kept and shown with the next event), so a
    /// subscriber still sees one event per status. A state without versions (from
    /// GET Status) keeps those already delivered.
    fn publish_here(&self, image: Arc<ImageStatus>) -> bool {
        let images = locked(&self.images);
        let Some(watched) = images.get(&Ticket::of(&image.image_ticket)) else { return false };
        watched.state.send_if_modified(|state| {
            let mut image = image;
            if let Some(current) = state.as_ref()
                && image.outputs.is_empty()
                && !current.outputs.is_empty()
            {
                let mut merged = (*image).clone();
                merged.outputs = current.outputs.clone();
                image = Arc::new(merged);
            }
            let Some(current) = state.as_ref() else {
                *state = Some(image);
                return true;
            };
            let status_changed = current.status_id != image.status_id;
            let further_version = !current.outputs.is_empty() && current.outputs != image.outputs;
            if status_changed || current.outputs != image.outputs {
                *state = Some(image);
            }
            status_changed || further_version
        })
    }

    /// Pixelz says a version of the image is finished (a webhook). Each version is
    /// kept and told once; a repeated delivery adds nothing, and nothing moves an
    /// image back from a finished or final status. Relayed even when nobody here
    /// watches the image: a subscriber elsewhere may.
    pub fn finished(&self, ticket: &Ticket, processed_url: Option<String>, template_id: Option<String>) -> bool {
        self.relay(Relayed::Finished {
            ticket: ticket.clone(),
            processed_url: processed_url.clone(),
            template_id: template_id.clone(),
        });
        self.finish_here(ticket, processed_url, template_id)
    }

    fn finish_here(&self, ticket: &Ticket, processed_url: Option<String>, template_id: Option<String>) -> bool {
        let outputs = match processed_url {
            Some(url) => self.record(ticket, Output { template_id, url }),
            None => self.outputs(ticket),
        };
        let current = {
            let images = locked(&self.images);
            let Some(watched) = images.get(ticket) else { return false };
            watched.state.borrow().clone()
        };
        let Some(current) = current else { return false };
        let mut image = (*current).clone();
        if !(current.status_id.is_some_and(|s| s >= 70) || is_final(current.status_id)) {
            image.status_id = Some(70);
            image.status_name = Some("Production Finished".into());
        }
        if !outputs.is_empty() {
            image.final_images_url = outputs.iter().map(|o| o.url.clone()).collect();
            image.outputs = outputs;
        }
        self.publish_here(Arc::new(image))
    }

    /// Adds a delivered version; every version of the image so far.
    fn record(&self, ticket: &Ticket, output: Output) -> Vec<Output> {
        let entry = self.delivered.entry(ticket.clone()).and_upsert_with(|known| {
            let mut outputs = known.map(|e| (*e.into_value()).clone()).unwrap_or_default();
            if !outputs.contains(&output) {
                outputs.push(output);
            }
            Arc::new(outputs)
        });
        (*entry.into_value()).clone()
    }

    /// Every version delivered of an image, in the order they came.
    pub fn outputs(&self, ticket: &Ticket) -> Vec<Output> {
        self.delivered.get(ticket).map(|o| (*o).clone()).unwrap_or_default()
    }

    /// Unfinished images someone still watches, grouped by the credentials to poll them with.
    pub fn to_poll(&self) -> Vec<(PixelzCredentials, Vec<Ticket>)> {
        let mut images = locked(&self.images);
        // Nobody watches these any more.
        images.retain(|_, watched| watched.state.receiver_count() > 0);
        let mut by_tenant: HashMap<_, (PixelzCredentials, Vec<Ticket>)> = HashMap::new();
        for (ticket, watched) in images.iter() {
            if is_final(watched.state.borrow().as_ref().and_then(|i| i.status_id)) {
                continue;
            }
            by_tenant
                .entry(watched.credentials.tenant())
                .or_insert_with(|| (watched.credentials.clone(), Vec::new()))
                .1
                .push(ticket.clone());
        }
        by_tenant.into_values().collect()
    }

    /// The latest state of a watched image.
    pub fn latest(&self, ticket: &Ticket) -> ImageState {
        locked(&self.images).get(ticket).and_then(|w| w.state.borrow().clone())
    }

    pub fn watched_count(&self) -> usize {
        locked(&self.images).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn image(ticket: &str, status: i64) -> Arc<ImageStatus> {
        Arc::new(serde_json::from_value(serde_json::json!({ "ImageTicket": ticket, "StatusId": status })).unwrap())
    }

    fn credentials() -> PixelzCredentials {
        PixelzCredentials::new("a@b.test", Secret::new("k"))
    }

    #[test]
    fn one_event_per_status_and_finished_never_goes_back() {
        let hub = Hub::default();
        let mut receiver = hub.watch(&credentials(), image("t", 10));
        receiver.mark_unchanged();
        assert!(!hub.publish(image("t", 10)), "same status, no event");
        assert!(hub.publish(image("t", 30)));
        assert!(receiver.has_changed().unwrap());
        assert!(hub.finished(&Ticket::of("t"), Some("http://x/final.jpg".into()), Some("1".into())));
        assert_eq!(receiver.borrow_and_update().as_ref().unwrap().final_images_url, ["http://x/final.jpg"]);
        assert!(
            !hub.finished(&Ticket::of("t"), Some("http://x/final.jpg".into()), Some("1".into())),
            "a repeat adds nothing"
        );
        assert!(hub.publish(image("t", 80)));
        assert!(!hub.finished(&Ticket::of("t"), None, None), "a late retry never moves a delivered image back");
        assert!(
            hub.finished(&Ticket::of("t"), Some("http://x/v2.jpg".into()), Some("2".into())),
            "a second version is news"
        );
        let state = receiver.borrow_and_update().clone().unwrap();
        assert_eq!(state.status_id, Some(80), "and moves nothing back");
        assert_eq!(
            state.outputs.iter().map(|o| o.url.as_str()).collect::<Vec<_>>(),
            ["http://x/final.jpg", "http://x/v2.jpg"]
        );
        assert!(!hub.publish(image("t", 80)), "a poll without versions keeps them");
        assert_eq!(hub.outputs(&Ticket::of("T")).len(), 2);
        assert!(!hub.publish(image("unwatched", 30)));
        assert!(!hub.finished(&Ticket::of("unwatched"), Some("http://x/u.jpg".into()), None));
        assert_eq!(hub.outputs(&Ticket::of("unwatched")).len(), 1, "kept for whoever asks later");
    }

    #[test]
    fn only_unfinished_watched_images_are_polled() {
        let hub = Hub::default();
        let a = hub.watch(&credentials(), image("a", 10));
        let b = hub.watch(&credentials(), image("b", 80));
        let c = hub.watch(&credentials(), image("c", 60));
        drop(c);
        let polled = hub.to_poll();
        assert_eq!(polled.len(), 1);
        assert_eq!(polled[0].1, [Ticket::of("a")]);
        assert_eq!(hub.watched_count(), 2, "nobody watches c");
        drop((a, b));
    }
}
