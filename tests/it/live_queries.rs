//! `@live` queries: a result, then a new one when what it read changes, through
//! a write here or on another instance, an image's progress, or nothing at all
//! (then nothing is sent); identical ones share their runs; limits hold.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::{self as sandbox, documented};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::gateway::{gateway, graphql};
use crate::instances::{REDIS, redis_available};
use crate::live::{next_event, next_json, websocket};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const CLIENT_WITH_INVOICES: &str = "query ClientWithInvoices @live { client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") \
     { lastName invoices(first: 50) { totalCount edges { node { id } } } } }";

fn cookie() -> [(&'static str, &'static str); 1] {
    [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)]
}

/// A `graphql-transport-ws` connection acting with the sandbox's credentials.
async fn connected(gateway: &Running) -> Socket {
    let mut socket = websocket(gateway, "graphql-transport-ws").await;
    let init = json!({ "type": "connection_init", "payload": {
        "pixiesetCookie": sandbox::PIXIESET_COOKIE,
        "pixelzEmail": sandbox::PIXELZ_CONTACT_EMAIL,
        "pixelzApiKey": sandbox::PIXELZ_API_KEY,
    } });
    socket.send(Message::Text(init.to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    let subscribe = json!({ "id": id, "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
}

/// The next `next` message's payload, asserting it is a live query's result.
async fn next_result(socket: &mut Socket) -> Value {
    let message = next_json(socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["payload"]["extensions"]["isLive"], true, "{message}");
    message["payload"].clone()
}

/// Nothing arrives on `socket` for `quiet`.
async fn nothing_for(socket: &mut Socket, quiet: Duration) {
    let arrived = tokio::time::timeout(quiet, socket.next()).await;
    assert!(arrived.is_err(), "nothing was to be sent: {arrived:?}");
}

/// The live query of a client with its invoices, over SSE in the distinct-connections mode.
async fn over_sse(gateway: &Running) -> reqwest::Response {
    let sse = crate::support::http()
        .post(format!("http://{}/graphql/sse", gateway.addr()))
        .header("Accept", "text/event-stream")
        .header("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)
        .json(&json!({ "query": CLIENT_WITH_INVOICES }))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    sse
}

async fn update_last_name(gateway: &Running, last_name: &str) {
    let update = format!(
        "mutation {{ updateClient(input: {{ id: \"{}\", lastName: \"{last_name}\" }}) {{ client {{ lastName }} }} }}",
        documented::CLIENT_ID
    );
    let updated = graphql(gateway, &update, &cookie()).await;
    assert_eq!(updated["data"]["updateClient"]["client"]["lastName"], last_name, "{updated}");
}

fn unlimited(args: ServeArgs) -> ServeArgs {
    ServeArgs { rate_limit_ip: Some(0), rate_limit_tenant: Some(0), ..args }
}

/// The first promise: a write through B reaches a live query on A within a second.
#[tokio::test]
async fn a_write_through_one_instance_reaches_a_live_query_on_another_within_a_second() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let instance = || {
        gateway(unlimited(ServeArgs {
            pixieset_base_url: Some(upstream.pixieset_base_url()),
            pixelz_base_url: Some(upstream.pixelz_base_url()),
            redis_url: Some(REDIS.into()),
            ..ServeArgs::default()
        }))
    };
    let (a, b) = (instance().await, instance().await);
    for instance in [&a, &b] {
        crate::support::eventually("each instance hears the others", || async { instance.cache().hears_fleet() }).await;
    }
    let mut socket = connected(&a).await;
    subscribe(&mut socket, "dashboard", CLIENT_WITH_INVOICES).await;
    let first = next_result(&mut socket).await;
    let before = first["data"]["client"]["invoices"]["totalCount"].as_i64().unwrap_or_else(|| panic!("{first}"));

    let create = format!(
        "mutation {{ createInvoice(input: {{ clientId: \"{}\", dueDate: \"2027-01-31\", lineItems: [{{ name: \"Album\", \
         unitAmount: 8990, quantity: 1 }}] }}) {{ invoice {{ id }} userErrors {{ message }} }} }}",
        documented::CLIENT_ID
    );
    let created = graphql(&b, &create, &cookie()).await;
    let id = created["data"]["createInvoice"]["invoice"]["id"].as_str().unwrap_or_else(|| panic!("{created}"));
    let written = std::time::Instant::now();
    let next = tokio::time::timeout(Duration::from_secs(1), next_result(&mut socket)).await.expect("within a second");
    eprintln!("the write on B reached the live query on A in {:?}", written.elapsed());
    let invoices = &next["data"]["client"]["invoices"];
    assert_eq!(invoices["totalCount"].as_i64(), Some(before + 1), "{next}");
    assert!(invoices["edges"].as_array().unwrap().iter().any(|edge| edge["node"]["id"] == id), "{next}");
}

/// The sandbox moves an image through its statuses; a live query reading it shows each
/// status it finds as its cached state expires and is read again, and never one twice.
#[tokio::test]
async fn an_images_status_arrives_through_a_live_query_as_the_sandbox_processes_it() {
    let gateway = gateway(unlimited(ServeArgs {
        sandbox_step_ms: Some(700),
        cache_image_status_secs: Some(1),
        ..ServeArgs::default()
    }))
    .await;
    let ticket = crate::live::submit(&gateway, "live-query").await;
    let mut socket = connected(&gateway).await;
    let query = format!("query Image @live {{ pixelzImage(ticket: \"{ticket}\") {{ statusId }} }}");
    subscribe(&mut socket, "image", &query).await;
    let mut seen: Vec<i64> = Vec::new();
    while seen.last() != Some(&80) {
        let result = tokio::time::timeout(Duration::from_secs(10), next_result(&mut socket)).await.expect("progress");
        seen.push(result["data"]["pixelzImage"]["statusId"].as_i64().unwrap_or_else(|| panic!("{result}")));
    }
    assert!(seen.len() >= 3, "several statuses on the way to delivered: {seen:?}");
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "each result a new status: {seen:?}");
    nothing_for(&mut socket, Duration::from_millis(1500)).await;
}

/// A change that touches what the query read but leaves its result as it was runs the
/// query again and sends nothing; a change that alters the result sends it.
#[tokio::test]
async fn a_result_that_did_not_change_is_not_sent() {
    let gateway = gateway(unlimited(ServeArgs::default())).await;
    let mut socket = connected(&gateway).await;
    subscribe(&mut socket, "client", CLIENT_WITH_INVOICES).await;
    let first = next_result(&mut socket).await;
    let unchanged = first["data"]["client"]["lastName"].as_str().unwrap().to_string();
    let runs = gateway.live_query_runs();

    update_last_name(&gateway, &unchanged).await;
    crate::support::eventually("the query ran again", || async { gateway.live_query_runs() > runs }).await;
    nothing_for(&mut socket, Duration::from_millis(500)).await;

    update_last_name(&gateway, "Live").await;
    let changed = next_result(&mut socket).await;
    assert_eq!(changed["data"]["client"]["lastName"], "Live");
}

/// 1,000 subscribers to one live query of one tenant cost one run per change, not 1,000.
#[tokio::test]
async fn a_thousand_identical_live_queries_cost_one_run_per_change() {
    let gateway = gateway(unlimited(ServeArgs::default())).await;
    let per_connection = pixgate::config::LiveQueryLimits::default().per_connection;
    let mut sockets = Vec::new();
    for _ in 0..1000 / per_connection {
        let mut socket = connected(&gateway).await;
        for n in 0..per_connection {
            subscribe(&mut socket, &n.to_string(), CLIENT_WITH_INVOICES).await;
        }
        sockets.push(socket);
    }
    let first = last_names_everywhere(&mut sockets, per_connection).await;
    assert_eq!(first.len(), 1000);
    assert!(first.iter().all(|last_name| *last_name == first[0]), "one answer for all");
    assert_eq!(gateway.live_query_runs(), 1, "one first run for 1,000 subscribers");

    update_last_name(&gateway, "Shared").await;
    let changed = last_names_everywhere(&mut sockets, per_connection).await;
    assert!(changed.iter().all(|last_name| *last_name == "Shared"), "every subscriber saw the change");
    assert_eq!(gateway.live_query_runs(), 2, "one run for the change, for all 1,000");
}

/// The next `per_socket` results of every socket, by the client's last name they show.
async fn last_names_everywhere(sockets: &mut [Socket], per_socket: usize) -> Vec<Value> {
    let received = futures_util::future::join_all(sockets.iter_mut().map(|socket| async move {
        let mut results = Vec::new();
        for _ in 0..per_socket {
            results.push(next_result(socket).await["data"]["client"]["lastName"].clone());
        }
        results
    }))
    .await;
    received.concat()
}

/// Different live queries count against the tenant; each connection holds a bounded number.
#[tokio::test]
async fn live_queries_past_a_limit_are_refused_and_counted() {
    let gateway = gateway(unlimited(ServeArgs {
        live_queries_per_connection: Some(2),
        live_queries_per_tenant: Some(3),
        ..ServeArgs::default()
    }))
    .await;
    let typename = |n: usize| format!("query Q{n} @live {{ t{n}: __typename }}");
    let mut one = connected(&gateway).await;
    subscribe(&mut one, "a", &typename(1)).await;
    subscribe(&mut one, "b", &typename(2)).await;
    next_result(&mut one).await;
    next_result(&mut one).await;
    subscribe(&mut one, "c", &typename(1)).await;
    let refused = next_json(&mut one).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "TOO_MANY_OPERATIONS", "{refused}");
    assert!(refused["payload"][0]["message"].as_str().unwrap().contains("PIXGATE_LIVE_QUERIES_PER_CONNECTION"));

    let mut other = connected(&gateway).await;
    subscribe(&mut other, "same", &typename(1)).await;
    next_result(&mut other).await;
    subscribe(&mut other, "third", &typename(3)).await;
    next_result(&mut other).await;
    let mut third = connected(&gateway).await;
    subscribe(&mut third, "fourth", &typename(4)).await;
    let refused = next_json(&mut third).await;
    assert_eq!(refused["payload"][0]["extensions"]["code"], "TOO_MANY_OPERATIONS", "{refused}");
    assert!(refused["payload"][0]["message"].as_str().unwrap().contains("PIXGATE_LIVE_QUERIES_PER_TENANT"));

    let throttled = "query Fast @live(throttle: 1) { __typename }";
    subscribe(&mut third, "fast", throttled).await;
    let refused = next_json(&mut third).await;
    assert_eq!(refused["payload"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");

    // Leaving makes room: the tenant's count follows the queries that run.
    drop(one);
    crate::support::eventually("room for another", || async {
        let mut socket = connected(&gateway).await;
        subscribe(&mut socket, "later", &typename(5)).await;
        next_json(&mut socket).await["type"] == "next"
    })
    .await;
    let metrics = crate::support::http().get(format!("http://{}/metrics", gateway.addr())).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for series in ["pixgate_live_queries_refused_total{limit=\"tenant\"}", "pixgate_live_queries_open"] {
        assert!(metrics.contains(series), "{series} in /metrics");
    }
}

/// Over SSE and the older graphql-ws protocol alike; over plain HTTP a live query is answered once.
#[tokio::test]
async fn every_streaming_transport_keeps_a_live_query_and_http_answers_it_once() {
    let gateway = gateway(unlimited(ServeArgs::default())).await;
    let mut sse = over_sse(&gateway).await;
    let mut legacy = websocket(&gateway, "graphql-ws").await;
    let init = json!({ "type": "connection_init", "payload": { "pixiesetCookie": sandbox::PIXIESET_COOKIE } });
    legacy.send(Message::Text(init.to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut legacy).await["type"], "connection_ack");
    let start = json!({ "id": "1", "type": "start", "payload": { "query": CLIENT_WITH_INVOICES } });
    legacy.send(Message::Text(start.to_string().into())).await.unwrap();
    let data = next_json(&mut legacy).await;
    assert_eq!(data["type"], "data", "{data}");

    let mut buffer = String::new();
    assert_eq!(next_event(&mut sse, &mut buffer).await.0, "next");
    update_last_name(&gateway, "Everywhere").await;
    let (kind, changed) = next_event(&mut sse, &mut buffer).await;
    assert_eq!(kind, "next");
    assert_eq!(changed["data"]["client"]["lastName"], "Everywhere", "{changed}");
    assert_eq!(changed["extensions"]["isLive"], true, "{changed}");
    let data = next_json(&mut legacy).await;
    assert_eq!(data["payload"]["data"]["client"]["lastName"], "Everywhere", "{data}");

    let once = graphql(&gateway, CLIENT_WITH_INVOICES, &cookie()).await;
    assert_eq!(once["data"]["client"]["lastName"], "Everywhere");
    assert!(once.get("extensions").is_none_or(|extensions| extensions.get("isLive").is_none()), "{once}");
}

/// A live query over SSE never completes: a stopping gateway ends its stream, without
/// `complete` so that the client connects again elsewhere, instead of waiting on it.
#[tokio::test]
async fn a_stopping_gateway_ends_its_live_query_streams() {
    let gateway = gateway(unlimited(ServeArgs::default())).await;
    let mut sse = over_sse(&gateway).await;
    let mut text = String::new();
    assert_eq!(next_event(&mut sse, &mut text).await.0, "next");
    let stopping = tokio::spawn(gateway.shutdown());
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sse.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None) | Err(_)) => break,
            Err(_) => panic!("the stream stayed open while the gateway stopped"),
        }
    }
    assert!(!text.contains("event: complete"), "{text}");
    let stopped = tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("the gateway stops");
    stopped.unwrap().unwrap();
}
