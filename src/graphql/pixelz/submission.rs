//! Submitting an image to Pixelz, for `submitPixelzImage` and `requestWhiteGloveService`: its
//! checks, the Pixieset client it is for, and the write made once per idempotency key, found again
//! through a `customerImageId` made from the key when its answer is lost.

use async_graphql::{Context, Error, ID};
use chrono::{NaiveDateTime, Utc};

use super::super::context::{client_images, pixelz, pixieset};
use super::super::error::from_upstream;
use super::super::ids;
use super::super::mutation::validate::Check;
use super::super::mutation::{UserErrorCode, WebhookUrl, WriteOnce, derived_key, write_once};
use super::mutation::{RequestWhiteGloveServiceInput, SubmitPixelzImageInput, SubmitPixelzImagePayload};
use crate::idempotency::{Natural, Settled};
use crate::upstream::pixelz::{Ticket, wire};

pub(super) const MAX_IMAGES: usize = 5;
pub(super) const MAX_IMAGE_ID: usize = 100;

pub(super) fn deadline(check: &mut Check, raw: Option<&str>) -> Option<NaiveDateTime> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    let parsed = chrono::DateTime::parse_from_rfc3339(raw)
        .map(|d| d.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S"));
    match parsed {
        Ok(at) if at > Utc::now().naive_utc() => Some(at),
        Ok(_) => {
            check.fail(&["deadline"], UserErrorCode::Invalid, "must be in the future");
            None
        }
        Err(_) => {
            check.fail(
                &["deadline"],
                UserErrorCode::Invalid,
                "is not a UTC time like 2026-12-31T18:00:00Z or 2026-12-31 18:00:00",
            );
            None
        }
    }
}

/// What both ways of sending an image ask alike.
pub(super) struct Submission<'a> {
    image_urls: &'a [String],
    color_reference_url: Option<&'a str>,
    callback_url: Option<&'a str>,
    customer_image_id: Option<&'a str>,
    product_id: Option<&'a str>,
    client_id: Option<&'a ID>,
}

macro_rules! submission_of {
    ($($input:ty),+) => {$(
        impl<'a> From<&'a $input> for Submission<'a> {
            fn from(input: &'a $input) -> Self {
                Self {
                    image_urls: &input.image_urls,
                    color_reference_url: input.color_reference_url.as_deref(),
                    callback_url: input.callback_url.as_deref(),
                    customer_image_id: input.customer_image_id.as_deref(),
                    product_id: input.product_id.as_deref(),
                    client_id: input.client_id.as_ref(),
                }
            }
        }
    )+};
}
submission_of!(SubmitPixelzImageInput, RequestWhiteGloveServiceInput);

/// The client an image is for, checked to be a client the request's Pixieset credentials
/// open; linked to the image once it is in (`client_images.rs`).
async fn for_client(ctx: &Context<'_>, check: &mut Check, client_id: Option<&ID>) -> Result<Option<String>, Error> {
    let Some(client_id) = client_id else { return Ok(None) };
    let id = match ids::pixieset(client_id, ids::CLIENT, "client") {
        Ok(id) => id,
        Err(e) => {
            check.fail(&["clientId"], UserErrorCode::Invalid, e.message);
            return Ok(None);
        }
    };
    match pixieset(ctx)?.client(&id).await {
        Ok(_) => Ok(Some(id)),
        Err(crate::upstream::UpstreamError::NotFound { .. }) => {
            check.fail(&["clientId"], UserErrorCode::NotFound, "is no client of this studio");
            Ok(None)
        }
        Err(e) => Err(from_upstream(e)),
    }
}

/// What a submission sends, and whom it is for.
pub(super) struct Submitting {
    pub(super) check: Check,
    pub(super) image: wire::ImageSubmission,
    client_id: Option<String>,
}

/// The image to send, its client, and the checks of what was asked so far.
pub(super) async fn submission(ctx: &Context<'_>, input: Submission<'_>) -> Result<Submitting, Error> {
    let mut check = Check::default();
    let image = checked_submission(ctx, &mut check, &input);
    let client_id = for_client(ctx, &mut check, input.client_id).await?;
    Ok(Submitting { check, image, client_id })
}

fn checked_submission(ctx: &Context<'_>, check: &mut Check, input: &Submission<'_>) -> wire::ImageSubmission {
    if input.image_urls.is_empty() || input.image_urls.len() > MAX_IMAGES {
        check.fail(&["imageUrls"], UserErrorCode::Invalid, format!("takes 1 to {MAX_IMAGES} URLs"));
    }
    let image_urls =
        input.image_urls.iter().enumerate().map(|(n, url)| check.url(&["imageUrls", &n.to_string()], url)).collect();
    let callback = check.optional_url(&["callbackUrl"], input.callback_url);
    wire::ImageSubmission {
        image_urls,
        template_id: None,
        color_reference_url: check.optional_url(&["colorReferenceUrl"], input.color_reference_url),
        // Unless the caller names one, Pixelz reports back to this gateway.
        callback_url: callback.or_else(|| ctx.data_opt::<WebhookUrl>().map(|w| w.0.clone())),
        customer_image_id: check.optional_text(&["customerImageId"], input.customer_image_id, MAX_IMAGE_ID),
        product_id: check.optional_text(&["productId"], input.product_id, MAX_IMAGE_ID),
        deadline: None,
    }
}

pub(super) async fn submit(
    ctx: &Context<'_>,
    submitting: Submitting,
    white_glove: bool,
    mutation: &str,
    cmi: Option<String>,
) -> Result<SubmitPixelzImagePayload, Error> {
    let empty = |user_errors, client_mutation_id| SubmitPixelzImagePayload {
        ticket: None,
        is_trial: None,
        user_errors,
        client_mutation_id,
    };
    let Submitting { check, mut image, client_id } = submitting;
    if let Err(errors) = check.finish() {
        return Ok(empty(errors, cmi));
    }
    let pixelz = pixelz(ctx)?;
    // Pixelz finds an image by the `customerImageId` it was sent with: one made from the key lets
    // the gateway ask, before and after writing, whether this submission was already made.
    let derived = image
        .customer_image_id
        .is_none()
        .then(|| derived_key(ctx, mutation, cmi.as_deref(), pixelz.tenant()))
        .flatten();
    let natural = match (&derived, &image.customer_image_id) {
        (Some(derived), _) => Natural {
            checkable: true,
            look_for: format!("an image with customerImageId {derived}"),
        },
        (None, Some(own)) => Natural {
            checkable: false,
            look_for: format!(
                "an image with customerImageId {own} submitted since the write was sent (an earlier image may carry it too)"
            ),
        },
        (None, None) => Natural {
            checkable: false,
            look_for: "a new image in the image list (pixelzImages, newest first): this submission had no customerImageId to find it by".into(),
        },
    };
    if derived.is_some() {
        image.customer_image_id = derived.clone();
    }
    let settle = |_since| {
        let (derived, look_for) = (derived.clone(), natural.look_for.clone());
        async move {
            let Some(derived) = derived else { return Ok(Settled::CannotTell(look_for)) };
            Ok(match pixelz.image_by_customer_id_now(&derived).await? {
                Some(found) => Settled::Found(wire::SubmittedImage {
                    image_ticket: found.image_ticket,
                    // The status answer does not say; absent is absent.
                    is_trial: None,
                    customer_image_id: Some(derived),
                }),
                None => Settled::Absent,
            })
        }
    };
    let what = WriteOnce {
        mutation,
        client_mutation_id: cmi.as_deref(),
        tenant: pixelz.tenant(),
        target: &["input"],
        natural: natural.clone(),
    };
    let submitted = write_once(ctx, what, || pixelz.submit_image(&image, white_glove), settle);
    match submitted.await? {
        Ok(submitted) => {
            // On every answer with a ticket, a retry's too: the first link counts, and one the
            // first request did not live to make is made by its retry.
            if let Some(client_id) = &client_id {
                let links = client_images(ctx)?;
                links.link(pixelz.tenant(), client_id, &Ticket::of(&submitted.image_ticket)).await;
            }
            Ok(SubmitPixelzImagePayload {
                ticket: Some(ID(submitted.image_ticket.clone())),
                is_trial: submitted.is_trial,
                user_errors: vec![],
                client_mutation_id: cmi,
            })
        }
        Err(user_errors) => Ok(empty(user_errors, cmi)),
    }
}
