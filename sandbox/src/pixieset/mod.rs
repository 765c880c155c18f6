//! The simulated Pixieset Studio API under `/api/v1`.
//!
//! Error bodies come in the two shapes the documents show: validation answers
//! `{"message", "details"}` at the top level (the quick start reads
//! `error.details`), not-found and bad-variable answers nest under `"error"`.

mod clients;
mod contracts;
mod invoices;
mod model;
mod reply;
pub mod seed;
mod templates;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub use model::Studio;

use super::SandboxState;
use clients::*;
use contracts::*;
use invoices::*;
use templates::*;

pub fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/api/v1/clients", get(list_clients).post(create_client))
        .route("/api/v1/clients/", get(list_clients).post(create_client))
        .route("/api/v1/clients/search", get(search_clients))
        .route("/api/v1/clients/download_csv", get(clients_csv))
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
