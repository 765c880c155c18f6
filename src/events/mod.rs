//! Image-status events. Webhooks and the poller publish; subscriptions watch.
//!
//! One `watch` channel per watched ticket holds the image's latest state: a
//! publish that repeats the current status is dropped (one event per image and
//! status), and a subscriber that falls behind simply sees the newest state next,
//! so no subscriber can hold the others back.

pub mod fanout;
pub mod poller;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{mpsc, watch};

use crate::upstream::PixelzCredentials;
use crate::upstream::pixelz::wire::ImageStatus;

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
    /// A verified webhook: the image is finished.
    Finished { ticket: String, processed_url: Option<String> },
    /// A new state, from the poller.
    State { image: ImageStatus },
}

/// The maps stay consistent whatever a panicking holder was doing (each change is one
/// insert, remove or channel send), so a poisoned lock is taken over rather than
/// spreading the panic to every later request.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every watched image and its latest state.
#[derive(Clone, Default)]
pub struct Hub {
    images: Arc<Mutex<HashMap<String, Watched>>>,
    /// Where changes go for other instances, when there are others.
    relay: Arc<Mutex<Option<mpsc::Sender<Relayed>>>>,
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
        let ticket = current.image_ticket.to_ascii_lowercase();
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
            Relayed::Finished { ticket, processed_url } => self.finish_here(&ticket, processed_url),
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

    fn publish_here(&self, image: Arc<ImageStatus>) -> bool {
        let images = locked(&self.images);
        let Some(watched) = images.get(&image.image_ticket.to_ascii_lowercase()) else { return false };
        watched.state.send_if_modified(|state| {
            let changed = state.as_ref().is_none_or(|current| current.status_id != image.status_id);
            if changed {
                *state = Some(image);
            }
            changed
        })
    }

    /// Pixelz says the image is finished (a webhook). Never moves an image back from
    /// a finished or final status, since Pixelz repeats deliveries. Relayed even when
    /// nobody here watches the image: a subscriber elsewhere may.
    pub fn finished(&self, ticket: &str, processed_url: Option<String>) -> bool {
        self.relay(Relayed::Finished { ticket: ticket.to_ascii_lowercase(), processed_url: processed_url.clone() });
        self.finish_here(ticket, processed_url)
    }

    fn finish_here(&self, ticket: &str, processed_url: Option<String>) -> bool {
        let current = {
            let images = locked(&self.images);
            let Some(watched) = images.get(&ticket.to_ascii_lowercase()) else { return false };
            watched.state.borrow().clone()
        };
        let Some(current) = current else { return false };
        if current.status_id.is_some_and(|s| s >= 70) || is_final(current.status_id) {
            return false;
        }
        let mut image = (*current).clone();
        image.status_id = Some(70);
        image.status_name = Some("Production Finished".into());
        if let Some(url) = processed_url {
            image.final_images_url = vec![url];
        }
        self.publish_here(Arc::new(image))
    }

    /// Unfinished images someone still watches, grouped by the credentials to poll them with.
    pub fn to_poll(&self) -> Vec<(PixelzCredentials, Vec<String>)> {
        let mut images = locked(&self.images);
        // Nobody watches these any more.
        images.retain(|_, watched| watched.state.receiver_count() > 0);
        let mut by_tenant: HashMap<_, (PixelzCredentials, Vec<String>)> = HashMap::new();
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
    pub fn latest(&self, ticket: &str) -> ImageState {
        locked(&self.images).get(&ticket.to_ascii_lowercase()).and_then(|w| w.state.borrow().clone())
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
        assert!(hub.finished("t", Some("http://x/final.jpg".into())));
        assert_eq!(receiver.borrow_and_update().as_ref().unwrap().final_images_url, ["http://x/final.jpg"]);
        assert!(!hub.finished("t", None), "a repeated delivery adds nothing");
        assert!(hub.publish(image("t", 80)));
        assert!(!hub.finished("t", None), "a late retry never moves a delivered image back");
        assert!(!hub.publish(image("unwatched", 30)));
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
        assert_eq!(polled[0].1, ["a"]);
        assert_eq!(hub.watched_count(), 2, "nobody watches c");
        drop((a, b));
    }
}
