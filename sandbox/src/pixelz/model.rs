//! The simulated Pixelz accounts and how Pixelz writes them as JSON.
//!
//! Quirks kept on purpose, because the documents show them: list templates
//! say `TemplateId` where one template says `Id`; `IsTrial` is a string;
//! `CustomerImageId` is a number in the submit answer when it looks like one;
//! final-image URLs are relative, with a leading slash in the status answer
//! and without one in the list; `AmountDue` is a string; DELETE answers a
//! numeric `ErrorCode`.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

/// Every documented image status, with the name the API reports.
pub const STATUSES: &[(u16, &str)] = &[
    (0, "Deleted by user"),
    (10, "New images"),
    (12, "New images – download failed"),
    (20, "New images – waiting for payment"),
    (30, "Ready for production"),
    (40, "Returned for production"),
    (60, "In production"),
    (62, "Assigned to editor"),
    (64, "Downloaded by editor"),
    (66, "Quality Assurance"),
    (70, "Production Finished"),
    (72, "Production finished – 1st delivery attempt failed"),
    (74, "Production finished – 2nd delivery attempt failed"),
    (76, "Production finished – 3rd delivery attempt failed"),
    (78, "Production finished – Delivery failed"),
    (80, "Delivered"),
    (90, "Rejected by Pixelz"),
    (95, "Awaiting your reply"),
    (100, "Closed"),
    (999, "Deleted by cleanup service"),
];

pub fn status_name(status: u16) -> &'static str {
    STATUSES.iter().find(|(id, _)| *id == status).map_or("Unknown", |(_, name)| name)
}

pub fn is_finished(status: u16) -> bool {
    matches!(status, 70..=80)
}

/// Counted as done in the product-id statistics.
pub fn is_done(status: u16) -> bool {
    is_finished(status) || status == 100
}

/// Counted as still to do in the product-id statistics.
pub fn is_todo(status: u16) -> bool {
    matches!(status, 10..=66 | 95)
}

pub fn is_in_production(status: u16) -> bool {
    matches!(status, 60..=66)
}

/// The failures Pixelz reports inside a 200 answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    InvalidApiKey,
    InvalidParameter,
    TemplateNotFound,
    ImageNotFound,
    ImageInProduction,
    ImageNotFinished,
    ContactExists,
    InvalidDeadline,
}

impl Failure {
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidApiKey => "InvalidAPIKey",
            Self::InvalidParameter => "InvalidParameter",
            Self::TemplateNotFound => "TemplateNotFound",
            Self::ImageNotFound => "ImageNotFound",
            Self::ImageInProduction => "ImageInProduction",
            Self::ImageNotFinished => "ImageNotFinished",
            Self::ContactExists => "ContactAlreadyExists",
            Self::InvalidDeadline => "InvalidDeadline",
        }
    }

    /// The numeric form, which the DELETE endpoint uses.
    pub fn number(self) -> u16 {
        match self {
            Self::InvalidApiKey => 1,
            Self::InvalidParameter => 2,
            Self::TemplateNotFound => 3,
            Self::ImageNotFound => 4,
            Self::ImageInProduction => 5,
            Self::ImageNotFinished => 6,
            Self::ContactExists => 7,
            Self::InvalidDeadline => 8,
        }
    }
}

pub fn price_json(cents: i64) -> Value {
    json!({ "Amount": cents as f64 / 100.0, "Currency": "USD", "CurrencyId": 1 })
}

#[derive(Clone, Debug, Default)]
pub struct ColorSettings {
    pub adjustment: bool,
    pub adjustment_comment: String,
    pub adjustment_setting: String,
    pub matching: bool,
    pub matching_setting: String,
    pub match_comment: String,
}

#[derive(Clone, Debug)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub output_format: String,
    pub delivery_hours: i64,
    pub background_type: i64,
    pub background_color: Option<String>,
    pub gradient_color: Option<String>,
    pub resize_type: i64,
    pub resize_unit: i64,
    pub resize_height: Option<i64>,
    pub resize_width: Option<i64>,
    pub resize_min: Option<i64>,
    pub resize_max: Option<i64>,
    pub margin_type: i64,
    /// Top, bottom, left, right.
    pub margins: [i64; 4],
    pub vertical_alignment: i64,
    pub shadow_type: i64,
    pub kept_mannequin: bool,
    pub kept_model: bool,
    pub price_cents: i64,
    pub created: NaiveDate,
    pub modified: NaiveDate,
    /// Absent for templates whose list entry omits the colour fields.
    pub color: Option<ColorSettings>,
    pub label_id: i64,
    pub callback_url: Option<String>,
}

impl Template {
    pub fn list_json(&self, contact_id: i64) -> Value {
        let mut body = json!({
            "ContactId": contact_id,
            "IsCombinedImages": false,
            "IsRecreateDetail": false,
            "Prices": [price_json(self.price_cents)],
            "TemplateId": self.id,
            "TemplateLabelId": self.label_id,
            "TemplateName": self.name,
        });
        if let Some(color) = &self.color {
            body["ColorAdjustment"] = json!(color.adjustment);
            body["ColorAdjustmentComment"] = json!(color.adjustment_comment);
            body["ColorAdjustmentSetting"] = json!(color.adjustment_setting);
            body["ColorMatchComment"] = json!(color.match_comment);
            body["ColorMatching"] = json!(color.matching);
            body["ColorMatchingSetting"] = json!(color.matching_setting);
        }
        body
    }

    pub fn detail_json(&self) -> Value {
        let color = self.color.clone().unwrap_or_default();
        json!({
            "BackgroundColor": self.background_color,
            "BackgroundType": self.background_type,
            "BackgroundVerticalGradientColor": self.gradient_color,
            "CallbackFtp": null,
            "CallbackUrl": self.callback_url,
            "ColorAdjustment": color.adjustment,
            "ColorAdjustmentComment": color.adjustment_comment,
            "ColorAdjustmentSetting": color.adjustment_setting,
            "ColorMatchComment": color.match_comment,
            "ColorMatching": color.matching,
            "ColorMatchingSetting": color.matching_setting,
            "Comment": "",
            "CreatedDate": self.created.format("%Y-%m-%d").to_string(),
            "DeliveryTimeInHours": self.delivery_hours,
            "Id": self.id,
            "IsCombinedImages": false,
            "IsDeleted": false,
            "IsKeptMannequin": self.kept_mannequin,
            "IsKeptModel": self.kept_model,
            "MarginBottom": self.margins[1],
            "MarginLeft": self.margins[2],
            "MarginRight": self.margins[3],
            "MarginTop": self.margins[0],
            "MarginType": self.margin_type,
            "ModifiedDate": self.modified.format("%Y-%m-%d").to_string(),
            "Name": self.name,
            "OutputFormat": self.output_format,
            "Price": price_json(self.price_cents),
            "ResizeHeight": self.resize_height,
            "ResizeMaxSize": self.resize_max,
            "ResizeMinSize": self.resize_min,
            "ResizeType": self.resize_type,
            "ResizeUnit": self.resize_unit,
            "ResizeWidth": self.resize_width,
            "ShadowType": self.shadow_type,
            "VerticalAlignment": self.vertical_alignment,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Image {
    /// Internal sequence, what `sortBy=id` orders by.
    pub id: u64,
    pub ticket: String,
    pub customer_image_id: String,
    pub product_id: String,
    pub template_id: Option<i64>,
    pub status: u16,
    pub is_paid: bool,
    pub created: DateTime<Utc>,
    pub file_name: String,
    pub image_urls: Vec<String>,
    pub callback_url: Option<String>,
    pub developer_key: Option<String>,
    /// Templates of further output versions: "an image may have more than one", the
    /// webhook's `templateId` says which each delivery is.
    pub more_versions: Vec<i64>,
    /// Walks the status pipeline on the sandbox clock; seeded images stay put.
    pub active: bool,
}

impl Image {
    fn path(&self, folder: i64, kind: &str) -> String {
        format!("{folder}/{}/{kind}/{}", self.template_id.unwrap_or(2_000_000), self.file_name)
    }

    /// Every output version: its template and its final path.
    pub fn versions(&self, folder: i64) -> Vec<(Option<i64>, String)> {
        let first = (self.template_id, self.path(folder, "final"));
        let more = self.more_versions.iter().map(|t| (Some(*t), format!("{folder}/{t}/final/{}", self.file_name)));
        std::iter::once(first).chain(more).collect()
    }

    /// `list` selects the list's URL style (final URLs without the leading slash).
    pub fn to_json(&self, folder: i64, list: bool) -> Value {
        let finals: Vec<String> = if is_finished(self.status) || self.status == 100 {
            let paths = self.versions(folder).into_iter().map(|(_, path)| path);
            paths.map(|path| if list { path } else { format!("/{path}") }).collect()
        } else {
            Vec::new()
        };
        json!({
            "CustomerImageId": self.customer_image_id,
            "FinalImagesURL": finals,
            "ImageTicket": self.ticket,
            "IsPaid": self.is_paid,
            "ProductId": self.product_id,
            "StatusId": self.status,
            "StatusName": status_name(self.status),
            "ThumbnailImageURL": format!("/{}", self.path(folder, "thumbnail")),
        })
    }
}

#[derive(Clone, Debug)]
pub struct Invoice {
    pub id: String,
    pub created: NaiveDate,
    pub amount_due: String,
    pub is_paid: bool,
    /// The documented example's fields are kept as printed, swapped and broken.
    pub literal_urls: Option<(&'static str, &'static str)>,
}

impl Invoice {
    pub fn to_json(&self, api_key: &str, return_url: Option<&str>) -> Value {
        let (invoice_url, payment_url) = match self.literal_urls {
            Some((invoice, payment)) => (invoice.to_string(), payment.to_string()),
            None => {
                let payment = if self.is_paid {
                    String::new()
                } else {
                    let key: String = api_key.chars().filter(char::is_ascii_alphanumeric).take(10).collect();
                    match return_url {
                        Some(url) => format!("/Transactions?key={key}&returnUrl={url}"),
                        None => format!("/Transactions?key={key}"),
                    }
                };
                (format!("/DownloadInvoice?invoiceNumber={}", self.id), payment)
            }
        };
        json!({
            "AmountDue": self.amount_due,
            "CreatedDate": self.created.format("%Y-%m-%d").to_string(),
            "InvoiceId": self.id,
            "InvoiceUrl": invoice_url,
            "IsPaid": self.is_paid,
            "PaymentUrl": payment_url,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Account {
    pub email: String,
    pub api_key: String,
    pub secret: String,
    pub contact_id: i64,
    /// The first segment of this account's image paths.
    pub folder: i64,
    pub company: String,
    pub person: String,
    pub balance_cents: i64,
    pub days_of_credit: i64,
    pub trial_images: i64,
    pub templates: Vec<Template>,
    pub images: Vec<Image>,
    pub invoices: Vec<Invoice>,
    /// The developer (partner) account that created this one through POST Contact.
    pub developer: Option<String>,
}

impl Account {
    pub fn contact_json(&self) -> Value {
        json!({
            "ContactAccountBalance": price_json(self.balance_cents),
            "ContactCompany": self.company,
            "ContactDaysOfCredit": self.days_of_credit,
            "ContactEmail": self.email,
            "ContactPerson": self.person,
            "NumberOfTrialImages": self.trial_images,
        })
    }
}

#[derive(Debug, Default)]
pub struct Store {
    pub accounts: Vec<Account>,
    pub next_image_id: u64,
    pub next_template_id: i64,
    pub next_contact_id: i64,
}

impl Store {
    pub fn account(&self, email: &str, key: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.email.eq_ignore_ascii_case(email.trim()) && a.api_key == key)
    }

    /// The application secret behind an API key, for the partner signature.
    pub fn secret_for_key(&self, key: &str) -> Option<String> {
        self.accounts.iter().find(|a| a.api_key == key).map(|a| a.secret.clone())
    }
}
