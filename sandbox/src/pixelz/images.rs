//! Images: submitting (with a template or the White Glove Service), status, the
//! list and its count, product ids, delete and reject.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use super::model::*;
use super::reply::*;
use crate::SandboxState;
use crate::processing::TWO_VERSIONS_MARKER;

/// The account's minimum deadline, which the documents put at 24 hours by default.
const MIN_DEADLINE_HOURS: i64 = 24;

pub(super) fn file_name(url: &str, format: Option<&str>) -> String {
    let last = url.rsplit('/').next().unwrap_or("image").split(['?', '#']).next().unwrap_or("image");
    let stem = last.rsplit_once('.').map_or(last, |(stem, _)| stem);
    let stem: String = stem.chars().filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c)).collect();
    let stem = if stem.is_empty() { "image".to_string() } else { stem };
    let extension = match format {
        Some("JPEG" | "JPG") | None => "jpg".to_string(),
        Some(other) => other.to_ascii_lowercase(),
    };
    format!("{stem}.{extension}")
}

pub(super) async fn submit_image(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
    submit(&state, &body, false)
}

pub(super) async fn submit_white_glove(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
    submit(&state, &body, true)
}

pub(super) fn submit(state: &SandboxState, body: &Bytes, white_glove: bool) -> Reply {
    let params = body_map(body)?;
    let ticket = uuid::Uuid::new_v4().to_string();
    with_account(state, &params, bad_credentials, |store, index| {
        let image_url = text(&params, "imageURL").ok_or_else(|| invalid("imageURL is required."))?;
        let mut image_urls = vec![image_url];
        for key in ["imageURL2", "imageURL3", "imageURL4", "imageURL5"] {
            image_urls.extend(optional_url(&params, key)?);
        }
        if let Some(bad) = image_urls.iter().find(|url| !http_url(url)) {
            return Err(invalid(format!("Image URL {bad:?} must be an http or https URL.")));
        }
        optional_url(&params, "colorReferenceFileURL")?;
        let callback_url = optional_url(&params, "imageCallbackURL")?;
        let developer_key = text(&params, "developerAPIkey");
        if developer_key.as_deref().is_some_and(|key| store.secret_for_key(key).is_none()) {
            return Err(fail(Failure::InvalidApiKey, "The developer API key is not valid."));
        }
        let account = &store.accounts[index];
        let template =
            if white_glove {
                account.templates.first()
            } else {
                match text(&params, "templateId") {
                    None => account.templates.first(),
                    Some(raw) => {
                        let id: i64 = raw.parse().map_err(|_| invalid("templateId must be a number."))?;
                        Some(
                            account.templates.iter().find(|t| t.id == id).ok_or_else(|| {
                                fail(Failure::TemplateNotFound, format!("Template {id} was not found."))
                            })?,
                        )
                    }
                }
            };
        if !white_glove && let Some(raw) = text(&params, "imageDeadlineDateTimeUTC") {
            let deadline = NaiveDateTime::parse_from_str(&raw, "%Y-%m-%d %H:%M:%S").map_err(|_| {
                fail(Failure::InvalidDeadline, "imageDeadlineDateTimeUTC must be \"yyyy-MM-dd HH:mm:ss\".")
            })?;
            if deadline.and_utc() < Utc::now() + Duration::hours(MIN_DEADLINE_HOURS) {
                return Err(fail(
                    Failure::InvalidDeadline,
                    "The deadline is shorter than the account's minimum of 24 hours.",
                ));
            }
        }
        let customer_image_id = text(&params, "customerImageId").unwrap_or_default();
        let product_id = text(&params, "productId").unwrap_or_default();
        if customer_image_id.len() > 100 || product_id.len() > 100 {
            return Err(invalid("customerImageId and productId accept at most 100 characters."));
        }
        let template_id = template.map(|t| t.id);
        let more_versions = if image_urls[0].contains(TWO_VERSIONS_MARKER) {
            let other = store.accounts[index].templates.iter().map(|t| t.id).find(|id| Some(*id) != template_id);
            other.into_iter().collect()
        } else {
            Vec::new()
        };
        let image = Image {
            id: store.next_image_id,
            ticket: ticket.clone(),
            customer_image_id: customer_image_id.clone(),
            product_id,
            status: 10,
            is_paid: false,
            created: Utc::now(),
            file_name: file_name(&image_urls[0], template.map(|t| t.output_format.as_str())),
            image_urls,
            more_versions,
            template_id,
            callback_url,
            developer_key,
            active: true,
        };
        store.next_image_id += 1;
        store.accounts[index].images.push(image);
        // A customer image id that looks like a number comes back as one.
        let echoed = customer_image_id.parse::<u64>().map_or_else(|_| json!(customer_image_id), |n| json!(n));
        answer(json!({ "ImageTicket": ticket, "IsTrial": "false", "CustomerImageId": echoed }))
    })
}

/// The image a ticket (or `nonticket` and a customer image id) names.
pub(super) fn find_image(account: &Account, ticket: &str, params: &Map<String, Value>) -> Result<usize, Failure> {
    let found = if ticket.eq_ignore_ascii_case(NONTICKET) {
        let customer = text(params, "customerImageId").ok_or(Failure::InvalidParameter)?;
        account.images.iter().rposition(|i| i.customer_image_id == customer)
    } else {
        account.images.iter().position(|i| i.ticket.eq_ignore_ascii_case(ticket.trim()))
    };
    found.ok_or(Failure::ImageNotFound)
}

pub(super) async fn image_status(
    State(state): State<Arc<SandboxState>>,
    Path(ticket): Path<String>,
    Query(params): Params,
) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let account = &store.accounts[index];
        let found = find_image(account, &ticket, &params).map_err(|f| fail(f, "The image was not found."))?;
        answer(json!({ "ImageStatus": account.images[found].to_json(account.folder, false) }))
    })
}

pub(super) async fn delete_image(
    State(state): State<Arc<SandboxState>>,
    Path(ticket): Path<String>,
    body: Bytes,
) -> Reply {
    // This endpoint reports its ErrorCode as a number.
    let numeric = |failure: Failure, message: &str| {
        axum::Json(json!({ "ErrorCode": failure.number(), "Message": message })).into_response()
    };
    let params = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(numeric(Failure::InvalidParameter, "The request body must be a JSON object.")),
    };
    let bad = || numeric(Failure::InvalidApiKey, "The contact email or API key is not valid.");
    with_account(&state, &params, bad, |store, index| {
        let account = &mut store.accounts[index];
        let found = find_image(account, &ticket, &params).map_err(|f| numeric(f, "The image was not found."))?;
        let image = &mut account.images[found];
        if matches!(image.status, 0 | 999) {
            return Err(numeric(Failure::ImageNotFound, "The image was not found."));
        }
        if is_in_production(image.status) {
            return Err(numeric(Failure::ImageInProduction, "Cannot delete an in-production image."));
        }
        image.status = 0;
        image.active = false;
        Ok(axum::Json(json!({ "ErrorCode": 0, "Message": "Image was deleted" })).into_response())
    })
}

pub(super) async fn reject_image(
    State(state): State<Arc<SandboxState>>,
    Path(ticket): Path<String>,
    body: Bytes,
) -> Reply {
    let params = body_map(&body)?;
    with_account(&state, &params, bad_credentials, |store, index| {
        let account = &mut store.accounts[index];
        let found = find_image(account, &ticket, &params).map_err(|f| fail(f, "The image was not found."))?;
        let image = &mut account.images[found];
        if !is_finished(image.status) {
            return Err(fail(Failure::ImageNotFinished, "Cannot reject a not yet finished image."));
        }
        // Returned for production: it walks the pipeline again.
        image.status = 40;
        image.active = true;
        answer(json!({ "Message": "Image was rejected." }))
    })
}

pub(super) struct ImageFilter {
    status: Option<i64>,
    exclude: Option<i64>,
    product: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl ImageFilter {
    fn parse(params: &Map<String, Value>) -> Result<Self, Response> {
        let known = |n: i64| STATUSES.iter().any(|(id, _)| i64::from(*id) == n);
        Ok(Self {
            status: int(params, "imageStatus", known)?,
            exclude: int(params, "excludeImageStatus", known)?,
            product: text(params, "productId"),
            from: date_bound(params, "fromDate", false)?,
            to: date_bound(params, "toDate", true)?,
        })
    }

    fn matches(&self, image: &Image) -> bool {
        self.status.is_none_or(|s| i64::from(image.status) == s)
            && self.exclude.is_none_or(|s| i64::from(image.status) != s)
            && self.product.as_ref().is_none_or(|p| &image.product_id == p)
            && self.from.is_none_or(|from| image.created >= from)
            && self.to.is_none_or(|to| image.created <= to)
    }
}

pub(super) async fn list_images(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let filter = ImageFilter::parse(&params)?;
        let page = page(&params, "page", 1, usize::MAX)?;
        let per_page = page_size(&params, "imagesPerPage")?;
        let descending = flag(&params, "isDescending")?.unwrap_or(false);
        let account = &store.accounts[index];
        let mut images: Vec<&Image> = account.images.iter().filter(|i| filter.matches(i)).collect();
        match text(&params, "sortBy").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("id") => images.sort_by_key(|i| i.id),
            Some("date") => images.sort_by_key(|i| (i.created, i.id)),
            Some("status") => images.sort_by_key(|i| (i.status, i.id)),
            Some(_) => return Err(invalid("sortBy accepts \"id\", \"date\", \"status\".")),
        }
        if descending {
            images.reverse();
        }
        let data: Vec<Value> = images
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|i| i.to_json(account.folder, true))
            .collect();
        answer(json!({ "Images": data }))
    })
}

pub(super) fn page_size(params: &Map<String, Value>, key: &str) -> Result<usize, Response> {
    page(params, key, DEFAULT_PER_PAGE, MAX_PER_PAGE)
        .map_err(|_| invalid(format!("{key} must be between 1 and {MAX_PER_PAGE}.")))
}

pub(super) async fn count_images(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let filter = ImageFilter { exclude: None, product: None, ..ImageFilter::parse(&params)? };
        let count = store.accounts[index].images.iter().filter(|i| filter.matches(i)).count();
        answer(json!({ "ImagesCount": count }))
    })
}

pub(super) async fn list_product_ids(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let page = page(&params, "page", 1, usize::MAX)?;
        let per_page = page_size(&params, "productIdsPerPage")?;
        let mut stats: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
        for image in store.accounts[index].images.iter().filter(|i| !i.product_id.is_empty()) {
            let entry = stats.entry(&image.product_id).or_default();
            entry.0 += usize::from(is_done(image.status));
            entry.1 += usize::from(is_todo(image.status));
        }
        let data: Vec<Value> = stats
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|(product, (done, todo))| json!({ "DoneCount": done, "ProductId": product, "TodoCount": todo }))
            .collect();
        answer(json!({ "ProductIds": data }))
    })
}
