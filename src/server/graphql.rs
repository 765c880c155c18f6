//! GraphQL over HTTP: POST executes (batches too), GET executes queries or,
//! for a browser, serves GraphiQL.

use async_graphql::BatchRequest;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use std::sync::Arc;

use super::AppState;
use crate::auth::Supplied;
use crate::graphql::IdempotencyHeader;
use crate::idempotency::MAX_KEY_LEN;
use crate::loaders::Loaders;

/// The `Idempotency-Key` header; None inside when absent, None outside when unusable.
fn idempotency_header(headers: &HeaderMap) -> Option<IdempotencyHeader> {
    let Some(value) = headers.get("idempotency-key") else { return Some(IdempotencyHeader(None)) };
    let key = value.to_str().ok()?.trim();
    (!key.is_empty() && key.len() <= MAX_KEY_LEN).then(|| IdempotencyHeader(Some(key.to_string())))
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, request: GraphQLBatchRequest) -> Response {
    let Some(idempotency) = idempotency_header(&headers) else {
        let message = format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters");
        return refusal(StatusCode::BAD_REQUEST, &message, "BAD_REQUEST");
    };
    if let BatchRequest::Batch(operations) = &request.0
        && operations.len() > state.limits.max_batch
    {
        let message = format!(
            "a batched request holds at most {} operations; this one holds {}",
            state.limits.max_batch,
            operations.len()
        );
        return refusal(StatusCode::BAD_REQUEST, &message, "TOO_MANY_OPERATIONS");
    }
    let loaders = Arc::new(Loaders::new(&state.sources, state.access.resolve(Supplied::from_headers(&headers))));
    let request = request.into_inner().data(loaders).data(idempotency);
    GraphQLResponse::from(state.schema.execute_batch(request).await).into_response()
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("pixgate").finish())
}

/// The body limit's bare 413, as a GraphQL error a client can read.
pub async fn typed_payload_too_large(State(max_bytes): State<usize>, response: Response) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    let message = format!("the request body is over the limit of {} KiB", max_bytes / 1024);
    refusal(StatusCode::PAYLOAD_TOO_LARGE, &message, "PAYLOAD_TOO_LARGE")
}

fn refusal(status: StatusCode, message: &str, code: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// True when the operation a GET would run is a mutation: GET must never write.
fn runs_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else { return false };
    document.operations.iter().any(|(name, operation)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            (Some(_), None) => false,
            (None, _) => true,
        };
        selected && operation.node.ty == async_graphql::parser::types::OperationType::Mutation
    })
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let has_operation = query.split('&').any(|pair| pair.starts_with("query=") || pair.starts_with("extensions="));
    if !has_operation && wants_html(&headers) {
        if !state.limits.graphiql {
            return refusal(StatusCode::NOT_FOUND, "GraphiQL is switched off on this gateway", "NOT_FOUND");
        }
        return graphiql().into_response();
    }
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, &format!("invalid GraphQL GET request: {e}"), "BAD_REQUEST"),
    };
    if runs_mutation(&request) {
        return refusal(StatusCode::METHOD_NOT_ALLOWED, "mutations must be sent with POST", "BAD_REQUEST");
    }
    let loaders = Arc::new(Loaders::new(&state.sources, state.access.resolve(Supplied::from_headers(&headers))));
    GraphQLResponse::from(state.schema.execute(request.data(loaders)).await).into_response()
}
