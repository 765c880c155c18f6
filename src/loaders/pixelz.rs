//! Pixelz, as one request's credentials see it.

use std::fmt::Debug;

use async_graphql::dataloader::DataLoader;
use chrono::NaiveDate;

use super::{ById, DataSources, Loaded, get_or_fetch_list, load, loader, may_have_written};
use crate::cache::{Cache, Key, Kind};
use crate::upstream::pixelz::wire;
use crate::upstream::{PixelzClient, PixelzCredentials, TenantKey, UpstreamError};

#[derive(Clone, Debug)]
struct PixelzSource {
    api: PixelzClient,
    cache: Cache,
    credentials: PixelzCredentials,
    tenant: TenantKey,
}

impl PixelzSource {
    fn key(&self, kind: Kind, id: impl AsRef<str>) -> Key {
        Key::new(&self.tenant, kind, id)
    }

    async fn template(self, id: String) -> Loaded<wire::Template> {
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

    async fn image(self, ticket: String) -> Loaded<wire::ImageStatus> {
        let reference = wire::ImageRef::Ticket(ticket.clone());
        let fetch = || self.api.image_status(&self.credentials, &reference);
        self.cache.get_or_fetch(self.key(Kind::PixelzImage, &ticket), fetch).await
    }
}

/// Pixelz, as one request's credentials see it.
pub struct Pixelz {
    source: PixelzSource,
    templates: DataLoader<ById<PixelzSource, wire::Template>>,
    images: DataLoader<ById<PixelzSource, wire::ImageStatus>>,
}

impl Pixelz {
    pub(super) fn new(sources: &DataSources, credentials: PixelzCredentials) -> Self {
        let source = PixelzSource {
            api: sources.upstreams.pixelz.clone(),
            cache: sources.cache.clone(),
            tenant: credentials.tenant().clone(),
            credentials,
        };
        Self {
            templates: loader(sources.lookups, "pixelz_template", &source, |s, id| Box::pin(s.template(id))),
            images: loader(sources.lookups, "pixelz_image", &source, |s, ticket| Box::pin(s.image(ticket))),
            source,
        }
    }

    pub fn tenant(&self) -> &TenantKey {
        &self.source.tenant
    }

    pub async fn template(&self, id: &str) -> Loaded<wire::Template> {
        load(&self.templates, &self.source, id).await
    }

    pub async fn templates(&self) -> Loaded<Vec<wire::TemplateSummary>> {
        let s = &self.source;
        s.cache.get_or_fetch(s.key(Kind::PixelzTemplateList, ""), || s.api.templates(&s.credentials)).await
    }

    pub async fn image(&self, ticket: &str) -> Loaded<wire::ImageStatus> {
        load(&self.images, &self.source, ticket).await
    }

    pub async fn image_by_customer_id(&self, customer_image_id: &str) -> Loaded<wire::ImageStatus> {
        let s = &self.source;
        let reference = wire::ImageRef::CustomerImageId(customer_image_id.to_string());
        let key = s.key(Kind::PixelzImage, format!("customer:{customer_image_id}"));
        s.cache.get_or_fetch(key, || s.api.image_status(&s.credentials, &reference)).await
    }

    /// An image by a `customerImageId`, asked of Pixelz now, past every cache: whether a write was made.
    /// None when Pixelz has no image by that id.
    pub async fn image_by_customer_id_now(
        &self,
        customer_image_id: &str,
    ) -> Result<Option<wire::ImageStatus>, UpstreamError> {
        let s = &self.source;
        s.api.find_image(&s.credentials, customer_image_id).await
    }

    pub async fn images(&self, query: &wire::ImageQuery) -> Loaded<Vec<wire::ImageStatus>> {
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
    ) -> Loaded<Option<i64>> {
        let s = &self.source;
        let key = s.key(Kind::PixelzImageCount, format!("{status:?}&{from:?}&{to:?}"));
        s.cache.get_or_fetch(key, || s.api.count_images(&s.credentials, status, from, to)).await
    }

    pub async fn products(&self, page: u32, per_page: u32) -> Loaded<Vec<wire::ProductStatistic>> {
        let s = &self.source;
        let key = s.key(Kind::PixelzProductPage, format!("{page}&{per_page}"));
        s.cache.get_or_fetch(key, || s.api.product_ids(&s.credentials, Some(page), Some(per_page))).await
    }

    pub async fn account(&self) -> Loaded<wire::Contact> {
        let s = &self.source;
        s.cache.get_or_fetch(s.key(Kind::PixelzAccount, ""), || s.api.contact(&s.credentials)).await
    }

    async fn forget(&self, kinds: &[Kind]) {
        self.source.cache.invalidate_kinds(&self.source.tenant, kinds).await;
    }

    pub fn credentials(&self) -> &PixelzCredentials {
        &self.source.credentials
    }

    /// A new image changes the lists, counts, product statistics and the balance.
    pub async fn submit_image(
        &self,
        image: &wire::ImageSubmission,
        white_glove: bool,
    ) -> Result<wire::SubmittedImage, UpstreamError> {
        let s = &self.source;
        let submitted = if white_glove {
            s.api.request_white_glove(&s.credentials, image).await
        } else {
            s.api.submit_image(&s.credentials, image).await
        };
        if may_have_written(&submitted) {
            self.forget(&[Kind::PixelzImagePage, Kind::PixelzImageCount, Kind::PixelzProductPage, Kind::PixelzAccount])
                .await;
        }
        submitted
    }

    pub async fn delete_image(&self, image: &wire::ImageRef) -> Result<(), UpstreamError> {
        let s = &self.source;
        s.api.delete_image(&s.credentials, image).await?;
        self.forget(&[Kind::PixelzImage, Kind::PixelzImagePage, Kind::PixelzImageCount, Kind::PixelzProductPage]).await;
        Ok(())
    }

    pub async fn reject_image(&self, image: &wire::ImageRef, comment: Option<&str>) -> Result<(), UpstreamError> {
        let s = &self.source;
        s.api.reject_image(&s.credentials, image, comment).await?;
        self.forget(&[Kind::PixelzImage, Kind::PixelzImagePage, Kind::PixelzImageCount, Kind::PixelzProductPage]).await;
        Ok(())
    }

    pub async fn create_template(&self, template: &wire::NewTemplate) -> Result<wire::CreatedTemplate, UpstreamError> {
        let s = &self.source;
        let created = s.api.create_template(&s.credentials, template).await?;
        self.forget(&[Kind::PixelzTemplateList]).await;
        Ok(created)
    }

    /// Acts as a developer with the request's own credentials.
    pub async fn create_contact(&self, contact: &wire::NewContact) -> Result<wire::CreatedContact, UpstreamError> {
        self.source.api.create_contact(&self.source.credentials, contact).await
    }

    pub async fn invoices(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        page: u32,
        return_url: Option<&str>,
    ) -> Loaded<Vec<wire::Invoice>> {
        let s = &self.source;
        // The return URL is in every payment link, so each one is a list of its own.
        let key = s.key(Kind::PixelzInvoicePage, format!("{from:?}&{to:?}&{page}&{return_url:?}"));
        s.cache.get_or_fetch(key, || s.api.invoices(&s.credentials, from, to, Some(page), return_url)).await
    }
}
