//! The only code that speaks HTTP to Pixieset and Pixelz: one typed client per
//! API over one shared connection pool, lenient wire types, one error type.

mod breaker;
mod credentials;
mod error;
#[cfg(test)]
mod fixtures;
pub mod health;
pub mod lenient;
pub mod pixelz;
pub mod pixieset;
mod transport;

use reqwest::Url;

#[cfg(test)]
pub(crate) use credentials::DERIVED;
pub use credentials::{PixelzCredentials, PixiesetCredentials, TenantKey};
pub use error::{Api, Endpoint, Refusal, UpstreamError, Verb};
pub use pixelz::PixelzClient;
pub use pixieset::PixiesetClient;
pub use transport::UpstreamSettings;

/// Where the two APIs are, and where Pixelz's relative URLs point.
#[derive(Clone, Debug)]
pub struct UpstreamUrls {
    pub pixieset: Url,
    pub pixelz: Url,
    /// Base for Pixelz's relative image and invoice URLs; the Pixelz host when not set.
    pub pixelz_assets: Option<Url>,
}

/// Both clients, sharing one connection pool.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub pixieset: PixiesetClient,
    pub pixelz: PixelzClient,
    /// Which upstreams these are: a hash of their URLs, so what was read from one set
    /// is never served for another that shares the Redis.
    source: std::sync::Arc<str>,
}

impl Upstreams {
    pub fn new(urls: UpstreamUrls, settings: UpstreamSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("pixgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let assets = urls.pixelz_assets;
        let source = {
            use sha2::Digest as _;
            let assets_at = assets.as_ref().map_or_else(String::new, Url::to_string);
            let located = format!("{} {} {assets_at}", urls.pixieset, urls.pixelz);
            let digest = sha2::Sha256::digest(located.as_bytes());
            digest[..8].iter().map(|b| format!("{b:02x}")).collect::<String>().into()
        };
        Ok(Self {
            pixieset: PixiesetClient::new(http.clone(), urls.pixieset, settings.clone()),
            pixelz: PixelzClient::new(http, urls.pixelz, assets, settings),
            source,
        })
    }

    /// Names these upstreams where instances share what they read (the shared cache tier).
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Appends path segments to a base URL, percent-encoding each; `""` last makes a trailing slash.
pub(crate) fn url_with(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}
