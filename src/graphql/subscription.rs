//! Live image status.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::{Context, Error, ID, Subscription};
use futures_util::stream::{self, Stream, StreamExt};
use tokio_stream::wrappers::WatchStream;

use super::context::{client_images, pixelz};
use super::error::{bad_input, from_upstream};
use super::ids;
use super::pixelz::PixelzImage;
use crate::events::{Hub, is_final};
use crate::lock::locked;
use crate::upstream::pixelz::Ticket;
use crate::upstream::pixelz::wire::{ImageQuery, ImageStatus};

/// At most this many images in one subscription.
const MAX_IMAGES: usize = 100;

/// Which image each event of a subscription is about, in the order the events
/// come, and whether someone may still join it. A transport that runs one
/// subscription for many subscribers puts this in the request's data; knowing
/// each event's image, it can give someone who joins later each image's latest
/// state, as a subscription of their own would.
#[derive(Debug, Default)]
pub struct EventSubjects {
    subjects: Mutex<VecDeque<Arc<str>>>,
    closed_to_latecomers: AtomicBool,
}

impl EventSubjects {
    fn record(&self, ticket: &str) {
        locked(&self.subjects).push_back(ticket.into());
    }

    /// The image of the event just resolved; None for a result that is about no image (an error).
    pub fn take(&self) -> Option<Arc<str>> {
        locked(&self.subjects).pop_front()
    }

    /// False once the subscription's images depend on when it started: someone
    /// subscribing later needs a subscription of their own.
    pub fn joinable(&self) -> bool {
        !self.closed_to_latecomers.load(Ordering::Acquire)
    }

    fn close_to_latecomers(&self) {
        self.closed_to_latecomers.store(true, Ordering::Release);
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The status of images as it changes: first each image's current state, then
    /// every change. Completes when every image is final (delivered, closed,
    /// rejected or deleted). Name images by ticket, by your customer image ids,
    /// by product, or by Pixieset client (`clientId`: the newest images submitted for it
    /// with `submitPixelzImage(input: { clientId })`); a product's or a client's images
    /// are those it has at the time of subscribing.
    async fn pixelz_image_status_changed(
        &self,
        ctx: &Context<'_>,
        tickets: Option<Vec<ID>>,
        customer_image_ids: Option<Vec<String>>,
        product_id: Option<String>,
        client_id: Option<ID>,
    ) -> Result<impl Stream<Item = PixelzImage> + use<>, Error> {
        let (tickets, customer_image_ids) = (tickets.unwrap_or_default(), customer_image_ids.unwrap_or_default());
        let product_id = product_id.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        let client_id = client_id.map(|client| ids::pixieset(&client, ids::CLIENT, "client")).transpose()?;
        if tickets.is_empty() && customer_image_ids.is_empty() && product_id.is_none() && client_id.is_none() {
            return Err(bad_input("name the images: `tickets`, `customerImageIds`, `productId` or `clientId`"));
        }
        if tickets.len() + customer_image_ids.len() > MAX_IMAGES {
            return Err(bad_input(format!("at most {MAX_IMAGES} images in one subscription")));
        }
        // Every id is checked before any upstream call.
        let tickets = tickets.iter().map(ids::pixelz_ticket).collect::<Result<Vec<_>, _>>()?;
        if customer_image_ids.iter().any(|c| c.trim().is_empty() || c.len() > 100) {
            return Err(bad_input("a customer image id takes 1 to 100 characters"));
        }
        let pixelz = pixelz(ctx)?;
        let hub = ctx.data::<Hub>()?.clone();
        let subjects = ctx.data_opt::<Arc<EventSubjects>>().cloned();

        // The subscriber's own credentials must open every image it watches.
        let mut images: HashMap<Ticket, Arc<ImageStatus>> = HashMap::new();
        let mut tickets = tickets;
        if let Some(client_id) = &client_id {
            let links = client_images(ctx)?;
            tickets.extend(links.tickets(pixelz.tenant(), client_id, 0, MAX_IMAGES).await.tickets);
        }
        for ticket in &tickets {
            let image = pixelz.image(ticket.as_str()).await.map_err(from_upstream)?;
            images.insert(Ticket::of(&image.image_ticket), image);
        }
        for customer in &customer_image_ids {
            let image = pixelz.image_by_customer_id(customer.trim()).await.map_err(from_upstream)?;
            images.insert(Ticket::of(&image.image_ticket), image);
        }
        if let Some(product_id) = &product_id {
            let query = ImageQuery {
                product_id: Some(product_id.clone()),
                per_page: Some(MAX_IMAGES as u32),
                ..ImageQuery::default()
            };
            for image in pixelz.images(&query).await.map_err(from_upstream)?.iter() {
                images.insert(Ticket::of(&image.image_ticket), Arc::new(image.clone()));
            }
        }
        // A product or a client gains images: those found now are not all a later subscriber's.
        if (product_id.is_some() || client_id.is_some())
            && let Some(subjects) = &subjects
        {
            subjects.close_to_latecomers();
        }

        let credentials = pixelz.credentials().clone();
        let open: HashSet<Ticket> =
            images.iter().filter(|(_, i)| !is_final(i.status_id)).map(|(t, _)| t.clone()).collect();
        let first_states = images.len();
        // Each watch stream first yields the image's current state, then its changes.
        let streams = images.into_values().map(|image| WatchStream::new(hub.watch(&credentials, image)));
        let merged = stream::select_all(streams).filter_map(|state| async move { state }).boxed();
        let watching = Watching { merged, open, first_states, done: false, subjects };
        Ok(stream::unfold(watching, |mut w| async move {
            if w.done {
                return None;
            }
            let image = w.merged.next().await?;
            if is_final(image.status_id) {
                w.open.remove(&Ticket::of(&image.image_ticket));
            }
            w.first_states = w.first_states.saturating_sub(1);
            w.done = w.open.is_empty() && w.first_states == 0;
            if let Some(subjects) = &w.subjects {
                subjects.record(Ticket::of(&image.image_ticket).as_str());
            }
            Some((PixelzImage(image), w))
        }))
    }
}

struct Watching {
    merged: futures_util::stream::BoxStream<'static, Arc<ImageStatus>>,
    /// Images not final yet.
    open: HashSet<Ticket>,
    /// Current states still to send.
    first_states: usize,
    done: bool,
    subjects: Option<Arc<EventSubjects>>,
}
