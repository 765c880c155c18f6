//! Invoices: amounts in exact money, line items, the client they bill.

use std::sync::Arc;

use crate::graphql::scalars::DateTime;
use async_graphql::connection::Connection;
use async_graphql::{Context, Error, ID, Object, SimpleObject};

use super::super::connection::{Args, ListInfo, Offset, Page, Total, selects_in_nodes, slice};
use super::super::context::pixieset;
use super::super::error::from_upstream;
use super::super::money::MoneyObject;
use super::super::scalars::Date;
use super::client::Client;
use crate::upstream::pixieset::wire;
use crate::upstream::pixieset::{InvoiceQuery, Paging};

pub const PAGE: usize = crate::loaders::INVOICE_PAGE as usize;

/// Pixieset's cents, in the currency named where an answer names one: the documents write
/// cents and never a currency, so none is assumed.
pub fn cents(cents: i64, currency: Option<&str>) -> MoneyObject {
    MoneyObject(crate::money::Money::from_minor_units(cents, currency))
}

/// An invoice to a client.
pub struct Invoice(pub Arc<wire::Invoice>);

impl Invoice {
    fn money(&self, amount: Option<i64>) -> Option<MoneyObject> {
        amount.map(|c| cents(c, self.0.currency.as_deref()))
    }
}

/// One line of an invoice; each field null where Pixieset's line shows none.
#[derive(SimpleObject)]
pub struct LineItem {
    pub name: Option<String>,
    pub description: Option<String>,
    pub quantity: Option<i64>,
    /// The price of one unit.
    pub unit_amount: Option<MoneyObject>,
    /// `unitAmount × quantity`, where the line shows both.
    pub total: Option<MoneyObject>,
}

#[Object]
impl Invoice {
    /// The Pixieset id (`in_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The number the client sees, e.g. `INV-001`.
    async fn number(&self) -> Option<&str> {
        self.0.invoice_number.as_deref()
    }

    /// `draft`, `sent`, `viewed`, `partially_paid`, `paid`, `overdue`, … as Pixieset names it.
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }

    /// The invoice's total, as Pixieset states it: never summed from the lines, which may
    /// leave out discounts, taxes or lines not shown.
    async fn amount(&self) -> Option<MoneyObject> {
        self.money(self.0.amount)
    }

    async fn amount_paid(&self) -> Option<MoneyObject> {
        self.money(self.0.amount_paid)
    }

    async fn amount_due(&self) -> Option<MoneyObject> {
        self.money(self.0.amount_due)
    }

    async fn due_date(&self) -> Option<Date> {
        self.0.due_date.map(Date)
    }

    async fn created_at(&self) -> Option<DateTime> {
        self.0.created_at.map(DateTime)
    }

    async fn sent_at(&self) -> Option<DateTime> {
        self.0.sent_at.map(DateTime)
    }

    async fn paid_at(&self) -> Option<DateTime> {
        self.0.paid_at.map(DateTime)
    }

    /// Null where the invoice shows no lines at all.
    async fn line_items(&self) -> Option<Vec<LineItem>> {
        let lines = self.0.line_items.as_ref()?;
        Some(
            lines
                .iter()
                .map(|item| LineItem {
                    name: item.name.clone(),
                    description: item.description.clone(),
                    quantity: item.quantity,
                    unit_amount: self.money(item.amount),
                    total: self.money(item.amount.zip(item.quantity).and_then(|(a, q)| a.checked_mul(q))),
                })
                .collect(),
        )
    }

    /// The client billed. Where the invoice embeds a summary of them, the summary answers
    /// the fields it carries and the client's record the rest.
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>, Error> {
        if let Some(summary) = &self.0.client {
            return Ok(Some(Client::summarised(summary)));
        }
        let Some(id) = &self.0.client_id else { return Ok(None) };
        Ok(Some(Client::full(pixieset(ctx)?.client(id).await.map_err(from_upstream)?)))
    }
}

pub async fn invoice_connection(
    ctx: &Context<'_>,
    mut query: InvoiceQuery,
    args: Args,
) -> Result<Connection<Offset, Invoice, ListInfo>, Error> {
    let pixieset = pixieset(ctx)?;
    let window = args.window(PAGE)?;
    // The embedded client summary costs nothing extra and spares a fetch per client.
    query.expand_client = selects_in_nodes(ctx, "client");
    let query = &query;
    let slice = slice(window, PAGE, Total::Reported, |page| async move {
        let query =
            InvoiceQuery { paging: Paging { page: Some(page as u32), per_page: Some(PAGE as u32) }, ..query.clone() };
        let page = pixieset.invoices(&query).await.map_err(from_upstream)?;
        Ok(Page::of(&page.meta, page.data.iter().cloned().map(Arc::new).collect()))
    })
    .await?;
    Ok(slice.into_connection(Invoice))
}
