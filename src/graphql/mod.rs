//! The GraphQL schema: types, resolvers, connections, and errors with a stable
//! `extensions.code`. Resolvers read through the request's `Loaders` only.

mod analysis;
mod completion;
mod connection;
mod context;
pub mod documents;
mod error;
mod estimate;
mod federation;
mod ids;
mod joins;
pub mod limits;
pub mod live;
mod money;
mod mutation;
mod node;
mod observe;
mod pixelz;
mod pixieset;
mod scalars;
mod subscription;

use async_graphql::{MergedObject, ObjectType, Schema, SchemaBuilder};
use futures_util::stream::BoxStream;

use crate::loaders::DataSources;

#[derive(Default, MergedObject)]
pub struct Query(node::NodeQuery, pixieset::PixiesetQuery, pixelz::PixelzQuery);
// `federation::SubgraphQuery` merges the same parts: a new part goes in both.

// Every write, each API's beside its types.
#[derive(Default, MergedObject)]
pub struct Mutation(pixieset::PixiesetMutation, pixelz::PixelzMutation);

pub use mutation::{IdempotencyHeader, WebhookUrl};

pub use subscription::{EventSubjects, Subscription};

/// The schema, served as it is or as a Federation v2 subgraph (`PIXGATE_FEDERATION`).
#[derive(Clone)]
pub enum PixgateSchema {
    Plain(Schema<Query, Mutation, Subscription>),
    Subgraph(Schema<federation::SubgraphQuery, Mutation, Subscription>),
}

impl PixgateSchema {
    pub async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        match self {
            Self::Plain(schema) => schema.execute(request).await,
            Self::Subgraph(schema) => schema.execute(request).await,
        }
    }

    pub fn execute_stream(&self, request: async_graphql::Request) -> BoxStream<'static, async_graphql::Response> {
        match self {
            Self::Plain(schema) => schema.execute_stream(request),
            Self::Subgraph(schema) => schema.execute_stream(request),
        }
    }
}

/// What the schema is served with.
pub struct SchemaParts<'a> {
    pub sources: DataSources,
    /// Where Pixelz reports finished images unless a submission names another.
    pub webhook_url: WebhookUrl,
    /// Carries image-status events to subscriptions.
    pub hub: crate::events::Hub,
    pub idempotency: crate::idempotency::Idempotency,
    /// Which images were submitted for which client.
    pub client_images: std::sync::Arc<crate::client_images::ClientImages>,
    pub limits: &'a limits::Limits,
    pub documents: documents::Documents,
    /// Served as a Federation v2 subgraph.
    pub federation: bool,
}

pub fn build_schema(parts: SchemaParts<'_>) -> PixgateSchema {
    if parts.federation {
        PixgateSchema::Subgraph(configure(subgraph_builder(), parts).finish())
    } else {
        PixgateSchema::Plain(configure(builder(), parts).finish())
    }
}

/// The schema's roots and directives, before what it is served with.
fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription).directive(live::LiveDirective)
}

fn subgraph_builder() -> SchemaBuilder<federation::SubgraphQuery, Mutation, Subscription> {
    Schema::build(federation::SubgraphQuery::default(), Mutation::default(), Subscription)
        .directive(live::LiveDirective)
}

fn configure<Q: ObjectType + 'static>(
    builder: SchemaBuilder<Q, Mutation, Subscription>,
    parts: SchemaParts<'_>,
) -> SchemaBuilder<Q, Mutation, Subscription> {
    let SchemaParts { sources, webhook_url, hub, idempotency, client_images, limits, documents, federation: _ } = parts;
    let mut builder = builder
        .data(sources)
        .data(webhook_url)
        .data(hub)
        .data(idempotency)
        .data(client_images)
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
    builder
}

/// The schema's SDL, as `pixgate schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    // With `@specifiedBy`, as introspection reports it: the two must agree.
    let options = async_graphql::SDLExportOptions::new().include_specified_by();
    builder().finish().sdl_with_options(options)
}

/// The subgraph's SDL, as `_service { sdl }` answers it for a router to compose.
pub fn subgraph_sdl() -> String {
    let options = async_graphql::SDLExportOptions::new().federation().compose_directive();
    subgraph_builder().finish().sdl_with_options(options)
}
