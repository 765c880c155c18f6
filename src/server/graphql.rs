//! GraphQL over HTTP: POST executes (batches too), GET executes queries or,
//! for a browser, serves GraphiQL. Both take automatic persisted queries, or with a
//! manifest only trusted documents, and tell an answer's upstream cost when asked.

use async_graphql::parser::types::OperationType;
use axum::Extension;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use std::sync::{Arc, OnceLock};

use super::AppState;
use super::media::{self, Media, Replies, Reply};
use super::trusted;
use crate::cache::reads::Recorded;
use crate::cache::responses::{Hit, Leading, RequestKey, ResponseKey};
use crate::error_code::ErrorCode;
use crate::graphql::IdempotencyHeader;
use crate::idempotency::MAX_KEY_LEN;
use crate::loaders::Loaders;
use crate::scope::{self, Scope};
use crate::session::Session;
use crate::telemetry::cost::{Kept, Spent, Tally};
use crate::telemetry::metrics::operation_label;

/// The `Idempotency-Key` header; None inside when absent, None outside when unusable.
fn idempotency_header(headers: &HeaderMap) -> Option<IdempotencyHeader> {
    let Some(value) = headers.get("idempotency-key") else { return Some(IdempotencyHeader(None)) };
    let key = value.to_str().ok()?.trim();
    (!key.is_empty() && key.len() <= MAX_KEY_LEN).then(|| IdempotencyHeader(Some(key.to_string())))
}

/// Only JSON bodies: a form or `text/plain` POST is what a foreign page can send
/// without a CORS preflight, and it must not act with the default credentials.
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// One operation as sent: what async-graphql's `Request` reads, and the `documentId`
/// it would drop.
struct Sent {
    request: async_graphql::Request,
    document_id: Option<String>,
}

/// The wire form of `Sent`, field by field: flattening `Request` into it would make
/// serde buffer every body before reading it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentFields {
    #[serde(default)]
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: async_graphql::Variables,
    #[serde(default)]
    extensions: async_graphql::Extensions,
    #[serde(default)]
    document_id: Option<String>,
}

impl From<SentFields> for Sent {
    fn from(fields: SentFields) -> Self {
        let mut request = async_graphql::Request::new(fields.query);
        request.operation_name = fields.operation_name;
        request.variables = fields.variables;
        request.extensions = fields.extensions;
        Self { request, document_id: fields.document_id }
    }
}

/// A POST body: one operation, or a batch of them.
enum SentBody {
    Single(Box<Sent>),
    Batch(Vec<Sent>),
}

/// The operations a POST body holds, or the answer that refuses it.
fn read_operations(body: Result<axum::body::Bytes, BytesRejection>) -> Result<SentBody, Box<Response>> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Box::new(super::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge.error("the request body is over the limit"),
        )),
        status => Box::new(super::refuse(status, ErrorCode::BadRequest.error(rejection.body_text()))),
    })?;
    // A batch is a JSON array: its first byte says which to read, so nothing is read twice.
    let batch = body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[');
    let read = if batch {
        serde_json::from_slice::<Vec<SentFields>>(&body)
            .map(|all| SentBody::Batch(all.into_iter().map(Sent::from).collect()))
    } else {
        serde_json::from_slice::<SentFields>(&body).map(|one| SentBody::Single(Box::new(one.into())))
    };
    read.map_err(|error| {
        let message = format!("the body is not a GraphQL request: {error}");
        Box::new(super::refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message)))
    })
}

pub async fn post(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    if !is_json(&headers) {
        let message = "send GraphQL over POST as `Content-Type: application/json`";
        return super::refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType.error(message));
    }
    let Some(media) = Media::negotiate(&headers) else { return not_acceptable() };
    let as_sent = body.as_ref().ok().cloned();
    let request = match read_operations(body) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let Some(idempotency) = idempotency_header(&headers) else {
        let message = format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters");
        return super::refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message));
    };
    if let SentBody::Batch(operations) = &request
        && operations.len() > state.limits.max_batch
    {
        let message = format!(
            "a batched request holds at most {} operations; this one holds {}",
            state.limits.max_batch,
            operations.len()
        );
        return super::refuse(StatusCode::BAD_REQUEST, ErrorCode::TooManyOperations.error(message));
    }
    let mut asked = Asked::new(&session, Some(&idempotency), &headers);
    let replies = match request {
        SentBody::Single(operation) => {
            asked.sent = as_sent.and_then(|body| super::kept::sent_key(&state, &headers, body, &session));
            Replies::Single(admit_and_execute(&state, *operation, &asked).await)
        }
        SentBody::Batch(sent) => Replies::Batch(
            futures_util::future::join_all(sent.into_iter().map(|sent| admit_and_execute(&state, sent, &asked))).await,
        ),
    };
    media::answer(replies, media)
}

/// Whether a kept answer may be served (`Cache-Control: no-cache` says no) and
/// whether this one may be kept (`no-store` says no), as RFC 9111 reads the
/// directives in a request.
#[derive(Clone, Copy, Debug)]
struct KeptAnswers {
    serve: bool,
    keep: bool,
}

impl From<&HeaderMap> for KeptAnswers {
    fn from(headers: &HeaderMap) -> Self {
        let directives = headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|directive| directive.trim().to_ascii_lowercase())
            .collect::<Vec<_>>();
        let named = |name: &str| directives.iter().any(|directive| directive == name);
        let no_store = named("no-store");
        Self { serve: !(no_store || named("no-cache") || named("max-age=0")), keep: !no_store }
    }
}

/// What every operation of one HTTP request shares.
struct Asked<'a> {
    session: &'a Session,
    /// None over GET, which never writes.
    idempotency: Option<&'a IdempotencyHeader>,
    kept: KeptAnswers,
    /// Every operation's answer says what it cost upstream.
    cost: bool,
    /// Made when the first operation executes: an answer served kept needs none.
    loaders: OnceLock<Arc<Loaders>>,
    /// A single operation's request as sent, when that alone decides its answer: a
    /// repeat of it is then answered before the router (`kept`).
    sent: Option<RequestKey>,
}

impl<'a> Asked<'a> {
    fn new(session: &'a Session, idempotency: Option<&'a IdempotencyHeader>, headers: &HeaderMap) -> Self {
        Self {
            session,
            idempotency,
            kept: KeptAnswers::from(headers),
            cost: header_asks_cost(headers),
            loaders: OnceLock::new(),
            sent: None,
        }
    }

    fn loaders(&self, state: &AppState) -> Arc<Loaders> {
        self.loaders.get_or_init(|| Arc::new(Loaders::new(&state.sources, self.session))).clone()
    }
}

/// The spec's answer to an `Accept` that names neither GraphQL response type.
fn not_acceptable() -> Response {
    let message = format!("accept `{}` or `{}`", media::GRAPHQL_RESPONSE_JSON, media::JSON);
    super::refuse(StatusCode::NOT_ACCEPTABLE, ErrorCode::NotAcceptable.error(message))
}

/// Runs one operation once it is admitted.
async fn admit_and_execute(state: &AppState, sent: Sent, asked: &Asked<'_>) -> Reply {
    let Sent { mut request, document_id } = sent;
    match admit(state, &mut request, document_id, asked.session).await {
        Ok(()) => execute(state, request, asked).await,
        Err(refused) => Reply::Executed(async_graphql::Response::from_errors(vec![refused])),
    }
}

/// Runs one admitted operation, unless the answer it was given before still holds.
async fn execute(state: &AppState, mut request: async_graphql::Request, asked: &Asked<'_>) -> Reply {
    if request.query.trim().is_empty() {
        // Not a GraphQL-over-HTTP request at all (`qeury`, or nothing): a 400, not a parse error.
        let refused = ErrorCode::BadRequest.error("the request has no `query`");
        return Reply::Executed(async_graphql::Response::from_errors(vec![refused]));
    }
    let started = std::time::Instant::now();
    let cost = asked.cost || asks_cost(&mut request);
    // An answer with its cost is this request's alone.
    let sent = asked.sent.clone().filter(|_| !cost);
    let key = state.responses.enabled().then(|| {
        // Variables are a map ordered by name, so equal variables serialise alike.
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        ResponseKey::new(asked.session, &request.query, request.operation_name.as_deref(), variables)
    });
    // While this request makes a query's answer, identical ones wait for it (`lookup_or_lead`).
    let mut leading = None;
    let kept = match &key {
        None => Kept::Off,
        Some(_) if !asked.kept.serve => {
            state.responses.bypassed();
            Kept::Bypassed
        }
        Some(key) => match lookup(state, key, sent.clone(), &mut leading).await {
            Some(hit) => {
                tracing::debug!("answered from the response cache");
                hit.answered.record(started.elapsed());
                let reply = Reply::Serialised { body: hit.body, age: Some(hit.age) };
                return if cost {
                    let budget = Spent { used: 0, limit: state.limits.max_upstream_calls };
                    reply.with_extension(COST_EXTENSION, Tally::default().to_json(Kept::Hit, budget))
                } else {
                    reply
                };
            }
            None => Kept::Miss,
        },
    };
    let mut request = request.data(asked.loaders(state));
    if asked.session.holds_token() {
        request = request.data(crate::graphql::limits::HoldsAccessToken);
    }
    if let Some(idempotency) = asked.idempotency {
        request = request.data(idempotency.clone());
    }
    let mut operation = Scope::operation(state.limits.max_upstream_calls).keeping::<Recorded>();
    if cost {
        operation = operation.keeping::<Tally>();
    }
    let operation = Arc::new(operation);
    let response = scope::run(operation.clone(), state.schema.execute(request)).await;
    let spent = Spent { used: operation.upstream_calls(), limit: operation.upstream_budget() };
    // A tenant's rate is spent by what its operations cost upstream, not by their count alone.
    state.rate_limits.charge(asked.session, spent.used).await;
    let recorded = operation.take::<Recorded>().unwrap_or_default();
    let reply = keep(state, key.filter(|_| asked.kept.keep), sent, response, recorded);
    // Kept, if it could be: the identical requests waiting for it take it now.
    drop(leading);
    match operation.take::<Tally>() {
        Some(tally) => reply.with_extension(COST_EXTENSION, tally.to_json(kept, spent)),
        None => reply,
    }
}

/// The answer kept for `key`; for a query, also the one an identical request is making
/// now, or else `leading` is what makes the identical requests arriving meanwhile wait.
/// Whether it is a query is known once the document was parsed, by an earlier request:
/// the first requests of a document ever asked run each (the operation parses it).
async fn lookup(
    state: &AppState,
    key: &ResponseKey,
    sent: Option<RequestKey>,
    leading: &mut Option<Leading>,
) -> Option<Hit> {
    if !matches!(state.documents.selected(key.query(), key.operation_name()), Some((OperationType::Query, _))) {
        return state.responses.lookup(key, sent).await;
    }
    state.responses.lookup_or_lead(key, sent).await.map_err(|led| *leading = led).ok()
}

/// Keeps a query's answer when it has no errors and needs no headers of its own.
fn keep(
    state: &AppState,
    key: Option<ResponseKey>,
    sent: Option<RequestKey>,
    response: async_graphql::Response,
    recorded: Recorded,
) -> Reply {
    let Some(key) = key else { return Reply::Executed(response) };
    let Some((OperationType::Query, name)) = state.documents.selected(key.query(), key.operation_name()) else {
        return Reply::Executed(response);
    };
    if !response.is_ok() {
        state.responses.unkept("errors");
        return Reply::Executed(response);
    }
    match media::body(&response) {
        Ok(body) if response.http_headers.is_empty() => {
            let operation = operation_label(key.operation_name().or(name.as_deref()));
            state.responses.keep(key, sent, body.clone(), recorded, &operation);
            Reply::Serialised { body, age: None }
        }
        _ => Reply::Executed(response),
    }
}

/// Where an answer says what it cost upstream.
const COST_EXTENSION: &str = "pixgateCost";
/// A request header asking every operation of the request for its cost.
pub(super) const COST_HEADER: &str = "x-pixgate-cost";

/// `extensions: { pixgateCost: true }`, taken out of the request so nothing else reads it.
fn asks_cost(request: &mut async_graphql::Request) -> bool {
    matches!(request.extensions.remove(COST_EXTENSION), Some(async_graphql::Value::Boolean(true)))
}

fn header_asks_cost(headers: &HeaderMap) -> bool {
    headers.get(COST_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|v| matches!(v.trim(), "1" | "true"))
}

/// A trusted document, or an automatic persisted query, or the text as sent; refused
/// before it is parsed when the gateway runs only trusted documents.
async fn admit(
    state: &AppState,
    request: &mut async_graphql::Request,
    document_id: Option<String>,
    session: &Session,
) -> Result<(), async_graphql::ServerError> {
    if let Some(trusted) = &state.trusted {
        let operation =
            trusted::Operation { query: &mut request.query, document_id, extensions: &mut request.extensions };
        return match trusted.admit(operation, session.holds_token())? {
            trusted::Admitted::Trusted => Ok(()),
            trusted::Admitted::Unrestricted => state.persisted.resolve(request).await,
        };
    }
    trusted::without_manifest(document_id.as_deref())?;
    state.persisted.resolve(request).await
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

/// The body limit's bare 413, as a GraphQL error a client can read.
pub async fn typed_payload_too_large(State(max_bytes): State<usize>, response: Response) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    let message = format!("the request body is over the limit of {} KiB", max_bytes / 1024);
    super::refuse(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge.error(message))
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

/// The GraphQL-over-HTTP GET parameters; `variables` and `extensions` are JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    #[serde(default)]
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
    document_id: Option<String>,
}

fn get_request(raw: &str) -> Result<Sent, String> {
    let params: GetParams = serde_urlencoded::from_str(raw).map_err(|e| e.to_string())?;
    let json = |name: &str, text: Option<String>| {
        text.filter(|t| !t.trim().is_empty())
            .map(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| format!("`{name}` is not JSON: {e}")))
            .transpose()
    };
    let variables = json("variables", params.variables)?;
    let extensions = json("extensions", params.extensions)?;
    let mut request = async_graphql::Request::new(params.query);
    request.operation_name = params.operation_name;
    if let Some(variables) = variables {
        request.variables = async_graphql::Variables::from_json(variables);
    }
    if let Some(extensions) = extensions {
        request.extensions =
            serde_json::from_value(extensions).map_err(|e| format!("`extensions` is not an object: {e}"))?;
    }
    Ok(Sent { request, document_id: params.document_id })
}

pub async fn get(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    // A browser opening a link with a query gets GraphiQL with that query in its editor.
    // With trusted documents, only a caller with an access token may run what it writes,
    // so GraphiQL is there only where tokens are.
    let token_needed = state.trusted.is_some();
    let graphiql = state.limits.graphiql && !(token_needed && state.access.tokens.is_empty());
    let (mut response, cacheable) = if wants_html(&headers) && graphiql {
        (super::browser::graphiql(state.access.sandbox_headers(), token_needed).into_response(), false)
    } else {
        answer_get(&state, &session, &headers, query.unwrap_or_default()).await
    };
    // Every GET answer says whether a shared cache may keep it, and on what it depends:
    // a CDN must not hand one caller's answer, or its refusal, to another.
    let cache_control = if cacheable { SHARED_CACHE_CONTROL } else { "private, no-store" };
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static(cache_control));
    response.headers_mut().insert(header::VARY, GET_VARIES_ON.clone());
    response
}

/// The answer to a GET that is not a browser's page, and whether anyone would get the same.
async fn answer_get(state: &AppState, session: &Session, headers: &HeaderMap, query: String) -> (Response, bool) {
    let has_operation =
        query.split('&').any(|pair| ["query=", "extensions=", "documentId="].iter().any(|name| pair.starts_with(name)));
    if !has_operation && wants_html(headers) {
        return (
            super::refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound.error("GraphiQL is switched off on this gateway")),
            false,
        );
    }
    let Some(media) = Media::negotiate(headers) else { return (not_acceptable(), false) };
    let Sent { mut request, document_id } = match get_request(&query) {
        Ok(sent) => sent,
        Err(e) => {
            let message = format!("invalid GraphQL GET request: {e}");
            return (super::refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message)), false);
        }
    };
    // Admitted first: GET must not run a mutation by its hash or id either.
    if let Err(refused) = admit(state, &mut request, document_id, session).await {
        let miss = Reply::Executed(async_graphql::Response::from_errors(vec![refused]));
        return (media::answer(Replies::Single(miss), media), false);
    }
    if runs_mutation(&request) {
        return (
            super::refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::BadRequest.error("mutations must be sent with POST"),
            ),
            false,
        );
    }
    let asked = Asked::new(session, None, headers);
    // What one answer cost is true of that answer only.
    let tells_cost = asked.cost || request.extensions.get(COST_EXTENSION) == Some(&async_graphql::Value::Boolean(true));
    let answer = execute(state, request, &asked).await;
    // A shared cache may keep what anyone would get: answers without credentials
    // or tokens, and without errors. Anything a caller's credentials opened stays private.
    let cacheable = session.is_anonymous() && answer.is_ok() && !tells_cost;
    (media::answer(Replies::Single(answer), media), cacheable)
}

/// Short: cached answers may trail a write by this long.
const SHARED_CACHE_CONTROL: &str = "public, max-age=10";
/// The media type and GraphiQL depend on `Accept`; what an answer holds, on the credentials.
static GET_VARIES_ON: std::sync::LazyLock<header::HeaderValue> = std::sync::LazyLock::new(|| {
    let names = ["Accept", "Authorization"].into_iter().chain(crate::auth::CREDENTIAL_HEADERS);
    header::HeaderValue::from_str(&names.collect::<Vec<_>>().join(", ")).expect("header names are visible ASCII")
});
