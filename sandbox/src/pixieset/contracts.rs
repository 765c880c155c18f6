//! Contracts: the list and one in detail, with what `expand` embeds.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::model::*;
use super::reply::*;
use crate::SandboxState;

pub(super) fn contract_parts<'a>(
    studio: &'a Studio,
    contract: &Contract,
) -> Result<(&'a Client, &'a ContractTemplate), Response> {
    let missing = || not_found("contract_not_found", format!("Contract with ID {} not found", contract.id));
    Ok((
        studio.client(&contract.client_id).ok_or_else(missing)?,
        studio.template(&contract.template_id).ok_or_else(missing)?,
    ))
}

pub(super) async fn list_contracts(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let paging = Paging::from(&params, "per_page", state.page_cap())?;
        let asked = Expand::parse(params.get("expand").map(String::as_str));
        let expand = if state.lists_embed() { asked } else { Expand::None };
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

pub(super) async fn get_contract(
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
