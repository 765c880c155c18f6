//! Pixelz's JSON, as the servers send it: PascalCase, numbers and booleans
//! sometimes as strings, relative URLs, and failures inside 200 answers. What is
//! read is also written, to share it through Redis: each type reads back what it wrote.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::upstream::lenient;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Price {
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub amount: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub currency_id: Option<i64>,
}

impl Price {
    /// Exact, in the currency the price names; None when the amount is missing.
    pub fn money(&self) -> Option<Money> {
        Money::from_decimal(self.amount.as_deref()?, self.currency.as_deref())
    }
}

/// A template as the list shows it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateSummary {
    #[serde(deserialize_with = "lenient::id")]
    pub template_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub template_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub contact_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub template_label_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_combined_images: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_recreate_detail: Option<bool>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub prices: Vec<Price>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub color_adjustment: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub color_matching: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub color_matching_setting: Option<String>,
}

/// One template in full.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub output_format: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub delivery_time_in_hours: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub background_type: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub background_color: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub background_vertical_gradient_color: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub callback_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub color_adjustment: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub color_matching: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub color_matching_setting: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub comment: Option<String>,
    #[serde(default, deserialize_with = "lenient::date")]
    pub created_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "lenient::date")]
    pub modified_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_combined_images: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_deleted: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_kept_mannequin: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_kept_model: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub margin_type: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub margin_top: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub margin_bottom: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub margin_left: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub margin_right: Option<i64>,
    #[serde(default)]
    pub price: Option<Price>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub resize_type: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub resize_unit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub resize_height: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub resize_width: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub resize_min_size: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub resize_max_size: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub shadow_type: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub vertical_alignment: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TemplatesAnswer {
    #[serde(default, deserialize_with = "lenient::list")]
    pub templates: Vec<TemplateSummary>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TemplateAnswer {
    pub template: Template,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedTemplate {
    #[serde(deserialize_with = "lenient::id")]
    pub template_id: String,
    #[serde(default)]
    pub price: Option<Price>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubmittedImage {
    #[serde(deserialize_with = "lenient::id")]
    pub image_ticket: String,
    /// A string `"false"` in the documents.
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_trial: Option<bool>,
    /// A number when it looks like one.
    #[serde(default, deserialize_with = "lenient::string")]
    pub customer_image_id: Option<String>,
}

/// An image's state. The client locates its URLs (`PixelzClient::located`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageStatus {
    #[serde(deserialize_with = "lenient::id")]
    pub image_ticket: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub customer_image_id: Option<String>,
    #[serde(default, rename = "FinalImagesURL", deserialize_with = "lenient::list")]
    pub final_images_url: Vec<String>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_paid: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub product_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub status_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status_name: Option<String>,
    #[serde(default, rename = "ThumbnailImageURL", deserialize_with = "lenient::string")]
    pub thumbnail_image_url: Option<String>,
    /// Every output version a webhook delivered to pixgate: its own record, carried
    /// between instances with the state, never part of a Pixelz answer.
    #[serde(default, rename = "PixgateOutputs", skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Output>,
}

/// One finished version of an image, as the webhook delivers it: `processedImageURL`,
/// and `templateId`, "the templateId that the finished image version belong to".
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Output {
    pub template_id: Option<String>,
    pub url: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImageStatusAnswer {
    pub image_status: ImageStatus,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ImagesAnswer {
    #[serde(default, deserialize_with = "lenient::list")]
    pub images: Vec<ImageStatus>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CountAnswer {
    #[serde(default, deserialize_with = "lenient::int")]
    pub images_count: Option<i64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProductStatistic {
    #[serde(deserialize_with = "lenient::id")]
    pub product_id: String,
    #[serde(default, deserialize_with = "lenient::int")]
    pub done_count: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub todo_count: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProductIdsAnswer {
    #[serde(default, deserialize_with = "lenient::list")]
    pub product_ids: Vec<ProductStatistic>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    #[serde(default)]
    pub contact_account_balance: Option<Price>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub contact_company: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub contact_days_of_credit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub contact_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub contact_person: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub number_of_trial_images: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContactAnswer {
    pub contact: Contact,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CreatedContact {
    #[serde(rename = "ContactAPIkey", deserialize_with = "lenient::id")]
    pub api_key: String,
    #[serde(rename = "ContactEmail", default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Invoice {
    #[serde(deserialize_with = "lenient::id")]
    pub invoice_id: String,
    #[serde(default, deserialize_with = "lenient::date")]
    pub created_date: Option<NaiveDate>,
    /// A string in the documents: `"105.00"`.
    #[serde(default, deserialize_with = "lenient::decimal")]
    pub amount_due: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub is_paid: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub payment_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub invoice_url: Option<String>,
}

impl Invoice {
    /// The invoice and payment URLs, repaired: the documents show them swapped,
    /// with a stray `</PaymentUrl` from the XML serialiser in one.
    pub fn repair_urls(&mut self) {
        let clean = |url: Option<String>| {
            url.map(|u| u.split('<').next().unwrap_or_default().trim().to_string()).filter(|u| !u.is_empty())
        };
        let (mut invoice, mut payment) = (clean(self.invoice_url.take()), clean(self.payment_url.take()));
        let is_download = |u: &Option<String>| u.as_deref().is_some_and(|u| u.contains("DownloadInvoice"));
        if is_download(&payment) && !is_download(&invoice) {
            std::mem::swap(&mut invoice, &mut payment);
        }
        self.invoice_url = invoice;
        self.payment_url = payment;
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InvoicesAnswer {
    #[serde(default, deserialize_with = "lenient::list")]
    pub invoices: Vec<Invoice>,
}

/// An image to retouch. The first URL is required; up to four more are combined with it.
#[derive(Clone, Debug, Default)]
pub struct ImageSubmission {
    pub image_urls: Vec<String>,
    pub template_id: Option<i64>,
    pub color_reference_url: Option<String>,
    pub callback_url: Option<String>,
    pub customer_image_id: Option<String>,
    pub product_id: Option<String>,
    /// UTC.
    pub deadline: Option<chrono::NaiveDateTime>,
}

/// An image, by its ticket or by the customer's own id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    Ticket(String),
    CustomerImageId(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageSort {
    Id,
    Date,
    Status,
}

#[derive(Clone, Debug, Default)]
pub struct ImageQuery {
    pub status: Option<i64>,
    pub exclude_status: Option<i64>,
    pub product_id: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub page: Option<u32>,
    /// At most 100.
    pub per_page: Option<u32>,
    pub sort_by: Option<ImageSort>,
    pub descending: Option<bool>,
}

/// A template to create; the enumerations are Pixelz's numbers.
#[derive(Clone, Debug, Default)]
pub struct NewTemplate {
    pub name: String,
    pub output_format: String,
    pub delivery_hours: i64,
    pub background_type: i64,
    pub background_color: Option<String>,
    pub background_gradient_color: Option<String>,
    pub resize_type: Option<i64>,
    pub resize_unit: Option<i64>,
    pub resize_height: Option<i64>,
    pub resize_width: Option<i64>,
    pub resize_min_size: Option<i64>,
    pub resize_max_size: Option<i64>,
    pub margin_type: Option<i64>,
    pub margin_top: Option<i64>,
    pub margin_bottom: Option<i64>,
    pub margin_left: Option<i64>,
    pub margin_right: Option<i64>,
    pub vertical_alignment: Option<i64>,
    pub shadow_type: Option<i64>,
    pub keep_mannequin: Option<bool>,
    pub keep_model: Option<bool>,
}

#[derive(Clone, Debug, Default)]
pub struct NewContact {
    pub email: String,
    pub name: String,
    pub country_code: String,
    pub address_1: Option<String>,
    pub address_2: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
}
