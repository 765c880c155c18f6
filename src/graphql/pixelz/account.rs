//! The Pixelz account, its products and its invoices.

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, Error, ID, Object};

use super::super::connection::{Args, ListInfo, Offset};
use super::super::ids;
use super::super::money::MoneyObject;
use super::super::scalars::Date;
use super::image::{ImageFilter, PixelzImage, image_connection};
use crate::upstream::pixelz::wire;

/// The Pixelz account behind the request's credentials.
pub struct PixelzAccount(pub Arc<wire::Contact>);

#[Object]
impl PixelzAccount {
    async fn email(&self) -> Option<&str> {
        self.0.contact_email.as_deref()
    }

    async fn company(&self) -> Option<&str> {
        self.0.contact_company.as_deref()
    }

    async fn contact_person(&self) -> Option<&str> {
        self.0.contact_person.as_deref()
    }

    async fn balance(&self) -> Option<MoneyObject> {
        self.0.contact_account_balance.as_ref().and_then(wire::Price::money).map(MoneyObject)
    }

    async fn days_of_credit(&self) -> Option<i64> {
        self.0.contact_days_of_credit
    }

    /// Free images left on the account.
    async fn trial_images(&self) -> Option<i64> {
        self.0.number_of_trial_images
    }
}

/// Images grouped under one product id, retouched to a consistent standard.
pub struct PixelzProduct(pub wire::ProductStatistic);

#[Object]
impl PixelzProduct {
    /// Global id (`pzp_…`).
    pub async fn id(&self) -> ID {
        ids::of_pixelz_product(&self.0.product_id)
    }

    async fn product_id(&self) -> &str {
        &self.0.product_id
    }

    /// Images finished.
    async fn done_count(&self) -> Option<i64> {
        self.0.done_count
    }

    /// Images still in the pipeline.
    async fn todo_count(&self) -> Option<i64> {
        self.0.todo_count
    }

    /// The product's images.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn images(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Option<Connection<Offset, PixelzImage, ListInfo>>, Error> {
        let filter = ImageFilter { product_id: Some(self.0.product_id.clone()), ..ImageFilter::default() };
        image_connection(ctx, filter, Args { first, after, last, before }).await.map(Some)
    }
}

/// An invoice from Pixelz.
pub struct PixelzInvoice(pub wire::Invoice);

#[Object]
impl PixelzInvoice {
    /// Global id (`pzv_…`).
    pub async fn id(&self) -> ID {
        ids::of_pixelz_invoice(&self.0.invoice_id)
    }

    /// Pixelz's invoice number, e.g. `INV-1289`.
    async fn invoice_id(&self) -> &str {
        &self.0.invoice_id
    }

    /// The day it was issued (`…On` for days, `…At` for moments).
    async fn created_on(&self) -> Option<Date> {
        self.0.created_date.map(Date)
    }

    #[graphql(deprecation = "named `createdOn`: days are `…On`, moments `…At`")]
    async fn created_date(&self) -> Option<Date> {
        self.0.created_date.map(Date)
    }

    /// What remains to pay, exactly as Pixelz wrote it; Pixelz names no currency for it.
    async fn amount_due(&self) -> Option<MoneyObject> {
        crate::money::Money::from_decimal(self.0.amount_due.as_deref()?, None).map(MoneyObject)
    }

    async fn is_paid(&self) -> Option<bool> {
        self.0.is_paid
    }

    /// Where to download the invoice.
    async fn invoice_url(&self) -> Option<&str> {
        self.0.invoice_url.as_deref()
    }

    /// Where to pay it, while unpaid.
    async fn payment_url(&self) -> Option<&str> {
        self.0.payment_url.as_deref()
    }
}
