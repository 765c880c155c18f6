//! The simulated studio's records, and how Pixieset writes them as JSON.
//!
//! Every body is built here from `json!` literals shaped like the documents'
//! examples, never from the gateway's wire types.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

pub fn timestamp(at: DateTime<Utc>) -> String {
    // Pixieset writes microseconds and a literal Z: "2025-08-06T14:50:42.000000Z".
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn opt_timestamp(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(timestamp(at)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    Client,
    Lead,
    Other,
}

impl ClientType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Self::Client),
            "lead" => Some(Self::Lead),
            "other" => Some(Self::Other),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Lead => "lead",
            Self::Other => "other",
        }
    }
    fn formatted(self) -> &'static str {
        match self {
            Self::Client => "Client",
            Self::Lead => "Lead",
            Self::Other => "Other",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Address {
    pub line_1: Option<String>,
    pub line_2: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    pub country_id: Option<i64>,
}

/// Pixieset answers with a country name beside the id it was given.
pub fn country_name(id: i64) -> Option<&'static str> {
    match id {
        223 => Some("United States"),
        38 => Some("Canada"),
        222 => Some("United Kingdom"),
        13 => Some("Australia"),
        _ => None,
    }
}

impl Address {
    pub fn to_json(&self) -> Value {
        json!({
            "address_line_1": self.line_1,
            "address_line_2": self.line_2,
            "city": self.city,
            "postal_code": self.postal_code,
            "state": self.state,
            "country": self.country_id.and_then(country_name),
            "country_id": self.country_id,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub email: String,
    pub archived: bool,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub address: Option<Address>,
    pub notes: Option<String>,
    pub avatar_color: i64,
    pub created_at: DateTime<Utc>,
    pub sample: bool,
    pub kind: ClientType,
}

impl Client {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "status_name": if self.archived { "Archived" } else { "Active" },
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "company": self.company,
            "job_title": self.job_title,
            "address_info": self.address.as_ref().map(Address::to_json),
            "notes": self.notes,
            "avatar_color": self.avatar_color,
            "created_at": timestamp(self.created_at),
            "sample": self.sample,
            "type": self.kind.as_str(),
            "type_formatted": self.kind.formatted(),
        })
    }

    /// The summary lists embed under `expand`.
    pub fn summary_json(&self) -> Value {
        json!({
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
        })
    }

    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Clone, Debug)]
pub struct LineItem {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub amount: i64,
    pub quantity: i64,
}

/// A gift card used on or bought with an invoice. The documents name
/// `expand=gift_card_activities` on a client's documents and show nothing of it,
/// so this shape is the sandbox's own and is written only with `extras`.
#[derive(Clone, Debug)]
pub struct GiftCardActivity {
    pub id: String,
    pub kind: &'static str,
    pub code: String,
    pub amount: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Invoice {
    pub id: String,
    pub invoice_number: String,
    pub status: &'static str,
    pub client_id: String,
    pub currency: &'static str,
    pub line_items: Vec<LineItem>,
    pub amount_paid: i64,
    pub due_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub gift_card_activities: Vec<GiftCardActivity>,
}

impl Invoice {
    pub fn amount(&self) -> i64 {
        self.line_items.iter().map(|item| item.amount * item.quantity).sum()
    }

    /// No document shows an invoice whole: the quick start reads `id`, `invoice_number`
    /// and `amount` from answers and writes `client_id`, `due_date` and line items'
    /// `name`, `amount` and `quantity`. The rest is written only with `extras`.
    pub fn to_json(&self, client: Option<&Client>, extras: bool) -> Value {
        let amount = self.amount();
        let mut body = json!({
            "id": self.id,
            "invoice_number": self.invoice_number,
            "client_id": self.client_id,
            "amount": amount,
            "due_date": self.due_date.format("%Y-%m-%d").to_string(),
            "line_items": self.line_items.iter().map(|item| {
                let mut line = json!({ "name": item.name, "amount": item.amount, "quantity": item.quantity });
                if extras {
                    line["id"] = json!(item.id);
                    line["description"] = json!(item.description);
                    line["total"] = json!(item.amount * item.quantity);
                }
                line
            }).collect::<Vec<_>>(),
        });
        if extras {
            body["status"] = json!(self.status);
            body["amount_paid"] = json!(self.amount_paid);
            body["amount_due"] = json!(amount - self.amount_paid);
            body["currency"] = json!(self.currency);
            body["created_at"] = json!(timestamp(self.created_at));
            body["sent_at"] = opt_timestamp(self.sent_at);
            body["paid_at"] = opt_timestamp(self.paid_at);
        }
        if let Some(client) = client {
            body["client"] = client.summary_json();
        }
        body
    }
}

#[derive(Clone, Debug)]
pub struct Signature {
    pub signer_type: String,
    pub signer_name: String,
    pub signer_email: String,
    pub signed_at: DateTime<Utc>,
}

/// The client as a contract recorded them when it was sent: the documents' contract
/// embeds a John Doe whose e-mail and phone differ from the client's own record.
#[derive(Clone, Debug)]
pub struct RecordedClient {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Contract {
    pub id: String,
    pub contract_number: String,
    pub status: &'static str,
    pub client_id: String,
    pub template_id: String,
    /// None where the contract shows the client's current record.
    pub recorded_client: Option<RecordedClient>,
    /// The list still shows it as sent and unsigned while its own endpoint says signed,
    /// as the documents' two examples of CON-001 do.
    pub listed_as_sent: bool,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub due_date: DateTime<Utc>,
    pub signed_date: Option<DateTime<Utc>>,
    pub rendered_html: String,
    pub variables: Vec<(String, String)>,
    pub signatures: Vec<Signature>,
}

/// What a contract answer embeds beside its own fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expand {
    None,
    Client,
    All,
}

impl Expand {
    pub fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some(s) if s.split(',').any(|part| part.trim() == "all") => Self::All,
            Some(s) if s.split(',').any(|part| part.trim() == "client") => Self::Client,
            _ => Self::None,
        }
    }
}

impl Contract {
    fn embedded_client(&self, client: &Client, with_phone: bool) -> Value {
        let mut summary = match &self.recorded_client {
            Some(recorded) => json!({
                "id": client.id,
                "first_name": recorded.first_name,
                "last_name": recorded.last_name,
                "email": recorded.email,
            }),
            None => client.summary_json(),
        };
        if with_phone {
            summary["phone"] = json!(self.recorded_client.as_ref().map_or(&client.phone, |r| &r.phone));
        }
        summary
    }

    /// The list item: a summary without `sent_at`, content or signatures. No document
    /// shows a contract naming its client or template other than by embedding them.
    pub fn list_json(&self, expand: Expand, client: &Client, template: &ContractTemplate, extras: bool) -> Value {
        let mut body = json!({
            "id": self.id,
            "contract_number": self.contract_number,
            "status": if self.listed_as_sent { "sent" } else { self.status },
            "created_at": timestamp(self.created_at),
            "due_date": timestamp(self.due_date),
            "signed_date": if self.listed_as_sent { Value::Null } else { opt_timestamp(self.signed_date) },
        });
        if extras {
            body["client_id"] = json!(self.client_id);
            body["template_id"] = json!(self.template_id);
        }
        if expand != Expand::None {
            body["client"] = self.embedded_client(client, false);
        }
        if expand == Expand::All {
            body["template"] = template.summary_json();
        }
        body
    }

    pub fn detail_json(&self, expand: Expand, client: &Client, template: &ContractTemplate, extras: bool) -> Value {
        let mut body = self.list_json(expand, client, template, extras);
        body["status"] = json!(self.status);
        body["signed_date"] = opt_timestamp(self.signed_date);
        body["sent_at"] = opt_timestamp(self.sent_at);
        body["signatures"] = self
            .signatures
            .iter()
            .map(|s| {
                json!({
                    "signer_type": s.signer_type,
                    "signer_name": s.signer_name,
                    "signer_email": s.signer_email,
                    "signed_at": timestamp(s.signed_at),
                    "signature_image_url": format!("https://studio.pixieset.com/signatures/{}/{}.png", self.id, s.signer_type),
                })
            })
            .collect();
        if expand != Expand::None {
            body["client"] = self.embedded_client(client, true);
        }
        if expand == Expand::All {
            let variables: serde_json::Map<String, Value> =
                self.variables.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            body["content"] = json!({ "rendered_html": self.rendered_html, "variables": variables });
        }
        body
    }
}

#[derive(Clone, Debug)]
pub struct TemplateVariable {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: Option<String>,
    pub default_value: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Signer {
    pub kind: String,
    pub required: bool,
    pub order: i64,
    pub title: Option<String>,
    pub description: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Reminders {
    pub enabled: bool,
    pub days_before_due: Vec<i64>,
    pub subject: Option<String>,
    pub message: Option<String>,
}

#[derive(Clone, Debug)]
pub struct DocumentSettings {
    pub allow_comments: bool,
    pub show_line_numbers: bool,
    pub watermark: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ContractTemplate {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub due_days: i64,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub html_body: String,
    pub variables: Vec<TemplateVariable>,
    pub signers: Vec<Signer>,
    pub reminders: Reminders,
    pub document_settings: DocumentSettings,
}

impl ContractTemplate {
    pub fn summary_json(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "due_days": self.due_days })
    }

    pub fn signers_json(&self, detailed: bool) -> Value {
        self.signers
            .iter()
            .map(|s| {
                let mut signer = json!({ "type": s.kind, "required": s.required, "order": s.order });
                if detailed {
                    if let Some(title) = &s.title {
                        signer["title"] = json!(title);
                    }
                    if let Some(description) = &s.description {
                        signer["description"] = json!(description);
                    }
                }
                signer
            })
            .collect()
    }

    pub fn reminders_json(&self, detailed: bool) -> Value {
        let mut reminders = json!({
            "enabled": self.reminders.enabled,
            "days_before_due": self.reminders.days_before_due,
        });
        if detailed {
            reminders["reminder_subject"] = json!(self.reminders.subject);
            reminders["reminder_message"] = json!(self.reminders.message);
        }
        reminders
    }

    /// The list item carries no body, variables or document settings.
    pub fn list_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "due_days": self.due_days,
            "status": self.status,
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
            "signers": self.signers_json(false),
            "reminders": self.reminders_json(false),
        })
    }

    pub fn detail_json(&self) -> Value {
        let mut body = self.list_json();
        body["html_body"] = json!(self.html_body);
        body["variables"] = self
            .variables
            .iter()
            .map(|v| {
                let mut var = json!({ "name": v.name, "type": v.kind, "required": v.required });
                if let Some(description) = &v.description {
                    var["description"] = json!(description);
                }
                if let Some(default_value) = &v.default_value {
                    var["default_value"] = json!(default_value);
                }
                var
            })
            .collect();
        body["signers"] = self.signers_json(true);
        body["reminders"] = self.reminders_json(true);
        body["document_settings"] = json!({
            "allow_comments": self.document_settings.allow_comments,
            "show_line_numbers": self.document_settings.show_line_numbers,
            "watermark": self.document_settings.watermark,
        });
        body
    }
}

/// A gallery in Pixieset's Collections product; its ids are plain numbers.
#[derive(Clone, Debug)]
pub struct Collection {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub slug: String,
    pub photo_count: i64,
    pub status: &'static str,
    pub event_date: NaiveDate,
    pub created_at: DateTime<Utc>,
}

impl Collection {
    /// The documents say only that collections come back: without `extras`, each is its id.
    pub fn to_json(&self, extras: bool) -> Value {
        if !extras {
            return json!({ "id": self.id });
        }
        json!({
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "url": format!("https://gallery.pixieset.com/{}/", self.slug),
            "cover_photo_url": format!("https://images.pixieset.com/{}/cover.jpg", self.id),
            "photo_count": self.photo_count,
            "status": self.status,
            "event_date": self.event_date.format("%Y-%m-%d").to_string(),
            "created_at": timestamp(self.created_at),
        })
    }
}

/// A questionnaire: only ever seen through a client's documents.
#[derive(Clone, Debug)]
pub struct Questionnaire {
    pub id: String,
    pub client_id: String,
    pub title: String,
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Studio {
    pub clients: Vec<Client>,
    pub invoices: Vec<Invoice>,
    pub contracts: Vec<Contract>,
    pub templates: Vec<ContractTemplate>,
    pub collections: Vec<Collection>,
    pub questionnaires: Vec<Questionnaire>,
}

impl Studio {
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }
    pub fn template(&self, id: &str) -> Option<&ContractTemplate> {
        self.templates.iter().find(|t| t.id == id)
    }
}
