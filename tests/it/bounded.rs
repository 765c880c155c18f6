//! Nothing one caller sends stalls the gateway or spends without bound: fragment
//! fan-outs, operations that name thousands of objects, an upstream in trouble,
//! dribbled requests, foreign WebSocket pages.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::{FaultTarget, Faults};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::gateway::gateway as start;
use crate::support::*;

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

async fn post(gateway: &Running, body: Value) -> Value {
    answer(http().post(format!("http://{}/graphql", gateway.addr())).json(&body)).await.1
}

/// Thirty fragments on `on`, each spreading the next twice: 2^30 spreads in 1.3 KB.
fn fan_out(on: &str, root: &str) -> String {
    let mut query = root.to_string();
    for level in 0..30 {
        query.push_str(&format!(" fragment F{level} on {on} {{ ...F{next} ...F{next} }}", next = level + 1));
    }
    query + &format!(" fragment F30 on {on} {{ __typename }}")
}

#[tokio::test]
async fn fragment_fan_outs_are_refused_while_health_answers() {
    let gateway = start(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let hostile =
        [fan_out("Query", "{ ...F0 }"), fan_out("Client", &format!("{{ client(id: \"{CLIENT_ID}\") {{ ...F0 }} }}"))];
    let attacks = hostile.iter().cycle().take(8).map(|query| post(&gateway, json!({ "query": query })));
    let health = async {
        // Before the fix one of these documents kept a worker busy for minutes.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let (status, _) = answer(http().get(format!("http://{}/healthz", gateway.addr()))).await;
        (status, started.elapsed())
    };
    let (answers, (status, took)) = tokio::join!(futures_util::future::join_all(attacks), health);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(5), "/healthz took {took:?}");
    for answer in &answers {
        assert_eq!(code(answer), "QUERY_TOO_COMPLEX", "{answer}");
        assert!(answer["errors"][0]["message"].as_str().unwrap().contains("spread out"), "{answer}");
    }
    assert_eq!(sandbox.requests().total, 0);

    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    assert_eq!(code(&post(&gateway, json!({ "query": cycle })).await), "GRAPHQL_VALIDATION_FAILED");
    let chain: String = (0..200).map(|n| format!(" fragment F{n} on Query {{ ...F{} }}", n + 1)).collect();
    let chain = format!("{{ ...F0 }}{chain} fragment F200 on Query {{ __typename }}");
    assert_eq!(code(&post(&gateway, json!({ "query": chain })).await), "QUERY_TOO_DEEP");
    // Fragments used as they are meant to be still run.
    let fine = format!(
        "{{ ...A }} fragment A on Query {{ client(id: \"{CLIENT_ID}\") {{ ...C ...C }} }} fragment C on Client {{ id email }}"
    );
    let answer = post(&gateway, json!({ "query": fine })).await;
    assert_eq!(answer["data"]["client"]["id"], CLIENT_ID, "{answer}");
}

#[tokio::test]
async fn an_operation_naming_more_objects_than_its_budget_is_refused_before_any_call() {
    let gateway = start(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let aliased: String = (0..20)
        .map(|alias| {
            let ids = (0..100).map(|n| format!("\"cl_{:0>30}\"", alias * 100 + n)).collect::<Vec<_>>().join(",");
            format!("a{alias}: nodes(ids: [{ids}]) {{ id }} ")
        })
        .collect();
    let answer = post(&gateway, json!({ "query": format!("{{ {aliased} }}") })).await;
    assert_eq!(code(&answer), "UPSTREAM_BUDGET_EXCEEDED", "{answer}");
    assert_eq!(
        (answer["errors"][0]["extensions"]["estimated"].as_u64(), answer["errors"][0]["extensions"]["limit"].as_u64()),
        (Some(2000), Some(100))
    );
    assert_eq!(sandbox.requests().total, 0, "refused before any upstream call");

    let federated = start(ServeArgs { federation: Some(true), ..ServeArgs::default() }).await;
    let federated_sandbox = federated.sandbox().unwrap();
    federated_sandbox.reset_requests();
    let representations: Vec<Value> =
        (0..3500).map(|n| json!({ "__typename": "Client", "id": format!("cl_{n:0>30}") })).collect();
    let entities = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Client { id } } }";
    let answer = post(&federated, json!({ "query": entities, "variables": { "r": representations } })).await;
    assert_eq!(
        code(&answer),
        "UPSTREAM_BUDGET_EXCEEDED",
        "{}",
        &answer.to_string()[..300.min(answer.to_string().len())]
    );
    assert_eq!(federated_sandbox.requests().total, 0);

    // A malformed id is null in its place, with its error; the others still resolve.
    let answer =
        post(&gateway, json!({ "query": format!("{{ nodes(ids: [\"nonsense\", \"{CLIENT_ID}\"]) {{ id }} }}") })).await;
    assert_eq!(answer["data"]["nodes"], json!([null, { "id": CLIENT_ID }]), "{answer}");
    assert_eq!((code(&answer), &answer["errors"][0]["path"]), ("BAD_USER_INPUT", &json!(["nodes", 0])));
}

/// Three upstream calls an operation, no cache to spare them, and a tenant's burst of
/// twelve refilled at one a second.
fn three_calls_a_burst_of_twelve() -> ServeArgs {
    ServeArgs {
        max_upstream_calls: Some(3),
        cache_mb: Some(0),
        rate_limit_tenant: Some(1),
        rate_limit_tenant_burst: Some(12),
        ..ServeArgs::default()
    }
}

#[tokio::test]
async fn calls_past_the_budget_fail_while_running_and_spend_the_tenants_rate() {
    let gateway = start(three_calls_a_burst_of_twelve()).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    // One list, then one contract list per client: the page's size decides how many.
    let query = json!({
        "query": "{ clients(first: 10) { edges { node { id invoices(first: 1) { totalCount } } } } }",
        "extensions": { "pixgateCost": true },
    });
    let answer = post(&gateway, query.clone()).await;
    assert_eq!(sandbox.requests().total, 3, "the budget's calls and no more");
    let codes: Vec<&str> =
        answer["errors"].as_array().unwrap().iter().filter_map(|e| e["extensions"]["code"].as_str()).collect();
    assert!(!codes.is_empty() && codes.iter().all(|c| *c == "UPSTREAM_BUDGET_EXCEEDED"), "{answer}");
    assert_eq!(answer["extensions"]["pixgateCost"]["upstreamBudget"], json!({ "limit": 3, "used": 3 }));

    // The tenant's burst of 12 was admitted one and charged three: what is left runs out
    // well before twelve cheap requests, which a count of requests alone would allow.
    let mut admitted = 0;
    for _ in 0..12 {
        let response = http().post(format!("http://{}/graphql", gateway.addr())).json(&query).send().await.unwrap();
        if response.status() == 429 {
            break;
        }
        admitted += 1;
    }
    assert!(admitted <= 4, "{admitted} more operations of 3 calls each were admitted from a burst of 12");
}

#[tokio::test]
async fn a_429_storm_opens_the_circuit_which_fails_fast_and_closes_after_retry_after() {
    let gateway = start(ServeArgs { cache_mb: Some(0), ..ServeArgs::default() }).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.set_faults(Faults {
        error_rate: 1.0,
        error_status: 429,
        retry_after_secs: 1,
        target: FaultTarget::Pixieset,
        ..Faults::default()
    });
    sandbox.reset_requests();
    let query = json!({ "query": format!("{{ client(id: \"{CLIENT_ID}\") {{ id }} }}") });
    let first = post(&gateway, query.clone()).await;
    assert_eq!(code(&first), "RATE_LIMITED", "{first}");
    let mut codes = Vec::new();
    for _ in 0..20 {
        let answer = post(&gateway, query.clone()).await;
        assert!(answer["errors"][0]["extensions"]["retryAfter"].as_u64().is_some_and(|s| s >= 1), "{answer}");
        codes.push(code(&answer).to_string());
    }
    assert_eq!(sandbox.requests().total, 1, "one call; the 429 is neither retried nor followed by more");
    assert!(codes.iter().all(|c| c == "UPSTREAM_UNAVAILABLE"), "{codes:?}");
    let metrics = http().get(format!("http://{}/metrics", gateway.addr())).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("pixgate_upstream_breakers_open{upstream=\"pixieset\"} 1"), "{metrics}");

    sandbox.set_faults(Faults::default());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let probe = post(&gateway, query.clone()).await;
    assert_eq!(probe["data"]["client"]["id"], CLIENT_ID, "the probe closes the circuit: {probe}");
    assert_eq!(post(&gateway, query.clone()).await["data"]["client"]["id"], CLIENT_ID);

    // 503s: a few calls open it, then the rest fail fast instead of three attempts each.
    sandbox.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        target: FaultTarget::Pixieset,
        ..Faults::default()
    });
    sandbox.reset_requests();
    for _ in 0..50 {
        post(&gateway, query.clone()).await;
    }
    let calls = sandbox.requests().total;
    assert!(calls <= 8, "50 requests to a failing upstream made {calls} calls");
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_timeout_while_others_are_served() {
    let args = ServeArgs { header_timeout_ms: Some(800), max_connections_per_ip: Some(0), ..ServeArgs::default() };
    let gateway = start(args).await;
    let mut dribbling = Vec::new();
    for _ in 0..300 {
        let mut socket = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
        socket.write_all(b"POST /graphql HTTP/1.1\r\nHost: pixgate\r\nContent-Type: appl").await.unwrap();
        dribbling.push(socket);
    }
    let (status, body) =
        answer(http().post(format!("http://{}/graphql", gateway.addr())).json(&json!({ "query": "{ __typename }" })))
            .await;
    assert_eq!((status, &body["data"]["__typename"]), (200, &json!("Query")), "served meanwhile");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut closed = 0;
    for socket in &mut dribbling {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(200), socket.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            _ => {}
        }
    }
    assert_eq!(closed, 300, "every dribbling connection was closed");
    // An idle kept-alive connection lasts its keep-alive timeout, not the header timeout.
    let (status, _) = answer(http().get(format!("http://{}/healthz", gateway.addr()))).await;
    assert_eq!(status, 200);
}

/// A kept-alive connection idles for its keep-alive timeout; once the next request
/// begins, its head has the header timeout to arrive, however long the keep-alive.
#[tokio::test]
async fn a_kept_alive_connection_idles_its_keep_alive_and_a_dribbled_next_head_its_header_timeout() {
    let args = ServeArgs { header_timeout_ms: Some(300), keep_alive_timeout_ms: Some(1500), ..ServeArgs::default() };
    let gateway = start(args).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: pixgate\r\n\r\n";
    let served = || async {
        let mut socket = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
        for _ in 0..3 {
            socket.write_all(request).await.unwrap();
            let mut reply = [0u8; 512];
            let read = socket.read(&mut reply).await.unwrap();
            assert!(reply[..read].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&reply[..read]));
        }
        socket
    };
    let closed_after = |mut socket: tokio::net::TcpStream| async move {
        let started = std::time::Instant::now();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut byte)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed: {read:?}");
        started.elapsed()
    };

    let idle = closed_after(served().await).await;
    assert!(idle >= Duration::from_millis(1200), "an idle connection lasts its keep-alive: {idle:?}");

    let mut dribbling = served().await;
    // Past the first header timeout, so the connection is well into its keep-alive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dribbling.write_all(b"GET /healthz HTTP/1.1\r\nHo").await.unwrap();
    let dribbled = closed_after(dribbling).await;
    assert!(dribbled < Duration::from_millis(900), "the head's timeout, not the keep-alive's: {dribbled:?}");
}

/// Small JSON bodies are read before the router (`server::kept`), larger ones by it:
/// either way a body that stops arriving is refused after the body timeout.
#[tokio::test]
async fn a_body_that_stops_arriving_is_refused_after_the_body_timeout() {
    let gateway = start(ServeArgs { body_timeout_ms: Some(400), ..ServeArgs::default() }).await;
    for declared in [60, 20_000] {
        let mut socket = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: pixgate\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{\"query\":"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        let started = std::time::Instant::now();
        let mut reply = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut reply)).await;
        assert!(read.is_ok(), "a {declared}-byte body still awaited after 5 s");
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 400"), "{declared}: {reply}");
        assert!(reply.contains("BAD_REQUEST"), "{reply}");
        assert!(started.elapsed() >= Duration::from_millis(350), "refused before its timeout: {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn connections_over_the_cap_per_address_are_closed_at_once() {
    let gateway = start(ServeArgs { max_connections_per_ip: Some(5), ..ServeArgs::default() }).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(tokio::net::TcpStream::connect(gateway.addr()).await.unwrap());
    }
    let mut sixth = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
    let _ = sixth.write_all(b"GET /healthz HTTP/1.1\r\nHost: pixgate\r\n\r\n").await;
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), sixth.read_to_end(&mut reply)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed without an answer: {read:?} {}",
        String::from_utf8_lossy(&reply)
    );
    drop(held);
    eventually("a place comes free", || async {
        answer(http().get(format!("http://{}/healthz", gateway.addr()))).await.0 == 200
    })
    .await;

    // A WebSocket keeps its place for as long as it is open, though it left HTTP.
    let gateway = start(ServeArgs { max_connections_per_ip: Some(3), ..ServeArgs::default() }).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let mut request = format!("ws://{}/graphql/ws", gateway.addr()).into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        sockets.push(tokio_tungstenite::connect_async(request).await.unwrap().0);
    }
    let mut fourth = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
    let _ = fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: pixgate\r\n\r\n").await;
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), fourth.read_to_end(&mut reply)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "three WebSockets hold the places: {read:?}");
}

async fn upgrade(gateway: &Running, origin: Option<&str>) -> Result<(), u16> {
    let mut request = format!("ws://{}/graphql/ws", gateway.addr()).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut socket, _)) => {
            let _ = socket.close(None).await;
            Ok(())
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(error) => panic!("{error}"),
    }
}

#[tokio::test]
async fn a_foreign_page_cannot_open_the_websocket() {
    let args = ServeArgs { cors_origins: Some(vec!["https://app.example.com".into()]), ..ServeArgs::default() };
    let gateway = start(args).await;
    assert_eq!(upgrade(&gateway, Some("https://evil.example")).await, Err(403));
    assert_eq!(upgrade(&gateway, Some("https://app.example.com")).await, Ok(()));
    assert_eq!(upgrade(&gateway, Some(&format!("http://{}", gateway.addr()))).await, Ok(()), "its own pages");
    assert_eq!(upgrade(&gateway, None).await, Ok(()), "servers and CLIs send no Origin");
}

#[tokio::test]
async fn a_silent_websocket_is_pinged_then_closed() {
    let args = ServeArgs { websocket_ping_ms: Some(100), websocket_idle_ms: Some(400), ..ServeArgs::default() };
    let gateway = start(args).await;
    let mut request = format!("ws://{}/graphql/ws", gateway.addr()).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    // Reading answers pings with pongs: a live client stays.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(700) {
        if let Ok(Some(Ok(Message::Ping(_)))) = tokio::time::timeout(Duration::from_millis(100), socket.next()).await {
            pings += 1;
        }
    }
    assert!(pings >= 3, "{pings} pings");
    // A client that stops reading (and so answering) is closed.
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The gateway sent its close (1001) and closed the socket: the pong the client
    // writes for the last ping may then find the pipe broken before the frame is read.
    let mut ended = false;
    while let Ok(next) = tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
        match next {
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame.map(|frame| u16::from(frame.code)), Some(1001));
                ended = true;
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended, "the silent connection was closed");
}

#[tokio::test]
async fn wrong_admin_tokens_are_limited_per_address() {
    let gateway = start(ServeArgs { admin_token: Some("admin-secret".into()), ..ServeArgs::default() }).await;
    let drop = |token: &'static str| {
        http()
            .post(format!("http://{}/admin/invalidate", gateway.addr()))
            .bearer_auth(token)
            .header("X-Pixieset-Cookie", pixgate_sandbox::PIXIESET_COOKIE)
            .json(&json!({}))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(drop("guess").await.unwrap().status(), 401);
    }
    let locked = drop("admin-secret").await.unwrap();
    assert_eq!(locked.status(), 429, "after ten wrong tokens even the right one waits");
    assert!(locked.headers().contains_key("retry-after"));
    let body: Value = locked.json().await.unwrap();
    assert_eq!(code(&body), "RATE_LIMITED");
}

#[tokio::test]
async fn the_subgraph_sdl_follows_the_introspection_switch_for_callers_without_a_token() {
    let upstream = crate::support::sandbox().await;
    let gateway = start(ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        federation: Some(true),
        introspection: Some(false),
        access_tokens: Some(vec!["router-token".into()]),
        ..ServeArgs::default()
    })
    .await;
    let sdl = json!({ "query": "{ _service { sdl } }" });
    let stranger = post(&gateway, sdl.clone()).await;
    assert_eq!(code(&stranger), "INTROSPECTION_DISABLED", "{stranger}");
    let router = http().post(format!("http://{}/graphql", gateway.addr())).bearer_auth("router-token").json(&sdl);
    let (_, router) = answer(router).await;
    assert!(router["data"]["_service"]["sdl"].as_str().is_some_and(|sdl| sdl.contains("type Client")), "{router}");
}

#[tokio::test]
async fn every_error_of_picking_an_operation_has_a_code() {
    let gateway = start(ServeArgs::default()).await;
    let two = "query A { __typename } query B { __typename }";
    let unnamed = post(&gateway, json!({ "query": two })).await;
    assert_eq!(code(&unnamed), "OPERATION_RESOLUTION_FAILURE", "{unnamed}");
    let unknown = post(&gateway, json!({ "query": two, "operationName": "C" })).await;
    assert_eq!(code(&unknown), "OPERATION_RESOLUTION_FAILURE", "{unknown}");
}

/// Every kind of error the gateway writes carries a code from `ErrorCode`: refusals over
/// HTTP, the parse, validation and limits, picking the operation, coercing variables,
/// resolvers and the upstream's failures.
#[tokio::test]
async fn every_kind_of_error_carries_a_code() {
    let gateway = start(ServeArgs { admin_token: Some("admin-secret".into()), ..ServeArgs::default() }).await;
    let url = format!("http://{}/graphql", gateway.addr());
    let mut answers: Vec<(&str, Value)> = Vec::new();
    let sent = |request: reqwest::RequestBuilder| async move { answer(request).await.1 };
    answers.push(("a form body", sent(http().post(&url).header("Content-Type", "text/plain").body("{}")).await));
    answers.push((
        "no acceptable type",
        sent(http().post(&url).header("Accept", "text/html").json(&json!({ "query": "{ __typename }" }))).await,
    ));
    answers.push(("not JSON", sent(http().post(&url).header("Content-Type", "application/json").body("{")).await));
    answers.push(("no query", sent(http().post(&url).json(&json!({ "qeury": "{ __typename }" }))).await));
    answers.push((
        "a mutation over GET",
        sent(http().get(format!("{url}?query=mutation%20%7B%20__typename%20%7D"))).await,
    ));
    answers.push((
        "an unknown persisted query",
        sent(
            http()
                .post(&url)
                .json(&json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "00" } } })),
        )
        .await,
    ));
    answers.push((
        "the admin route without its token",
        sent(http().post(format!("http://{}/admin/invalidate", gateway.addr())).json(&json!({}))).await,
    ));
    for (what, query, variables) in [
        ("a syntax error", "{", json!({})),
        ("an unknown field", "{ nope }", json!({})),
        (
            "a variable of the wrong type",
            "query($n: Int) { clients(first: $n) { totalCount } }",
            json!({ "n": "many" }),
        ),
        ("a missing variable", "query($id: ID!) { client(id: $id) { id } }", json!({})),
        ("an argument out of range", "{ clients(first: -3) { totalCount } }", json!({})),
        ("an invalid id", "{ client(id: \"nonsense\") { id } }", json!({})),
        ("an unknown id", "{ client(id: \"cl_ZZZ123DEF456GHI789JKL012MNO345\") { id } }", json!({})),
        ("an unknown operation", "query A { __typename }", json!({})),
        ("a cycle", "{ ...A } fragment A on Query { ...A }", json!({})),
    ] {
        let mut body = json!({ "query": query, "variables": variables });
        if what == "an unknown operation" {
            body["operationName"] = json!("B");
        }
        answers.push((what, post(&gateway, body).await));
    }
    let unauthenticated = http()
        .post(&url)
        .header("X-Pixieset-Cookie", "")
        .header("X-Pixelz-Api-Key", "wrong")
        .header("X-Pixelz-Email", "x@y.test");
    answers.push((
        "refused credentials",
        sent(unauthenticated.json(&json!({ "query": "{ pixelzAccount { email } }" }))).await,
    ));
    for (what, body) in &answers {
        let errors = body["errors"].as_array().unwrap_or_else(|| panic!("{what}: an error: {body}"));
        assert!(!errors.is_empty(), "{what}: {body}");
        for error in errors {
            let code = error["extensions"]["code"].as_str().unwrap_or_else(|| panic!("{what}: no code: {error}"));
            assert!(
                pixgate::error_code::ErrorCode::ALL.iter().any(|known| known.as_str() == code),
                "{what}: {code} is not one of pixgate's codes"
            );
        }
    }
}

/// With Redis the charge is the fleet's: the tenant's bucket there goes into debt for
/// the calls already made, and every instance sees it.
#[tokio::test]
async fn the_fleet_bucket_is_charged_for_upstream_calls() {
    use pixgate_sandbox::PIXIESET_OTHER_COOKIE;
    // A tenant of its own, so no other test's requests share its bucket in this Redis.
    use pixgate::secret::Secret;
    use pixgate::upstream::{PixelzCredentials, PixiesetCredentials};
    let studio = PixiesetCredentials::new(Secret::new(PIXIESET_OTHER_COOKIE));
    let pixelz =
        PixelzCredentials::new(pixgate_sandbox::PIXELZ_CONTACT_EMAIL, Secret::new(pixgate_sandbox::PIXELZ_API_KEY));
    // Whoever acts with both sets of credentials at once, as the session names them.
    let tenant = studio.tenant().joined(pixelz.tenant());
    let redis = redis::Client::open(crate::instances::REDIS).unwrap();
    let mut connection = redis.get_multiplexed_async_connection().await.unwrap();
    let key = format!("pixgate:rate:tenant:{tenant}");
    let _: () = redis::AsyncCommands::del(&mut connection, &key).await.unwrap();
    let args = ServeArgs { redis_url: Some(crate::instances::REDIS.into()), ..three_calls_a_burst_of_twelve() };
    let gateway = start(args).await;
    let query =
        json!({ "query": "{ clients(first: 10) { edges { node { id invoices(first: 1) { totalCount } } } } }" });
    let send = || {
        http()
            .post(format!("http://{}/graphql", gateway.addr()))
            .header("X-Pixieset-Cookie", PIXIESET_OTHER_COOKIE)
            .json(&query)
            .send()
    };
    let metrics = format!("http://{}/metrics", gateway.addr());
    eventually("the instance hears Redis", || async {
        let text = http().get(&metrics).send().await.unwrap().text().await.unwrap();
        text.contains("pixgate_redis_link_up{channel=\"pixgate:image-status\"} 1")
    })
    .await;
    assert_eq!(send().await.unwrap().status(), 200);
    let mut admitted = 0;
    for _ in 0..12 {
        if send().await.unwrap().status() == 429 {
            break;
        }
        admitted += 1;
    }
    assert!(admitted <= 4, "{admitted} more operations of 3 calls each were admitted from a burst of 12");
    let debt: i64 = redis::AsyncCommands::pttl(&mut connection, &key).await.unwrap();
    assert!(debt > 5_000, "the bucket is in debt for seconds: {debt} ms");
}
