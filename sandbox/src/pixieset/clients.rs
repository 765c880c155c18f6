//! Clients, their galleries and their documents.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::contracts::contract_parts;
use super::model::*;
use super::reply::*;
use crate::SandboxState;

pub(super) fn client_types(raw: Option<&String>) -> Result<Option<Vec<ClientType>>, Response> {
    let Some(raw) = raw.map(|s| s.trim()).filter(|s| !s.is_empty() && *s != "all") else { return Ok(None) };
    raw.split(',')
        .map(|t| ClientType::parse(t.trim()).ok_or_else(|| Invalid::one("types", "The selected types is invalid.")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(super) fn client_list(studio: &Studio, types: &Option<Vec<ClientType>>, query: Option<&str>) -> Vec<Value> {
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

pub(super) async fn list_clients(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "per_page", state.page_cap())?;
        let types = client_types(params.get("types"))?;
        let mut body = paging.answer(client_list(studio, &types, None), &headers, "/api/v1/clients/", state.extras());
        body["meta"]["client_statuses"] = json!({ "1": "Active", "2": "Archived" });
        body["meta"]["csv_url"] = json!("https://studio.pixieset.com/api/v1/clients/download_csv");
        ok(body)
    })
}

/// The export `meta.csv_url` names. The documents show neither its columns nor its
/// quoting: these are the Client Object table's, quoted as RFC 4180 has it.
pub(super) async fn clients_csv(State(state): State<Arc<SandboxState>>, headers: HeaderMap) -> Reply {
    with_studio(&state, &headers, |studio| {
        let mut csv =
            String::from("id,email,status_name,first_name,last_name,phone,company,job_title,notes,created_at,type\r\n");
        for c in &studio.clients {
            let status = if c.archived { "Archived" } else { "Active" };
            let created = timestamp(c.created_at);
            let fields = [
                Some(c.id.as_str()),
                Some(c.email.as_str()),
                Some(status),
                Some(c.first_name.as_str()),
                Some(c.last_name.as_str()),
                c.phone.as_deref(),
                c.company.as_deref(),
                c.job_title.as_deref(),
                c.notes.as_deref(),
                Some(created.as_str()),
                Some(c.kind.as_str()),
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f.unwrap_or_default())).collect();
            csv.push_str(&row.join(","));
            csv.push_str("\r\n");
        }
        Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

pub(super) async fn search_clients(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "pageSize", state.page_cap())?;
        let types = client_types(params.get("types"))?;
        let q = params.get("q").map(|s| s.trim()).filter(|s| !s.is_empty());
        ok(paging.answer(client_list(studio, &types, q), &headers, "/api/v1/clients/search", state.extras()))
    })
}

pub(super) fn find_client<'a>(studio: &'a Studio, id: &str) -> Result<&'a Client, Response> {
    studio.client(id).ok_or_else(|| not_found("client_not_found", format!("Client with ID {id} not found")))
}

pub(super) async fn get_client(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    with_studio(&state, &headers, |studio| ok(json!({ "data": find_client(studio, &id)?.to_json() })))
}

/// Applies the writable client fields present in `body`; validation failures land in `invalid`.
pub(super) fn apply_client_fields(client: &mut Client, body: &Map<String, Value>, invalid: &mut Invalid) {
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

pub(super) fn check_unique_email(studio: &Studio, client: &Client, invalid: &mut Invalid) {
    let taken = studio.clients.iter().any(|c| c.id != client.id && c.email.eq_ignore_ascii_case(&client.email));
    if taken {
        invalid.add("email", "The email has already been taken.");
    }
}

pub(super) async fn create_client(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Reply {
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

pub(super) async fn update_client(
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

pub(super) async fn client_collections(
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

pub(super) async fn client_documents(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Reply {
    let extras = state.extras();
    with_studio(&state, &headers, |studio| {
        find_client(studio, &id)?;
        let (per_page, with_total) = state.documents_paging();
        let page = positive(&params, "page", 1, usize::MAX)?;
        let paging = Paging { page, per_page: per_page.unwrap_or(DEFAULT_PER_PAGE) };
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
        let mut answer = paging.answer(items, &headers, &format!("/api/v1/clients/{id}/documents"), extras);
        if !with_total && let Some(meta) = answer["meta"].as_object_mut() {
            meta.remove("total");
        }
        ok(answer)
    })
}

/// "All documents (contracts, invoices, etc.)": without `extras`, each as its own
/// endpoint writes it. Gift-card activities are named by the documents, never shown,
/// so only `extras` writes them.
pub(super) fn invoice_document(invoice: &Invoice, extras: bool, gift_cards: bool) -> Value {
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
