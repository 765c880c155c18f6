//! `extensions.pixgateCost`: what an answer cost upstream, told to the developer who
//! asks, agreeing with what the sandbox saw, and free of ids and credentials.

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox as sandbox;
use serde_json::{Value, json};

use crate::gateway::gateway;
use crate::support::*;

const CONTRACTS: &str = "{ contracts(first: 45) { edges { node { client { email } template { name } } } } }";

async fn ask(gateway: &Running, body: Value, headers: &[(&str, &str)]) -> Value {
    let mut request = http().post(format!("http://{}/graphql", gateway.addr())).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_cost_of_the_contract_list_matches_the_sandbox_cold_and_warm() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    let asked = json!({ "query": CONTRACTS, "extensions": { "pixgateCost": true } });

    sandbox.reset_requests();
    let cold = ask(&gateway, asked.clone(), &[]).await;
    assert!(cold.get("errors").is_none(), "{cold}");
    let cost = &cold["extensions"]["pixgateCost"];
    let seen = sandbox.requests().total;
    assert_eq!(seen, 1, "the list embeds what is asked");
    assert_eq!(cost["upstreamCalls"], json!({ "total": seen, "pixieset": seen, "pixelz": 0 }), "{cost}");
    assert_eq!(cost["endpoints"], json!([{ "api": "pixieset", "method": "GET", "path": "/contracts/", "calls": 1 }]));
    assert_eq!(cost["responseCache"], "MISS");

    sandbox.reset_requests();
    let warm = ask(&gateway, asked.clone(), &[]).await;
    assert_eq!(warm["data"], cold["data"]);
    assert_eq!(sandbox.requests().total, 0);
    assert_eq!(warm["extensions"]["pixgateCost"]["upstreamCalls"]["total"], 0, "{warm}");
    assert_eq!(warm["extensions"]["pixgateCost"]["responseCache"], "HIT");

    // Made again from the cache, not served kept: still nothing upstream, and the hits say why.
    let fresh = ask(&gateway, asked, &[("cache-control", "no-cache")]).await;
    let cost = &fresh["extensions"]["pixgateCost"];
    assert_eq!((cost["upstreamCalls"]["total"].as_u64(), cost["responseCache"].as_str()), (Some(0), Some("BYPASS")));
    assert_eq!(
        cost["cache"],
        json!({ "hits": 1, "misses": 0, "byKind": [{ "kind": "contract_page", "hits": 1, "misses": 0 }] })
    );
    assert_eq!(sandbox.requests().total, 0);

    // Over GET the cost is this answer's alone: no shared cache may keep it for another.
    let url = format!("http://{}/graphql", gateway.addr());
    let get = || http().get(&url).query(&[("query", CONTRACTS)]);
    let response = get().header("x-pixgate-cost", "true").send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let got: Value = response.json().await.unwrap();
    assert_eq!(got["extensions"]["pixgateCost"]["upstreamCalls"]["total"], 0, "{got}");
    let response = get().send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "public, max-age=10", "unasked, a CDN may keep it");

    // Unasked, an answer carries no cost.
    let plain = ask(&gateway, json!({ "query": CONTRACTS }), &[]).await;
    assert!(plain.get("extensions").is_none(), "{plain}");
}

#[tokio::test]
async fn the_header_asks_every_operation_and_the_cost_names_templates_and_loaders_not_ids() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    let clients = "{ clients(first: 3) { nodes { id } } }";
    let listed = ask(&gateway, json!({ "query": clients }), &[]).await;
    let ids: Vec<String> = listed["data"]["clients"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["id"].as_str().unwrap().to_string())
        .collect();
    gateway.cache().invalidate_all();

    sandbox.reset_requests();
    let nodes = format!("{{ nodes(ids: {ids:?}) {{ ... on Client {{ email }} }} }}");
    let batch = json!([{ "query": nodes }, { "query": "{ pixelzTemplates { name } }" }]);
    let answers = ask(&gateway, batch, &[("x-pixgate-cost", "true")]).await;
    let (first, second) = (&answers[0]["extensions"]["pixgateCost"], &answers[1]["extensions"]["pixgateCost"]);
    assert_eq!(first["upstreamCalls"]["pixieset"], 3, "{first}");
    assert_eq!(
        first["endpoints"],
        json!([{ "api": "pixieset", "method": "GET", "path": "/clients/{client_id}", "calls": 3 }])
    );
    assert_eq!(first["loaders"], json!([{ "loader": "client", "batches": 1, "keys": 3 }]));
    assert_eq!(second["upstreamCalls"], json!({ "total": 1, "pixieset": 0, "pixelz": 1 }), "{second}");
    assert_eq!(sandbox.requests().total, 4);

    let said = answers.to_string();
    for secret in [sandbox::PIXIESET_COOKIE, sandbox::PIXELZ_API_KEY, sandbox::PIXELZ_CONTACT_EMAIL] {
        assert!(!said.contains(secret));
    }
    for id in &ids {
        assert_eq!(said.matches(id.as_str()).count(), 0, "an id only in the data, not in the cost: {said}");
    }
}
