//! Whole answers kept for repeats: served again (with an `Age`) only while what
//! they were made from is unchanged, kept apart per caller, document, operation
//! and variables, never with errors, never for a write, and never to a caller who
//! asks for a new one. A repeat sent byte for byte as before is answered before the
//! router (`server::kept`), and alike.

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::{self as sandbox, documented};
use serde_json::{Value, json};

use crate::gateway::gateway;
use crate::support::*;

/// The answer's body, and its `Age` when it was served kept.
async fn ask(gateway: &Running, body: &Value, headers: &[(&str, &str)]) -> (Value, Option<u64>) {
    let mut request = http().post(format!("http://{}/graphql", gateway.addr())).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let age = response.headers().get("age").map(|age| age.to_str().unwrap().parse().unwrap());
    (response.json().await.unwrap(), age)
}

async fn query(gateway: &Running, query: &str) -> (Value, Option<u64>) {
    ask(gateway, &json!({ "query": query }), &[]).await
}

fn client_query(id: &str) -> String {
    format!("{{ client(id: \"{id}\") {{ email company }} }}")
}

/// Another client than the documented one.
async fn other_client(gateway: &Running) -> String {
    let (body, _) = query(gateway, "{ clients(first: 2) { nodes { id } } }").await;
    let ids: Vec<&str> =
        body["data"]["clients"]["nodes"].as_array().unwrap().iter().flat_map(|n| n["id"].as_str()).collect();
    ids.into_iter().find(|id| *id != documented::CLIENT_ID).expect("a second client").to_string()
}

#[tokio::test]
async fn a_repeat_is_served_kept_until_a_write_changes_what_it_read() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    // Listed first: a list stores the clients it shows, a newer copy of each, which
    // makes an answer that read the older one stale.
    let other = other_client(&gateway).await;
    let asked = client_query(documented::CLIENT_ID);
    let (first, age) = query(&gateway, &asked).await;
    assert_eq!(age, None, "made now: {first}");
    sandbox.reset_requests();
    let (again, age) = query(&gateway, &asked).await;
    assert_eq!((&again, age.is_some()), (&first, true), "served kept");
    assert_eq!(sandbox.requests().total, 0);

    // A write to another client leaves this answer as it was.
    let write = |id: &str, company: &str| {
        format!(
            "mutation {{ updateClient(input: {{ id: \"{id}\", company: \"{company}\" }}) {{ client {{ company }} }} }}"
        )
    };
    let (written, _) = query(&gateway, &write(&other, "Elsewhere")).await;
    assert_eq!(written["data"]["updateClient"]["client"]["company"], "Elsewhere", "{written}");
    let (_, age) = query(&gateway, &asked).await;
    assert!(age.is_some(), "a write to another client leaves this answer kept");

    // A write to this client makes the next read fresh.
    let (written, age) = query(&gateway, &write(documented::CLIENT_ID, "Kept Photo")).await;
    assert_eq!((written["data"]["updateClient"]["client"]["company"].as_str(), age), (Some("Kept Photo"), None));
    let (fresh, age) = query(&gateway, &asked).await;
    assert_eq!((fresh["data"]["client"]["company"].as_str(), age), (Some("Kept Photo"), None), "{fresh}");
    let (_, age) = query(&gateway, &asked).await;
    assert!(age.is_some(), "the fresh answer is kept in turn");

    // As does forgetting everything (`POST /admin/invalidate`, a cold start).
    gateway.cache().invalidate_all();
    let (_, age) = query(&gateway, &asked).await;
    assert_eq!(age, None);
}

#[tokio::test]
async fn tenants_never_share_an_answer() {
    let gateway = gateway(ServeArgs::default()).await;
    let total = json!({ "query": "{ clients(first: 1) { totalCount } }" });
    let other = [("X-Pixieset-Cookie", sandbox::PIXIESET_OTHER_COOKIE)];
    let (mine, _) = ask(&gateway, &total, &[]).await;
    let (theirs, age) = ask(&gateway, &total, &other).await;
    assert_eq!(age, None, "another tenant's answer is made for it");
    assert_ne!(mine, theirs, "the two studios hold different numbers of clients");
    for _ in 0..2 {
        assert_eq!(ask(&gateway, &total, &[]).await.0, mine);
        let (again, age) = ask(&gateway, &total, &other).await;
        assert_eq!((again, age.is_some()), (theirs.clone(), true));
    }
    // Refused credentials are another caller too, and their refusal is never kept.
    let (refused, age) = ask(&gateway, &total, &[("X-Pixieset-Cookie", "session_cookie=nobody")]).await;
    assert_eq!((refused["errors"][0]["extensions"]["code"].as_str(), age), (Some("UNAUTHENTICATED"), None));
    let (refused, age) = ask(&gateway, &total, &[("X-Pixieset-Cookie", "session_cookie=nobody")]).await;
    assert_eq!((refused["errors"][0]["extensions"]["code"].as_str(), age), (Some("UNAUTHENTICATED"), None));
}

#[tokio::test]
async fn an_answer_with_an_error_is_never_kept() {
    let gateway = gateway(ServeArgs::default()).await;
    // One the upstream refuses, and one refused before any upstream call.
    for (missing, code) in [("cl_000000000000000000000000000000", "NOT_FOUND"), ("cl_short", "BAD_USER_INPUT")] {
        let partial = format!(
            "{{ found: client(id: \"{}\") {{ email }} missing: client(id: \"{missing}\") {{ email }} }}",
            documented::CLIENT_ID
        );
        for _ in 0..3 {
            let (body, age) = query(&gateway, &partial).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
            assert_eq!((body["data"]["found"]["email"].as_str(), age), (Some("client@example.com"), None));
        }
    }
}

#[tokio::test]
async fn variables_and_operation_names_key_separately() {
    let gateway = gateway(ServeArgs::default()).await;
    let other = other_client(&gateway).await;
    let document = "query ById($id: ID!) { client(id: $id) { id } } query Templates { contractTemplates { id } }";
    let by_id = |id: &str| json!({ "query": document, "operationName": "ById", "variables": { "id": id } });
    let templates = json!({ "query": document, "operationName": "Templates" });
    for round in 0..2 {
        let (mine, age) = ask(&gateway, &by_id(documented::CLIENT_ID), &[]).await;
        assert_eq!((mine["data"]["client"]["id"].as_str(), age.is_some()), (Some(documented::CLIENT_ID), round > 0));
        let (theirs, age) = ask(&gateway, &by_id(&other), &[]).await;
        assert_eq!((theirs["data"]["client"]["id"].as_str(), age.is_some()), (Some(other.as_str()), round > 0));
        let (listed, age) = ask(&gateway, &templates, &[]).await;
        assert!(listed["data"]["contractTemplates"].as_array().is_some_and(|t| !t.is_empty()), "{listed}");
        assert_eq!(age.is_some(), round > 0);
    }
}

#[tokio::test]
async fn a_caller_can_ask_for_an_answer_made_now() {
    let gateway = gateway(ServeArgs::default()).await;
    let asked = json!({ "query": client_query(documented::CLIENT_ID) });
    assert_eq!(ask(&gateway, &asked, &[]).await.1, None);
    assert_eq!(ask(&gateway, &asked, &[("Cache-Control", "no-cache")]).await.1, None, "made again");
    assert!(ask(&gateway, &asked, &[]).await.1.is_some());

    // `no-store`: made now, and not kept either.
    let templates = json!({ "query": "{ contractTemplates { name } }" });
    assert_eq!(ask(&gateway, &templates, &[("Cache-Control", "no-store")]).await.1, None);
    assert_eq!(ask(&gateway, &templates, &[]).await.1, None, "the no-store answer was not kept");
    assert!(ask(&gateway, &templates, &[]).await.1.is_some());
}

#[tokio::test]
async fn writes_and_refusals_are_never_kept() {
    let gateway = gateway(ServeArgs::default()).await;
    let create = json!({ "query": "mutation { createClient(input: { firstName: \"Once\", email: \"once@example.com\", type: LEAD }) { client { id } } }" });
    let (first, age) = ask(&gateway, &create, &[]).await;
    assert_eq!(age, None);
    let (second, age) = ask(&gateway, &create, &[]).await;
    assert_eq!(age, None);
    assert_ne!(first["data"]["createClient"]["client"]["id"], second["data"]["createClient"]["client"]["id"]);

    // The limits judge a hostile document as they did, on every repeat.
    let deep = format!("{{ {}id{} }}", "clients { edges { node { ".repeat(334), " } } }".repeat(334));
    let (refused, age) = query(&gateway, &deep).await;
    assert_eq!((refused["errors"][0]["extensions"]["code"].as_str(), age), (Some("QUERY_TOO_DEEP"), None));
    let (again, age) = query(&gateway, &deep).await;
    assert_eq!((again, age), (refused, None));
}

/// What a response's headers say, but for those that differ from answer to answer.
fn lasting_headers(response: &reqwest::Response) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !["date", "age", "x-request-id"].contains(&name.as_str()))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
        .collect();
    headers.sort();
    headers
}

#[tokio::test]
async fn a_repeat_sent_alike_is_answered_alike_and_fresh_after_a_write() {
    let gateway = gateway(ServeArgs::default()).await;
    let body = json!({ "query": client_query(documented::CLIENT_ID) }).to_string();
    let send = |accept: Option<&'static str>, id: &'static str| {
        let mut request = http()
            .post(format!("http://{}/graphql", gateway.addr()))
            .header("Content-Type", "application/json")
            .header("x-request-id", id)
            .body(body.clone());
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        request.send()
    };
    for accept in [None, Some("application/graphql-response+json")] {
        gateway.cache().invalidate_all();
        let made = send(accept, "made").await.unwrap();
        let (made_headers, made_age) = (lasting_headers(&made), made.headers().get("age").cloned());
        let made_body = made.bytes().await.unwrap();
        assert_eq!(made_age, None, "made now");
        for round in 0..3 {
            let kept = send(accept, "kept").await.unwrap();
            assert_eq!(kept.status(), 200);
            assert!(kept.headers().contains_key("age"), "served kept, round {round}");
            assert_eq!(kept.headers()["x-request-id"], "kept");
            assert_eq!(lasting_headers(&kept), made_headers, "{accept:?}");
            assert_eq!(kept.bytes().await.unwrap(), made_body);
        }
    }

    let write = format!(
        "mutation {{ updateClient(input: {{ id: \"{}\", company: \"Sent Alike\" }}) {{ client {{ company }} }} }}",
        documented::CLIENT_ID
    );
    query(&gateway, &write).await;
    let fresh = send(None, "fresh").await.unwrap();
    assert_eq!(fresh.headers().get("age"), None, "what it read changed: made again");
    let fresh: Value = fresh.json().await.unwrap();
    assert_eq!(fresh["data"]["client"]["company"], "Sent Alike", "{fresh}");
}

#[tokio::test]
async fn an_answer_asked_with_its_cost_always_tells_it() {
    let gateway = gateway(ServeArgs::default()).await;
    let asked = json!({ "query": client_query(documented::CLIENT_ID), "extensions": { "pixgateCost": true } });
    let plain = json!({ "query": client_query(documented::CLIENT_ID) });
    for round in 0..3 {
        let (answer, _) = ask(&gateway, &asked, &[]).await;
        assert!(answer["extensions"]["pixgateCost"].is_object(), "round {round}: {answer}");
        let (answer, _) = ask(&gateway, &plain, &[]).await;
        assert!(answer.get("extensions").is_none(), "round {round}: {answer}");
    }
}

/// `n` identical requests sent at once; their answers as they came.
async fn at_once(gateway: &Running, body: &Value, n: usize) -> Vec<Value> {
    futures_util::future::join_all((0..n).map(|_| ask(gateway, body, &[])))
        .await
        .into_iter()
        .map(|(answer, _)| answer)
        .collect()
}

#[tokio::test]
async fn identical_queries_asked_at_once_run_once() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    let asked = json!({ "query": client_query(documented::CLIENT_ID), "extensions": { "pixgateCost": true } });
    // Asked before, and forgotten since (an expiry, a write): a burst of callers asking again.
    ask(&gateway, &asked, &[]).await;
    gateway.cache().invalidate_all();
    sandbox.reset_requests();
    // The first answer is still being made when the others arrive.
    sandbox.set_faults(sandbox::Faults { latency_ms: 300, ..Default::default() });
    let answers = at_once(&gateway, &asked, 6).await;
    let mut made: Vec<&str> =
        answers.iter().map(|a| a["extensions"]["pixgateCost"]["responseCache"].as_str().unwrap()).collect();
    made.sort();
    assert_eq!(made, ["HIT", "HIT", "HIT", "HIT", "HIT", "MISS"], "one ran, the others were given its answer");
    assert!(answers.iter().all(|a| a["data"] == answers[0]["data"] && a.get("errors").is_none()), "{answers:?}");
    assert!(answers[0]["data"]["client"]["email"].is_string(), "{answers:?}");
    assert_eq!(sandbox.requests().total, 1);
}

#[tokio::test]
async fn identical_writes_asked_at_once_are_each_made_at_once() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    let write = json!({ "query": format!(
        "mutation {{ updateClient(input: {{ id: \"{}\", company: \"Twice\" }}) {{ client {{ company }} }} }}",
        documented::CLIENT_ID
    ) });
    ask(&gateway, &write, &[]).await;
    let one = sandbox.requests().total;
    sandbox.reset_requests();
    // Each write is made at once and answered a second later: the second is made while
    // the first is still unanswered, or, waiting for it as a query would, a second later.
    sandbox.set_faults(sandbox::Faults { late_answer_ms: 1000, ..Default::default() });
    let answers = tokio::spawn({
        let (gateway, write) = (gateway.addr(), write.clone());
        async move {
            let ask = || http().post(format!("http://{gateway}/graphql")).json(&write).send();
            let (first, second) = tokio::join!(ask(), ask());
            [first.unwrap().json::<Value>().await.unwrap(), second.unwrap().json::<Value>().await.unwrap()]
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(700);
    while sandbox.requests().total < 2 * one && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(sandbox.requests().total, 2 * one, "both writes made before either was answered");
    let answers = answers.await.unwrap();
    assert!(answers.iter().all(|a| a["data"]["updateClient"]["client"]["company"] == "Twice"), "{answers:?}");
}
