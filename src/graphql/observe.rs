//! Every operation gets a span (upstream calls made for it are its children) and
//! is counted and timed by operation name and outcome.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerResult, Value, Variables};
use tracing::Instrument;

use crate::lock::locked;
use crate::telemetry::metrics::{GRAPHQL_DURATION, GRAPHQL_REQUESTS, operation_label};

pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Observing::default())
    }
}

/// One per operation.
#[derive(Default)]
struct Observing {
    operation: Mutex<Option<String>>,
}

impl Observing {
    fn set_operation(&self, name: Option<String>) {
        if let Some(name) = name {
            locked(&self.operation).get_or_insert(name);
        }
    }
}

fn outcome(response: &Response) -> &'static str {
    match (response.errors.is_empty(), response.data == Value::Null) {
        (true, _) => "ok",
        (false, false) => "partial",
        (false, true) => "error",
    }
}

#[async_trait::async_trait]
impl Extension for Observing {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let span = tracing::info_span!("graphql", operation = tracing::field::Empty, outcome = tracing::field::Empty);
        let response = next.run(ctx).instrument(span.clone()).await;
        let operation = operation_label(locked(&self.operation).clone().as_deref());
        let outcome = outcome(&response);
        span.record("operation", operation.as_str()).record("outcome", outcome);
        metrics::counter!(GRAPHQL_REQUESTS, "operation" => operation.clone(), "outcome" => outcome).increment(1);
        metrics::histogram!(GRAPHQL_DURATION, "operation" => operation).record(started.elapsed().as_secs_f64());
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.set_operation(request.operation_name.clone());
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // A lone named operation names the request even when the caller did not.
        let mut names = document.operations.iter().map(|(name, _)| name);
        if let (Some(Some(name)), None) = (names.next(), names.next()) {
            self.set_operation(Some(name.to_string()));
        }
        Ok(document)
    }
}
