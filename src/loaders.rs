//! Data access for one request. By-id lookups go through DataLoaders, which
//! gather every id a level of the query asks for, drop duplicates and fetch
//! them concurrently: one round trip per level of nesting, not per object.
//! Everything fetched passes through the shared cache under the caller's
//! tenant key; objects that arrive inside a list are cached one by one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Debug;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use chrono::NaiveDate;
use futures_util::future::{BoxFuture, join_all};

use crate::auth::{Credentials, Unavailable};
use crate::cache::{Cache, Key, Kind};
use crate::upstream::pixelz::wire as pz;
use crate::upstream::pixieset::wire as ps;
use crate::upstream::pixieset::{ClientQuery, Expand, InvoiceQuery, Paging};
use crate::upstream::{
    PixelzClient, PixelzCredentials, PixiesetClient, PixiesetCredentials, TenantKey, UpstreamError, Upstreams,
};

pub type Loaded<T> = Result<Arc<T>, UpstreamError>;

/// Shared by every request.
#[derive(Clone, Debug)]
pub struct DataSources {
    pub upstreams: Upstreams,
    pub cache: Cache,
    /// Off only to measure what batching saves.
    pub batching: bool,
    /// Serve relations from the summaries lists embed; off only to measure what that saves.
    pub embedded_summaries: bool,
}

/// What one request reads with: per upstream, a source or the reason there is none.
pub struct Loaders {
    pub studio: Result<Studio, Unavailable>,
    pub retouching: Result<Retouching, Unavailable>,
    pub embedded_summaries: bool,
}

impl Loaders {
    pub fn new(sources: &DataSources, credentials: Credentials) -> Self {
        Self {
            studio: credentials.pixieset.map(|c| Studio::new(sources, c)),
            retouching: credentials.pixelz.map(|c| Retouching::new(sources, c)),
            embedded_summaries: sources.embedded_summaries,
        }
    }
}

/// A loader of one kind of object by id, over a fetch function.
struct ById<S, V> {
    /// What it loads, as the batch-size metric names it.
    name: &'static str,
    source: S,
    fetch: fn(S, String) -> BoxFuture<'static, Loaded<V>>,
}

impl<S, V> Loader<String> for ById<S, V>
where
    S: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    type Value = Loaded<V>;
    type Error = Infallible;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, Loaded<V>>, Infallible> {
        metrics::histogram!(crate::telemetry::metrics::LOADER_BATCH_SIZE, "loader" => self.name)
            .record(ids.len() as f64);
        let loads = ids.iter().map(|id| {
            let fetch = (self.fetch)(self.source.clone(), id.clone());
            async move { (id.clone(), fetch.await) }
        });
        Ok(join_all(loads).await.into_iter().collect())
    }
}

fn loader<S, V>(
    name: &'static str,
    source: &S,
    fetch: fn(S, String) -> BoxFuture<'static, Loaded<V>>,
) -> DataLoader<ById<S, V>>
where
    S: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    DataLoader::new(ById { name, source: source.clone(), fetch }, crate::request_id::spawn)
}

async fn load<S, V>(batching: bool, loader: &DataLoader<ById<S, V>>, source: &S, id: &str) -> Loaded<V>
where
    S: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    let fetch = loader.loader().fetch;
    if batching {
        let Ok(loaded) = loader.load_one(id.to_string()).await;
        if let Some(loaded) = loaded {
            return loaded;
        }
    }
    fetch(source.clone(), id.to_string()).await
}

/// A list through the cache. Its objects are cached one by one, so a later lookup by id
/// costs nothing, when the list is fetched: doing it on every hit cost more than the hit.
async fn get_or_fetch_list<L, T, Fut>(
    cache: &Cache,
    tenant: &TenantKey,
    key: Key,
    fetch: impl FnOnce() -> Fut,
    kind: Kind,
    id: impl Fn(&T) -> &str,
) -> Loaded<L>
where
    L: AsRef<[T]> + Debug + Send + Sync + 'static,
    T: Debug + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<L, UpstreamError>>,
{
    cache
        .get_or_fetch(key, || async {
            let list = fetch().await?;
            for item in list.as_ref() {
                cache.insert(Key::new(tenant, kind, id(item)), Arc::new(item.clone())).await;
            }
            Ok(list)
        })
        .await
}

// ---------------------------------------------------------------- Pixieset

/// The invoice list's page size, shared with the `invoices` connection so the
/// by-id fallback reuses the pages a listing fetched.
pub const INVOICE_PAGE: u32 = 100;
/// How deep an invoice is looked for where the server has no `GET /invoices/{id}`;
/// `invoice(id:)`'s description says 500 (this times `INVOICE_PAGE`).
const INVOICE_SCAN_PAGES: u32 = 5;

#[derive(Clone, Debug)]
struct StudioSource {
    api: PixiesetClient,
    cache: Cache,
    credentials: PixiesetCredentials,
    tenant: TenantKey,
}

impl StudioSource {
    fn key(&self, kind: Kind, id: impl AsRef<str>) -> Key {
        Key::new(&self.tenant, kind, id)
    }

    async fn client(self, id: String) -> Loaded<ps::Client> {
        self.cache.get_or_fetch(self.key(Kind::Client, &id), || self.api.client(&self.credentials, &id)).await
    }

    /// From `GET /invoices/{id}` where the server has it; otherwise from the
    /// documented list, newest first, looking no further than `INVOICE_SCAN_PAGES`
    /// pages, so an id that does not exist costs a bounded number of calls.
    async fn invoice(self, id: String) -> Loaded<ps::Invoice> {
        if self.api.has_invoice_endpoint() {
            let fetch = || self.api.invoice(&self.credentials, &id, false);
            match self.cache.get_or_fetch(self.key(Kind::Invoice, &id), fetch).await {
                Err(UpstreamError::NotFound { code: None, .. }) if !self.api.has_invoice_endpoint() => {}
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

    async fn invoices(&self, query: &InvoiceQuery) -> Loaded<ps::Page<ps::Invoice>> {
        let key = self.key(
            Kind::InvoicePage,
            format!("{}&client={:?}&expand={}", paging_key(query.paging), query.client_id, query.expand_client),
        );
        let fetch = || self.api.invoices(&self.credentials, query);
        get_or_fetch_list(&self.cache, &self.tenant, key, fetch, Kind::InvoiceListed, |i| &i.id).await
    }

    async fn contract(self, id: String) -> Loaded<ps::Contract> {
        let fetch = || self.api.contract(&self.credentials, &id, Expand::All);
        self.cache.get_or_fetch(self.key(Kind::Contract, &id), fetch).await
    }

    async fn template(self, id: String) -> Loaded<ps::ContractTemplate> {
        let fetch = || self.api.contract_template(&self.credentials, &id);
        self.cache.get_or_fetch(self.key(Kind::ContractTemplate, &id), fetch).await
    }
}

/// Pixieset Studio, as one request's credentials see it.
pub struct Studio {
    source: StudioSource,
    batching: bool,
    clients: DataLoader<ById<StudioSource, ps::Client>>,
    invoices: DataLoader<ById<StudioSource, ps::Invoice>>,
    contracts: DataLoader<ById<StudioSource, ps::Contract>>,
    templates: DataLoader<ById<StudioSource, ps::ContractTemplate>>,
}

fn paging_key(paging: Paging) -> String {
    format!("page={:?}&size={:?}", paging.page, paging.per_page)
}

impl Studio {
    fn new(sources: &DataSources, credentials: PixiesetCredentials) -> Self {
        let source = StudioSource {
            api: sources.upstreams.pixieset.clone(),
            cache: sources.cache.clone(),
            tenant: credentials.tenant(),
            credentials,
        };
        Self {
            batching: sources.batching,
            clients: loader("client", &source, |s, id| Box::pin(s.client(id))),
            invoices: loader("invoice", &source, |s, id| Box::pin(s.invoice(id))),
            contracts: loader("contract", &source, |s, id| Box::pin(s.contract(id))),
            templates: loader("contract_template", &source, |s, id| Box::pin(s.template(id))),
            source,
        }
    }

    pub fn tenant(&self) -> &TenantKey {
        &self.source.tenant
    }

    pub async fn client(&self, id: &str) -> Loaded<ps::Client> {
        load(self.batching, &self.clients, &self.source, id).await
    }

    pub async fn invoice(&self, id: &str) -> Loaded<ps::Invoice> {
        load(self.batching, &self.invoices, &self.source, id).await
    }

    /// A contract in full: content, signatures, client and template summaries.
    pub async fn contract(&self, id: &str) -> Loaded<ps::Contract> {
        load(self.batching, &self.contracts, &self.source, id).await
    }

    pub async fn contract_template(&self, id: &str) -> Loaded<ps::ContractTemplate> {
        load(self.batching, &self.templates, &self.source, id).await
    }

    pub async fn clients(&self, query: &ClientQuery) -> Loaded<ps::Page<ps::Client>> {
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
    ) -> Loaded<ps::Page<ps::Client>> {
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

    pub async fn invoices(&self, query: &InvoiceQuery) -> Loaded<ps::Page<ps::Invoice>> {
        self.source.invoices(query).await
    }

    /// A page of contracts. Its items are not cached one by one: a contract by id is
    /// always read whole, since a list's item may disagree with it.
    pub async fn contracts(&self, paging: Paging, expand: Expand) -> Loaded<ps::Page<ps::Contract>> {
        let s = &self.source;
        let key = s.key(Kind::ContractPage, format!("{}&expand={expand:?}", paging_key(paging)));
        s.cache.get_or_fetch(key, || s.api.contracts(&s.credentials, paging, expand)).await
    }

    pub async fn contract_templates(&self) -> Loaded<ps::Page<ps::ContractTemplate>> {
        let s = &self.source;
        let key = s.key(Kind::ContractTemplateList, "");
        s.cache.get_or_fetch(key, || s.api.contract_templates(&s.credentials)).await
    }

    pub async fn collections(&self, client_id: &str, paging: Paging) -> Loaded<ps::Page<ps::Collection>> {
        let s = &self.source;
        let key = s.key(Kind::ClientCollections, format!("{client_id}&{}", paging_key(paging)));
        s.cache.get_or_fetch(key, || s.api.client_collections(&s.credentials, client_id, paging)).await
    }

    fn forget(&self, kinds: &[Kind]) {
        for kind in kinds {
            self.source.cache.invalidate_kind(&self.source.tenant, *kind);
        }
    }

    async fn remember<T: Debug + Send + Sync + 'static>(&self, kind: Kind, id: &str, value: T) -> Arc<T> {
        let value = Arc::new(value);
        self.source.cache.insert(self.source.key(kind, id), value.clone()).await;
        value
    }

    pub async fn create_client(&self, input: &ps::ClientInput) -> Loaded<ps::Client> {
        let s = &self.source;
        let client = s.api.create_client(&s.credentials, input).await?;
        self.forget(&[Kind::ClientPage, Kind::ClientSearch]);
        Ok(self.remember(Kind::Client, &client.id.clone(), client).await)
    }

    /// Lists and contracts embed client summaries, so they go too.
    pub async fn update_client(&self, id: &str, input: &ps::ClientInput) -> Loaded<ps::Client> {
        let s = &self.source;
        let client = s.api.update_client(&s.credentials, id, input).await?;
        self.forget(&[
            Kind::ClientPage,
            Kind::ClientSearch,
            Kind::InvoicePage,
            Kind::InvoiceListed,
            Kind::ContractPage,
            Kind::Contract,
        ]);
        Ok(self.remember(Kind::Client, id, client).await)
    }

    pub async fn create_invoice(&self, invoice: &ps::NewInvoice) -> Loaded<ps::Invoice> {
        let s = &self.source;
        let created = s.api.create_invoice(&s.credentials, invoice).await?;
        self.forget(&[Kind::InvoicePage, Kind::InvoiceListed, Kind::ClientDocuments]);
        Ok(self.remember(Kind::Invoice, &created.id.clone(), created).await)
    }

    /// Pixieset answers only the changed fields, so the template is read back whole.
    pub async fn update_contract_template(
        &self,
        id: &str,
        input: &ps::ContractTemplateInput,
    ) -> Loaded<ps::ContractTemplate> {
        let s = &self.source;
        s.api.update_contract_template(&s.credentials, id, input).await?;
        s.cache.invalidate::<ps::ContractTemplate>(&s.key(Kind::ContractTemplate, id)).await;
        self.forget(&[Kind::ContractTemplateList, Kind::ContractPage, Kind::Contract]);
        s.clone().template(id.to_string()).await
    }

    /// A page of a client's documents; with `gift_card_activities`, asked to embed those.
    pub async fn documents(
        &self,
        client_id: &str,
        page: u32,
        gift_card_activities: bool,
    ) -> Loaded<ps::Page<ps::Document>> {
        let s = &self.source;
        let key = s.key(Kind::ClientDocuments, format!("{client_id}&page={page}&gift_cards={gift_card_activities}"));
        let fetch = || s.api.client_documents(&s.credentials, client_id, Some(page), gift_card_activities);
        s.cache.get_or_fetch(key, fetch).await
    }
}

// ---------------------------------------------------------------- Pixelz

#[derive(Clone, Debug)]
struct RetouchingSource {
    api: PixelzClient,
    cache: Cache,
    credentials: PixelzCredentials,
    tenant: TenantKey,
}

impl RetouchingSource {
    fn key(&self, kind: Kind, id: impl AsRef<str>) -> Key {
        Key::new(&self.tenant, kind, id)
    }

    async fn template(self, id: String) -> Loaded<pz::Template> {
        let key = self.key(Kind::PixelzTemplate, &id);
        // Ids are checked before any lookup; a non-number here matches no template.
        let fetch = || async {
            let not_found = || UpstreamError::NotFound {
                endpoint: crate::upstream::pixelz::GET_TEMPLATE,
                code: None,
                message: None,
            };
            self.api.template(&self.credentials, id.parse().map_err(|_| not_found())?).await
        };
        self.cache.get_or_fetch(key, fetch).await
    }

    async fn image(self, ticket: String) -> Loaded<pz::ImageStatus> {
        let reference = pz::ImageRef::Ticket(ticket.clone());
        let fetch = || self.api.image_status(&self.credentials, &reference);
        self.cache.get_or_fetch(self.key(Kind::PixelzImage, &ticket), fetch).await
    }
}

/// Pixelz, as one request's credentials see it.
pub struct Retouching {
    source: RetouchingSource,
    batching: bool,
    templates: DataLoader<ById<RetouchingSource, pz::Template>>,
    images: DataLoader<ById<RetouchingSource, pz::ImageStatus>>,
}

impl Retouching {
    fn new(sources: &DataSources, credentials: PixelzCredentials) -> Self {
        let source = RetouchingSource {
            api: sources.upstreams.pixelz.clone(),
            cache: sources.cache.clone(),
            tenant: credentials.tenant(),
            credentials,
        };
        Self {
            batching: sources.batching,
            templates: loader("pixelz_template", &source, |s, id| Box::pin(s.template(id))),
            images: loader("pixelz_image", &source, |s, ticket| Box::pin(s.image(ticket))),
            source,
        }
    }

    pub fn tenant(&self) -> &TenantKey {
        &self.source.tenant
    }

    pub async fn template(&self, id: &str) -> Loaded<pz::Template> {
        load(self.batching, &self.templates, &self.source, id).await
    }

    pub async fn templates(&self) -> Loaded<Vec<pz::TemplateSummary>> {
        let s = &self.source;
        s.cache.get_or_fetch(s.key(Kind::PixelzTemplateList, ""), || s.api.templates(&s.credentials)).await
    }

    pub async fn image(&self, ticket: &str) -> Loaded<pz::ImageStatus> {
        load(self.batching, &self.images, &self.source, ticket).await
    }

    pub async fn image_by_customer_id(&self, customer_image_id: &str) -> Loaded<pz::ImageStatus> {
        let s = &self.source;
        let reference = pz::ImageRef::CustomerImageId(customer_image_id.to_string());
        let key = s.key(Kind::PixelzImage, format!("customer:{customer_image_id}"));
        s.cache.get_or_fetch(key, || s.api.image_status(&s.credentials, &reference)).await
    }

    pub async fn images(&self, query: &pz::ImageQuery) -> Loaded<Vec<pz::ImageStatus>> {
        let s = &self.source;
        let key = s.key(Kind::PixelzImagePage, format!("{query:?}"));
        get_or_fetch_list(
            &s.cache,
            &s.tenant,
            key,
            || s.api.images(&s.credentials, query),
            Kind::PixelzImage,
            |i| &i.image_ticket,
        )
        .await
    }

    pub async fn image_count(
        &self,
        status: Option<i64>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Loaded<i64> {
        let s = &self.source;
        let key = s.key(Kind::PixelzImageCount, format!("{status:?}&{from:?}&{to:?}"));
        s.cache.get_or_fetch(key, || s.api.count_images(&s.credentials, status, from, to)).await
    }

    pub async fn products(&self, page: u32, per_page: u32) -> Loaded<Vec<pz::ProductStatistic>> {
        let s = &self.source;
        let key = s.key(Kind::PixelzProductPage, format!("{page}&{per_page}"));
        s.cache.get_or_fetch(key, || s.api.product_ids(&s.credentials, Some(page), Some(per_page))).await
    }

    pub async fn account(&self) -> Loaded<pz::Contact> {
        let s = &self.source;
        s.cache.get_or_fetch(s.key(Kind::PixelzAccount, ""), || s.api.contact(&s.credentials)).await
    }

    fn forget(&self, kinds: &[Kind]) {
        for kind in kinds {
            self.source.cache.invalidate_kind(&self.source.tenant, *kind);
        }
    }

    pub fn credentials(&self) -> &PixelzCredentials {
        &self.source.credentials
    }

    /// A new image changes the lists, counts, product statistics and the balance.
    pub async fn submit_image(
        &self,
        image: &pz::ImageSubmission,
        white_glove: bool,
    ) -> Result<pz::SubmittedImage, UpstreamError> {
        let s = &self.source;
        let submitted = if white_glove {
            s.api.request_white_glove(&s.credentials, image).await?
        } else {
            s.api.submit_image(&s.credentials, image).await?
        };
        self.forget(&[Kind::PixelzImagePage, Kind::PixelzImageCount, Kind::PixelzProductPage, Kind::PixelzAccount]);
        Ok(submitted)
    }

    pub async fn delete_image(&self, image: &pz::ImageRef) -> Result<(), UpstreamError> {
        let s = &self.source;
        s.api.delete_image(&s.credentials, image).await?;
        self.forget(&[Kind::PixelzImage, Kind::PixelzImagePage, Kind::PixelzImageCount, Kind::PixelzProductPage]);
        Ok(())
    }

    pub async fn reject_image(&self, image: &pz::ImageRef, comment: Option<&str>) -> Result<(), UpstreamError> {
        let s = &self.source;
        s.api.reject_image(&s.credentials, image, comment).await?;
        self.forget(&[Kind::PixelzImage, Kind::PixelzImagePage, Kind::PixelzImageCount, Kind::PixelzProductPage]);
        Ok(())
    }

    pub async fn create_template(&self, template: &pz::NewTemplate) -> Result<pz::CreatedTemplate, UpstreamError> {
        let s = &self.source;
        let created = s.api.create_template(&s.credentials, template).await?;
        self.forget(&[Kind::PixelzTemplateList]);
        Ok(created)
    }

    /// Acts as a developer with the request's own credentials.
    pub async fn create_contact(&self, contact: &pz::NewContact) -> Result<pz::CreatedContact, UpstreamError> {
        self.source.api.create_contact(&self.source.credentials, contact).await
    }

    pub async fn invoices(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        page: u32,
        return_url: Option<&str>,
    ) -> Loaded<Vec<pz::Invoice>> {
        let s = &self.source;
        // The return URL is in every payment link, so each one is a list of its own.
        let key = s.key(Kind::PixelzInvoicePage, format!("{from:?}&{to:?}&{page}&{return_url:?}"));
        s.cache.get_or_fetch(key, || s.api.invoices(&s.credentials, from, to, Some(page), return_url)).await
    }
}
