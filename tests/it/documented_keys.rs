//! The strict sandbox writes only what the documents show. For every endpoint,
//! the keys it may send are derived from the documents' examples (the fixtures
//! in `tests/fixtures/upstream`), and every answer the strict sandbox gives, to
//! every documented variant of the call, is checked against them.

use std::collections::BTreeSet;

use pixgate_sandbox::{self as sandbox, Sandbox, documented};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Objects whose keys are data, not fields: a contract's variable values, and the
/// client statuses by number.
const MAPS: &[&str] = &["data.content.variables", "meta.client_statuses"];

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/upstream/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every key path in `value`: `data[].address_info.city`, `meta.total`, …
fn keys(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                let opaque = MAPS.iter().any(|m| path.replace("[]", "") == *m);
                for (key, inner) in map {
                    let key = if opaque { "*" } else { key.as_str() };
                    let inner_path = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
                    out.insert(inner_path.clone());
                    walk(inner, &inner_path, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, &format!("{path}[]"), out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// The keys under `from` (`data[]`), moved under `to` (`data`).
fn rerooted(keys: &BTreeSet<String>, from: &str, to: &str) -> BTreeSet<String> {
    let mut moved: BTreeSet<String> =
        keys.iter().filter_map(|k| k.strip_prefix(from)).map(|rest| format!("{to}{rest}")).collect();
    moved.insert(to.trim_end_matches('.').to_string());
    moved
}

fn union<'a>(sets: impl IntoIterator<Item = &'a BTreeSet<String>>) -> BTreeSet<String> {
    sets.into_iter().flatten().cloned().collect()
}

/// What each Pixieset endpoint may send, from the documents alone.
struct PixiesetDocuments {
    client_list: BTreeSet<String>,
    client: BTreeSet<String>,
    paging: BTreeSet<String>,
    invoice_list: BTreeSet<String>,
    invoice: BTreeSet<String>,
    contract_list: BTreeSet<String>,
    contract: BTreeSet<String>,
    documents: BTreeSet<String>,
    collections: BTreeSet<String>,
    template_list: BTreeSet<String>,
    template: BTreeSet<String>,
    template_update: BTreeSet<String>,
    error: BTreeSet<String>,
    validation: BTreeSet<String>,
}

impl PixiesetDocuments {
    fn derive() -> Self {
        let client_list =
            union([&keys(&fixture("pixieset-clients-list")), &keys(&fixture("pixieset-clients-list-overview"))]);
        let client = rerooted(&client_list, "data[]", "data");
        // The page fields Pixieset's lists carry (the clients list shows them all).
        let paging: BTreeSet<String> = client_list
            .iter()
            .filter(|k| k.starts_with("meta") && !k.starts_with("meta.client_statuses") && *k != "meta.csv_url")
            .cloned()
            .chain(["data".to_string()])
            .collect();
        let contract_list = keys(&fixture("pixieset-contracts-list"));
        let contract = keys(&fixture("pixieset-contract-detail"));
        // An invoice: what the quick start sends to make one, and reads back (`id`,
        // `invoice_number`, `amount`); embedded clients as contracts embed them.
        let mut invoice_fields = keys(&fixture("pixieset-invoice-create-request"));
        invoice_fields.remove("send_email");
        invoice_fields.extend(["id", "invoice_number", "amount"].map(String::from));
        invoice_fields.extend(rerooted(&contract, "data.client", "client").into_iter().filter(|k| k != "client.phone"));
        let invoice_list = union([&paging, &rerooted(&invoice_fields, "", "data[].")]);
        let invoice = rerooted(&invoice_fields, "", "data.");
        // "All documents (contracts, invoices, etc.)": each as its own list writes it.
        let contract_items: BTreeSet<String> =
            contract_list.iter().filter(|k| k.starts_with("data[]")).cloned().collect();
        let documents = union([&paging, &contract_items, &invoice_list]);
        let collections: BTreeSet<String> = paging.iter().cloned().chain(["data[].id".to_string()]).collect();
        let error = union([
            &keys(&fixture("pixieset-error-contract-not-found")),
            &keys(&fixture("pixieset-error-template-not-found")),
            &keys(&fixture("pixieset-error-invalid-variable")),
        ]);
        // The quick start reads `error.details` of a 422 and `error.message` of a failure.
        let validation: BTreeSet<String> = ["message", "details"].map(String::from).into();
        Self {
            client_list,
            client,
            paging,
            invoice_list,
            invoice,
            contract_list,
            contract,
            documents,
            collections,
            template_list: keys(&fixture("pixieset-contract-templates-list")),
            template: keys(&fixture("pixieset-contract-template-detail")),
            template_update: keys(&fixture("pixieset-contract-template-update")),
            error,
            validation,
        }
    }
}

/// Fails, naming each key, when `answer` holds keys `documented` does not.
fn only_documented(call: &str, answer: &Value, documented: &BTreeSet<String>, checked: &mut usize) {
    // A key whose documented parent is a map of data (`details.<field>`) is data too.
    let undocumented: Vec<String> =
        keys(answer).into_iter().filter(|k| !documented.contains(k) && !k.starts_with("details.")).collect();
    assert!(undocumented.is_empty(), "{call} sent keys no document shows: {undocumented:?}\n{answer}");
    *checked += 1;
}

async fn send(sandbox: &Sandbox, method: Method, path: &str, body: Value) -> Value {
    answer(pixieset(sandbox, method, path).json(&body)).await.1
}

#[tokio::test]
async fn every_pixieset_answer_holds_only_documented_keys() {
    let sandbox = sandbox().await;
    let docs = PixiesetDocuments::derive();
    let client = documented::CLIENT_ID;
    let mut checked = 0;
    let get = |path: String| {
        let sandbox = &sandbox;
        async move { pixieset_get(sandbox, &path).await.1 }
    };

    for query in ["", "?types=client,lead&page=2", "?per_page=100&types=other"] {
        only_documented("GET /clients/", &get(format!("/clients/{query}")).await, &docs.client_list, &mut checked);
    }
    let search = get("/clients/search?q=john&types=all&page=1&pageSize=10".into()).await;
    only_documented("GET /clients/search", &search, &union([&docs.paging, &docs.client_list]), &mut checked);
    only_documented("GET /clients/{id}", &get(format!("/clients/{client}")).await, &docs.client, &mut checked);
    let updated = send(&sandbox, Method::PUT, &format!("/clients/{client}"), json!({ "company": "Doe Photo" })).await;
    only_documented("PUT /clients/{id}", &updated, &docs.client, &mut checked);
    let created =
        send(&sandbox, Method::POST, "/clients/", json!({ "first_name": "Ada", "email": "ada@example.com" })).await;
    only_documented("POST /clients/", &created, &docs.client, &mut checked);
    let collections = get(format!("/clients/{client}/cgCollections/?page_size=5&page=1")).await;
    only_documented("GET /clients/{id}/cgCollections/", &collections, &docs.collections, &mut checked);
    for query in ["?page=1", "?expand=gift_card_activities&page=1"] {
        let documents = get(format!("/clients/{client}/documents{query}")).await;
        only_documented("GET /clients/{id}/documents", &documents, &docs.documents, &mut checked);
    }

    for query in ["?page=1&per_page=50", &format!("?client_id={client}&expand=client")] {
        only_documented("GET /invoices/", &get(format!("/invoices/{query}")).await, &docs.invoice_list, &mut checked);
    }
    let new_invoice = fixture("pixieset-invoice-create-request");
    let invoice = send(&sandbox, Method::POST, "/invoices/", new_invoice).await;
    only_documented("POST /invoices/", &invoice, &docs.invoice, &mut checked);

    for expand in ["", "?expand=client", "?expand=all&page=1&per_page=45"] {
        only_documented(
            "GET /contracts/",
            &get(format!("/contracts/{expand}")).await,
            &docs.contract_list,
            &mut checked,
        );
        let detail = get(format!("/contracts/{}{expand}", documented::CONTRACT_ID)).await;
        only_documented("GET /contracts/{id}", &detail, &docs.contract, &mut checked);
    }

    only_documented(
        "GET /templates/contracts",
        &get("/templates/contracts".into()).await,
        &docs.template_list,
        &mut checked,
    );
    let template = get(format!("/templates/contracts/{}", documented::TEMPLATE_ID)).await;
    only_documented("GET /templates/contracts/{id}", &template, &docs.template, &mut checked);
    let change = json!({ "name": "Updated Wedding Photography Contract", "due_days": 21, "reminders": { "enabled": true, "days_before_due": [14, 7, 3, 1] } });
    let update =
        send(&sandbox, Method::PUT, &format!("/templates/contracts/{}", documented::TEMPLATE_ID), change).await;
    only_documented("PUT /templates/contracts/{id}", &update, &docs.template_update, &mut checked);

    let missing = get("/contracts/co_ZZZ001ABC123DEF456GHI789JKL012".into()).await;
    only_documented("GET /contracts/{id} (missing)", &missing, &docs.error, &mut checked);
    let bad_variable = send(
        &sandbox,
        Method::PUT,
        &format!("/templates/contracts/{}", documented::TEMPLATE_ID),
        json!({ "html_body": "{{invalid_var}}" }),
    )
    .await;
    only_documented("PUT /templates/contracts/{id} (bad variable)", &bad_variable, &docs.error, &mut checked);
    let invalid = send(&sandbox, Method::POST, "/clients/", json!({ "email": "nope" })).await;
    only_documented("POST /clients/ (invalid)", &invalid, &docs.validation, &mut checked);
    assert_eq!(checked, 25);
}

fn pixelz_documents(name: &str) -> BTreeSet<String> {
    keys(&fixture(name))
}

#[tokio::test]
async fn every_pixelz_answer_holds_only_documented_keys() {
    let sandbox = sandbox_with_step(60_000).await;
    let mut checked = 0;
    let template = documented::PIXELZ_TEMPLATE_ID.to_string();
    let get = |path: String, params: Vec<(&'static str, &'static str)>| {
        let sandbox = &sandbox;
        async move { pixelz_get(sandbox, &path, &params).await }
    };

    only_documented(
        "GET Templates",
        &get("/Templates/".into(), vec![]).await,
        &pixelz_documents("pixelz-templates"),
        &mut checked,
    );
    let detail = get(format!("/Template/{template}/"), vec![]).await;
    only_documented("GET Template", &detail, &pixelz_documents("pixelz-template"), &mut checked);
    let payload = json!({
        "templateName": "My First Template", "templateOutputFormat": "JPG", "deliveryTimeInHour": "72",
        "backgroundType": "1", "backgroundColor": "FFFFFF"
    });
    let created = pixelz_send(&sandbox, Method::POST, "/Template/", payload).await;
    only_documented("POST Template", &created, &pixelz_documents("pixelz-template-created"), &mut checked);

    let image = json!({ "templateId": template, "imageURL": "http://www.mydomain.com/myimage.jpg", "customerImageId": "12345", "productId": "Crying Baby Tee 066" });
    let submitted = pixelz_send(&sandbox, Method::POST, "/Image/", image.clone()).await;
    only_documented("POST Image", &submitted, &pixelz_documents("pixelz-image-submitted"), &mut checked);
    let mut glove = image;
    glove.as_object_mut().unwrap().remove("templateId");
    let glove = pixelz_send(&sandbox, Method::POST, "/WhiteGloveService/", glove).await;
    only_documented("POST WhiteGloveService", &glove, &pixelz_documents("pixelz-white-glove-submitted"), &mut checked);

    let status = get(format!("/Image/{}/", documented::DELIVERED_TICKET), vec![]).await;
    only_documented("GET Status", &status, &pixelz_documents("pixelz-image-status"), &mut checked);
    for params in
        [vec![], vec![("imageStatus", "80"), ("imagesPerPage", "100"), ("sortBy", "date"), ("isDescending", "true")]]
    {
        let images = get("/Images/".into(), params).await;
        only_documented("GET Images", &images, &pixelz_documents("pixelz-images"), &mut checked);
    }
    let count = get("/Images/Count/".into(), vec![("imageStatus", "80")]).await;
    only_documented("GET Images Count", &count, &pixelz_documents("pixelz-images-count"), &mut checked);
    let products = get("/ProductIds/".into(), vec![]).await;
    only_documented("GET ProductIds", &products, &pixelz_documents("pixelz-product-ids"), &mut checked);
    let contact = get("/Contact/".into(), vec![]).await;
    only_documented("GET Contact", &contact, &pixelz_documents("pixelz-contact"), &mut checked);
    let invoices = get("/Invoices/".into(), vec![("returnUrl", "https://app.example.com/paid")]).await;
    only_documented("GET Invoices", &invoices, &pixelz_documents("pixelz-invoices"), &mut checked);

    let rejected = pixelz_send(
        &sandbox,
        Method::PUT,
        &format!("/Image/Reject/{}/", documented::FINISHED_TICKET),
        json!({ "comment": "Free text comment" }),
    )
    .await;
    only_documented("PUT Image/Reject", &rejected, &pixelz_documents("pixelz-image-rejected"), &mut checked);
    let deleted =
        pixelz_send(&sandbox, Method::DELETE, &format!("/Image/{}/", documented::DELIVERED_TICKET), json!({})).await;
    only_documented("DELETE Image", &deleted, &pixelz_documents("pixelz-image-deleted"), &mut checked);
    let new_contact = json!({
        "developerEmail": sandbox::PIXELZ_PARTNER_EMAIL, "developerAPIkey": sandbox::PIXELZ_PARTNER_KEY,
        "contactEmail": "new_customer@domain.test", "contactName": "My First Customer", "countryCode": "US"
    });
    let (_, contact) = answer(http().post(format!("{}/Contact/", sandbox.pixelz_base_url())).json(&new_contact)).await;
    only_documented("POST Contact", &contact, &pixelz_documents("pixelz-contact-created"), &mut checked);

    // A refusal says only what every documented answer says: its code and message.
    let refusal: BTreeSet<String> = ["ErrorCode", "Message"].map(String::from).into();
    let missing = get("/Template/999/".into(), vec![]).await;
    only_documented("GET Template (missing)", &missing, &refusal, &mut checked);
    assert_eq!(checked, 16);
}
