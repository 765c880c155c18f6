//! The simulated Pixieset Studio API, endpoint by endpoint, over loopback HTTP.

use pixgate_sandbox::{self as sandbox, documented};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

fn ids(body: &Value) -> Vec<String> {
    body["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn client_list_pages_as_documented() {
    let sandbox = sandbox().await;
    let (status, body) = pixieset_get(&sandbox, "/clients/").await;
    assert_eq!(status, 200);
    let first = &body["data"][0];
    assert_eq!(first["id"], CLIENT_ID);
    assert_eq!(first["email"], "client@example.com");
    assert_eq!(first["status_name"], "Active");
    assert_eq!(first["created_at"], "2025-08-06T14:50:42.000000Z");
    assert_eq!(first["address_info"]["country"], "United States");
    assert_eq!(first["address_info"]["country_id"], 223);
    assert_eq!(first["type_formatted"], "Client");
    let meta = &body["meta"];
    assert_eq!((meta["current_page"].as_u64(), meta["last_page"].as_u64()), (Some(1), Some(21)));
    assert_eq!((meta["per_page"].as_u64(), meta["total"].as_u64()), (Some(25), Some(513)));
    assert_eq!((meta["from"].as_u64(), meta["to"].as_u64()), (Some(1), Some(25)));
    assert_eq!(meta["client_statuses"], json!({ "1": "Active", "2": "Archived" }));
    assert!(meta["csv_url"].as_str().unwrap().ends_with("/clients/download_csv"));
    assert!(body.get("links").is_none(), "the overview names `links` but no example shows what it holds");
    sandbox.set_extras(true);
    let (_, body) = pixieset_get(&sandbox, "/clients/?types=client,lead&page=1").await;
    assert!(body["links"]["next"].as_str().unwrap().contains("page=2"));
    assert!(body["links"]["prev"].is_null());
    sandbox.set_extras(false);
    // Without the trailing slash too.
    assert_eq!(pixieset_get(&sandbox, "/clients?page=2").await.1["meta"]["current_page"], 2);
}

#[tokio::test]
async fn client_list_filters_by_type() {
    let sandbox = sandbox().await;
    let (_, both) = pixieset_get(&sandbox, "/clients/?types=client,lead&per_page=100").await;
    let (_, others) = pixieset_get(&sandbox, "/clients/?types=other&per_page=100").await;
    let both_total = both["meta"]["total"].as_u64().unwrap();
    let others_total = others["meta"]["total"].as_u64().unwrap();
    assert!(both_total > 0 && others_total > 0);
    assert_eq!(both_total + others_total, 513);
    assert!(both["data"].as_array().unwrap().iter().all(|c| c["type"] == "client" || c["type"] == "lead"));
    assert!(others["data"].as_array().unwrap().iter().all(|c| c["type"] == "other"));
    let (status, body) = pixieset_get(&sandbox, "/clients/?types=vip").await;
    assert_eq!(status, 422);
    assert!(body["details"]["types"].is_array(), "{body}");
}

#[tokio::test]
async fn paging_bounds() {
    let sandbox = sandbox().await;
    let (_, last) = pixieset_get(&sandbox, "/clients/?per_page=100&page=6").await;
    assert_eq!(last["data"].as_array().unwrap().len(), 13);
    assert_eq!(last["meta"]["last_page"], 6);
    assert!(last["links"]["next"].is_null());
    let (_, past) = pixieset_get(&sandbox, "/clients/?per_page=100&page=7").await;
    assert_eq!(past["data"], json!([]));
    assert!(past["meta"]["from"].is_null());
    for bad in ["per_page=0", "per_page=101", "per_page=abc", "page=0", "page=-1"] {
        let (status, body) = pixieset_get(&sandbox, &format!("/clients/?{bad}")).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["message"], "The given data was invalid.");
    }
}

#[tokio::test]
async fn a_missing_or_wrong_cookie_is_401() {
    let sandbox = sandbox().await;
    for cookie in [None, Some("session_cookie=stolen"), Some("other=sandbox")] {
        let mut request = http().get(format!("{}/clients/", sandbox.pixieset_base_url()));
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        let (status, body) = answer(request).await;
        assert_eq!(status, 401, "{cookie:?}");
        assert_eq!(body, json!({ "message": "Unauthenticated." }));
    }
}

#[tokio::test]
async fn the_other_studio_sees_its_own_clients_only() {
    let sandbox = sandbox().await;
    let other = |path: &str| {
        http().get(format!("{}{path}", sandbox.pixieset_base_url())).header("Cookie", sandbox::PIXIESET_OTHER_COOKIE)
    };
    let (status, body) = answer(other("/clients/")).await;
    assert_eq!(status, 200);
    assert_eq!(body["meta"]["total"], 12);
    assert!(!ids(&body).contains(&CLIENT_ID.to_string()));
    assert_eq!(answer(other(&format!("/clients/{CLIENT_ID}"))).await.0, 404);
}

#[tokio::test]
async fn search_matches_names_and_emails() {
    let sandbox = sandbox().await;
    let (status, body) = pixieset_get(&sandbox, "/clients/search?q=john&types=all&page=1").await;
    assert_eq!(status, 200);
    let found = body["data"].as_array().unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().any(|c| c["id"] == CLIENT_ID));
    for client in found {
        let text = format!("{} {} {}", client["first_name"], client["last_name"], client["email"]).to_lowercase();
        assert!(text.contains("john"), "{client}");
    }
    let (_, leads) = pixieset_get(&sandbox, "/clients/search?q=a&types=lead&pageSize=5").await;
    assert_eq!(leads["data"].as_array().unwrap().len(), 5);
    assert!(leads["data"].as_array().unwrap().iter().all(|c| c["type"] == "lead"));
    assert_eq!(pixieset_get(&sandbox, "/clients/search?q=a&pageSize=101").await.0, 422);
}

#[tokio::test]
async fn get_client_and_not_found() {
    let sandbox = sandbox().await;
    let (status, body) = pixieset_get(&sandbox, &format!("/clients/{CLIENT_ID}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["phone"], "1234567890");
    assert_eq!(body["data"]["avatar_color"], 8);
    let missing = "cl_ZZZ123DEF456GHI789JKL012MNO345";
    let (status, body) = pixieset_get(&sandbox, &format!("/clients/{missing}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "client_not_found");
    assert_eq!(body["error"]["message"], format!("Client with ID {missing} not found"));
}

#[tokio::test]
async fn update_client_changes_it_and_invalid_updates_change_nothing() {
    let sandbox = sandbox().await;
    let path = format!("/clients/{CLIENT_ID}");
    // The documented update body.
    let update = json!({
        "first_name": "John", "last_name": "Doe", "email": "john.doe@example.com", "phone": "1234567890",
        "company": "Photography Inc",
        "address_info": { "address_line_1": "123 Main St", "city": "New York", "postal_code": "10001", "state": "NY", "country_id": 223 },
        "notes": "VIP client", "type": "client"
    });
    let (status, body) = answer(pixieset(&sandbox, Method::PUT, &path).json(&update)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["company"], "Photography Inc");
    assert_eq!(pixieset_get(&sandbox, &path).await.1["data"]["email"], "john.doe@example.com");

    for bad in [
        json!({ "email": "not-an-email" }),
        json!({ "type": "vip" }),
        json!({ "first_name": "" }),
        json!({ "address_info": { "country_id": 99999 } }),
    ] {
        let (status, body) = answer(pixieset(&sandbox, Method::PUT, &path).json(&bad)).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["details"].is_object());
    }
    let (_, after) = pixieset_get(&sandbox, &path).await;
    assert_eq!(after["data"]["email"], "john.doe@example.com");
    assert_eq!(after["data"]["type"], "client");
    let (status, _) = answer(pixieset(&sandbox, Method::PUT, &path).body("{not json")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn create_client_adds_one_and_invalid_creates_add_none() {
    let sandbox = sandbox().await;
    let body =
        json!({ "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+1-555-123-4567" });
    let (status, created) = answer(pixieset(&sandbox, Method::POST, "/clients/").json(&body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap();
    assert!(id.starts_with("cl_") && id.len() == 33, "{id}");
    assert_eq!(pixieset_get(&sandbox, "/clients/").await.1["meta"]["total"], 514);
    assert_eq!(pixieset_get(&sandbox, &format!("/clients/{id}")).await.1["data"]["email"], "ada@example.com");

    for bad in [
        json!({ "first_name": "No Email" }),
        json!({ "email": "nofirst@example.com" }),
        json!({ "first_name": "Dup", "email": "ADA@example.com" }),
        json!({ "first_name": "X", "email": "x@example.com", "type": "vip" }),
    ] {
        let (status, body) = answer(pixieset(&sandbox, Method::POST, "/clients/").json(&bad)).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    assert_eq!(pixieset_get(&sandbox, "/clients/").await.1["meta"]["total"], 514);
}

#[tokio::test]
async fn collections_and_documents() {
    let sandbox = sandbox().await;
    let (_, clients) = pixieset_get(&sandbox, "/clients/?per_page=100").await;
    let mut with_collections = None;
    for id in ids(&clients) {
        let (status, body) = pixieset_get(&sandbox, &format!("/clients/{id}/cgCollections/?page_size=1&page=1")).await;
        assert_eq!(status, 200);
        if body["meta"]["total"].as_u64().unwrap() > 1 {
            assert_eq!(body["data"].as_array().unwrap().len(), 1);
            assert!(body["data"][0]["id"].is_number(), "collection ids are numbers: {body}");
            with_collections = Some(id);
            break;
        }
    }
    assert!(with_collections.is_some(), "some client has several collections");
    assert_eq!(pixieset_get(&sandbox, &format!("/clients/{CLIENT_ID}/cgCollections/?page_size=500")).await.0, 422);
    assert_eq!(pixieset_get(&sandbox, "/clients/cl_ZZZ123DEF456GHI789JKL012MNO345/cgCollections/").await.0, 404);

    let (status, documents) = pixieset_get(&sandbox, &format!("/clients/{CLIENT_ID}/documents?page=1")).await;
    assert_eq!(status, 200);
    let document_ids = ids(&documents);
    assert!(document_ids.iter().any(|id| id.starts_with("co_")), "{document_ids:?}");
    assert!(document_ids.contains(&documented::INVOICE_ID.to_string()));
    let invoice = documents["data"].as_array().unwrap().iter().find(|d| d["id"] == documented::INVOICE_ID).unwrap();
    assert_eq!(invoice["invoice_number"], "INV-001", "a document is written as its own endpoint writes it");
    assert!(invoice.get("type").is_none() && invoice.get("title").is_none());
    let (_, expanded) =
        pixieset_get(&sandbox, &format!("/clients/{CLIENT_ID}/documents?expand=gift_card_activities")).await;
    assert_eq!(expanded, documents, "no document shows a gift-card activity");

    sandbox.set_extras(true);
    let (_, documents) = pixieset_get(&sandbox, &format!("/clients/{CLIENT_ID}/documents?page=1")).await;
    let kinds: Vec<&str> = documents["data"].as_array().unwrap().iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"invoice") && kinds.contains(&"contract"), "{kinds:?}");
    let (_, expanded) =
        pixieset_get(&sandbox, &format!("/clients/{CLIENT_ID}/documents?expand=gift_card_activities")).await;
    let invoice = expanded["data"].as_array().unwrap().iter().find(|d| d["type"] == "invoice").unwrap();
    assert!(invoice["gift_card_activities"].is_array());
}

#[tokio::test]
async fn invoices_list_filter_expand_and_get() {
    let sandbox = sandbox().await;
    let (status, body) = pixieset_get(&sandbox, "/invoices/?page=1&per_page=50").await;
    assert_eq!(status, 200);
    assert!(body["meta"]["total"].as_u64().unwrap() >= 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 50);
    for invoice in body["data"].as_array().unwrap() {
        assert!(invoice["amount"].is_i64(), "amounts are integer cents: {invoice}");
        assert!(invoice.get("client").is_none());
    }
    let (_, mine) = pixieset_get(&sandbox, &format!("/invoices/?client_id={CLIENT_ID}&expand=client")).await;
    assert!(!mine["data"].as_array().unwrap().is_empty());
    for invoice in mine["data"].as_array().unwrap() {
        assert_eq!(invoice["client_id"], CLIENT_ID);
        assert_eq!(invoice["client"]["id"], CLIENT_ID);
        assert_eq!(invoice["client"]["first_name"], "John");
    }
    let (status, invoice) = pixieset_get(&sandbox, &format!("/invoices/{}", documented::INVOICE_ID)).await;
    assert_eq!((status, invoice), (404, json!("")), "no document describes GET /invoices/{{id}}");
    sandbox.set_extras(true);
    let (status, invoice) = pixieset_get(&sandbox, &format!("/invoices/{}", documented::INVOICE_ID)).await;
    assert_eq!(status, 200);
    assert_eq!(invoice["data"]["amount"], 250_000);
    assert_eq!(invoice["data"]["line_items"][0]["name"], "Wedding Photography Package");
    let (status, missing) = pixieset_get(&sandbox, "/invoices/in_ZZZ001ABC123DEF456GHI789JKL012").await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("invoice_not_found")));
}

#[tokio::test]
async fn create_invoice_with_line_items_and_refuse_bad_ones() {
    let sandbox = sandbox().await;
    let total = |body: &Value| body["meta"]["total"].as_u64().unwrap();
    let before = total(&pixieset_get(&sandbox, "/invoices/").await.1);
    let body = json!({
        "client_id": CLIENT_ID, "due_date": "2026-12-31", "send_email": true,
        "line_items": [{ "name": "Wedding Photography Package", "amount": 250000, "quantity": 1 },
                       { "name": "Printed Album", "amount": 8990, "quantity": 2 }]
    });
    let (status, created) = answer(pixieset(&sandbox, Method::POST, "/invoices/").json(&body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["amount"], 250_000 + 2 * 8990);
    assert!(created["data"].get("status").is_none(), "no document shows an invoice's status");
    assert_eq!(created["data"]["due_date"], "2026-12-31");
    assert!(created["data"]["invoice_number"].as_str().unwrap().starts_with("INV-"));
    assert_eq!(total(&pixieset_get(&sandbox, "/invoices/").await.1), before + 1);

    let item = |amount: Value, quantity: Value| json!({ "client_id": CLIENT_ID, "line_items": [{ "name": "x", "amount": amount, "quantity": quantity }] });
    for (bad, field) in [
        (item(json!(-1), json!(1)), "line_items.0.amount"),
        (item(json!(12.5), json!(1)), "line_items.0.amount"),
        (item(json!(100), json!(0)), "line_items.0.quantity"),
        (json!({ "client_id": CLIENT_ID, "line_items": [] }), "line_items"),
        (
            json!({ "client_id": "cl_ZZZ123DEF456GHI789JKL012MNO345", "line_items": [{ "name": "x", "amount": 1 }] }),
            "client_id",
        ),
        (
            json!({ "client_id": CLIENT_ID, "due_date": "31/12/2026", "line_items": [{ "name": "x", "amount": 1 }] }),
            "due_date",
        ),
        (json!({ "client_id": CLIENT_ID, "line_items": [{ "name": "x", "amount": 1 }] }), "due_date"),
    ] {
        let (status, body) = answer(pixieset(&sandbox, Method::POST, "/invoices/").json(&bad)).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["details"][field].is_array(), "{field}: {body}");
    }
    assert_eq!(total(&pixieset_get(&sandbox, "/invoices/").await.1), before + 1);
}

#[tokio::test]
async fn contracts_list_with_expand_and_detail_with_content() {
    let sandbox = sandbox().await;
    let (status, plain) = pixieset_get(&sandbox, "/contracts/").await;
    assert_eq!(status, 200);
    assert_eq!((plain["meta"]["total"].as_u64(), plain["meta"]["last_page"].as_u64()), (Some(45), Some(2)));
    assert!(plain["data"][0].get("client").is_none());
    let (_, all) = pixieset_get(&sandbox, "/contracts/?expand=all&page=1&per_page=45").await;
    let contracts = all["data"].as_array().unwrap();
    assert_eq!(contracts.len(), 45);
    let mut statuses: Vec<&str> = contracts.iter().map(|c| c["status"].as_str().unwrap()).collect();
    statuses.sort();
    statuses.dedup();
    assert_eq!(statuses, ["cancelled", "draft", "expired", "partially_signed", "sent", "signed", "viewed"]);
    for contract in contracts {
        assert!(contract["client"]["email"].is_string() && contract["template"]["name"].is_string(), "{contract}");
        assert!(contract.get("sent_at").is_none() && contract.get("content").is_none());
    }
    let (_, by_client) = pixieset_get(&sandbox, "/contracts/?expand=client").await;
    assert!(by_client["data"][0]["client"].is_object() && by_client["data"][0].get("template").is_none());

    let path = format!("/contracts/{}", documented::CONTRACT_ID);
    let (status, detail) = pixieset_get(&sandbox, &format!("{path}?expand=all")).await;
    assert_eq!(status, 200);
    let data = &detail["data"];
    assert_eq!(data["contract_number"], "CON-001");
    assert_eq!(data["sent_at"], "2025-08-07T10:35:00.000000Z");
    assert_eq!(
        data["template"],
        json!({ "id": documented::TEMPLATE_ID, "name": "Wedding Photography Contract", "due_days": 14 })
    );
    assert_eq!(data["content"]["variables"]["event_location"], "Central Park, NYC");
    assert!(
        data["content"]["rendered_html"]
            .as_str()
            .unwrap()
            .starts_with("<html><body><h1>Photography Services Contract</h1>")
    );
    assert_eq!(data["signatures"].as_array().unwrap().len(), 2);
    assert_eq!(data["signatures"][1]["signer_name"], "Jane Smith");
    assert_eq!(data["client"]["id"], CLIENT_ID);
    assert!(data["client"].get("phone").is_some());
    let (_, bare) = pixieset_get(&sandbox, &path).await;
    assert!(bare["data"].get("content").is_none() && bare["data"]["signatures"].is_array());
    let (status, missing) = pixieset_get(&sandbox, "/contracts/co_ZZZ001ABC123DEF456GHI789JKL012").await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("contract_not_found")));
}

#[tokio::test]
async fn contract_templates_list_get_and_update() {
    let sandbox = sandbox().await;
    let (status, list) = pixieset_get(&sandbox, "/templates/contracts").await;
    assert_eq!(status, 200);
    let total = list["data"].as_array().unwrap().len();
    assert!(total >= 4);
    assert_eq!(list["meta"], json!({ "total": total }), "this list carries only a total");
    assert!(list["data"][0].get("html_body").is_none());
    assert_eq!(list["data"][0]["reminders"], json!({ "enabled": true, "days_before_due": [7, 3, 1] }));

    let path = format!("/templates/contracts/{}", documented::TEMPLATE_ID);
    let (_, detail) = pixieset_get(&sandbox, &path).await;
    assert_eq!(detail["data"]["variables"].as_array().unwrap().len(), 6);
    assert_eq!(detail["data"]["variables"][0]["default_value"], "{{studio_name}}");
    assert_eq!(detail["data"]["document_settings"]["watermark"], "DRAFT");
    assert!(detail["data"]["html_body"].as_str().unwrap().contains("{{client_name}}"));

    // The documented curl example.
    let update = json!({ "name": "Updated Wedding Photography Contract", "due_days": 21, "reminders": { "enabled": true, "days_before_due": [14, 7, 3, 1] } });
    let (status, updated) = answer(pixieset(&sandbox, Method::PUT, &path).json(&update)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["id"], documented::TEMPLATE_ID);
    assert_eq!(updated["data"]["due_days"], 21);
    assert_eq!(updated["data"]["reminders"]["days_before_due"], json!([14, 7, 3, 1]));
    assert!(updated["data"]["updated_at"].is_string());
    assert!(updated["data"].get("html_body").is_none(), "the answer echoes only what changed");
    assert_eq!(pixieset_get(&sandbox, &path).await.1["data"]["name"], "Updated Wedding Photography Contract");

    for bad in [
        json!({ "due_days": 0 }),
        json!({ "status": "deleted" }),
        json!({ "signers": [] }),
        json!({ "reminders": { "days_before_due": [-1] } }),
    ] {
        let (status, body) = answer(pixieset(&sandbox, Method::PUT, &path).json(&bad)).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, body) =
        answer(pixieset(&sandbox, Method::PUT, &path).json(&json!({ "html_body": "<p>{{invalid_var}}</p>" }))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_template_variable");
    assert!(body["error"]["details"]["available_variables"].as_array().unwrap().contains(&json!("client_name")));
    let (_, after) = pixieset_get(&sandbox, &path).await;
    assert_eq!(after["data"]["due_days"], 21);
    assert!(!after["data"]["html_body"].as_str().unwrap().contains("invalid_var"));
    let (status, missing) = pixieset_get(&sandbox, "/templates/contracts/ct_ZZZ002ABC123DEF456GHI789JKL012").await;
    assert_eq!((status, missing["error"]["code"].as_str()), (404, Some("template_not_found")));
}
