//! Invoices: the list, one by id (only with extras), and new ones.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::model::*;
use super::reply::*;
use crate::SandboxState;

pub(super) fn wants_client(params: &HashMap<String, String>) -> bool {
    Expand::parse(params.get("expand").map(String::as_str)) != Expand::None
}

pub(super) async fn list_invoices(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "per_page", state.page_cap())?;
        let client_id = params.get("client_id").map(|s| s.trim()).filter(|s| !s.is_empty());
        let expand = state.lists_embed() && wants_client(&params);
        let items = studio
            .invoices
            .iter()
            .filter(|i| client_id.is_none_or(|id| i.client_id == id))
            .map(|i| i.to_json(if expand { studio.client(&i.client_id) } else { None }, state.extras()))
            .collect();
        ok(paging.answer(items, &headers, "/api/v1/invoices/", state.extras()))
    })
}

pub(super) async fn get_invoice(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Reply {
    use crate::InvoiceLookup;
    match state.invoice_lookup() {
        InvoiceLookup::Present => {}
        InvoiceLookup::AsExtrasSay if state.extras() => {}
        // No document describes this endpoint; a server without it answers as for any unknown path.
        InvoiceLookup::AsExtrasSay | InvoiceLookup::Absent => return Err(StatusCode::NOT_FOUND.into_response()),
        InvoiceLookup::MethodNotAllowed => return Err(StatusCode::METHOD_NOT_ALLOWED.into_response()),
        InvoiceLookup::RefusedAsNotFound => {
            return Err(not_found("invoice_not_found", format!("Invoice with ID {id} not found")));
        }
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

pub(super) fn line_items(body: &Map<String, Value>, rng: &crate::rng::Rng, invalid: &mut Invalid) -> Vec<LineItem> {
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

pub(super) async fn create_invoice(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Reply {
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
