//! The simulated Pixieset Studio API under `/api/v1`.
//!
//! Error bodies come in the two shapes the documents show: validation answers
//! `{"message", "details"}` at the top level (the quick start reads
//! `error.details`), not-found and bad-variable answers nest under `"error"`.

mod model;
pub mod seed;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value, json};

pub use model::Studio;
use model::*;

use super::SandboxState;
use crate::sandbox::locked;

type Params = Query<HashMap<String, String>>;
type Reply = Result<Response, Response>;

const DEFAULT_PER_PAGE: usize = 25;
const MAX_PER_PAGE: usize = 100;
/// Placeholders every studio can use in a contract body, beside the template's own variables.
const BUILT_IN_VARIABLES: &[&str] = &["studio_name", "client_name", "client_email", "due_date"];

pub fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/api/v1/clients", get(list_clients).post(create_client))
        .route("/api/v1/clients/", get(list_clients).post(create_client))
        .route("/api/v1/clients/search", get(search_clients))
        .route("/api/v1/clients/{client_id}", get(get_client).put(update_client))
        .route("/api/v1/clients/{client_id}/cgCollections", get(client_collections))
        .route("/api/v1/clients/{client_id}/cgCollections/", get(client_collections))
        .route("/api/v1/clients/{client_id}/documents", get(client_documents))
        .route("/api/v1/invoices", get(list_invoices).post(create_invoice))
        .route("/api/v1/invoices/", get(list_invoices).post(create_invoice))
        .route("/api/v1/invoices/{invoice_id}", get(get_invoice))
        .route("/api/v1/contracts", get(list_contracts))
        .route("/api/v1/contracts/", get(list_contracts))
        .route("/api/v1/contracts/{contract_id}", get(get_contract))
        .route("/api/v1/templates/contracts", get(list_templates))
        .route("/api/v1/templates/contracts/", get(list_templates))
        .route("/api/v1/templates/contracts/{template_id}", get(get_template).put(update_template))
}

// ---------------------------------------------------------------- answers

fn ok(body: Value) -> Reply {
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

fn created(body: Value) -> Reply {
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

fn unauthenticated() -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthenticated." }))).into_response()
}

fn not_found(code: &str, message: String) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

fn bad_request(code: &str, message: String) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

/// Field-by-field validation failures, answered as 422 when any were found.
#[derive(Default)]
struct Invalid(Map<String, Value>);

impl Invalid {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let entry = self.0.entry(field.into()).or_insert_with(|| json!([]));
        if let Value::Array(messages) = entry {
            messages.push(json!(message.into()));
        }
    }

    fn finish(self) -> Result<(), Response> {
        if self.0.is_empty() {
            return Ok(());
        }
        let body = json!({ "message": "The given data was invalid.", "details": self.0 });
        Err((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response())
    }

    fn one(field: &str, message: &str) -> Response {
        let mut invalid = Self::default();
        invalid.add(field, message);
        invalid.finish().expect_err("one failure was added")
    }
}

// ---------------------------------------------------------------- request helpers

/// The studio a `Cookie: session_cookie=…` header opens, if any.
fn studio_key(headers: &HeaderMap) -> Result<&'static str, Response> {
    let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    for pair in cookies.flat_map(|line| line.split(';')) {
        match pair.trim().strip_prefix("session_cookie=") {
            Some("sandbox") => return Ok("sandbox"),
            Some("sandbox-other") => return Ok("sandbox-other"),
            _ => {}
        }
    }
    Err(unauthenticated())
}

fn with_studio<T>(
    state: &SandboxState,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Studio) -> Result<T, Response>,
) -> Result<T, Response> {
    let key = studio_key(headers)?;
    let mut studios = locked(&state.studios);
    let studio = studios.get_mut(key).ok_or_else(unauthenticated)?;
    f(studio)
}

fn json_body(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("invalid_json", "The request body must be a JSON object.".into())),
        Err(e) => Err(bad_request("invalid_json", format!("The request body is not valid JSON: {e}"))),
    }
}

fn positive(params: &HashMap<String, String>, name: &str, default: usize, max: usize) -> Result<usize, Response> {
    match params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Invalid::one(name, &format!("The {name} must be an integer between 1 and {max}."))),
        },
    }
}

struct Paging {
    page: usize,
    per_page: usize,
}

impl Paging {
    /// `cap`, when set, is a smaller page than asked for, answered without complaint.
    fn from(params: &HashMap<String, String>, per_page_name: &str, cap: Option<usize>) -> Result<Self, Response> {
        let asked = positive(params, per_page_name, DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
        Ok(Self { page: positive(params, "page", 1, usize::MAX)?, per_page: cap.map_or(asked, |cap| asked.min(cap)) })
    }

    /// `data` and `meta` as Pixieset pages them; `links` too with `extras`, since the
    /// overview names it but no example shows what it holds.
    fn answer(&self, items: Vec<Value>, headers: &HeaderMap, path: &str, extras: bool) -> Value {
        let total = items.len();
        let last_page = total.div_ceil(self.per_page).max(1);
        let start = (self.page - 1).saturating_mul(self.per_page).min(total);
        let data: Vec<Value> = items.into_iter().skip(start).take(self.per_page).collect();
        let (from, to) =
            if data.is_empty() { (Value::Null, Value::Null) } else { (json!(start + 1), json!(start + data.len())) };
        let mut body = json!({
            "data": data,
            "meta": {
                "current_page": self.page,
                "from": from,
                "last_page": last_page,
                "per_page": self.per_page,
                "to": to,
                "total": total,
            },
        });
        if extras {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let link = |page: usize| json!(format!("http://{host}{path}?page={page}"));
            body["links"] = json!({
                "first": link(1),
                "last": link(last_page),
                "prev": if self.page > 1 { link(self.page - 1) } else { Value::Null },
                "next": if self.page < last_page { link(self.page + 1) } else { Value::Null },
            });
        }
        body
    }
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

fn opt_string(body: &Map<String, Value>, field: &str, invalid: &mut Invalid) -> Option<Option<String>> {
    match body.get(field)? {
        Value::Null => Some(None),
        Value::String(s) if s.len() <= 255 => Some(Some(s.clone())),
        Value::String(_) => {
            invalid.add(field, format!("The {field} may not be greater than 255 characters."));
            None
        }
        _ => {
            invalid.add(field, format!("The {field} must be a string."));
            None
        }
    }
}

// ---------------------------------------------------------------- clients

fn client_types(raw: Option<&String>) -> Result<Option<Vec<ClientType>>, Response> {
    let Some(raw) = raw.map(|s| s.trim()).filter(|s| !s.is_empty() && *s != "all") else { return Ok(None) };
    raw.split(',')
        .map(|t| ClientType::parse(t.trim()).ok_or_else(|| Invalid::one("types", "The selected types is invalid.")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn client_list(studio: &Studio, types: &Option<Vec<ClientType>>, query: Option<&str>) -> Vec<Value> {
    let needle = query.map(str::to_lowercase);
    studio
        .clients
        .iter()
        .filter(|c| types.as_ref().is_none_or(|types| types.contains(&c.kind)))
        .filter(|c| {
            needle.as_deref().is_none_or(|q| {
                [Some(&c.full_name()), Some(&c.email), c.phone.as_ref(), c.company.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|field| field.to_lowercase().contains(q))
            })
        })
        .map(Client::to_json)
        .collect()
}

async fn list_clients(State(state): State<Arc<SandboxState>>, headers: HeaderMap, Query(params): Params) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "per_page", state.page_cap())?;
        let types = client_types(params.get("types"))?;
        let mut body = paging.answer(client_list(studio, &types, None), &headers, "/api/v1/clients/", state.extras());
        body["meta"]["client_statuses"] = json!({ "1": "Active", "2": "Archived" });
        body["meta"]["csv_url"] = json!("https://studio.pixieset.com/api/v1/clients/download_csv");
        ok(body)
    })
}

async fn search_clients(State(state): State<Arc<SandboxState>>, headers: HeaderMap, Query(params): Params) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "pageSize", state.page_cap())?;
        let types = client_types(params.get("types"))?;
        let q = params.get("q").map(|s| s.trim()).filter(|s| !s.is_empty());
        ok(paging.answer(client_list(studio, &types, q), &headers, "/api/v1/clients/search", state.extras()))
    })
}

fn find_client<'a>(studio: &'a Studio, id: &str) -> Result<&'a Client, Response> {
    studio.client(id).ok_or_else(|| not_found("client_not_found", format!("Client with ID {id} not found")))
}

async fn get_client(State(state): State<Arc<SandboxState>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    with_studio(&state, &headers, |studio| ok(json!({ "data": find_client(studio, &id)?.to_json() })))
}

/// Applies the writable client fields present in `body`; validation failures land in `invalid`.
fn apply_client_fields(client: &mut Client, body: &Map<String, Value>, invalid: &mut Invalid) {
    for (field, slot) in [("first_name", &mut client.first_name), ("last_name", &mut client.last_name)] {
        match opt_string(body, field, invalid) {
            Some(Some(value)) if !value.trim().is_empty() || field == "last_name" => *slot = value,
            Some(_) => invalid.add(field, format!("The {field} field is required.")),
            None => {}
        }
    }
    if let Some(email) = opt_string(body, "email", invalid) {
        match email {
            Some(email) if valid_email(&email) => client.email = email,
            _ => invalid.add("email", "The email must be a valid email address."),
        }
    }
    for (field, slot) in [
        ("phone", &mut client.phone),
        ("company", &mut client.company),
        ("job_title", &mut client.job_title),
        ("notes", &mut client.notes),
    ] {
        if let Some(value) = opt_string(body, field, invalid) {
            *slot = value;
        }
    }
    match body.get("type") {
        None => {}
        Some(Value::String(t)) if ClientType::parse(t).is_some() => {
            client.kind = ClientType::parse(t).expect("checked")
        }
        Some(_) => invalid.add("type", "The selected type is invalid."),
    }
    match body.get("address_info") {
        None => {}
        Some(Value::Null) => client.address = None,
        Some(Value::Object(info)) => {
            let mut address = client.address.clone().unwrap_or_default();
            for (key, slot) in [
                ("address_line_1", &mut address.line_1),
                ("address_line_2", &mut address.line_2),
                ("city", &mut address.city),
                ("postal_code", &mut address.postal_code),
                ("state", &mut address.state),
            ] {
                if let Some(value) = opt_string(info, key, invalid) {
                    *slot = value;
                }
            }
            match info.get("country_id") {
                None => {}
                Some(Value::Null) => address.country_id = None,
                Some(Value::Number(n)) if n.as_i64().and_then(country_name).is_some() => {
                    address.country_id = n.as_i64()
                }
                Some(_) => invalid.add("address_info.country_id", "The selected address_info.country_id is invalid."),
            }
            client.address = Some(address);
        }
        Some(_) => invalid.add("address_info", "The address_info must be an object."),
    }
}

fn check_unique_email(studio: &Studio, client: &Client, invalid: &mut Invalid) {
    let taken = studio.clients.iter().any(|c| c.id != client.id && c.email.eq_ignore_ascii_case(&client.email));
    if taken {
        invalid.add("email", "The email has already been taken.");
    }
}

async fn create_client(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Reply {
    let id = format!("cl_{}", state.rng.alphanumeric(30));
    with_studio(&state, &headers, |studio| {
        let body = json_body(&body)?;
        let mut client = Client {
            id,
            email: String::new(),
            archived: false,
            first_name: String::new(),
            last_name: String::new(),
            phone: None,
            company: None,
            job_title: None,
            address: None,
            notes: None,
            avatar_color: (studio.clients.len() % 12) as i64,
            created_at: Utc::now(),
            sample: false,
            kind: ClientType::Client,
        };
        let mut invalid = Invalid::default();
        for required in ["first_name", "email"] {
            if !body.contains_key(required) {
                invalid.add(required, format!("The {required} field is required."));
            }
        }
        apply_client_fields(&mut client, &body, &mut invalid);
        check_unique_email(studio, &client, &mut invalid);
        invalid.finish()?;
        let answer = json!({ "data": client.to_json() });
        studio.clients.insert(0, client);
        created(answer)
    })
}

async fn update_client(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let mut client = find_client(studio, &id)?.clone();
        let body = json_body(&body)?;
        let mut invalid = Invalid::default();
        apply_client_fields(&mut client, &body, &mut invalid);
        check_unique_email(studio, &client, &mut invalid);
        invalid.finish()?;
        let answer = json!({ "data": client.to_json() });
        if let Some(slot) = studio.clients.iter_mut().find(|c| c.id == id) {
            *slot = client;
        }
        ok(answer)
    })
}

async fn client_collections(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        find_client(studio, &id)?;
        let paging = Paging::from(&params, "page_size", state.page_cap())?;
        let extras = state.extras();
        let items = studio.collections.iter().filter(|c| c.client_id == id).map(|c| c.to_json(extras)).collect();
        ok(paging.answer(items, &headers, &format!("/api/v1/clients/{id}/cgCollections/"), extras))
    })
}

async fn client_documents(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Reply {
    let extras = state.extras();
    with_studio(&state, &headers, |studio| {
        find_client(studio, &id)?;
        let paging = Paging { page: positive(&params, "page", 1, usize::MAX)?, per_page: DEFAULT_PER_PAGE };
        let gift_cards = params.get("expand").is_some_and(|e| e.split(',').any(|p| p.trim() == "gift_card_activities"));
        let mut documents: Vec<(chrono::DateTime<Utc>, Value)> = Vec::new();
        for invoice in studio.invoices.iter().filter(|i| i.client_id == id) {
            documents.push((invoice.created_at, invoice_document(invoice, extras, gift_cards)));
        }
        for contract in studio.contracts.iter().filter(|c| c.client_id == id) {
            let doc = if extras {
                json!({
                    "id": contract.id,
                    "type": "contract",
                    "title": format!("Contract {}", contract.contract_number),
                    "status": contract.status,
                    "amount": null,
                    "created_at": timestamp(contract.created_at),
                })
            } else {
                let (client, template) = contract_parts(studio, contract)?;
                contract.list_json(Expand::None, client, template, false)
            };
            documents.push((contract.created_at, doc));
        }
        for questionnaire in studio.questionnaires.iter().filter(|q| q.client_id == id) {
            let doc = if extras {
                json!({
                    "id": questionnaire.id,
                    "type": "questionnaire",
                    "title": questionnaire.title,
                    "status": questionnaire.status,
                    "amount": null,
                    "created_at": timestamp(questionnaire.created_at),
                })
            } else {
                // No document shows a questionnaire: only its id, whose prefix the overview lists.
                json!({ "id": questionnaire.id })
            };
            documents.push((questionnaire.created_at, doc));
        }
        documents.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
        let items = documents.into_iter().map(|(_, doc)| doc).collect();
        ok(paging.answer(items, &headers, &format!("/api/v1/clients/{id}/documents"), extras))
    })
}

/// "All documents (contracts, invoices, etc.)": without `extras`, each as its own
/// endpoint writes it. Gift-card activities are named by the documents, never shown,
/// so only `extras` writes them.
fn invoice_document(invoice: &Invoice, extras: bool, gift_cards: bool) -> Value {
    if !extras {
        return invoice.to_json(None, false);
    }
    let mut doc = json!({
        "id": invoice.id,
        "type": "invoice",
        "title": format!("Invoice {}", invoice.invoice_number),
        "status": invoice.status,
        "amount": invoice.amount(),
        "created_at": timestamp(invoice.created_at),
    });
    if gift_cards {
        doc["gift_card_activities"] = invoice
            .gift_card_activities
            .iter()
            .map(|a| {
                json!({
                    "id": a.id,
                    "type": a.kind,
                    "amount": a.amount,
                    "code": a.code,
                    "created_at": timestamp(a.created_at),
                })
            })
            .collect();
    }
    doc
}

// ---------------------------------------------------------------- invoices

fn wants_client(params: &HashMap<String, String>) -> bool {
    Expand::parse(params.get("expand").map(String::as_str)) != Expand::None
}

async fn list_invoices(State(state): State<Arc<SandboxState>>, headers: HeaderMap, Query(params): Params) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "per_page", state.page_cap())?;
        let client_id = params.get("client_id").map(|s| s.trim()).filter(|s| !s.is_empty());
        let expand = wants_client(&params);
        let items = studio
            .invoices
            .iter()
            .filter(|i| client_id.is_none_or(|id| i.client_id == id))
            .map(|i| i.to_json(if expand { studio.client(&i.client_id) } else { None }, state.extras()))
            .collect();
        ok(paging.answer(items, &headers, "/api/v1/invoices/", state.extras()))
    })
}

async fn get_invoice(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Reply {
    if !state.extras() {
        // No document describes this endpoint; a server without it answers as for any unknown path.
        return Err(StatusCode::NOT_FOUND.into_response());
    }
    with_studio(&state, &headers, |studio| {
        let invoice = studio
            .invoices
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| not_found("invoice_not_found", format!("Invoice with ID {id} not found")))?;
        let client = if wants_client(&params) { studio.client(&invoice.client_id) } else { None };
        ok(json!({ "data": invoice.to_json(client, true) }))
    })
}

fn line_items(body: &Map<String, Value>, rng: &super::rng::Rng, invalid: &mut Invalid) -> Vec<LineItem> {
    let Some(Value::Array(items)) = body.get("line_items") else {
        invalid.add("line_items", "The line_items field is required and must be an array.");
        return Vec::new();
    };
    if items.is_empty() {
        invalid.add("line_items", "The line_items must have at least 1 items.");
    }
    let mut parsed = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let field = |name: &str| format!("line_items.{n}.{name}");
        let name = match item.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => {
                invalid.add(field("name"), format!("The {} field is required.", field("name")));
                continue;
            }
        };
        let amount = match item.get("amount").and_then(Value::as_i64) {
            Some(a) if a >= 0 => a,
            _ => {
                invalid
                    .add(field("amount"), format!("The {} must be a non-negative integer (cents).", field("amount")));
                continue;
            }
        };
        let quantity = match item.get("quantity") {
            None => 1,
            Some(q) => match q.as_i64() {
                Some(q) if q >= 1 => q,
                _ => {
                    invalid.add(field("quantity"), format!("The {} must be at least 1.", field("quantity")));
                    continue;
                }
            },
        };
        let description = item.get("description").and_then(Value::as_str).map(str::to_string);
        parsed.push(LineItem { id: format!("li_{}", rng.alphanumeric(30)), name, description, amount, quantity });
    }
    parsed
}

async fn create_invoice(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Reply {
    let id = format!("in_{}", state.rng.alphanumeric(30));
    with_studio(&state, &headers, |studio| {
        let body = json_body(&body)?;
        let mut invalid = Invalid::default();
        let client_id = match body.get("client_id") {
            Some(Value::String(id)) if studio.client(id).is_some() => id.clone(),
            Some(_) => {
                invalid.add("client_id", "The selected client id is invalid.");
                String::new()
            }
            None => {
                invalid.add("client_id", "The client id field is required.");
                String::new()
            }
        };
        let now = Utc::now();
        let due_date = match body.get("due_date") {
            // The quick start always sends one; what Pixieset does without it, no document says.
            None | Some(Value::Null) if !state.extras() => {
                invalid.add("due_date", "The due date field is required.");
                now.date_naive()
            }
            None | Some(Value::Null) => now.date_naive() + chrono::Duration::days(30),
            Some(Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|_| {
                invalid.add("due_date", "The due date does not match the format Y-m-d.");
                now.date_naive()
            }),
            Some(_) => {
                invalid.add("due_date", "The due date does not match the format Y-m-d.");
                now.date_naive()
            }
        };
        let send_email = match body.get("send_email") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                invalid.add("send_email", "The send email field must be true or false.");
                false
            }
        };
        let items = line_items(&body, &state.rng, &mut invalid);
        invalid.finish()?;
        let number = studio
            .invoices
            .iter()
            .filter_map(|i| i.invoice_number.strip_prefix("INV-")?.parse::<usize>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let invoice = Invoice {
            id,
            invoice_number: format!("INV-{number:03}"),
            status: if send_email { "sent" } else { "draft" },
            client_id,
            currency: "USD",
            line_items: items,
            amount_paid: 0,
            due_date,
            created_at: now,
            sent_at: send_email.then_some(now),
            paid_at: None,
            gift_card_activities: Vec::new(),
        };
        let answer = json!({ "data": invoice.to_json(None, state.extras()) });
        studio.invoices.insert(0, invoice);
        created(answer)
    })
}

// ---------------------------------------------------------------- contracts

fn contract_parts<'a>(studio: &'a Studio, contract: &Contract) -> Result<(&'a Client, &'a ContractTemplate), Response> {
    let missing = || not_found("contract_not_found", format!("Contract with ID {} not found", contract.id));
    Ok((
        studio.client(&contract.client_id).ok_or_else(missing)?,
        studio.template(&contract.template_id).ok_or_else(missing)?,
    ))
}

async fn list_contracts(State(state): State<Arc<SandboxState>>, headers: HeaderMap, Query(params): Params) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "per_page", state.page_cap())?;
        let expand = Expand::parse(params.get("expand").map(String::as_str));
        let mut items = Vec::with_capacity(studio.contracts.len());
        for contract in &studio.contracts {
            let (client, template) = contract_parts(studio, contract)?;
            items.push(contract.list_json(expand, client, template, state.extras()));
        }
        let mut body = paging.answer(items, &headers, "/api/v1/contracts/", state.extras());
        if !state.extras()
            && let Some(meta) = body["meta"].as_object_mut()
        {
            // The documents' contract list pages without them.
            meta.remove("from");
            meta.remove("to");
        }
        ok(body)
    })
}

async fn get_contract(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let contract = studio
            .contracts
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| not_found("contract_not_found", format!("Contract with ID {id} not found")))?;
        let (client, template) = contract_parts(studio, contract)?;
        let expand = Expand::parse(params.get("expand").map(String::as_str));
        ok(json!({ "data": contract.detail_json(expand, client, template, state.extras()) }))
    })
}

// ---------------------------------------------------------------- contract templates

async fn list_templates(State(state): State<Arc<SandboxState>>, headers: HeaderMap) -> Reply {
    with_studio(&state, &headers, |studio| {
        let data: Vec<Value> = studio.templates.iter().map(ContractTemplate::list_json).collect();
        // This list carries only a total, no page fields.
        ok(json!({ "data": data, "meta": { "total": data.len() } }))
    })
}

fn template_not_found(id: &str) -> Response {
    not_found("template_not_found", format!("Contract template with ID {id} not found"))
}

async fn get_template(State(state): State<Arc<SandboxState>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    with_studio(&state, &headers, |studio| {
        ok(json!({ "data": studio.template(&id).ok_or_else(|| template_not_found(&id))?.detail_json() }))
    })
}

fn parse_bool(value: &Value, field: &str, invalid: &mut Invalid) -> Option<bool> {
    let parsed = value.as_bool();
    if parsed.is_none() {
        invalid.add(field, format!("The {field} field must be true or false."));
    }
    parsed
}

fn parse_int(value: &Value, field: &str, min: i64, max: i64, invalid: &mut Invalid) -> Option<i64> {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            invalid.add(field, format!("The {field} must be an integer between {min} and {max}."));
            None
        }
    }
}

fn parse_signers(value: &Value, invalid: &mut Invalid) -> Option<Vec<Signer>> {
    let Some(items) = value.as_array().filter(|items| !items.is_empty()) else {
        invalid.add("signers", "The signers must be a non-empty array.");
        return None;
    };
    let mut signers = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let field = |name: &str| format!("signers.{n}.{name}");
        let kind = item.get("type").and_then(Value::as_str).filter(|t| !t.trim().is_empty());
        let Some(kind) = kind else {
            invalid.add(field("type"), format!("The {} field is required.", field("type")));
            continue;
        };
        let required = item.get("required").map_or(Some(true), |v| parse_bool(v, &field("required"), invalid));
        let order = item.get("order").map_or(Some(n as i64 + 1), |v| parse_int(v, &field("order"), 1, 100, invalid));
        let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
        if let (Some(required), Some(order)) = (required, order) {
            signers.push(Signer {
                kind: kind.into(),
                required,
                order,
                title: text("title"),
                description: text("description"),
            });
        }
    }
    Some(signers)
}

fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    found
}

async fn update_template(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let mut template = studio.template(&id).ok_or_else(|| template_not_found(&id))?.clone();
        let body = json_body(&body)?;
        let mut invalid = Invalid::default();
        let mut changed = Map::new();
        for (field, value) in &body {
            match field.as_str() {
                "name" => match value.as_str().map(str::trim) {
                    Some(name) if !name.is_empty() && name.len() <= 255 => template.name = name.into(),
                    _ => invalid.add("name", "The name must be a non-empty string of at most 255 characters."),
                },
                "description" => match value {
                    Value::Null => template.description = None,
                    Value::String(s) => template.description = Some(s.clone()),
                    _ => invalid.add("description", "The description must be a string."),
                },
                "due_days" => {
                    if let Some(days) = parse_int(value, "due_days", 1, 365, &mut invalid) {
                        template.due_days = days;
                    }
                }
                "status" => match value.as_str() {
                    Some(s @ ("active" | "archived")) => template.status = s.into(),
                    _ => invalid.add("status", "The selected status is invalid."),
                },
                "html_body" => match value.as_str() {
                    Some(html) => template.html_body = html.into(),
                    None => invalid.add("html_body", "The html body must be a string."),
                },
                "signers" => {
                    if let Some(signers) = parse_signers(value, &mut invalid) {
                        template.signers = signers;
                    }
                }
                "reminders" => {
                    let Some(reminders) = value.as_object() else {
                        invalid.add("reminders", "The reminders must be an object.");
                        continue;
                    };
                    if let Some(enabled) = reminders.get("enabled") {
                        template.reminders.enabled =
                            parse_bool(enabled, "reminders.enabled", &mut invalid).unwrap_or(false);
                    }
                    if let Some(days) = reminders.get("days_before_due") {
                        let parsed: Option<Vec<i64>> = days.as_array().and_then(|days| {
                            days.iter().map(|d| d.as_i64().filter(|d| (1..=365).contains(d))).collect()
                        });
                        match parsed {
                            Some(days) => template.reminders.days_before_due = days,
                            None => invalid.add(
                                "reminders.days_before_due",
                                "The reminders.days_before_due must be an array of integers between 1 and 365.",
                            ),
                        }
                    }
                    for (key, slot) in [
                        ("reminder_subject", &mut template.reminders.subject),
                        ("reminder_message", &mut template.reminders.message),
                    ] {
                        match reminders.get(key) {
                            None => {}
                            Some(Value::Null) => *slot = None,
                            Some(Value::String(s)) => *slot = Some(s.clone()),
                            Some(_) => invalid
                                .add(format!("reminders.{key}"), format!("The reminders.{key} must be a string.")),
                        }
                    }
                }
                "document_settings" => {
                    let Some(settings) = value.as_object() else {
                        invalid.add("document_settings", "The document settings must be an object.");
                        continue;
                    };
                    let target = &mut template.document_settings;
                    if let Some(v) = settings.get("allow_comments") {
                        target.allow_comments =
                            parse_bool(v, "document_settings.allow_comments", &mut invalid).unwrap_or_default();
                    }
                    if let Some(v) = settings.get("show_line_numbers") {
                        target.show_line_numbers =
                            parse_bool(v, "document_settings.show_line_numbers", &mut invalid).unwrap_or_default();
                    }
                    match settings.get("watermark") {
                        None => {}
                        Some(Value::Null) => target.watermark = None,
                        Some(Value::String(s)) => target.watermark = Some(s.clone()),
                        Some(_) => invalid
                            .add("document_settings.watermark", "The document_settings.watermark must be a string."),
                    }
                }
                // Fields a template answer shows but a client does not set.
                _ => continue,
            }
            changed.insert(field.clone(), Value::Null);
        }
        invalid.finish()?;
        if body.contains_key("html_body") {
            let available: Vec<&str> =
                template.variables.iter().map(|v| v.name.as_str()).chain(BUILT_IN_VARIABLES.iter().copied()).collect();
            if let Some(unknown) =
                placeholders(&template.html_body).into_iter().find(|p| !available.contains(&p.as_str()))
            {
                let body = json!({ "error": {
                    "code": "invalid_template_variable",
                    "message": format!("Variable '{unknown}' is not defined in template"),
                    "details": { "available_variables": available },
                }});
                return Err((StatusCode::BAD_REQUEST, axum::Json(body)).into_response());
            }
        }
        template.updated_at = Utc::now();
        // The answer echoes only what changed, as the document's example shows.
        let full = template.detail_json();
        let mut answer = json!({ "id": template.id, "updated_at": full["updated_at"] });
        for field in changed.keys() {
            answer[field] = match (&full[field], &body[field]) {
                // Of an object, only the parts sent: the documents' example sends and gets back
                // `reminders: {enabled, days_before_due}`.
                (Value::Object(now), Value::Object(sent)) => {
                    now.iter().filter(|(key, _)| sent.contains_key(*key)).map(|(k, v)| (k.clone(), v.clone())).collect()
                }
                (now, _) => now.clone(),
            };
        }
        if let Some(slot) = studio.templates.iter_mut().find(|t| t.id == id) {
            *slot = template;
        }
        ok(json!({ "data": answer }))
    })
}
