//! Pixieset Studio: clients and leads.

use async_graphql::{Context, Enum, Error, ID, Object, SimpleObject};

use super::{error, ids, pixieset_credentials, upstreams};
use crate::upstream::pixieset::wire as pixieset;

/// What a contact is to the studio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ClientType {
    /// An active, paying customer.
    Client,
    /// A potential customer who has inquired.
    Lead,
    /// Any other contact.
    Other,
}

/// A client, lead or other contact of the studio.
#[derive(SimpleObject)]
pub struct Client {
    /// The Pixieset id (`cl_…`).
    pub id: ID,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    /// Client, lead or other; null when Pixieset sends a type this gateway does not know.
    #[graphql(name = "type")]
    pub kind: Option<ClientType>,
    /// `Active` or `Archived`.
    pub status: Option<String>,
}

impl From<pixieset::Client> for Client {
    fn from(wire: pixieset::Client) -> Self {
        let kind = match wire.kind.as_deref() {
            Some("client") => Some(ClientType::Client),
            Some("lead") => Some(ClientType::Lead),
            Some("other") => Some(ClientType::Other),
            _ => None,
        };
        Self {
            id: wire.id.into(),
            email: wire.email,
            first_name: wire.first_name,
            last_name: wire.last_name,
            phone: wire.phone,
            company: wire.company,
            kind,
            status: wire.status_name,
        }
    }
}

#[derive(Default)]
pub struct StudioQuery;

#[Object]
impl StudioQuery {
    /// One client by id.
    async fn client(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Client>, Error> {
        let id = ids::pixieset(&id, "cl_", "client")?;
        let credentials = pixieset_credentials(ctx)?;
        // A missing client is a null field beside a NOT_FOUND error.
        let client = upstreams(ctx).pixieset.client(credentials, &id).await.map_err(|e| error::upstream(&e))?;
        Ok(Some(client.into()))
    }
}
