//! The read schema against the sandbox: every query and relation, pagination
//! edges, ids, error mapping, partial data, the cache and tenant isolation.

use pixgate::cli::ServeArgs;
use pixgate::secret::Secret;
use pixgate::startup::Running;
use pixgate::upstream::PixiesetCredentials;
use pixgate_sandbox::{self as sandbox, Faults, documented};
use serde_json::{Value, json};

use crate::gateway::{gateway, graphql};

const CONTRACTS_WITH_CLIENT_AND_TEMPLATE: &str =
    "{ contracts(first: 45) { edges { node { client { email } template { name } } } } }";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

fn requests(gateway: &Running) -> u64 {
    gateway.sandbox().unwrap().requests().total
}

fn count(gateway: &Running, endpoint: &str) -> u64 {
    gateway.sandbox().unwrap().requests().count(endpoint)
}

fn reset(gateway: &Running) {
    gateway.sandbox().unwrap().reset_requests();
}

async fn query(gateway: &Running, query: &str) -> Value {
    graphql(gateway, query, &[]).await
}

#[tokio::test]
async fn contracts_with_client_and_template_cost_one_call_then_none() {
    let gateway = gateway(ServeArgs::default()).await;
    let cold = query(&gateway, CONTRACTS_WITH_CLIENT_AND_TEMPLATE).await;
    let edges = cold["data"]["contracts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 45);
    assert!(
        edges.iter().all(|e| e["node"]["client"]["email"].is_string() && e["node"]["template"]["name"].is_string())
    );
    assert_eq!(
        requests(&gateway),
        1,
        "the list embeds both summaries: {:?}",
        gateway.sandbox().unwrap().requests().by_endpoint
    );
    reset(&gateway);
    let warm = query(&gateway, CONTRACTS_WITH_CLIENT_AND_TEMPLATE).await;
    assert_eq!(warm, cold);
    assert_eq!(requests(&gateway), 0, "warm: no upstream call");
}

#[tokio::test]
async fn fields_outside_a_summary_cost_one_batched_fetch_per_distinct_object() {
    let gateway = gateway(ServeArgs::default()).await;
    let body =
        query(&gateway, "{ contracts(first: 45) { edges { node { client { id company } template { htmlBody } } } } }")
            .await;
    let edges = body["data"]["contracts"]["edges"].as_array().unwrap();
    let mut clients: Vec<&str> = edges.iter().map(|e| e["node"]["client"]["id"].as_str().unwrap()).collect();
    clients.sort();
    clients.dedup();
    assert_eq!(count(&gateway, "GET /api/v1/contracts"), 1);
    assert_eq!(
        count(&gateway, "GET /api/v1/clients/{client_id}") as usize,
        clients.len(),
        "one fetch per distinct client, never a duplicate"
    );
    let templates = count(&gateway, "GET /api/v1/templates/contracts/{template_id}");
    assert!((1..=5).contains(&templates), "one fetch per distinct template: {templates}");
}

#[tokio::test]
async fn a_listed_client_costs_nothing_by_id() {
    let gateway = gateway(ServeArgs::default()).await;
    let list = query(&gateway, "{ clients(first: 10) { totalCount edges { node { id email } } } }").await;
    assert_eq!(list["data"]["clients"]["totalCount"], 513);
    let id = list["data"]["clients"]["edges"][3]["node"]["id"].as_str().unwrap().to_string();
    reset(&gateway);
    let one = query(
        &gateway,
        &format!("{{ client(id: \"{id}\") {{ email company address {{ city }} }} node(id: \"{id}\") {{ id }} }}"),
    )
    .await;
    assert_eq!(one["data"]["client"]["email"], list["data"]["clients"]["edges"][3]["node"]["email"]);
    assert_eq!(requests(&gateway), 0);
}

#[tokio::test]
async fn client_pages_walk_the_whole_list() {
    let gateway = gateway(ServeArgs::default()).await;
    let mut after = String::new();
    let mut seen = Vec::new();
    loop {
        let page = query(&gateway, &format!("{{ clients(first: 100{after}) {{ pageInfo {{ hasNextPage hasPreviousPage endCursor }} edges {{ node {{ id }} }} }} }}")).await;
        let connection = &page["data"]["clients"];
        seen.extend(
            connection["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_string()),
        );
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], !after.is_empty());
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = format!(", after: \"{}\"", connection["pageInfo"]["endCursor"].as_str().unwrap());
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((total, seen.len()), (513, 513));
    assert_eq!(count(&gateway, "GET /api/v1/clients"), 6, "one call per 100-client page");
}

#[tokio::test]
async fn pagination_edges() {
    let gateway = gateway(ServeArgs::default()).await;
    let zero = query(&gateway, "{ clients(first: 0) { totalCount pageInfo { hasNextPage } edges { cursor } } }").await;
    assert_eq!(zero["data"]["clients"], json!({ "totalCount": 513, "pageInfo": { "hasNextPage": true }, "edges": [] }));

    let tail = query(
        &gateway,
        "{ clients(last: 5) { pageInfo { hasNextPage hasPreviousPage startCursor } edges { node { id } } } }",
    )
    .await;
    let tail = &tail["data"]["clients"];
    assert_eq!(tail["edges"].as_array().unwrap().len(), 5);
    assert_eq!(
        (tail["pageInfo"]["hasNextPage"].as_bool(), tail["pageInfo"]["hasPreviousPage"].as_bool()),
        (Some(false), Some(true))
    );
    let before = tail["pageInfo"]["startCursor"].as_str().unwrap();
    let earlier = query(
        &gateway,
        &format!("{{ clients(last: 3, before: \"{before}\") {{ edges {{ cursor }} pageInfo {{ hasNextPage }} }} }}"),
    )
    .await;
    assert_eq!(earlier["data"]["clients"]["edges"].as_array().unwrap().len(), 3);
    assert_eq!(earlier["data"]["clients"]["pageInfo"]["hasNextPage"], true);

    let end = query(&gateway, "{ clients(last: 1) { edges { cursor } } }").await;
    let cursor = end["data"]["clients"]["edges"][0]["cursor"].as_str().unwrap().to_string();
    let past = query(
        &gateway,
        &format!("{{ clients(first: 10, after: \"{cursor}\") {{ pageInfo {{ hasNextPage }} edges {{ cursor }} }} }}"),
    )
    .await;
    assert_eq!(past["data"]["clients"], json!({ "pageInfo": { "hasNextPage": false }, "edges": [] }));

    reset(&gateway);
    for bad in [
        "{ clients(first: 101) { totalCount } }",
        "{ clients(first: -1) { totalCount } }",
        "{ clients(first: 1, last: 1) { totalCount } }",
        "{ clients(first: 5, after: \"forged\") { totalCount } }",
        "{ clients(first: 5, after: \"b2Zmc2V0Oi0x\") { totalCount } }",
        "{ pixelzInvoices(first: 51) { totalCount } }",
        "{ clients(search: \"a\", types: [CLIENT, OTHER]) { totalCount } }",
    ] {
        let body = query(&gateway, bad).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{bad}: {body}");
    }
    assert_eq!(requests(&gateway), 0, "refused before any upstream call");
}

#[tokio::test]
async fn client_relations_and_search() {
    let gateway = gateway(ServeArgs::default()).await;
    let body = query(
        &gateway,
        "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") {
            firstName address { city country countryId } createdAt type status
            invoices(first: 5) { totalCount edges { node { id number amount { amount currency minorUnits } client { firstName } } } }
            contracts { id number status template { name } }
            documents(first: 10) { totalCount edges { node { id type title } } }
            collections(first: 3) { totalCount edges { node { id name photoCount } } }
        } }",
    )
    .await;
    let client = &body["data"]["client"];
    assert_eq!(client["address"], json!({ "city": "New York", "country": "United States", "countryId": 223 }));
    assert_eq!(client["createdAt"], "2025-08-06T14:50:42+00:00");
    let invoice = client["invoices"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["id"] == documented::INVOICE_ID)
        .unwrap();
    assert_eq!(invoice["node"]["amount"], json!({ "amount": "2500.00", "currency": null, "minorUnits": 250000 }));
    assert_eq!(invoice["node"]["client"]["firstName"], "John");
    let contract = client["contracts"].as_array().unwrap().iter().find(|c| c["id"] == documented::CONTRACT_ID).unwrap();
    assert_eq!(
        (contract["status"].as_str(), contract["template"]["name"].as_str()),
        (Some("SIGNED"), Some("Wedding Photography Contract"))
    );
    assert!(client["documents"]["totalCount"].as_i64().unwrap() >= 2);
    assert!(client["collections"]["totalCount"].is_number());

    let found = query(&gateway, "{ clients(search: \"john\", types: [CLIENT], first: 50) { totalCount edges { node { firstName lastName email type } } } }").await;
    let edges = found["data"]["clients"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    assert!(edges.iter().all(|e| e["node"]["type"] == "CLIENT"));
    let leads = query(&gateway, "{ clients(types: [LEAD, LEAD], first: 100) { edges { node { type } } } }").await;
    assert!(leads["data"]["clients"]["edges"].as_array().unwrap().iter().all(|e| e["node"]["type"] == "LEAD"));
}

#[tokio::test]
async fn invoices_contracts_and_templates() {
    let gateway = gateway(ServeArgs::default()).await;
    let body = query(
        &gateway,
        &format!(
            "{{ invoice(id: \"{}\") {{ number status dueDate lineItems {{ name quantity unitAmount {{ amount }} total {{ amount }} }} amountDue {{ amount }} client {{ email }} }}
               invoices(first: 3, clientId: \"{}\") {{ edges {{ node {{ id }} }} }}
               contract(id: \"{}\") {{ number sentAt content {{ renderedHtml variables {{ name value }} }} signatures {{ signerName signedAt }} client {{ phone }} }}
               contractTemplate(id: \"{}\") {{ name dueDays htmlBody variables {{ name type required }} signers {{ type order title }} reminders {{ enabled daysBeforeDue subject }} documentSettings {{ watermark }} }}
               contractTemplates {{ id name status }} }}",
            documented::INVOICE_ID,
            sandbox::documented::CLIENT_ID,
            documented::CONTRACT_ID,
            documented::TEMPLATE_ID
        ),
    )
    .await;
    let data = &body["data"];
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        data["invoice"]["lineItems"][0],
        json!({ "name": "Wedding Photography Package", "quantity": 1, "unitAmount": { "amount": "2500.00" }, "total": { "amount": "2500.00" } })
    );
    assert_eq!(data["invoice"]["dueDate"], "2025-09-05");
    assert_eq!(data["contract"]["sentAt"], "2025-08-07T10:35:00+00:00");
    assert_eq!(data["contract"]["content"]["variables"][0], json!({ "name": "client_name", "value": "John Doe" }));
    assert_eq!(data["contract"]["signatures"].as_array().unwrap().len(), 2);
    assert_eq!(data["contractTemplate"]["variables"].as_array().unwrap().len(), 6);
    assert_eq!(
        data["contractTemplate"]["reminders"],
        json!({ "enabled": true, "daysBeforeDue": [7, 3, 1], "subject": "Contract Signature Required" })
    );
    assert_eq!(data["contractTemplate"]["documentSettings"]["watermark"], "DRAFT");
    assert_eq!(data["contractTemplates"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn pixelz_queries_and_relations() {
    let gateway = gateway(ServeArgs::default()).await;
    let body = query(
        &gateway,
        "{ pixelzTemplate(id: \"pzt_2066863\") { id templateId name outputFormat price { amount currency } background resize { kind kindId } margins { kind verticalAlignment } createdOn }
           pixelzTemplates { id name price { amount } colorMatching }
           byTicket: pixelzImage(by: { ticket: \"33979dfe-5ea7-44ea-b3dd-7fde33bc37e9\" }) { id status statusId statusName customerImageId finalImageUrls thumbnailUrl }
           byCustomer: pixelzImage(customerImageId: \"1234\") { ticket }
           pixelzImages(first: 5, status: DELIVERED, orderBy: DATE, descending: true) { totalCount pageInfo { hasNextPage } edges { node { status } } }
           pixelzImageCount(status: IN_PRODUCTION)
           pixelzProducts(first: 100) { edges { node { id productId doneCount todoCount images(first: 10) { edges { node { productId } } } } } }
           pixelzAccount { email balance { amount currency minorUnits } daysOfCredit trialImages }
           pixelzInvoices(first: 50, to: \"2012-12-31\") { pageInfo { hasNextPage } edges { node { id invoiceId amountDue { amount } isPaid invoiceUrl paymentUrl } } } }",
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let data = &body["data"];
    assert_eq!(data["pixelzTemplate"]["price"], json!({ "amount": "2.25", "currency": "USD" }));
    assert_eq!(
        (data["pixelzTemplate"]["background"].as_str(), data["pixelzTemplate"]["resize"]["kindId"].as_i64()),
        (Some("TRANSPARENT"), Some(6))
    );
    assert!(data["pixelzTemplate"]["resize"]["kind"].is_null(), "6 is not a documented resize type");
    assert_eq!(data["pixelzTemplate"]["createdOn"], "2020-06-26");
    assert_eq!(data["byTicket"]["status"], "DELIVERED");
    // As Pixelz gives them: no document names the host they live on.
    assert_eq!(data["byTicket"]["finalImageUrls"], json!(["/1000003/2000000/final/myimage.jpg"]));
    assert_eq!(data["byCustomer"]["ticket"], documented::DELIVERED_TICKET);
    let images = &data["pixelzImages"];
    assert!(images["totalCount"].as_i64().unwrap() >= 5 && images["pageInfo"]["hasNextPage"] == true);
    assert!(images["edges"].as_array().unwrap().iter().all(|e| e["node"]["status"] == "DELIVERED"));
    assert!(data["pixelzImageCount"].as_i64().unwrap() > 0);
    let product = data["pixelzProducts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["productId"] == "test product 01")
        .unwrap();
    assert_eq!((product["node"]["doneCount"].as_i64(), product["node"]["todoCount"].as_i64()), (Some(3), Some(5)));
    assert_eq!(product["node"]["images"]["edges"].as_array().unwrap().len(), 8);
    assert_eq!(data["pixelzAccount"]["balance"], json!({ "amount": "81.05", "currency": "USD", "minorUnits": 8105 }));
    let invoices = data["pixelzInvoices"]["edges"].as_array().unwrap();
    let repaired = invoices.iter().find(|e| e["node"]["invoiceId"] == "INV-1289").unwrap();
    assert_eq!(repaired["node"]["amountDue"]["amount"], "105.00");
    assert_eq!(repaired["node"]["invoiceUrl"], "/DownloadInvoice?invoiceNumber=INV-1289");
    assert_eq!(data["pixelzInvoices"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn an_image_names_no_template_its_urls_might_suggest() {
    // No document says how an image's URL is laid out; only a delivered version names its template.
    let gateway = gateway(ServeArgs::default()).await;
    let body = query(&gateway, "{ pixelzImages(first: 100, productId: \"test product 01\", status: DELIVERED) { edges { node { finalImageUrls template { id } outputs { templateId url } } } } }").await;
    let edges = body["data"]["pixelzImages"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for edge in edges {
        let node = &edge["node"];
        assert!(node["template"].is_null(), "{body}");
        let urls: Vec<&Value> = node["outputs"].as_array().unwrap().iter().map(|o| &o["url"]).collect();
        assert_eq!(urls, node["finalImageUrls"].as_array().unwrap().iter().collect::<Vec<_>>());
        assert!(node["outputs"].as_array().unwrap().iter().all(|o| o["templateId"].is_null()));
    }
}

#[tokio::test]
async fn node_and_nodes_route_by_prefix() {
    let gateway = gateway(ServeArgs::default()).await;
    let ids = [
        documented::CLIENT_ID.to_string(),
        documented::INVOICE_ID.to_string(),
        documented::CONTRACT_ID.to_string(),
        documented::TEMPLATE_ID.to_string(),
        "pzt_2066863".to_string(),
        format!("pzi_{}", documented::DELIVERED_TICKET),
    ];
    for id in &ids {
        let body = query(&gateway, &format!("{{ node(id: \"{id}\") {{ __typename id }} }}")).await;
        assert_eq!(body["data"]["node"]["id"], id.as_str(), "{body}");
    }
    let list = query(&gateway, "{ pixelzProducts(first: 1) { edges { node { id productId } } } }").await;
    let product_id = list["data"]["pixelzProducts"]["edges"][0]["node"]["id"].as_str().unwrap();
    let product =
        query(&gateway, &format!("{{ node(id: \"{product_id}\") {{ ... on PixelzProduct {{ productId }} }} }}")).await;
    assert_eq!(product["data"]["node"]["productId"], list["data"]["pixelzProducts"]["edges"][0]["node"]["productId"]);
    // A Pixelz invoice has no lookup of its own: it is found on the documented list, an old one too.
    let invoice = query(
        &gateway,
        "{ node(id: \"pzv_INV-1289\") { id ... on PixelzInvoice { invoiceId amountDue { amount } } } }",
    )
    .await;
    assert_eq!(
        invoice["data"]["node"],
        json!({ "id": "pzv_INV-1289", "invoiceId": "INV-1289", "amountDue": { "amount": "105.00" } }),
        "{invoice}"
    );
    for (unknown, kind) in [("pzv_INV-99999", "invoice"), ("pzp_bm8gc3VjaCBwcm9kdWN0", "product")] {
        let body = query(&gateway, &format!("{{ node(id: \"{unknown}\") {{ id }} }}")).await;
        assert!(body["data"]["node"].is_null(), "{kind}: {body}");
        assert_eq!(code(&body), "NOT_FOUND", "{kind}: an id of the right form names nothing");
    }

    let missing = "cl_ZZZ123DEF456GHI789JKL012MNO345";
    let body = query(
        &gateway,
        &format!("{{ nodes(ids: [\"{}\", \"{missing}\", \"pzt_2066863\"]) {{ id }} }}", documented::CLIENT_ID),
    )
    .await;
    assert_eq!(body["data"]["nodes"], json!([{ "id": documented::CLIENT_ID }, null, { "id": "pzt_2066863" }]));
    assert_eq!(code(&body), "NOT_FOUND");

    reset(&gateway);
    for bad in ["xx_123", "cl_short", "pzi_not-a-ticket", "pzt_12a"] {
        let body = query(&gateway, &format!("{{ node(id: \"{bad}\") {{ id }} }}")).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{bad}");
    }
    let body = query(&gateway, &format!("{{ nodes(ids: [\"{}\", \"bogus\"]) {{ id }} }}", documented::CLIENT_ID)).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(requests(&gateway), 0, "bad ids never reach an upstream");
}

#[tokio::test]
async fn templates_of_both_kinds_in_one_list_and_partial_when_one_fails() {
    let gateway = gateway(ServeArgs::default()).await;
    let body = query(&gateway, "{ templates { __typename id name } }").await;
    let kinds: Vec<&str> =
        body["data"]["templates"].as_array().unwrap().iter().map(|t| t["__typename"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"ContractTemplate") && kinds.contains(&"PixelzTemplate"));

    let fresh = crate::gateway::gateway(ServeArgs::default()).await;
    let headers = [("X-Pixelz-Email", sandbox::PIXELZ_CONTACT_EMAIL), ("X-Pixelz-Api-Key", "wrong-key")];
    let body = graphql(&fresh, "{ templates { __typename } }", &headers).await;
    let templates = body["data"]["templates"].as_array().unwrap();
    assert!(!templates.is_empty() && templates.iter().all(|t| t["__typename"] == "ContractTemplate"));
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn upstream_failures_map_to_codes_and_are_never_cached() {
    let gateway = gateway(ServeArgs { upstream_max_attempts: Some(1), ..ServeArgs::default() }).await;
    let sandbox = gateway.sandbox().unwrap();
    let missing = query(&gateway, "{ client(id: \"cl_ZZZ123DEF456GHI789JKL012MNO345\") { id } }").await;
    assert_eq!((code(&missing), missing["data"]["client"].is_null()), ("NOT_FOUND", true));
    assert_eq!(missing["errors"][0]["extensions"]["upstream"], "pixieset");

    // The message says what failed, never why: the reason and the answer's excerpt stay in the log.
    // The 429 last: it opens the circuit for its Retry-After.
    for (faults, expected, message) in [
        (
            Faults { error_rate: 1.0, error_status: 503, ..Faults::default() },
            "UPSTREAM_UNAVAILABLE",
            "Pixieset is unavailable",
        ),
        (
            Faults { malformed_rate: 1.0, ..Faults::default() },
            "UPSTREAM_UNAVAILABLE",
            "Pixieset answered something this gateway cannot read",
        ),
        (
            Faults { error_rate: 1.0, error_status: 429, retry_after_secs: 1, ..Faults::default() },
            "RATE_LIMITED",
            "Pixieset is limiting this gateway's calls: retry after 1 s",
        ),
    ] {
        sandbox.set_faults(faults);
        let body = query(&gateway, "{ contractTemplates { id } }").await;
        assert_eq!(code(&body), expected, "{body}");
        assert_eq!(body["errors"][0]["message"], message);
        assert_eq!(body["errors"][0]["extensions"]["endpoint"], "GET /templates/contracts");
        if expected == "RATE_LIMITED" {
            assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1);
        }
    }
    sandbox.set_faults(Faults::default());
    // The 429's Retry-After, which the circuit waits out for every call with these credentials.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let body = query(&gateway, "{ contractTemplates { id } }").await;
    assert_eq!(body["data"]["contractTemplates"].as_array().unwrap().len(), 5, "no error was cached: {body}");

    sandbox.set_faults(Faults { error_rate: 1.0, target: pixgate_sandbox::FaultTarget::Pixelz, ..Faults::default() });
    let partial =
        query(&gateway, "{ pixelzAccount { email } client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { firstName } }")
            .await;
    assert_eq!(partial["data"]["client"]["firstName"], "John");
    assert_eq!(partial["errors"][0]["path"], json!(["pixelzAccount"]));
    assert_eq!(code(&partial), "UPSTREAM_UNAVAILABLE");
}

#[tokio::test]
async fn tenants_share_a_cache_but_never_an_entry() {
    let gateway = gateway(ServeArgs::default()).await;
    let studio_a = [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)];
    let studio_b = [("X-Pixieset-Cookie", sandbox::PIXIESET_OTHER_COOKIE)];
    let list = "{ clients(first: 100) { totalCount edges { node { id } } } }";
    let a = graphql(&gateway, list, &studio_a).await;
    let b = graphql(&gateway, list, &studio_b).await;
    assert_eq!(
        (a["data"]["clients"]["totalCount"].as_i64(), b["data"]["clients"]["totalCount"].as_i64()),
        (Some(513), Some(12))
    );
    let ids = |body: &Value| -> Vec<String> {
        body["data"]["clients"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (a_ids, b_ids) = (ids(&a), ids(&b));
    assert!(a_ids.iter().all(|id| !b_ids.contains(id)));

    // A's client, asked for with B's credentials, comes from upstream as B sees it: not found.
    let crossed = graphql(&gateway, &format!("{{ client(id: \"{}\") {{ email }} }}", a_ids[0]), &studio_b).await;
    assert_eq!(code(&crossed), "NOT_FOUND", "{crossed}");

    let cache = gateway.cache();
    cache.run_pending_tasks().await;
    let tenant_a = PixiesetCredentials::new(Secret::new(sandbox::PIXIESET_COOKIE)).tenant().clone();
    let tenant_b = PixiesetCredentials::new(Secret::new(sandbox::PIXIESET_OTHER_COOKIE)).tenant().clone();
    let keys_a = format!("{:?}", cache.keys_of(&tenant_a));
    let keys_b = format!("{:?}", cache.keys_of(&tenant_b));
    assert!(a_ids.iter().all(|id| keys_a.contains(id.as_str())), "A's clients are cached for A");
    assert!(a_ids.iter().all(|id| !keys_b.contains(id.as_str())), "and never under B");
    assert!(!keys_a.contains("session_cookie") && !keys_b.contains("session_cookie"), "keys hold hashes, not cookies");
}

/// No document describes `GET /invoices/{id}`: used where a server has it, and otherwise an
/// invoice is found in the documented list, at a bounded cost even for an id that does not exist.
#[tokio::test]
async fn an_invoice_by_id_costs_a_bounded_number_of_calls_with_or_without_its_endpoint() {
    let invoice = |id: &str| format!("{{ invoice(id: \"{id}\") {{ id number amount {{ minorUnits }} }} }}");
    let missing = "in_ZZZ001ABC123DEF456GHI789JKL012";
    for extras in [false, true] {
        let gateway = gateway(ServeArgs { sandbox_extras: Some(extras), ..ServeArgs::default() }).await;
        let sandbox = gateway.sandbox().unwrap();
        let found = graphql(&gateway, &invoice(documented::INVOICE_ID), &[]).await;
        assert_eq!(
            found["data"]["invoice"],
            json!({ "id": documented::INVOICE_ID, "number": "INV-001", "amount": { "minorUnits": 250000 } }),
            "extras: {extras}: {found}"
        );
        let by_id = sandbox.requests().count("GET /api/v1/invoices/{invoice_id}");
        let listed = sandbox.requests().count("GET /api/v1/invoices");
        if extras {
            assert_eq!((by_id, listed), (1, 0), "the endpoint, where the server has it");
        } else {
            assert_eq!(by_id, 1, "asked once, then known to be missing");
            assert!(listed >= 1, "found in the list");
        }
        sandbox.reset_requests();
        let body = graphql(&gateway, &invoice(missing), &[]).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "extras: {extras}: {body}");
        let calls = sandbox.requests().total;
        // Where the server has the endpoint, its not-found is checked against the list too.
        assert!((1..=6).contains(&calls), "extras: {extras}: {calls} calls for an id that does not exist");
    }
}

/// `GET /invoices/{id}` is in no document: whatever it answers, 404 with a code or without, or
/// 405, the invoice is looked for in the documented list. What shows the endpoint is missing
/// (an uncoded 404, a 405) is remembered for a while; a coded 404 says it is there.
#[tokio::test]
async fn an_invoice_is_found_whatever_the_undocumented_lookup_answers() {
    use pixgate_sandbox::InvoiceLookup;

    let invoice = |id: &str| format!("{{ invoice(id: \"{id}\") {{ id number }} }}");
    for (lookup, remembered) in [
        (InvoiceLookup::MethodNotAllowed, true),
        (InvoiceLookup::Absent, true),
        (InvoiceLookup::RefusedAsNotFound, false),
    ] {
        let gateway = gateway(ServeArgs::default()).await;
        let sandbox = gateway.sandbox().unwrap();
        sandbox.set_invoice_lookup(lookup);
        let listed = graphql(&gateway, "{ invoices(first: 3) { edges { node { id } } } }", &[]).await;
        let ids: Vec<String> = listed["data"]["invoices"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect();
        for id in [documented::INVOICE_ID, ids[1].as_str(), ids[2].as_str()] {
            let body = graphql(&gateway, &invoice(id), &[("X-Pixieset-Cookie", "session_cookie=sandbox")]).await;
            assert_eq!(body["data"]["invoice"]["id"], id, "{lookup:?}: {body}");
        }
        let asked = sandbox.requests().count("GET /api/v1/invoices/{invoice_id}");
        assert_eq!(asked, if remembered { 1 } else { 3 }, "{lookup:?}: the endpoint asked");

        // An id found nowhere is NOT_FOUND, for at most the endpoint and the five list pages the README promises.
        sandbox.reset_requests();
        let missing = graphql(&gateway, &invoice("in_ZZZ999ABC123DEF456GHI789JKL012"), &[]).await;
        assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND", "{lookup:?}: {missing}");
        let log = sandbox.requests();
        let calls = log.count("GET /api/v1/invoices/{invoice_id}") + log.count("GET /api/v1/invoices");
        assert!((1..=6).contains(&calls), "{lookup:?}: {calls} calls for a missing invoice");
    }
}

#[tokio::test]
async fn pixelz_urls_are_located_where_the_operator_says_and_nowhere_else() {
    let located = gateway(ServeArgs {
        pixelz_asset_base_url: Some("https://assets.example.com/studio/".into()),
        ..ServeArgs::default()
    })
    .await;
    let ask =
        "{ pixelzImage(by: { ticket: \"33979dfe-5ea7-44ea-b3dd-7fde33bc37e9\" }) { finalImageUrls thumbnailUrl } }";
    let body = query(&located, ask).await;
    assert_eq!(
        body["data"]["pixelzImage"],
        json!({
            "finalImageUrls": ["https://assets.example.com/studio/1000003/2000000/final/myimage.jpg"],
            "thumbnailUrl": "https://assets.example.com/studio/1000003/2000000/thumbnail/myimage.jpg",
        })
    );
    let as_given = query(&gateway(ServeArgs::default()).await, ask).await;
    assert_eq!(as_given["data"]["pixelzImage"]["thumbnailUrl"], "/1000003/2000000/thumbnail/myimage.jpg");
}

/// The one documented endpoint no list or object reaches: the client export `meta.csv_url` names.
#[tokio::test]
async fn the_client_export_is_pixiesets_own_and_current() {
    let gateway = gateway(ServeArgs::default()).await;
    let exported = query(&gateway, "{ clientsCsv }").await;
    let csv = exported["data"]["clientsCsv"].as_str().unwrap_or_else(|| panic!("{exported}")).to_string();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,email,"), "{}", rows[0]);
    assert_eq!(rows.len(), 1 + 513, "a header and every client");
    assert!(rows.iter().any(|r| r.starts_with(&format!("{},client@example.com,", documented::CLIENT_ID))));
    let created = query(
        &gateway,
        "mutation { createClient(input: { firstName: \"Ex\", lastName: \"Port\", email: \"export@example.com\" }) { client { id } } }",
    )
    .await;
    assert!(created["data"]["createClient"]["client"]["id"].is_string(), "{created}");
    let again = query(&gateway, "{ clientsCsv }").await;
    let again = again["data"]["clientsCsv"].as_str().unwrap();
    assert!(again.contains(",export@example.com,"), "asked again, not kept from before the write");
    let sandbox = gateway.sandbox().unwrap();
    assert_eq!(sandbox.requests().count("GET /api/v1/clients/download_csv"), 2);
}
