//! The typed upstream clients against the sandbox over loopback HTTP.

use std::time::Duration;

use chrono::NaiveDate;
use pixgate::secret::Secret;
use pixgate::upstream::pixelz::wire::{ImageQuery, ImageRef, ImageSort, ImageSubmission, NewContact, NewTemplate};
use pixgate::upstream::pixieset::wire::{ClientInput, ContractTemplateInput, NewInvoice, NewLineItem, Reminders};
use pixgate::upstream::pixieset::{ClientQuery, Expand, InvoiceQuery, Paging};
use pixgate::upstream::{
    PixelzCredentials, PixiesetCredentials, Refusal, UpstreamError, UpstreamSettings, UpstreamUrls, Upstreams,
};
use pixgate_sandbox::{self as sandbox, Faults, Sandbox, documented};

use crate::support::*;

pub fn settings() -> UpstreamSettings {
    UpstreamSettings {
        backoff_base: Duration::from_millis(2),
        timeout: Duration::from_secs(5),
        // These tests count retries; the circuit has tests of its own.
        failures_to_open: 1_000,
        ..UpstreamSettings::default()
    }
}

pub fn clients_for(sandbox: &Sandbox, settings: UpstreamSettings) -> Upstreams {
    let urls = UpstreamUrls {
        pixieset: sandbox.pixieset_base_url().parse().unwrap(),
        pixelz: sandbox.pixelz_base_url().parse().unwrap(),
        pixelz_assets: None,
    };
    Upstreams::new(urls, settings).unwrap()
}

pub fn studio() -> PixiesetCredentials {
    PixiesetCredentials::new(Secret::new(sandbox::PIXIESET_COOKIE))
}

pub fn contact() -> PixelzCredentials {
    PixelzCredentials::new(sandbox::PIXELZ_CONTACT_EMAIL, Secret::new(sandbox::PIXELZ_API_KEY))
}

#[tokio::test]
async fn every_pixieset_method() {
    let sandbox = sandbox().await;
    let api = clients_for(&sandbox, settings()).pixieset;
    let me = studio();

    let page = api
        .clients(&me, &ClientQuery { paging: Paging { page: Some(2), per_page: Some(10) }, types: vec!["lead".into()] })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 10);
    assert_eq!(page.meta.current_page, Some(2));
    assert!(page.data.iter().all(|c| c.kind.as_deref() == Some("lead")));
    let found = api.search_clients(&me, "john", None, Paging::default()).await.unwrap();
    assert!(found.data.iter().any(|c| c.id == CLIENT_ID));
    let client = api.client(&me, CLIENT_ID).await.unwrap();
    assert_eq!(client.address_info.unwrap().country.as_deref(), Some("United States"));

    let created = api
        .create_client(
            &me,
            &ClientInput {
                first_name: Some("Grace".into()),
                email: Some("grace@example.com".into()),
                kind: Some("lead".into()),
                ..ClientInput::default()
            },
        )
        .await
        .unwrap();
    assert!(created.id.starts_with("cl_"));
    let updated = api
        .update_client(&me, &created.id, &ClientInput { company: Some("Hopper Labs".into()), ..ClientInput::default() })
        .await
        .unwrap();
    assert_eq!(
        (updated.company.as_deref(), updated.email.as_deref()),
        (Some("Hopper Labs"), Some("grace@example.com"))
    );

    let collections =
        api.client_collections(&me, CLIENT_ID, Paging { page: Some(1), per_page: Some(5) }).await.unwrap();
    assert!(collections.meta.total.is_some());
    let documents = api.client_documents(&me, CLIENT_ID, Some(1), true).await.unwrap();
    assert!(documents.data.iter().any(|d| d.id == documented::INVOICE_ID && d.document_type() == Some("invoice")));

    let invoices = api
        .invoices(
            &me,
            &InvoiceQuery { client_id: Some(CLIENT_ID.into()), expand_client: true, ..InvoiceQuery::default() },
        )
        .await
        .unwrap();
    assert!(invoices.data.iter().all(|i| i.client.as_ref().is_some_and(|c| c.id == CLIENT_ID)));
    let missing = api.invoice(&me, documented::INVOICE_ID, false).await.unwrap_err();
    assert!(matches!(missing, UpstreamError::NotFound { code: None, .. }), "{missing:?}");
    assert!(!api.has_invoice_endpoint(), "a 404 without Pixieset's error code: the server has no such path");
    sandbox.set_extras(true);
    let invoice = api.invoice(&me, documented::INVOICE_ID, false).await.unwrap();
    assert_eq!(
        (invoice.amount, invoice.line_items.as_ref().map(|l| l[0].amount)),
        (Some(250_000), Some(Some(250_000)))
    );
    let new_invoice = NewInvoice {
        client_id: CLIENT_ID.into(),
        due_date: NaiveDate::from_ymd_opt(2027, 1, 31),
        line_items: vec![NewLineItem { name: "Album".into(), description: None, amount: 8990, quantity: 2 }],
        send_email: false,
    };
    let created = api.create_invoice(&me, &new_invoice).await.unwrap();
    assert_eq!(
        (created.amount, created.status.as_deref(), created.due_date),
        (Some(17_980), Some("draft"), new_invoice.due_date)
    );

    let contracts = api.contracts(&me, Paging { page: Some(1), per_page: Some(45) }, Expand::All).await.unwrap();
    assert_eq!(contracts.data.len(), 45);
    assert!(contracts.data.iter().all(|c| c.client.is_some() && c.template.is_some()));
    let contract = api.contract(&me, documented::CONTRACT_ID, Expand::All).await.unwrap();
    assert_eq!(contract.signatures.unwrap().len(), 2);
    assert!(contract.content.unwrap().rendered_html.is_some());

    let templates = api.contract_templates(&me).await.unwrap();
    assert_eq!(templates.meta.total, Some(templates.data.len() as i64));
    let template = api.contract_template(&me, documented::TEMPLATE_ID).await.unwrap();
    assert_eq!(template.variables.unwrap().len(), 6);
    let input = ContractTemplateInput {
        due_days: Some(21),
        reminders: Some(Reminders { enabled: Some(true), days_before_due: Some(vec![14, 7]), ..Reminders::default() }),
        ..ContractTemplateInput::default()
    };
    let changed = api.update_contract_template(&me, documented::TEMPLATE_ID, &input).await.unwrap();
    assert_eq!((changed.due_days, changed.name), (Some(21), None), "the answer holds only what changed");
}

#[tokio::test]
async fn every_pixelz_method() {
    // A still clock: the delete below needs the image not yet in production.
    let sandbox = sandbox_with_step(60_000).await;
    let api = clients_for(&sandbox, settings()).pixelz;
    let me = contact();

    let templates = api.templates(&me).await.unwrap();
    assert!(templates.iter().any(|t| t.template_id == documented::PIXELZ_TEMPLATE_ID.to_string()));
    let template = api.template(&me, documented::PIXELZ_TEMPLATE_ID).await.unwrap();
    assert_eq!(template.price.unwrap().money().unwrap().amount(), "2.25");
    let new_template = NewTemplate {
        name: "Studio White (v2)".into(),
        output_format: "PNG".into(),
        delivery_hours: 72,
        background_type: 1,
        background_color: Some("FFFFFF".into()),
        margin_type: Some(2),
        margin_top: Some(10),
        ..NewTemplate::default()
    };
    let created = api.create_template(&me, &new_template).await.unwrap();
    assert_eq!(created.price.unwrap().money().unwrap().amount(), "0.95");

    let submission = ImageSubmission {
        image_urls: vec!["https://images.example.com/a.jpg".into(), "https://images.example.com/b.jpg".into()],
        template_id: Some(documented::PIXELZ_TEMPLATE_ID),
        customer_image_id: Some("98765".into()),
        product_id: Some("SKU-NEW".into()),
        deadline: Some((chrono::Utc::now() + chrono::Duration::days(3)).naive_utc()),
        ..ImageSubmission::default()
    };
    let submitted = api.submit_image(&me, &submission).await.unwrap();
    assert_eq!((submitted.is_trial, submitted.customer_image_id.as_deref()), (Some(false), Some("98765")));
    let glove = api
        .request_white_glove(&me, &ImageSubmission { customer_image_id: Some("glove-1".into()), ..submission.clone() })
        .await
        .unwrap();
    assert_ne!(glove.image_ticket, submitted.image_ticket);

    let by_ticket = api.image_status(&me, &ImageRef::Ticket(documented::DELIVERED_TICKET.into())).await.unwrap();
    assert_eq!(by_ticket.status_id, Some(80));
    assert_eq!(
        by_ticket.final_images_url,
        ["/1000003/2000000/final/myimage.jpg"],
        "as Pixelz gives it: no document names the host"
    );
    let by_customer = api.image_status(&me, &ImageRef::CustomerImageId("98765".into())).await.unwrap();
    assert_eq!(by_customer.image_ticket, submitted.image_ticket);

    let images = api
        .images(
            &me,
            &ImageQuery {
                status: Some(80),
                per_page: Some(100),
                sort_by: Some(ImageSort::Date),
                descending: Some(true),
                ..ImageQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(!images.is_empty() && images.iter().all(|i| i.status_id == Some(80)));
    assert!(images.iter().all(|i| i.thumbnail_image_url.as_deref().is_some_and(|u| u.starts_with('/'))));
    let count = api.count_images(&me, Some(80), None, None).await.unwrap();
    assert_eq!(count, Some(images.len() as i64));
    let products = api.product_ids(&me, Some(1), Some(100)).await.unwrap();
    assert!(products.iter().any(|p| p.product_id == "SKU-NEW" && p.todo_count == Some(2)));

    api.reject_image(&me, &ImageRef::Ticket(documented::FINISHED_TICKET.into()), Some("too dark")).await.unwrap();
    api.delete_image(&me, &ImageRef::CustomerImageId("glove-1".into())).await.unwrap();
    let deleted = api.image_status(&me, &ImageRef::Ticket(glove.image_ticket.clone())).await.unwrap();
    assert_eq!(deleted.status_id, Some(0));

    let account = api.contact(&me).await.unwrap();
    assert_eq!(account.contact_account_balance.unwrap().money().unwrap().amount(), "81.05");
    let partner = PixelzCredentials::new(sandbox::PIXELZ_PARTNER_EMAIL, Secret::new(sandbox::PIXELZ_PARTNER_KEY));
    let new_contact = NewContact {
        email: "newbie@studio.test".into(),
        name: "New Studio".into(),
        country_code: "CA".into(),
        ..NewContact::default()
    };
    let created = api.create_contact(&partner, &new_contact).await.unwrap();
    let newbie = PixelzCredentials::new("newbie@studio.test", Secret::new(created.api_key));
    assert_eq!(api.count_images(&newbie, None, None, None).await.unwrap(), Some(0));

    let invoices =
        api.invoices(&me, None, Some(NaiveDate::from_ymd_opt(2012, 12, 31).unwrap()), None, None).await.unwrap();
    let repaired = invoices.iter().find(|i| i.invoice_id == "INV-1289").unwrap();
    assert_eq!(repaired.invoice_url.as_deref(), Some("/DownloadInvoice?invoiceNumber=INV-1289"));
    assert_eq!(repaired.amount_due.as_deref(), Some("105.00"));
    assert_eq!(api.invoices(&me, None, None, Some(1), None).await.unwrap().len(), 50);
}

fn count(sandbox: &Sandbox, endpoint: &str) -> u64 {
    sandbox.requests().count(endpoint)
}

#[tokio::test]
async fn upstream_answers_become_the_right_errors() {
    let sandbox = sandbox().await;
    let upstreams = clients_for(&sandbox, settings());
    let stranger = PixiesetCredentials::new(Secret::new("session_cookie=stolen"));
    let error = upstreams.pixieset.client(&stranger, CLIENT_ID).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unauthenticated { status: 401, .. }), "{error:?}");
    assert_eq!(count(&sandbox, "GET /api/v1/clients/{client_id}"), 1, "a 401 is not retried");

    let error = upstreams.pixieset.client(&studio(), "cl_ZZZ123DEF456GHI789JKL012MNO345").await.unwrap_err();
    assert!(matches!(&error, UpstreamError::NotFound { message: Some(m), .. } if m.contains("not found")), "{error:?}");

    let bad = ClientInput { email: Some("nope".into()), ..ClientInput::default() };
    match upstreams.pixieset.update_client(&studio(), CLIENT_ID, &bad).await.unwrap_err() {
        UpstreamError::Invalid { status: 422, details: Some(details), .. } => assert!(details["email"].is_array()),
        other => panic!("{other:?}"),
    }

    let wrong = PixelzCredentials::new(sandbox::PIXELZ_CONTACT_EMAIL, Secret::new("wrong-key"));
    let error = upstreams.pixelz.contact(&wrong).await.unwrap_err();
    assert!(matches!(&error, UpstreamError::Refused { meaning: Refusal::Credentials, .. }), "{error:?}");
    assert_eq!(error.code(), "UNAUTHENTICATED");
    // Any refusal with those credentials means them: GET Contact is refused too.
    let error = upstreams.pixelz.templates(&wrong).await.unwrap_err();
    assert_eq!(error.code(), "UNAUTHENTICATED", "{error:?}");
    let error = upstreams
        .pixelz
        .image_status(&contact(), &ImageRef::Ticket("00000000-0000-4000-8000-000000000000".into()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "NOT_FOUND");
    let error = upstreams
        .pixelz
        .delete_image(&contact(), &ImageRef::Ticket("00000000-0000-4000-8000-000000000000".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, UpstreamError::Refused { code, meaning: Refusal::NotFound, .. } if code == "4"),
        "a numeric ErrorCode, and no such image: {error:?}"
    );
    let in_production = upstreams
        .pixelz
        .images(&contact(), &ImageQuery { status: Some(60), per_page: Some(1), ..ImageQuery::default() })
        .await
        .unwrap();
    let ticket = ImageRef::Ticket(in_production[0].image_ticket.clone());
    let error = upstreams.pixelz.delete_image(&contact(), &ticket).await.unwrap_err();
    assert_eq!(error.code(), "BAD_USER_INPUT", "the image is there, in production: {error:?}");
}

#[tokio::test]
async fn server_errors_are_retried_to_the_bound_for_reads_only() {
    let sandbox = sandbox().await;
    let upstreams = clients_for(&sandbox, settings());
    sandbox.set_faults(Faults { error_rate: 1.0, error_status: 503, ..Faults::default() });

    let error = upstreams.pixieset.client(&studio(), CLIENT_ID).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable { status: Some(503), .. }), "{error:?}");
    assert_eq!(count(&sandbox, "GET /api/v1/clients/{client_id}"), 3, "three attempts, no more");
    upstreams.pixieset.update_client(&studio(), CLIENT_ID, &ClientInput::default()).await.unwrap_err();
    assert_eq!(
        count(&sandbox, "PUT /api/v1/clients/{client_id}"),
        1,
        "an overwrite sent again could undo a change made in between"
    );

    let input = ClientInput {
        first_name: Some("Once".into()),
        email: Some("once@example.com".into()),
        ..ClientInput::default()
    };
    upstreams.pixieset.create_client(&studio(), &input).await.unwrap_err();
    assert_eq!(count(&sandbox, "POST /api/v1/clients"), 1, "a POST that reached the server is never repeated");
    let image =
        ImageSubmission { image_urls: vec!["https://images.example.com/x.jpg".into()], ..ImageSubmission::default() };
    upstreams.pixelz.submit_image(&contact(), &image).await.unwrap_err();
    assert_eq!(count(&sandbox, "POST /REST.svc/JSON/Image"), 1);
    upstreams
        .pixelz
        .delete_image(&contact(), &ImageRef::Ticket(documented::DELIVERED_TICKET.into()))
        .await
        .unwrap_err();
    assert_eq!(count(&sandbox, "DELETE /REST.svc/JSON/Image/{ticket}"), 1);

    // Once the faults stop, the next call succeeds: nothing was remembered.
    sandbox.set_faults(Faults::default());
    assert!(upstreams.pixieset.client(&studio(), CLIENT_ID).await.is_ok());
}

#[tokio::test]
async fn rate_limits_honour_retry_after() {
    let sandbox = sandbox().await;
    let upstreams = clients_for(&sandbox, settings());
    sandbox.set_faults(Faults { error_rate: 1.0, error_status: 429, retry_after_secs: 30, ..Faults::default() });
    let started = std::time::Instant::now();
    let error = upstreams.pixelz.contact(&contact()).await.unwrap_err();
    assert!(matches!(error, UpstreamError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 30), "{error:?}");
    assert_eq!(error.code(), "RATE_LIMITED");
    assert_eq!(count(&sandbox, "GET /REST.svc/JSON/Contact"), 1, "a 429 is never retried: it goes back to the caller");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Until the Retry-After passes, these credentials' calls fail fast, and none is made.
    let error = upstreams.pixelz.templates(&contact()).await.unwrap_err();
    assert!(
        matches!(error, UpstreamError::CircuitOpen { retry_after, .. } if retry_after.as_secs() >= 29),
        "{error:?}"
    );
    assert_eq!(
        (error.code(), error.retry_after().map(|d| d.as_secs())),
        (pixgate::error_code::ErrorCode::UpstreamUnavailable, Some(30))
    );
    assert_eq!(sandbox.requests().total, 1);
}

#[tokio::test]
async fn malformed_answers_and_timeouts() {
    let sandbox = sandbox().await;
    let upstreams = clients_for(&sandbox, UpstreamSettings { timeout: Duration::from_millis(150), ..settings() });
    sandbox.set_faults(Faults { malformed_rate: 1.0, ..Faults::default() });
    match upstreams.pixieset.client(&studio(), CLIENT_ID).await.unwrap_err() {
        UpstreamError::Malformed { status: 200, excerpt, .. } => {
            assert!(excerpt.starts_with("{\"data\"") && excerpt.len() <= 120 * 4)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count(&sandbox, "GET /api/v1/clients/{client_id}"), 3, "a cut body may be a passing fault: reads retry");
    let input = NewInvoice {
        client_id: CLIENT_ID.into(),
        due_date: NaiveDate::from_ymd_opt(2027, 1, 31),
        line_items: vec![NewLineItem { name: "x".into(), description: None, amount: 1, quantity: 1 }],
        send_email: false,
    };
    let error = upstreams.pixieset.create_invoice(&studio(), &input).await.unwrap_err();
    assert!(matches!(error, UpstreamError::OutcomeUnknown { status: Some(201), .. }), "{error:?}");
    assert_eq!(error.code(), "WRITE_OUTCOME_UNKNOWN");
    assert_eq!(count(&sandbox, "POST /api/v1/invoices"), 1, "the invoice may exist: never sent twice");

    sandbox.set_faults(Faults { latency_ms: 400, ..Faults::default() });
    let error = upstreams.pixelz.contact(&contact()).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable { status: None, .. }), "{error:?}");
    assert_eq!(error.code(), "UPSTREAM_UNAVAILABLE");
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let sandbox = sandbox().await;
    let upstreams = clients_for(&sandbox, settings());
    sandbox.shutdown().await;
    let error = upstreams.pixieset.create_client(&studio(), &ClientInput::default()).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable { status: None, .. }), "{error:?}");
}

#[tokio::test]
async fn the_concurrency_limit_holds_calls_back() {
    let sandbox = sandbox().await;
    let upstreams = clients_for(&sandbox, UpstreamSettings { concurrency: 2, ..settings() });
    sandbox.set_faults(Faults { latency_ms: 100, ..Faults::default() });
    let started = std::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let pixelz = upstreams.pixelz.clone();
        calls.spawn(async move { pixelz.contact(&contact()).await });
    }
    assert!(calls.join_all().await.iter().all(Result::is_ok));
    // Six calls of 100 ms, two at a time: three rounds.
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
}

/// Every write, with its answer garbled, late past the timeout, or dropped after the request was
/// served: sent once, never again, and its outcome unknown (the write may have been made).
#[tokio::test]
async fn a_write_whose_answer_is_lost_is_sent_once_and_its_outcome_is_unknown() {
    let writes = || Faults { methods: vec!["POST".into(), "PUT".into(), "DELETE".into()], ..Faults::default() };
    let faults = [
        ("garbled", Faults { malformed_rate: 1.0, ..writes() }),
        ("late", Faults { late_answer_ms: 600, ..writes() }),
        ("dropped", Faults { drop_answer_rate: 1.0, ..writes() }),
    ];
    for (fault, injected) in faults {
        let sandbox = sandbox().await;
        let api = clients_for(&sandbox, UpstreamSettings { timeout: Duration::from_millis(300), ..settings() });
        sandbox.set_faults(injected);
        let (me, studio) = (contact(), studio());
        let partner = PixelzCredentials::new(sandbox::PIXELZ_PARTNER_EMAIL, Secret::new(sandbox::PIXELZ_PARTNER_KEY));
        let image = ImageSubmission {
            image_urls: vec!["https://images.example.com/lost.jpg".into()],
            ..ImageSubmission::default()
        };
        let invoice = NewInvoice {
            client_id: CLIENT_ID.into(),
            due_date: NaiveDate::from_ymd_opt(2027, 1, 31),
            line_items: vec![NewLineItem { name: "x".into(), description: None, amount: 1, quantity: 1 }],
            send_email: false,
        };
        let new_client = ClientInput {
            first_name: Some("Lost".into()),
            email: Some("lost@example.com".into()),
            ..ClientInput::default()
        };
        let template = NewTemplate {
            name: "Lost".into(),
            output_format: "JPG".into(),
            delivery_hours: 24,
            ..NewTemplate::default()
        };
        let new_contact = NewContact {
            email: "lost@studio.test".into(),
            name: "Lost".into(),
            country_code: "CA".into(),
            ..NewContact::default()
        };
        let renamed = ContractTemplateInput { name: Some("Renamed".into()), ..ContractTemplateInput::default() };
        let notes = ClientInput { notes: Some("lost".into()), ..ClientInput::default() };
        let delivered = ImageRef::Ticket(documented::DELIVERED_TICKET.into());
        let finished = ImageRef::Ticket(documented::FINISHED_TICKET.into());
        let (pixieset, pixelz) = (&api.pixieset, &api.pixelz);
        let calls: Vec<(&str, Result<(), UpstreamError>)> = vec![
            ("createClient", pixieset.create_client(&studio, &new_client).await.map(drop)),
            ("updateClient", pixieset.update_client(&studio, CLIENT_ID, &notes).await.map(drop)),
            ("createInvoice", pixieset.create_invoice(&studio, &invoice).await.map(drop)),
            (
                "updateContractTemplate",
                pixieset.update_contract_template(&studio, documented::TEMPLATE_ID, &renamed).await.map(drop),
            ),
            ("submitPixelzImage", pixelz.submit_image(&me, &image).await.map(drop)),
            ("requestWhiteGloveService", pixelz.request_white_glove(&me, &image).await.map(drop)),
            ("deletePixelzImage", pixelz.delete_image(&me, &delivered).await),
            ("rejectPixelzImage", pixelz.reject_image(&me, &finished, None).await),
            ("createPixelzTemplate", pixelz.create_template(&me, &template).await.map(drop)),
            ("createPixelzContact", pixelz.create_contact(&partner, &new_contact).await.map(drop)),
        ];
        let log = sandbox.requests();
        let sent: Vec<&str> = log.recent.iter().filter(|r| r.method != "GET").map(|r| r.endpoint.as_str()).collect();
        assert_eq!(sent.len(), calls.len(), "{fault}: each write sent once: {sent:?}");
        for (write, answer) in calls {
            let error = answer.expect_err(write);
            assert!(matches!(error, UpstreamError::OutcomeUnknown { .. }), "{fault} {write}: {error:?}");
            assert_eq!(error.code(), "WRITE_OUTCOME_UNKNOWN");
        }
    }
}

/// A server that answers without end is read up to a bound and refused, not held in memory
/// without end; nothing is retried past that refusal's budget.
#[tokio::test]
async fn an_answer_without_end_is_refused_at_its_bound() {
    use axum::body::{Body, Bytes};
    let chunk = Bytes::from(vec![b'x'; 1 << 20]);
    let endless =
        axum::Router::new().fallback(move || {
            let chunk = chunk.clone();
            async move {
                Body::from_stream(futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone())))
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, endless).await });
    let urls = UpstreamUrls {
        pixieset: format!("http://{addr}/api/v1").parse().unwrap(),
        pixelz: format!("http://{addr}/REST.svc").parse().unwrap(),
        pixelz_assets: None,
    };
    let api = Upstreams::new(urls, UpstreamSettings { max_attempts: 1, ..settings() }).unwrap().pixieset;
    let refused = tokio::time::timeout(Duration::from_secs(30), api.clients_csv(&studio())).await.expect("it ends");
    match refused {
        Err(UpstreamError::Unavailable { reason, .. }) => assert!(reason.contains("larger than 64 MiB"), "{reason}"),
        other => panic!("{:?}", other.map(|csv| csv.len())),
    }
}
