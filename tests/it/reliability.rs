//! The gateway under upstream faults: it never panics and never answers a 5xx of
//! its own; every answer is data or typed errors, a failing field leaves the rest,
//! and once the faults stop, answers are right again at once (no error was cached).

use std::collections::BTreeSet;

use futures_util::future::join_all;
use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::{FaultTarget, Faults, Sandbox};
use serde_json::{Value, json};

use crate::gateway::gateway;
use crate::support::*;

/// Reads over both APIs: by id, lists, relations with batched lookups, counts.
const QUERIES: [&str; 6] = [
    "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { email invoices(first: 2) { edges { node { id } } } } }",
    "{ clients(first: 5) { totalCount edges { node { id email } } } }",
    "{ contracts(first: 10) { edges { node { id client { email phone } template { name } } } } }",
    "{ pixelzAccount { email } pixelzTemplates { id name } }",
    "{ pixelzImages(first: 5) { edges { node { ticket status } } } }",
    "{ templates { id name } contractTemplates { id } }",
];

/// The codes an upstream fault may turn into.
const FAULT_CODES: [&str; 2] = ["UPSTREAM_UNAVAILABLE", "RATE_LIMITED"];

/// A gateway over `upstream` with short timeouts and few retries, so faults show quickly.
async fn fragile_gateway(upstream: &Sandbox) -> Running {
    gateway(ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        pixieset_cookie: Some(pixgate_sandbox::PIXIESET_COOKIE.into()),
        pixelz_contact_email: Some(pixgate_sandbox::PIXELZ_CONTACT_EMAIL.into()),
        pixelz_api_key: Some(pixgate_sandbox::PIXELZ_API_KEY.into()),
        upstream_timeout_ms: Some(300),
        upstream_max_attempts: Some(2),
        upstream_breaker_open_ms: Some(200),
        rate_limit_ip: Some(0),
        rate_limit_tenant: Some(0),
        ..ServeArgs::default()
    })
    .await
}

/// Every query, a few times over, concurrently; each answer checked to be a
/// GraphQL answer with only typed errors. Returns the codes seen.
async fn storm(gateway: &Running, rounds: usize) -> (Vec<Value>, BTreeSet<String>) {
    let requests = (0..rounds).flat_map(|_| QUERIES).map(|query| async move {
        let response = http()
            .post(format!("http://{}/graphql", gateway.addr()))
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "never a 5xx of its own: {text}");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON answer: {text}"));
        assert!(body.get("data").is_some(), "data, even if null: {body}");
        body
    });
    let bodies = join_all(requests).await;
    let mut codes = BTreeSet::new();
    for body in &bodies {
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or_else(|| panic!("a typed error: {error}"));
            assert!(FAULT_CODES.contains(&code), "an upstream fault, typed as one: {error}");
            codes.insert(code.to_string());
        }
    }
    (bodies, codes)
}

#[tokio::test]
async fn faults_give_typed_errors_and_leave_no_trace_once_they_stop() {
    let upstream = sandbox().await;
    let gateway = fragile_gateway(&upstream).await;
    let (healthy, codes) = storm(&gateway, 1).await;
    assert!(codes.is_empty(), "no fault yet: {codes:?}");

    let profiles = [
        ("30% errors", Faults { error_rate: 0.3, error_status: 503, ..Faults::default() }),
        ("malformed bodies", Faults { malformed_rate: 0.5, ..Faults::default() }),
        ("a 429 storm", Faults { error_rate: 1.0, error_status: 429, retry_after_secs: 1, ..Faults::default() }),
        ("latency spikes past the timeout", Faults { latency_ms: 400, ..Faults::default() }),
    ];
    for (name, faults) in profiles {
        // A fresh cache each time, so the faults meet real upstream calls.
        gateway.cache().invalidate_all();
        upstream.set_faults(faults);
        let (_, codes) = storm(&gateway, 3).await;
        assert!(!codes.is_empty(), "{name}: the faults showed");
        upstream.set_faults(Faults::default());
        // The circuits the storm opened let one probe through once their wait is over
        // (a `Retry-After`, or the breaker's backoff): then every answer is right again.
        let mut recovered = None;
        for _ in 0..40 {
            let (after, codes) = storm(&gateway, 1).await;
            if codes.is_empty() {
                recovered = Some(after);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let after = recovered.unwrap_or_else(|| panic!("{name}: right again once the upstream is given its room"));
        assert_eq!(after, healthy, "{name}: the same answers as before the faults, no error cached");
    }
}

#[tokio::test]
async fn one_failing_upstream_leaves_the_other_fields_and_a_stopped_one_is_typed() {
    let upstream = sandbox().await;
    let gateway = fragile_gateway(&upstream).await;
    upstream.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        target: FaultTarget::Pixelz,
        ..Faults::default()
    });
    let query = "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { email } pixelzAccount { email } }";
    let body = answer(http().post(format!("http://{}/graphql", gateway.addr())).json(&json!({ "query": query }))).await;
    assert_eq!(body.0, 200);
    assert_eq!(body.1["data"]["client"]["email"], "client@example.com", "{}", body.1);
    assert!(body.1["data"]["pixelzAccount"].is_null());
    assert_eq!(body.1["errors"][0]["extensions"]["code"], "UPSTREAM_UNAVAILABLE");
    assert_eq!(body.1["errors"][0]["path"], json!(["pixelzAccount"]));

    upstream.shutdown().await;
    gateway.cache().invalidate_all();
    let (_, codes) = storm(&gateway, 1).await;
    assert_eq!(codes, BTreeSet::from(["UPSTREAM_UNAVAILABLE".to_string()]), "gone, and said so");
}

#[tokio::test]
async fn thousands_of_forged_webhooks_are_refused_and_replays_emit_nothing_new() {
    use crate::live::{deliver, next_json, signature, submit, subscribed};
    use futures_util::StreamExt;
    use pixgate_sandbox as sandbox;

    const FORGERIES: usize = 2_000;
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(600_000), ..ServeArgs::default() }).await;
    let ticket = submit(&gateway, "flooded").await;
    let mut socket = subscribed(&gateway, &ticket).await;
    assert_eq!(next_json(&mut socket).await["payload"]["data"]["pixelzImageStatusChanged"]["statusId"], 10);

    let body = json!({ "imageTicket": ticket, "templateId": "2066863" }).to_string();
    let header = "HTTP_X_PXZ_CUSTOMER_HMAC_SHA256";
    let forgeries = futures_util::stream::iter(0..FORGERIES)
        .map(|n| {
            let (gateway, body) = (&gateway, body.clone());
            async move {
                // Wrong secrets, altered bodies, truncated and random signatures, in turn.
                let (signed, sent) = match n % 4 {
                    0 => (signature(&format!("guess-{n}"), body.as_bytes()), body),
                    1 => (
                        signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes()),
                        body.replace("2066863", &n.to_string()),
                    ),
                    2 => (signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes())[..20].to_string(), body),
                    _ => (format!("{n:x}").repeat(8), body),
                };
                deliver(gateway, &[(header, signed)], &sent, "application/json").await
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<u16>>()
        .await;
    assert_eq!(forgeries.len(), FORGERIES);
    assert!(forgeries.iter().all(|&status| status == 401), "every forgery refused");
    assert_eq!(
        gateway.hub().latest(&pixgate::upstream::pixelz::Ticket::of(&ticket)).unwrap().status_id,
        Some(10),
        "none emitted anything"
    );

    let genuine = signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes());
    for _ in 0..50 {
        assert_eq!(deliver(&gateway, &[(header, genuine.clone())], &body, "application/json").await, 200);
    }
    assert_eq!(next_json(&mut socket).await["payload"]["data"]["pixelzImageStatusChanged"]["statusId"], 70);
    let more = tokio::time::timeout(std::time::Duration::from_millis(300), socket.next()).await;
    assert!(more.is_err(), "fifty replays, one event: {more:?}");
}
