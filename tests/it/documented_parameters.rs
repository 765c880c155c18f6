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

#[tokio::test]
async fn a_partner_submits_with_its_developer_key_and_its_signature_is_then_required() {
    use pixgate_sandbox as sandbox;

    use crate::live::{deliver, signature, submit};
    use crate::support::eventually;

    let partner =
        ServeArgs { pixelz_developer_api_key: Some(sandbox::PIXELZ_PARTNER_KEY.into()), ..ServeArgs::default() };
    let gateway = gateway(partner).await;
    let ticket = submit(&gateway, "partner").await;
    // The sandbox signs a delivery with the partner secret only for an image sent with a
    // developer key; the gateway now accepts none without that signature.
    let sandbox = gateway.sandbox().unwrap();
    eventually("the delivery, partner-signed, accepted", || async {
        sandbox.webhook_deliveries().iter().any(|d| d.ticket == ticket && d.status == Some(200))
    })
    .await;

    let body = serde_json::json!({ "imageTicket": ticket, "processedImageURL": "http://127.0.0.1:1/f.jpg", "templateId": "1" })
        .to_string();
    let customer = ("HTTP_X_PXZ_CUSTOMER_HMAC_SHA256", signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes()));
    let partner_signed = ("HTTP_X_PXZ_PARTNER_HMAC_SHA256", signature(sandbox::PIXELZ_PARTNER_SECRET, body.as_bytes()));
    assert_eq!(
        deliver(&gateway, std::slice::from_ref(&customer), &body, "application/json").await,
        401,
        "no partner signature"
    );
    assert_eq!(deliver(&gateway, &[customer, partner_signed], &body, "application/json").await, 200);
}

/// `per_page` is a request: a server may put fewer items on a page, and `meta.per_page` says how many.
#[tokio::test]
async fn lists_page_right_when_the_server_puts_fewer_on_a_page_than_asked() {
    let queries = [
        "{ clients(first: 45) { totalCount edges { cursor node { id } } pageInfo { hasNextPage } } }",
        "{ invoices(first: 30, after: \"b2Zmc2V0OjM5\") { edges { cursor node { id number } } pageInfo { hasNextPage } } }",
        "{ contracts(last: 7) { edges { cursor node { id number } } pageInfo { hasPreviousPage } } }",
    ];
    let asked = gateway(ServeArgs::default()).await;
    let capped = gateway(ServeArgs::default()).await;
    capped.sandbox().unwrap().set_page_cap(Some(20));
    for query in queries {
        let expected = graphql(&asked, query, &[]).await;
        assert!(expected.get("errors").is_none(), "{expected}");
        assert_eq!(graphql(&capped, query, &[]).await, expected, "{query}");
    }
}

/// `expand=gift_card_activities` on a client's documents: asked for only when selected; the
/// documents show nothing of its shape, so the strict sandbox sends none and the field is null.
#[tokio::test]
async fn gift_card_activities_come_with_documents_where_the_server_sends_them() {
    use crate::support::pixieset_get;

    let gateway = gateway(ServeArgs { sandbox_extras: Some(true), ..ServeArgs::default() }).await;
    let sandbox = gateway.sandbox().unwrap();
    let (_, invoices) = pixieset_get(sandbox, "/invoices/?per_page=100").await;
    let mut with_gift_card = None;
    for invoice in invoices["data"].as_array().unwrap().iter().filter(|i| i["status"] == "paid") {
        let client = invoice["client_id"].as_str().unwrap();
        let (_, documents) =
            pixieset_get(sandbox, &format!("/clients/{client}/documents?expand=gift_card_activities")).await;
        let activities =
            documents["data"].as_array().unwrap().iter().filter_map(|d| d["gift_card_activities"].as_array());
        if activities.flatten().next().is_some() {
            with_gift_card = Some(client.to_string());
            break;
        }
    }
    let client = with_gift_card.expect("some client paid with a gift card");
    let query = format!(
        "{{ client(id: \"{client}\") {{ documents(first: 25) {{ nodes {{ id type giftCardActivities {{ type code amount {{ minorUnits }} }} }} }} }} }}"
    );
    let body = graphql(&gateway, &query, &[]).await;
    let nodes = body["data"]["client"]["documents"]["nodes"].as_array().unwrap_or_else(|| panic!("{body}"));
    let activities: Vec<&Value> = nodes.iter().filter_map(|n| n["giftCardActivities"].as_array()).flatten().collect();
    assert!(!activities.is_empty(), "{body}");
    assert_eq!(activities[0]["type"], "redeemed");
    assert!(activities[0]["code"].as_str().unwrap().starts_with("GIFT-"));
    assert!(activities[0]["amount"]["minorUnits"].as_i64().unwrap() > 0);

    let strict = crate::gateway::gateway(ServeArgs::default()).await;
    let body = graphql(&strict, &query, &[]).await;
    assert!(body.get("errors").is_none(), "{body}");
    let nodes = body["data"]["client"]["documents"]["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty() && nodes.iter().all(|n| n["giftCardActivities"].is_null()), "{body}");
}

/// "developerAPIkey: The API key of the developer/partner": in partner mode, contacts are created
/// by the partner, whoever calls; its key alone, without its email, names no one.
#[tokio::test]
async fn a_partner_creates_contacts_as_itself() {
    use pixgate_sandbox as sandbox;

    let create = |email: &str| {
        format!(
            "mutation {{ createPixelzContact(input: {{ email: \"{email}\", name: \"Shop\", countryCode: \"CA\" }}) {{ email apiKey userErrors {{ message }} }} }}"
        )
    };
    let partner = gateway(ServeArgs {
        pixelz_developer_api_key: Some(sandbox::PIXELZ_PARTNER_KEY.into()),
        pixelz_developer_email: Some(sandbox::PIXELZ_PARTNER_EMAIL.into()),
        ..ServeArgs::default()
    })
    .await;
    let body = graphql(&partner, &create("shop@studio.test"), &[]).await;
    assert!(body["data"]["createPixelzContact"]["apiKey"].is_string(), "{body}");
    let upstream = partner.sandbox().unwrap();
    assert_eq!(upstream.pixelz_developer_of("shop@studio.test").as_deref(), Some(sandbox::PIXELZ_PARTNER_EMAIL));

    let key_only = gateway(ServeArgs {
        pixelz_developer_api_key: Some(sandbox::PIXELZ_PARTNER_KEY.into()),
        ..ServeArgs::default()
    })
    .await;
    let body = graphql(&key_only, &create("nobody@studio.test"), &[]).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    assert_eq!(key_only.sandbox().unwrap().requests().count("POST /REST.svc/JSON/Contact"), 0);

    let caller = gateway(ServeArgs::default()).await;
    graphql(&caller, &create("own@studio.test"), &[]).await;
    let developer = caller.sandbox().unwrap().pixelz_developer_of("own@studio.test");
    assert_eq!(developer.as_deref(), Some(sandbox::PIXELZ_CONTACT_EMAIL), "without a partner, the caller");
}

/// A client's documents take only `page`: the server chooses its page size, and its `meta`
/// says how the pages go (`per_page`, `last_page`), with or without `total`.
#[tokio::test]
async fn documents_page_as_the_server_pages_them() {
    use pixgate_sandbox::documented;

    let as_documented = gateway(ServeArgs::default()).await;
    let all = format!(
        "{{ client(id: \"{}\") {{ documents(first: 25) {{ edges {{ node {{ id }} }} }} }} }}",
        documented::CLIENT_ID
    );
    let ids = |body: &Value| -> Vec<String> {
        body["data"]["client"]["documents"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let expected = ids(&graphql(&as_documented, &all, &[]).await);
    assert!(expected.len() >= 3, "the documented client has documents to page through: {expected:?}");
    // Two a page, and no total: the pages still join up, and the last page says where they end.
    let gateway = gateway(ServeArgs::default()).await;
    gateway.sandbox().unwrap().set_documents_paging(Some(2), false);
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = format!(
            "{{ client(id: \"{}\") {{ documents(first: 2{after}) {{ edges {{ cursor node {{ id }} }} pageInfo {{ hasNextPage }} }} }} }}",
            documented::CLIENT_ID
        );
        let body = graphql(&gateway, &page, &[("X-Pixieset-Cookie", "session_cookie=sandbox")]).await;
        seen.extend(ids(&body));
        let connection = &body["data"]["client"]["documents"];
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        let cursor = connection["edges"].as_array().unwrap().last().unwrap()["cursor"].as_str().unwrap().to_string();
        after = format!(", after: \"{cursor}\"");
        assert!(seen.len() <= expected.len(), "paged past the end: {seen:?}");
    }
    assert_eq!(seen, expected, "every document once, in order, and no page after the last");
}
