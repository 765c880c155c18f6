//! Where clients can tell: a failed field is `null` and its null climbs through
//! non-null types (over every transport), GraphQL over HTTP's media types and
//! status codes, how GET answers may be cached, and the WebSocket close handshake.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::gateway::{gateway, graphql};
use crate::live::{next_json, websocket};
use crate::support::*;

const KNOWN: &str = "cl_ABC123DEF456GHI789JKL012MNO345";
/// Well-formed, so it costs an upstream call, and unknown to the sandbox: NOT_FOUND.
const UNKNOWN: &str = "cl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn paths(body: &Value) -> Vec<Value> {
    body["errors"].as_array().map(|errors| errors.iter().map(|e| e["path"].clone()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_failed_field_is_null_and_the_null_climbs_to_the_nearest_nullable_position() {
    let gateway = gateway(ServeArgs::default()).await;

    // Root fields, aliased: the failed one is there, as null.
    let body = graphql(
        &gateway,
        &format!("{{ a: client(id: \"{UNKNOWN}\") {{ id }} b: client(id: \"{KNOWN}\") {{ id }} }}"),
        &[],
    )
    .await;
    assert_eq!(body["data"], json!({ "a": null, "b": { "id": KNOWN } }), "{body}");
    assert_eq!(paths(&body), vec![json!(["a"])]);
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // Every field that calls an upstream is nullable, so its failure stays where it happened.
    let query = format!("{{ client(id: \"{KNOWN}\") {{ id invoices(after: \"garbage\") {{ totalCount }} }} }}");
    let body = graphql(&gateway, &query, &[]).await;
    assert_eq!(body["data"], json!({ "client": { "id": KNOWN, "invoices": null } }), "{body}");
    assert_eq!(paths(&body), vec![json!(["client", "invoices"])]);
    let query = "{ clients(first: 2) { edges { node { id invoices(after: \"garbage\") { totalCount } } } } }";
    let body = graphql(&gateway, query, &[]).await;
    let edges = body["data"]["clients"]["edges"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert!(edges.iter().all(|edge| edge["node"]["id"].is_string() && edge["node"]["invoices"].is_null()), "{body}");
    assert_eq!(
        paths(&body),
        vec![json!(["clients", "edges", 0, "node", "invoices"]), json!(["clients", "edges", 1, "node", "invoices"])],
        "errors in path order, whichever finished first"
    );

    // `nodes` is `[Node]!`, as Relay has it: refused whole (over 100 ids), its null climbs to `data`.
    let ids = vec!["\"nonsense\""; 101].join(", ");
    let body =
        graphql(&gateway, &format!("{{ client(id: \"{KNOWN}\") {{ id }} nodes(ids: [{ids}]) {{ id }} }}"), &[]).await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert!(body.as_object().unwrap().contains_key("data"), "execution ran, so `data` is there: {body}");
    assert_eq!(paths(&body), vec![json!(["nodes"])]);

    // A nullable list item is null in its place, and its error names the item.
    let query = format!("{{ nodes(ids: [\"{KNOWN}\", \"{UNKNOWN}\"]) {{ id }} }}");
    let body = graphql(&gateway, &query, &[]).await;
    assert_eq!(body["data"], json!({ "nodes": [{ "id": KNOWN }, null] }), "{body}");
    assert_eq!(paths(&body), vec![json!(["nodes", 1])]);

    // A failure below a nullable field stops there, and the siblings stay.
    let query = format!(
        "{{ client(id: \"{KNOWN}\") {{ id }} nodes(ids: [\"{UNKNOWN}\"]) {{ id }} account: pixelzAccount {{ email }} }}"
    );
    let body = graphql(&gateway, &query, &[]).await;
    assert_eq!(body["data"]["client"]["id"], KNOWN);
    assert_eq!(body["data"]["nodes"], json!([null]));
    assert!(body["data"]["account"]["email"].is_string(), "{body}");
}

#[tokio::test]
async fn failed_fields_are_null_over_websocket_and_sse_too() {
    let gateway = gateway(ServeArgs::default()).await;
    let query = format!("{{ a: client(id: \"{UNKNOWN}\") {{ id }} b: client(id: \"{KNOWN}\") {{ id }} }}");
    let expected = json!({ "a": null, "b": { "id": KNOWN } });

    let mut socket = websocket(&gateway, "graphql-transport-ws").await;
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "q", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    let answer = next_json(&mut socket).await;
    assert_eq!(answer["payload"]["data"], expected, "{answer}");
    assert_eq!(answer["payload"]["errors"][0]["path"], json!(["a"]));

    let response = http()
        .post(format!("http://{}/graphql/sse", gateway.addr()))
        .header("Accept", "text/event-stream")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(10), response.text()).await.unwrap().unwrap();
    let event = text
        .lines()
        .find_map(|line| line.strip_prefix("data:").map(str::trim).filter(|data| data.contains("errors")))
        .unwrap_or_else(|| panic!("a next event: {text}"));
    let event: Value = serde_json::from_str(event).unwrap();
    assert_eq!(event["data"], expected, "{event}");
}

/// A POST of `body` with `accept` (None: no header): status, content type, and the JSON body.
async fn post(gateway: &Running, accept: Option<&str>, body: &Value) -> (u16, String, Value) {
    let mut request = http().post(format!("http://{}/graphql", gateway.addr())).json(body);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let media = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, media, response.json().await.unwrap())
}

#[tokio::test]
async fn the_answer_comes_in_the_media_type_the_client_accepts_with_the_specs_status_codes() {
    let gateway = gateway(ServeArgs::default()).await;
    let ok = json!({ "query": "{ __typename }" });
    let newer = "application/graphql-response+json";
    for (accept, expected) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (Some(newer), newer),
        (Some("application/graphql-response+json, application/json;q=0.9"), newer),
    ] {
        let (status, media, body) = post(&gateway, accept, &ok).await;
        assert_eq!((status, media.as_str()), (200, expected), "Accept: {accept:?}");
        assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
    }
    let (status, _, body) = post(&gateway, Some("text/csv"), &ok).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (406, Some("NOT_ACCEPTABLE")));

    // Requests that never start executing: a parse error, a validation error, variables that do not coerce.
    let never_executed = [
        json!({ "query": "{" }),
        json!({ "query": "{ noSuchField }" }),
        json!({ "query": "query ($id: ID!) { client(id: $id) { id } }", "variables": { "id": [1, 2] } }),
    ];
    for body in &never_executed {
        let (status, media, answer) = post(&gateway, Some(newer), body).await;
        assert_eq!((status, media.as_str()), (400, newer), "{answer}");
        assert!(answer.get("data").is_none(), "no data entry before execution: {answer}");
        assert!(answer["errors"][0]["extensions"]["code"].is_string(), "{answer}");
        let (status, _, answer) = post(&gateway, Some("application/json"), body).await;
        assert_eq!(status, 200, "application/json answers every well-formed request with 200: {answer}");
        assert!(answer.get("data").is_none(), "{answer}");
    }

    // Not a GraphQL request at all: 400 in either media type.
    for accept in [Some(newer), None] {
        let (status, _, answer) = post(&gateway, accept, &json!({ "qeury": "{ __typename }" })).await;
        assert_eq!(
            (status, answer["errors"][0]["extensions"]["code"].as_str()),
            (400, Some("BAD_REQUEST")),
            "{answer}"
        );
    }

    // A field error is an executed answer: 200 and data, whatever the media type.
    let (status, _, answer) =
        post(&gateway, Some(newer), &json!({ "query": format!("{{ client(id: \"{UNKNOWN}\") {{ id }} }}") })).await;
    assert_eq!((status, &answer["data"]), (200, &json!({ "client": null })));
}

#[tokio::test]
async fn every_get_answer_says_whether_a_shared_cache_may_keep_it() {
    let gateway = gateway(ServeArgs::default()).await;
    let get = |params: Vec<(&'static str, String)>| {
        http().get(format!("http://{}/graphql", gateway.addr())).query(&params).send()
    };
    let cached = |response: &reqwest::Response| {
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        (header("cache-control"), header("vary"))
    };

    let anyones = get(vec![("query", "{ __typename }".into())]).await.unwrap();
    let (cache_control, vary) = cached(&anyones);
    assert_eq!(cache_control.as_deref(), Some("public, max-age=10"));
    let vary = vary.unwrap();
    for header in ["Accept", "X-Pixieset-Cookie", "X-Pixelz-Email", "X-Pixelz-Api-Key", "Authorization"] {
        assert!(vary.contains(header), "{vary} names {header}");
    }

    // A persisted-query miss must not be kept: the next request registers the query.
    let miss = json!({ "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } });
    let answers = [
        get(vec![("extensions", miss.to_string())]).await.unwrap(),
        get(vec![("query", "{".into())]).await.unwrap(),
        get(vec![("query", "mutation { __typename }".into())]).await.unwrap(),
        get(vec![("query", "{ __typename }".into()), ("variables", "not json".into())]).await.unwrap(),
    ];
    for answer in &answers {
        let (cache_control, vary) = cached(answer);
        assert_eq!(cache_control.as_deref(), Some("private, no-store"), "{}", answer.status());
        assert!(vary.is_some_and(|vary| vary.contains("X-Pixieset-Cookie")));
    }
}

#[tokio::test]
async fn a_clients_close_frame_is_answered_with_its_own_code() {
    let gateway = gateway(ServeArgs::default()).await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let mut socket = websocket(&gateway, protocol).await;
        socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
        assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
        let frame = CloseFrame { code: CloseCode::Normal, reason: "Normal Closure".into() };
        socket.send(Message::Close(Some(frame))).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("an answer in time");
        match answer {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal, "{protocol}"),
            other => panic!("{protocol}: the close handshake was not answered: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_schema_says_what_each_field_takes_and_gives() {
    let gateway = gateway(ServeArgs::default()).await;

    // Statuses and formats are enums on the way out as on the way in, the upstream's word beside them.
    let query = "{ contractTemplates { status statusName } pixelzTemplate(id: \"pzt_2066863\") { outputFormat outputFormatName createdOn } }";
    let body = graphql(&gateway, query, &[]).await;
    assert_eq!(body["data"]["contractTemplates"][0], json!({ "status": "ACTIVE", "statusName": "active" }), "{body}");
    assert_eq!(
        body["data"]["pixelzTemplate"],
        json!({ "outputFormat": "PNG", "outputFormatName": "PNG", "createdOn": "2020-06-26" })
    );

    // A user error's path has its list indexes as numbers.
    let mutation = "mutation { createInvoice(input: { clientId: \"in_x\", lineItems: [{ name: \"\", unitAmount: 1, quantity: 1 }] }) { userErrors { field path } } }";
    let body = graphql(&gateway, mutation, &[]).await;
    let errors = &body["data"]["createInvoice"]["userErrors"];
    let line_item =
        errors.as_array().unwrap().iter().find(|e| e["field"][1] == "lineItems").unwrap_or_else(|| panic!("{body}"));
    assert_eq!(line_item["path"], json!(["input", "lineItems", 0, "name"]));
    assert_eq!(line_item["field"], json!(["input", "lineItems", "0", "name"]));

    // One image by one key: `@oneOf` says it, and validation holds a caller to it before any upstream call.
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let both =
        "{ pixelzImage(by: { ticket: \"0da2bbe9-4cf4-4c16-8e46-52048836a01b\", customerImageId: \"12\" }) { ticket } }";
    let body = graphql(&gateway, both, &[]).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert_eq!(sandbox.requests().total, 0);
    let by_key = "{ pixelzImage(by: { customerImageId: \"no such image\" }) { ticket } }";
    let body = graphql(&gateway, by_key, &[]).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");

    // Errors read as sentences: one line for a syntax error, an article that fits the word.
    let body = graphql(&gateway, "{", &[]).await;
    assert_eq!(body["errors"][0]["message"], "syntax error: expected selection", "{body}");
    let body = graphql(&gateway, "{ invoice(id: \"nope\") { id } }", &[]).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("is not an invoice id"), "{message}");
}

#[tokio::test]
async fn an_answer_keeps_the_order_the_query_asks_for_whichever_upstream_answers_first() {
    let gateway = gateway(ServeArgs::default()).await;
    let query = format!(
        "{{ b: client(id: \"{KNOWN}\") {{ lastName firstName id }} a: pixelzAccount {{ email }} c: __typename }}"
    );
    let response = http()
        .post(format!("http://{}/graphql", gateway.addr()))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} in {text}"));
    assert!(at("\"b\"") < at("\"a\"") && at("\"a\"") < at("\"c\""), "{text}");
    assert!(at("\"lastName\"") < at("\"firstName\"") && at("\"firstName\"") < at("\"id\""), "{text}");
}
