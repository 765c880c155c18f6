//! Contracts and contract templates. Lists show summaries; content,
//! signatures and template bodies come from a batched fetch when asked for.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::graphql::scalars::DateTime;
use async_graphql::{Context, Enum, Error, ID, Object, SimpleObject};

use super::super::context::pixieset;
use super::super::error::from_upstream;
use super::client::Client;
use crate::loaders::Pixieset;
use crate::upstream::pixieset::wire;

/// Where a contract stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ContractStatus {
    /// Created, not sent.
    Draft,
    /// Sent to the client for signature.
    Sent,
    /// The client has opened it.
    Viewed,
    /// Some but not all required signatures are in.
    PartiallySigned,
    /// Every required signature is in.
    Signed,
    /// The due date passed without every signature.
    Expired,
    /// Cancelled by the studio or the client.
    Cancelled,
}

/// Whether a contract template is in use.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractTemplateStatus {
    Active,
    Archived,
}

impl ContractTemplateStatus {
    fn parse(raw: Option<&str>) -> Option<Self> {
        Some(match raw? {
            "active" => Self::Active,
            "archived" => Self::Archived,
            _ => return None,
        })
    }
}

impl ContractStatus {
    fn parse(raw: Option<&str>) -> Option<Self> {
        Some(match raw? {
            "draft" => Self::Draft,
            "sent" => Self::Sent,
            "viewed" => Self::Viewed,
            "partially_signed" => Self::PartiallySigned,
            "signed" => Self::Signed,
            "expired" => Self::Expired,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

/// A contract sent to a client.
///
/// Reached through a list, the list's item answers every field it carries (number, status,
/// dates, client, template) and the contract's own endpoint only the rest (`sentAt`,
/// `content`, `signatures`), whatever is asked beside them: the documents' list and detail
/// can disagree (CON-001 is `sent` in one and `signed` in the other), and a field must not
/// change with its neighbours. Reached by id, the detail answers everything.
pub struct Contract {
    id: String,
    /// As a list showed it, when reached through one.
    listed: Option<Arc<wire::Contract>>,
    /// In full, when already fetched.
    detail: Option<Arc<wire::Contract>>,
}

impl Contract {
    pub fn listed(contract: Arc<wire::Contract>) -> Self {
        Self { id: contract.id.clone(), listed: Some(contract), detail: None }
    }

    pub fn detailed(contract: Arc<wire::Contract>) -> Self {
        Self { id: contract.id.clone(), listed: None, detail: Some(contract) }
    }

    /// From an id alone: the full contract answers, fetched when first asked.
    pub fn by_id(id: &str) -> Self {
        Self { id: id.to_string(), listed: None, detail: None }
    }

    pub fn global_id(&self) -> ID {
        ID(self.id.clone())
    }

    async fn detail(&self, ctx: &Context<'_>) -> Result<Arc<wire::Contract>, Error> {
        match &self.detail {
            Some(detail) => Ok(detail.clone()),
            None => pixieset(ctx)?.contract(&self.id).await.map_err(from_upstream),
        }
    }

    /// The list's item when reached through one, else the full contract.
    async fn any(&self, ctx: &Context<'_>) -> Result<Arc<wire::Contract>, Error> {
        match self.listed.as_ref().or(self.detail.as_ref()) {
            Some(held) => Ok(held.clone()),
            None => self.detail(ctx).await,
        }
    }
}

/// A signature on a contract.
#[derive(SimpleObject)]
pub struct Signature {
    /// `client`, `photographer`, `witness`, …
    pub signer_type: Option<String>,
    pub signer_name: Option<String>,
    pub signer_email: Option<String>,
    pub signed_at: Option<DateTime>,
    pub signature_image_url: Option<String>,
}

/// A contract's text as the client sees it.
#[derive(SimpleObject)]
pub struct ContractContent {
    pub rendered_html: Option<String>,
    /// The values filled into the template's placeholders; null where the content shows none.
    pub variables: Option<Vec<VariableValue>>,
}

#[derive(SimpleObject)]
pub struct VariableValue {
    pub name: String,
    /// As text, whatever its type.
    pub value: Option<String>,
}

#[Object]
impl Contract {
    /// The Pixieset id (`co_…`).
    pub async fn id(&self) -> ID {
        self.global_id()
    }

    /// The number the client sees, e.g. `CON-001`.
    async fn number(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.any(ctx).await?.contract_number.clone())
    }

    /// Null when Pixieset reports a status this gateway does not know; see `statusName`.
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<ContractStatus>, Error> {
        Ok(ContractStatus::parse(self.any(ctx).await?.status.as_deref()))
    }

    /// The status as Pixieset names it.
    async fn status_name(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.any(ctx).await?.status.clone())
    }

    async fn created_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>, Error> {
        Ok(self.any(ctx).await?.created_at.map(DateTime))
    }

    async fn sent_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>, Error> {
        Ok(self.detail(ctx).await?.sent_at.map(DateTime))
    }

    /// The signing deadline.
    async fn due_date(&self, ctx: &Context<'_>) -> Result<Option<DateTime>, Error> {
        Ok(self.any(ctx).await?.due_date.map(DateTime))
    }

    /// When every required signature was in.
    async fn signed_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>, Error> {
        Ok(self.any(ctx).await?.signed_date.map(DateTime))
    }

    async fn content(&self, ctx: &Context<'_>) -> Result<Option<ContractContent>, Error> {
        let detail = self.detail(ctx).await?;
        Ok(detail.content.as_ref().map(|content| {
            let variables = content.variables.as_ref().map(|given| {
                let sorted: BTreeMap<_, _> = given.iter().collect();
                sorted
                    .into_iter()
                    .map(|(name, value)| VariableValue {
                        name: name.clone(),
                        value: value
                            .as_str()
                            .map(str::to_string)
                            .or_else(|| (!value.is_null()).then(|| value.to_string())),
                    })
                    .collect()
            });
            ContractContent { rendered_html: content.rendered_html.clone(), variables }
        }))
    }

    /// Null where the contract shows no `signatures` at all.
    async fn signatures(&self, ctx: &Context<'_>) -> Result<Option<Vec<Signature>>, Error> {
        let detail = self.detail(ctx).await?;
        Ok(detail.signatures.as_ref().map(|signatures| {
            signatures
                .iter()
                .map(|s| Signature {
                    signer_type: s.signer_type.clone(),
                    signer_name: s.signer_name.clone(),
                    signer_email: s.signer_email.clone(),
                    signed_at: s.signed_at.map(DateTime),
                    signature_image_url: s.signature_image_url.clone(),
                })
                .collect()
        }))
    }

    /// The client. The summary the contract embeds answers the fields it carries: the
    /// client as the contract recorded them, whose e-mail and phone may differ from the
    /// client's own record. The record answers the rest.
    async fn client(&self, ctx: &Context<'_>) -> Result<Option<Client>, Error> {
        let held = self.any(ctx).await?;
        // A list fetched without `expand` names no client; the contract itself does.
        let held = if held.client_id().is_none() { self.detail(ctx).await? } else { held };
        if let Some(summary) = &held.client {
            return Ok(Some(Client::summarised(summary)));
        }
        let Some(id) = held.client_id() else { return Ok(None) };
        Ok(Some(Client::full(pixieset(ctx)?.client(id).await.map_err(from_upstream)?)))
    }

    /// The template the contract was made from. The summary the contract embeds
    /// answers `name` and `dueDays`; any other field comes from the template itself.
    async fn template(&self, ctx: &Context<'_>) -> Result<Option<ContractTemplate>, Error> {
        let held = self.any(ctx).await?;
        let held = if held.template_id().is_none() { self.detail(ctx).await? } else { held };
        if let Some(summary) = &held.template {
            return Ok(Some(ContractTemplate::summarised(summary)));
        }
        let Some(id) = held.template_id() else { return Ok(None) };
        Ok(Some(ContractTemplate::load(pixieset(ctx)?, id).await.map_err(from_upstream)?))
    }
}

/// A placeholder a contract template fills in.
#[derive(SimpleObject)]
pub struct TemplateVariable {
    pub name: String,
    /// `text`, `date`, `currency`, `number`, `boolean`.
    #[graphql(name = "type")]
    pub kind: Option<String>,
    pub required: Option<bool>,
    pub description: Option<String>,
    pub default_value: Option<String>,
}

/// Who signs contracts made from a template, and in which order.
#[derive(SimpleObject)]
pub struct Signer {
    /// `client`, `photographer`, `witness`, …
    #[graphql(name = "type")]
    pub kind: String,
    pub required: Option<bool>,
    pub order: Option<i64>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub email_required: Option<bool>,
    pub phone_required: Option<bool>,
}

impl From<&wire::Signer> for Signer {
    fn from(s: &wire::Signer) -> Self {
        Self {
            kind: s.kind.clone(),
            required: s.required,
            order: s.order,
            title: s.title.clone(),
            description: s.description.clone(),
            email_required: s.email_required,
            phone_required: s.phone_required,
        }
    }
}

/// E-mail reminders for unsigned contracts.
#[derive(SimpleObject)]
pub struct Reminders {
    pub enabled: Option<bool>,
    pub days_before_due: Option<Vec<i64>>,
    pub subject: Option<String>,
    pub message: Option<String>,
}

#[derive(SimpleObject)]
pub struct DocumentSettings {
    pub allow_comments: Option<bool>,
    pub show_line_numbers: Option<bool>,
    pub watermark: Option<String>,
}

/// A reusable contract: HTML with `{{placeholders}}`, signers, reminders.
///
/// Reached through the template list, the list's item answers its own scalar fields and
/// the template's endpoint the rest: the list shows signers and reminders shorter than the
/// template's own, so those always come whole. Reached through a contract, the summary the
/// contract embeds answers `name` and `dueDays`. Either holds whatever is asked beside.
pub struct ContractTemplate {
    id: String,
    /// The `{id, name, due_days}` a contract embeds, when reached through one.
    summary: Option<wire::TemplateSummary>,
    listed: Option<Arc<wire::ContractTemplate>>,
    detail: Option<Arc<wire::ContractTemplate>>,
}

impl ContractTemplate {
    /// From the summary a contract embeds: it answers the fields it carries, the
    /// template in full the rest.
    pub fn summarised(summary: &wire::TemplateSummary) -> Self {
        Self { id: summary.id.clone(), summary: Some(summary.clone()), listed: None, detail: None }
    }

    pub fn listed(template: Arc<wire::ContractTemplate>) -> Self {
        Self { id: template.id.clone(), summary: None, listed: Some(template), detail: None }
    }

    pub fn detailed(template: Arc<wire::ContractTemplate>) -> Self {
        Self { id: template.id.clone(), summary: None, listed: None, detail: Some(template) }
    }

    /// By id: the template in full, whatever a list showed of it lately.
    pub async fn load(pixieset: &Pixieset, id: &str) -> Result<Self, crate::upstream::UpstreamError> {
        let detail = pixieset.contract_template(id).await?;
        Ok(Self { id: id.to_string(), summary: None, listed: None, detail: Some(detail) })
    }

    pub fn global_id(&self) -> ID {
        ID(self.id.clone())
    }

    /// From the copy at hand when it holds a name, else from the template in full.
    pub async fn display_name(&self, ctx: &Context<'_>) -> Result<String, Error> {
        let held = self.summary.as_ref().and_then(|s| s.name.clone().flatten());
        let held = held.or_else(|| self.listed.as_ref().or(self.detail.as_ref()).and_then(|t| t.name.clone()));
        match held {
            Some(name) => Ok(name),
            None => self.detail(ctx).await?.name.clone().ok_or_else(|| {
                from_upstream(crate::upstream::UpstreamError::Malformed {
                    endpoint: crate::upstream::pixieset::GET_TEMPLATE,
                    status: 200,
                    reason: "the template has no name".into(),
                    excerpt: String::new(),
                })
            }),
        }
    }

    async fn detail(&self, ctx: &Context<'_>) -> Result<Arc<wire::ContractTemplate>, Error> {
        match &self.detail {
            Some(detail) => Ok(detail.clone()),
            None => pixieset(ctx)?.contract_template(&self.id).await.map_err(from_upstream),
        }
    }

    async fn any(&self, ctx: &Context<'_>) -> Result<Arc<wire::ContractTemplate>, Error> {
        match self.listed.as_ref().or(self.detail.as_ref()) {
            Some(held) => Ok(held.clone()),
            None => self.detail(ctx).await,
        }
    }
}

#[Object]
impl ContractTemplate {
    /// The Pixieset id (`ct_…`).
    pub async fn id(&self) -> ID {
        self.global_id()
    }

    pub async fn name(&self, ctx: &Context<'_>) -> Result<String, Error> {
        self.display_name(ctx).await
    }

    async fn description(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.any(ctx).await?.description.clone())
    }

    /// Days from a contract's creation to its signing deadline.
    async fn due_days(&self, ctx: &Context<'_>) -> Result<Option<i64>, Error> {
        if let Some(days) = self.summary.as_ref().and_then(|s| s.due_days) {
            return Ok(days);
        }
        Ok(self.any(ctx).await?.due_days)
    }

    /// Null when Pixieset reports a status this gateway does not know; see `statusName`.
    async fn status(&self, ctx: &Context<'_>) -> Result<Option<ContractTemplateStatus>, Error> {
        Ok(ContractTemplateStatus::parse(self.any(ctx).await?.status.as_deref()))
    }

    /// The status as Pixieset names it (`active`, `archived`).
    async fn status_name(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.any(ctx).await?.status.clone())
    }

    async fn created_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>, Error> {
        Ok(self.any(ctx).await?.created_at.map(DateTime))
    }

    async fn updated_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime>, Error> {
        Ok(self.any(ctx).await?.updated_at.map(DateTime))
    }

    /// The contract's HTML with `{{variable}}` placeholders.
    async fn html_body(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.detail(ctx).await?.html_body.clone())
    }

    /// Null where the template shows no `variables` at all.
    async fn variables(&self, ctx: &Context<'_>) -> Result<Option<Vec<TemplateVariable>>, Error> {
        let detail = self.detail(ctx).await?;
        Ok(detail.variables.as_ref().map(|variables| {
            variables
                .iter()
                .map(|v| TemplateVariable {
                    name: v.name.clone(),
                    kind: v.kind.clone(),
                    required: v.required,
                    description: v.description.clone(),
                    default_value: v.default_value.clone(),
                })
                .collect()
        }))
    }

    /// Null where the template shows no `signers` at all.
    async fn signers(&self, ctx: &Context<'_>) -> Result<Option<Vec<Signer>>, Error> {
        Ok(self.detail(ctx).await?.signers.as_ref().map(|signers| signers.iter().map(Signer::from).collect()))
    }

    async fn reminders(&self, ctx: &Context<'_>) -> Result<Option<Reminders>, Error> {
        Ok(self.detail(ctx).await?.reminders.as_ref().map(|r| Reminders {
            enabled: r.enabled,
            days_before_due: r.days_before_due.clone(),
            subject: r.reminder_subject.clone(),
            message: r.reminder_message.clone(),
        }))
    }

    async fn document_settings(&self, ctx: &Context<'_>) -> Result<Option<DocumentSettings>, Error> {
        Ok(self.detail(ctx).await?.document_settings.as_ref().map(|d| DocumentSettings {
            allow_comments: d.allow_comments,
            show_line_numbers: d.show_line_numbers,
            watermark: d.watermark.clone().flatten(),
        }))
    }
}
