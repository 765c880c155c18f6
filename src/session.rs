//! Who one request or WebSocket connection is, resolved once before anything reads
//! it: the credentials it acts with, whom it acts for (its tenant key, hashed once),
//! and the client address its rate limits draw on. Rate limiting, HTTP, SSE and the
//! WebSocket all read this; `Loaders::new` turns it into the request's data sources.

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::{AccessPolicy, Credentials, Supplied};
use crate::upstream::TenantKey;

/// Cloned by each layer that reads it, so one reference count, not a copy of every credential.
#[derive(Clone, Debug)]
pub struct Session(Arc<Resolved>);

#[derive(Debug)]
struct Resolved {
    credentials: Credentials,
    tenant: Option<TenantKey>,
    client: IpAddr,
    anonymous: bool,
    /// Presented one of the configured access tokens.
    token: bool,
}

impl Session {
    /// What the caller supplied, under the gateway's access policy, from `client`.
    pub fn resolve(policy: &AccessPolicy, supplied: Supplied, client: IpAddr) -> Self {
        let anonymous = supplied.is_anonymous();
        let token = policy.holds_token(supplied.bearer.as_ref());
        let credentials = policy.resolve(supplied);
        let (pixieset, pixelz) = (credentials.pixieset.as_ref(), credentials.pixelz.as_ref());
        let tenant = match (pixieset, pixelz) {
            (Ok(pixieset), Ok(pixelz)) => Some(pixieset.tenant().joined(pixelz.tenant())),
            (Ok(pixieset), Err(_)) => Some(pixieset.tenant().clone()),
            (Err(_), Ok(pixelz)) => Some(pixelz.tenant().clone()),
            (Err(_), Err(_)) => None,
        };
        Self(Arc::new(Resolved { credentials, tenant, client, anonymous, token }))
    }

    pub fn credentials(&self) -> &Credentials {
        &self.0.credentials
    }

    /// Whom the session acts for, with both upstreams together; None when it can act for nobody.
    /// Its per-tenant rate limit is keyed by this.
    pub fn tenant(&self) -> Option<&TenantKey> {
        self.0.tenant.as_ref()
    }

    /// Whom the session acts as with each upstream, or why it cannot: two sessions with
    /// the same identity see the same data and the same refusals, so they may share a
    /// subscription's execution. Hashes, never a secret; made only where a subscription asks.
    pub fn identity(&self) -> String {
        let (pixieset, pixelz) = (self.0.credentials.pixieset.as_ref(), self.0.credentials.pixelz.as_ref());
        format!(
            "{:?}/{:?}",
            pixieset.map(|c| c.tenant().as_str()).map_err(|why| *why),
            pixelz.map(|c| c.tenant().as_str()).map_err(|why| *why)
        )
    }

    /// The address its per-IP rate limit is keyed by: the peer, or the client a trusted proxy names.
    pub fn client(&self) -> IpAddr {
        self.0.client
    }

    /// Sent nothing that identifies the caller: no credentials, no token. What such a
    /// caller gets, anyone would get.
    pub fn is_anonymous(&self) -> bool {
        self.0.anonymous
    }

    /// Presented one of `PIXGATE_ACCESS_TOKENS`: trusted to send any operation.
    pub fn holds_token(&self) -> bool {
        self.0.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Cache, Ttls};
    use crate::loaders::{DataSources, Loaders};
    use crate::secret::Secret;
    use crate::upstream::{DERIVED, UpstreamSettings, UpstreamUrls, Upstreams};

    fn supplied_both() -> Supplied {
        Supplied {
            pixieset_cookie: Some(Secret::new("session_cookie=mine")),
            pixelz_email: Some("studio@example.test".into()),
            pixelz_api_key: Some(Secret::new("key")),
            bearer: None,
        }
    }

    #[tokio::test]
    async fn a_request_hashes_each_tenant_key_once() {
        let url = |port: u16| reqwest::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let urls = UpstreamUrls { pixieset: url(1), pixelz: url(2), pixelz_assets: None };
        let sources = DataSources {
            upstreams: Upstreams::new(urls, UpstreamSettings::default()).unwrap(),
            cache: Cache::new(1 << 20, Ttls::default()),
            lookups: Default::default(),
        };
        let before = DERIVED.with(std::cell::Cell::get);
        let session = Session::resolve(&AccessPolicy::default(), supplied_both(), [127, 0, 0, 1].into());
        // Everything a request does with its session after resolving it.
        let _ = (session.tenant(), session.identity(), session.client());
        let loaders = Loaders::new(&sources, &session);
        let _ = (loaders.pixieset.as_ref().map(|p| p.tenant()), loaders.pixelz.as_ref().map(|p| p.tenant()));
        let hashed = DERIVED.with(std::cell::Cell::get) - before;
        assert_eq!(hashed, 3, "one key for Pixieset, one for Pixelz, one for both together");
    }

    #[test]
    fn identity_names_hashes_and_reasons_only() {
        let session = Session::resolve(&AccessPolicy::default(), supplied_both(), [127, 0, 0, 1].into());
        assert!(!session.identity().contains("mine") && !session.identity().contains("example.test"));
        let nobody = Session::resolve(&AccessPolicy::default(), Supplied::default(), [127, 0, 0, 1].into());
        assert_eq!(nobody.identity(), "Err(NotSent)/Err(NotSent)");
        assert!(nobody.tenant().is_none() && nobody.is_anonymous());
    }
}
