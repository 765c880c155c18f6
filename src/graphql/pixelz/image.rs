//! Images submitted for retouching, and where they stand.

use std::sync::Arc;

use async_graphql::{Context, Enum, Error, ID, Object};

use super::super::context::pixelz;
use super::super::ids;
use super::template::PixelzTemplate;
use crate::events::Hub;
use crate::upstream::UpstreamError;
use crate::upstream::pixelz::{Ticket, wire};

/// Every status Pixelz documents for an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzImageStatus {
    /// 0: deleted by you.
    DeletedByUser,
    /// 10: new.
    New,
    /// 12: new, but the image could not be downloaded.
    DownloadFailed,
    /// 20: new, waiting for payment.
    #[graphql(deprecation = "Pixelz no longer uses this status")]
    WaitingForPayment,
    /// 30.
    ReadyForProduction,
    /// 40: returned for production by you.
    ReturnedForProduction,
    /// 60.
    InProduction,
    /// 62.
    AssignedToEditor,
    /// 64.
    DownloadedByEditor,
    /// 66.
    QualityAssurance,
    /// 70: finished, ready for download.
    ProductionFinished,
    /// 72: finished; the first delivery attempt failed.
    FirstDeliveryFailed,
    /// 74: finished; the second delivery attempt failed.
    SecondDeliveryFailed,
    /// 76: finished; the third delivery attempt failed.
    ThirdDeliveryFailed,
    /// 78: finished; delivery failed.
    DeliveryFailed,
    /// 80.
    Delivered,
    /// 90.
    RejectedByPixelz,
    /// 95: Pixelz awaits your reply.
    AwaitingYourReply,
    /// 100.
    Closed,
    /// 999: deleted by Pixelz's clean-up.
    DeletedByCleanup,
}

const STATUS_IDS: [(PixelzImageStatus, i64); 20] = [
    (PixelzImageStatus::DeletedByUser, 0),
    (PixelzImageStatus::New, 10),
    (PixelzImageStatus::DownloadFailed, 12),
    (PixelzImageStatus::WaitingForPayment, 20),
    (PixelzImageStatus::ReadyForProduction, 30),
    (PixelzImageStatus::ReturnedForProduction, 40),
    (PixelzImageStatus::InProduction, 60),
    (PixelzImageStatus::AssignedToEditor, 62),
    (PixelzImageStatus::DownloadedByEditor, 64),
    (PixelzImageStatus::QualityAssurance, 66),
    (PixelzImageStatus::ProductionFinished, 70),
    (PixelzImageStatus::FirstDeliveryFailed, 72),
    (PixelzImageStatus::SecondDeliveryFailed, 74),
    (PixelzImageStatus::ThirdDeliveryFailed, 76),
    (PixelzImageStatus::DeliveryFailed, 78),
    (PixelzImageStatus::Delivered, 80),
    (PixelzImageStatus::RejectedByPixelz, 90),
    (PixelzImageStatus::AwaitingYourReply, 95),
    (PixelzImageStatus::Closed, 100),
    (PixelzImageStatus::DeletedByCleanup, 999),
];

impl PixelzImageStatus {
    pub fn from_id(id: i64) -> Option<Self> {
        STATUS_IDS.iter().find(|(_, n)| *n == id).map(|(s, _)| *s)
    }

    pub fn id(self) -> i64 {
        STATUS_IDS.iter().find(|(s, _)| *s == self).map_or(-1, |(_, n)| *n)
    }

    /// No further change will come: delivered, closed, rejected or deleted.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Closed | Self::RejectedByPixelz | Self::DeletedByUser | Self::DeletedByCleanup
        )
    }
}

/// An image submitted for retouching.
#[derive(Clone)]
pub struct PixelzImage(pub Arc<wire::ImageStatus>);

impl PixelzImage {
    pub fn global_id(&self) -> ID {
        ids::of_pixelz_image(&self.0.image_ticket)
    }

    /// The versions webhooks delivered: with the state, and any this instance kept since.
    fn delivered(&self, ctx: &Context<'_>) -> Vec<wire::Output> {
        // A webhook adds to these without touching the cache: an answer showing them is not kept.
        crate::cache::reads::untracked();
        let mut outputs = self.0.outputs.clone();
        if let Ok(hub) = ctx.data::<Hub>() {
            for output in hub.outputs(&Ticket::of(&self.0.image_ticket)) {
                if !outputs.contains(&output) {
                    outputs.push(output);
                }
            }
        }
        outputs
    }
}

/// A template by its Pixelz number; null where Pixelz does not have it.
async fn template_named(ctx: &Context<'_>, number: &str) -> Result<Option<PixelzTemplate>, Error> {
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match PixelzTemplate::load(pixelz(ctx)?, number).await {
        Ok(template) => Ok(Some(template)),
        Err(UpstreamError::NotFound { .. }) | Err(UpstreamError::Refused { .. }) => Ok(None),
        Err(e) => Err(super::super::error::from_upstream(e)),
    }
}

/// One finished version of an image.
pub struct PixelzImageOutput(wire::Output);

#[Object]
impl PixelzImageOutput {
    /// Pixelz's number of the template this version was made with; null where unknown.
    async fn template_id(&self) -> Option<&str> {
        self.0.template_id.as_deref()
    }

    /// Where to download this version.
    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn template(&self, ctx: &Context<'_>) -> Result<Option<PixelzTemplate>, Error> {
        match self.0.template_id.as_deref() {
            Some(number) => template_named(ctx, number).await,
            None => Ok(None),
        }
    }
}

/// What Pixelz answers of an image: every field of the GraphQL `PixelzImage` but its
/// join with Pixieset, which `graphql/joins.rs` adds when it flattens these into the type.
pub struct ImageFields<'a> {
    image: &'a PixelzImage,
}

impl<'a> ImageFields<'a> {
    pub fn of(image: &'a PixelzImage) -> Self {
        Self { image }
    }
}

impl std::ops::Deref for ImageFields<'_> {
    type Target = PixelzImage;

    fn deref(&self) -> &PixelzImage {
        self.image
    }
}

// Flattened into `PixelzImage`, so its name is never in the schema.
#[Object(name = "PixelzImageFields")]
impl ImageFields<'_> {
    /// Pixelz's ticket for the image.
    async fn ticket(&self) -> &str {
        &self.0.image_ticket
    }

    /// Your own id for the image, if you gave one.
    async fn customer_image_id(&self) -> Option<&str> {
        self.0.customer_image_id.as_deref()
    }

    /// The product the image belongs to, if any.
    async fn product_id(&self) -> Option<&str> {
        self.0.product_id.as_deref()
    }

    /// Null for a status Pixelz does not document; `statusId` always holds the number.
    async fn status(&self) -> Option<PixelzImageStatus> {
        self.0.status_id.and_then(PixelzImageStatus::from_id)
    }

    async fn status_id(&self) -> Option<i64> {
        self.0.status_id
    }

    /// The status as Pixelz words it.
    async fn status_name(&self) -> Option<&str> {
        self.0.status_name.as_deref()
    }

    async fn is_paid(&self) -> Option<bool> {
        self.0.is_paid
    }

    /// The retouched images, once finished: as Pixelz gives them (paths, in its documents), or
    /// under `PIXELZ_ASSET_BASE_URL` when that is set.
    async fn final_image_urls(&self) -> &[String] {
        &self.0.final_images_url
    }

    async fn thumbnail_url(&self) -> Option<&str> {
        self.0.thumbnail_image_url.as_deref()
    }

    /// The template of the image's first finished version, as Pixelz's webhook names it;
    /// null until a version has been delivered to pixgate.
    async fn template(&self, ctx: &Context<'_>) -> Result<Option<PixelzTemplate>, Error> {
        let delivered = self.delivered(ctx);
        let Some(number) = delivered.iter().find_map(|o| o.template_id.as_deref()) else { return Ok(None) };
        template_named(ctx, number).await
    }

    /// Every finished version of the image: an image can have several, one per
    /// template, and Pixelz's webhook names each by `templateId`. Each delivery to
    /// pixgate is kept (repeats once). Where none has reached pixgate, the final
    /// URLs Pixelz lists, with their template unknown.
    async fn outputs(&self, ctx: &Context<'_>) -> Vec<PixelzImageOutput> {
        let delivered = self.delivered(ctx);
        if !delivered.is_empty() {
            return delivered.into_iter().map(PixelzImageOutput).collect();
        }
        let listed = self.0.final_images_url.iter().map(|url| wire::Output { template_id: None, url: url.clone() });
        listed.map(PixelzImageOutput).collect()
    }
}

/// How the images list is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzImageOrder {
    Id,
    Date,
    Status,
}

/// The filters of the images list.
#[derive(Clone, Debug, Default)]
pub struct ImageFilter {
    pub status: Option<PixelzImageStatus>,
    pub exclude_status: Option<PixelzImageStatus>,
    pub product_id: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub order: Option<PixelzImageOrder>,
    pub descending: Option<bool>,
}

const PAGE: usize = 100;

pub async fn image_connection(
    ctx: &Context<'_>,
    filter: ImageFilter,
    args: super::super::connection::Args,
) -> Result<
    async_graphql::connection::Connection<
        super::super::connection::Offset,
        PixelzImage,
        super::super::connection::ListInfo,
    >,
    Error,
> {
    use super::super::connection::{Page, Total, Window, slice};
    use super::super::error::from_upstream;

    let window = args.window(PAGE)?;
    let pixelz = pixelz(ctx)?;
    // Pixelz counts only by status and dates; other filters leave the total unknown.
    let countable = filter.exclude_status.is_none() && filter.product_id.is_none();
    let from_end = matches!(window, Window::Backward { end: None, .. });
    let wants_total = ctx.look_ahead().field("totalCount").exists();
    let count = async {
        if countable && (wants_total || from_end) {
            let status = filter.status.map(PixelzImageStatus::id);
            pixelz
                .image_count(status, filter.from, filter.to)
                .await
                .map(|n| n.map(|n| n as usize))
                .map_err(from_upstream)
        } else {
            Ok(None)
        }
    };
    let pages = |total: Option<usize>| {
        let filter = &filter;
        move |page: usize| async move {
            let query = wire::ImageQuery {
                status: filter.status.map(PixelzImageStatus::id),
                exclude_status: filter.exclude_status.map(PixelzImageStatus::id),
                product_id: filter.product_id.clone(),
                from: filter.from,
                to: filter.to,
                page: Some(page as u32),
                per_page: Some(PAGE as u32),
                sort_by: filter.order.map(|o| match o {
                    PixelzImageOrder::Id => wire::ImageSort::Id,
                    PixelzImageOrder::Date => wire::ImageSort::Date,
                    PixelzImageOrder::Status => wire::ImageSort::Status,
                }),
                descending: filter.descending,
            };
            let images = pixelz.images(&query).await.map_err(from_upstream)?;
            Ok(Page { items: images.iter().cloned().map(Arc::new).collect(), total, per_page: None, last_page: None })
        }
    };
    let slice = if from_end {
        let total = count.await?;
        slice(window, PAGE, Total::Unknown, pages(total)).await?
    } else {
        let (total, slice) = tokio::join!(count, slice(window, PAGE, Total::Unknown, pages(None)));
        let mut slice = slice?;
        slice.total = total?;
        slice
    };
    Ok(slice.into_connection(PixelzImage))
}
