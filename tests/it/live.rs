//! Live image status end to end: a submission on the sandbox, followed through
//! every status to delivered over each transport, with the sandbox calling the
//! gateway's webhook; forged and repeated webhooks; the poller's call bound.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pixgate::cli::ServeArgs;
use pixgate::events::poller::Poller;
use pixgate::startup::Running;
use pixgate_sandbox::{self as sandbox, documented};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::gateway::{gateway, graphql};
use crate::support::{eventually, http};

const EVERY_STEP: [i64; 8] = [10, 30, 60, 62, 64, 66, 70, 80];

/// A gateway whose sandbox moves an image one status every 80 ms and whose poller looks every 15 ms.
async fn live_gateway() -> Running {
    gateway(ServeArgs { sandbox_step_ms: Some(80), poll_interval_ms: Some(15), ..ServeArgs::default() }).await
}

pub async fn submit(gateway: &Running, customer_image_id: &str) -> String {
    let body = graphql(
        gateway,
        &format!("mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/{customer_image_id}.jpg\"], customerImageId: \"{customer_image_id}\" }}) {{ ticket userErrors {{ message }} }} }}"),
        &[],
    )
    .await;
    body["data"]["submitPixelzImage"]["ticket"].as_str().unwrap_or_else(|| panic!("{body}")).to_string()
}

pub fn subscription(ticket: &str) -> String {
    format!("subscription {{ pixelzImageStatusChanged(tickets: [\"{ticket}\"]) {{ ticket statusId status }} }}")
}

/// Every status from the first one seen through delivered, in order, none skipped.
pub fn assert_every_status(seen: &[i64]) {
    let first = EVERY_STEP.iter().position(|s| *s == seen[0]).unwrap_or_else(|| panic!("{seen:?}"));
    assert!(first <= 1, "the first state is the current one: {seen:?}");
    assert_eq!(seen, &EVERY_STEP[first..], "every status through to delivered");
}

pub async fn websocket(
    gateway: &Running,
    protocol: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = format!("ws://{}/graphql/ws", gateway.addr()).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

/// A `graphql-transport-ws` connection, initialised with the gateway's default credentials and subscribed to `ticket`.
pub async fn subscribed(
    gateway: &Running,
    ticket: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut socket = websocket(gateway, "graphql-transport-ws").await;
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": subscription(ticket) } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    socket
}

pub async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message in time")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn graphql_transport_ws_follows_an_image_to_delivered() {
    let gateway = live_gateway().await;
    let ticket = submit(&gateway, "ws-new").await;
    let mut socket = websocket(&gateway, "graphql-transport-ws").await;
    let init = json!({ "type": "connection_init", "payload": { "pixelzEmail": sandbox::PIXELZ_CONTACT_EMAIL, "pixelzApiKey": sandbox::PIXELZ_API_KEY } });
    socket.send(Message::Text(init.to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": subscription(&ticket) } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let message = next_json(&mut socket).await;
        match message["type"].as_str().unwrap() {
            "next" => seen.push(
                message["payload"]["data"]["pixelzImageStatusChanged"]["statusId"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{message}")),
            ),
            "complete" => break,
            other => panic!("{other}: {message}"),
        }
    }
    assert_every_status(&seen);
    // The sandbox called the gateway's webhook, which verified the signature and answered 200.
    let deliveries = gateway.sandbox().unwrap().webhook_deliveries();
    let ours: Vec<_> = deliveries.iter().filter(|d| d.ticket == ticket).collect();
    assert_eq!(ours.iter().map(|d| d.status).collect::<Vec<_>>(), [Some(200)], "{ours:?}");
}

#[tokio::test]
async fn legacy_graphql_ws_follows_an_image_to_delivered() {
    let gateway = live_gateway().await;
    let ticket = submit(&gateway, "legacy-ws").await;
    let mut socket = websocket(&gateway, "graphql-ws").await;
    socket.send(Message::Text(json!({ "type": "connection_init", "payload": {} }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let start = json!({ "id": "1", "type": "start", "payload": { "query": subscription(&ticket) } });
    socket.send(Message::Text(start.to_string().into())).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let message = next_json(&mut socket).await;
        match message["type"].as_str().unwrap() {
            "data" => seen.push(message["payload"]["data"]["pixelzImageStatusChanged"]["statusId"].as_i64().unwrap()),
            "complete" => break,
            "ka" => {}
            other => panic!("{other}: {message}"),
        }
    }
    assert_every_status(&seen);
}

#[tokio::test]
async fn sse_follows_an_image_to_delivered() {
    let gateway = live_gateway().await;
    let ticket = submit(&gateway, "sse").await;
    let response = http()
        .post(format!("http://{}/graphql/sse", gateway.addr()))
        .header("Accept", "text/event-stream")
        .json(&json!({ "query": subscription(&ticket) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut response = response;
    let (mut buffer, mut seen) = (String::new(), Vec::new());
    loop {
        match next_event(&mut response, &mut buffer).await {
            (kind, next) if kind == "next" => seen.push(
                next["data"]["pixelzImageStatusChanged"]["statusId"].as_i64().unwrap_or_else(|| panic!("{next}")),
            ),
            (kind, _) if kind == "complete" => break,
            _ => {}
        }
    }
    assert_every_status(&seen);
}

pub fn signature(secret: &str, body: &[u8]) -> String {
    pixgate_sandbox::sign(secret, body)
}

pub async fn deliver(gateway: &Running, headers: &[(&str, String)], body: &str, content_type: &str) -> u16 {
    let mut request = http()
        .post(format!("http://{}/webhooks/pixelz", gateway.addr()))
        .header("Content-Type", content_type)
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forged_webhooks_are_refused_and_repeats_add_nothing() {
    // A still sandbox: the image stays new while webhooks arrive.
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(600_000), ..ServeArgs::default() }).await;
    let ticket = submit(&gateway, "hooked").await;
    let mut socket = subscribed(&gateway, &ticket).await;
    assert_eq!(next_json(&mut socket).await["payload"]["data"]["pixelzImageStatusChanged"]["statusId"], 10);

    let body =
        json!({ "imageTicket": ticket, "processedImageURL": "http://127.0.0.1:1/final.jpg", "templateId": "2066863" })
            .to_string();
    let good = signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes());
    let customer = "HTTP_X_PXZ_CUSTOMER_HMAC_SHA256";
    for (headers, what) in [
        (vec![], "missing"),
        (vec![(customer, signature("not-the-secret", body.as_bytes()))], "forged"),
        (vec![(customer, "not base64!".to_string())], "garbage"),
        (vec![(customer, signature(sandbox::PIXELZ_APP_SECRET, b"another body"))], "altered"),
        (
            vec![
                (customer, good.clone()),
                ("HTTP_X_PXZ_PARTNER_HMAC_SHA256", signature("wrong-partner", body.as_bytes())),
            ],
            "bad partner",
        ),
    ] {
        assert_eq!(deliver(&gateway, &headers, &body, "application/json").await, 401, "{what}");
    }
    assert_eq!(
        gateway.hub().latest(&pixgate::upstream::pixelz::Ticket::of(&ticket)).unwrap().status_id,
        Some(10),
        "refused deliveries emit nothing"
    );

    // The documented header, then Pixelz's three retries (one hyphenated): one event.
    for name in [customer, customer, "http-x-pxz-customer-hmac-sha256", customer] {
        assert_eq!(deliver(&gateway, &[(name, good.clone())], &body, "application/json").await, 200);
    }
    let event = next_json(&mut socket).await;
    assert_eq!(event["payload"]["data"]["pixelzImageStatusChanged"]["statusId"], 70);
    let more = tokio::time::timeout(Duration::from_millis(300), socket.next()).await;
    assert!(more.is_err(), "a repeated delivery yields no second event: {more:?}");

    // Form-encoded bodies verify over their raw bytes; a body too large is refused.
    let form =
        format!("imageTicket={ticket}&processedImageURL=http%3A%2F%2F127.0.0.1%3A1%2Ffinal.jpg&templateId=2066863");
    let signed_form = signature(sandbox::PIXELZ_APP_SECRET, form.as_bytes());
    assert_eq!(deliver(&gateway, &[(customer, signed_form)], &form, "application/x-www-form-urlencoded").await, 200);
    let huge = "x".repeat(200 * 1024);
    assert_eq!(
        deliver(
            &gateway,
            &[(customer, signature(sandbox::PIXELZ_APP_SECRET, huge.as_bytes()))],
            &huge,
            "application/json"
        )
        .await,
        413
    );
}

#[tokio::test]
async fn the_poller_refreshes_many_images_in_few_calls() {
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(600_000), ..ServeArgs::default() }).await;
    let sandbox = gateway.sandbox().unwrap();
    let upstreams = crate::upstream::clients_for(sandbox, crate::upstream::settings());
    let credentials = crate::upstream::contact();
    let hub = pixgate::events::Hub::default();
    let mut receivers = Vec::new();
    for n in 0..150 {
        let image = pixgate::upstream::pixelz::wire::ImageSubmission {
            image_urls: vec![format!("https://images.example.com/{n}.jpg")],
            ..Default::default()
        };
        let submitted = upstreams.pixelz.submit_image(&credentials, &image).await.unwrap();
        let status = upstreams
            .pixelz
            .image_status(&credentials, &pixgate::upstream::pixelz::wire::ImageRef::Ticket(submitted.image_ticket))
            .await
            .unwrap();
        receivers.push(hub.watch(&credentials, std::sync::Arc::new(status)));
    }
    // A finished one is not polled.
    let finished = upstreams
        .pixelz
        .image_status(
            &credentials,
            &pixgate::upstream::pixelz::wire::ImageRef::Ticket(documented::DELIVERED_TICKET.into()),
        )
        .await
        .unwrap();
    receivers.push(hub.watch(&credentials, std::sync::Arc::new(finished)));
    let poller = Poller {
        hub: hub.clone(),
        pixelz: upstreams.pixelz.clone(),
        cache: pixgate::cache::Cache::disabled(),
        interval: Duration::from_secs(3600),
        fanout: None,
    };
    let to_poll = hub.to_poll();
    assert_eq!((to_poll.len(), to_poll[0].1.len()), (1, 150));
    sandbox.reset_requests();
    let calls = poller.refresh(&to_poll[0].0, to_poll[0].1.clone()).await;
    assert!(calls <= 150usize.div_ceil(100) + 1, "{calls} calls for 150 images");
    assert_eq!(sandbox.requests().total as usize, calls);
    assert_eq!(
        sandbox.requests().count("GET /REST.svc/JSON/Image/{ticket}"),
        0,
        "found in the list pages, none one by one"
    );
    drop(receivers);
    assert!(hub.to_poll().is_empty(), "nobody watches: nothing to poll");
}

#[tokio::test]
async fn subscriptions_check_their_arguments_and_credentials() {
    let gateway = live_gateway().await;
    for (query, code) in [
        ("subscription { pixelzImageStatusChanged { statusId } }", "BAD_USER_INPUT"),
        ("subscription { pixelzImageStatusChanged(tickets: [\"nope\"]) { statusId } }", "BAD_USER_INPUT"),
        (
            "subscription { pixelzImageStatusChanged(tickets: [\"00000000-0000-4000-8000-000000000000\"]) { statusId } }",
            "NOT_FOUND",
        ),
    ] {
        let response = http()
            .post(format!("http://{}/graphql/sse", gateway.addr()))
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let text = response.text().await.unwrap();
        assert!(text.contains(code), "{query}: {text}");
    }
    eventually("nothing left watched", || async { gateway.hub().to_poll().is_empty() }).await;
}

/// An image can have several output versions; the webhook names each by `templateId`.
#[tokio::test]
async fn every_output_version_is_kept_and_each_is_reported() {
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(600_000), ..ServeArgs::default() }).await;
    let ticket = submit(&gateway, "versions").await;
    let mut socket = websocket(&gateway, "graphql-transport-ws").await;
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let query = format!(
        "subscription {{ pixelzImageStatusChanged(tickets: [\"{ticket}\"]) {{ statusId outputs {{ templateId url }} }} }}"
    );
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    let event = |message: Value| message["payload"]["data"]["pixelzImageStatusChanged"].clone();
    assert_eq!(event(next_json(&mut socket).await), json!({ "statusId": 10, "outputs": [] }));

    let customer = "HTTP_X_PXZ_CUSTOMER_HMAC_SHA256";
    let version = |template: &str, file: &str| {
        let body = json!({ "imageTicket": ticket, "processedImageURL": format!("http://127.0.0.1:1/{file}"), "templateId": template })
            .to_string();
        (signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes()), body)
    };
    let (signed, first) = version("2066863", "first.jpg");
    assert_eq!(deliver(&gateway, &[(customer, signed.clone())], &first, "application/json").await, 200);
    let one = json!([{ "templateId": "2066863", "url": "http://127.0.0.1:1/first.jpg" }]);
    assert_eq!(event(next_json(&mut socket).await), json!({ "statusId": 70, "outputs": one }));
    assert_eq!(deliver(&gateway, &[(customer, signed)], &first, "application/json").await, 200);
    let (signed, second) = version("2017982", "second.jpg");
    assert_eq!(deliver(&gateway, &[(customer, signed)], &second, "application/json").await, 200);
    // The poller may report a status in between; the versions only ever grow, and the repeat adds none.
    let both = loop {
        let next = event(next_json(&mut socket).await);
        let count = next["outputs"].as_array().unwrap().len();
        assert!((1..=2).contains(&count), "{next}");
        if count == 2 {
            break next;
        }
    };
    assert_eq!(both["outputs"][1], json!({ "templateId": "2017982", "url": "http://127.0.0.1:1/second.jpg" }));

    let read = graphql(
        &gateway,
        &format!("{{ pixelzImage(by: {{ ticket: \"{ticket}\" }}) {{ outputs {{ templateId template {{ templateId }} }} template {{ templateId }} }} }}"),
        &[],
    )
    .await;
    let image = &read["data"]["pixelzImage"];
    assert_eq!(image["template"]["templateId"], "2066863", "{read}");
    assert_eq!(image["outputs"][0]["template"]["templateId"], "2066863");
    assert_eq!(image["outputs"][1]["templateId"], "2017982");
}

/// The sandbox produces an image in two versions when its URL says `two-versions`.
#[tokio::test]
async fn the_sandbox_delivers_each_version_by_its_own_webhook() {
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(20), ..ServeArgs::default() }).await;
    let body = graphql(
        &gateway,
        &format!(
            "mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/two-versions.jpg\"], templateId: \"{}\" }}) {{ ticket }} }}",
            sandbox::documented::PIXELZ_TEMPLATE_ID
        ),
        &[],
    )
    .await;
    let ticket = body["data"]["submitPixelzImage"]["ticket"].as_str().unwrap_or_else(|| panic!("{body}")).to_string();
    let query = format!("{{ pixelzImage(by: {{ ticket: \"{ticket}\" }}) {{ status outputs {{ templateId url }} }} }}");
    crate::support::eventually("both versions delivered", || async {
        let read = graphql(&gateway, &query, &[]).await;
        read["data"]["pixelzImage"]["outputs"].as_array().is_some_and(|o| o.len() == 2)
    })
    .await;
    let last = graphql(&gateway, &query, &[]).await;
    let outputs = last["data"]["pixelzImage"]["outputs"].as_array().unwrap();
    assert_eq!(outputs[0]["templateId"], sandbox::documented::PIXELZ_TEMPLATE_ID.to_string());
    assert_ne!(outputs[1]["templateId"], outputs[0]["templateId"]);
}

/// pixgate links an image submitted for a client to it, and leaves Pixelz's `productId` to the caller.
#[tokio::test]
async fn a_clients_images_are_listed_with_it_and_followed_live() {
    let gateway = live_gateway().await;
    let client = sandbox::documented::CLIENT_ID;
    let retouched = format!(
        "{{ client(id: \"{client}\") {{ firstName retouchedImages(first: 10) {{ nodes {{ ticket productId client {{ id }} }} }} }} }}"
    );
    let before = graphql(&gateway, &retouched, &[]).await;
    assert_eq!(before["data"]["client"]["retouchedImages"]["nodes"], json!([]), "{before}");

    let submit_for_john = |extra: &'static str| {
        let gateway = &gateway;
        async move {
            let submitted = graphql(
                gateway,
                &format!("mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/for-john.jpg\"], clientId: \"{client}\" {extra} }}) {{ ticket userErrors {{ field code }} }} }}"),
                &[],
            )
            .await;
            submitted["data"]["submitPixelzImage"]["ticket"]
                .as_str()
                .unwrap_or_else(|| panic!("{submitted}"))
                .to_string()
        }
    };
    // The caller's own package beside the client, and an image with none: Pixelz is sent what was given.
    let packaged = submit_for_john(", productId: \"spring-shoot\"").await;
    let ticket = &submit_for_john("").await;
    let after = graphql(&gateway, &retouched, &[]).await;
    assert_eq!(
        after["data"]["client"],
        json!({ "firstName": "John", "retouchedImages": { "nodes": [
            { "ticket": ticket, "productId": null, "client": { "id": client } },
            { "ticket": packaged, "productId": "spring-shoot", "client": { "id": client } },
        ] } }),
        "{after}"
    );
    let unlinked = submit(&gateway, "for-nobody").await;
    let image =
        graphql(&gateway, &format!("{{ pixelzImage(by: {{ ticket: \"{unlinked}\" }}) {{ client {{ id }} }} }}"), &[])
            .await;
    assert_eq!(image["data"]["pixelzImage"]["client"], Value::Null, "{image}");

    let mut socket = websocket(&gateway, "graphql-transport-ws").await;
    socket.send(Message::Text(json!({ "type": "connection_init" }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let query = format!("subscription {{ pixelzImageStatusChanged(clientId: \"{client}\") {{ ticket statusId }} }}");
    socket
        .send(Message::Text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }).to_string().into(),
        ))
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let message = next_json(&mut socket).await;
        match message["type"].as_str().unwrap() {
            "next" => {
                let event = &message["payload"]["data"]["pixelzImageStatusChanged"];
                assert!(event["ticket"] == *ticket || event["ticket"] == packaged, "{message}");
                if event["ticket"] == *ticket {
                    seen.push(event["statusId"].as_i64().unwrap());
                }
            }
            "complete" => break,
            other => panic!("{other}: {message}"),
        }
    }
    assert_eq!(seen.last(), Some(&80), "followed to delivered: {seen:?}");

    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    for (input, code) in [
        ("clientId: \"cl_ZZZ123DEF456GHI789JKL012MNO345\"", "NOT_FOUND"),
        ("clientId: \"in_INV001ABC123DEF456GHI789JKL012\"", "INVALID"),
    ] {
        let refused = graphql(
            &gateway,
            &format!("mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/x.jpg\"], {input} }}) {{ ticket userErrors {{ field code }} }} }}"),
            &[],
        )
        .await;
        let payload = &refused["data"]["submitPixelzImage"];
        assert!(payload["ticket"].is_null(), "{refused}");
        assert_eq!(payload["userErrors"][0], json!({ "field": ["input", "clientId"], "code": code }), "{refused}");
    }
    assert_eq!(sandbox.requests().count("POST /REST.svc/JSON/Image"), 0, "nothing was submitted");
}

/// One SSE event as (kind, data), read from `response` as it streams.
pub async fn next_event(response: &mut reqwest::Response, buffer: &mut String) -> (String, Value) {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let kind = event.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim);
            let data = event.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim);
            // A keep-alive comment has no kind; distinct mode's `complete` may have no data.
            if let Some(kind) = kind {
                return (
                    kind.to_string(),
                    data.and_then(|data| serde_json::from_str(data).ok()).unwrap_or(Value::Null),
                );
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream goes on");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

/// graphql-sse's single-connection mode: a reservation, one stream, operations posted with
/// its token and stopped by id; the reservation is its caller's alone and ends with its stream.
#[tokio::test]
async fn one_sse_stream_carries_every_operation_posted_with_its_token() {
    const TOKEN: &str = "x-graphql-event-stream-token";
    let gateway = live_gateway().await;
    let url = format!("http://{}/graphql/sse", gateway.addr());
    let reserved = http().put(&url).send().await.unwrap();
    assert_eq!(reserved.status(), 201);
    let token = reserved.text().await.unwrap();
    let mut stream = http().get(&url).header(TOKEN, &token).header("Accept", "text/event-stream").send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let second = http().get(&url).header(TOKEN, &token).send().await.unwrap();
    assert_eq!(second.status(), 409, "one stream per reservation");
    let mut buffer = String::new();

    let post = |body: Value, token: &str| http().post(&url).header(TOKEN, token).json(&body).send();
    let query = json!({
        "query": "query One($id: ID!) { client(id: $id) { email } }",
        "variables": { "id": documented::CLIENT_ID },
        "extensions": { "operationId": "q" },
    });
    assert_eq!(post(query, &token).await.unwrap().status(), 202);
    let (kind, next) = next_event(&mut stream, &mut buffer).await;
    assert_eq!((kind.as_str(), &next["id"]), ("next", &json!("q")), "{next}");
    assert_eq!(next["payload"]["data"]["client"]["email"], "client@example.com");
    let (kind, complete) = next_event(&mut stream, &mut buffer).await;
    assert_eq!((kind.as_str(), complete), ("complete", json!({ "id": "q" })));

    // A subscription on the same stream, stopped by its id.
    let ticket = submit(&gateway, "single-connection").await;
    let subscribe = json!({ "query": subscription(&ticket), "extensions": { "operationId": "s" } });
    assert_eq!(post(subscribe.clone(), &token).await.unwrap().status(), 202);
    assert_eq!(post(subscribe, &token).await.unwrap().status(), 409, "its id is running");
    let (kind, next) = next_event(&mut stream, &mut buffer).await;
    assert_eq!((kind.as_str(), &next["id"]), ("next", &json!("s")), "{next}");
    assert!(next["payload"]["data"]["pixelzImageStatusChanged"]["statusId"].is_i64(), "{next}");
    let stopped = http().delete(format!("{url}?operationId=s")).header(TOKEN, &token).send().await.unwrap();
    assert_eq!(stopped.status(), 200);

    // Another caller, an unknown token, no operationId: refused, nothing runs.
    let foreign = http()
        .post(&url)
        .header(TOKEN, &token)
        .header("X-Pixieset-Cookie", sandbox::PIXIESET_OTHER_COOKIE)
        .json(&json!({ "query": "{ __typename }", "extensions": { "operationId": "x" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404, "a reservation is its caller's alone");
    let unknown = post(json!({ "query": "{ __typename }", "extensions": { "operationId": "u" } }), "nope").await;
    assert_eq!(unknown.unwrap().status(), 404);
    let unnamed = post(json!({ "query": "{ __typename }" }), &token).await.unwrap();
    assert_eq!(unnamed.status(), 400);

    // The stream closed, its reservation is gone.
    drop(stream);
    eventually("the reservation ends with its stream", || async {
        let late = post(json!({ "query": "{ __typename }", "extensions": { "operationId": "l" } }), &token).await;
        late.unwrap().status() == 404
    })
    .await;
}
