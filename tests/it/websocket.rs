//! `/graphql/ws` as a protocol: subscriptions shared between subscribers alike
//! (and never between tenants), latecomers starting from the current state,
//! queries and mutations over the socket, and the close codes of
//! `graphql-transport-ws` for clients that break it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox as sandbox;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::gateway::gateway;
use crate::live::{assert_every_status, next_json, submit, subscription, websocket};
use crate::support::{eventually, http};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::Text(message.to_string().into())).await.unwrap();
}

async fn initialised(gateway: &Running, protocol: &str, payload: Value) -> Socket {
    let mut socket = websocket(gateway, protocol).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": payload })).await;
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    socket
}

/// The close frame the gateway ends the connection with.
async fn closed_with(socket: &mut Socket) -> (u16, String) {
    loop {
        // Longer than the gateway's 10 s allowance for `connection_init`.
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next()).await.expect("closed in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.into(), frame.reason.to_string()),
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => panic!("dropped, not closed: {error}"),
        }
    }
}

/// Status ids until `complete`, from `next` (or the older protocol's `data`) messages for `id`.
async fn statuses_until_complete(socket: &mut Socket, id: &str, seen: &mut Vec<i64>) {
    loop {
        let message = next_json(socket).await;
        assert_eq!(message["id"], id, "{message}");
        match message["type"].as_str().unwrap() {
            "next" | "data" => seen.push(
                message["payload"]["data"]["pixelzImageStatusChanged"]["statusId"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{message}")),
            ),
            "complete" => return,
            other => panic!("{other}: {message}"),
        }
    }
}

#[tokio::test]
async fn subscribers_alike_share_one_execution_and_latecomers_start_from_the_current_state() {
    let gateway =
        gateway(ServeArgs { sandbox_step_ms: Some(150), poll_interval_ms: Some(20), ..ServeArgs::default() }).await;
    let ticket = submit(&gateway, "shared-sub").await;
    let query = json!({ "query": subscription(&ticket) });

    let mut first = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    send(&mut first, json!({ "id": "a", "type": "subscribe", "payload": query })).await;
    let mut first_seen = Vec::new();
    while first_seen.last().is_none_or(|status| *status < 60) {
        let message = next_json(&mut first).await;
        first_seen.push(message["payload"]["data"]["pixelzImageStatusChanged"]["statusId"].as_i64().unwrap());
    }

    // The same operation, the same tenant (its credentials sent rather than defaulted), the older protocol.
    let credentials = json!({ "pixelzEmail": sandbox::PIXELZ_CONTACT_EMAIL, "pixelzApiKey": sandbox::PIXELZ_API_KEY });
    let mut later = initialised(&gateway, "graphql-ws", credentials).await;
    send(&mut later, json!({ "id": "b", "type": "start", "payload": query })).await;
    let mut later_seen = Vec::new();
    let at_join = *first_seen.last().unwrap();
    // Another tenant with the same operation never joins that execution: its key is refused.
    let stranger = json!({ "pixelzEmail": sandbox::PIXELZ_CONTACT_EMAIL, "pixelzApiKey": "not-the-key" });
    let mut stranger = initialised(&gateway, "graphql-transport-ws", stranger).await;
    send(&mut stranger, json!({ "id": "c", "type": "subscribe", "payload": query })).await;
    let refused = next_json(&mut stranger).await;
    assert_eq!(refused["type"], "next", "{refused}");
    assert!(refused["payload"]["data"].is_null(), "no other tenant's image: {refused}");
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
    assert_eq!(next_json(&mut stranger).await, json!({ "type": "complete", "id": "c" }));

    // Over SSE too: the same execution, starting from the current state.
    let mut sse = http()
        .post(format!("http://{}/graphql/sse", gateway.addr()))
        .header("Accept", "text/event-stream")
        .json(&query)
        .send()
        .await
        .unwrap();
    let mut first_event = String::new();
    while !first_event.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), sse.chunk()).await.expect("in time").unwrap();
        first_event.push_str(std::str::from_utf8(&chunk.expect("an event")).unwrap());
    }
    assert!(first_event.starts_with("event: next\n"), "{first_event}");
    let data = first_event.lines().find_map(|line| line.strip_prefix("data:")).expect("a data line");
    let status = serde_json::from_str::<Value>(data.trim()).unwrap()["data"]["pixelzImageStatusChanged"]["statusId"]
        .as_i64()
        .unwrap_or_else(|| panic!("{first_event}"));
    assert!(status >= at_join, "the SSE latecomer starts from the current state too: {status} (joined at {at_join})");

    assert_eq!(gateway.subscription_executions(), 1, "one execution serves every subscriber alike");
    drop(sse);
    statuses_until_complete(&mut first, "a", &mut first_seen).await;
    statuses_until_complete(&mut later, "b", &mut later_seen).await;
    assert_every_status(&first_seen);
    assert!(
        later_seen[0] >= at_join,
        "the latecomer starts from the current state: {later_seen:?} (joined at {at_join})"
    );
    assert!(later_seen.windows(2).all(|w| w[0] < w[1]) && later_seen.last() == Some(&80), "{later_seen:?}");
    assert!(
        first_seen.ends_with(&later_seen[1..]),
        "after its first state the latecomer sees what everyone sees: {later_seen:?} vs {first_seen:?}"
    );
    eventually("the finished execution is gone", || async { gateway.subscription_executions() == 0 }).await;
}

/// Submits an image to `product`; its ticket.
async fn submit_to_product(gateway: &Running, customer_image_id: &str, product: &str) -> String {
    let mutation = format!(
        "mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/{customer_image_id}.jpg\"], \
         customerImageId: \"{customer_image_id}\", productId: \"{product}\" }}) {{ ticket }} }}"
    );
    let body = crate::gateway::graphql(gateway, &mutation, &[]).await;
    body["data"]["submitPixelzImage"]["ticket"].as_str().unwrap_or_else(|| panic!("{body}")).to_lowercase()
}

/// The tickets of the first `count` states a subscription sends.
async fn first_tickets(socket: &mut Socket, count: usize) -> std::collections::BTreeSet<String> {
    let mut tickets = std::collections::BTreeSet::new();
    for _ in 0..count {
        let message = next_json(socket).await;
        let ticket = message["payload"]["data"]["pixelzImageStatusChanged"]["ticket"].as_str();
        tickets.insert(ticket.unwrap_or_else(|| panic!("{message}")).to_lowercase());
    }
    tickets
}

#[tokio::test]
async fn a_product_subscriber_gets_the_products_images_as_of_their_own_subscribing() {
    // Images stay in their first state: only first states are sent.
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(60_000), ..ServeArgs::default() }).await;
    let product = "latecomers-2027";
    let query = format!("subscription {{ pixelzImageStatusChanged(productId: \"{product}\") {{ ticket statusId }} }}");
    let subscribe = json!({ "id": "p", "type": "subscribe", "payload": { "query": query } });
    let early_image = submit_to_product(&gateway, "product-early", product).await;
    let mut early = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    send(&mut early, subscribe.clone()).await;
    assert_eq!(first_tickets(&mut early, 1).await, [early_image.clone()].into());

    let late_image = submit_to_product(&gateway, "product-late", product).await;
    let mut late = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    send(&mut late, subscribe.clone()).await;
    assert_eq!(first_tickets(&mut late, 2).await, [early_image, late_image].into(), "not the first one's images");
    assert_eq!(gateway.subscription_executions(), 2, "the latecomer runs its own");
    // An execution that took in no latecomer still ends when its last member leaves.
    drop(early);
    eventually("the first execution ends", || async { gateway.subscription_executions() == 1 }).await;
    drop(late);
    eventually("the second one too", || async { gateway.subscription_executions() == 0 }).await;
}

#[tokio::test]
async fn completing_a_subscription_stops_its_execution_and_frees_its_id() {
    let gateway =
        gateway(ServeArgs { sandbox_step_ms: Some(60_000), poll_interval_ms: Some(20), ..ServeArgs::default() }).await;
    let ticket = submit(&gateway, "completed-early").await;
    let mut socket = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": subscription(&ticket) } });
    send(&mut socket, subscribe.clone()).await;
    assert_eq!(next_json(&mut socket).await["type"], "next");
    assert_eq!(gateway.subscription_executions(), 1);
    send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
    eventually("the abandoned execution stops", || async { gateway.subscription_executions() == 0 }).await;
    eventually("nothing left to poll", || async { gateway.hub().to_poll().is_empty() }).await;
    // The id is free again, and the new subscription starts from the current state.
    send(&mut socket, subscribe).await;
    let again = next_json(&mut socket).await;
    assert_eq!((again["type"].as_str(), again["id"].as_str()), (Some("next"), Some("1")), "{again}");
}

/// A connection passes its socket by on the first look after it delivered what was queued
/// for it (its read is still waiting); what the client sends then must still be read when
/// it arrives, with nothing else to wake the connection. A query's `complete` is queued.
#[tokio::test]
async fn a_message_sent_right_after_a_queued_delivery_is_answered() {
    let gateway = gateway(ServeArgs::default()).await;
    let mut socket = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    for round in 0..3 {
        let id = format!("q{round}");
        send(&mut socket, json!({ "id": id, "type": "subscribe", "payload": { "query": "{ __typename }" } })).await;
        assert_eq!(next_json(&mut socket).await["type"], "next");
        assert_eq!(next_json(&mut socket).await["type"], "complete");
        send(&mut socket, json!({ "type": "ping", "payload": { "round": round } })).await;
        let pong = tokio::time::timeout(Duration::from_secs(5), next_json(&mut socket))
            .await
            .unwrap_or_else(|_| panic!("no pong to ping {round}: the socket was not read after a delivery"));
        assert_eq!(pong["type"], "pong", "{pong}");
    }
}

#[tokio::test]
async fn queries_and_mutations_answer_once_then_complete() {
    let gateway = gateway(ServeArgs::default()).await;
    let mut socket = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    let query = "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { email } }";
    send(&mut socket, json!({ "id": "q", "type": "subscribe", "payload": { "query": query } })).await;
    let answer = next_json(&mut socket).await;
    assert_eq!(answer["type"], "next");
    assert!(answer["payload"]["data"]["client"]["email"].is_string(), "{answer}");
    assert_eq!(next_json(&mut socket).await, json!({ "type": "complete", "id": "q" }));

    let mutation =
        "mutation { createClient(input: { email: \"ws@example.com\", firstName: \"W\" }) { client { email } } }";
    let mut legacy = initialised(&gateway, "graphql-ws", json!({})).await;
    send(&mut legacy, json!({ "id": "m", "type": "start", "payload": { "query": mutation } })).await;
    let answer = next_json(&mut legacy).await;
    assert_eq!(answer["type"], "data");
    assert_eq!(answer["payload"]["data"]["createClient"]["client"]["email"], "ws@example.com", "{answer}");
    assert_eq!(next_json(&mut legacy).await, json!({ "type": "complete", "id": "m" }));

    // A document that does not parse is answered with its error, not a dropped connection.
    send(&mut socket, json!({ "id": "bad", "type": "subscribe", "payload": { "query": "subscription {" } })).await;
    let answer = next_json(&mut socket).await;
    assert!(answer["payload"]["errors"][0]["message"].is_string(), "{answer}");
    assert_eq!(next_json(&mut socket).await, json!({ "type": "complete", "id": "bad" }));
}

#[tokio::test]
async fn clients_that_break_the_protocol_are_closed_with_its_codes() {
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(60_000), ..ServeArgs::default() }).await;
    let ticket = submit(&gateway, "protocol-breaker").await;
    let subscribe = |id: &str| json!({ "id": id, "type": "subscribe", "payload": { "query": subscription(&ticket) } });

    let mut early = websocket(&gateway, "graphql-transport-ws").await;
    send(&mut early, subscribe("1")).await;
    assert_eq!(closed_with(&mut early).await, (4401, "Unauthorized".into()));

    let mut twice = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    send(&mut twice, json!({ "type": "connection_init" })).await;
    assert_eq!(closed_with(&mut twice).await, (4429, "Too many initialisation requests".into()));

    let mut garbled = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    garbled.send(Message::Text("{\"type\":\"subscribe\"".into())).await.unwrap();
    assert_eq!(closed_with(&mut garbled).await.0, 4400);

    let mut duplicate = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    send(&mut duplicate, subscribe("same")).await;
    send(&mut duplicate, subscribe("same")).await;
    assert_eq!(closed_with(&mut duplicate).await, (4409, "Subscriber for same already exists".into()));

    let mut pinging = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    send(&mut pinging, json!({ "type": "ping", "payload": { "at": 1 } })).await;
    assert_eq!(next_json(&mut pinging).await, json!({ "type": "pong" }));

    // No GraphQL protocol offered: no upgrade.
    let no_protocol = http()
        .get(format!("http://{}/graphql/ws", gateway.addr()))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(no_protocol.status(), 400);
    let body: Value = no_protocol.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}");
}

/// The clock is paused and jumps to the next timer whenever every task waits, so
/// the gateway's own 10 s allowance passes at once.
#[tokio::test(start_paused = true)]
async fn a_connection_that_never_initialises_is_closed_with_4408() {
    let gateway = gateway(ServeArgs::default()).await;
    let mut silent = websocket(&gateway, "graphql-transport-ws").await;
    let opened = tokio::time::Instant::now();
    assert_eq!(closed_with(&mut silent).await, (4408, "Connection initialisation timeout".into()));
    assert!(opened.elapsed() >= Duration::from_secs(9), "{:?}", opened.elapsed());
}

#[tokio::test]
async fn one_connection_runs_a_bounded_number_of_operations() {
    // Unlimited rates: the bound here is the connection's, not the tenant's bucket.
    let gateway = gateway(ServeArgs {
        sandbox_step_ms: Some(60_000),
        rate_limit_ip: Some(0),
        rate_limit_tenant: Some(0),
        ..ServeArgs::default()
    })
    .await;
    let ticket = submit(&gateway, "many-operations").await;
    let mut socket = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    let limit = 100;
    for n in 0..=limit {
        let subscribe =
            json!({ "id": n.to_string(), "type": "subscribe", "payload": { "query": subscription(&ticket) } });
        send(&mut socket, subscribe).await;
    }
    let mut first_states = 0;
    let refusal = loop {
        let message = next_json(&mut socket).await;
        match message["type"].as_str() {
            Some("next") => first_states += 1,
            _ => break message,
        }
    };
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(refusal["id"], limit.to_string());
    assert_eq!(refusal["payload"][0]["extensions"]["code"], "TOO_MANY_OPERATIONS", "{refusal}");
    assert_eq!(gateway.subscription_executions(), 1, "a hundred alike subscriptions, one execution");
    while first_states < limit {
        assert_eq!(next_json(&mut socket).await["type"], "next");
        first_states += 1;
    }
}

#[tokio::test]
async fn each_operation_draws_on_the_callers_rate_limits() {
    let gateway = gateway(ServeArgs {
        rate_limit_ip: Some(0),
        rate_limit_tenant: Some(1),
        rate_limit_tenant_burst: Some(3),
        ..ServeArgs::default()
    })
    .await;
    let query = "{ pixelzAccount { email } }";
    // The sandbox's credentials are the defaults, so each upgrade request draws on
    // the same tenant's bucket as the operations: two upgrades and one operation empty it.
    let mut socket = initialised(&gateway, "graphql-transport-ws", json!({})).await;
    let mut legacy = initialised(&gateway, "graphql-ws", json!({})).await;
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })).await;
    assert_eq!(next_json(&mut socket).await["type"], "next");
    assert_eq!(next_json(&mut socket).await, json!({ "type": "complete", "id": "1" }));

    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    send(&mut legacy, json!({ "id": "2", "type": "start", "payload": { "query": query } })).await;
    let refusal = next_json(&mut legacy).await;
    assert_eq!((refusal["type"].as_str(), refusal["id"].as_str()), (Some("error"), Some("2")), "{refusal}");
    assert_eq!(refusal["payload"]["extensions"]["code"], "RATE_LIMITED", "{refusal}");
    send(&mut socket, json!({ "id": "3", "type": "subscribe", "payload": { "query": query } })).await;
    let refusal = next_json(&mut socket).await;
    assert_eq!((refusal["type"].as_str(), refusal["id"].as_str()), (Some("error"), Some("3")), "{refusal}");
    assert_eq!(refusal["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{refusal}");
    let retry_after = refusal["payload"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=2).contains(&retry_after), "whole seconds, rounded up: {refusal}");
    assert_eq!(sandbox.requests().total, 0, "refused before any upstream call");

    // The connection lives on: once the bucket refills, the next operation runs.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    send(&mut socket, json!({ "id": "4", "type": "subscribe", "payload": { "query": query } })).await;
    assert_eq!(next_json(&mut socket).await["type"], "next");
}
