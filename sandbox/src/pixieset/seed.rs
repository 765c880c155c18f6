//! Deterministic studios: the documented example objects with their documented
//! ids and bodies, and generated records around them at realistic sizes.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::model::*;
use crate::rng::Rng;

/// How big a generated studio is.
pub struct Sizes {
    pub clients: usize,
    pub invoices: usize,
    pub contracts: usize,
    pub extra_templates: usize,
}

pub const MAIN_STUDIO: Sizes = Sizes { clients: 513, invoices: 240, contracts: 45, extra_templates: 3 };
pub const OTHER_STUDIO: Sizes = Sizes { clients: 12, invoices: 6, contracts: 4, extra_templates: 1 };

pub const DOC_CLIENT_ID: &str = "cl_ABC123DEF456GHI789JKL012MNO345";
pub const DOC_INVOICE_ID: &str = "in_INV001ABC123DEF456GHI789JKL012";
pub const DOC_CONTRACT_ID: &str = "co_CON001ABC123DEF456GHI789JKL012";
pub const DOC_TEMPLATE_ID: &str = "ct_CON002ABC123DEF456GHI789JKL012";
pub const DOC_PORTRAIT_TEMPLATE_ID: &str = "ct_CON003ABC123DEF456GHI789JKL012";

const FIRST_NAMES: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas", "Mia", "Mateo",
    "Amelia", "Levi", "Harper", "Ethan", "Evelyn", "Aiden", "Abigail", "Hiro", "Chloe", "Priya", "Zoe", "Omar",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Nguyen",
    "Tanaka",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("New York", "NY", "10001"),
    ("Brooklyn", "NY", "11201"),
    ("Austin", "TX", "73301"),
    ("Portland", "OR", "97201"),
    ("Denver", "CO", "80202"),
    ("Chicago", "IL", "60601"),
];
const COMPANIES: &[&str] = &["Bloom Events", "Northwind Weddings", "Acme Corp", "Lumen Studio"];
const JOB_TITLES: &[&str] = &["Event Planner", "Marketing Manager", "Founder", "Art Director"];
const PACKAGES: &[(&str, i64)] = &[
    ("Wedding Photography Package", 250_000),
    ("Engagement Session", 45_000),
    ("Family Portrait Session", 35_000),
    ("Second Shooter", 60_000),
    ("Printed Album", 89_900),
    ("Travel Fee", 12_500),
    ("Headshot Session", 19_900),
];
const INVOICE_STATUSES: &[&str] = &["draft", "sent", "viewed", "partially_paid", "paid", "paid", "overdue"];
const CONTRACT_STATUSES: &[&str] = &["draft", "sent", "viewed", "partially_signed", "signed", "expired", "cancelled"];
const VENUES: &[&str] = &["Central Park, NYC", "Brooklyn Botanic Garden", "Zilker Park, Austin", "Studio A"];

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).single().expect("seed dates are valid")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("seed dates are valid")
}

fn random_id(rng: &Rng, prefix: &str) -> String {
    format!("{prefix}{}", rng.alphanumeric(30))
}

/// A moment in the two and a half years before the documented examples.
fn past(rng: &Rng) -> DateTime<Utc> {
    at(2023, 1, 1, 0, 0, 0) + Duration::seconds((rng.next_u64() % (946 * 86_400)) as i64)
}

pub fn studio(rng: &Rng, sizes: &Sizes, documented: bool) -> Studio {
    let mut studio = Studio::default();
    if documented {
        studio.clients.push(documented_client());
        studio.templates.extend(documented_templates());
    }
    while studio.clients.len() < sizes.clients {
        let n = studio.clients.len();
        studio.clients.push(generated_client(rng, n));
    }
    // Newest first, as the documents' first page shows the newest client.
    studio.clients.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));

    for n in 0..sizes.extra_templates {
        studio.templates.push(generated_template(rng, n));
    }

    if documented {
        studio.invoices.push(documented_invoice());
        studio.contracts.push(documented_contract());
    }
    let paying: Vec<String> =
        studio.clients.iter().filter(|c| c.kind == ClientType::Client).map(|c| c.id.clone()).collect();
    while studio.invoices.len() < sizes.invoices {
        let number = studio.invoices.len() + 1;
        studio.invoices.push(generated_invoice(rng, number, rng.pick(&paying).as_str()));
    }
    while studio.contracts.len() < sizes.contracts {
        let number = studio.contracts.len() + 1;
        let client = rng.pick(&studio.clients).clone();
        let template = studio.templates[number % studio.templates.len()].clone();
        let status = CONTRACT_STATUSES[number % CONTRACT_STATUSES.len()];
        studio.contracts.push(generated_contract(rng, number, status, &client, &template));
    }
    studio.invoices.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    studio.contracts.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));

    for (n, client) in studio.clients.iter().enumerate() {
        if n % 3 == 0 {
            for k in 0..=(n % 4) {
                let id = 48_000_000 + (n * 4 + k) as i64;
                let name = format!("{} {}", client.last_name, ["Wedding", "Portraits", "Engagement"][k % 3]);
                studio.collections.push(Collection {
                    id,
                    client_id: client.id.clone(),
                    slug: format!("{}-{id}", name.to_lowercase().replace(' ', "-")),
                    name,
                    photo_count: 40 + (rng.next_u64() % 600) as i64,
                    status: if k == 0 { "published" } else { "draft" },
                    event_date: client.created_at.date_naive() + Duration::days(30),
                    created_at: client.created_at + Duration::days(31),
                });
            }
        }
        if n % 9 == 0 {
            studio.questionnaires.push(Questionnaire {
                id: random_id(rng, "qu_"),
                client_id: client.id.clone(),
                title: "Wedding Day Questionnaire".into(),
                status: if n % 2 == 0 { "completed" } else { "sent" },
                created_at: client.created_at + Duration::days(2),
            });
        }
    }
    studio
}

fn documented_client() -> Client {
    Client {
        id: DOC_CLIENT_ID.into(),
        email: "client@example.com".into(),
        archived: false,
        first_name: "John".into(),
        last_name: "Doe".into(),
        phone: Some("1234567890".into()),
        company: None,
        job_title: None,
        address: Some(Address {
            line_1: Some("123 Main St".into()),
            line_2: None,
            city: Some("New York".into()),
            postal_code: Some("10001".into()),
            state: Some("NY".into()),
            country_id: Some(223),
        }),
        notes: None,
        avatar_color: 8,
        created_at: at(2025, 8, 6, 14, 50, 42),
        sample: false,
        kind: ClientType::Client,
    }
}

fn generated_client(rng: &Rng, n: usize) -> Client {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let kind = match n % 10 {
        0..=5 => ClientType::Client,
        6..=8 => ClientType::Lead,
        _ => ClientType::Other,
    };
    let (city, state, postal) = *rng.pick(CITIES);
    Client {
        id: random_id(rng, "cl_"),
        email: format!("{}.{}{n}@example.com", first.to_lowercase(), last.to_lowercase()),
        archived: n % 11 == 0,
        first_name: first.into(),
        last_name: last.into(),
        phone: (n % 4 != 0).then(|| format!("555{:07}", rng.next_u64() % 10_000_000)),
        company: (n % 7 == 0).then(|| rng.pick(COMPANIES).to_string()),
        job_title: (n % 13 == 0).then(|| rng.pick(JOB_TITLES).to_string()),
        address: (n % 2 == 0).then(|| Address {
            line_1: Some(format!("{} Oak Ave", 10 + n)),
            line_2: (n % 6 == 0).then(|| format!("Apt {}", n % 40 + 1)),
            city: Some(city.into()),
            postal_code: Some(postal.into()),
            state: Some(state.into()),
            country_id: Some(223),
        }),
        notes: (n % 17 == 0).then(|| "Met at the bridal fair".to_string()),
        avatar_color: (n % 12) as i64,
        created_at: past(rng),
        sample: n < 3,
        kind,
    }
}

const WEDDING_HTML: &str = "<html><head><title>Photography Services Contract</title></head><body><h1>Wedding Photography Services Agreement</h1><p>This contract is between {{studio_name}} and {{client_name}} for photography services on {{event_date}} at {{event_location}}.</p><h2>Services Included</h2><ul><li>{{service_1}}</li><li>{{service_2}}</li></ul><h2>Payment Terms</h2><p>Total contract value: {{total_amount}}</p><p>Deposit required: {{deposit_amount}} due by {{deposit_due_date}}</p><h2>Cancellation Policy</h2><p>{{cancellation_policy}}</p><h2>Signatures</h2><p>Client Signature: ___________________ Date: ___________</p><p>Photographer Signature: ___________________ Date: ___________</p></body></html>";

fn variable(name: &str, kind: &str, required: bool, description: Option<&str>) -> TemplateVariable {
    TemplateVariable {
        name: name.into(),
        kind: kind.into(),
        required,
        description: description.map(Into::into),
        default_value: None,
    }
}

fn signer(kind: &str, order: i64, title: &str, description: &str) -> Signer {
    Signer {
        kind: kind.into(),
        required: true,
        order,
        title: Some(title.into()),
        description: Some(description.into()),
    }
}

fn documented_templates() -> Vec<ContractTemplate> {
    let mut studio_name = variable("studio_name", "text", true, None);
    studio_name.default_value = Some("{{studio_name}}".into());
    let wedding = ContractTemplate {
        id: DOC_TEMPLATE_ID.into(),
        name: "Wedding Photography Contract".into(),
        description: Some("Standard wedding photography service agreement".into()),
        due_days: 14,
        status: "active".into(),
        created_at: at(2025, 7, 15, 9, 0, 0),
        updated_at: at(2025, 8, 1, 14, 30, 0),
        html_body: WEDDING_HTML.into(),
        variables: vec![
            studio_name,
            variable("client_name", "text", true, Some("Full name of the client")),
            variable("event_date", "date", true, Some("Date of the photography session/event")),
            variable("event_location", "text", false, Some("Location where photography will take place")),
            variable("total_amount", "currency", true, Some("Total contract amount")),
            variable("deposit_amount", "currency", false, Some("Required deposit amount")),
        ],
        signers: vec![
            signer("client", 1, "Client", "Primary client signature"),
            signer("photographer", 2, "Photographer", "Studio photographer signature"),
        ],
        reminders: Reminders {
            enabled: true,
            days_before_due: vec![7, 3, 1],
            subject: Some("Contract Signature Required".into()),
            message: Some("Please sign your photography contract by {{due_date}}".into()),
        },
        document_settings: DocumentSettings {
            allow_comments: true,
            show_line_numbers: false,
            watermark: Some("DRAFT".into()),
        },
    };
    let portrait = ContractTemplate {
        id: DOC_PORTRAIT_TEMPLATE_ID.into(),
        name: "Portrait Session Contract".into(),
        description: Some("Individual and family portrait session agreement".into()),
        due_days: 7,
        status: "active".into(),
        created_at: at(2025, 7, 20, 11, 15, 0),
        updated_at: at(2025, 7, 25, 16, 45, 0),
        html_body: "<html><body><h1>Portrait Session Agreement</h1><p>{{studio_name}} will photograph {{client_name}} on {{event_date}}.</p><p>Session fee: {{total_amount}}</p></body></html>".into(),
        variables: vec![
            variable("studio_name", "text", true, None),
            variable("client_name", "text", true, Some("Full name of the client")),
            variable("event_date", "date", true, Some("Date of the session")),
            variable("total_amount", "currency", true, Some("Session fee")),
        ],
        signers: vec![signer("client", 1, "Client", "Client signature")],
        reminders: Reminders { enabled: true, days_before_due: vec![3, 1], subject: None, message: None },
        document_settings: DocumentSettings { allow_comments: false, show_line_numbers: false, watermark: None },
    };
    vec![wedding, portrait]
}

fn generated_template(rng: &Rng, n: usize) -> ContractTemplate {
    let names = ["Event Photography Contract", "Mini Session Agreement", "Commercial Licensing Agreement"];
    let created = past(rng);
    ContractTemplate {
        id: random_id(rng, "ct_"),
        name: names[n % names.len()].into(),
        description: Some(format!("{} for the studio", names[n % names.len()])),
        due_days: [10, 5, 30][n % 3],
        status: if n == 2 { "archived" } else { "active" }.into(),
        created_at: created,
        updated_at: created + Duration::days(3),
        html_body: "<html><body><h1>Agreement</h1><p>Between {{studio_name}} and {{client_name}} on {{event_date}}.</p></body></html>".into(),
        variables: vec![
            variable("studio_name", "text", true, None),
            variable("client_name", "text", true, Some("Full name of the client")),
            variable("event_date", "date", true, None),
        ],
        signers: vec![
            signer("client", 1, "Client", "Client signature"),
            signer("witness", 2, "Witness", "Optional witness"),
        ],
        reminders: Reminders { enabled: n % 2 == 0, days_before_due: vec![2], subject: None, message: None },
        document_settings: DocumentSettings { allow_comments: true, show_line_numbers: true, watermark: None },
    }
}

fn documented_invoice() -> Invoice {
    Invoice {
        id: DOC_INVOICE_ID.into(),
        invoice_number: "INV-001".into(),
        status: "sent",
        client_id: DOC_CLIENT_ID.into(),
        currency: "USD",
        line_items: vec![LineItem {
            id: "li_INV001LINE01ABC123DEF456GHI78".into(),
            name: "Wedding Photography Package".into(),
            description: None,
            amount: 250_000,
            quantity: 1,
        }],
        amount_paid: 0,
        due_date: date(2025, 9, 5),
        created_at: at(2025, 8, 6, 15, 0, 0),
        sent_at: Some(at(2025, 8, 6, 15, 5, 0)),
        paid_at: None,
        gift_card_activities: Vec::new(),
    }
}

fn generated_invoice(rng: &Rng, number: usize, client_id: &str) -> Invoice {
    let created = past(rng);
    let status = *rng.pick(INVOICE_STATUSES);
    let line_items: Vec<LineItem> = (0..=rng.below(3))
        .map(|_| {
            let (name, amount) = *rng.pick(PACKAGES);
            LineItem {
                id: random_id(rng, "li_"),
                name: name.into(),
                description: None,
                amount,
                quantity: 1 + rng.below(2) as i64,
            }
        })
        .collect();
    let total: i64 = line_items.iter().map(|i| i.amount * i.quantity).sum();
    let amount_paid = match status {
        "paid" => total,
        "partially_paid" => total / 2,
        _ => 0,
    };
    Invoice {
        id: random_id(rng, "in_"),
        invoice_number: format!("INV-{number:03}"),
        status,
        client_id: client_id.into(),
        currency: "USD",
        line_items,
        amount_paid,
        due_date: created.date_naive() + Duration::days(30),
        created_at: created,
        sent_at: (status != "draft").then(|| created + Duration::hours(1)),
        paid_at: (status == "paid").then(|| created + Duration::days(5)),
        // Every third paid invoice was settled partly with a gift card.
        gift_card_activities: if status == "paid" && number % 3 == 0 {
            vec![GiftCardActivity {
                // Not drawn from the generator, so the seeded studio stays what it was.
                id: format!("gca_{number:0>30}"),
                kind: "redeemed",
                code: format!("GIFT-{number:04}"),
                amount: total.min(10_000),
                created_at: created + Duration::days(5),
            }]
        } else {
            Vec::new()
        },
    }
}

fn documented_contract() -> Contract {
    Contract {
        id: DOC_CONTRACT_ID.into(),
        contract_number: "CON-001".into(),
        status: "signed",
        client_id: DOC_CLIENT_ID.into(),
        template_id: DOC_TEMPLATE_ID.into(),
        recorded_client: Some(RecordedClient {
            first_name: "John".into(),
            last_name: "Doe".into(),
            email: "john@example.com".into(),
            phone: Some("+1-555-123-4567".into()),
        }),
        listed_as_sent: true,
        created_at: at(2025, 8, 7, 10, 30, 0),
        sent_at: Some(at(2025, 8, 7, 10, 35, 0)),
        due_date: at(2025, 8, 21, 23, 59, 59),
        signed_date: Some(at(2025, 8, 10, 14, 22, 0)),
        rendered_html: "<html><body><h1>Photography Services Contract</h1>...".into(),
        variables: vec![
            ("client_name".into(), "John Doe".into()),
            ("event_date".into(), "2025-09-15".into()),
            ("event_location".into(), "Central Park, NYC".into()),
        ],
        signatures: vec![
            Signature {
                signer_type: "client".into(),
                signer_name: "John Doe".into(),
                signer_email: "john@example.com".into(),
                signed_at: at(2025, 8, 10, 14, 22, 0),
            },
            Signature {
                signer_type: "photographer".into(),
                signer_name: "Jane Smith".into(),
                signer_email: "jane@studio.com".into(),
                signed_at: at(2025, 8, 10, 15, 30, 0),
            },
        ],
    }
}

fn generated_contract(
    rng: &Rng,
    number: usize,
    status: &'static str,
    client: &Client,
    template: &ContractTemplate,
) -> Contract {
    let created = past(rng);
    let event_date = created.date_naive() + Duration::days(60);
    let variables = vec![
        ("client_name".to_string(), client.full_name()),
        ("event_date".to_string(), event_date.format("%Y-%m-%d").to_string()),
        ("event_location".to_string(), rng.pick(VENUES).to_string()),
    ];
    let mut rendered = template.html_body.replace("{{studio_name}}", "Sandbox Studio");
    for (name, value) in &variables {
        rendered = rendered.replace(&format!("{{{{{name}}}}}"), value);
    }
    let signed_at = created + Duration::days(3);
    let signers: &[&str] = match status {
        "signed" => &["client", "photographer"],
        "partially_signed" => &["client"],
        _ => &[],
    };
    let signatures = signers
        .iter()
        .map(|kind| Signature {
            signer_type: kind.to_string(),
            signer_name: if *kind == "client" { client.full_name() } else { "Jane Smith".into() },
            signer_email: if *kind == "client" { client.email.clone() } else { "jane@studio.com".into() },
            signed_at,
        })
        .collect();
    Contract {
        id: random_id(rng, "co_"),
        contract_number: format!("CON-{number:03}"),
        status,
        client_id: client.id.clone(),
        template_id: template.id.clone(),
        recorded_client: None,
        listed_as_sent: false,
        created_at: created,
        sent_at: (status != "draft").then(|| created + Duration::minutes(5)),
        due_date: created + Duration::days(template.due_days),
        signed_date: (status == "signed").then_some(signed_at),
        rendered_html: rendered,
        variables,
        signatures,
    }
}
