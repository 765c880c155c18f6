//! Pixieset writes: clients, invoices, contract templates.

use async_graphql::{Context, Error, ID, InputObject, Object, SimpleObject};

use super::super::context::pixieset;
use super::super::ids;
use super::super::mutation::validate::Check;
use super::super::mutation::{UserError, UserErrorCode, WriteOnce, as_user_errors, write_once};
use super::super::scalars::Date;
use super::{Client, ClientType, ContractTemplate, ContractTemplateStatus, Invoice};
use crate::idempotency::{Natural, Settled};
use crate::loaders::Pixieset;
use crate::upstream::UpstreamError;
use crate::upstream::pixieset::wire;
use chrono::{DateTime, Utc};

const MAX_LINE_ITEMS: usize = 100;
const MAX_HTML_BYTES: usize = 1024 * 1024;

/// A postal address; absent fields are left as they are.
#[derive(InputObject, Default)]
pub struct AddressInput {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    /// Pixieset's country number (223 is the United States).
    pub country_id: Option<i64>,
}

/// A new client, lead or other contact.
#[derive(InputObject)]
pub struct CreateClientInput {
    pub first_name: String,
    pub last_name: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub address: Option<AddressInput>,
    pub notes: Option<String>,
    /// Client unless said otherwise.
    #[graphql(name = "type")]
    pub kind: Option<ClientType>,
    /// Echoed in the payload; with no `Idempotency-Key` header, a retry with the same value creates nothing new.
    pub client_mutation_id: Option<String>,
}

/// Changes to a client; absent fields are left as they are.
#[derive(InputObject)]
pub struct UpdateClientInput {
    pub id: ID,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub address: Option<AddressInput>,
    pub notes: Option<String>,
    #[graphql(name = "type")]
    pub kind: Option<ClientType>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct ClientPayload {
    pub client: Option<Client>,
    pub user_errors: Vec<UserError>,
    pub client_mutation_id: Option<String>,
}

/// One line of a new invoice.
#[derive(InputObject)]
pub struct LineItemInput {
    pub name: String,
    pub description: Option<String>,
    #[graphql(default = 1)]
    pub quantity: i64,
    /// The price of one unit in minor units (cents).
    pub unit_amount: i64,
}

#[derive(InputObject)]
pub struct CreateInvoiceInput {
    pub client_id: ID,
    /// Thirty days from today (UTC) unless given.
    pub due_date: Option<Date>,
    pub line_items: Vec<LineItemInput>,
    /// E-mail the invoice to the client now.
    #[graphql(default = false)]
    pub send_email: bool,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateInvoicePayload {
    pub invoice: Option<Invoice>,
    pub user_errors: Vec<UserError>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct SignerInput {
    /// `client`, `photographer`, `witness`, …
    #[graphql(name = "type")]
    pub kind: String,
    #[graphql(default = true)]
    pub required: bool,
    pub order: i64,
    pub title: Option<String>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct RemindersInput {
    pub enabled: Option<bool>,
    pub days_before_due: Option<Vec<i64>>,
    pub subject: Option<String>,
    pub message: Option<String>,
}

#[derive(InputObject)]
pub struct DocumentSettingsInput {
    pub allow_comments: Option<bool>,
    pub show_line_numbers: Option<bool>,
    /// An empty string removes the watermark.
    pub watermark: Option<String>,
}

/// Changes to a contract template; absent fields are left as they are.
#[derive(InputObject)]
pub struct UpdateContractTemplateInput {
    pub id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    pub due_days: Option<i64>,
    pub status: Option<ContractTemplateStatus>,
    /// HTML with `{{variable}}` placeholders.
    pub html_body: Option<String>,
    pub signers: Option<Vec<SignerInput>>,
    pub reminders: Option<RemindersInput>,
    pub document_settings: Option<DocumentSettingsInput>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdateContractTemplatePayload {
    pub contract_template: Option<ContractTemplate>,
    pub user_errors: Vec<UserError>,
    pub client_mutation_id: Option<String>,
}

fn address(check: &mut Check, input: Option<AddressInput>) -> Option<wire::Address> {
    let a = input?;
    let field = |name: &'static str| ["address", name];
    let address = wire::Address {
        address_line_1: check.optional_text(&field("line1"), a.line1.as_deref(), 255),
        address_line_2: check.optional_text(&field("line2"), a.line2.as_deref(), 255),
        city: check.optional_text(&field("city"), a.city.as_deref(), 255),
        postal_code: check.optional_text(&field("postalCode"), a.postal_code.as_deref(), 32),
        state: check.optional_text(&field("state"), a.state.as_deref(), 255),
        country: None,
        country_id: a.country_id.map(|id| check.range(&field("countryId"), id, 1..=999)),
    };
    Some(address)
}

struct ClientFields {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    address: Option<AddressInput>,
    notes: Option<String>,
    kind: Option<ClientType>,
}

fn client_input(check: &mut Check, f: ClientFields) -> wire::ClientInput {
    wire::ClientInput {
        first_name: f.first_name.map(|n| check.text(&["firstName"], &n, 255)),
        last_name: f.last_name.map(|n| n.trim().to_string()),
        email: f.email.map(|e| check.email(&["email"], &e)),
        phone: check.optional_text(&["phone"], f.phone.as_deref(), 50),
        company: check.optional_text(&["company"], f.company.as_deref(), 255),
        job_title: check.optional_text(&["jobTitle"], f.job_title.as_deref(), 255),
        address_info: address(check, f.address),
        notes: check.optional_text(&["notes"], f.notes.as_deref(), 10_000),
        kind: f.kind.map(|k| k.wire().to_string()),
    }
}

#[derive(Default)]
pub struct PixiesetMutation;

#[Object]
impl PixiesetMutation {
    /// Adds a client, lead or other contact.
    async fn create_client(&self, ctx: &Context<'_>, input: CreateClientInput) -> Result<ClientPayload, Error> {
        let cmi = input.client_mutation_id.clone();
        let payload =
            |client, user_errors, client_mutation_id| ClientPayload { client, user_errors, client_mutation_id };
        let mut check = Check::default();
        let fields = ClientFields {
            first_name: Some(input.first_name),
            last_name: input.last_name,
            email: Some(input.email),
            phone: input.phone,
            company: input.company,
            job_title: input.job_title,
            address: input.address,
            notes: input.notes,
            kind: Some(input.kind.unwrap_or(ClientType::Client)),
        };
        let body = client_input(&mut check, fields);
        if let Err(errors) = check.finish() {
            return Ok(payload(None, errors, cmi));
        }
        let pixieset = pixieset(ctx)?;
        let email = body.email.clone().unwrap_or_default();
        let natural = Natural {
            checkable: false,
            look_for: format!("a client with the email {email} created since the write was sent"),
        };
        let what = WriteOnce {
            mutation: "createClient",
            client_mutation_id: cmi.as_deref(),
            tenant: pixieset.tenant(),
            target: &["input"],
            natural,
        };
        let settle = |since| settle_client(pixieset, &body, since);
        let write = || async { pixieset.create_client(&body).await.map(|client| (*client).clone()) };
        let created = write_once(ctx, what, write, settle);
        match created.await? {
            Ok(client) => Ok(payload(Some(Client::full(client)), vec![], cmi)),
            Err(user_errors) => Ok(payload(None, user_errors, cmi)),
        }
    }

    /// Changes a client.
    async fn update_client(&self, ctx: &Context<'_>, input: UpdateClientInput) -> Result<ClientPayload, Error> {
        let cmi = input.client_mutation_id.clone();
        let payload =
            |client, user_errors, client_mutation_id| ClientPayload { client, user_errors, client_mutation_id };
        let mut check = Check::default();
        let id = check.id(&["id"], ids::pixieset(&input.id, ids::CLIENT, "client"));
        let fields = ClientFields {
            first_name: input.first_name,
            last_name: input.last_name,
            email: input.email,
            phone: input.phone,
            company: input.company,
            job_title: input.job_title,
            address: input.address,
            notes: input.notes,
            kind: input.kind,
        };
        let body = client_input(&mut check, fields);
        if let Err(errors) = check.finish() {
            return Ok(payload(None, errors, cmi));
        }
        match pixieset(ctx)?.update_client(&id, &body).await {
            Ok(client) => Ok(payload(Some(Client::full(client)), vec![], cmi)),
            Err(e) => Ok(payload(None, as_user_errors(e, &["input", "id"])?, cmi)),
        }
    }

    /// Bills a client.
    async fn create_invoice(
        &self,
        ctx: &Context<'_>,
        input: CreateInvoiceInput,
    ) -> Result<CreateInvoicePayload, Error> {
        let cmi = input.client_mutation_id.clone();
        let payload = |invoice, user_errors, client_mutation_id| CreateInvoicePayload {
            invoice,
            user_errors,
            client_mutation_id,
        };
        let mut check = Check::default();
        let client_id = check.id(&["clientId"], ids::pixieset(&input.client_id, ids::CLIENT, "client"));
        if input.line_items.is_empty() {
            check.fail(&["lineItems"], UserErrorCode::Required, "needs at least one line item");
        } else if input.line_items.len() > MAX_LINE_ITEMS {
            check.fail(&["lineItems"], UserErrorCode::Invalid, format!("takes at most {MAX_LINE_ITEMS} line items"));
        }
        let mut line_items = Vec::new();
        for (n, item) in input.line_items.iter().enumerate() {
            let n = n.to_string();
            line_items.push(wire::NewLineItem {
                name: check.text(&["lineItems", &n, "name"], &item.name, 255),
                description: check.optional_text(&["lineItems", &n, "description"], item.description.as_deref(), 2000),
                amount: check.range(&["lineItems", &n, "unitAmount"], item.unit_amount, 0..=10_000_000_000),
                quantity: check.range(&["lineItems", &n, "quantity"], item.quantity, 1..=100_000),
            });
        }
        if let Err(errors) = check.finish() {
            return Ok(payload(None, errors, cmi));
        }
        let invoice = wire::NewInvoice {
            client_id,
            // The quick start always sends one, thirty days out; what Pixieset does
            // without it, no document says.
            due_date: Some(
                input.due_date.map_or_else(|| chrono::Utc::now().date_naive() + chrono::Days::new(30), |d| d.0),
            ),
            line_items,
            send_email: input.send_email,
        };
        let pixieset = pixieset(ctx)?;
        let target = ["input", "clientId"];
        let natural = Natural {
            checkable: false,
            look_for: format!(
                "an invoice of client {} due {} with these line items, created since the write was sent",
                invoice.client_id,
                invoice.due_date.map_or_else(|| "(no date)".to_string(), |d| d.to_string())
            ),
        };
        let what = WriteOnce {
            mutation: "createInvoice",
            client_mutation_id: cmi.as_deref(),
            tenant: pixieset.tenant(),
            target: &target,
            natural,
        };
        let settle = |since| settle_invoice(pixieset, &invoice, since);
        let write = || async { pixieset.create_invoice(&invoice).await.map(|created| (*created).clone()) };
        let created = write_once(ctx, what, write, settle);
        match created.await? {
            Ok(created) => Ok(payload(Some(Invoice(created)), vec![], cmi)),
            Err(user_errors) => Ok(payload(None, user_errors, cmi)),
        }
    }

    /// Changes a contract template.
    async fn update_contract_template(
        &self,
        ctx: &Context<'_>,
        input: UpdateContractTemplateInput,
    ) -> Result<UpdateContractTemplatePayload, Error> {
        let cmi = input.client_mutation_id.clone();
        let payload = |contract_template, user_errors, client_mutation_id| UpdateContractTemplatePayload {
            contract_template,
            user_errors,
            client_mutation_id,
        };
        let mut check = Check::default();
        let id = check.id(&["id"], ids::pixieset(&input.id, ids::CONTRACT_TEMPLATE, "contract template"));
        let html_body = input.html_body.inspect(|html| {
            if html.len() > MAX_HTML_BYTES {
                check.fail(&["htmlBody"], UserErrorCode::TooLong, "is at most 1 MiB");
            }
        });
        let signers = input.signers.map(|signers| {
            if signers.is_empty() {
                check.fail(&["signers"], UserErrorCode::Required, "needs at least one signer");
            }
            signers
                .iter()
                .enumerate()
                .map(|(n, s)| {
                    let n = n.to_string();
                    wire::Signer {
                        kind: check.text(&["signers", &n, "type"], &s.kind, 50),
                        required: Some(s.required),
                        order: Some(check.range(&["signers", &n, "order"], s.order, 1..=100)),
                        title: check.optional_text(&["signers", &n, "title"], s.title.as_deref(), 255),
                        description: check.optional_text(
                            &["signers", &n, "description"],
                            s.description.as_deref(),
                            1000,
                        ),
                        email_required: None,
                        phone_required: None,
                    }
                })
                .collect()
        });
        let reminders = input.reminders.map(|r| {
            let days = r.days_before_due.map(|days| {
                if days.len() > 10 {
                    check.fail(&["reminders", "daysBeforeDue"], UserErrorCode::Invalid, "takes at most 10 days");
                }
                days.iter()
                    .enumerate()
                    .map(|(n, d)| check.range(&["reminders", "daysBeforeDue", &n.to_string()], *d, 1..=365))
                    .collect()
            });
            wire::Reminders {
                enabled: r.enabled,
                days_before_due: days,
                reminder_subject: check.optional_text(&["reminders", "subject"], r.subject.as_deref(), 255),
                reminder_message: check.optional_text(&["reminders", "message"], r.message.as_deref(), 5000),
            }
        });
        let document_settings = input.document_settings.map(|d| wire::DocumentSettings {
            allow_comments: d.allow_comments,
            show_line_numbers: d.show_line_numbers,
            watermark: d.watermark.map(|w| Some(w.trim().to_string()).filter(|w| !w.is_empty())),
        });
        let body = wire::ContractTemplateInput {
            name: input.name.map(|n| check.text(&["name"], &n, 255)),
            description: input.description.map(|d| d.trim().to_string()),
            due_days: input.due_days.map(|d| check.range(&["dueDays"], d, 1..=365)),
            status: input
                .status
                .map(|s| if s == ContractTemplateStatus::Active { "active" } else { "archived" }.to_string()),
            html_body,
            signers,
            reminders,
            document_settings,
        };
        if let Err(errors) = check.finish() {
            return Ok(payload(None, errors, cmi));
        }
        match pixieset(ctx)?.update_contract_template(&id, &body).await {
            Ok(template) => Ok(payload(Some(ContractTemplate::detailed(template)), vec![], cmi)),
            Err(e) => Ok(payload(None, as_user_errors(e, &["input", "id"])?, cmi)),
        }
    }
}

/// How far before the gateway's clock a record the write made may be dated by Pixieset's.
const CLOCK_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// Whether a client Pixieset holds is the one `sent` made: the same email and names, created
/// since the write was sent.
async fn settle_client(
    pixieset: &Pixieset,
    sent: &wire::ClientInput,
    since: DateTime<Utc>,
) -> Result<Settled<wire::Client>, UpstreamError> {
    let Some(email) = sent.email.as_deref() else {
        return Ok(Settled::CannotTell("a client created since the write was sent".into()));
    };
    let (found, complete) = pixieset.search_clients_now(email).await?;
    let same = |ours: &Option<String>, theirs: &Option<String>| {
        ours.as_deref().map(str::trim).unwrap_or_default() == theirs.as_deref().map(str::trim).unwrap_or_default()
    };
    let matching: Vec<wire::Client> = found
        .into_iter()
        .filter(|c| c.email.as_deref().is_some_and(|theirs| theirs.trim().eq_ignore_ascii_case(email.trim())))
        .filter(|c| same(&sent.first_name, &c.first_name) && same(&sent.last_name, &c.last_name))
        .collect();
    Ok(settled(matching, complete, since, |c| c.created_at, |c| &c.id, &format!("clients with the email {email}")))
}

/// Whether an invoice Pixieset holds is the one `sent` made: the same client, due date and line
/// items (names, descriptions, amounts, quantities), created since the write was sent when the
/// invoice says when it was created.
async fn settle_invoice(
    pixieset: &Pixieset,
    sent: &wire::NewInvoice,
    since: DateTime<Utc>,
) -> Result<Settled<wire::Invoice>, UpstreamError> {
    let (found, complete) = pixieset.invoices_now(&sent.client_id).await?;
    let ours: Vec<_> = sent
        .line_items
        .iter()
        .map(|i| (Some(i.name.trim()), i.description.as_deref(), Some(i.amount), Some(i.quantity)))
        .collect();
    fn theirs(i: &wire::InvoiceLine) -> (Option<&str>, Option<&str>, Option<i64>, Option<i64>) {
        (i.name.as_deref().map(str::trim), i.description.as_deref(), i.amount, i.quantity)
    }
    let matching: Vec<wire::Invoice> = found
        .into_iter()
        .filter(|i| i.client_id.as_deref().is_none_or(|id| id == sent.client_id))
        .filter(|i| sent.due_date.is_none() || i.due_date == sent.due_date)
        .filter(|i| i.line_items.iter().flatten().map(theirs).collect::<Vec<_>>() == ours)
        .collect();
    Ok(settled(
        matching,
        complete,
        since,
        |i| i.created_at,
        |i| &i.id,
        &format!("invoices of client {}", sent.client_id),
    ))
}

/// The one candidate that may have been made by the write (none Pixieset dates before it was
/// sent), if there is exactly one. An identical one Pixieset does not date, made earlier, would
/// be taken for it: the caller gets the object it asked for, and nothing is made twice.
fn settled<T>(
    candidates: Vec<T>,
    complete: bool,
    since: DateTime<Utc>,
    created: impl Fn(&T) -> Option<DateTime<Utc>>,
    id: impl Fn(&T) -> &str,
    what: &str,
) -> Settled<T> {
    let mut candidates: Vec<T> =
        candidates.into_iter().filter(|c| created(c).is_none_or(|at| at >= since - CLOCK_MARGIN)).collect();
    match candidates.len() {
        1 => Settled::Found(candidates.remove(0)),
        0 if complete => Settled::Absent,
        0 => Settled::CannotTell(format!("{what} created since {since}: there were too many to read them all")),
        _ => Settled::CannotTell(format!(
            "{what} that match the write: {} (at most one is new)",
            candidates.iter().map(|c| id(c).to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}
