//! Clients and leads, with their addresses, collections and documents.

use std::sync::Arc;

use crate::graphql::scalars::DateTime;
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, Error, ID, Object, SimpleObject};

use super::super::connection::{Args, ListInfo, Offset, Page, Total, selects_in_nodes, slice};
use super::super::context::pixieset;
use super::super::error::from_upstream;
use super::super::scalars::Date;
use super::contract::Contract;
use super::invoice::{Invoice, cents, invoice_connection};
use crate::upstream::pixieset::wire;
use crate::upstream::pixieset::{InvoiceQuery, Paging};

/// Documents come 25 a page, and a page size cannot be chosen.
const DOCUMENTS_PAGE: usize = 25;
const COLLECTIONS_PAGE: usize = 100;

/// What a contact is to the studio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ClientType {
    /// An active, paying customer.
    Client,
    /// A potential customer who has inquired.
    Lead,
    /// Any other contact.
    Other,
}

impl ClientType {
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        match raw? {
            "client" => Some(Self::Client),
            "lead" => Some(Self::Lead),
            "other" => Some(Self::Other),
            _ => None,
        }
    }

    pub fn wire(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Lead => "lead",
            Self::Other => "other",
        }
    }
}

/// A postal address.
#[derive(SimpleObject)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    /// Pixieset's country number (223 is the United States).
    pub country_id: Option<i64>,
}

impl From<&wire::Address> for Address {
    fn from(a: &wire::Address) -> Self {
        Self {
            line1: a.address_line_1.clone(),
            line2: a.address_line_2.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            state: a.state.clone(),
            country: a.country.clone(),
            country_id: a.country_id,
        }
    }
}

/// What the gateway holds of a client: all of it, or the summary a list embedded.
#[derive(Clone)]
enum Held {
    Full(Arc<wire::Client>),
    Summary(wire::ClientSummary),
}

/// A client, lead or other contact of the studio.
#[derive(Clone)]
pub struct Client {
    id: String,
    held: Held,
}

impl Client {
    pub fn full(client: Arc<wire::Client>) -> Self {
        Self { id: client.id.clone(), held: Held::Full(client) }
    }

    /// From the summary a list or contract embedded: it answers the fields it carries,
    /// whatever else is asked beside them, and the client's record answers the rest.
    pub fn summarised(summary: &wire::ClientSummary) -> Self {
        Self { id: summary.id.clone(), held: Held::Summary(summary.clone()) }
    }

    pub fn global_id(&self) -> ID {
        ID(self.id.clone())
    }

    /// The Pixieset id (`cl_…`), as the joins with Pixelz key their links by it.
    pub fn pixieset_id(&self) -> &str {
        &self.id
    }

    async fn loaded(&self, ctx: &Context<'_>) -> Result<Arc<wire::Client>, Error> {
        match &self.held {
            Held::Full(client) => Ok(client.clone()),
            Held::Summary(_) => pixieset(ctx)?.client(&self.id).await.map_err(from_upstream),
        }
    }

    /// A field the summary holds; otherwise the full client's.
    async fn either(
        &self,
        ctx: &Context<'_>,
        from_summary: impl Fn(&wire::ClientSummary) -> Option<Option<String>>,
        from_full: impl Fn(&wire::Client) -> Option<String>,
    ) -> Result<Option<String>, Error> {
        if let Held::Summary(summary) = &self.held
            && let Some(value) = from_summary(summary)
        {
            return Ok(value);
        }
        Ok(from_full(&*self.loaded(ctx).await?))
    }
}

/// What Pixieset answers of a client: every field of the GraphQL `Client` but its joins
/// with Pixelz, which `graphql/joins.rs` adds when it flattens these into the type.
pub struct ClientFields<'a> {
    client: &'a Client,
}

impl<'a> ClientFields<'a> {
    pub fn of(client: &'a Client) -> Self {
        Self { client }
    }
}

impl std::ops::Deref for ClientFields<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
    }
}

// Flattened into `Client`, so its name is never in the schema.
#[Object(name = "PixiesetClientFields")]
impl ClientFields<'_> {
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        self.either(ctx, |s| s.email.clone(), |c| c.email.clone()).await
    }

    async fn first_name(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        self.either(ctx, |s| s.first_name.clone(), |c| c.first_name.clone()).await
    }

    async fn last_name(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        self.either(ctx, |s| s.last_name.clone(), |c| c.last_name.clone()).await
    }

    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        self.either(ctx, |s| s.phone.clone(), |c| c.phone.clone()).await
    }

    async fn company(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.loaded(ctx).await?.company.clone())
    }

    async fn job_title(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.loaded(ctx).await?.job_title.clone())
    }

    async fn address(&self, ctx: &Context<'_>) -> Result<Option<Address>, Error> {
        Ok(self.loaded(ctx).await?.address_info.as_ref().map(Address::from))
    }

    /// The studio's internal notes.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.loaded(ctx).await?.notes.clone())
    }

    /// Client, lead or other; null when Pixieset sends a type this gateway does not know.
    #[graphql(name = "type")]
    async fn kind(&self, ctx: &Context<'_>) -> Result<Option<ClientType>, Error> {
        Ok(ClientType::parse(self.loaded(ctx).await?.kind.as_deref()))
    }

    /// `Active` or `Archived`.
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.loaded(ctx).await?.status_name.clone())
    }

    /// Pixieset's colour index for the client's avatar.
    async fn avatar_color(&self, ctx: &Context<'_>) -> Result<Option<i64>, Error> {
        Ok(self.loaded(ctx).await?.avatar_color)
    }

    /// A sample contact Pixieset created for a new studio.
    async fn is_sample(&self, ctx: &Context<'_>) -> Result<Option<bool>, Error> {
        Ok(self.loaded(ctx).await?.sample)
    }

    async fn created_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>, Error> {
        Ok(self.loaded(ctx).await?.created_at.map(DateTime))
    }

    /// The client's invoices, newest first.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Option<Connection<Offset, Invoice, ListInfo>>, Error> {
        let query = InvoiceQuery { client_id: Some(self.id.clone()), ..InvoiceQuery::default() };
        invoice_connection(ctx, query, Args { first, after, last, before }).await.map(Some)
    }

    /// The client's contracts, from its documents.
    async fn contracts(&self, ctx: &Context<'_>) -> Result<Option<Vec<Contract>>, Error> {
        let pixieset = pixieset(ctx)?;
        let first = pixieset.documents(&self.id, 1, false).await.map_err(from_upstream)?;
        let last_page = first.meta.last_page.unwrap_or(1).clamp(1, 20) as u32;
        let rest =
            futures_util::future::try_join_all((2..=last_page).map(|page| pixieset.documents(&self.id, page, false)))
                .await
                .map_err(from_upstream)?;
        let documents = std::iter::once(&first).chain(rest.iter()).flat_map(|page| page.data.iter());
        Ok(Some(documents.filter(|d| d.document_type() == Some("contract")).map(|d| Contract::by_id(&d.id)).collect()))
    }

    /// Every document of the client (invoices, contracts, questionnaires, quotes), newest first; at most 25 at a time.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Option<Connection<Offset, Document, ListInfo>>, Error> {
        let pixieset = pixieset(ctx)?;
        let window = Args { first, after, last, before }.window(DOCUMENTS_PAGE)?;
        let gift_cards = selects_in_nodes(ctx, "giftCardActivities");
        let slice = slice(window, DOCUMENTS_PAGE, Total::Reported, |page| async move {
            let page = pixieset.documents(&self.id, page as u32, gift_cards).await.map_err(from_upstream)?;
            Ok(Page::of(&page.meta, page.data.clone()))
        })
        .await?;
        Ok(Some(slice.into_connection(Document)))
    }

    /// The client's galleries in Pixieset's Collections.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Option<Connection<Offset, Collection, ListInfo>>, Error> {
        let pixieset = pixieset(ctx)?;
        let window = Args { first, after, last, before }.window(COLLECTIONS_PAGE)?;
        let slice = slice(window, COLLECTIONS_PAGE, Total::Reported, |page| async move {
            let paging = Paging { page: Some(page as u32), per_page: Some(COLLECTIONS_PAGE as u32) };
            let page = pixieset.collections(&self.id, paging).await.map_err(from_upstream)?;
            Ok(Page::of(&page.meta, page.data.clone()))
        })
        .await?;
        Ok(Some(slice.into_connection(Collection)))
    }
}

/// One of a client's documents.
pub struct Document(wire::Document);

#[Object]
impl Document {
    /// The document's Pixieset id: `in_…` for an invoice, `co_…` for a contract, `qu_…`, `qo_…`, …
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// `invoice`, `contract`, `questionnaire`, `quote`, …
    #[graphql(name = "type")]
    async fn kind(&self) -> Option<&str> {
        self.0.document_type()
    }

    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }

    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }

    /// For invoices.
    async fn amount(&self) -> Option<super::super::money::MoneyObject> {
        self.0.amount.map(|amount| cents(amount, None))
    }

    async fn created_at(&self) -> Option<DateTime> {
        self.0.created_at.map(DateTime)
    }

    /// Gift cards bought or redeemed with this document (`expand=gift_card_activities`).
    /// The documents name the expansion and show nothing of it: null where the server
    /// sends none, and each field read only when present.
    async fn gift_card_activities(&self) -> Option<Vec<GiftCardActivity>> {
        let activities = self.0.gift_card_activities.as_ref()?;
        Some(activities.iter().cloned().map(GiftCardActivity).collect())
    }
}

/// A gift card's use on a document.
pub struct GiftCardActivity(wire::GiftCardActivity);

#[Object]
impl GiftCardActivity {
    async fn id(&self) -> Option<&str> {
        self.0.id.as_deref()
    }

    /// `redeemed`, `purchased`, … as Pixieset names it.
    #[graphql(name = "type")]
    async fn kind(&self) -> Option<&str> {
        self.0.kind.as_deref()
    }

    /// The gift card's code.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    async fn amount(&self) -> Option<super::super::money::MoneyObject> {
        self.0.amount.map(|amount| cents(amount, None))
    }

    async fn created_at(&self) -> Option<DateTime> {
        self.0.created_at.map(DateTime)
    }
}

/// A gallery in Pixieset's Collections.
pub struct Collection(wire::Collection);

#[Object]
impl Collection {
    pub async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    async fn cover_photo_url(&self) -> Option<&str> {
        self.0.cover_photo_url.as_deref()
    }

    async fn photo_count(&self) -> Option<i64> {
        self.0.photo_count
    }

    /// `published`, `draft`, …
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }

    async fn event_date(&self) -> Option<Date> {
        self.0.event_date.map(Date)
    }

    async fn created_at(&self) -> Option<DateTime> {
        self.0.created_at.map(DateTime)
    }
}
