//! Pixieset Studio's JSON, as the servers send it. Every field but an id may
//! be missing; numbers may be strings; unknown fields are ignored. What is read
//! is also written, to share it through Redis (the shared cache tier, remembered
//! writes): each type reads back what it wrote, to the last absent field.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::upstream::lenient;

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Data<T> {
    pub data: T,
}

/// Page fields; some lists carry only `total`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PageMeta {
    #[serde(default, deserialize_with = "lenient::int")]
    pub current_page: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub last_page: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub per_page: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub total: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub from: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub to: Option<i64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(deserialize_with = "lenient::list")]
    pub data: Vec<T>,
    #[serde(default)]
    pub meta: PageMeta,
}

impl<T> AsRef<[T]> for Page<T> {
    fn as_ref(&self) -> &[T] {
        &self.data
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Address {
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub address_line_1: Option<String>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub address_line_2: Option<String>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, deserialize_with = "lenient::int", skip_serializing_if = "Option::is_none")]
    pub country_id: Option<i64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Client {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub company: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub job_title: Option<String>,
    #[serde(default)]
    pub address_info: Option<Address>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub avatar_color: Option<i64>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub sample: Option<bool>,
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub type_formatted: Option<String>,
}

/// The client summary lists and contracts embed under `expand`. A field is
/// `None` when the summary does not hold it, `Some(None)` when it holds null.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ClientSummary {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::held_string", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::held_string", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::held_string", skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::held_string", skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
}

/// The writable fields of a client; absent fields are left as they are.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClientInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_info: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Collection {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub cover_photo_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub photo_count: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::date")]
    pub event_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
}

/// Any document of a client: invoice, contract, questionnaire, quote, … The
/// documents show none; every field but the id is read when present.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Document {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    /// Cents.
    #[serde(default, deserialize_with = "lenient::int")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    /// Under `expand=gift_card_activities`, where the server sends them.
    #[serde(default)]
    pub gift_card_activities: Option<Vec<GiftCardActivity>>,
}

/// A gift card's use on a document; no document shows one, so every field is optional.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GiftCardActivity {
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub code: Option<String>,
    /// Cents.
    #[serde(default, deserialize_with = "lenient::int")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
}

impl Document {
    /// `type` where the server sends it; otherwise what the id's prefix says, by
    /// the overview's table of id formats.
    pub fn document_type(&self) -> Option<&str> {
        self.kind.as_deref().or_else(|| {
            Some(match self.id.split_once('_')?.0 {
                "in" => "invoice",
                "co" => "contract",
                "qu" => "questionnaire",
                "qo" => "quote",
                _ => return None,
            })
        })
    }
}

/// A line of an invoice as Pixieset shows it. The quick start writes lines with a name, an
/// amount and a quantity and shows none read back, so each is read where present: a line
/// without one of them is that line without it, never a reason to drop the invoice.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct InvoiceLine {
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    /// Cents for one unit.
    #[serde(default, deserialize_with = "lenient::int")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub quantity: Option<i64>,
}

/// A line of an invoice to write, as the quick start writes it.
#[derive(Clone, Debug, Serialize)]
pub struct NewLineItem {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Cents for one unit.
    pub amount: i64,
    pub quantity: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Invoice {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub invoice_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client: Option<ClientSummary>,
    /// Cents.
    #[serde(default, deserialize_with = "lenient::int")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub amount_paid: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub amount_due: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "lenient::date")]
    pub due_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub paid_at: Option<DateTime<Utc>>,
    /// None where the invoice shows no `line_items`: not the same as none.
    #[serde(default)]
    pub line_items: Option<Vec<InvoiceLine>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NewInvoice {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ymd")]
    pub due_date: Option<NaiveDate>,
    pub line_items: Vec<NewLineItem>,
    pub send_email: bool,
}

fn ymd<S: serde::Serializer>(date: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => s.serialize_str(&date.format("%Y-%m-%d").to_string()),
        None => s.serialize_none(),
    }
}

/// The template summary a contract embeds; held fields as in `ClientSummary`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TemplateSummary {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::held_string", skip_serializing_if = "Option::is_none")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::held_int", skip_serializing_if = "Option::is_none")]
    pub due_days: Option<Option<i64>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ContractContent {
    #[serde(default, deserialize_with = "lenient::string")]
    pub rendered_html: Option<String>,
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Signature {
    #[serde(default, deserialize_with = "lenient::string")]
    pub signer_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub signer_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub signer_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub signed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub signature_image_url: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Contract {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub contract_number: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub due_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub signed_date: Option<DateTime<Utc>>,
    /// Read when present; no document shows it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub client_id: Option<String>,
    /// Read when present; no document shows it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub template_id: Option<String>,
    #[serde(default)]
    pub client: Option<ClientSummary>,
    #[serde(default)]
    pub template: Option<TemplateSummary>,
    #[serde(default)]
    pub content: Option<ContractContent>,
    #[serde(default)]
    pub signatures: Option<Vec<Signature>>,
}

impl Contract {
    /// The client's id, from the field or the embedded summary.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref().or(self.client.as_ref().map(|c| c.id.as_str()))
    }

    pub fn template_id(&self) -> Option<&str> {
        self.template_id.as_deref().or(self.template.as_ref().map(|t| t.id.as_str()))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TemplateVariable {
    pub name: String,
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool")]
    pub required: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub default_value: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Signer {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient::bool", skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int", skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient::bool", skip_serializing_if = "Option::is_none")]
    pub email_required: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool", skip_serializing_if = "Option::is_none")]
    pub phone_required: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Reminders {
    #[serde(default, deserialize_with = "lenient::bool", skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_before_due: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub reminder_subject: Option<String>,
    #[serde(default, deserialize_with = "lenient::string", skip_serializing_if = "Option::is_none")]
    pub reminder_message: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct DocumentSettings {
    #[serde(default, deserialize_with = "lenient::bool", skip_serializing_if = "Option::is_none")]
    pub allow_comments: Option<bool>,
    #[serde(default, deserialize_with = "lenient::bool", skip_serializing_if = "Option::is_none")]
    pub show_line_numbers: Option<bool>,
    /// `Some(None)` clears the watermark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Option<String>>,
}

/// A contract template: the list gives a summary, one template gives everything,
/// and an update answers only what changed.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ContractTemplate {
    #[serde(deserialize_with = "lenient::id")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub due_days: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub html_body: Option<String>,
    #[serde(default)]
    pub variables: Option<Vec<TemplateVariable>>,
    #[serde(default)]
    pub signers: Option<Vec<Signer>>,
    #[serde(default)]
    pub reminders: Option<Reminders>,
    #[serde(default)]
    pub document_settings: Option<DocumentSettings>,
}

/// The writable fields of a contract template; absent fields are left as they are.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ContractTemplateInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signers: Option<Vec<Signer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Reminders>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_settings: Option<DocumentSettings>,
}
