//! What an operator sees at `/metrics`.

use pixgate::cli::ServeArgs;
use pixgate_sandbox::{self as sandbox, documented};
use serde_json::json;

use crate::gateway::{gateway, graphql};
use crate::live::{deliver, next_json, signature, submit, subscribed};
use crate::support::*;

#[tokio::test]
async fn a_scrape_holds_every_series_and_no_secret_or_object_id() {
    // Images stay in the pipeline, so the subscription below stays open.
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(600_000), ..ServeArgs::default() }).await;
    // An operation over both APIs, with a batched lookup.
    let query =
        "query Studio { pixelzAccount { email } invoices(first: 3) { edges { node { client { email phone } } } } }";
    graphql(&gateway, query, &[]).await;
    graphql(&gateway, "{ nonsense }", &[]).await;
    let ticket = submit(&gateway, "metrics").await;
    let mut socket = subscribed(&gateway, &ticket).await;
    assert_eq!(next_json(&mut socket).await["type"], "next", "the subscription is running");
    let body = json!({ "imageTicket": ticket }).to_string();
    let signed = [("HTTP_X_PXZ_CUSTOMER_HMAC_SHA256", signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes()))];
    assert_eq!(deliver(&gateway, &signed, &body, "application/json").await, 200);
    let forged = [("HTTP_X_PXZ_CUSTOMER_HMAC_SHA256", signature("not the secret", body.as_bytes()))];
    assert_eq!(deliver(&gateway, &forged, &body, "application/json").await, 401);

    let response = http().get(format!("http://{}/metrics", gateway.addr())).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let scrape = response.text().await.unwrap();
    for series in [
        r#"pixgate_graphql_requests_total{operation="Studio",outcome="ok"}"#,
        r#"pixgate_graphql_requests_total{operation="anonymous",outcome="error"}"#,
        r#"pixgate_graphql_request_duration_seconds_bucket{operation="Studio""#,
        r#"pixgate_upstream_requests_total{upstream="pixieset",method="GET",endpoint="/clients/{client_id}",status="200"}"#,
        r#"pixgate_upstream_request_duration_seconds_bucket{upstream="pixelz""#,
        r#"pixgate_cache_lookups_total{kind="client",result="miss"}"#,
        r#"pixgate_dataloader_batch_size_bucket{loader="client""#,
        "pixgate_subscriptions_active ",
        r#"pixgate_webhooks_total{outcome="accepted"}"#,
        r#"pixgate_webhooks_total{outcome="refused"}"#,
    ] {
        assert!(scrape.contains(series), "{series} is missing from:\n{scrape}");
    }
    // Every series is one pixgate declares (and charts in deploy/grafana/), with its help line.
    for typed in scrape.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
        let name = typed.split(' ').next().unwrap_or_default();
        let declared = pixgate::telemetry::metrics::SERIES.iter().find(|(series, ..)| *series == name);
        assert!(declared.is_some(), "{name} is exported but not in telemetry::metrics::SERIES");
        assert!(scrape.contains(&format!("# HELP {name} ")), "{name} has no help line");
    }
    let active: f64 = scrape
        .lines()
        .find_map(|l| l.strip_prefix("pixgate_subscriptions_active "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(active >= 1.0, "the open subscription counts: {active}");
    for secret_or_id in [
        sandbox::PIXELZ_API_KEY,
        sandbox::PIXIESET_COOKIE,
        sandbox::PIXELZ_APP_SECRET,
        sandbox::PIXELZ_CONTACT_EMAIL,
        documented::CLIENT_ID,
        ticket.as_str(),
        "cl_",
        "in_",
    ] {
        assert!(!scrape.contains(secret_or_id), "{secret_or_id} is in the scrape");
    }
}
