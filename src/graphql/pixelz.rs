//! Pixelz: the retouching account.

use async_graphql::{Context, Error, Object, SimpleObject};

use super::{error, pixelz_credentials, upstreams};

/// The Pixelz account behind the credentials.
#[derive(SimpleObject)]
pub struct PixelzAccount {
    pub email: Option<String>,
    pub company: Option<String>,
    pub contact_person: Option<String>,
}

#[derive(Default)]
pub struct PixelzQuery;

#[Object]
impl PixelzQuery {
    /// The Pixelz account the request's credentials open.
    async fn pixelz_account(&self, ctx: &Context<'_>) -> Result<PixelzAccount, Error> {
        let contact = upstreams(ctx).pixelz.contact(pixelz_credentials(ctx)?).await.map_err(|e| error::upstream(&e))?;
        Ok(PixelzAccount {
            email: contact.contact_email,
            company: contact.contact_company,
            contact_person: contact.contact_person,
        })
    }
}
