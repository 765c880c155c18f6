//! The GraphQL schema: types, resolvers, and errors with `extensions.code`.
//! Resolvers reach upstream only through `crate::upstream`.

mod error;
mod ids;
mod pixelz;
mod studio;

use async_graphql::{Context, EmptyMutation, EmptySubscription, Error, MergedObject, Schema};

use crate::auth::Credentials;
use crate::upstream::{Api, PixelzCredentials, PixiesetCredentials, Upstreams};

#[derive(Default, MergedObject)]
pub struct Query(studio::StudioQuery, pixelz::PixelzQuery);

pub type PixgateSchema = Schema<Query, EmptyMutation, EmptySubscription>;

pub fn build_schema(upstreams: Upstreams) -> PixgateSchema {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription).data(upstreams).finish()
}

/// The schema's SDL, as `pixgate schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription).finish().sdl()
}

fn upstreams<'a>(ctx: &Context<'a>) -> &'a Upstreams {
    ctx.data_unchecked::<Upstreams>()
}

fn credentials<'a>(ctx: &Context<'a>) -> &'a Credentials {
    ctx.data_unchecked::<Credentials>()
}

fn pixieset_credentials<'a>(ctx: &Context<'a>) -> Result<&'a PixiesetCredentials, Error> {
    credentials(ctx).pixieset.as_ref().map_err(|why| error::unauthenticated(Api::Pixieset, *why))
}

fn pixelz_credentials<'a>(ctx: &Context<'a>) -> Result<&'a PixelzCredentials, Error> {
    credentials(ctx).pixelz.as_ref().map_err(|why| error::unauthenticated(Api::Pixelz, *why))
}
