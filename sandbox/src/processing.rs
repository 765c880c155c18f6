//! Image processing on the sandbox clock, and webhook delivery.
//!
//! One clock step stands for one simulated minute: a submitted image moves one
//! status per step, and the documented delivery retries (+5 min, +1 h, +5 h)
//! wait 5, 60 and 300 steps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::watch;

use super::SandboxState;
use crate::{locked, read};

pub const CUSTOMER_SIGNATURE_HEADER: &str = "HTTP_X_PXZ_CUSTOMER_HMAC_SHA256";
pub const PARTNER_SIGNATURE_HEADER: &str = "HTTP_X_PXZ_PARTNER_HMAC_SHA256";
/// Delay before each delivery attempt, in simulated minutes.
const DELIVERY_SCHEDULE: [u32; 4] = [0, 5, 60, 300];
/// The status after each failed attempt.
const FAILED_STATUS: [u16; 4] = [72, 74, 76, 78];
const DELIVERED: u16 = 80;
/// Images whose URL contains this never download, so they stop at status 12.
pub const DOWNLOAD_FAILS_MARKER: &str = "download-fails";
/// An image URL containing this is produced in two output versions: its template's and
/// another template of the account, each delivered by its own webhook.
pub const TWO_VERSIONS_MARKER: &str = "two-versions";
/// What a delivery to anywhere but this machine records instead of calling out.
pub const NOT_LOOPBACK: &str = "the sandbox delivers webhooks to loopback addresses only";

/// The sandbox is a test double: it never calls a host beyond this machine,
/// even when a submission (like the documents' own example) names one.
fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else { return false };
    let Some(host) = url.host_str() else { return false };
    match host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookEncoding {
    #[default]
    Json,
    Form,
}

/// Real time per simulated step unless told otherwise: slow enough to watch an image move.
pub const DEFAULT_STEP_MS: u64 = 2000;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessingSettings {
    /// Real time per status step (and per simulated minute of the retry schedule).
    pub step_ms: u64,
    pub webhook_encoding: WebhookEncoding,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        Self { step_ms: DEFAULT_STEP_MS, webhook_encoding: WebhookEncoding::Json }
    }
}

impl ProcessingSettings {
    pub fn step(&self) -> Duration {
        Duration::from_millis(self.step_ms.max(1))
    }
}

/// One webhook attempt, as the admin route reports it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub ticket: String,
    pub attempt: usize,
    pub url: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

struct DeliveryJob {
    account_email: String,
    ticket: String,
    /// A further output version, delivered after the first made the image delivered.
    later_version: bool,
    url: String,
    fields: Vec<(&'static str, String)>,
    customer_secret: String,
    partner_secret: Option<String>,
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub async fn run_clock(state: Arc<SandboxState>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let step = read(&state.processing).step();
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = shutdown.changed() => return,
        }
        for job in advance(&state) {
            tokio::spawn(deliver(state.clone(), job, shutdown.clone()));
        }
    }
}

/// Moves every active image one status on; returns the webhooks now due.
fn advance(state: &SandboxState) -> Vec<DeliveryJob> {
    let mut store = locked(&state.pixelz);
    let mut due = Vec::new();
    for account in &mut store.accounts {
        let template_callbacks: HashMap<i64, Option<String>> =
            account.templates.iter().map(|t| (t.id, t.callback_url.clone())).collect();
        for image in account.images.iter_mut().filter(|i| i.active) {
            let next = match image.status {
                10 if image.image_urls[0].contains(DOWNLOAD_FAILS_MARKER) => 12,
                10 => 30,
                30 | 40 => 60,
                60 => 62,
                62 => 64,
                64 => 66,
                66 => 70,
                // Finished without anywhere to call: delivered once downloaded.
                70 => DELIVERED,
                _ => {
                    image.active = false;
                    continue;
                }
            };
            image.status = next;
            if matches!(next, 12 | DELIVERED) {
                image.active = false;
            }
            if next != 70 {
                continue;
            }
            // The image's callback wins over the template's.
            let template_callback = image.template_id.and_then(|id| template_callbacks.get(&id).cloned().flatten());
            if let Some(url) = image.callback_url.clone().or(template_callback) {
                image.active = false;
                // One webhook per output version, each naming its template.
                for (version, (template_id, path)) in image.versions(account.folder).into_iter().enumerate() {
                    let mut fields = vec![
                        ("imageTicket", image.ticket.clone()),
                        ("processedImageURL", format!("{}/{path}", state.base_url)),
                        ("templateId", template_id.map(|id| id.to_string()).unwrap_or_default()),
                    ];
                    if !image.customer_image_id.is_empty() {
                        fields.push(("customerImageId", image.customer_image_id.clone()));
                    }
                    due.push((
                        image.developer_key.clone(),
                        DeliveryJob {
                            account_email: account.email.clone(),
                            ticket: image.ticket.clone(),
                            later_version: version > 0,
                            url: url.clone(),
                            fields,
                            customer_secret: account.secret.clone(),
                            partner_secret: None,
                        },
                    ));
                }
            }
        }
    }
    due.into_iter()
        .map(|(developer_key, mut job)| {
            job.partner_secret = developer_key.and_then(|key| store.secret_for_key(&key));
            job
        })
        .collect()
}

fn encode(fields: &[(&'static str, String)], encoding: WebhookEncoding) -> (Vec<u8>, &'static str) {
    match encoding {
        WebhookEncoding::Json => {
            let map: serde_json::Map<String, serde_json::Value> =
                fields.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            (serde_json::to_vec(&map).expect("a map of strings serialises"), "application/json")
        }
        WebhookEncoding::Form => {
            let body = fields.iter().map(|(k, v)| format!("{k}={}", form_escape(v))).collect::<Vec<_>>().join("&");
            (body.into_bytes(), "application/x-www-form-urlencoded")
        }
    }
}

fn form_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn deliver(state: Arc<SandboxState>, job: DeliveryJob, mut shutdown: watch::Receiver<bool>) {
    for (attempt, minutes) in DELIVERY_SCHEDULE.iter().enumerate() {
        let (step, encoding) = {
            let settings = read(&state.processing);
            (settings.step(), settings.webhook_encoding)
        };
        tokio::select! {
            _ = tokio::time::sleep(step * *minutes) => {}
            _ = shutdown.changed() => return,
        }
        let (body, content_type) = encode(&job.fields, encoding);
        let mut request = state
            .http
            .post(&job.url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(CUSTOMER_SIGNATURE_HEADER, sign(&job.customer_secret, &body));
        if let Some(secret) = &job.partner_secret {
            request = request.header(PARTNER_SIGNATURE_HEADER, sign(secret, &body));
        }
        let (status, error) = if !is_loopback(&job.url) {
            (None, Some(NOT_LOOPBACK.to_string()))
        } else {
            match request.body(body).send().await {
                Ok(response) => (Some(response.status().as_u16()), None),
                Err(e) => (None, Some(e.to_string())),
            }
        };
        let delivered = status == Some(200);
        locked(&state.webhooks).push(Delivery {
            ticket: job.ticket.clone(),
            attempt: attempt + 1,
            url: job.url.clone(),
            status,
            error,
        });
        let mut store = locked(&state.pixelz);
        let image = store
            .accounts
            .iter_mut()
            .filter(|a| a.email == job.account_email)
            .flat_map(|a| a.images.iter_mut())
            .find(|i| i.ticket == job.ticket);
        // A delete or reject since the image finished ends the deliveries.
        let Some(image) = image.filter(|i| matches!(i.status, 70..=78) || (job.later_version && i.status == DELIVERED))
        else {
            return;
        };
        if delivered {
            image.status = DELIVERED;
            return;
        }
        if image.status != DELIVERED {
            image.status = FAILED_STATUS[attempt];
        }
    }
}
