//! Pixieset Studio, as one request's credentials see it.

use std::fmt::Debug;
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;

use super::{ById, DataSources, Loaded, get_or_fetch_list, load, loader, may_have_written};
use crate::cache::{Cache, Cacheable, Key, Kind};
use crate::upstream::pixieset::wire;
use crate::upstream::pixieset::{ClientQuery, Expand, InvoiceQuery, Paging};
use crate::upstream::{PixiesetClient, PixiesetCredentials, TenantKey, UpstreamError};

/// The invoice list's page size, shared with the `invoices` connection so the
/// by-id fallback reuses the pages a listing fetched.
pub const INVOICE_PAGE: u32 = 100;
/// How deep an invoice is looked for where the server has no `GET /invoices/{id}`;
/// `invoice(id:)`'s description says 500 (this times `INVOICE_PAGE`).
const INVOICE_SCAN_PAGES: u32 = 5;

#[derive(Clone, Debug)]
struct PixiesetSource {
    api: PixiesetClient,
    cache: Cache,
    credentials: PixiesetCredentials,
    tenant: TenantKey,
}

impl PixiesetSource {
    fn key(&self, kind: Kind, id: impl AsRef<str>) -> Key {
        Key::new(&self.tenant, kind, id)
    }

    async fn client(self, id: String) -> Loaded<wire::Client> {
        self.cache.get_or_fetch(self.key(Kind::Client, &id), || self.api.client(&self.credentials, &id)).await
    }

    /// From `GET /invoices/{id}` where the server has it; otherwise, and when it says
    /// not found or not allowed (no document describes it, so its word is not the last),
    /// from the documented list, newest first, looking no further than `INVOICE_SCAN_PAGES`
    /// pages, so an id that does not exist costs a bounded number of calls.
    async fn invoice(self, id: String) -> Loaded<wire::Invoice> {
        if self.api.has_invoice_endpoint() {
            let fetch = || self.api.invoice(&self.credentials, &id, false);
            match self.cache.get_or_fetch(self.key(Kind::Invoice, &id), fetch).await {
                Err(UpstreamError::NotFound { .. } | UpstreamError::Invalid { status: 405, .. }) => {}
                answer => return answer,
            }
        }
        // A write's answer, then what a list showed lately.
        for kind in [Kind::Invoice, Kind::InvoiceListed] {
            if let Some(held) = self.cache.get(&self.key(kind, &id)).await {
                return Ok(held);
            }
        }
        for page in 1..=INVOICE_SCAN_PAGES {
            let paging = Paging { page: Some(page), per_page: Some(INVOICE_PAGE) };
            let list = self.invoices(&InvoiceQuery { paging, ..InvoiceQuery::default() }).await?;
            if let Some(found) = list.data.iter().find(|invoice| invoice.id == id) {
                return Ok(Arc::new(found.clone()));
            }
            if list.data.is_empty() || list.meta.last_page.is_none_or(|last| i64::from(page) >= last) {
                break;
            }
        }
        Err(UpstreamError::NotFound {
            endpoint: crate::upstream::pixieset::LIST_INVOICES,
            code: None,
            message: Some(format!(
                "no invoice {id} among the newest {} (this Pixieset has no GET /invoices/{{id}})",
                INVOICE_SCAN_PAGES * INVOICE_PAGE
            )),
        })
    }

    async fn invoices(&self, query: &InvoiceQuery) -> Loaded<wire::Page<wire::Invoice>> {
        let key = self.key(
            Kind::InvoicePage,
            format!("{}&client={:?}&expand={}", paging_key(query.paging), query.client_id, query.expand_client),
        );
        let fetch = || self.api.invoices(&self.credentials, query);
        get_or_fetch_list(&self.cache, &self.tenant, key, fetch, Kind::InvoiceListed, |i| &i.id).await
    }

    async fn contract(self, id: String) -> Loaded<wire::Contract> {
        let fetch = || self.api.contract(&self.credentials, &id, Expand::All);
        self.cache.get_or_fetch(self.key(Kind::Contract, &id), fetch).await
    }

    async fn template(self, id: String) -> Loaded<wire::ContractTemplate> {
        let fetch = || self.api.contract_template(&self.credentials, &id);
        self.cache.get_or_fetch(self.key(Kind::ContractTemplate, &id), fetch).await
    }
}

/// Pixieset Pixieset, as one request's credentials see it.
pub struct Pixieset {
    source: PixiesetSource,
    clients: DataLoader<ById<PixiesetSource, wire::Client>>,
    invoices: DataLoader<ById<PixiesetSource, wire::Invoice>>,
    contracts: DataLoader<ById<PixiesetSource, wire::Contract>>,
    templates: DataLoader<ById<PixiesetSource, wire::ContractTemplate>>,
}

fn paging_key(paging: Paging) -> String {
    format!("page={:?}&size={:?}", paging.page, paging.per_page)
}

impl Pixieset {
    pub(super) fn new(sources: &DataSources, credentials: PixiesetCredentials) -> Self {
        let source = PixiesetSource {
            api: sources.upstreams.pixieset.clone(),
            cache: sources.cache.clone(),
            tenant: credentials.tenant().clone(),
            credentials,
        };
        Self {
            clients: loader(sources.lookups, "client", &source, |s, id| Box::pin(s.client(id))),
            invoices: loader(sources.lookups, "invoice", &source, |s, id| Box::pin(s.invoice(id))),
            contracts: loader(sources.lookups, "contract", &source, |s, id| Box::pin(s.contract(id))),
            templates: loader(sources.lookups, "contract_template", &source, |s, id| Box::pin(s.template(id))),
            source,
        }
    }

    pub fn tenant(&self) -> &TenantKey {
        &self.source.tenant
    }

    pub async fn client(&self, id: &str) -> Loaded<wire::Client> {
        load(&self.clients, &self.source, id).await
    }

    pub async fn invoice(&self, id: &str) -> Loaded<wire::Invoice> {
        load(&self.invoices, &self.source, id).await
    }

    /// A contract in full: content, signatures, client and template summaries.
    pub async fn contract(&self, id: &str) -> Loaded<wire::Contract> {
        load(&self.contracts, &self.source, id).await
    }

    pub async fn contract_template(&self, id: &str) -> Loaded<wire::ContractTemplate> {
        load(&self.templates, &self.source, id).await
    }

    pub async fn clients(&self, query: &ClientQuery) -> Loaded<wire::Page<wire::Client>> {
        let s = &self.source;
        let key = s.key(Kind::ClientPage, format!("{}&types={}", paging_key(query.paging), query.types.join(",")));
        get_or_fetch_list(&s.cache, &s.tenant, key, || s.api.clients(&s.credentials, query), Kind::Client, |c| &c.id)
            .await
    }

    pub async fn search_clients(
        &self,
        text: &str,
        types: Option<&str>,
        paging: Paging,
    ) -> Loaded<wire::Page<wire::Client>> {
        let s = &self.source;
        let key = s.key(Kind::ClientSearch, format!("{}&types={types:?}&q={text}", paging_key(paging)));
        get_or_fetch_list(
            &s.cache,
            &s.tenant,
            key,
            || s.api.search_clients(&s.credentials, text, types, paging),
            Kind::Client,
            |c| &c.id,
        )
        .await
    }

    pub async fn invoices(&self, query: &InvoiceQuery) -> Loaded<wire::Page<wire::Invoice>> {
        self.source.invoices(query).await
    }

    /// A page of contracts. Its items are not cached one by one: a contract by id is
    /// always read whole, since a list's item may disagree with it.
    pub async fn contracts(&self, paging: Paging, expand: Expand) -> Loaded<wire::Page<wire::Contract>> {
        let s = &self.source;
        let key = s.key(Kind::ContractPage, format!("{}&expand={expand:?}", paging_key(paging)));
        s.cache.get_or_fetch(key, || s.api.contracts(&s.credentials, paging, expand)).await
    }

    pub async fn contract_templates(&self) -> Loaded<wire::Page<wire::ContractTemplate>> {
        let s = &self.source;
        let key = s.key(Kind::ContractTemplateList, "");
        s.cache.get_or_fetch(key, || s.api.contract_templates(&s.credentials)).await
    }

    pub async fn collections(&self, client_id: &str, paging: Paging) -> Loaded<wire::Page<wire::Collection>> {
        let s = &self.source;
        let key = s.key(Kind::ClientCollections, format!("{client_id}&{}", paging_key(paging)));
        s.cache.get_or_fetch(key, || s.api.client_collections(&s.credentials, client_id, paging)).await
    }

    async fn forget(&self, kinds: &[Kind]) {
        self.source.cache.invalidate_kinds(&self.source.tenant, kinds).await;
    }

    /// What a write leaves behind: the lists it may have changed dropped (also when its
    /// outcome is unknown) and, when it answered, its answer stored under `kind`; both at
    /// once, so the write waits for one round of the other instances' confirmations, not two.
    async fn written<T: Cacheable>(
        &self,
        answer: Result<T, UpstreamError>,
        lists: &[Kind],
        kind: Kind,
        id: impl FnOnce(&T) -> String,
    ) -> Loaded<T> {
        let wrote = may_have_written(&answer);
        let forgetting = async move {
            if wrote {
                self.forget(lists).await;
            }
        };
        match answer {
            Ok(value) => {
                let id = id(&value);
                let ((), value) = tokio::join!(forgetting, self.remember(kind, &id, value));
                Ok(value)
            }
            Err(error) => {
                forgetting.await;
                Err(error)
            }
        }
    }

    async fn remember<T: Cacheable>(&self, kind: Kind, id: &str, value: T) -> Arc<T> {
        let value = Arc::new(value);
        self.source.cache.insert_written(self.source.key(kind, id), value.clone()).await;
        value
    }

    pub async fn create_client(&self, input: &wire::ClientInput) -> Loaded<wire::Client> {
        let s = &self.source;
        let created = s.api.create_client(&s.credentials, input).await;
        self.written(created, &[Kind::ClientPage, Kind::ClientSearch], Kind::Client, |client| client.id.clone()).await
    }

    /// Lists and contracts embed client summaries, so they go too.
    pub async fn update_client(&self, id: &str, input: &wire::ClientInput) -> Loaded<wire::Client> {
        let s = &self.source;
        let updated = s.api.update_client(&s.credentials, id, input).await;
        self.written(updated, Kind::Client.copies(), Kind::Client, |_| id.to_string()).await
    }

    pub async fn create_invoice(&self, invoice: &wire::NewInvoice) -> Loaded<wire::Invoice> {
        let s = &self.source;
        let created = s.api.create_invoice(&s.credentials, invoice).await;
        self.written(created, Kind::Invoice.copies(), Kind::Invoice, |invoice| invoice.id.clone()).await
    }

    /// The studio's client export, asked of Pixieset each time: an export is asked for to be
    /// current, and it is too large to hold beside the records it repeats.
    pub async fn clients_csv(&self) -> Result<String, UpstreamError> {
        self.source.api.clients_csv(&self.source.credentials).await
    }

    /// Clients found by searching for `email`, asked of Pixieset now, past every cache (whether a
    /// write was made), and whether every page was read.
    pub async fn search_clients_now(&self, email: &str) -> Result<(Vec<wire::Client>, bool), UpstreamError> {
        let s = &self.source;
        every_page(|page| s.api.search_clients(&s.credentials, email, Some("all"), page)).await
    }

    /// A client's invoices, asked of Pixieset now, past every cache, and whether every page was read.
    pub async fn invoices_now(&self, client_id: &str) -> Result<(Vec<wire::Invoice>, bool), UpstreamError> {
        let s = &self.source;
        every_page(|paging| {
            let query = InvoiceQuery { paging, client_id: Some(client_id.to_string()), expand_client: false };
            async move { s.api.invoices(&s.credentials, &query).await }
        })
        .await
    }

    /// Pixieset answers only the changed fields, so the template is read back whole.
    pub async fn update_contract_template(
        &self,
        id: &str,
        input: &wire::ContractTemplateInput,
    ) -> Loaded<wire::ContractTemplate> {
        let s = &self.source;
        s.api.update_contract_template(&s.credentials, id, input).await?;
        s.cache.invalidate::<wire::ContractTemplate>(&s.key(Kind::ContractTemplate, id)).await;
        self.forget(Kind::ContractTemplate.copies()).await;
        s.clone().template(id.to_string()).await
    }

    /// A page of a client's documents; with `gift_card_activities`, asked to embed those.
    pub async fn documents(
        &self,
        client_id: &str,
        page: u32,
        gift_card_activities: bool,
    ) -> Loaded<wire::Page<wire::Document>> {
        let s = &self.source;
        let key = s.key(Kind::ClientDocuments, format!("{client_id}&page={page}&gift_cards={gift_card_activities}"));
        let fetch = || s.api.client_documents(&s.credentials, client_id, Some(page), gift_card_activities);
        s.cache.get_or_fetch(key, fetch).await
    }
}

/// How many pages a look for a write reads before saying it could not read them all.
const PAGES_TO_SETTLE: u32 = 5;

/// The items of a list's pages, up to `PAGES_TO_SETTLE` of them, as the upstream's paging says;
/// and whether that was every page.
async fn every_page<T, F, Fut>(read: F) -> Result<(Vec<T>, bool), UpstreamError>
where
    F: Fn(Paging) -> Fut,
    Fut: std::future::Future<Output = Result<wire::Page<T>, UpstreamError>>,
{
    let mut items = Vec::new();
    for page in 1..=PAGES_TO_SETTLE {
        let answer = read(Paging { page: Some(page), per_page: Some(100) }).await?;
        let empty = answer.data.is_empty();
        items.extend(answer.data);
        let last = match (answer.meta.current_page, answer.meta.last_page) {
            (Some(current), Some(last)) => current >= last,
            _ => answer.meta.total.is_some_and(|total| items.len() as i64 >= total),
        };
        if last || empty {
            return Ok((items, true));
        }
    }
    Ok((items, false))
}
