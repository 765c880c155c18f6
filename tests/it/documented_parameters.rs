//! Parameters the documents offer are reachable through the schema.

use pixgate::cli::ServeArgs;
use serde_json::Value;

use crate::gateway::{gateway, graphql};

fn payment_urls(body: &Value) -> Vec<String> {
    let edges = body["data"]["pixelzInvoices"]["edges"].as_array().unwrap_or_else(|| panic!("{body}"));
    edges
        .iter()
        .filter(|edge| edge["node"]["isPaid"] == false)
        .filter_map(|edge| edge["node"]["paymentUrl"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn invoice_payment_links_return_to_the_url_the_caller_names() {
    let gateway = gateway(ServeArgs::default()).await;
    let query = |return_url: &str| {
        format!("{{ pixelzInvoices(first: 50{return_url}) {{ edges {{ node {{ invoiceId isPaid paymentUrl }} }} }} }}")
    };
    let plain = payment_urls(&graphql(&gateway, &query(""), &[]).await);
    let returning = payment_urls(&graphql(&gateway, &query(", returnUrl: \"https://studio.example/paid\""), &[]).await);
    assert!(!returning.is_empty());
    let with_return = returning.iter().filter(|url| url.contains("returnUrl=https://studio.example/paid")).count();
    assert!(with_return > 0, "{returning:?}");
    assert!(
        plain.iter().all(|url| !url.contains("studio.example")),
        "a cached list never answers another return URL: {plain:?}"
    );

    let sandbox = gateway.sandbox().unwrap();
    sandbox.reset_requests();
    let body = graphql(&gateway, &query(", returnUrl: \"javascript:alert(1)\""), &[]).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(sandbox.requests().total, 0);
}
