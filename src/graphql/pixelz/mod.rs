//! Pixelz: templates, images and their status, products, the account, invoices.

mod account;
mod image;
mod mutation;
mod submission;
mod template;

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, Error, ErrorExtensions as _, ID, Object};

pub use account::{PixelzAccount, PixelzInvoice, PixelzProduct};

/// How to name one image: exactly one of its keys.
#[derive(async_graphql::OneofObject)]
pub enum PixelzImageKey {
    /// The ticket Pixelz issued when the image was submitted.
    Ticket(ID),
    /// Your own id, given at submission.
    CustomerImageId(String),
}
pub use image::{ImageFields, ImageFilter, PixelzImage, PixelzImageOrder, PixelzImageStatus};
pub use mutation::PixelzMutation;
pub use template::{
    PixelzAlignment, PixelzBackground, PixelzMarginKind, PixelzOutputFormat, PixelzResize, PixelzShadow,
    PixelzTemplate, PixelzUnit,
};

use super::connection::{Args, ListInfo, Offset, Page, Total, slice};
use super::context::pixelz;
use super::error::{bad_input, from_upstream};
use super::ids;
use super::scalars::Date;

const PRODUCTS_PAGE: usize = 100;
/// Pixelz serves invoices 50 a page, and a page size cannot be chosen.
const INVOICES_PAGE: usize = 50;

pub async fn template_by_number(ctx: &Context<'_>, number: &str) -> Result<PixelzTemplate, Error> {
    PixelzTemplate::load(pixelz(ctx)?, number).await.map_err(from_upstream)
}

pub async fn image_by_ticket(ctx: &Context<'_>, ticket: &str) -> Result<PixelzImage, Error> {
    Ok(PixelzImage(pixelz(ctx)?.image(ticket).await.map_err(from_upstream)?))
}

pub async fn templates(ctx: &Context<'_>) -> Result<Vec<PixelzTemplate>, Error> {
    let list = pixelz(ctx)?.templates().await.map_err(from_upstream)?;
    Ok(list.iter().cloned().map(|t| PixelzTemplate::listed(Arc::new(t))).collect())
}

/// How many pages of invoices a lookup by number reads: Pixelz has no lookup of one invoice.
const INVOICE_PAGES_TO_SEARCH: u32 = 20;

/// An invoice, found on the documented invoice list (Pixelz has no lookup of one), newest pages
/// first as Pixelz orders them, at most `INVOICE_PAGES_TO_SEARCH` pages.
pub async fn invoice_by_number(ctx: &Context<'_>, number: &str) -> Result<PixelzInvoice, Error> {
    let pixelz = pixelz(ctx)?;
    for page in 1..=INVOICE_PAGES_TO_SEARCH {
        let invoices = pixelz.invoices(None, None, page, None).await.map_err(from_upstream)?;
        if let Some(found) = invoices.iter().find(|i| i.invoice_id == number) {
            return Ok(PixelzInvoice(found.clone()));
        }
        if invoices.len() < INVOICES_PAGE {
            return Err(not_listed(format!("Pixelz lists no invoice {number}")));
        }
    }
    Err(not_listed(format!(
        "Pixelz lists no invoice {number} on its first {INVOICE_PAGES_TO_SEARCH} pages of invoices"
    )))
}

/// An object Pixelz's lists do not hold: looked for, not found.
pub fn not_listed(message: String) -> Error {
    crate::error_code::ErrorCode::NotFound.field_error(message).extend_with(|_, ext| ext.set("upstream", "pixelz"))
}

/// A product, found on the product pages (Pixelz has no lookup by product id).
pub async fn product_by_id(ctx: &Context<'_>, product_id: &str) -> Result<Option<PixelzProduct>, Error> {
    let pixelz = pixelz(ctx)?;
    for page in 1..=10 {
        let products = pixelz.products(page, PRODUCTS_PAGE as u32).await.map_err(from_upstream)?;
        if let Some(found) = products.iter().find(|p| p.product_id == product_id) {
            return Ok(Some(PixelzProduct(found.clone())));
        }
        if products.len() < PRODUCTS_PAGE {
            break;
        }
    }
    Ok(None)
}

#[derive(Default)]
pub struct PixelzQuery;

#[Object]
impl PixelzQuery {
    /// One Pixelz template, by its id (`pzt_…`) or its number.
    async fn pixelz_template(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PixelzTemplate>, Error> {
        let number = ids::pixelz_template(&id)?;
        template_by_number(ctx, &number).await.map(Some)
    }

    /// Every Pixelz template of the account.
    async fn pixelz_templates(&self, ctx: &Context<'_>) -> Result<Option<Vec<PixelzTemplate>>, Error> {
        templates(ctx).await.map(Some)
    }

    /// One image, by its ticket or by your own customer image id: `by: { ticket: "…" }`.
    async fn pixelz_image(
        &self,
        ctx: &Context<'_>,
        by: Option<PixelzImageKey>,
        #[graphql(deprecation = "use `by: { ticket }`, which says in the schema that it takes one key")] ticket: Option<
            ID,
        >,
        #[graphql(deprecation = "use `by: { customerImageId }`, which says in the schema that it takes one key")]
        customer_image_id: Option<String>,
    ) -> Result<Option<PixelzImage>, Error> {
        let key = match (by, ticket, customer_image_id) {
            (Some(PixelzImageKey::Ticket(ticket)), None, None) | (None, Some(ticket), None) => (Some(ticket), None),
            (Some(PixelzImageKey::CustomerImageId(customer)), None, None) | (None, None, Some(customer)) => {
                (None, Some(customer))
            }
            _ => return Err(bad_input("give `by` with `ticket` or `customerImageId`, exactly one")),
        };
        match key {
            (Some(ticket), None) => image_by_ticket(ctx, ids::pixelz_ticket(&ticket)?.as_str()).await.map(Some),
            (None, Some(customer)) => {
                let customer = customer.trim();
                if customer.is_empty() || customer.len() > 100 {
                    return Err(bad_input("`customerImageId` takes 1 to 100 characters"));
                }
                let image = pixelz(ctx)?.image_by_customer_id(customer).await.map_err(from_upstream)?;
                Ok(Some(PixelzImage(image)))
            }
            _ => Err(bad_input("give `by` with `ticket` or `customerImageId`, exactly one")),
        }
    }

    /// Images, filtered and ordered as Pixelz can. `totalCount` is known when filtering
    /// by status and dates only.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn pixelz_images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<PixelzImageStatus>,
        exclude_status: Option<PixelzImageStatus>,
        product_id: Option<String>,
        from: Option<Date>,
        to: Option<Date>,
        order_by: Option<PixelzImageOrder>,
        descending: Option<bool>,
    ) -> Result<Option<Connection<Offset, PixelzImage, ListInfo>>, Error> {
        if let (Some(from), Some(to)) = (from, to)
            && from.0 > to.0
        {
            return Err(bad_input("`from` is after `to`"));
        }
        let filter = ImageFilter {
            status,
            exclude_status,
            product_id: product_id.filter(|p| !p.is_empty()),
            from: from.map(|d| d.0),
            to: to.map(|d| d.0),
            order: order_by,
            descending,
        };
        image::image_connection(ctx, filter, Args { first, after, last, before }).await.map(Some)
    }

    /// How many images match; null where Pixelz's answer holds no count.
    async fn pixelz_image_count(
        &self,
        ctx: &Context<'_>,
        status: Option<PixelzImageStatus>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<Option<i64>, Error> {
        let count =
            pixelz(ctx)?.image_count(status.map(PixelzImageStatus::id), from.map(|d| d.0), to.map(|d| d.0)).await;
        Ok(*count.map_err(from_upstream)?)
    }

    /// Product ids with their done and to-do counts.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn pixelz_products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Option<Connection<Offset, PixelzProduct, ListInfo>>, Error> {
        let window = Args { first, after, last, before }.window(PRODUCTS_PAGE)?;
        let pixelz = pixelz(ctx)?;
        let slice = slice(window, PRODUCTS_PAGE, Total::Unknown, |page| async move {
            let products = pixelz.products(page as u32, PRODUCTS_PAGE as u32).await.map_err(from_upstream)?;
            Ok(Page { items: products.to_vec(), total: None, per_page: None, last_page: None })
        })
        .await?;
        Ok(Some(slice.into_connection(PixelzProduct)))
    }

    /// The Pixelz account the request's credentials open.
    async fn pixelz_account(&self, ctx: &Context<'_>) -> Result<Option<PixelzAccount>, Error> {
        Ok(Some(PixelzAccount(pixelz(ctx)?.account().await.map_err(from_upstream)?)))
    }

    /// Pixelz's invoices, newest first; at most 50 at a time.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn pixelz_invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        from: Option<Date>,
        to: Option<Date>,
        #[graphql(desc = "Where Pixelz sends the payer back after paying an invoice's `paymentUrl`: your app's \
            page, an http or https URL.")]
        return_url: Option<String>,
    ) -> Result<Option<Connection<Offset, PixelzInvoice, ListInfo>>, Error> {
        let window = Args { first, after, last, before }.window(INVOICES_PAGE)?;
        if let Some(url) = &return_url
            && !super::mutation::validate::is_http_url(url)
        {
            return Err(bad_input("`returnUrl` is an http or https URL"));
        }
        let pixelz = pixelz(ctx)?;
        let (from, to, return_url) = (from.map(|d| d.0), to.map(|d| d.0), return_url.as_deref());
        let slice = slice(window, INVOICES_PAGE, Total::Unknown, |page| async move {
            let invoices = pixelz.invoices(from, to, page as u32, return_url).await.map_err(from_upstream)?;
            Ok(Page { items: invoices.to_vec(), total: None, per_page: None, last_page: None })
        })
        .await?;
        Ok(Some(slice.into_connection(PixelzInvoice)))
    }
}
