//! Simulated processing on the sandbox clock, and signed webhook delivery.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use pixgate_sandbox::{self as sandbox, ProcessingSettings, Sandbox, WebhookEncoding, documented};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::*;

#[derive(Clone, Default)]
struct Receiver {
    deliveries: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// How many deliveries to refuse before answering 200.
    refuse_first: usize,
}

impl Receiver {
    /// Serves on a free port; returns the callback URL.
    async fn start(&self) -> String {
        let receiver = self.clone();
        let app = axum::Router::new().route(
            "/callback",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let receiver = receiver.clone();
                async move {
                    let mut deliveries = receiver.deliveries.lock().unwrap();
                    deliveries.push((headers, body));
                    if deliveries.len() <= receiver.refuse_first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/callback")
    }

    fn deliveries(&self) -> Vec<(HeaderMap, Bytes)> {
        self.deliveries.lock().unwrap().clone()
    }
}

/// The documents' verification: base64 of HMAC-SHA256 over the raw body, keyed by the UTF-8 secret.
fn documented_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn submit(sandbox: &Sandbox, extra: Value) -> String {
    let mut payload = json!({ "imageURL": "https://images.example.com/shoot/bride.jpg", "customerImageId": "cust-77", "templateId": documented::PIXELZ_TEMPLATE_ID });
    payload.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let answer = pixelz_send(sandbox, Method::POST, "/Image/", payload).await;
    assert_eq!(answer["ErrorCode"], "NoError", "{answer}");
    answer["ImageTicket"].as_str().unwrap().to_string()
}

async fn status_of(sandbox: &Sandbox, ticket: &str) -> u64 {
    pixelz_get(sandbox, &format!("/Image/{ticket}/"), &[]).await["ImageStatus"]["StatusId"].as_u64().unwrap()
}

#[tokio::test]
async fn an_image_walks_the_pipeline_and_its_webhook_verifies() {
    let sandbox = sandbox_with_step(25).await;
    let receiver = Receiver::default();
    let callback = receiver.start().await;
    let ticket = submit(&sandbox, json!({ "imageCallbackURL": callback })).await;

    let mut seen = vec![status_of(&sandbox, &ticket).await];
    while *seen.last().unwrap() != 80 {
        let status = status_of(&sandbox, &ticket).await;
        if status != *seen.last().unwrap() {
            seen.push(status);
        }
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    // The shared clock may tick at once after submission, so the first read can already be 30.
    let pipeline = [10, 30, 60, 62, 64, 66, 70, 80];
    assert!(
        seen.windows(2).all(|w| pipeline.iter().position(|s| *s == w[0]) < pipeline.iter().position(|s| *s == w[1])),
        "{seen:?}"
    );
    assert!(seen.len() >= 5, "intermediate statuses are observable: {seen:?}");

    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 1);
    let (headers, body) = &deliveries[0];
    let signature = headers.get(sandbox::CUSTOMER_SIGNATURE_HEADER).expect("the customer signature is always sent");
    assert_eq!(signature.to_str().unwrap(), documented_signature(sandbox::PIXELZ_APP_SECRET, body));
    assert!(headers.get(sandbox::PARTNER_SIGNATURE_HEADER).is_none(), "no developer key, no partner signature");
    assert_eq!(headers["content-type"], "application/json");
    let fields: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(fields["imageTicket"], ticket.as_str());
    assert_eq!(fields["customerImageId"], "cust-77");
    assert_eq!(fields["templateId"], documented::PIXELZ_TEMPLATE_ID.to_string());
    let url = fields["processedImageURL"].as_str().unwrap();
    assert!(url.starts_with(&sandbox.base_url()) && url.ends_with("/final/bride.png"), "{url}");
}

#[tokio::test]
async fn a_developer_key_adds_the_partner_signature() {
    let sandbox = sandbox().await;
    let receiver = Receiver::default();
    let callback = receiver.start().await;
    submit(&sandbox, json!({ "imageCallbackURL": callback, "developerAPIkey": sandbox::PIXELZ_PARTNER_KEY })).await;
    eventually("the webhook", || async { !receiver.deliveries().is_empty() }).await;
    let (headers, body) = &receiver.deliveries()[0];
    assert_eq!(
        headers[sandbox::PARTNER_SIGNATURE_HEADER].to_str().unwrap(),
        documented_signature(sandbox::PIXELZ_PARTNER_SECRET, body)
    );
    assert_eq!(
        headers[sandbox::CUSTOMER_SIGNATURE_HEADER].to_str().unwrap(),
        documented_signature(sandbox::PIXELZ_APP_SECRET, body)
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried_on_the_schedule() {
    let sandbox = sandbox_with_step(2).await;
    let receiver = Receiver { refuse_first: 2, ..Receiver::default() };
    let callback = receiver.start().await;
    let ticket = submit(&sandbox, json!({ "imageCallbackURL": callback })).await;
    eventually("delivery on the third attempt", || async { status_of(&sandbox, &ticket).await == 80 }).await;
    let attempts: Vec<(usize, Option<u16>)> =
        sandbox.webhook_deliveries().iter().filter(|d| d.ticket == ticket).map(|d| (d.attempt, d.status)).collect();
    assert_eq!(attempts, [(1, Some(500)), (2, Some(500)), (3, Some(200))]);
    assert_eq!(receiver.deliveries().len(), 3);
    assert!(receiver.deliveries().windows(2).all(|w| w[0].1 == w[1].1), "a retry repeats the same delivery");
}

#[tokio::test]
async fn four_failures_end_in_delivery_failed() {
    let sandbox = sandbox_with_step(1).await;
    let receiver = Receiver { refuse_first: usize::MAX, ..Receiver::default() };
    let callback = receiver.start().await;
    let ticket = submit(&sandbox, json!({ "imageCallbackURL": callback })).await;
    eventually("the last attempt", || async { status_of(&sandbox, &ticket).await == 78 }).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(receiver.deliveries().len(), 4, "four attempts, no more");
}

#[tokio::test]
async fn webhooks_can_be_form_encoded() {
    let sandbox = sandbox().await;
    sandbox.set_processing(ProcessingSettings { step_ms: 5, webhook_encoding: WebhookEncoding::Form });
    let receiver = Receiver::default();
    let callback = receiver.start().await;
    let ticket = submit(&sandbox, json!({ "imageCallbackURL": callback })).await;
    eventually("the webhook", || async { !receiver.deliveries().is_empty() }).await;
    let (headers, body) = &receiver.deliveries()[0];
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(
        headers[sandbox::CUSTOMER_SIGNATURE_HEADER].to_str().unwrap(),
        documented_signature(sandbox::PIXELZ_APP_SECRET, body)
    );
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.starts_with(&format!("imageTicket={ticket}&processedImageURL=http%3A%2F%2F127.0.0.1")), "{text}");
}

#[tokio::test]
async fn images_without_a_callback_are_delivered_and_broken_downloads_stop() {
    let sandbox = sandbox_with_step(1).await;
    let plain = submit(&sandbox, json!({})).await;
    let broken = submit(&sandbox, json!({ "imageURL": "https://images.example.com/download-fails/x.jpg" })).await;
    eventually("delivery", || async { status_of(&sandbox, &plain).await == 80 }).await;
    assert_eq!(status_of(&sandbox, &broken).await, 12);
}

#[tokio::test]
async fn a_rejected_image_is_produced_again() {
    let sandbox = sandbox_with_step(1).await;
    let path = format!("/Image/Reject/{}/", documented::FINISHED_TICKET);
    let rejected = pixelz_send(&sandbox, Method::PUT, &path, json!({ "comment": "too dark" })).await;
    assert_eq!(rejected["ErrorCode"], "NoError");
    eventually("redelivery", || async { status_of(&sandbox, documented::FINISHED_TICKET).await == 80 }).await;
}

#[tokio::test]
async fn webhooks_never_leave_this_machine() {
    let sandbox = sandbox_with_step(1).await;
    // The documents' own example names a public host.
    let ticket = submit(&sandbox, json!({ "imageCallbackURL": "http://www.mydomain.com/callback-url.php" })).await;
    eventually("all four attempts", || async { status_of(&sandbox, &ticket).await == 78 }).await;
    let attempts: Vec<_> = sandbox.webhook_deliveries().into_iter().filter(|d| d.ticket == ticket).collect();
    assert_eq!(attempts.len(), 4);
    assert!(attempts.iter().all(|d| d.status.is_none() && d.error.as_deref() == Some(sandbox::NOT_LOOPBACK)));
}
