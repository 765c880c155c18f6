//! The contact behind the credentials, new contacts, and the account's invoices.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::model::*;
use super::reply::*;
use crate::{SandboxState, locked};

const INVOICES_PER_PAGE: usize = 50;

pub(super) async fn get_contact(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
    let params = query_map(params);
    with_account(&state, &params, bad_credentials, |store, index| {
        answer(json!({ "Contact": store.accounts[index].contact_json() }))
    })
}

pub(super) async fn create_contact(State(state): State<Arc<SandboxState>>, body: Bytes) -> Reply {
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
        developer: Some(developer_email.trim().to_string()),
    });
    answer(json!({ "Message": "Success", "ContactAPIkey": api_key, "ContactEmail": email }))
}

pub(super) async fn list_invoices(State(state): State<Arc<SandboxState>>, Query(params): Params) -> Reply {
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
