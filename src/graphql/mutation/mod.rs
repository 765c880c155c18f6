//! What every write shares: user errors, input checks (`validate.rs`), idempotency,
//! and the Mutation root that merges each API's mutations (`pixieset/mutation.rs`,
//! `pixelz/mutation.rs`, beside their types). There is one mutation per documented
//! write endpoint. Input is checked before any upstream call; what the caller can fix
//! comes back as `userErrors` with the path of the offending field; an upstream's own
//! refusals (Pixieset's 422 details, Pixelz's error codes) become user errors too.

pub(super) mod validate;

use async_graphql::{ComplexObject, Context, Enum, Error, ErrorExtensions as _, SimpleObject};
use chrono::{DateTime, Utc};

use std::future::Future;
use std::sync::Arc;

use super::scalars::PathSegment;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error_code::ErrorCode;
use crate::idempotency::{Idempotency, Natural, Refused, Settled};
use crate::upstream::{Refusal, TenantKey, UpstreamError};

/// What kind of mistake a user error reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum UserErrorCode {
    /// A required value is missing or empty.
    Required,
    /// A value has the wrong form or is out of range.
    Invalid,
    /// A value is longer than allowed.
    TooLong,
    /// The object to change does not exist.
    NotFound,
    /// The upstream refused the write; the message says why.
    Rejected,
}

/// A reason a write was refused that the caller can fix.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct UserError {
    /// The path to the input field, all strings as Shopify's `UserError` has it:
    /// `["input", "lineItems", "0", "unitAmount"]`. `path` has indexes as numbers.
    pub field: Vec<String>,
    pub message: String,
    pub code: UserErrorCode,
}

#[ComplexObject]
impl UserError {
    /// The path to the input field as a GraphQL error's `path` is written: names
    /// as strings, list indexes as numbers, `["input", "lineItems", 0, "unitAmount"]`.
    async fn path(&self) -> Vec<PathSegment> {
        self.field.iter().map(|segment| PathSegment::from_field(segment)).collect()
    }
}

impl UserError {
    pub fn new(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> Self {
        Self { field: field.iter().map(|s| s.to_string()).collect(), message: message.into(), code }
    }
}

/// The request's `Idempotency-Key` header.
#[derive(Clone, Debug, Default)]
pub struct IdempotencyHeader(pub Option<String>);

/// Where Pixelz should call this gateway when an image is done.
#[derive(Clone, Debug)]
pub struct WebhookUrl(pub String);

/// The key a write is remembered under: the request's `Idempotency-Key` with the
/// mutation's name and its place among the operation's fields of that name (so two
/// writes in one request stay apart, and an alias renamed changes nothing), or else
/// the caller's `clientMutationId`.
fn idempotency_key(ctx: &Context<'_>, mutation: &str, client_mutation_id: Option<&str>) -> Option<String> {
    let header = ctx.data_opt::<IdempotencyHeader>().and_then(|h| h.0.clone());
    match (header, client_mutation_id) {
        (Some(key), _) => Some(format!("header:{key}:{mutation}:{}", place_among_namesakes(ctx))),
        (None, Some(id)) if !id.is_empty() => Some(format!("clientMutationId:{mutation}:{id}")),
        _ => None,
    }
}

/// A name for what this write makes, made from its idempotency key (when it has one), for an
/// upstream that finds objects by a name the caller gives them.
pub(super) fn derived_key(
    ctx: &Context<'_>,
    mutation: &str,
    client_mutation_id: Option<&str>,
    tenant: &TenantKey,
) -> Option<String> {
    idempotency_key(ctx, mutation, client_mutation_id)
        .map(|key| crate::idempotency::natural_key(tenant, &key, mutation))
}

/// How many root fields of the same name come before this one in the operation, fragments
/// followed: a count that no alias or whitespace changes.
fn place_among_namesakes(ctx: &Context<'_>) -> usize {
    use async_graphql::parser::types::{Selection, SelectionSet};
    let env = &ctx.query_env;
    let name = &ctx.item.node.name.node;
    let this = ctx.item.pos;
    // The document was analysed before it ran: fragments do not cycle.
    fn walk(
        env: &async_graphql::QueryEnv,
        set: &SelectionSet,
        name: &str,
        this: async_graphql::Pos,
        seen: &mut usize,
    ) -> bool {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) if field.pos == this => return true,
                Selection::Field(field) if field.node.name.node == name => *seen += 1,
                Selection::Field(_) => {}
                Selection::InlineFragment(inline) => {
                    if walk(env, &inline.node.selection_set.node, name, this, seen) {
                        return true;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = env.fragments.get(&spread.node.fragment_name.node)
                        && walk(env, &fragment.node.selection_set.node, name, this, seen)
                    {
                        return true;
                    }
                }
            }
        }
        false
    }
    let mut seen = 0;
    walk(env, &env.operation.node.selection_set.node, name, this, &mut seen);
    seen
}

/// Which write `write_once` makes: the mutation, the caller's `clientMutationId`, whose it is,
/// where its user errors point, and how it is found upstream once made.
pub(super) struct WriteOnce<'a> {
    pub mutation: &'a str,
    pub client_mutation_id: Option<&'a str>,
    pub tenant: &'a TenantKey,
    pub target: &'a [&'a str],
    pub natural: Natural,
}

/// A write that must happen once however often it is retried (an invoice, a paid
/// submission): run under the request's idempotency key for the tenant, so a repeat,
/// on any instance sharing the records, gets the first result. The field's arguments
/// are the body the key is bound to: the same key with other arguments is refused.
/// When the upstream's answer is lost, `settle` asks it, by `natural`'s key, whether
/// the write was made. What the upstream refused comes back as user errors on
/// `target`, or as a GraphQL error when the caller cannot fix it.
pub(super) async fn write_once<T, W, S, SFut>(
    ctx: &Context<'_>,
    what: WriteOnce<'_>,
    write: impl FnOnce() -> W,
    settle: S,
) -> Result<Result<Arc<T>, Vec<UserError>>, Error>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    W: Future<Output = Result<T, UpstreamError>>,
    S: Fn(DateTime<Utc>) -> SFut,
    SFut: Future<Output = Result<Settled<T>, UpstreamError>>,
{
    let WriteOnce { mutation, client_mutation_id, tenant, target, natural } = what;
    let key = idempotency_key(ctx, mutation, client_mutation_id);
    let store = ctx.data::<Idempotency>()?;
    let arguments = ctx.field().arguments()?;
    match store.once(tenant, key, &arguments, &natural, write, settle).await {
        Ok(written) => Ok(Ok(written)),
        Err(Refused::Failed(refused)) => as_user_errors(refused, target).map(Err),
        Err(Refused::BodyDiffers) => Err(ErrorCode::IdempotencyKeyReused
            .field_error("this idempotency key was used with other input: send a new key for a new write")),
        Err(Refused::InProgress) => Err(ErrorCode::InProgress
            .field_error("a write under this idempotency key is being made: ask again to get its answer")
            .extend_with(|_, ext| ext.set("retryAfter", 1))),
        Err(Refused::OutcomeUnknown { check }) => Err(ErrorCode::WriteOutcomeUnknown
            .field_error(
                "this write may have been made upstream, and the upstream cannot yet say: nothing is sent again \
                 under this key until it can. Look for it before writing under a new key",
            )
            .extend_with(|_, ext| ext.set("check", check.clone()))),
        Err(Refused::Unrecorded) => Err(ErrorCode::IdempotencyUnavailable
            .field_error("the store of idempotency records cannot be reached, so this keyed write was not sent")
            .extend_with(|_, ext| ext.set("retryAfter", 5))),
    }
}

/// Pixieset names fields in snake case, and some differently from the inputs.
fn input_path(upstream_field: &str) -> Vec<String> {
    let camel = |part: &str| -> String {
        let renamed = match part {
            "address_info" => "address",
            "amount" => "unitAmount",
            "line_items" => "lineItems",
            other => other,
        };
        let mut out = String::new();
        let mut upper = false;
        for c in renamed.chars() {
            match c {
                '_' => upper = true,
                c if upper => {
                    out.extend(c.to_uppercase());
                    upper = false;
                }
                c => out.push(c),
            }
        }
        out
    };
    std::iter::once("input".to_string()).chain(upstream_field.split('.').map(camel)).collect()
}

/// An upstream refusal the caller can act on, as user errors; anything else
/// (credentials, outages, rate limits) stays a GraphQL error with its code.
pub(super) fn as_user_errors(error: UpstreamError, target: &[&str]) -> Result<Vec<UserError>, Error> {
    match error {
        // Only a 422 holds per-field messages; other refusals' details are not about fields.
        UpstreamError::Invalid { status: 422, message, details: Some(serde_json::Value::Object(fields)), .. }
            if !fields.is_empty() =>
        {
            let mut errors = Vec::new();
            for (field, messages) in fields {
                let messages: Vec<String> = match messages {
                    serde_json::Value::Array(list) => {
                        list.iter().map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string)).collect()
                    }
                    serde_json::Value::String(one) => vec![one],
                    other => vec![other.to_string()],
                };
                for message in messages {
                    errors.push(UserError { field: input_path(&field), message, code: UserErrorCode::Rejected });
                }
            }
            if errors.is_empty() {
                errors.push(UserError::new(&["input"], UserErrorCode::Rejected, message));
            }
            Ok(errors)
        }
        UpstreamError::Invalid { message, .. } => {
            Ok(vec![UserError::new(&["input"], UserErrorCode::Rejected, message)])
        }
        UpstreamError::NotFound { message, .. } => {
            Ok(vec![UserError::new(target, UserErrorCode::NotFound, message.unwrap_or_else(|| "not found".into()))])
        }
        UpstreamError::Refused { code, message, meaning: meaning @ (Refusal::NotFound | Refusal::Input), .. } => {
            let (kind, field) = match meaning {
                Refusal::NotFound => (UserErrorCode::NotFound, target),
                _ => (UserErrorCode::Rejected, &["input"][..]),
            };
            let text =
                if message.is_empty() { format!("Pixelz refused: {code}") } else { format!("{message} ({code})") };
            Ok(vec![UserError::new(field, kind, text)])
        }
        other => Err(super::error::from_upstream(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_field_names_become_input_paths() {
        assert_eq!(input_path("line_items.0.amount"), ["input", "lineItems", "0", "unitAmount"]);
        assert_eq!(input_path("address_info.country_id"), ["input", "address", "countryId"]);
        assert_eq!(input_path("email"), ["input", "email"]);
    }
}
