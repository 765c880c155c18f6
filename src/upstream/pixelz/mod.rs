//! The Pixelz client: credentials in every call (query string or JSON body),
//! failures inside HTTP 200 answers, relative URLs located where the operator says.

mod ticket;
pub mod wire;

pub use ticket::Ticket;

use chrono::NaiveDate;
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::transport::{Retry, Transport, malformed, scrub};
use super::{Api, Endpoint, PixelzCredentials, Refusal, TenantKey, UpstreamError, UpstreamSettings, Verb, url_with};
use wire::*;

/// Pixelz requires this header on every call, GETs included, whatever they carry.
const JSON_UTF8: &str = "application/json; charset=UTF-8";

const LIST_TEMPLATES: Endpoint = Endpoint::pixelz(Verb::Get, "/Templates/");
pub const GET_TEMPLATE: Endpoint = Endpoint::pixelz(Verb::Get, "/Template/{templateId}/");
const CREATE_TEMPLATE: Endpoint = Endpoint::pixelz(Verb::Post, "/Template/");
const SUBMIT_IMAGE: Endpoint = Endpoint::pixelz(Verb::Post, "/Image/");
const WHITE_GLOVE: Endpoint = Endpoint::pixelz(Verb::Post, "/WhiteGloveService/");
const IMAGE_STATUS: Endpoint = Endpoint::pixelz(Verb::Get, "/Image/{imageTicket}/");
const DELETE_IMAGE: Endpoint = Endpoint::pixelz(Verb::Delete, "/Image/{imageTicket}/");
const REJECT_IMAGE: Endpoint = Endpoint::pixelz(Verb::Put, "/Image/Reject/{imageTicket}/");
const LIST_IMAGES: Endpoint = Endpoint::pixelz(Verb::Get, "/Images/");
const COUNT_IMAGES: Endpoint = Endpoint::pixelz(Verb::Get, "/Images/Count/");
const PRODUCT_IDS: Endpoint = Endpoint::pixelz(Verb::Get, "/ProductIds/");
const GET_CONTACT: Endpoint = Endpoint::pixelz(Verb::Get, "/Contact/");
const CREATE_CONTACT: Endpoint = Endpoint::pixelz(Verb::Post, "/Contact/");
const LIST_INVOICES: Endpoint = Endpoint::pixelz(Verb::Get, "/Invoices/");

const NONTICKET: &str = "nonticket";

/// `ErrorCode` is `"NoError"` in most answers and `0` in DELETE's; anything else is a refusal.
fn refusal_in(answer: &Value) -> Option<(String, String)> {
    let code = answer.get("ErrorCode")?;
    let fine = match code {
        Value::String(s) => s.eq_ignore_ascii_case("NoError") || s.trim() == "0",
        Value::Number(n) => n.as_u64() == Some(0),
        Value::Null => true,
        _ => false,
    };
    if fine {
        return None;
    }
    let code = code.as_str().map_or_else(|| code.to_string(), str::to_string);
    let message = answer.get("Message").and_then(Value::as_str).unwrap_or_default().to_string();
    Some((code, message))
}

/// What a refused call named, to look up when explaining the refusal.
#[derive(Clone, Copy)]
enum Subject<'a> {
    Image(&'a ImageRef),
    Template(i64),
}

fn is_refused<T>(answer: &Result<T, UpstreamError>) -> bool {
    matches!(answer, Err(UpstreamError::Refused { .. }))
}

fn ymd(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn put(body: &mut Map<String, Value>, key: &str, value: Option<impl ToString>) {
    if let Some(value) = value {
        body.insert(key.into(), Value::String(value.to_string()));
    }
}

#[derive(Clone, Debug)]
pub struct PixelzClient {
    transport: Transport,
    base: Url,
    /// Where Pixelz's relative URLs live, when the operator says (`PIXELZ_ASSET_BASE_URL`): the
    /// documents give final images, thumbnails and invoice links as paths and name no host.
    assets: Option<Url>,
}

impl PixelzClient {
    pub(crate) fn new(http: reqwest::Client, base: Url, assets: Option<Url>, settings: UpstreamSettings) -> Self {
        Self { transport: Transport::new(Api::Pixelz, http, settings), base, assets }
    }

    /// A Pixelz URL as Pixelz gave it, or joined to the asset base when one is set and the URL is
    /// relative; None for an empty one. No host is guessed. A relative one is written from the
    /// root (`/1000003/…`): the documents give the same path with and without its leading slash.
    pub fn located(&self, raw: &str) -> Option<String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        if raw.starts_with("http://") || raw.starts_with("https://") {
            return Some(raw.to_string());
        }
        match &self.assets {
            Some(assets) => assets.join(raw.trim_start_matches('/')).ok().map(String::from),
            None => Some(format!("/{}", raw.trim_start_matches('/'))),
        }
    }

    pub(super) fn located_image(&self, mut image: ImageStatus) -> ImageStatus {
        image.final_images_url = image.final_images_url.iter().filter_map(|u| self.located(u)).collect();
        image.thumbnail_image_url = image.thumbnail_image_url.as_deref().and_then(|u| self.located(u));
        image
    }

    pub(super) fn read<T: DeserializeOwned>(
        endpoint: Endpoint,
        status: reqwest::StatusCode,
        bytes: &[u8],
        secrets: &[&str],
    ) -> Result<T, UpstreamError> {
        let answer: Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(endpoint, status, e, bytes, secrets))?;
        if let Some((code, message)) = refusal_in(&answer) {
            // What it means is found by `explained`, which knows the call.
            let meaning = Refusal::Input;
            return Err(UpstreamError::Refused { endpoint, code, message: scrub(&message, secrets), meaning });
        }
        serde_json::from_value(answer).map_err(|e| malformed(endpoint, status, e, bytes, secrets))
    }

    /// Whether Pixelz answered lately, probing without credentials when nothing was heard.
    pub async fn health(&self) -> Option<super::health::Heard> {
        let url = url_with(&self.base, &["Templates", ""]);
        self.transport.health.check(|| self.transport.http.get(url).header(CONTENT_TYPE, JSON_UTF8)).await
    }

    /// What a refusal means, found from the call rather than the code's name (the
    /// documents name no code but `NoError`): when `GET Contact` with the same
    /// credentials is refused too, the credentials; when the image or template the
    /// call looked up, or names (`subject`), is not there, that object; else the
    /// request. Costs a call or two, on refusals only.
    async fn explained(
        &self,
        credentials: &PixelzCredentials,
        error: UpstreamError,
        subject: Option<Subject<'_>>,
    ) -> UpstreamError {
        let UpstreamError::Refused { endpoint, code, message, .. } = error else { return error };
        let meaning = if endpoint == GET_CONTACT
            || is_refused(&self.get_raw::<ContactAnswer>(credentials, GET_CONTACT, &["Contact", ""], vec![]).await)
        {
            Refusal::Credentials
        } else if endpoint == IMAGE_STATUS || endpoint == GET_TEMPLATE {
            Refusal::NotFound
        } else if let Some(subject) = subject
            && is_refused(&self.look_up(credentials, subject).await)
        {
            Refusal::NotFound
        } else {
            Refusal::Input
        };
        UpstreamError::Refused { endpoint, code, message, meaning }
    }

    /// A GET: credentials and parameters in the query string.
    async fn get<T: DeserializeOwned>(
        &self,
        credentials: &PixelzCredentials,
        endpoint: Endpoint,
        segments: &[&str],
        params: Vec<(&'static str, String)>,
    ) -> Result<T, UpstreamError> {
        match self.get_raw(credentials, endpoint, segments, params).await {
            Err(error @ UpstreamError::Refused { .. }) => Err(self.explained(credentials, error, None).await),
            answer => answer,
        }
    }

    async fn get_raw<T: DeserializeOwned>(
        &self,
        credentials: &PixelzCredentials,
        endpoint: Endpoint,
        segments: &[&str],
        params: Vec<(&'static str, String)>,
    ) -> Result<T, UpstreamError> {
        let secrets = [credentials.api_key().expose()];
        let url = url_with(&self.base, segments);
        let mut query = vec![
            ("contactEmail", credentials.contact_email().to_string()),
            ("contactAPIkey", credentials.api_key().expose().to_string()),
        ];
        query.extend(params);
        let build = || self.transport.http.get(url.clone()).header(CONTENT_TYPE, JSON_UTF8).query(&query);
        let read = |status, bytes: &[u8]| Self::read(endpoint, status, bytes, &secrets);
        self.transport.call(endpoint, Retry::Idempotent, credentials.tenant(), &secrets, build, read).await
    }

    /// A write: parameters and the given credentials in a JSON body, every value a string as
    /// the documents send them. None of Pixelz's writes is safe to repeat once it arrived.
    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        segments: &[&str],
        tenant: &TenantKey,
        secrets: &[&str],
        body: Map<String, Value>,
    ) -> Result<T, UpstreamError> {
        let url = url_with(&self.base, segments);
        let body = Value::Object(body).to_string();
        let build = || {
            self.transport
                .http
                .request(endpoint.verb.method(), url.clone())
                .header(CONTENT_TYPE, JSON_UTF8)
                .body(body.clone())
        };
        let read = |status, bytes: &[u8]| Self::read(endpoint, status, bytes, secrets);
        self.transport.call(endpoint, Retry::UnlessSent, tenant, secrets, build, read).await
    }

    /// Whether the object a refused call named is there for these credentials.
    async fn look_up(&self, credentials: &PixelzCredentials, subject: Subject<'_>) -> Result<(), UpstreamError> {
        match subject {
            Subject::Image(image) => {
                let path = Self::status_path(image);
                self.get_raw::<Value>(credentials, IMAGE_STATUS, &path, Self::status_params(image)).await.map(drop)
            }
            Subject::Template(id) => {
                let path = ["Template", &id.to_string(), ""];
                self.get_raw::<Value>(credentials, GET_TEMPLATE, &path, vec![]).await.map(drop)
            }
        }
    }

    /// A write with `credentials`, its refusal explained; `subject` is what it names.
    async fn write<T: DeserializeOwned>(
        &self,
        credentials: &PixelzCredentials,
        endpoint: Endpoint,
        segments: &[&str],
        body: Map<String, Value>,
        subject: Option<Subject<'_>>,
    ) -> Result<T, UpstreamError> {
        match self.send(endpoint, segments, credentials.tenant(), &Self::secrets(credentials), body).await {
            Err(error @ UpstreamError::Refused { .. }) => Err(self.explained(credentials, error, subject).await),
            answer => answer,
        }
    }

    fn contact_body(credentials: &PixelzCredentials) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("contactEmail".into(), json!(credentials.contact_email()));
        body.insert("contactAPIkey".into(), json!(credentials.api_key().expose()));
        body
    }

    fn secrets(credentials: &PixelzCredentials) -> Vec<&str> {
        std::iter::once(credentials.api_key().expose()).chain(credentials.developer_key().map(|k| k.expose())).collect()
    }

    pub async fn templates(&self, credentials: &PixelzCredentials) -> Result<Vec<TemplateSummary>, UpstreamError> {
        Ok(self.get::<TemplatesAnswer>(credentials, LIST_TEMPLATES, &["Templates", ""], vec![]).await?.templates)
    }

    pub async fn template(&self, credentials: &PixelzCredentials, id: i64) -> Result<Template, UpstreamError> {
        let mut template = self
            .get::<TemplateAnswer>(credentials, GET_TEMPLATE, &["Template", &id.to_string(), ""], vec![])
            .await?
            .template;
        template.callback_url = template.callback_url.as_deref().and_then(|u| self.located(u));
        Ok(template)
    }

    /// Deprecated upstream, still served.
    pub async fn create_template(
        &self,
        credentials: &PixelzCredentials,
        template: &NewTemplate,
    ) -> Result<CreatedTemplate, UpstreamError> {
        let mut body = Self::contact_body(credentials);
        put(&mut body, "templateName", Some(&template.name));
        put(&mut body, "templateOutputFormat", Some(&template.output_format));
        put(&mut body, "deliveryTimeInHour", Some(template.delivery_hours));
        put(&mut body, "backgroundType", Some(template.background_type));
        put(&mut body, "backgroundColor", template.background_color.as_ref());
        put(&mut body, "backgroundVerticalGradientColor", template.background_gradient_color.as_ref());
        put(&mut body, "resizeType", template.resize_type);
        put(&mut body, "resizeUnit", template.resize_unit);
        put(&mut body, "resizeHeight", template.resize_height);
        put(&mut body, "resizeWidth", template.resize_width);
        put(&mut body, "resizeMinSize", template.resize_min_size);
        put(&mut body, "resizeMaxSize", template.resize_max_size);
        put(&mut body, "marginType", template.margin_type);
        put(&mut body, "marginTop", template.margin_top);
        put(&mut body, "marginBottom", template.margin_bottom);
        put(&mut body, "marginLeft", template.margin_left);
        put(&mut body, "marginRight", template.margin_right);
        put(&mut body, "marginVerticalAlignment", template.vertical_alignment);
        put(&mut body, "shadowType", template.shadow_type);
        put(&mut body, "isKeptMannequin", template.keep_mannequin);
        put(&mut body, "isKeptModel", template.keep_model);
        self.write(credentials, CREATE_TEMPLATE, &["Template", ""], body, None).await
    }

    fn submission_body(credentials: &PixelzCredentials, image: &ImageSubmission) -> Map<String, Value> {
        let mut body = Self::contact_body(credentials);
        put(&mut body, "developerAPIkey", credentials.developer_key().map(|k| k.expose()));
        for (n, url) in image.image_urls.iter().enumerate().take(5) {
            let key = if n == 0 { "imageURL".to_string() } else { format!("imageURL{}", n + 1) };
            put(&mut body, &key, Some(url));
        }
        put(&mut body, "colorReferenceFileURL", image.color_reference_url.as_ref());
        put(&mut body, "imageCallbackURL", image.callback_url.as_ref());
        put(&mut body, "customerImageId", image.customer_image_id.as_ref());
        put(&mut body, "productId", image.product_id.as_ref());
        body
    }

    pub async fn submit_image(
        &self,
        credentials: &PixelzCredentials,
        image: &ImageSubmission,
    ) -> Result<SubmittedImage, UpstreamError> {
        let mut body = Self::submission_body(credentials, image);
        put(&mut body, "templateId", image.template_id);
        put(&mut body, "imageDeadlineDateTimeUTC", image.deadline.map(|d| d.format("%Y-%m-%d %H:%M:%S")));
        self.write(credentials, SUBMIT_IMAGE, &["Image", ""], body, image.template_id.map(Subject::Template)).await
    }

    /// Pixelz picks the template; a template or deadline on `image` is not sent.
    pub async fn request_white_glove(
        &self,
        credentials: &PixelzCredentials,
        image: &ImageSubmission,
    ) -> Result<SubmittedImage, UpstreamError> {
        let body = Self::submission_body(credentials, image);
        self.write(credentials, WHITE_GLOVE, &["WhiteGloveService", ""], body, None).await
    }

    fn ticket_segment(image: &ImageRef) -> &str {
        match image {
            ImageRef::Ticket(ticket) => ticket,
            ImageRef::CustomerImageId(_) => NONTICKET,
        }
    }

    fn image_body(credentials: &PixelzCredentials, image: &ImageRef) -> Map<String, Value> {
        let mut body = Self::contact_body(credentials);
        put(&mut body, "imageTicket", Some(Self::ticket_segment(image)));
        if let ImageRef::CustomerImageId(id) = image {
            put(&mut body, "customerImageId", Some(id));
        }
        body
    }

    fn status_path(image: &ImageRef) -> [&str; 3] {
        ["Image", Self::ticket_segment(image), ""]
    }

    fn status_params(image: &ImageRef) -> Vec<(&'static str, String)> {
        match image {
            ImageRef::CustomerImageId(id) => vec![("customerImageId", id.clone())],
            ImageRef::Ticket(_) => vec![],
        }
    }

    pub async fn image_status(
        &self,
        credentials: &PixelzCredentials,
        image: &ImageRef,
    ) -> Result<ImageStatus, UpstreamError> {
        let path = Self::status_path(image);
        let answer =
            self.get::<ImageStatusAnswer>(credentials, IMAGE_STATUS, &path, Self::status_params(image)).await?;
        Ok(self.located_image(answer.image_status))
    }

    /// The image sent with `customer_image_id`, if Pixelz has one: whether a submission was made.
    /// A refusal means none (were the credentials refused instead, the write this check guards
    /// is refused the same way, and says so).
    pub async fn find_image(
        &self,
        credentials: &PixelzCredentials,
        customer_image_id: &str,
    ) -> Result<Option<ImageStatus>, UpstreamError> {
        let image = ImageRef::CustomerImageId(customer_image_id.to_string());
        let path = Self::status_path(&image);
        match self.get_raw::<ImageStatusAnswer>(credentials, IMAGE_STATUS, &path, Self::status_params(&image)).await {
            Ok(answer) => Ok(Some(self.located_image(answer.image_status))),
            Err(UpstreamError::Refused { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Refused by Pixelz while the image is in production.
    pub async fn delete_image(&self, credentials: &PixelzCredentials, image: &ImageRef) -> Result<(), UpstreamError> {
        let body = Self::image_body(credentials, image);
        self.write::<Value>(
            credentials,
            DELETE_IMAGE,
            &["Image", Self::ticket_segment(image), ""],
            body,
            Some(Subject::Image(image)),
        )
        .await
        .map(drop)
    }

    /// Deprecated upstream, still served; refused until the image is finished.
    pub async fn reject_image(
        &self,
        credentials: &PixelzCredentials,
        image: &ImageRef,
        comment: Option<&str>,
    ) -> Result<(), UpstreamError> {
        let mut body = Self::image_body(credentials, image);
        put(&mut body, "comment", comment);
        let path = ["Image", "Reject", Self::ticket_segment(image), ""];
        self.write::<Value>(credentials, REJECT_IMAGE, &path, body, Some(Subject::Image(image))).await.map(drop)
    }

    pub async fn images(
        &self,
        credentials: &PixelzCredentials,
        query: &ImageQuery,
    ) -> Result<Vec<ImageStatus>, UpstreamError> {
        let mut params = Vec::new();
        let mut add = |key: &'static str, value: Option<String>| params.extend(value.map(|v| (key, v)));
        add("imageStatus", query.status.map(|s| s.to_string()));
        add("excludeImageStatus", query.exclude_status.map(|s| s.to_string()));
        add("productId", query.product_id.clone());
        add("fromDate", query.from.map(ymd));
        add("toDate", query.to.map(ymd));
        add("page", query.page.map(|p| p.to_string()));
        add("imagesPerPage", query.per_page.map(|p| p.to_string()));
        add(
            "sortBy",
            query.sort_by.map(|s| match s {
                ImageSort::Id => "id".into(),
                ImageSort::Date => "date".into(),
                ImageSort::Status => "status".into(),
            }),
        );
        add("isDescending", query.descending.map(|d| d.to_string()));
        let answer = self.get::<ImagesAnswer>(credentials, LIST_IMAGES, &["Images", ""], params).await?;
        Ok(answer.images.into_iter().map(|i| self.located_image(i)).collect())
    }

    pub async fn count_images(
        &self,
        credentials: &PixelzCredentials,
        status: Option<i64>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Option<i64>, UpstreamError> {
        let mut params = Vec::new();
        params.extend(status.map(|s| ("imageStatus", s.to_string())));
        params.extend(from.map(|d| ("fromDate", ymd(d))));
        params.extend(to.map(|d| ("toDate", ymd(d))));
        let answer = self.get::<CountAnswer>(credentials, COUNT_IMAGES, &["Images", "Count", ""], params).await?;
        // An answer without a count says nothing of how many, not that there are none.
        Ok(answer.images_count)
    }

    pub async fn product_ids(
        &self,
        credentials: &PixelzCredentials,
        page: Option<u32>,
        per_page: Option<u32>,
    ) -> Result<Vec<ProductStatistic>, UpstreamError> {
        let mut params = Vec::new();
        params.extend(page.map(|p| ("page", p.to_string())));
        params.extend(per_page.map(|p| ("productIdsPerPage", p.to_string())));
        Ok(self.get::<ProductIdsAnswer>(credentials, PRODUCT_IDS, &["ProductIds", ""], params).await?.product_ids)
    }

    pub async fn contact(&self, credentials: &PixelzCredentials) -> Result<Contact, UpstreamError> {
        Ok(self.get::<ContactAnswer>(credentials, GET_CONTACT, &["Contact", ""], vec![]).await?.contact)
    }

    /// Deprecated upstream, still served. Acts as a developer: the partner when `credentials`
    /// carry its identity (its email and key), else the caller.
    pub async fn create_contact(
        &self,
        credentials: &PixelzCredentials,
        contact: &NewContact,
    ) -> Result<CreatedContact, UpstreamError> {
        let (email, key) = match (credentials.developer_email(), credentials.developer_key()) {
            (Some(email), Some(key)) => (email, key),
            _ => (credentials.contact_email(), credentials.api_key()),
        };
        let developer = PixelzCredentials::new(email, key.clone());
        let mut body = Map::new();
        put(&mut body, "developerEmail", Some(developer.contact_email()));
        put(&mut body, "developerAPIkey", Some(developer.api_key().expose()));
        put(&mut body, "contactEmail", Some(&contact.email));
        put(&mut body, "contactName", Some(&contact.name));
        put(&mut body, "countryCode", Some(&contact.country_code));
        put(&mut body, "contactAddress1", contact.address_1.as_ref());
        put(&mut body, "contactAddress2", contact.address_2.as_ref());
        put(&mut body, "contactPhone", contact.phone.as_ref());
        put(&mut body, "contactCity", contact.city.as_ref());
        put(&mut body, "contactState", contact.state.as_ref());
        put(&mut body, "contactZipCode", contact.zip_code.as_ref());
        self.write(&developer, CREATE_CONTACT, &["Contact", ""], body, None).await
    }

    /// Fifty a page. `return_url` is where Pixelz sends the customer after paying.
    pub async fn invoices(
        &self,
        credentials: &PixelzCredentials,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        page: Option<u32>,
        return_url: Option<&str>,
    ) -> Result<Vec<Invoice>, UpstreamError> {
        let mut params = Vec::new();
        params.extend(from.map(|d| ("fromDate", ymd(d))));
        params.extend(to.map(|d| ("toDate", ymd(d))));
        params.extend(page.map(|p| ("page", p.to_string())));
        params.extend(return_url.map(|u| ("returnUrl", u.to_string())));
        let answer = self.get::<InvoicesAnswer>(credentials, LIST_INVOICES, &["Invoices", ""], params).await?;
        Ok(answer
            .invoices
            .into_iter()
            .map(|mut invoice| {
                invoice.repair_urls();
                invoice.invoice_url = invoice.invoice_url.as_deref().and_then(|u| self.located(u));
                invoice.payment_url = invoice.payment_url.as_deref().and_then(|u| self.located(u));
                invoice
            })
            .collect())
    }
}
