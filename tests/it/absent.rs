//! Absent is absent: where an upstream leaves a key out or sends it as null, the field is
//! `null`, never a default or a value computed in its place, and never the end of the item or
//! the list around it. Each shape is one the documents allow, answered by the sandbox.

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::{Faults, documented};
use serde_json::{Value, json};

use crate::gateway::{gateway, graphql};

const INVOICES: &str = "{ invoices(first: 100) { totalCount nodes { id number
    amount { amount currency minorUnits }
    lineItems { name quantity unitAmount { amount currency } total { amount } } } } }";

/// A gateway whose sandbox answers every call without the keys `left_out` and with `nulled` as null.
async fn shaped(extras: bool, left_out: &[&str], nulled: &[&str]) -> Running {
    let gateway = gateway(ServeArgs { sandbox_extras: Some(extras), ..ServeArgs::default() }).await;
    let owned = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect();
    gateway.sandbox().unwrap().set_faults(Faults {
        left_out: owned(left_out),
        nulled: owned(nulled),
        ..Faults::default()
    });
    gateway
}

/// The documented invoice as the invoice list shows it, with no errors beside it.
async fn documented_invoice(gateway: &Running) -> Value {
    let body = graphql(gateway, INVOICES, &[]).await;
    assert!(body.get("errors").is_none(), "{body}");
    let nodes = body["data"]["invoices"]["nodes"].as_array().unwrap();
    assert!(nodes.len() >= 100, "the whole page is there: {}", nodes.len());
    nodes.iter().find(|i| i["id"] == documented::INVOICE_ID).cloned().unwrap()
}

#[tokio::test]
async fn an_invoice_without_a_currency_names_none() {
    // The strict sandbox writes what the documents show: cents, and no currency.
    let invoice = documented_invoice(&shaped(false, &[], &[]).await).await;
    assert_eq!(invoice["amount"], json!({ "amount": "2500.00", "currency": null, "minorUnits": 250000 }));
    assert_eq!(invoice["lineItems"][0]["unitAmount"], json!({ "amount": "2500.00", "currency": null }));
    // Where the server names one, it is used.
    let invoice = documented_invoice(&shaped(true, &[], &[]).await).await;
    assert_eq!(invoice["amount"]["currency"], "USD");
}

#[tokio::test]
async fn lines_without_an_amount_keep_their_invoice_and_the_list() {
    for (left_out, nulled) in [(&["data.line_items.amount"][..], &[][..]), (&[], &["data.line_items.amount"])] {
        let invoice = documented_invoice(&shaped(false, left_out, nulled).await).await;
        assert_eq!(
            invoice["lineItems"],
            json!([{ "name": "Wedding Photography Package", "quantity": 1, "unitAmount": null, "total": null }]),
            "left out {left_out:?}, null {nulled:?}"
        );
        assert_eq!(invoice["amount"]["amount"], "2500.00");
    }
}

#[tokio::test]
async fn a_line_without_a_quantity_is_not_one() {
    let invoice = documented_invoice(&shaped(false, &["data.line_items.quantity"], &[]).await).await;
    assert_eq!(
        invoice["lineItems"],
        json!([{ "name": "Wedding Photography Package", "quantity": null, "unitAmount": { "amount": "2500.00", "currency": null }, "total": null }])
    );
}

#[tokio::test]
async fn an_invoice_without_an_amount_is_not_the_sum_of_its_lines() {
    let invoice = documented_invoice(&shaped(false, &["data.amount"], &[]).await).await;
    assert_eq!(invoice["amount"], Value::Null);
    assert_eq!(invoice["lineItems"][0]["total"]["amount"], "2500.00");
}

#[tokio::test]
async fn an_invoice_without_lines_is_not_one_without_any() {
    for (left_out, nulled) in [(&["data.line_items"][..], &[][..]), (&[], &["data.line_items"])] {
        let invoice = documented_invoice(&shaped(false, left_out, nulled).await).await;
        assert_eq!(invoice["lineItems"], Value::Null, "left out {left_out:?}, null {nulled:?}");
    }
    let gateway = shaped(false, &["data.line_items.name"], &[]).await;
    assert_eq!(documented_invoice(&gateway).await["lineItems"][0]["name"], Value::Null);
}

#[tokio::test]
async fn a_count_without_a_number_is_not_zero() {
    let gateway = shaped(false, &["ImagesCount"], &[]).await;
    let body = graphql(&gateway, "{ pixelzImageCount }", &[]).await;
    assert_eq!(body, json!({ "data": { "pixelzImageCount": null } }));
    gateway.sandbox().unwrap().set_faults(Faults::default());
    let counted = graphql(&gateway, "{ pixelzImageCount(from: \"2000-01-01\") }", &[]).await;
    assert!(counted["data"]["pixelzImageCount"].as_i64().is_some_and(|n| n > 0), "{counted}");
}

#[tokio::test]
async fn a_pixelz_invoice_names_no_currency_and_keeps_its_digits() {
    let gateway = shaped(false, &[], &[]).await;
    let body =
        graphql(&gateway, "{ pixelzInvoices(first: 50) { nodes { invoiceId amountDue { amount currency } } } }", &[])
            .await;
    let nodes = body["data"]["pixelzInvoices"]["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty(), "{body}");
    for node in nodes {
        assert_eq!(node["amountDue"]["currency"], Value::Null, "{node}");
    }
}

#[tokio::test]
async fn a_contract_without_signatures_has_none_said() {
    let gateway = shaped(false, &["data.signatures", "data.content.variables"], &[]).await;
    let query = format!(
        "{{ contract(id: \"{}\") {{ number signatures {{ signerName }} content {{ renderedHtml variables {{ name }} }} }} }}",
        documented::CONTRACT_ID
    );
    let body = graphql(&gateway, &query, &[]).await;
    assert!(body.get("errors").is_none(), "{body}");
    let contract = &body["data"]["contract"];
    assert_eq!((&contract["number"], &contract["signatures"]), (&json!("CON-001"), &Value::Null));
    assert_eq!(contract["content"]["variables"], Value::Null);
    assert!(contract["content"]["renderedHtml"].is_string());
}
