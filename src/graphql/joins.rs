//! Where the two APIs meet. The GraphQL `Client` is Pixieset's client with the images
//! submitted to Pixelz for it; `PixelzImage` is Pixelz's image with the client it was
//! submitted for. Neither upstream knows this link: pixgate keeps it (`client_images.rs`).
//!
//! The only module that names both APIs' types. Each API's module answers its own fields
//! (`ClientFields`, `ImageFields`), which are flattened here into the type, so neither
//! names the other's.

use async_graphql::connection::Connection;
use async_graphql::{Context, Error, ID, Object};

use super::connection::{Args, ListInfo, Offset, Page, Total, slice};
use super::context::{client_images, pixelz};
use super::error::from_upstream;
use super::pixelz::{ImageFields, PixelzImage, PixelzImageStatus};
use super::pixieset::{Client, ClientFields, client_by_id};
use crate::upstream::pixelz::Ticket;

// `id` is declared here, on the type itself, because the `Node` interface asks the type for it.
#[Object]
impl Client {
    /// The Pixieset id (`cl_…`).
    pub async fn id(&self) -> ID {
        self.global_id()
    }

    #[graphql(flatten)]
    async fn pixieset(&self) -> ClientFields<'_> {
        ClientFields::of(self)
    }

    /// The images submitted to Pixelz for this client (`submitPixelzImage(input: { clientId })`),
    /// newest first, with their live status; `pixelzImageStatusChanged(clientId:)` follows
    /// them. pixgate keeps this link itself, neither Pixieset nor Pixelz knows it, and each
    /// image's `productId` is left to you. With `status`, the newest 100 are looked through.
    /// Needs the request's Pixelz credentials too.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn retouched_images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<PixelzImageStatus>,
    ) -> Result<Option<Connection<Offset, PixelzImage, ListInfo>>, Error> {
        images_of_client(ctx, self.pixieset_id(), status, Args { first, after, last, before }).await.map(Some)
    }
}

#[Object]
impl PixelzImage {
    /// Global id (`pzi_<ticket>`).
    pub async fn id(&self) -> ID {
        self.global_id()
    }

    #[graphql(flatten)]
    async fn pixelz(&self) -> ImageFields<'_> {
        ImageFields::of(self)
    }

    /// The Pixieset client the image was submitted for (`submitPixelzImage(input: { clientId })`),
    /// as pixgate linked them; null for an image submitted without one. Needs the request's
    /// Pixieset credentials too.
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>, Error> {
        let links = client_images(ctx)?;
        let Some(id) = links.client_of(pixelz(ctx)?.tenant(), &Ticket::of(&self.0.image_ticket)).await else {
            return Ok(None);
        };
        client_by_id(ctx, &id).await.map(Some)
    }
}

/// A client's images a page holds: each is one status call.
const LINKED_PAGE: usize = 25;
/// How many of a client's newest images a status filter looks through.
const LINKED_FILTERED: usize = 100;

/// The images submitted for a Pixieset client, as pixgate linked them (`client_images.rs`),
/// newest first, each with its current status.
async fn images_of_client(
    ctx: &Context<'_>,
    client_id: &str,
    status: Option<PixelzImageStatus>,
    args: Args,
) -> Result<Connection<Offset, PixelzImage, ListInfo>, Error> {
    let pixelz = pixelz(ctx)?;
    let links = client_images(ctx)?;
    let account = pixelz.tenant();
    // An image Pixelz no longer finds is left out rather than failing its neighbours.
    let statuses = |tickets: Vec<Ticket>| async move {
        let found = futures_util::future::join_all(tickets.iter().map(|t| pixelz.image(t.as_str()))).await;
        let mut images = Vec::with_capacity(found.len());
        for image in found {
            match image {
                Ok(image) => images.push(image),
                // Deleted at Pixelz since it was linked: gone from the client's images too.
                Err(gone) if gone.code() == crate::error_code::ErrorCode::NotFound => {}
                Err(other) => return Err(from_upstream(other)),
            }
        }
        Ok::<_, Error>(images)
    };
    let slice = match status {
        None => {
            let window = args.window(LINKED_PAGE)?;
            slice(window, LINKED_PAGE, Total::Reported, |page| async move {
                let linked = links.tickets(account, client_id, (page - 1) * LINKED_PAGE, LINKED_PAGE).await;
                Ok(Page {
                    items: statuses(linked.tickets).await?,
                    total: Some(linked.total),
                    per_page: None,
                    last_page: None,
                })
            })
            .await?
        }
        Some(status) => {
            let window = args.window(LINKED_FILTERED)?;
            let linked = links.tickets(account, client_id, 0, LINKED_FILTERED).await;
            let whole = linked.total <= LINKED_FILTERED;
            let matching: Vec<_> =
                statuses(linked.tickets).await?.into_iter().filter(|i| i.status_id == Some(status.id())).collect();
            let (matching, total) = (&matching, whole.then_some(matching.len()));
            slice(window, LINKED_FILTERED, Total::Reported, |page| async move {
                let items = if page == 1 { matching.clone() } else { Vec::new() };
                Ok(Page { items, total, per_page: None, last_page: None })
            })
            .await?
        }
    };
    Ok(slice.into_connection(PixelzImage))
}
