//! Every example response body in the upstream documents parses into the typed model.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::pixelz::wire as pixelz_wire;
use super::pixieset::wire as pixieset_wire;
use super::transport::status_error;
use super::{Endpoint, PixelzClient, UpstreamError, UpstreamSettings, Verb};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream/", $name, ".json"))
    };
}

fn pixieset<T: DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const PIXELZ: Endpoint = Endpoint::pixelz(Verb::Get, "/fixture/");

fn pixelz<T: DeserializeOwned>(text: &str) -> Result<T, UpstreamError> {
    PixelzClient::read(PIXELZ, StatusCode::OK, text.as_bytes(), &[])
}

fn client() -> PixelzClient {
    let base = "https://api.pixelz.com/REST.svc/JSON".parse().unwrap();
    let assets = "https://assets.pixelz.test/".parse().unwrap();
    PixelzClient::new(reqwest::Client::new(), base, Some(assets), UpstreamSettings::default())
}

#[test]
fn pixieset_client_lists() {
    let overview: pixieset_wire::Page<pixieset_wire::Client> = pixieset(fixture!("pixieset-clients-list-overview"));
    assert_eq!(overview.data[0].id, "cl_ABC123DEF456GHI789JKL012MNO345");
    assert_eq!((overview.meta.total, overview.meta.per_page, overview.meta.last_page), (Some(513), Some(25), None));
    let list: pixieset_wire::Page<pixieset_wire::Client> = pixieset(fixture!("pixieset-clients-list"));
    let client = &list.data[0];
    assert_eq!(client.kind.as_deref(), Some("client"));
    assert_eq!(client.avatar_color, Some(8));
    assert_eq!(client.created_at.unwrap().to_rfc3339(), "2025-08-06T14:50:42+00:00");
    let address = client.address_info.as_ref().unwrap();
    assert_eq!((address.city.as_deref(), address.country_id), (Some("New York"), Some(223)));
    assert_eq!(list.meta.last_page, Some(21));
    let address: pixieset_wire::Address = pixieset(fixture!("pixieset-address-info"));
    assert_eq!(address.address_line_2.as_deref(), Some("Apt 4B"));
}

#[test]
fn pixieset_contracts() {
    let list: pixieset_wire::Page<pixieset_wire::Contract> = pixieset(fixture!("pixieset-contracts-list"));
    let contract = &list.data[0];
    assert_eq!(
        contract.client_id(),
        Some("cl_ABC123DEF456GHI789JKL012MNO345"),
        "the id comes from the embedded summary"
    );
    assert_eq!(contract.template.as_ref().unwrap().due_days, Some(Some(14)));
    assert_eq!(contract.client.as_ref().unwrap().phone, None, "the list's summary does not hold a phone");
    assert!(contract.signed_date.is_none());
    assert_eq!((list.meta.total, list.meta.last_page), (Some(45), Some(2)));

    let detail: pixieset_wire::Data<pixieset_wire::Contract> = pixieset(fixture!("pixieset-contract-detail"));
    let contract = detail.data;
    let content = contract.content.unwrap();
    assert_eq!(content.variables.unwrap()["event_location"], "Central Park, NYC");
    let signatures = contract.signatures.unwrap();
    assert_eq!(signatures.len(), 2);
    assert_eq!(signatures[1].signed_at.unwrap().to_rfc3339(), "2025-08-10T15:30:00+00:00");
    assert_eq!(contract.client.unwrap().phone, Some(Some("+1-555-123-4567".into())));
}

#[test]
fn pixieset_contract_templates() {
    let list: pixieset_wire::Page<pixieset_wire::ContractTemplate> =
        pixieset(fixture!("pixieset-contract-templates-list"));
    assert_eq!(list.data.len(), 2);
    assert_eq!((list.meta.total, list.meta.current_page), (Some(2), None), "this list carries only a total");
    assert_eq!(list.data[1].reminders.as_ref().unwrap().days_before_due, Some(vec![3, 1]));

    let detail: pixieset_wire::Data<pixieset_wire::ContractTemplate> =
        pixieset(fixture!("pixieset-contract-template-detail"));
    let template = detail.data;
    assert_eq!(template.variables.as_ref().unwrap().len(), 6);
    assert_eq!(template.signers.as_ref().unwrap()[1].title.as_deref(), Some("Photographer"));
    assert_eq!(template.document_settings.unwrap().watermark, Some(Some("DRAFT".into())));

    let update: pixieset_wire::Data<pixieset_wire::ContractTemplate> =
        pixieset(fixture!("pixieset-contract-template-update"));
    assert_eq!((update.data.due_days, update.data.html_body), (Some(21), None));

    let variable: pixieset_wire::TemplateVariable = pixieset(fixture!("pixieset-template-variable"));
    assert_eq!((variable.name.as_str(), variable.required), ("client_name", Some(true)));
    let signer: pixieset_wire::Signer = pixieset(fixture!("pixieset-template-signer"));
    assert_eq!((signer.kind.as_str(), signer.email_required), ("client", Some(true)));
}

#[test]
fn pixieset_error_bodies() {
    let endpoint = Endpoint::pixieset(Verb::Get, "/contracts/{contract_id}");
    let body = fixture!("pixieset-error-contract-not-found").as_bytes();
    match status_error(endpoint, StatusCode::NOT_FOUND, None, body, &[]) {
        UpstreamError::NotFound { message: Some(message), .. } => assert!(message.contains("co_CON001")),
        other => panic!("{other:?}"),
    }
    let body = fixture!("pixieset-error-template-not-found").as_bytes();
    assert_eq!(status_error(endpoint, StatusCode::NOT_FOUND, None, body, &[]).code(), "NOT_FOUND");
    let body = fixture!("pixieset-error-invalid-variable").as_bytes();
    match status_error(endpoint, StatusCode::BAD_REQUEST, None, body, &[]) {
        UpstreamError::Invalid { message, details: Some(details), .. } => {
            assert!(message.contains("invalid_var"));
            assert_eq!(details["available_variables"][0], "client_name");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pixelz_templates_with_exact_prices() {
    let template = pixelz::<pixelz_wire::TemplateAnswer>(fixture!("pixelz-template")).unwrap().template;
    assert_eq!((template.id.as_str(), template.name.as_deref()), ("2066863", Some("PNG")));
    assert_eq!(template.price.unwrap().money().unwrap().amount(), "2.25");
    assert_eq!(template.created_date.unwrap().to_string(), "2020-06-26");
    assert_eq!((template.resize_type, template.resize_height), (Some(6), None));

    let list = pixelz::<pixelz_wire::TemplatesAnswer>(fixture!("pixelz-templates")).unwrap().templates;
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].prices[0].money().unwrap().amount(), "2.00");
    assert_eq!(list[1].prices[0].money().unwrap().minor_units(), 150);
    assert_eq!(list[2].color_matching, None, "the Flats entry has no colour fields");

    let created = pixelz::<pixelz_wire::CreatedTemplate>(fixture!("pixelz-template-created")).unwrap();
    assert_eq!(
        (created.template_id.as_str(), created.price.unwrap().money().unwrap().amount()),
        ("2017982", "0.95".into())
    );
}

#[test]
fn pixelz_images() {
    for submitted in [fixture!("pixelz-image-submitted"), fixture!("pixelz-white-glove-submitted")] {
        let submitted = pixelz::<pixelz_wire::SubmittedImage>(submitted).unwrap();
        assert_eq!(submitted.image_ticket, "a37a1f55-7cd4-4474-db19-ac03e85538a7");
        assert_eq!(submitted.is_trial, Some(false), "IsTrial is the string \"false\"");
        assert_eq!(submitted.customer_image_id.as_deref(), Some("12345"), "a number becomes text");
    }
    pixelz::<Value>(fixture!("pixelz-image-deleted")).expect("ErrorCode 0 is no error");
    pixelz::<Value>(fixture!("pixelz-image-rejected")).unwrap();

    let client = client();
    let status = pixelz::<pixelz_wire::ImageStatusAnswer>(fixture!("pixelz-image-status")).unwrap().image_status;
    let status = client.located_image(status);
    assert_eq!(status.status_id, Some(80));
    assert_eq!(status.final_images_url, ["https://assets.pixelz.test/1000003/2000000/final/myimage.jpg"]);
    assert_eq!(
        status.thumbnail_image_url.as_deref(),
        Some("https://assets.pixelz.test/1000003/2000000/thumbnail/myimage.jpg")
    );

    let images = pixelz::<pixelz_wire::ImagesAnswer>(fixture!("pixelz-images")).unwrap().images;
    let first = client.located_image(images[0].clone());
    assert_eq!(
        first.final_images_url,
        ["https://assets.pixelz.test/1000003/2000000/final/myimage1.jpg"],
        "no leading slash, same URL"
    );
    assert_eq!(first.customer_image_id, None, "\"\" is nothing");
    assert_eq!(images[1].status_name.as_deref(), Some("Delivered"));

    assert_eq!(pixelz::<pixelz_wire::CountAnswer>(fixture!("pixelz-images-count")).unwrap().images_count, Some(315));
    let products = pixelz::<pixelz_wire::ProductIdsAnswer>(fixture!("pixelz-product-ids")).unwrap().product_ids;
    assert_eq!((products[0].done_count, products[0].todo_count), (Some(3), Some(5)));
}

#[test]
fn pixelz_account_and_invoices() {
    let contact = pixelz::<pixelz_wire::ContactAnswer>(fixture!("pixelz-contact")).unwrap().contact;
    assert_eq!(contact.contact_account_balance.unwrap().money().unwrap().amount(), "81.05");
    assert_eq!(contact.contact_email.as_deref(), Some("john @ pixelz.com"));
    let created = pixelz::<pixelz_wire::CreatedContact>(fixture!("pixelz-contact-created")).unwrap();
    assert_eq!(created.api_key, "5ea1a104-f31f-4de1-b7f8-e4444e38e32a");

    let mut invoices = pixelz::<pixelz_wire::InvoicesAnswer>(fixture!("pixelz-invoices")).unwrap().invoices;
    assert_eq!(invoices[0].amount_due.as_deref(), Some("0.0"));
    let broken = &mut invoices[1];
    assert_eq!(broken.amount_due.as_deref(), Some("105.00"));
    broken.repair_urls();
    assert_eq!(broken.invoice_url.as_deref(), Some("/DownloadInvoice?invoiceNumber=INV-1289"));
    assert_eq!(broken.payment_url.as_deref(), Some("/Transactions?key=1234567890&returnUrl=http://test.com/testurl"));
    invoices[0].repair_urls();
    assert_eq!(
        (invoices[0].invoice_url.as_deref(), invoices[0].payment_url.as_deref()),
        (Some("/DownloadInvoice?invoiceNumber=INV-1315"), None)
    );
}

#[test]
fn pixelz_refusals_are_errors_in_either_form() {
    for (body, code) in [
        (r#"{"ErrorCode":"InvalidAPIKey","Message":"no"}"#, "InvalidAPIKey"),
        (r#"{"ErrorCode":4,"Message":"gone"}"#, "4"),
    ] {
        match pixelz::<Value>(body) {
            Err(UpstreamError::Refused { code: found, .. }) => assert_eq!(found, code),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        pixelz::<pixelz_wire::ContactAnswer>("{\"ErrorCode\":\"NoError\""),
        Err(UpstreamError::Malformed { .. })
    ));
}

#[test]
fn relative_urls_are_located_only_where_the_operator_says() {
    let client = client();
    assert_eq!(
        client.located("/DownloadInvoice?invoiceNumber=1").as_deref(),
        Some("https://assets.pixelz.test/DownloadInvoice?invoiceNumber=1")
    );
    assert_eq!(client.located("https://cdn.test/x.jpg").as_deref(), Some("https://cdn.test/x.jpg"));
    assert_eq!(client.located("  "), None);
    let unlocated = PixelzClient::new(
        reqwest::Client::new(),
        "https://api.pixelz.com/REST.svc/JSON".parse().unwrap(),
        None,
        UpstreamSettings::default(),
    );
    assert_eq!(unlocated.located(" 1000003/final/a.jpg ").as_deref(), Some("/1000003/final/a.jpg"), "no host guessed");
}

/// What a write returns is remembered through Redis as JSON (`crate::idempotency`):
/// read back, it must be what was written, to the last absent field.
fn remembered<T: serde::Serialize + DeserializeOwned + std::fmt::Debug>(value: &T) {
    let text = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(format!("{back:?}"), format!("{value:?}"), "{text}");
}

/// What one instance fetched, another reads from the shared cache tier: to the last
/// absent field, what it reads must be what was fetched.
fn shared<T: crate::cache::Cacheable>(value: &T) {
    let back = crate::cache::through_shared_tier(value);
    assert_eq!(format!("{back:?}"), format!("{value:?}"));
}

#[test]
fn every_cached_answer_reads_back_from_the_shared_tier_as_it_was() {
    shared(&pixieset::<pixieset_wire::Page<pixieset_wire::Client>>(fixture!("pixieset-clients-list")));
    shared(&pixieset::<pixieset_wire::Page<pixieset_wire::Client>>(fixture!("pixieset-clients-list-overview")));
    shared(&pixieset::<pixieset_wire::Page<pixieset_wire::Contract>>(fixture!("pixieset-contracts-list")));
    shared(&pixieset::<pixieset_wire::Data<pixieset_wire::Contract>>(fixture!("pixieset-contract-detail")).data);
    shared(&pixieset::<pixieset_wire::Page<pixieset_wire::ContractTemplate>>(fixture!(
        "pixieset-contract-templates-list"
    )));
    for template in [fixture!("pixieset-contract-template-detail"), fixture!("pixieset-contract-template-update")] {
        shared(&pixieset::<pixieset_wire::Data<pixieset_wire::ContractTemplate>>(template).data);
    }
    // No document shows these answers; every field the model reads, some held as null.
    shared(&pixieset::<pixieset_wire::Page<pixieset_wire::Document>>(
        r#"{"data": [{"id": "in_1", "title": "Wedding", "amount": "250000", "created_at": "2026-11-30T12:00:00Z",
            "gift_card_activities": [{"id": "gc_1", "type": "redeem", "code": "X", "amount": 500}]},
            {"id": "co_2", "status": null}], "meta": {"total": 2}}"#,
    ));
    shared(&pixieset::<pixieset_wire::Page<pixieset_wire::Collection>>(
        r#"{"data": [{"id": "col_1", "name": "Wedding", "photo_count": "12", "event_date": "2026-06-01"}]}"#,
    ));
    shared(&pixieset::<pixieset_wire::Page<pixieset_wire::Invoice>>(
        r#"{"data": [{"id": "in_1", "client": {"id": "cl_1", "first_name": null}, "due_date": "2026-12-30",
            "line_items": [{"name": "Wedding", "amount": 100}]}], "meta": {"current_page": 1, "last_page": 1}}"#,
    ));
    shared(&pixelz::<pixelz_wire::TemplatesAnswer>(fixture!("pixelz-templates")).unwrap().templates);
    shared(&pixelz::<pixelz_wire::TemplateAnswer>(fixture!("pixelz-template")).unwrap().template);
    shared(&pixelz::<pixelz_wire::ImageStatusAnswer>(fixture!("pixelz-image-status")).unwrap().image_status);
    shared(&pixelz::<pixelz_wire::ImagesAnswer>(fixture!("pixelz-images")).unwrap().images);
    shared(&pixelz::<pixelz_wire::CountAnswer>(fixture!("pixelz-images-count")).unwrap().images_count);
    shared(&pixelz::<pixelz_wire::ProductIdsAnswer>(fixture!("pixelz-product-ids")).unwrap().product_ids);
    shared(&pixelz::<pixelz_wire::ContactAnswer>(fixture!("pixelz-contact")).unwrap().contact);
    shared(&pixelz::<pixelz_wire::InvoicesAnswer>(fixture!("pixelz-invoices")).unwrap().invoices);
}

#[test]
fn written_results_read_back_as_they_were() {
    let clients: pixieset_wire::Page<pixieset_wire::Client> = pixieset(fixture!("pixieset-clients-list"));
    clients.data.iter().for_each(remembered);
    let invoice: pixieset_wire::Invoice = pixieset(
        r#"{"id": "in_ABC123DEF456GHI789JKL012MNO345", "invoice_number": "1042", "status": "draft",
            "client": {"id": "cl_ABC123DEF456GHI789JKL012MNO345", "first_name": "John", "email": null},
            "amount": 250000, "currency": "USD", "due_date": "2026-12-30", "created_at": "2026-11-30T12:00:00Z",
            "line_items": [{"id": "li_1", "name": "Wedding", "amount": 250000, "quantity": "1"}]}"#,
    );
    remembered(&invoice);
    let submitted: pixelz_wire::SubmittedImage = pixelz(fixture!("pixelz-image-submitted")).unwrap();
    remembered(&submitted);
}
