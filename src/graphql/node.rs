//! Relay object identification (`node`, `nodes`) and the `Template` interface
//! over both kinds of template.

use async_graphql::{Context, Error, ID, Interface, Object};
use futures_util::future::join_all;

use super::error::bad_input;
use super::ids::{self, NodeId};
use super::pixelz::{self, PixelzImage, PixelzInvoice, PixelzProduct, PixelzTemplate};
use super::pixieset::{self, Client, Contract, ContractTemplate, Invoice};

/// At most this many ids in one `nodes` call.
const MAX_NODES: usize = 100;

/// An object with a global id that `node(id:)` finds again.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The global id."))]
pub enum Node {
    Client(Client),
    Invoice(Invoice),
    Contract(Contract),
    ContractTemplate(ContractTemplate),
    PixelzTemplate(PixelzTemplate),
    PixelzImage(PixelzImage),
    PixelzProduct(PixelzProduct),
    PixelzInvoice(PixelzInvoice),
}

/// A reusable set of instructions: a Pixieset contract template or a Pixelz retouching template.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The global id."), field(name = "name", ty = "String"))]
pub enum Template {
    ContractTemplate(ContractTemplate),
    PixelzTemplate(PixelzTemplate),
}

async fn resolve(ctx: &Context<'_>, id: NodeId) -> Result<Option<Node>, Error> {
    Ok(Some(match id {
        NodeId::Client(id) => Node::Client(pixieset::client_by_id(ctx, &id).await?),
        NodeId::Invoice(id) => Node::Invoice(pixieset::invoice_by_id(ctx, &id).await?),
        NodeId::Contract(id) => Node::Contract(pixieset::contract_by_id(ctx, &id).await?),
        NodeId::ContractTemplate(id) => Node::ContractTemplate(pixieset::contract_template_by_id(ctx, &id).await?),
        NodeId::PixelzTemplate(number) => Node::PixelzTemplate(pixelz::template_by_number(ctx, &number).await?),
        NodeId::PixelzImage(ticket) => Node::PixelzImage(pixelz::image_by_ticket(ctx, &ticket).await?),
        NodeId::PixelzProduct(product) => match pixelz::product_by_id(ctx, &product).await? {
            Some(product) => Node::PixelzProduct(product),
            None => return Err(pixelz::not_listed(format!("Pixelz lists no product {product}"))),
        },
        NodeId::PixelzInvoice(number) => Node::PixelzInvoice(pixelz::invoice_by_number(ctx, &number).await?),
    }))
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>, Error> {
        resolve(ctx, ids::parse_node(&id)?).await
    }

    /// Objects by their global ids, in order; null where one is missing, malformed or
    /// failed (its error is reported beside the data, at its index).
    #[graphql(complexity = "ids.len().max(1).saturating_mul(child_complexity).saturating_add(1)")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>, Error> {
        if ids.len() > MAX_NODES {
            return Err(bad_input(format!("at most {MAX_NODES} ids at a time")));
        }
        // Every id is checked before any upstream call; a malformed one costs none.
        let parsed = ids.iter().map(ids::parse_node).collect::<Vec<_>>();
        let resolved = join_all(parsed.into_iter().map(|id| async move { resolve(ctx, id?).await })).await;
        Ok(resolved
            .into_iter()
            .enumerate()
            .map(|(index, node)| {
                node.unwrap_or_else(|error| {
                    // The item's own path, so a client knows which id failed.
                    let mut error = ctx.set_error_path(error.into_server_error(ctx.item.pos));
                    error.path.push(async_graphql::PathSegment::Index(index));
                    ctx.add_error(error);
                    None
                })
            })
            .collect())
    }

    /// Both kinds of template in one list. If one upstream fails, the other's
    /// templates still come, with the failure beside them.
    async fn templates(&self, ctx: &Context<'_>) -> Vec<Template> {
        let (contract, pixelz) = tokio::join!(pixieset::contract_templates(ctx), pixelz::templates(ctx));
        let mut templates = Vec::new();
        for side in [
            contract.map(|t| t.into_iter().map(Template::from).collect::<Vec<_>>()),
            pixelz.map(|t| t.into_iter().map(Template::from).collect()),
        ] {
            match side {
                Ok(found) => templates.extend(found),
                Err(error) => ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos))),
            }
        }
        templates
    }
}
