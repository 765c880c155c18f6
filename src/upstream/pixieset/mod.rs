//! The Pixieset Studio client: cookie auth, the XHR headers the documents send,
//! and `{ data, meta, links }` answers.

pub mod wire;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::transport::{Retry, Transport, malformed};
use super::{Api, Endpoint, PixiesetCredentials, UpstreamError, UpstreamSettings, Verb, url_with};
use crate::lock::locked;
use wire::*;

const LIST_CLIENTS: Endpoint = Endpoint::pixieset(Verb::Get, "/clients/");
const SEARCH_CLIENTS: Endpoint = Endpoint::pixieset(Verb::Get, "/clients/search");
const GET_CLIENT: Endpoint = Endpoint::pixieset(Verb::Get, "/clients/{client_id}");
const UPDATE_CLIENT: Endpoint = Endpoint::pixieset(Verb::Put, "/clients/{client_id}");
const CREATE_CLIENT: Endpoint = Endpoint::pixieset(Verb::Post, "/clients/");
/// The client list's `meta.csv_url` names it; the documents give no other way there.
const CLIENTS_CSV: Endpoint = Endpoint::pixieset(Verb::Get, "/clients/download_csv");
const CLIENT_COLLECTIONS: Endpoint = Endpoint::pixieset(Verb::Get, "/clients/{client_id}/cgCollections/");
const CLIENT_DOCUMENTS: Endpoint = Endpoint::pixieset(Verb::Get, "/clients/{client_id}/documents");
pub(crate) const LIST_INVOICES: Endpoint = Endpoint::pixieset(Verb::Get, "/invoices/");
const GET_INVOICE: Endpoint = Endpoint::pixieset(Verb::Get, "/invoices/{invoice_id}");
const CREATE_INVOICE: Endpoint = Endpoint::pixieset(Verb::Post, "/invoices/");
const LIST_CONTRACTS: Endpoint = Endpoint::pixieset(Verb::Get, "/contracts/");
const GET_CONTRACT: Endpoint = Endpoint::pixieset(Verb::Get, "/contracts/{contract_id}");
const LIST_TEMPLATES: Endpoint = Endpoint::pixieset(Verb::Get, "/templates/contracts");
pub(crate) const GET_TEMPLATE: Endpoint = Endpoint::pixieset(Verb::Get, "/templates/contracts/{template_id}");
const UPDATE_TEMPLATE: Endpoint = Endpoint::pixieset(Verb::Put, "/templates/contracts/{template_id}");

/// What a list embeds beside each item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expand {
    #[default]
    None,
    /// A client summary.
    Client,
    /// Everything: client and template summaries, and a contract's rendered content.
    All,
}

impl Expand {
    fn param(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Client => Some("client"),
            Self::All => Some("all"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Paging {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Clone, Debug, Default)]
pub struct ClientQuery {
    pub paging: Paging,
    /// `client`, `lead`, `other`; empty for all.
    pub types: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct InvoiceQuery {
    pub paging: Paging,
    pub client_id: Option<String>,
    pub expand_client: bool,
}

type Query = Vec<(&'static str, String)>;

fn paging(query: &mut Query, paging: Paging, per_page_name: &'static str) {
    if let Some(page) = paging.page {
        query.push(("page", page.to_string()));
    }
    if let Some(per_page) = paging.per_page {
        query.push((per_page_name, per_page.to_string()));
    }
}

#[derive(Clone, Debug)]
pub struct PixiesetClient {
    transport: Transport,
    base: Url,
    /// When this server last showed it has no `GET /invoices/{id}` (a 404 without a code of
    /// Pixieset's, or a 405): no document describes that endpoint, so invoices are then found in
    /// the documented list, until `ENDPOINT_MEMORY` has passed and the endpoint is asked again.
    /// Each client speaks to one base URL, so what it learns is that server's alone.
    invoice_endpoint_missing: Arc<Mutex<Option<Instant>>>,
}

/// How long a server's missing `GET /invoices/{id}` is believed before it is asked again.
pub const ENDPOINT_MEMORY: Duration = Duration::from_secs(10 * 60);

impl PixiesetClient {
    pub(crate) fn new(http: reqwest::Client, base: Url, settings: UpstreamSettings) -> Self {
        Self {
            transport: Transport::new(Api::Pixieset, http, settings),
            base,
            invoice_endpoint_missing: Arc::default(),
        }
    }

    /// Whether `GET /invoices/{id}` may exist here: true unless a call lately showed otherwise.
    pub fn has_invoice_endpoint(&self) -> bool {
        locked(&self.invoice_endpoint_missing).is_none_or(|since| since.elapsed() >= ENDPOINT_MEMORY)
    }

    /// One call, its answer read by `read`.
    async fn exchange<T>(
        &self,
        credentials: &PixiesetCredentials,
        endpoint: Endpoint,
        segments: &[&str],
        query: Query,
        body: Option<&impl Serialize>,
        read: impl Fn(StatusCode, &[u8]) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let secrets = [credentials.cookie().expose()];
        let url = url_with(&self.base, segments);
        let body = body.map(serde_json::to_vec).transpose().map_err(|e| UpstreamError::Invalid {
            endpoint,
            status: 0,
            message: format!("cannot encode the request: {e}"),
            details: None,
        })?;
        // Even a PUT is not repeated once it may have arrived: an overwrite sent again could
        // undo a change another client made in between.
        let retry = if endpoint.verb == Verb::Get { Retry::Idempotent } else { Retry::UnlessSent };
        let build = || {
            let mut request = self
                .transport
                .http
                .request(endpoint.verb.method(), url.clone())
                .header(COOKIE, credentials.cookie().expose())
                .header("X-Requested-With", "XMLHttpRequest")
                .header(CONTENT_TYPE, "application/json");
            if !query.is_empty() {
                request = request.query(&query);
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            request
        };
        self.transport.call(endpoint, retry, credentials.tenant(), &secrets, build, read).await
    }

    /// Every client as Pixieset exports them: the CSV behind the client list's `meta.csv_url`,
    /// as text, as the server wrote it.
    pub async fn clients_csv(&self, credentials: &PixiesetCredentials) -> Result<String, UpstreamError> {
        let read = |status: StatusCode, bytes: &[u8]| {
            String::from_utf8(bytes.to_vec()).map_err(|_| UpstreamError::Malformed {
                endpoint: CLIENTS_CSV,
                status: status.as_u16(),
                reason: "the export is not UTF-8 text".into(),
                excerpt: String::new(),
            })
        };
        self.exchange(credentials, CLIENTS_CSV, &["clients", "download_csv"], Query::new(), None::<&()>, read).await
    }

    /// Whether Pixieset answered lately, probing without credentials when nothing was heard.
    pub async fn health(&self) -> Option<super::health::Heard> {
        let url = url_with(&self.base, &["clients", ""]);
        let probe = || {
            self.transport
                .http
                .get(url)
                .header("X-Requested-With", "XMLHttpRequest")
                .header(CONTENT_TYPE, "application/json")
        };
        self.transport.health.check(probe).await
    }

    /// A read: the answer as JSON.
    async fn get<T: DeserializeOwned>(
        &self,
        credentials: &PixiesetCredentials,
        endpoint: Endpoint,
        segments: &[&str],
        query: Query,
    ) -> Result<T, UpstreamError> {
        self.exchange(credentials, endpoint, segments, query, None::<&()>, json(endpoint, credentials)).await
    }

    /// A write: `body` as JSON, and the object Pixieset answers under `data`.
    async fn send<T: DeserializeOwned>(
        &self,
        credentials: &PixiesetCredentials,
        endpoint: Endpoint,
        segments: &[&str],
        body: &impl Serialize,
    ) -> Result<T, UpstreamError> {
        let answer: Data<T> = self
            .exchange(credentials, endpoint, segments, Query::new(), Some(body), json(endpoint, credentials))
            .await?;
        Ok(answer.data)
    }

    pub async fn clients(
        &self,
        credentials: &PixiesetCredentials,
        params: &ClientQuery,
    ) -> Result<Page<Client>, UpstreamError> {
        let mut query = Query::new();
        paging(&mut query, params.paging, "per_page");
        if !params.types.is_empty() {
            query.push(("types", params.types.join(",")));
        }
        self.get(credentials, LIST_CLIENTS, &["clients", ""], query).await
    }

    /// Search by name, email, phone or company. `types` is `all`, `client` or `lead`.
    pub async fn search_clients(
        &self,
        credentials: &PixiesetCredentials,
        text: &str,
        types: Option<&str>,
        paging: Paging,
    ) -> Result<Page<Client>, UpstreamError> {
        let mut query = vec![("q", text.to_string()), ("types", types.unwrap_or("all").to_string())];
        self::paging(&mut query, paging, "pageSize");
        self.get(credentials, SEARCH_CLIENTS, &["clients", "search"], query).await
    }

    pub async fn client(&self, credentials: &PixiesetCredentials, id: &str) -> Result<Client, UpstreamError> {
        Ok(self.get::<Data<Client>>(credentials, GET_CLIENT, &["clients", id], Query::new()).await?.data)
    }

    pub async fn update_client(
        &self,
        credentials: &PixiesetCredentials,
        id: &str,
        input: &ClientInput,
    ) -> Result<Client, UpstreamError> {
        self.send::<Client>(credentials, UPDATE_CLIENT, &["clients", id], input).await
    }

    pub async fn create_client(
        &self,
        credentials: &PixiesetCredentials,
        input: &ClientInput,
    ) -> Result<Client, UpstreamError> {
        self.send::<Client>(credentials, CREATE_CLIENT, &["clients", ""], input).await
    }

    pub async fn client_collections(
        &self,
        credentials: &PixiesetCredentials,
        client_id: &str,
        paging: Paging,
    ) -> Result<Page<Collection>, UpstreamError> {
        let mut query = Query::new();
        self::paging(&mut query, paging, "page_size");
        self.get(credentials, CLIENT_COLLECTIONS, &["clients", client_id, "cgCollections", ""], query).await
    }

    pub async fn client_documents(
        &self,
        credentials: &PixiesetCredentials,
        client_id: &str,
        page: Option<u32>,
        gift_card_activities: bool,
    ) -> Result<Page<Document>, UpstreamError> {
        let mut query = Query::new();
        self::paging(&mut query, Paging { page, per_page: None }, "per_page");
        if gift_card_activities {
            query.push(("expand", "gift_card_activities".into()));
        }
        self.get(credentials, CLIENT_DOCUMENTS, &["clients", client_id, "documents"], query).await
    }

    pub async fn invoices(
        &self,
        credentials: &PixiesetCredentials,
        params: &InvoiceQuery,
    ) -> Result<Page<Invoice>, UpstreamError> {
        let mut query = Query::new();
        paging(&mut query, params.paging, "per_page");
        if let Some(client_id) = &params.client_id {
            query.push(("client_id", client_id.clone()));
        }
        if params.expand_client {
            query.push(("expand", "client".into()));
        }
        self.get(credentials, LIST_INVOICES, &["invoices", ""], query).await
    }

    /// One invoice from `GET /invoices/{id}`, which no document describes. A 404
    /// without Pixieset's error code (`{"error": {"code": "…_not_found"}}`) is the
    /// server saying it has no such path; the client then stops asking.
    pub async fn invoice(
        &self,
        credentials: &PixiesetCredentials,
        id: &str,
        expand_client: bool,
    ) -> Result<Invoice, UpstreamError> {
        let query = if expand_client { vec![("expand", "client".to_string())] } else { Query::new() };
        let answer = self.get::<Data<Invoice>>(credentials, GET_INVOICE, &["invoices", id], query).await;
        match &answer {
            Err(UpstreamError::NotFound { code: None, .. } | UpstreamError::Invalid { status: 405, .. }) => {
                *locked(&self.invoice_endpoint_missing) = Some(Instant::now());
            }
            Ok(_) => *locked(&self.invoice_endpoint_missing) = None,
            Err(_) => {}
        }
        Ok(answer?.data)
    }

    pub async fn create_invoice(
        &self,
        credentials: &PixiesetCredentials,
        invoice: &NewInvoice,
    ) -> Result<Invoice, UpstreamError> {
        self.send::<Invoice>(credentials, CREATE_INVOICE, &["invoices", ""], invoice).await
    }

    pub async fn contracts(
        &self,
        credentials: &PixiesetCredentials,
        paging: Paging,
        expand: Expand,
    ) -> Result<Page<Contract>, UpstreamError> {
        let mut query = Query::new();
        if let Some(expand) = expand.param() {
            query.push(("expand", expand.into()));
        }
        self::paging(&mut query, paging, "per_page");
        self.get(credentials, LIST_CONTRACTS, &["contracts", ""], query).await
    }

    pub async fn contract(
        &self,
        credentials: &PixiesetCredentials,
        id: &str,
        expand: Expand,
    ) -> Result<Contract, UpstreamError> {
        let query = expand.param().map(|e| vec![("expand", e.to_string())]).unwrap_or_default();
        Ok(self.get::<Data<Contract>>(credentials, GET_CONTRACT, &["contracts", id], query).await?.data)
    }

    pub async fn contract_templates(
        &self,
        credentials: &PixiesetCredentials,
    ) -> Result<Page<ContractTemplate>, UpstreamError> {
        self.get(credentials, LIST_TEMPLATES, &["templates", "contracts"], Query::new()).await
    }

    pub async fn contract_template(
        &self,
        credentials: &PixiesetCredentials,
        id: &str,
    ) -> Result<ContractTemplate, UpstreamError> {
        Ok(self
            .get::<Data<ContractTemplate>>(credentials, GET_TEMPLATE, &["templates", "contracts", id], Query::new())
            .await?
            .data)
    }

    /// Answers only the fields that changed, as Pixieset does.
    pub async fn update_contract_template(
        &self,
        credentials: &PixiesetCredentials,
        id: &str,
        input: &ContractTemplateInput,
    ) -> Result<ContractTemplate, UpstreamError> {
        self.send::<ContractTemplate>(credentials, UPDATE_TEMPLATE, &["templates", "contracts", id], input).await
    }
}

/// Reads an answer as JSON; an unreadable one is `Malformed`, its excerpt without the cookie.
fn json<T: DeserializeOwned>(
    endpoint: Endpoint,
    credentials: &PixiesetCredentials,
) -> impl Fn(StatusCode, &[u8]) -> Result<T, UpstreamError> + '_ {
    move |status, bytes| {
        serde_json::from_slice(bytes)
            .map_err(|e| malformed(endpoint, status, e, bytes, &[credentials.cookie().expose()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_invoice_endpoint_is_asked_again_once_its_memory_lapses() {
        let client = PixiesetClient::new(
            reqwest::Client::new(),
            "https://studio.example/api/v1".parse().unwrap(),
            UpstreamSettings::default(),
        );
        assert!(client.has_invoice_endpoint(), "until shown otherwise");
        *locked(&client.invoice_endpoint_missing) = Some(Instant::now());
        assert!(!client.has_invoice_endpoint());
        *locked(&client.invoice_endpoint_missing) = Instant::now().checked_sub(ENDPOINT_MEMORY);
        assert!(client.has_invoice_endpoint(), "asked again after {ENDPOINT_MEMORY:?}");
    }
}
