//! The `server` section: where the gateway listens and what it accepts there (the body's
//! size, the origins browsers may call from), what one operation may ask (`limits.rs`) and
//! how connections are kept (`connections.rs`). Its defaults are written once, here.

use std::net::SocketAddr;

use reqwest::Url;

use super::settings::{Given, Setting, key};
use super::{ConfigError, ConnectionSettings, Limits, at_least_one, invalid, optional_url};
use crate::secret::Secret;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// A request body this large holds any real operation with room to spare.
pub const DEFAULT_MAX_BODY_KB: usize = 256;
/// A subgraph only where a router composes it.
pub const DEFAULT_FEDERATION: bool = false;

/// Where the gateway listens and what it accepts there.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// The gateway's URL as Pixelz reaches it (webhook callbacks).
    pub public_url: Option<Url>,
    /// Largest request body.
    pub max_body_bytes: usize,
    pub cors: Cors,
    pub limits: Limits,
    /// Guards `POST /admin/invalidate`.
    pub admin_token: Option<Secret>,
    /// The manifest of the only operations that run.
    pub trusted_documents: Option<std::path::PathBuf>,
    /// Served as a Federation v2 subgraph.
    pub federation: bool,
    pub connections: ConnectionSettings,
}

/// Which browser origins may call the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// No cross-origin calls: browsers only call from the gateway's own origin.
    #[default]
    Closed,
    Any,
    Origins(Vec<axum::http::HeaderValue>),
}

fn cors(origins: Option<Vec<String>>) -> Result<Cors, ConfigError> {
    const KEY: Setting = key::cors_origins;
    let origins: Vec<String> =
        origins.unwrap_or_default().into_iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
    if origins.is_empty() {
        return Ok(Cors::Closed);
    }
    if origins.iter().any(|o| o == "*") {
        return if origins.len() == 1 { Ok(Cors::Any) } else { Err(invalid(KEY, "`*` stands alone")) };
    }
    origins
        .iter()
        .map(|origin| {
            let url = Url::parse(origin)
                .map_err(|_| invalid(KEY, format!("{origin:?} is not an origin like https://app.example.com")))?;
            let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && !origin.ends_with('/');
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
                return Err(invalid(KEY, format!("{origin:?} is not an origin like https://app.example.com")));
            }
            axum::http::HeaderValue::from_str(origin)
                .map_err(|_| invalid(KEY, format!("{origin:?} is not a valid header value")))
        })
        .collect::<Result<_, _>>()
        .map(Cors::Origins)
}

impl ServerSettings {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        let listen_raw = given.listen().unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_raw
            .trim()
            .parse()
            .map_err(|_| invalid(key::listen, format!("{listen_raw:?} is not an address like 127.0.0.1:8080")))?;
        let max_body_kb = at_least_one(key::max_body_kb, given.max_body_kb(), DEFAULT_MAX_BODY_KB)?;
        Ok(Self {
            listen,
            public_url: optional_url(key::public_url, given.public_url())?,
            max_body_bytes: max_body_kb.saturating_mul(1024),
            cors: cors(given.cors_origins())?,
            limits: Limits::given(given)?,
            admin_token: given.admin_token(),
            trusted_documents: given.trusted_documents().filter(|path| !path.trim().is_empty()).map(Into::into),
            federation: given.federation().unwrap_or(DEFAULT_FEDERATION),
            connections: ConnectionSettings::given(given)?,
        })
    }
}
