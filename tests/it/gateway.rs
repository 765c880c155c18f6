//! The gateway over HTTP: GraphQL, GraphiQL, health, credentials and access tokens.

use pixgate::cli::ServeArgs;
use pixgate::config::{Config, FileConfig};
use pixgate::startup::{self, Running};
use pixgate_sandbox::{self as sandbox, Sandbox, documented};
use serde_json::{Value, json};

use crate::support::*;

pub async fn gateway(args: ServeArgs) -> Running {
    capture_logs();
    // A fast sandbox clock unless the test sets its own.
    let step = args.sandbox_step_ms.or(Some(5));
    let args = ServeArgs { listen: Some("127.0.0.1:0".into()), sandbox_step_ms: step, ..args };
    startup::start(Config::merge(args, FileConfig::default()).unwrap()).await.unwrap()
}

pub async fn graphql(gateway: &Running, query: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = http().post(format!("http://{}/graphql", gateway.addr())).json(&json!({ "query": query }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, body) = answer(request).await;
    assert_eq!(status, 200, "{body}");
    // Every call the gateway made so far went with the headers the documents require.
    if let Some(sandbox) = gateway.sandbox() {
        let without = sandbox.requests().without_documented_headers;
        assert!(without.is_empty(), "calls without the documented headers: {without:?}");
    }
    body
}

fn code(body: &Value, index: usize) -> &str {
    body["errors"][index]["extensions"]["code"].as_str().unwrap_or_default()
}

const DOCUMENTED_CLIENT: &str = "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { id email firstName type } }";

#[tokio::test]
async fn health_graphiql_and_a_query() {
    let gateway = gateway(ServeArgs::default()).await;
    let base = format!("http://{}", gateway.addr());
    assert_eq!(answer(http().get(format!("{base}/healthz"))).await, (200, json!({ "status": "ok" })));
    let page = http().get(format!("{base}/graphql")).header("Accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));

    let body = graphql(&gateway, DOCUMENTED_CLIENT, &[]).await;
    assert_eq!(
        body["data"]["client"],
        json!({ "id": documented::CLIENT_ID, "email": "client@example.com", "firstName": "John", "type": "CLIENT" })
    );
    let (status, over_get) = answer(http().get(format!("{base}/graphql")).query(&[("query", DOCUMENTED_CLIENT)])).await;
    assert_eq!(status, 200);
    assert_eq!(over_get["data"], body["data"]);
}

#[tokio::test]
async fn get_never_runs_a_mutation() {
    let gateway = gateway(ServeArgs::default()).await;
    let (status, body) =
        answer(http().get(format!("http://{}/graphql", gateway.addr())).query(&[("query", "mutation { __typename }")]))
            .await;
    assert_eq!(status, 405);
    assert_eq!(code(&body, 0), "BAD_REQUEST");
}

#[tokio::test]
async fn invalid_ids_are_refused_before_any_upstream_call() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    for id in ["cl_short", "in_ABC123DEF456GHI789JKL012MNO345", "cl_ABC123DEF456GHI789JKL012MNO34$"] {
        let body = graphql(&gateway, &format!("{{ client(id: {id:?}) {{ id }} }}"), &[]).await;
        assert_eq!(code(&body, 0), "BAD_USER_INPUT", "{body}");
        assert!(body["data"]["client"].is_null());
    }
    assert_eq!(sandbox.requests().total, 0);
}

#[tokio::test]
async fn callers_credentials_come_from_headers() {
    let gateway = gateway(ServeArgs::default()).await;
    let other = graphql(&gateway, DOCUMENTED_CLIENT, &[("X-Pixieset-Cookie", sandbox::PIXIESET_OTHER_COOKIE)]).await;
    assert_eq!(code(&other, 0), "NOT_FOUND", "another studio does not have this client: {other}");
    assert!(other["data"]["client"].is_null());
    let stolen = graphql(&gateway, DOCUMENTED_CLIENT, &[("X-Pixieset-Cookie", "session_cookie=stolen")]).await;
    assert_eq!(code(&stolen, 0), "UNAUTHENTICATED");

    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let half = graphql(&gateway, "{ pixelzAccount { email } }", &[("X-Pixelz-Email", "studio@sandbox.test")]).await;
    assert_eq!(code(&half, 0), "UNAUTHENTICATED");
    assert_eq!(sandbox.requests().total, 0, "an incomplete credential makes no upstream call");
    let wrong = graphql(
        &gateway,
        "{ pixelzAccount { email } }",
        &[("X-Pixelz-Email", "studio@sandbox.test"), ("X-Pixelz-Api-Key", "wrong")],
    )
    .await;
    assert_eq!(code(&wrong, 0), "UNAUTHENTICATED", "Pixelz's InvalidAPIKey is an authentication failure: {wrong}");
    // Found by asking GET Contact with the same credentials: the code's name decides nothing.
    assert!(wrong["errors"][0]["extensions"]["upstreamCode"].is_string(), "Pixelz's own code, as sent: {wrong}");
    assert!(!wrong.to_string().contains("wrong\""), "the key is not echoed");
}

#[tokio::test]
async fn one_failing_field_leaves_the_others() {
    let gateway = gateway(ServeArgs::default()).await;
    let query = format!("{{ pixelzAccount {{ email }} {} }}", &DOCUMENTED_CLIENT[2..DOCUMENTED_CLIENT.len() - 2]);
    let body =
        graphql(&gateway, &query, &[("X-Pixelz-Email", "studio@sandbox.test"), ("X-Pixelz-Api-Key", "wrong")]).await;
    assert_eq!(body["data"]["client"]["email"], "client@example.com");
    assert_eq!(body["errors"][0]["path"], json!(["pixelzAccount"]));
}

/// A gateway whose configured upstream is a separate sandbox, so its defaults count as real.
async fn remote_gateway(upstream: &Sandbox, tokens: Option<Vec<String>>) -> Running {
    gateway(ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        pixieset_cookie: Some(sandbox::PIXIESET_COOKIE.into()),
        access_tokens: tokens,
        ..ServeArgs::default()
    })
    .await
}

#[tokio::test]
async fn default_credentials_need_an_access_token_when_tokens_are_set() {
    let upstream = crate::support::sandbox().await;
    let gateway = remote_gateway(&upstream, Some(vec!["alpha-token".into(), "beta-token".into()])).await;
    let refused = graphql(&gateway, DOCUMENTED_CLIENT, &[]).await;
    assert_eq!(code(&refused, 0), "UNAUTHENTICATED");
    let forged = graphql(&gateway, DOCUMENTED_CLIENT, &[("Authorization", "Bearer gamma-token")]).await;
    assert_eq!(code(&forged, 0), "UNAUTHENTICATED");
    assert_eq!(upstream.requests().total, 0, "refused before any upstream call");
    let allowed = graphql(&gateway, DOCUMENTED_CLIENT, &[("Authorization", "Bearer beta-token")]).await;
    assert_eq!(allowed["data"]["client"]["firstName"], "John");
    let own = graphql(&gateway, DOCUMENTED_CLIENT, &[("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)]).await;
    assert_eq!(own["data"]["client"]["firstName"], "John", "own credentials need no token");
    let no_pixelz = graphql(&gateway, "{ pixelzAccount { email } }", &[("Authorization", "Bearer beta-token")]).await;
    assert_eq!(code(&no_pixelz, 0), "UNAUTHENTICATED", "no Pixelz default configured");
}

#[tokio::test]
async fn upstream_requests_carry_the_documented_headers() {
    let upstream = crate::support::sandbox().await;
    let gateway = remote_gateway(&upstream, None).await;
    let body = graphql(&gateway, DOCUMENTED_CLIENT, &[]).await;
    assert_eq!(body["data"]["client"]["firstName"], "John", "the sandbox accepted the cookie: {body}");
    assert_eq!(upstream.requests().count("GET /api/v1/clients/{client_id}"), 1);
}

#[test]
fn schema_file_matches_the_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        committed == pixgate::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[tokio::test]
async fn readiness_reflects_what_each_upstream_said_lately_without_polling_it() {
    let gateway = gateway(ServeArgs::default()).await;
    let sandbox = gateway.sandbox().unwrap();
    let readyz = format!("http://{}/readyz", gateway.addr());
    sandbox.reset_requests();
    let (status, body) = answer(http().get(&readyz)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    assert_eq!(body["upstreams"]["pixieset"]["status"], "up");
    assert_eq!(body["upstreams"]["pixelz"]["status"], "up");
    assert_eq!(sandbox.requests().total, 2, "one probe each, having heard nothing yet");
    for _ in 0..5 {
        answer(http().get(&readyz)).await;
    }
    assert_eq!(sandbox.requests().total, 2, "what was heard lately is enough");

    let upstream = crate::support::sandbox().await;
    upstream.set_faults(pixgate_sandbox::Faults { error_rate: 1.0, error_status: 503, ..Default::default() });
    let cut_off = remote_gateway(&upstream, None).await;
    let (status, body) = answer(http().get(format!("http://{}/readyz", cut_off.addr()))).await;
    assert_eq!((status, body["status"].as_str()), (503, Some("unready")), "{body}");
    upstream.set_faults(pixgate_sandbox::Faults {
        error_rate: 1.0,
        error_status: 503,
        target: pixgate_sandbox::FaultTarget::Pixelz,
        ..Default::default()
    });
    // Pixieset is heard from again through an ordinary query.
    graphql(&cut_off, DOCUMENTED_CLIENT, &[]).await;
    let (status, body) = answer(http().get(format!("http://{}/readyz", cut_off.addr()))).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("degraded")), "{body}");
    assert_eq!(body["upstreams"]["pixelz"]["status"], "down");
}
