//! Pixieset Pixieset: clients, invoices, contracts and contract templates.

mod client;
mod contract;
mod invoice;
mod mutation;

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, Error, ID, Object};

pub use client::{Client, ClientFields, ClientType};
pub use contract::{Contract, ContractTemplate, ContractTemplateStatus};
pub use invoice::Invoice;
pub use mutation::PixiesetMutation;

use super::connection::{Args, ListInfo, Offset, Page, Total, slice};
use super::context::pixieset;
use super::error::{bad_input, from_upstream};
use super::ids;
use crate::upstream::pixieset::{ClientQuery, Expand, InvoiceQuery, Paging};

const PAGE: usize = 100;

pub async fn client_by_id(ctx: &Context<'_>, id: &str) -> Result<Client, Error> {
    Ok(Client::full(pixieset(ctx)?.client(id).await.map_err(from_upstream)?))
}

pub async fn invoice_by_id(ctx: &Context<'_>, id: &str) -> Result<Invoice, Error> {
    Ok(Invoice(pixieset(ctx)?.invoice(id).await.map_err(from_upstream)?))
}

/// A contract in full, checked to exist, whatever a list showed of it lately.
pub async fn contract_by_id(ctx: &Context<'_>, id: &str) -> Result<Contract, Error> {
    Ok(Contract::detailed(pixieset(ctx)?.contract(id).await.map_err(from_upstream)?))
}

pub async fn contract_template_by_id(ctx: &Context<'_>, id: &str) -> Result<ContractTemplate, Error> {
    ContractTemplate::load(pixieset(ctx)?, id).await.map_err(from_upstream)
}

pub async fn contract_templates(ctx: &Context<'_>) -> Result<Vec<ContractTemplate>, Error> {
    let list = pixieset(ctx)?.contract_templates().await.map_err(from_upstream)?;
    Ok(list.data.iter().cloned().map(|t| ContractTemplate::listed(Arc::new(t))).collect())
}

/// The search endpoint filters by one type or none.
fn search_types(types: &[ClientType]) -> Result<Option<&'static str>, Error> {
    match types {
        [] => Ok(None),
        [ClientType::Client] => Ok(Some("client")),
        [ClientType::Lead] => Ok(Some("lead")),
        _ => Err(bad_input("with `search`, `types` takes one of CLIENT or LEAD, or nothing")),
    }
}

#[derive(Default)]
pub struct PixiesetQuery;

#[Object]
impl PixiesetQuery {
    /// One client by id.
    async fn client(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Client>, Error> {
        let id = ids::pixieset(&id, ids::CLIENT, "client")?;
        client_by_id(ctx, &id).await.map(Some)
    }

    /// Clients, leads and other contacts, newest first; or those matching `search`
    /// (name, email, phone, company).
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn clients(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        types: Option<Vec<ClientType>>,
        search: Option<String>,
    ) -> Result<Option<Connection<Offset, Client, ListInfo>>, Error> {
        let window = Args { first, after, last, before }.window(PAGE)?;
        let mut types = types.unwrap_or_default();
        types.sort_by_key(|t| t.wire());
        types.dedup();
        let search = search.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 200) {
            return Err(bad_input("`search` is at most 200 characters"));
        }
        let search_type = if search.is_some() { search_types(&types)? } else { None };
        let pixieset = pixieset(ctx)?;
        let (types, search) = (&types, &search);
        let slice = slice(window, PAGE, Total::Reported, |page| async move {
            let paging = Paging { page: Some(page as u32), per_page: Some(PAGE as u32) };
            let page = match search {
                Some(text) => pixieset.search_clients(text, search_type, paging).await,
                None => {
                    let query = ClientQuery { paging, types: types.iter().map(|t| t.wire().to_string()).collect() };
                    pixieset.clients(&query).await
                }
            }
            .map_err(from_upstream)?;
            Ok(Page::of(&page.meta, page.data.iter().cloned().map(Arc::new).collect()))
        })
        .await?;
        Ok(Some(slice.into_connection(Client::full)))
    }

    /// Every client of the studio as Pixieset exports them: the CSV its client list names as
    /// `meta.csv_url` (`GET /clients/download_csv`), as text, with Pixieset's own columns;
    /// fetched with the request's credentials each time it is asked for, and at most 64 MiB.
    async fn clients_csv(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        // Read past the cache: an answer holding it is not kept either.
        crate::cache::reads::untracked();
        pixieset(ctx)?.clients_csv().await.map(Some).map_err(from_upstream)
    }

    /// One invoice by id. No Pixieset document describes reading one invoice: where the
    /// server has `GET /invoices/{id}` it is used, elsewhere the invoice is looked for among
    /// the 500 newest of the documented list.
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Invoice>, Error> {
        let id = ids::pixieset(&id, ids::INVOICE, "invoice")?;
        invoice_by_id(ctx, &id).await.map(Some)
    }

    /// Invoices, newest first; of one client with `clientId`.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        client_id: Option<ID>,
    ) -> Result<Option<Connection<Offset, Invoice, ListInfo>>, Error> {
        let client_id = client_id.map(|id| ids::pixieset(&id, ids::CLIENT, "client")).transpose()?;
        let query = InvoiceQuery { client_id, ..InvoiceQuery::default() };
        invoice::invoice_connection(ctx, query, Args { first, after, last, before }).await.map(Some)
    }

    /// One contract by id.
    async fn contract(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Contract>, Error> {
        let id = ids::pixieset(&id, ids::CONTRACT, "contract")?;
        contract_by_id(ctx, &id).await.map(Some)
    }

    /// Contracts, newest first. Their clients and templates come embedded in the
    /// same upstream call; only fields outside those summaries cost a batched fetch.
    #[graphql(complexity = "crate::graphql::limits::connection_cost(first, last, child_complexity)")]
    async fn contracts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Option<Connection<Offset, Contract, ListInfo>>, Error> {
        let window = Args { first, after, last, before }.window(PAGE)?;
        // One shape of list whatever is selected, so that a listed field reads the same
        // copy beside any neighbour; the summaries it embeds cost nothing extra.
        let expand = Expand::All;
        let pixieset = pixieset(ctx)?;
        let slice = slice(window, PAGE, Total::Reported, |page| async move {
            let paging = Paging { page: Some(page as u32), per_page: Some(PAGE as u32) };
            let page = pixieset.contracts(paging, expand).await.map_err(from_upstream)?;
            Ok(Page::of(&page.meta, page.data.iter().cloned().map(Arc::new).collect()))
        })
        .await?;
        Ok(Some(slice.into_connection(Contract::listed)))
    }

    /// One contract template by id.
    async fn contract_template(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ContractTemplate>, Error> {
        let id = ids::pixieset(&id, ids::CONTRACT_TEMPLATE, "contract template")?;
        contract_template_by_id(ctx, &id).await.map(Some)
    }

    /// Every contract template of the studio.
    async fn contract_templates(&self, ctx: &Context<'_>) -> Result<Option<Vec<ContractTemplate>>, Error> {
        contract_templates(ctx).await.map(Some)
    }
}
