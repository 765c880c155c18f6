//! What a resolver reaches through its context: the request's loaders, each upstream's
//! behind its credentials, and the links pixgate keeps between the two.

use std::sync::Arc;

use async_graphql::{Context, Error};

use super::error;
use crate::client_images::ClientImages;
use crate::loaders::{Loaders, Pixelz, Pixieset};
use crate::upstream::Api;

pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, Error> {
    ctx.data::<Arc<Loaders>>().map(|loaders| &**loaders)
}

/// Pixieset, or UNAUTHENTICATED before any upstream call.
pub(crate) fn pixieset<'a>(ctx: &Context<'a>) -> Result<&'a Pixieset, Error> {
    loaders(ctx)?.pixieset.as_ref().map_err(|why| error::unauthenticated(Api::Pixieset, *why))
}

/// Pixelz, or UNAUTHENTICATED before any upstream call.
pub(crate) fn pixelz<'a>(ctx: &Context<'a>) -> Result<&'a Pixelz, Error> {
    loaders(ctx)?.pixelz.as_ref().map_err(|why| error::unauthenticated(Api::Pixelz, *why))
}

/// Which images were submitted for which client. Kept outside the cache: an answer that
/// read a link is not kept by the response cache.
pub(crate) fn client_images<'a>(ctx: &Context<'a>) -> Result<&'a ClientImages, Error> {
    crate::cache::reads::untracked();
    ctx.data::<Arc<ClientImages>>().map(|links| &**links)
}
