//! Hostile operations: each is refused with a typed error before any upstream call.

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use serde_json::{Value, json};

use crate::gateway::gateway;
use crate::support::*;

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

async fn post(gateway: &Running, body: &Value) -> (u16, Value) {
    answer(http().post(format!("http://{}/graphql", gateway.addr())).json(body)).await
}

/// Sends `body` and checks the refusal's status and code, and that the sandbox saw nothing.
async fn refused(gateway: &Running, body: &Value, status: u16, expected: &str) -> Value {
    let sandbox = gateway.sandbox().expect("a sandbox gateway");
    sandbox.reset_requests();
    let (got, answer) = post(gateway, body).await;
    assert_eq!(
        (got, code(&answer)),
        (status, expected),
        "{}",
        &answer.to_string()[..answer.to_string().len().min(500)]
    );
    assert!(answer.get("data").is_none_or(Value::is_null), "no data: {answer}");
    assert_eq!(sandbox.requests().total, 0, "refused before any upstream call");
    answer
}

#[tokio::test]
async fn hostile_operations_are_refused_before_any_upstream_call() {
    let gateway = gateway(ServeArgs::default()).await;

    let deep = format!("{{ {}id{} }}", "clients { edges { node { ".repeat(334), " } } }".repeat(334));
    refused(&gateway, &json!({ "query": deep }), 200, "QUERY_TOO_DEEP").await;

    let aliases: String = (0..10_000).map(|n| format!("a{n}: __typename ")).collect();
    refused(&gateway, &json!({ "query": format!("{{ {aliases} }}") }), 200, "TOO_MANY_ALIASES").await;

    // Directive overloading: each directive costs the server, whatever it says.
    let overloaded = "__typename @include(if: true) ".repeat(2_000);
    refused(&gateway, &json!({ "query": format!("{{ {overloaded} }}") }), 200, "TOO_MANY_DIRECTIVES").await;
    let piled = format!("{{ __typename {} }}", "@include(if: true) ".repeat(5));
    refused(&gateway, &json!({ "query": piled }), 200, "TOO_MANY_DIRECTIVES").await;

    let batch: Vec<Value> = (0..1_000).map(|_| json!({ "query": "{ pixelzAccount { email } }" })).collect();
    refused(&gateway, &Value::Array(batch), 400, "TOO_MANY_OPERATIONS").await;

    let five_megabytes = "x".repeat(5 * 1024 * 1024);
    let body = json!({ "query": "{ pixelzAccount { email } }", "variables": { "padding": five_megabytes } });
    refused(&gateway, &body, 413, "PAYLOAD_TOO_LARGE").await;

    // Small, but nested past what any JSON reader should follow.
    let nested = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let body = format!(r#"{{"query": "{{ pixelzAccount {{ email }} }}", "variables": {{ "v": {nested} }}}}"#);
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let response = http()
        .post(format!("http://{}/graphql", gateway.addr()))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();
    assert_eq!((status, code(&answer)), (400, "BAD_REQUEST"), "{answer}");
    assert_eq!(sandbox.requests().total, 0);

    // The classic introspection cycle: types, their fields' types, their fields' types, and so on.
    let cycle = format!("{{ __schema {{ {}name{} }} }}", "types { fields { type { ".repeat(6), " } } }".repeat(6));
    refused(&gateway, &json!({ "query": cycle }), 200, "QUERY_TOO_DEEP").await;

    let wide: String = (0..21).map(|n| format!("f{n}: __typename ")).collect();
    let many_roots = json!({ "query": format!("{{ {wide} }}") });
    // 21 aliases too: the alias limit is the first to trip at the defaults, so raise it here.
    let lenient = crate::gateway::gateway(ServeArgs { max_aliases: Some(100), ..ServeArgs::default() }).await;
    refused(&lenient, &many_roots, 200, "TOO_MANY_ROOT_FIELDS").await;
}

#[tokio::test]
async fn connections_cost_their_page_size() {
    let gateway = gateway(ServeArgs { max_complexity: Some(300), ..ServeArgs::default() }).await;
    let cheap = "{ contracts(first: 45) { edges { node { client { email } template { name } } } } }";
    let (status, body) = post(&gateway, &json!({ "query": cheap })).await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
    let costly = "{ clients(first: 100) { edges { node { invoices(first: 100) { edges { node { id } } } } } } }";
    refused(&gateway, &json!({ "query": costly }), 200, "QUERY_TOO_COMPLEX").await;
    refused(&gateway, &json!({ "query": "{ pixelzAccount { " }), 200, "GRAPHQL_PARSE_FAILED").await;
    refused(&gateway, &json!({ "query": "{ pixelzAccount { nonsense } }" }), 200, "GRAPHQL_VALIDATION_FAILED").await;
}

#[tokio::test]
async fn a_slow_operation_times_out_with_a_typed_error() {
    let gateway = gateway(ServeArgs { execution_timeout_ms: Some(50), ..ServeArgs::default() }).await;
    gateway.sandbox().unwrap().set_faults(pixgate_sandbox::Faults { latency_ms: 500, ..Default::default() });
    let (status, body) = post(&gateway, &json!({ "query": "{ pixelzAccount { email } }" })).await;
    assert_eq!((status, code(&body)), (200, "EXECUTION_TIMEOUT"), "{body}");
}

#[tokio::test]
async fn introspection_suggestions_and_graphiql_can_be_switched_off_but_not_on_the_sandbox() {
    let upstream = sandbox().await;
    let closed = gateway(ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        introspection: Some(false),
        field_suggestions: Some(false),
        graphiql: Some(false),
        ..ServeArgs::default()
    })
    .await;
    let (_, body) = post(&closed, &json!({ "query": "{ __schema { queryType { name } } }" })).await;
    assert_eq!(code(&body), "INTROSPECTION_DISABLED", "{body}");
    let (_, body) = post(&closed, &json!({ "query": "{ pixelzAcount { email } }" })).await;
    assert!(!body.to_string().contains("Did you mean"), "{body}");
    let page = http().get(format!("http://{}/graphql", closed.addr())).header("Accept", "text/html").send().await;
    assert_ne!(page.unwrap().status(), 200, "no GraphiQL");

    let sandboxed = gateway(ServeArgs { introspection: Some(false), ..ServeArgs::default() }).await;
    let (_, body) = post(&sandboxed, &json!({ "query": "{ __schema { queryType { name } } }" })).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query", "{body}");
    let (_, body) = post(&sandboxed, &json!({ "query": "{ pixelzAcount { email } }" })).await;
    assert!(body.to_string().contains("Did you mean"), "{body}");
}

#[tokio::test]
async fn bodies_that_are_not_json_graphql_get_clear_4xx_answers() {
    let gateway = gateway(ServeArgs::default()).await;
    let url = format!("http://{}/graphql", gateway.addr());
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let query = r#"{"query": "mutation { createPixelzContact(input: {email: \"x@y.z\", name: \"X\", countryCode: \"US\"}) { userErrors { code } } }"}"#;
    for (content_type, body, status, expected) in [
        (Some("application/json"), r#"{"query": "{ __typename }""#, 400, "BAD_REQUEST"),
        (Some("application/json"), r#"{"query": 5}"#, 400, "BAD_REQUEST"),
        (Some("application/json"), "", 400, "BAD_REQUEST"),
        // What a foreign page can send without a preflight: never run, whatever it holds.
        (Some("text/plain"), query, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (Some("application/x-www-form-urlencoded"), query, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (Some("multipart/form-data; boundary=x"), query, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (None, query, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ] {
        let mut request = http().post(&url).body(body);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        let (got, answer) = answer(request).await;
        assert_eq!((got, code(&answer)), (status, expected), "{content_type:?} {body}: {answer}");
    }
    assert_eq!(sandbox.requests().total, 0, "nothing reached an upstream");
    let (status, _) = answer(
        http()
            .post(&url)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(r#"{"query": "{ __typename }"}"#),
    )
    .await;
    assert_eq!(status, 200, "a charset parameter is fine");
}

#[tokio::test]
async fn the_sse_route_refuses_bodies_that_are_not_json_graphql_with_typed_errors() {
    let gateway = gateway(ServeArgs::default()).await;
    let url = format!("http://{}/graphql/sse", gateway.addr());
    let subscription = r#"{"query": "subscription { pixelzImageStatusChanged(tickets: [\"x\"]) { status } }"}"#;
    for (content_type, body, status, expected) in [
        ("text/plain", subscription, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("application/json", r#"{"query": "#, 400, "BAD_REQUEST"),
    ] {
        let (got, answer) = answer(http().post(&url).header("Content-Type", content_type).body(body)).await;
        assert_eq!((got, code(&answer)), (status, expected), "{answer}");
    }
}
