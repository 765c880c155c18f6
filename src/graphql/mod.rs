//! The GraphQL schema: types, resolvers, connections, and errors with a stable
//! `extensions.code`. Resolvers read through the request's `Loaders` only.

mod connection;
mod error;
mod ids;
mod money;
mod mutation;
mod node;
mod pixelz;
mod scalars;
mod studio;

use async_graphql::{Context, EmptySubscription, Error, MergedObject, Schema};

use crate::loaders::{DataSources, Loaders, Retouching, Studio};
use crate::upstream::Api;

#[derive(Default, MergedObject)]
pub struct Query(node::NodeQuery, studio::StudioQuery, pixelz::PixelzQuery);

pub use mutation::{IdempotencyHeader, Mutation, WebhookUrl};

pub type PixgateSchema = Schema<Query, Mutation, EmptySubscription>;

/// `webhook_url` is where Pixelz reports finished images unless a submission names another.
pub fn build_schema(sources: DataSources, webhook_url: WebhookUrl) -> PixgateSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(sources)
        .data(webhook_url)
        .data(crate::idempotency::Idempotency::default())
        .finish()
}

/// The schema's SDL, as `pixgate schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).finish().sdl()
}

pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, Error> {
    ctx.data::<std::sync::Arc<Loaders>>().map(|loaders| &**loaders)
}

/// Pixieset, or UNAUTHENTICATED before any upstream call.
fn studio<'a>(ctx: &Context<'a>) -> Result<&'a Studio, Error> {
    loaders(ctx)?.studio.as_ref().map_err(|why| error::unauthenticated(Api::Pixieset, *why))
}

/// Pixelz, or UNAUTHENTICATED before any upstream call.
fn retouching<'a>(ctx: &Context<'a>) -> Result<&'a Retouching, Error> {
    loaders(ctx)?.retouching.as_ref().map_err(|why| error::unauthenticated(Api::Pixelz, *why))
}
