//! The simulated Pixelz developer API under `/REST.svc/JSON`.
//!
//! Pixelz answers HTTP 200 for its own failures and says what went wrong in
//! `ErrorCode`; credentials travel in the query string (GET) or the JSON body.

mod model;
pub mod seed;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use model::*;
pub use model::{Account, Image, Store, is_finished};

use super::SandboxState;
use crate::sandbox::locked;
use crate::sandbox::processing::TWO_VERSIONS_MARKER;

type Params = Query<HashMap<String, String>>;
type Reply = Result<Response, Response>;

const JSON_BASE: &str = "/REST.svc/JSON";
const NONTICKET: &str = "nonticket";
const DEFAULT_PER_PAGE: usize = 10;
const MAX_PER_PAGE: usize = 100;
const INVOICES_PER_PAGE: usize = 50;
/// The account's minimum deadline, which the documents put at 24 hours by default.
const MIN_DEADLINE_HOURS: i64 = 24;

pub fn routes() -> Router<Arc<SandboxState>> {
    let mut router = Router::new();
    // Pixelz documents every path with a trailing slash; clients send both.
    for (path, route) in [
        ("/Templates", get(list_templates)),
        ("/Template", post(create_template)),
        ("/Template/{template_id}", get(get_template)),
        ("/Image", post(submit_image)),
        ("/WhiteGloveService", post(submit_white_glove)),
        ("/Image/{ticket}", get(image_status).delete(delete_image)),
        ("/Image/Reject/{ticket}", put(reject_image)),
        ("/Images", get(list_images)),
        ("/Images/Count", get(count_images)),
        ("/ProductIds", get(list_product_ids)),
        ("/Contact", get(get_contact).post(create_contact)),
        ("/Invoices", get(list_invoices)),
    ] {
        router =
            router.route(&format!("{JSON_BASE}{path}"), route.clone()).route(&format!("{JSON_BASE}{path}/"), route);
    }
    router
}

// ---------------------------------------------------------------- answers

fn answer(mut body: Value) -> Reply {
    body["ErrorCode"] = json!("NoError");
    if body.get("Message").is_none() {
        body["Message"] = json!("");
    }
    Ok(axum::Json(body).into_response())
}

fn fail(failure: Failure, message: impl Into<String>) -> Response {
    let mut response = axum::Json(json!({ "ErrorCode": failure.code(), "Message": message.into() })).into_response();
    response.extensions_mut().insert(failure);
    response
}

/// The documents name no `ErrorCode` but `NoError` (and `0` in DELETE's answer). Without
/// extras, a refusal therefore carries only a number, as DELETE's do: nothing a client
/// could match by name. With extras, the names a real server plausibly sends.
pub async fn numbered_refusals(
    axum::extract::State(state): axum::extract::State<Arc<SandboxState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    match response.extensions().get::<Failure>().copied() {
        Some(failure) if !state.extras() => {
            let (parts, body) = response.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return Response::from_parts(parts, axum::body::Body::empty());
            };
            let mut answer: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
            answer["ErrorCode"] = json!(failure.number());
            let mut response = axum::Json(answer).into_response();
            *response.status_mut() = parts.status;
            response
        }
        _ => response,
    }
}

fn invalid(message: impl Into<String>) -> Response {
    fail(Failure::InvalidParameter, message)
}

// ---------------------------------------------------------------- parameters

/// A parameter as text: Pixelz takes numbers and booleans as strings too, and "" as absent.
fn text(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn query_map(params: HashMap<String, String>) -> Map<String, Value> {
    params.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
}

fn body_map(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("The request body must be a JSON object.")),
    }
}

fn int(params: &Map<String, Value>, key: &str, allowed: impl Fn(i64) -> bool) -> Result<Option<i64>, Response> {
    match text(params, key) {
        None => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if allowed(n) => Ok(Some(n)),
            _ => Err(invalid(format!("{key} has an invalid value."))),
        },
    }
}

fn flag(params: &Map<String, Value>, key: &str) -> Result<Option<bool>, Response> {
    match text(params, key).map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if s == "true" => Ok(Some(true)),
        Some(s) if s == "false" => Ok(Some(false)),
        Some(_) => Err(invalid(format!("{key} accepts \"true\" or \"false\"."))),
    }
}

fn page(params: &Map<String, Value>, key: &str, default: usize, max: usize) -> Result<usize, Response> {
    Ok(int(params, key, |n| n >= 1 && n as usize <= max)?.map_or(default, |n| n as usize))
}

fn http_url(raw: &str) -> bool {
    reqwest::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

fn optional_url(params: &Map<String, Value>, key: &str) -> Result<Option<String>, Response> {
    match text(params, key) {
        Some(url) if !http_url(&url) => Err(invalid(format!("{key} must be an http or https URL."))),
        other => Ok(other),
    }
}

/// Dates as Pixelz takes them: a day, or a day and a time; a bare `to` day includes all of it.
fn date_bound(params: &Map<String, Value>, key: &str, end_of_day: bool) -> Result<Option<DateTime<Utc>>, Response> {
    let Some(raw) = text(params, key) else { return Ok(None) };
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(&raw, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    match NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
        Ok(day) if end_of_day => Ok(Some(day.and_hms_opt(23, 59, 59).expect("valid time").and_utc())),
        Ok(day) => Ok(Some(day.and_hms_opt(0, 0, 0).expect("valid time").and_utc())),
        Err(_) => Err(invalid(format!("{key} is not a valid date (yyyy-MM-dd)."))),
    }
}

// ---------------------------------------------------------------- accounts

fn with_account<T>(
    state: &SandboxState,
    params: &Map<String, Value>,
    on_bad_credentials: impl FnOnce() -> Response,
    f: impl FnOnce(&mut Store, usize) -> Result<T, Response>,
) -> Result<T, Response> {
    let mut store = locked(&state.pixelz);
    let email = text(params, "contactEmail").unwrap_or_default();
    let key = text(params, "contactAPIkey").unwrap_or_default();
    match store.account(&email, &key) {
        Some(index) => f(&mut store, index),
        None => Err(on_bad_credentials()),
    }
}

fn bad_credentials() -> Response {
    fail(Failure::InvalidApiKey, "The contact email or API key is not valid.")
}

// ---------------------------------------------------------------- templates

async fn list_templates(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let account = &store.accounts[index];
        let templates: Vec<Value> = account.templates.iter().map(|t| t.list_json(account.contact_id)).collect();
        answer(json!({ "Templates": templates }))
    })
}

async fn get_template(State(state): State<Arc<SandboxState>>, Path(id): Path<String>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let id: i64 = id.trim().parse().map_err(|_| invalid("templateId must be a number."))?;
        let template = store.accounts[index]
            .templates
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| fail(Failure::TemplateNotFound, format!("Template {id} was not found.")))?;
        answer(json!({ "Message": "Success", "Template": template.detail_json() }))
    })
}

fn hex_color(params: &Map<String, Value>, key: &str) -> Result<Option<String>, Response> {
    match text(params, key) {
        None => Ok(None),
        Some(c) if c.len() == 6 && c.chars().all(|ch| ch.is_ascii_hexdigit()) => Ok(Some(c.to_ascii_uppercase())),
        Some(_) => Err(invalid(format!("{key} must be a hexadecimal colour in [000000, FFFFFF]."))),
    }
}

fn new_template(params: &Map<String, Value>, id: i64) -> Result<Template, Response> {
    let name = text(params, "templateName").ok_or_else(|| invalid("templateName is required."))?;
    // The documents allow A-Z, a-z, 0-9, () and space; their own example uses "_", which is accepted too.
    if name.len() > 100 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "() _".contains(c)) {
        return Err(invalid("templateName accepts A-Z, a-z, 0-9, () and space."));
    }
    let format = text(params, "templateOutputFormat").map(|f| f.to_ascii_uppercase());
    let format = match format.as_deref() {
        Some(f @ ("JPG" | "JPEG" | "TIF" | "TIFF" | "PNG" | "PSD")) => f.to_string(),
        _ => return Err(invalid("templateOutputFormat accepts JPG, JPEG, TIF, TIFF, PNG, PSD.")),
    };
    let delivery = int(params, "deliveryTimeInHour", |n| matches!(n, 24 | 72 | 168))?
        .ok_or_else(|| invalid("deliveryTimeInHour accepts 168, 72, 24."))?;
    let background = int(params, "backgroundType", |n| (0..=3).contains(&n))?
        .ok_or_else(|| invalid("backgroundType accepts 0, 1, 2, 3."))?;
    let background_color = hex_color(params, "backgroundColor")?;
    let gradient_color = hex_color(params, "backgroundVerticalGradientColor")?;
    match background {
        1 if background_color.is_none() => return Err(invalid("backgroundColor is required for backgroundType 1.")),
        2 if matches!(format.as_str(), "JPG" | "JPEG") => {
            return Err(invalid("A transparent background cannot be saved as JPG/JPEG."));
        }
        3 if background_color.is_none() || gradient_color.is_none() => {
            return Err(invalid(
                "backgroundColor and backgroundVerticalGradientColor are required for backgroundType 3.",
            ));
        }
        _ => {}
    }
    let size = |key: &str| int(params, key, |n| n > 0);
    let margin = |key: &str| Ok::<_, Response>(int(params, key, |n| n >= 0)?.unwrap_or(0));
    let shadow = int(params, "shadowType", |n| (0..=2).contains(&n))?.unwrap_or(0);
    let today = Utc::now().date_naive();
    let price_cents = 95
        + if background >= 2 { 30 } else { 0 }
        + if shadow == 2 { 25 } else { 0 }
        + if delivery == 24 { 50 } else { 0 };
    Ok(Template {
        id,
        name,
        output_format: format,
        delivery_hours: delivery,
        background_type: background,
        background_color,
        gradient_color,
        resize_type: int(params, "resizeType", |n| (0..=3).contains(&n))?.unwrap_or(0),
        resize_unit: int(params, "resizeUnit", |n| (0..=2).contains(&n))?.unwrap_or(0),
        resize_height: size("resizeHeight")?,
        resize_width: size("resizeWidth")?,
        resize_min: size("resizeMinSize")?,
        resize_max: size("resizeMaxSize")?,
        margin_type: int(params, "marginType", |n| (0..=2).contains(&n))?.unwrap_or(0),
        margins: [margin("marginTop")?, margin("marginBottom")?, margin("marginLeft")?, margin("marginRight")?],
        vertical_alignment: int(params, "marginVerticalAlignment", |n| (1..=3).contains(&n))?.unwrap_or(2),
        shadow_type: shadow,
        kept_mannequin: flag(params, "isKeptMannequin")?.unwrap_or(false),
        kept_model: flag(params, "isKeptModel")?.unwrap_or(false),
        price_cents,
        created: today,
        modified: today,
        color: Some(ColorSettings::default()),
        label_id: 10,
        callback_url: None,
    })
}

async fn create_template(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
    let params = body_map(&body)?;
    with_account(&state, &params, bad_credentials, |store, index| {
        let template = new_template(&params, store.next_template_id)?;
        store.next_template_id += 1;
        let body =
            json!({ "Message": "Success", "TemplateId": template.id, "Price": price_json(template.price_cents) });
        store.accounts[index].templates.push(template);
        answer(body)
    })
}

// ---------------------------------------------------------------- images

fn file_name(url: &str, format: Option<&str>) -> String {
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

async fn submit_image(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
    submit(&state, &body, false)
}

async fn submit_white_glove(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
    submit(&state, &body, true)
}

fn submit(state: &SandboxState, body: &Bytes, white_glove: bool) -> Reply {
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
fn find_image(account: &Account, ticket: &str, params: &Map<String, Value>) -> Result<usize, Failure> {
    let found = if ticket.eq_ignore_ascii_case(NONTICKET) {
        let customer = text(params, "customerImageId").ok_or(Failure::InvalidParameter)?;
        account.images.iter().rposition(|i| i.customer_image_id == customer)
    } else {
        account.images.iter().position(|i| i.ticket.eq_ignore_ascii_case(ticket.trim()))
    };
    found.ok_or(Failure::ImageNotFound)
}

async fn image_status(
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

async fn delete_image(State(state): State<Arc<SandboxState>>, Path(ticket): Path<String>, body: Bytes) -> Reply {
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

async fn reject_image(State(state): State<Arc<SandboxState>>, Path(ticket): Path<String>, body: Bytes) -> Reply {
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

struct ImageFilter {
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

async fn list_images(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
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

fn page_size(params: &Map<String, Value>, key: &str) -> Result<usize, Response> {
    page(params, key, DEFAULT_PER_PAGE, MAX_PER_PAGE)
        .map_err(|_| invalid(format!("{key} must be between 1 and {MAX_PER_PAGE}.")))
}

async fn count_images(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let filter = ImageFilter { exclude: None, product: None, ..ImageFilter::parse(&params)? };
        let count = store.accounts[index].images.iter().filter(|i| filter.matches(i)).count();
        answer(json!({ "ImagesCount": count }))
    })
}

async fn list_product_ids(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
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

// ---------------------------------------------------------------- contact and invoices

async fn get_contact(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        answer(json!({ "Contact": store.accounts[index].contact_json() }))
    })
}

async fn create_contact(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
    let params = body_map(&body)?;
    let api_key = uuid::Uuid::new_v4().to_string();
    let mut store = locked(&state.pixelz);
    let developer_email = text(&params, "developerEmail").unwrap_or_default();
    let developer_key = text(&params, "developerAPIkey").unwrap_or_default();
    if store.account(&developer_email, &developer_key).is_none() {
        return Err(fail(Failure::InvalidApiKey, "The developer email or API key is not valid."));
    }
    let email = text(&params, "contactEmail").unwrap_or_default();
    let valid_email =
        email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !email.contains(' '));
    if !valid_email {
        return Err(invalid("contactEmail must be a valid email address."));
    }
    let name = text(&params, "contactName").ok_or_else(|| invalid("contactName is required."))?;
    let country = text(&params, "countryCode").unwrap_or_default();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(invalid("countryCode must be an ISO 3166-1 alpha-2 code."));
    }
    if store.accounts.iter().any(|a| a.email.eq_ignore_ascii_case(&email)) {
        return Err(fail(Failure::ContactExists, "A contact with this email already exists."));
    }
    let contact_id = store.next_contact_id;
    store.next_contact_id += 1;
    store.accounts.push(Account {
        email: email.clone(),
        // A new contact's application secret, which Pixelz shows in its back end.
        secret: format!("{api_key}-secret"),
        api_key: api_key.clone(),
        contact_id,
        folder: contact_id,
        company: String::new(),
        person: name,
        balance_cents: 0,
        days_of_credit: 0,
        trial_images: 3,
        templates: Vec::new(),
        images: Vec::new(),
        invoices: Vec::new(),
    });
    answer(json!({ "Message": "Success", "ContactAPIkey": api_key, "ContactEmail": email }))
}

async fn list_invoices(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        let from = date_bound(&params, "fromDate", false)?.map(|d| d.date_naive());
        let to = date_bound(&params, "toDate", true)?.map(|d| d.date_naive());
        let page = page(&params, "page", 1, usize::MAX)?;
        let return_url = text(&params, "returnUrl");
        let account = &store.accounts[index];
        let data: Vec<Value> = account
            .invoices
            .iter()
            .filter(|i| from.is_none_or(|from| i.created >= from) && to.is_none_or(|to| i.created <= to))
            .skip((page - 1).saturating_mul(INVOICES_PER_PAGE))
            .take(INVOICES_PER_PAGE)
            .map(|i| i.to_json(&account.api_key, return_url.as_deref()))
            .collect();
        answer(json!({ "Invoices": data }))
    })
}
