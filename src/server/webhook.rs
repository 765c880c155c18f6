//! `POST /webhooks/pixelz`: Pixelz says an image is finished.
//!
//! The body is verified against the application secret (and the partner secret
//! when that header comes) before anything else, in constant time. Pixelz
//! repeats a delivery until it gets a 200, so a repeat is answered 200 and adds
//! nothing.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AppState;
use crate::secret::Secret;
use crate::upstream::pixelz::Ticket;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The documents name the headers as PHP's `$_SERVER` shows them; senders and
/// proxies may also send the hyphenated or unprefixed forms.
const CUSTOMER_HEADERS: [&str; 3] =
    ["http_x_pxz_customer_hmac_sha256", "http-x-pxz-customer-hmac-sha256", "x-pxz-customer-hmac-sha256"];
const PARTNER_HEADERS: [&str; 3] =
    ["http_x_pxz_partner_hmac_sha256", "http-x-pxz-partner-hmac-sha256", "x-pxz-partner-hmac-sha256"];

#[derive(Clone, Debug, Default)]
pub struct WebhookSecrets {
    pub customer: Option<Secret>,
    pub partner: Option<Secret>,
    /// Images go with a developer key, so every delivery carries the partner signature:
    /// one without it is not from Pixelz.
    pub partner_required: bool,
}

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| headers.get(*name)).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// base64(HMAC-SHA256(secret, body)), as the documents compute it; compared in constant time.
fn signed(secret: &Secret, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

struct Delivery {
    ticket: Ticket,
    processed_url: Option<String>,
    /// Which output version this is, for images with more than one.
    template_id: Option<String>,
}

/// The fields, from a JSON or a form-encoded body.
fn delivery(headers: &HeaderMap, body: &[u8]) -> Option<Delivery> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let fields: HashMap<String, String> = if form || !body.trim_ascii_start().starts_with(b"{") {
        serde_urlencoded::from_bytes(body).ok()?
    } else {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        value
            .as_object()?
            .iter()
            .filter_map(|(k, v)| {
                Some((k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).filter(|_| !v.is_null())
            })
            .collect()
    };
    let ticket = Ticket::parse(fields.get("imageTicket")?)?;
    let processed_url = fields
        .get("processedImageURL")
        .map(|u| u.trim().to_string())
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let template_id = fields.get("templateId").map(|t| t.trim().to_string()).filter(|t| !t.is_empty() && t.len() <= 32);
    Some(Delivery { ticket, processed_url, template_id })
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let Some(secret) = &state.webhook_secrets.customer else {
        tracing::warn!("a Pixelz webhook arrived, but no application secret is configured to verify it");
        count("refused");
        return (StatusCode::UNAUTHORIZED, "webhooks are not configured");
    };
    let customer_signed = header(&headers, &CUSTOMER_HEADERS).is_some_and(|s| signed(secret, &body, s));
    let partner_signed = match (header(&headers, &PARTNER_HEADERS), &state.webhook_secrets.partner) {
        (Some(signature), Some(partner)) => signed(partner, &body, signature),
        (None, _) if state.webhook_secrets.partner_required => false,
        // A partner signature this gateway cannot check adds nothing; the customer one decides.
        _ => true,
    };
    if !(customer_signed && partner_signed) {
        tracing::warn!("refused a Pixelz webhook with a missing or wrong signature");
        count("refused");
        return (StatusCode::UNAUTHORIZED, "signature missing or wrong");
    }
    let Some(delivery) = delivery(&headers, &body) else {
        count("unreadable");
        return (StatusCode::BAD_REQUEST, "no imageTicket in the body");
    };
    let new = state.hub.finished(&delivery.ticket, delivery.processed_url, delivery.template_id);
    tracing::info!(new, "Pixelz reported a finished image");
    count("accepted");
    (StatusCode::OK, "OK")
}

fn count(outcome: &'static str) {
    metrics::counter!(crate::telemetry::metrics::WEBHOOKS, "outcome" => outcome).increment(1);
}
