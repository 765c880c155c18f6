//! Every mutation against the sandbox: the write, its read-back through the
//! gateway, each validation rule (with no upstream write), upstream refusals as
//! user errors, and idempotency.

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::{self as sandbox, documented};
use serde_json::{Value, json};

use crate::gateway::{gateway, graphql};
use crate::support::eventually;

async fn run(gateway: &Running, query: &str) -> Value {
    let body = graphql(gateway, query, &[]).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

fn user_errors(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect::<Vec<_>>().join("."),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn writes(gateway: &Running) -> u64 {
    let log = gateway.sandbox().unwrap().requests();
    log.by_endpoint.iter().filter(|(endpoint, _)| !endpoint.starts_with("GET ")).map(|(_, n)| n).sum()
}

#[tokio::test]
async fn create_and_update_a_client_then_read_it_back() {
    let gateway = gateway(ServeArgs::default()).await;
    let before = run(&gateway, "{ clients(first: 1) { totalCount } }").await;
    assert_eq!(before["clients"]["totalCount"], 513);
    let created = run(
        &gateway,
        "mutation { createClient(input: { firstName: \"Ada\", lastName: \"Lovelace\", email: \"ada@example.com\", type: LEAD,
            address: { city: \"London\", countryId: 222 }, clientMutationId: \"m-1\" }) {
            client { id email type address { city country } } userErrors { field } clientMutationId } }",
    )
    .await;
    let payload = &created["createClient"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["clientMutationId"], "m-1");
    assert_eq!(payload["client"]["address"], json!({ "city": "London", "country": "United Kingdom" }));
    let id = payload["client"]["id"].as_str().unwrap().to_string();
    let after =
        run(&gateway, &format!("{{ clients(first: 1) {{ totalCount }} client(id: \"{id}\") {{ email type }} }}")).await;
    assert_eq!(after["clients"]["totalCount"], 514, "the cached list was dropped");
    assert_eq!(after["client"], json!({ "email": "ada@example.com", "type": "LEAD" }));

    // A cached contracts page embeds the client's email; after an update it must not serve the old one.
    // (The documented contract keeps the John Doe it recorded, so another client is updated.)
    let contracts = "{ contracts(first: 45) { edges { node { client { id email } } } } }";
    let before = run(&gateway, contracts).await;
    let edges = before["contracts"]["edges"].as_array().unwrap();
    let other = edges.iter().find(|e| e["node"]["client"]["id"] != documented::CLIENT_ID).unwrap();
    let other_id = other["node"]["client"]["id"].as_str().unwrap();
    let updated = run(
        &gateway,
        &format!("mutation {{ updateClient(input: {{ id: \"{other_id}\", email: \"renamed@example.com\", company: \"Doe Photo\" }}) {{ client {{ email company }} userErrors {{ field }} }} }}"),
    )
    .await;
    assert_eq!(updated["updateClient"]["client"], json!({ "email": "renamed@example.com", "company": "Doe Photo" }));
    let read = run(&gateway, contracts).await;
    let edges = read["contracts"]["edges"].as_array().unwrap();
    let renamed = edges.iter().find(|e| e["node"]["client"]["id"] == other_id).unwrap();
    assert_eq!(renamed["node"]["client"]["email"], "renamed@example.com");
}

#[tokio::test]
async fn create_an_invoice_then_read_it_back() {
    let gateway = gateway(ServeArgs::default()).await;
    let listing =
        format!("{{ client(id: \"{}\") {{ invoices(first: 100) {{ totalCount }} }} }}", documented::CLIENT_ID);
    let before = run(&gateway, &listing).await["client"]["invoices"]["totalCount"].as_i64().unwrap();
    let created = run(
        &gateway,
        &format!(
            "mutation {{ createInvoice(input: {{ clientId: \"{}\", dueDate: \"2027-01-31\", sendEmail: true,
                lineItems: [{{ name: \"Album\", unitAmount: 8990, quantity: 2 }}, {{ name: \"Travel\", unitAmount: 12500 }}] }}) {{
                invoice {{ id dueDate amount {{ amount minorUnits }} lineItems {{ total {{ amount }} }} }} userErrors {{ field }} }} }}",
            documented::CLIENT_ID
        ),
    )
    .await;
    let invoice = &created["createInvoice"]["invoice"];
    assert_eq!(invoice["amount"], json!({ "amount": "304.80", "minorUnits": 30480 }));
    assert_eq!(invoice["dueDate"], "2027-01-31");
    let id = invoice["id"].as_str().unwrap();
    let read = run(
        &gateway,
        &format!("{{ invoice(id: \"{id}\") {{ lineItems {{ name quantity }} client {{ firstName }} }} }}"),
    )
    .await;
    assert_eq!(read["invoice"]["lineItems"][0], json!({ "name": "Album", "quantity": 2 }));
    assert_eq!(run(&gateway, &listing).await["client"]["invoices"]["totalCount"].as_i64().unwrap(), before + 1);
}

#[tokio::test]
async fn update_a_contract_template_then_read_it_back() {
    let gateway = gateway(ServeArgs::default()).await;
    let contracts = "{ contracts(first: 45) { edges { node { template { id name } } } } }";
    run(&gateway, contracts).await;
    let updated = run(
        &gateway,
        &format!(
            "mutation {{ updateContractTemplate(input: {{ id: \"{}\", name: \"Wedding Contract 2027\", dueDays: 21,
                reminders: {{ enabled: true, daysBeforeDue: [14, 7] }}, signers: [{{ type: \"client\", order: 1 }}],
                documentSettings: {{ watermark: \"\" }} }}) {{
                contractTemplate {{ name dueDays reminders {{ daysBeforeDue }} signers {{ type }} documentSettings {{ watermark }} htmlBody }} userErrors {{ field message }} }} }}",
            documented::TEMPLATE_ID
        ),
    )
    .await;
    let template = &updated["updateContractTemplate"]["contractTemplate"];
    assert_eq!((template["name"].as_str(), template["dueDays"].as_i64()), (Some("Wedding Contract 2027"), Some(21)));
    assert_eq!(template["reminders"]["daysBeforeDue"], json!([14, 7]));
    assert!(template["documentSettings"]["watermark"].is_null());
    assert!(template["htmlBody"].as_str().unwrap().contains("{{client_name}}"), "the whole template comes back");
    let read = run(&gateway, contracts).await;
    let named: Vec<&str> = read["contracts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["template"]["id"] == documented::TEMPLATE_ID)
        .map(|e| e["node"]["template"]["name"].as_str().unwrap())
        .collect();
    assert!(!named.is_empty() && named.iter().all(|n| *n == "Wedding Contract 2027"), "{named:?}");
}

#[tokio::test]
async fn pixelz_image_writes_then_read_back() {
    // Slow enough that an image is still deletable right after submission.
    let gateway = gateway(ServeArgs { sandbox_step_ms: Some(300), ..ServeArgs::default() }).await;
    let count = "{ pixelzImageCount }";
    let before = run(&gateway, count).await["pixelzImageCount"].as_i64().unwrap();
    let submitted = run(
        &gateway,
        "mutation { submitPixelzImage(input: { imageUrls: [\"https://images.example.com/bride.jpg\", \"https://images.example.com/bride-2.jpg\"],
            templateId: \"pzt_2066863\", customerImageId: \"bride-1\", productId: \"Wedding 2027\", deadline: \"2099-01-01T00:00:00Z\" }) {
            ticket isTrial image { status customerImageId productId } userErrors { field message } } }",
    )
    .await;
    let payload = &submitted["submitPixelzImage"];
    assert_eq!(
        (payload["image"]["customerImageId"].as_str(), payload["image"]["productId"].as_str()),
        (Some("bride-1"), Some("Wedding 2027"))
    );
    assert!(payload["image"]["status"].is_string(), "the sandbox clock may already have moved it on");
    assert_eq!(payload["isTrial"], false);
    let ticket = payload["ticket"].as_str().unwrap().to_string();
    assert_eq!(
        run(&gateway, count).await["pixelzImageCount"].as_i64().unwrap(),
        before + 1,
        "the cached count was dropped"
    );

    // The callback defaults to this gateway's webhook route.
    let sandbox = gateway.sandbox().unwrap();
    eventually("the webhook attempt", || async { sandbox.webhook_deliveries().iter().any(|d| d.ticket == ticket) })
        .await;
    let delivery = sandbox.webhook_deliveries().into_iter().find(|d| d.ticket == ticket).unwrap();
    assert_eq!(delivery.url, format!("http://{}/webhooks/pixelz", gateway.addr()));

    let glove = run(
        &gateway,
        "mutation { requestWhiteGloveService(input: { imageUrls: [\"https://images.example.com/groom.jpg\"], customerImageId: \"groom-1\", callbackUrl: \"http://127.0.0.1:9/hook\" }) { ticket image { customerImageId } userErrors { field } } }",
    )
    .await;
    assert_eq!(glove["requestWhiteGloveService"]["image"]["customerImageId"], "groom-1");
    let deleted = run(&gateway, "mutation { deletePixelzImage(input: { customerImageId: \"groom-1\" }) { image { status } userErrors { field } } }").await;
    assert_eq!(deleted["deletePixelzImage"], json!({ "image": { "status": "DELETED_BY_USER" }, "userErrors": [] }));
    let rejected = run(
        &gateway,
        &format!("mutation {{ rejectPixelzImage(input: {{ ticket: \"{}\", comment: \"too dark\" }}) {{ image {{ statusId }} userErrors {{ field }} }} }}", documented::FINISHED_TICKET),
    )
    .await;
    let status = rejected["rejectPixelzImage"]["image"]["statusId"].as_i64().unwrap();
    assert!((40..70).contains(&status), "returned for production: {status}");
}

#[tokio::test]
async fn pixelz_template_and_contact_writes_then_read_back() {
    let gateway = gateway(ServeArgs::default()).await;
    let list = "{ pixelzTemplates { name } }";
    let before = run(&gateway, list).await["pixelzTemplates"].as_array().unwrap().len();
    let created = run(
        &gateway,
        "mutation { createPixelzTemplate(input: { name: \"Studio White (v2)\", outputFormat: PNG, deliveryTimeInHours: 72, background: COLOR,
            backgroundColor: \"#ffffff\", margins: PIXELS, marginTop: 10, verticalAlignment: BOTTOM, shadow: DROP }) {
            template { id name outputFormat background backgroundColor margins { kind top verticalAlignment } shadow price { amount } } userErrors { field } } }",
    )
    .await;
    let template = &created["createPixelzTemplate"]["template"];
    assert_eq!(template["backgroundColor"], "FFFFFF");
    assert_eq!(template["margins"], json!({ "kind": "PIXELS", "top": 10, "verticalAlignment": "BOTTOM" }));
    assert_eq!((template["shadow"].as_str(), template["price"]["amount"].as_str()), (Some("DROP"), Some("1.20")));
    assert_eq!(run(&gateway, list).await["pixelzTemplates"].as_array().unwrap().len(), before + 1);

    let contact = run(
        &gateway,
        "mutation { createPixelzContact(input: { email: \"second@studio.test\", name: \"Second Studio\", countryCode: \"ca\" }) { email apiKey userErrors { field } } }",
    )
    .await;
    let key = contact["createPixelzContact"]["apiKey"].as_str().unwrap();
    let theirs = graphql(
        &gateway,
        "{ pixelzAccount { email } pixelzImageCount }",
        &[("X-Pixelz-Email", "second@studio.test"), ("X-Pixelz-Api-Key", key)],
    )
    .await;
    assert_eq!(theirs["data"], json!({ "pixelzAccount": { "email": "second@studio.test" }, "pixelzImageCount": 0 }));
}

/// The user errors a case expects: field path and code.
type Expected = Vec<(&'static str, &'static str)>;

#[tokio::test]
async fn every_validation_rule_answers_a_user_error_and_writes_nothing() {
    let gateway = gateway(ServeArgs::default()).await;
    let client = documented::CLIENT_ID;
    let cases: Vec<(String, &str, Expected)> = vec![
        ("createClient(input: { firstName: \" \", email: \"not-an-email\", address: { countryId: 0 } })".into(), "createClient",
            vec![("input.firstName", "REQUIRED"), ("input.email", "INVALID"), ("input.address.countryId", "INVALID")]),
        ("updateClient(input: { id: \"cl_short\", email: \"a@b\" })".into(), "updateClient", vec![("input.id", "INVALID"), ("input.email", "INVALID")]),
        (format!("createInvoice(input: {{ clientId: \"{client}\", lineItems: [] }})"), "createInvoice", vec![("input.lineItems", "REQUIRED")]),
        ("createInvoice(input: { clientId: \"in_x\", lineItems: [{ name: \"\", unitAmount: -1, quantity: 0 }] })".into(), "createInvoice",
            vec![("input.clientId", "INVALID"), ("input.lineItems.0.name", "REQUIRED"), ("input.lineItems.0.unitAmount", "INVALID"), ("input.lineItems.0.quantity", "INVALID")]),
        (format!("updateContractTemplate(input: {{ id: \"{}\", dueDays: 0, signers: [], reminders: {{ daysBeforeDue: [0] }} }})", documented::TEMPLATE_ID), "updateContractTemplate",
            vec![("input.dueDays", "INVALID"), ("input.signers", "REQUIRED"), ("input.reminders.daysBeforeDue.0", "INVALID")]),
        ("submitPixelzImage(input: { imageUrls: [] })".into(), "submitPixelzImage", vec![("input.imageUrls", "INVALID")]),
        ("submitPixelzImage(input: { imageUrls: [\"http://a.test/1\", \"http://a.test/2\", \"http://a.test/3\", \"http://a.test/4\", \"http://a.test/5\", \"http://a.test/6\"] })".into(),
            "submitPixelzImage", vec![("input.imageUrls", "INVALID")]),
        ("submitPixelzImage(input: { imageUrls: [\"ftp://a.test/x.jpg\"], callbackUrl: \"javascript:alert(1)\", colorReferenceUrl: \"nope\", templateId: \"pzt_x\" })".into(),
            "submitPixelzImage", vec![("input.imageUrls.0", "INVALID"), ("input.callbackUrl", "INVALID"), ("input.colorReferenceUrl", "INVALID"), ("input.templateId", "INVALID")]),
        ("submitPixelzImage(input: { imageUrls: [\"https://a.test/x.jpg\"], deadline: \"next tuesday\" })".into(), "submitPixelzImage", vec![("input.deadline", "INVALID")]),
        ("submitPixelzImage(input: { imageUrls: [\"https://a.test/x.jpg\"], deadline: \"2020-01-01 00:00:00\" })".into(), "submitPixelzImage", vec![("input.deadline", "INVALID")]),
        (format!("submitPixelzImage(input: {{ imageUrls: [\"https://a.test/x.jpg\"], customerImageId: \"{}\" }})", "x".repeat(101)), "submitPixelzImage", vec![("input.customerImageId", "TOO_LONG")]),
        ("requestWhiteGloveService(input: { imageUrls: [\"file:///etc/passwd\"] })".into(), "requestWhiteGloveService", vec![("input.imageUrls.0", "INVALID")]),
        ("deletePixelzImage(input: {})".into(), "deletePixelzImage", vec![("input.ticket", "REQUIRED")]),
        ("deletePixelzImage(input: { ticket: \"not-a-ticket\" })".into(), "deletePixelzImage", vec![("input.ticket", "INVALID")]),
        ("rejectPixelzImage(input: { ticket: \"33979dfe-5ea7-44ea-b3dd-7fde33bc37e9\", customerImageId: \"1234\" })".into(), "rejectPixelzImage", vec![("input.ticket", "REQUIRED")]),
        ("createPixelzTemplate(input: { name: \"Bad/Name!\", outputFormat: JPG, deliveryTimeInHours: 48, background: COLOR })".into(), "createPixelzTemplate",
            vec![("input.name", "INVALID"), ("input.deliveryTimeInHours", "INVALID"), ("input.backgroundColor", "REQUIRED")]),
        ("createPixelzTemplate(input: { name: \"Gradient\", outputFormat: PNG, deliveryTimeInHours: 24, background: VERTICAL_GRADIENT, backgroundColor: \"FFFFFF\" })".into(),
            "createPixelzTemplate", vec![("input.backgroundGradientColor", "REQUIRED")]),
        ("createPixelzTemplate(input: { name: \"Cutout\", outputFormat: JPEG, deliveryTimeInHours: 24, background: TRANSPARENT })".into(), "createPixelzTemplate", vec![("input.background", "INVALID")]),
        ("createPixelzTemplate(input: { name: \"Hex\", outputFormat: PNG, deliveryTimeInHours: 24, background: COLOR, backgroundColor: \"12345G\", resizeWidth: 0, marginTop: -1 })".into(),
            "createPixelzTemplate", vec![("input.backgroundColor", "INVALID"), ("input.resizeWidth", "INVALID"), ("input.marginTop", "INVALID")]),
        ("createPixelzContact(input: { email: \"nope\", name: \"\", countryCode: \"USA\" })".into(), "createPixelzContact",
            vec![("input.email", "INVALID"), ("input.countryCode", "INVALID"), ("input.name", "REQUIRED")]),
    ];
    for (mutation, field, expected) in cases {
        gateway.sandbox().unwrap().reset_requests();
        let body =
            graphql(&gateway, &format!("mutation {{ {mutation} {{ userErrors {{ field message code }} }} }}"), &[])
                .await;
        assert!(body["errors"].is_null(), "{mutation}: {body}");
        let mut found = user_errors(&body["data"][field]);
        found.sort();
        let mut expected: Vec<(String, String)> =
            expected.into_iter().map(|(f, c)| (f.to_string(), c.to_string())).collect();
        expected.sort();
        assert_eq!(found, expected, "{mutation}");
        assert_eq!(gateway.sandbox().unwrap().requests().total, 0, "{mutation} reached an upstream");
    }
    // Enumerations are typed: a value outside them is refused before execution.
    let body = graphql(&gateway, "mutation { createPixelzTemplate(input: { name: \"x\", outputFormat: GIF, deliveryTimeInHours: 24, background: KEPT }) { userErrors { field } } }", &[]).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("GIF"));
    assert_eq!(writes(&gateway), 0);
}

#[tokio::test]
async fn upstream_refusals_become_user_errors() {
    let gateway = gateway(ServeArgs::default()).await;
    let duplicate = run(&gateway, "mutation { createClient(input: { firstName: \"Dup\", email: \"client@example.com\" }) { client { id } userErrors { field message code } } }").await;
    assert_eq!(user_errors(&duplicate["createClient"]), [("input.email".to_string(), "REJECTED".to_string())]);
    assert!(duplicate["createClient"]["userErrors"][0]["message"].as_str().unwrap().contains("taken"));

    let missing = run(&gateway, "mutation { updateClient(input: { id: \"cl_ZZZ123DEF456GHI789JKL012MNO345\", company: \"x\" }) { userErrors { field code } } }").await;
    assert_eq!(user_errors(&missing["updateClient"]), [("input.id".to_string(), "NOT_FOUND".to_string())]);

    let unknown_template = run(&gateway, "mutation { submitPixelzImage(input: { imageUrls: [\"https://a.test/x.jpg\"], templateId: \"424242\" }) { ticket userErrors { field code message } } }").await;
    assert_eq!(user_errors(&unknown_template["submitPixelzImage"]), [("input".to_string(), "NOT_FOUND".to_string())]);

    let in_production =
        run(&gateway, "{ pixelzImages(first: 1, status: IN_PRODUCTION) { edges { node { ticket } } } }").await;
    let ticket = in_production["pixelzImages"]["edges"][0]["node"]["ticket"].as_str().unwrap().to_string();
    let refused = run(&gateway, &format!("mutation {{ deletePixelzImage(input: {{ ticket: \"{ticket}\" }}) {{ image {{ status }} userErrors {{ field code message }} }} }}")).await;
    assert_eq!(user_errors(&refused["deletePixelzImage"]), [("input".to_string(), "REJECTED".to_string())]);
    assert!(refused["deletePixelzImage"]["image"].is_null());
    let unfinished = run(
        &gateway,
        &format!(
            "mutation {{ rejectPixelzImage(input: {{ ticket: \"{ticket}\" }}) {{ userErrors {{ code message }} }} }}"
        ),
    )
    .await;
    // Pixelz's message and its code, whatever the code is (the strict sandbox's are bare numbers).
    let message = unfinished["rejectPixelzImage"]["userErrors"][0]["message"].as_str().unwrap();
    assert!(message.contains("finished") && message.ends_with("(6)"), "{unfinished}");
    assert_eq!(unfinished["rejectPixelzImage"]["userErrors"][0]["code"], "REJECTED");

    let bad_variable = run(
        &gateway,
        &format!("mutation {{ updateContractTemplate(input: {{ id: \"{}\", htmlBody: \"<p>{{{{nope}}}}</p>\" }}) {{ userErrors {{ field code message }} }} }}", documented::TEMPLATE_ID),
    )
    .await;
    assert_eq!(user_errors(&bad_variable["updateContractTemplate"]), [("input".to_string(), "REJECTED".to_string())]);
    assert!(bad_variable["updateContractTemplate"]["userErrors"][0]["message"].as_str().unwrap().contains("'nope'"));
}

#[tokio::test]
async fn a_retried_submission_submits_once() {
    let gateway = gateway(ServeArgs::default()).await;
    let submit = "mutation { submitPixelzImage(input: { imageUrls: [\"https://images.example.com/retry.jpg\"], customerImageId: \"retry-1\" }) { ticket userErrors { field } } }";
    let key = [("Idempotency-Key", "order-42-image-1")];
    let first = graphql(&gateway, submit, &key).await;
    let second = graphql(&gateway, submit, &key).await;
    assert_eq!(first["data"], second["data"], "the retry answers the first result");
    let sandbox = gateway.sandbox().unwrap();
    assert_eq!(sandbox.requests().count("POST /REST.svc/JSON/Image"), 1, "one image submitted, not two");
    let images =
        run(&gateway, "{ pixelzImages(first: 100, status: NEW) { edges { node { customerImageId } } } }").await;
    let retries = images["pixelzImages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["customerImageId"] == "retry-1")
        .count();
    assert!(retries <= 1);
    assert_eq!(
        run(&gateway, "{ pixelzImage(customerImageId: \"retry-1\") { ticket } }").await["pixelzImage"]["ticket"],
        first["data"]["submitPixelzImage"]["ticket"]
    );

    // Another key, or the same key from another tenant, is another submission.
    graphql(&gateway, submit, &[("Idempotency-Key", "order-42-image-2")]).await;
    let partner = [
        ("Idempotency-Key", "order-42-image-1"),
        ("X-Pixelz-Email", sandbox::PIXELZ_PARTNER_EMAIL),
        ("X-Pixelz-Api-Key", sandbox::PIXELZ_PARTNER_KEY),
    ];
    graphql(&gateway, submit, &partner).await;
    assert_eq!(sandbox.requests().count("POST /REST.svc/JSON/Image"), 3);

    // clientMutationId works the same without the header; concurrent retries share one write.
    let invoice = format!(
        "mutation {{ createInvoice(input: {{ clientId: \"{}\", clientMutationId: \"inv-7\", lineItems: [{{ name: \"Print\", unitAmount: 1500 }}] }}) {{ invoice {{ id }} clientMutationId }} }}",
        documented::CLIENT_ID
    );
    let (a, b) = tokio::join!(graphql(&gateway, &invoice, &[]), graphql(&gateway, &invoice, &[]));
    assert_eq!(a["data"], b["data"]);
    assert_eq!(sandbox.requests().count("POST /api/v1/invoices"), 1);
    let bad_key = "x".repeat(300);
    let response = crate::support::http()
        .post(format!("http://{}/graphql", gateway.addr()))
        .header("Idempotency-Key", bad_key)
        .json(&json!({ "query": submit }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
