//! The schema as an Apollo Federation v2 subgraph (`PIXGATE_FEDERATION`): `Client`,
//! `Invoice`, `Contract`, `ContractTemplate`, `PixelzTemplate` and `PixelzImage`
//! are entities keyed by their global `id`, and a router resolves them through
//! `_entities`, which async-graphql adds with `_service { sdl }` once entity
//! resolvers exist. That is why they live on a query type of their own, merged in
//! only when federation is on: without it the schema stays exactly `schema.graphql`.
//!
//! Each representation is looked up the way `node(id:)` looks it up, so the router's
//! fifty clients are one DataLoader batch: async-graphql resolves the representations
//! of one `_entities` call concurrently, and the loader gathers them.

use async_graphql::{Context, Error, ID, MergedObject, Object, Value};

use super::error::bad_input;
use super::ids::{self, NodeId};
use super::node::NodeQuery;
use super::pixelz::PixelzQuery;
use super::pixelz::{self, PixelzImage, PixelzTemplate};
use super::pixieset::PixiesetQuery;
use super::pixieset::{self, Client, Contract, ContractTemplate, Invoice};

// The query type of the subgraph: the parts of the schema's own, and the entity
// lookups. Its parts, not `Query` itself, which would be a second type named `Query`;
// a test holds the two to the same fields. A plain comment, so the subgraph's
// `Query` has the same description as the schema's.
#[derive(Default, MergedObject)]
#[graphql(name = "Query")]
pub struct SubgraphQuery(NodeQuery, PixiesetQuery, PixelzQuery, Entities);

#[derive(Default)]
pub struct Entities;

/// One entity, or null beside its error at `_entities.<index>`: async-graphql fails
/// the whole list when one lookup fails, and one missing client must not hide the
/// other 49. Its lookups are not told their index, so the representations are read
/// again to find it (only on failure); a router maps an error to its entity by it,
/// and keeps the error's code only then.
fn or_null<T>(ctx: &Context<'_>, typename: &str, id: &ID, found: Result<T, Error>) -> Option<T> {
    let error = match found {
        Ok(found) => return Some(found),
        Err(error) => ctx.set_error_path(error.into_server_error(ctx.item.pos)),
    };
    let indices = representation_indices(ctx, typename, id);
    if indices.is_empty() {
        ctx.add_error(error);
        return None;
    }
    for index in indices {
        let mut error = error.clone();
        error.path.push(async_graphql::PathSegment::Index(index));
        ctx.add_error(error);
    }
    None
}

/// Where `{ __typename: typename, id }` stands among the `_entities` call's representations.
fn representation_indices(ctx: &Context<'_>, typename: &str, id: &ID) -> Vec<usize> {
    let arguments = ctx.field().arguments().unwrap_or_default();
    let Some((_, Value::List(representations))) = arguments.iter().find(|(name, _)| name.as_str() == "representations")
    else {
        return Vec::new();
    };
    let is_it = |representation: &Value| match representation {
        Value::Object(fields) => {
            fields.get("__typename") == Some(&Value::String(typename.into()))
                && fields.get("id") == Some(&Value::String(id.to_string()))
        }
        _ => false,
    };
    representations.iter().enumerate().filter(|(_, r)| is_it(r)).map(|(index, _)| index).collect()
}

/// The id a representation carries, when it is one of `kind`'s.
fn parsed(id: &ID, kind: &str, wanted: fn(NodeId) -> Option<String>) -> Result<String, Error> {
    wanted(ids::parse_node(id)?).ok_or_else(|| bad_input(format!("{:?} is not the id of a {kind}", id.as_str())))
}

#[Object]
impl Entities {
    #[graphql(entity)]
    async fn client_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<Client> {
        let parsed = parsed(&id, "Client", |id| if let NodeId::Client(id) = id { Some(id) } else { None });
        or_null(ctx, "Client", &id, async { pixieset::client_by_id(ctx, &parsed?).await }.await)
    }

    #[graphql(entity)]
    async fn invoice_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<Invoice> {
        let parsed = parsed(&id, "Invoice", |id| if let NodeId::Invoice(id) = id { Some(id) } else { None });
        or_null(ctx, "Invoice", &id, async { pixieset::invoice_by_id(ctx, &parsed?).await }.await)
    }

    #[graphql(entity)]
    async fn contract_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<Contract> {
        let parsed = parsed(&id, "Contract", |id| if let NodeId::Contract(id) = id { Some(id) } else { None });
        or_null(ctx, "Contract", &id, async { pixieset::contract_by_id(ctx, &parsed?).await }.await)
    }

    #[graphql(entity)]
    async fn contract_template_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<ContractTemplate> {
        let parsed =
            parsed(&id, "ContractTemplate", |id| if let NodeId::ContractTemplate(id) = id { Some(id) } else { None });
        or_null(ctx, "ContractTemplate", &id, async { pixieset::contract_template_by_id(ctx, &parsed?).await }.await)
    }

    #[graphql(entity)]
    async fn pixelz_template_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<PixelzTemplate> {
        let number =
            parsed(&id, "PixelzTemplate", |id| if let NodeId::PixelzTemplate(n) = id { Some(n) } else { None });
        or_null(ctx, "PixelzTemplate", &id, async { pixelz::template_by_number(ctx, &number?).await }.await)
    }

    #[graphql(entity)]
    async fn pixelz_image_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<PixelzImage> {
        let ticket = parsed(&id, "PixelzImage", |id| if let NodeId::PixelzImage(t) = id { Some(t) } else { None });
        or_null(ctx, "PixelzImage", &id, async { pixelz::image_by_ticket(ctx, &ticket?).await }.await)
    }
}

#[cfg(test)]
mod tests {
    /// The SDL of one type, `Query`, as a printed schema has it.
    fn query_type(sdl: &str) -> String {
        let start = sdl.find("type Query").expect("a Query type");
        let end = sdl[start..].find("\n}").expect("its end") + start;
        sdl[start..end].to_string()
    }

    #[test]
    fn the_subgraph_serves_the_schemas_query_fields_and_marks_the_six_entities() {
        let subgraph = super::super::subgraph_sdl();
        let plain = query_type(&super::super::sdl());
        assert_eq!(query_type(&subgraph), plain);
        for entity in ["Client", "Invoice", "Contract", "ContractTemplate", "PixelzTemplate", "PixelzImage"] {
            let declared = subgraph.lines().find(|line| line.starts_with(&format!("type {entity} "))).unwrap();
            assert!(declared.ends_with("@key(fields: \"id\") {"), "{declared}");
        }
        assert!(!super::super::sdl().contains("@key"), "without federation the schema is as it was");
    }
}
