//! The GraphQL schema: types, resolvers, connections, and errors with a stable
//! `extensions.code`. Resolvers read through the request's `Loaders` only.

mod completion;
mod connection;
pub mod documents;
mod error;
mod ids;
pub mod limits;
mod money;
mod mutation;
mod node;
mod observe;
mod pixelz;
mod pixieset;
mod scalars;
mod selection;
mod subscription;

use async_graphql::{Context, Error, MergedObject, Schema};

use crate::loaders::{DataSources, Loaders, Pixelz, Pixieset};
use crate::upstream::Api;

#[derive(Default, MergedObject)]
pub struct Query(node::NodeQuery, pixieset::PixiesetQuery, pixelz::PixelzQuery);

pub use ids::is_ticket;
pub use mutation::{IdempotencyHeader, Mutation, WebhookUrl};

pub use subscription::{EventSubjects, Subscription};

pub type PixgateSchema = Schema<Query, Mutation, Subscription>;

/// `webhook_url` is where Pixelz reports finished images unless a submission names
/// another; `hub` carries image-status events to subscriptions.
pub fn build_schema(
    sources: DataSources,
    webhook_url: WebhookUrl,
    hub: crate::events::Hub,
    idempotency: crate::idempotency::Idempotency,
    limits: &limits::Limits,
    documents: documents::Documents,
) -> PixgateSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(sources)
        .data(webhook_url)
        .data(hub)
        .data(idempotency)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(observe::Observe)
        .extension(completion::Completion)
        .extension(limits::Enforce { limits: std::sync::Arc::new(limits.clone()), documents });
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The schema's SDL, as `pixgate schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    // With `@specifiedBy`, as introspection reports it: the two must agree.
    let options = async_graphql::SDLExportOptions::new().include_specified_by();
    Schema::build(Query::default(), Mutation::default(), Subscription).finish().sdl_with_options(options)
}

pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, Error> {
    ctx.data::<std::sync::Arc<Loaders>>().map(|loaders| &**loaders)
}

/// Pixieset, or UNAUTHENTICATED before any upstream call.
fn pixieset<'a>(ctx: &Context<'a>) -> Result<&'a Pixieset, Error> {
    loaders(ctx)?.pixieset.as_ref().map_err(|why| error::unauthenticated(Api::Pixieset, *why))
}

/// Pixelz, or UNAUTHENTICATED before any upstream call.
fn pixelz<'a>(ctx: &Context<'a>) -> Result<&'a Pixelz, Error> {
    loaders(ctx)?.pixelz.as_ref().map_err(|why| error::unauthenticated(Api::Pixelz, *why))
}
