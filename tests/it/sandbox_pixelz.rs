//! The simulated Pixelz API, endpoint by endpoint, over loopback HTTP.

use pixgate_sandbox::{self as sandbox, documented};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// A sandbox that names its refusals (an extra), so a test can tell which one it gave.
async fn naming_sandbox() -> pixgate_sandbox::Sandbox {
    let sandbox = sandbox().await;
    sandbox.set_extras(true);
    sandbox
}

fn no_error(body: &Value) {
    assert_eq!(body["ErrorCode"], "NoError", "{body}");
}

#[tokio::test]
async fn bad_credentials_answer_200_with_an_error_code() {
    let sandbox = sandbox().await;
    let wrong = || {
        http()
            .get(format!("{}/Templates/", sandbox.pixelz_base_url()))
            .query(&[("contactEmail", sandbox::PIXELZ_CONTACT_EMAIL), ("contactAPIkey", "wrong")])
    };
    // The documents name no code but NoError: the strict sandbox refuses with a bare number.
    assert_eq!(
        answer(wrong()).await,
        (200, json!({ "ErrorCode": 1, "Message": "The contact email or API key is not valid." }))
    );
    sandbox.set_extras(true);
    let (status, body) = answer(wrong()).await;
    assert_eq!(status, 200);
    assert_eq!(body["ErrorCode"], "InvalidAPIKey");
    let (status, body) = answer(http().get(format!("{}/Contact/", sandbox.pixelz_base_url()))).await;
    assert_eq!((status, body["ErrorCode"].as_str()), (200, Some("InvalidAPIKey")));
}

#[tokio::test]
async fn templates_list_and_detail_keep_the_documented_shapes() {
    let sandbox = naming_sandbox().await;
    let list = pixelz_get(&sandbox, "/Templates/", &[]).await;
    no_error(&list);
    let templates = list["Templates"].as_array().unwrap();
    let names: Vec<&str> = templates.iter().map(|t| t["TemplateName"].as_str().unwrap()).collect();
    assert!(names.starts_with(&["JPEG MANNEQUIN", "PNG", "Flats"]), "{names:?}");
    assert_eq!(templates[0]["TemplateId"], 21_032_576);
    assert_eq!(templates[0]["Prices"][0]["Amount"], 2.0);
    assert_eq!(templates[0]["ContactId"], 4_667_360);
    assert!(templates[2].get("ColorAdjustment").is_none(), "the Flats entry has no colour fields");

    let detail = pixelz_get(&sandbox, &format!("/Template/{}/", documented::PIXELZ_TEMPLATE_ID), &[]).await;
    no_error(&detail);
    assert_eq!(detail["Message"], "Success");
    let template = &detail["Template"];
    assert_eq!(template["Id"], documented::PIXELZ_TEMPLATE_ID);
    assert_eq!(template["Price"], json!({ "Amount": 2.25, "Currency": "USD", "CurrencyId": 1 }));
    assert_eq!(template["ResizeType"], 6);
    assert_eq!(template["CreatedDate"], "2020-06-26");
    assert!(template["BackgroundColor"].is_null());
    assert_eq!(pixelz_get(&sandbox, "/Template/999/", &[]).await["ErrorCode"], "TemplateNotFound");
    assert_eq!(pixelz_get(&sandbox, "/Template/abc/", &[]).await["ErrorCode"], "InvalidParameter");
}

fn documented_template_payload() -> Value {
    json!({
        "templateName": "My_First_Template", "templateOutputFormat": "JPG", "deliveryTimeInHour": "72",
        "backgroundType": "1", "backgroundColor": "FFFFFF", "backgroundVerticalGradientColor": "",
        "resizeType": "1", "resizeUnit": "", "resizeHeight": "4", "resizeWidth": "3", "resizeMinSize": "",
        "resizeMaxSize": "", "marginType": "2", "marginTop": "10", "marginBottom": "10", "marginLeft": "15",
        "marginRight": "15", "marginVerticalAlignment": "", "shadowType": "", "isKeptMannequin": "false", "isKeptModel": "false"
    })
}

#[tokio::test]
async fn create_template_follows_the_documented_rules() {
    let sandbox = naming_sandbox().await;
    let created = pixelz_send(&sandbox, Method::POST, "/Template/", documented_template_payload()).await;
    no_error(&created);
    assert_eq!(created["Price"], json!({ "Amount": 0.95, "Currency": "USD", "CurrencyId": 1 }));
    let id = created["TemplateId"].as_i64().unwrap();
    let detail = pixelz_get(&sandbox, &format!("/Template/{id}/"), &[]).await;
    assert_eq!(detail["Template"]["MarginLeft"], 15);
    assert_eq!(detail["Template"]["DeliveryTimeInHours"], 72);
    let count = |list: &Value| list["Templates"].as_array().unwrap().len();
    let before = count(&pixelz_get(&sandbox, "/Templates/", &[]).await);

    let with = |key: &str, value: Value| {
        let mut payload = documented_template_payload();
        payload[key] = value;
        payload
    };
    for bad in [
        with("templateName", json!("Bad/Name!")),
        with("templateOutputFormat", json!("GIF")),
        with("deliveryTimeInHour", json!("48")),
        with("backgroundType", json!("4")),
        with("backgroundColor", json!("")),
        with("backgroundColor", json!("GGGGGG")),
        {
            let mut transparent_jpg = with("backgroundType", json!("2"));
            transparent_jpg["templateOutputFormat"] = json!("JPEG");
            transparent_jpg
        },
        with("backgroundType", json!("3")),
        with("resizeType", json!("7")),
        with("marginType", json!("9")),
        with("isKeptModel", json!("maybe")),
    ] {
        let answer = pixelz_send(&sandbox, Method::POST, "/Template/", bad.clone()).await;
        assert_eq!(answer["ErrorCode"], "InvalidParameter", "{bad}: {answer}");
    }
    assert_eq!(count(&pixelz_get(&sandbox, "/Templates/", &[]).await), before, "refused templates were not created");
}

#[tokio::test]
async fn submit_image_and_white_glove_answer_as_documented() {
    let sandbox = sandbox_with_step(60_000).await;
    sandbox.set_extras(true);
    let payload = json!({
        "developerAPIkey": sandbox::PIXELZ_API_KEY, "templateId": documented::PIXELZ_TEMPLATE_ID.to_string(),
        "imageURL": "http://www.mydomain.com/myimage.jpg", "imageURL2": "", "imageURL3": "", "imageURL4": "", "imageURL5": "",
        "colorReferenceFileURL": "", "imageRequestedDeliveryTimeInHours": "24",
        "imageCallbackURL": "http://www.mydomain.com/callback-url.php", "customerImageId": "12345", "productId": "Crying Baby Tee 066"
    });
    let submitted = pixelz_send(&sandbox, Method::POST, "/Image/", payload.clone()).await;
    no_error(&submitted);
    assert_eq!(submitted["IsTrial"], "false", "IsTrial is a string");
    assert_eq!(submitted["CustomerImageId"], 12345, "a numeric customer id comes back as a number");
    let ticket = submitted["ImageTicket"].as_str().unwrap();
    assert_eq!(ticket.len(), 36);
    let status = pixelz_get(&sandbox, &format!("/Image/{ticket}/"), &[]).await;
    assert_eq!(status["ImageStatus"]["StatusId"], 10);
    assert_eq!(status["ImageStatus"]["CustomerImageId"], "12345");

    let mut glove = payload.clone();
    glove.as_object_mut().unwrap().remove("templateId");
    glove["customerImageId"] = json!("abc-1");
    let glove = pixelz_send(&sandbox, Method::POST, "/WhiteGloveService/", glove).await;
    no_error(&glove);
    assert_eq!(glove["CustomerImageId"], "abc-1");

    let count = || async { pixelz_get(&sandbox, "/Images/Count/", &[]).await["ImagesCount"].as_u64().unwrap() };
    let before = count().await;
    let with = |key: &str, value: Value| {
        let mut p = payload.clone();
        p[key] = value;
        p
    };
    for (bad, code) in [
        (with("imageURL", json!("")), "InvalidParameter"),
        (with("imageURL", json!("ftp://host/x.jpg")), "InvalidParameter"),
        (with("imageURL2", json!("not a url")), "InvalidParameter"),
        (with("imageCallbackURL", json!("javascript:alert(1)")), "InvalidParameter"),
        (with("templateId", json!("424242")), "TemplateNotFound"),
        (with("imageDeadlineDateTimeUTC", json!("2020-01-01 00:00:00")), "InvalidDeadline"),
        (with("imageDeadlineDateTimeUTC", json!("tomorrow")), "InvalidDeadline"),
        (with("developerAPIkey", json!("unknown-key")), "InvalidAPIKey"),
    ] {
        let answer = pixelz_send(&sandbox, Method::POST, "/Image/", bad.clone()).await;
        assert_eq!(answer["ErrorCode"], code, "{bad}: {answer}");
    }
    assert_eq!(count().await, before, "refused images were not added");
}

#[tokio::test]
async fn status_by_ticket_or_customer_image_id() {
    let sandbox = naming_sandbox().await;
    let body = pixelz_get(&sandbox, &format!("/Image/{}/", documented::DELIVERED_TICKET), &[]).await;
    no_error(&body);
    let image = &body["ImageStatus"];
    assert_eq!(image["StatusId"], 80);
    assert_eq!(image["StatusName"], "Delivered");
    assert_eq!(image["CustomerImageId"], "1234");
    assert_eq!(image["FinalImagesURL"], json!(["/1000003/2000000/final/myimage.jpg"]));
    assert_eq!(image["ThumbnailImageURL"], "/1000003/2000000/thumbnail/myimage.jpg");
    let by_customer = pixelz_get(&sandbox, "/Image/nonticket/", &[("customerImageId", "1234")]).await;
    assert_eq!(by_customer["ImageStatus"]["ImageTicket"], documented::DELIVERED_TICKET);
    let missing = pixelz_get(&sandbox, "/Image/00000000-0000-4000-8000-000000000000/", &[]).await;
    assert_eq!(missing["ErrorCode"], "ImageNotFound");
}

#[tokio::test]
async fn images_list_filters_sorts_and_bounds_pages() {
    let sandbox = naming_sandbox().await;
    let images = |params: Vec<(&'static str, String)>| {
        let sandbox = &sandbox;
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pixelz_get(sandbox, "/Images/", &params).await
        }
    };
    let first = images(vec![]).await;
    no_error(&first);
    let list = first["Images"].as_array().unwrap();
    assert_eq!(list.len(), 10, "ten a page by default");
    let documented_entry = list.iter().find(|i| i["ImageTicket"] == documented::FINISHED_TICKET).unwrap();
    assert_eq!(
        documented_entry["FinalImagesURL"],
        json!(["1000003/2000000/final/myimage1.jpg"]),
        "no leading slash in the list"
    );
    assert_eq!(documented_entry["StatusName"], "Production Finished");

    let count = pixelz_get(&sandbox, "/Images/Count/", &[]).await["ImagesCount"].as_u64().unwrap();
    assert!(count > 200);
    let mut seen = 0;
    for page in 1.. {
        let body = images(vec![("imagesPerPage", "100".into()), ("page", page.to_string())]).await;
        let n = body["Images"].as_array().unwrap().len();
        seen += n;
        if n < 100 {
            break;
        }
    }
    assert_eq!(seen as u64, count);
    for bad in ["0", "101", "x"] {
        assert_eq!(images(vec![("imagesPerPage", bad.into())]).await["ErrorCode"], "InvalidParameter", "{bad}");
    }

    for status in STATUSES {
        let body = images(vec![("imageStatus", status.to_string()), ("imagesPerPage", "100".into())]).await;
        let found = body["Images"].as_array().unwrap();
        assert!(!found.is_empty(), "status {status} is seeded");
        assert!(found.iter().all(|i| i["StatusId"] == status));
        let counted = pixelz_get(&sandbox, "/Images/Count/", &[("imageStatus", &status.to_string())]).await;
        assert_eq!(counted["ImagesCount"].as_u64().unwrap() as usize, found.len());
    }
    let without = images(vec![("excludeImageStatus", "80".into()), ("imagesPerPage", "100".into())]).await;
    assert!(without["Images"].as_array().unwrap().iter().all(|i| i["StatusId"] != 80));
    let product = images(vec![("productId", "test product 01".into()), ("imagesPerPage", "100".into())]).await;
    assert_eq!(product["Images"].as_array().unwrap().len(), 8);
    let by_status = images(vec![("sortBy", "status".into()), ("isDescending", "true".into())]).await;
    let statuses: Vec<u64> =
        by_status["Images"].as_array().unwrap().iter().map(|i| i["StatusId"].as_u64().unwrap()).collect();
    assert_eq!(statuses[0], 999);
    assert!(statuses.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(images(vec![("sortBy", "size".into())]).await["ErrorCode"], "InvalidParameter");
    assert_eq!(images(vec![("isDescending", "yes".into())]).await["ErrorCode"], "InvalidParameter");

    let in_2024 = pixelz_get(&sandbox, "/Images/Count/", &[("fromDate", "2024-01-01"), ("toDate", "2024-12-31")]).await;
    let total_2024 = in_2024["ImagesCount"].as_u64().unwrap();
    assert!(total_2024 > 0 && total_2024 < count);
    assert_eq!(
        pixelz_get(&sandbox, "/Images/Count/", &[("fromDate", "yesterday")]).await["ErrorCode"],
        "InvalidParameter"
    );
}

/// Every documented image status.
const STATUSES: [u16; 20] = [0, 10, 12, 20, 30, 40, 60, 62, 64, 66, 70, 72, 74, 76, 78, 80, 90, 95, 100, 999];

#[tokio::test]
async fn delete_and_reject_follow_the_documented_rules() {
    let sandbox = naming_sandbox().await;
    // DELETE answers its ErrorCode as a number.
    let deleted = pixelz_send(
        &sandbox,
        Method::DELETE,
        "/Image/nonticket/",
        json!({ "imageTicket": "nonticket", "customerImageId": "1234" }),
    )
    .await;
    assert_eq!(deleted, json!({ "ErrorCode": 0, "Message": "Image was deleted" }));
    let status = pixelz_get(&sandbox, &format!("/Image/{}/", documented::DELIVERED_TICKET), &[]).await;
    assert_eq!(status["ImageStatus"]["StatusId"], 0);
    let again =
        pixelz_send(&sandbox, Method::DELETE, &format!("/Image/{}/", documented::DELIVERED_TICKET), json!({})).await;
    assert!(again["ErrorCode"].as_u64().unwrap() > 0, "{again}");

    let in_production = pixelz_get(&sandbox, "/Images/", &[("imageStatus", "60")]).await["Images"][0]["ImageTicket"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = pixelz_send(
        &sandbox,
        Method::DELETE,
        &format!("/Image/{in_production}/"),
        json!({ "imageTicket": in_production }),
    )
    .await;
    assert!(refused["ErrorCode"].as_u64().unwrap() > 0);
    assert_eq!(
        pixelz_get(&sandbox, &format!("/Image/{in_production}/"), &[]).await["ImageStatus"]["StatusId"],
        60,
        "unchanged"
    );

    let rejected = pixelz_send(
        &sandbox,
        Method::PUT,
        &format!("/Image/Reject/{}/", documented::FINISHED_TICKET),
        json!({ "comment": "Free text comment" }),
    )
    .await;
    assert_eq!(rejected, json!({ "ErrorCode": "NoError", "Message": "Image was rejected." }));
    let unfinished = pixelz_send(&sandbox, Method::PUT, &format!("/Image/Reject/{in_production}/"), json!({})).await;
    assert_eq!(unfinished["ErrorCode"], "ImageNotFinished");
    let bad_credentials = answer(
        http()
            .delete(format!("{}/Image/{in_production}/", sandbox.pixelz_base_url()))
            .json(&json!({ "contactEmail": "x@y.test", "contactAPIkey": "nope" })),
    )
    .await;
    assert_eq!(bad_credentials.1["ErrorCode"], 1);
}

#[tokio::test]
async fn product_ids_contact_and_invoices() {
    let sandbox = naming_sandbox().await;
    let products = pixelz_get(&sandbox, "/ProductIds/", &[("productIdsPerPage", "100")]).await;
    no_error(&products);
    let list = products["ProductIds"].as_array().unwrap();
    let find = |id: &str| list.iter().find(|p| p["ProductId"] == id).cloned().unwrap();
    assert_eq!(find("test product 01"), json!({ "DoneCount": 3, "ProductId": "test product 01", "TodoCount": 5 }));
    assert_eq!(find("test product 02"), json!({ "DoneCount": 2, "ProductId": "test product 02", "TodoCount": 0 }));
    assert_eq!(pixelz_get(&sandbox, "/ProductIds/", &[]).await["ProductIds"].as_array().unwrap().len(), 10);
    assert_eq!(
        pixelz_get(&sandbox, "/ProductIds/", &[("productIdsPerPage", "101")]).await["ErrorCode"],
        "InvalidParameter"
    );

    let contact = pixelz_get(&sandbox, "/Contact/", &[]).await;
    no_error(&contact);
    assert_eq!(
        contact["Contact"]["ContactAccountBalance"],
        json!({ "Amount": 81.05, "Currency": "USD", "CurrencyId": 1 })
    );
    assert_eq!(contact["Contact"]["ContactEmail"], sandbox::PIXELZ_CONTACT_EMAIL);
    assert_eq!(contact["Contact"]["NumberOfTrialImages"], 3);

    let invoices = pixelz_get(&sandbox, "/Invoices/", &[]).await;
    no_error(&invoices);
    assert_eq!(invoices["Invoices"].as_array().unwrap().len(), 50, "fixed at 50 a page");
    let old = pixelz_get(&sandbox, "/Invoices/", &[("toDate", "2012-12-31")]).await;
    let old = old["Invoices"].as_array().unwrap();
    assert_eq!(old.len(), 2);
    assert_eq!(old[0]["AmountDue"], "0.0", "AmountDue is a string");
    assert_eq!(old[1]["InvoiceId"], "INV-1289");
    assert_eq!(
        old[1]["PaymentUrl"], "/DownloadInvoice?invoiceNumber=INV-1289",
        "the documented example keeps its swapped URLs"
    );
    let page_3 = pixelz_get(&sandbox, "/Invoices/", &[("page", "3")]).await;
    assert_eq!(page_3["Invoices"].as_array().unwrap().len(), 20);
    let with_return = pixelz_get(&sandbox, "/Invoices/", &[("returnUrl", "http://test.com/testurl")]).await;
    assert!(
        with_return["Invoices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["PaymentUrl"].as_str().unwrap().ends_with("returnUrl=http://test.com/testurl"))
    );
}

#[tokio::test]
async fn a_new_contact_gets_its_own_empty_account() {
    let sandbox = naming_sandbox().await;
    let payload = json!({
        "developerEmail": sandbox::PIXELZ_PARTNER_EMAIL, "developerAPIkey": sandbox::PIXELZ_PARTNER_KEY,
        "contactEmail": "new_customer@domain.test", "contactName": "My First Customer", "countryCode": "US",
        "contactAddress1": "", "contactAddress2": "", "contactPhone": "", "contactCity": "", "contactState": "", "contactZipCode": ""
    });
    let post = |body: Value| http().post(format!("{}/Contact/", sandbox.pixelz_base_url())).json(&body);
    let (_, created) = answer(post(payload.clone())).await;
    no_error(&created);
    assert_eq!(created["ContactEmail"], "new_customer@domain.test");
    let key = created["ContactAPIkey"].as_str().unwrap().to_string();
    let (_, images) = answer(
        http()
            .get(format!("{}/Images/Count/", sandbox.pixelz_base_url()))
            .query(&[("contactEmail", "new_customer@domain.test"), ("contactAPIkey", key.as_str())]),
    )
    .await;
    assert_eq!(images["ImagesCount"], 0);
    assert_eq!(answer(post(payload.clone())).await.1["ErrorCode"], "ContactAlreadyExists");
    for (key, value) in [("countryCode", "USA"), ("contactEmail", "nope"), ("developerAPIkey", "wrong")] {
        let mut bad = payload.clone();
        bad[key] = json!(value);
        bad["contactEmail"] = if key == "contactEmail" { json!(value) } else { json!(format!("{key}@domain.test")) };
        let (_, body) = answer(post(bad)).await;
        assert_ne!(body["ErrorCode"], "NoError", "{key}: {body}");
    }
}
