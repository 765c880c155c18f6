//! Who is calling, and with which upstream credentials.
//!
//! A caller either sends its own credentials (headers, or the WebSocket
//! `connection_init` payload) and gets only what they open, or leans on the
//! configured defaults, which act for whoever calls: so when access tokens are
//! configured, using the defaults takes one of them. The sandbox's defaults
//! open nothing real and need no token.

use axum::http::{HeaderMap, HeaderName};
use subtle::ConstantTimeEq;

use crate::secret::Secret;
use crate::upstream::{PixelzCredentials, PixiesetCredentials};

/// The headers a caller's credentials travel in, spelled as DESIGN.md's contract and
/// `Vary` spell them; reading a header ignores case.
pub const PIXIESET_COOKIE_HEADER: &str = "X-Pixieset-Cookie";
pub const PIXELZ_EMAIL_HEADER: &str = "X-Pixelz-Email";
pub const PIXELZ_API_KEY_HEADER: &str = "X-Pixelz-Api-Key";
pub const CREDENTIAL_HEADERS: [&str; 3] = [PIXIESET_COOKIE_HEADER, PIXELZ_EMAIL_HEADER, PIXELZ_API_KEY_HEADER];

/// The same credentials in a WebSocket `connection_init` payload (browsers cannot set
/// WebSocket headers), and the access token as `Bearer …`.
pub const INIT_PIXIESET_COOKIE: &str = "pixiesetCookie";
pub const INIT_PIXELZ_EMAIL: &str = "pixelzEmail";
pub const INIT_PIXELZ_API_KEY: &str = "pixelzApiKey";
pub const INIT_AUTHORIZATION: &str = "authorization";

/// The credential headers as `HeaderName`s, for CORS.
pub fn credential_header_names() -> impl Iterator<Item = HeaderName> {
    CREDENTIAL_HEADERS.into_iter().filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
}

/// Why a request has no credentials for an upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unavailable {
    /// None sent and no default configured.
    NotSent,
    /// Only part of a credential pair was sent.
    Incomplete,
    /// Defaults exist, but using them takes an access token the caller did not present.
    TokenRequired,
}

impl Unavailable {
    pub fn explain(self, api: &str) -> String {
        match self {
            Self::NotSent => format!(
                "no {api} credentials: send them with the request (see the {PIXIESET_COOKIE_HEADER}, \
                 {PIXELZ_EMAIL_HEADER} and {PIXELZ_API_KEY_HEADER} headers)"
            ),
            Self::Incomplete => {
                format!("incomplete {api} credentials: {PIXELZ_EMAIL_HEADER} and {PIXELZ_API_KEY_HEADER} go together")
            }
            Self::TokenRequired => {
                format!("the default {api} credentials need a valid access token (Authorization: Bearer …)")
            }
        }
    }
}

/// The credentials one request acts with, resolved before any resolver runs.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub pixieset: Result<PixiesetCredentials, Unavailable>,
    pub pixelz: Result<PixelzCredentials, Unavailable>,
}

/// What the caller sent, before defaults and tokens are considered.
#[derive(Clone, Debug, Default)]
pub struct Supplied {
    pub pixieset_cookie: Option<Secret>,
    pub pixelz_email: Option<String>,
    pub pixelz_api_key: Option<Secret>,
    pub bearer: Option<Secret>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

impl Supplied {
    /// Nothing that identifies the caller: no credentials, no token.
    pub fn is_anonymous(&self) -> bool {
        self.pixieset_cookie.is_none()
            && self.pixelz_email.is_none()
            && self.pixelz_api_key.is_none()
            && self.bearer.is_none()
    }

    pub fn from_headers(headers: &HeaderMap) -> Self {
        let bearer = header(headers, "authorization").and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| Secret::new(token.trim()))
        });
        Self {
            pixieset_cookie: header(headers, PIXIESET_COOKIE_HEADER).map(Secret::new),
            pixelz_email: header(headers, PIXELZ_EMAIL_HEADER),
            pixelz_api_key: header(headers, PIXELZ_API_KEY_HEADER).map(Secret::new),
            bearer,
        }
    }
}

impl Supplied {
    /// From a WebSocket `connection_init` payload (the `INIT_*` keys).
    /// What the payload lacks, the upgrade request's headers (`from_headers`) may give.
    pub fn from_init_payload(payload: &serde_json::Value, from_headers: Supplied) -> Self {
        let text = |key: &str| {
            payload.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
        };
        let bearer = text(INIT_AUTHORIZATION)
            .and_then(|v| {
                v.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, t)| Secret::new(t.trim()))
            })
            .or(from_headers.bearer);
        Self {
            pixieset_cookie: text(INIT_PIXIESET_COOKIE).map(Secret::new).or(from_headers.pixieset_cookie),
            pixelz_email: text(INIT_PIXELZ_EMAIL).or(from_headers.pixelz_email),
            pixelz_api_key: text(INIT_PIXELZ_API_KEY).map(Secret::new).or(from_headers.pixelz_api_key),
            bearer,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    pub default_pixieset: Option<PixiesetCredentials>,
    pub default_pixelz: Option<PixelzCredentials>,
    pub tokens: Vec<Secret>,
    /// The defaults are the sandbox's, which open nothing real.
    pub defaults_are_sandbox: bool,
    /// A partner's developer key, which acts for every studio's Pixelz credentials.
    pub pixelz_developer_key: Option<Secret>,
    /// The partner's own Pixelz email, which goes with its key when it creates contacts.
    pub pixelz_developer_email: Option<String>,
}

impl AccessPolicy {
    /// The credential headers with the sandbox's values, for GraphiQL's headers pane: only
    /// where the defaults are the sandbox's, which open nothing real.
    pub fn sandbox_headers(&self) -> Option<[(&'static str, String); 3]> {
        if !self.defaults_are_sandbox {
            return None;
        }
        let (pixieset, pixelz) = (self.default_pixieset.as_ref()?, self.default_pixelz.as_ref()?);
        let [cookie, email, key] = CREDENTIAL_HEADERS;
        Some([
            (cookie, pixieset.cookie().expose().to_string()),
            (email, pixelz.contact_email().to_string()),
            (key, pixelz.api_key().expose().to_string()),
        ])
    }

    fn token_accepted(&self, bearer: Option<&Secret>) -> bool {
        self.defaults_are_sandbox || self.tokens.is_empty() || self.holds_token(bearer)
    }

    /// The bearer is one of the configured tokens.
    pub fn holds_token(&self, bearer: Option<&Secret>) -> bool {
        let Some(bearer) = bearer else { return false };
        // Every token is compared, so the time taken says nothing about which one nearly matched.
        self.tokens
            .iter()
            .fold(subtle::Choice::from(0), |found, token| {
                found | token.expose().as_bytes().ct_eq(bearer.expose().as_bytes())
            })
            .into()
    }

    pub fn resolve(&self, supplied: Supplied) -> Credentials {
        let may_use_defaults = self.token_accepted(supplied.bearer.as_ref());
        fn fallback<T>(default: Option<T>, allowed: bool) -> Result<T, Unavailable> {
            match default {
                Some(credentials) if allowed => Ok(credentials),
                Some(_) => Err(Unavailable::TokenRequired),
                None => Err(Unavailable::NotSent),
            }
        }
        let pixieset = match supplied.pixieset_cookie {
            Some(cookie) => Ok(PixiesetCredentials::new(cookie)),
            None => fallback(self.default_pixieset.clone(), may_use_defaults),
        };
        let pixelz = match (supplied.pixelz_email, supplied.pixelz_api_key) {
            (Some(email), Some(key)) => Ok(PixelzCredentials::new(email, key)),
            (None, None) => fallback(self.default_pixelz.clone(), may_use_defaults),
            _ => Err(Unavailable::Incomplete),
        };
        let pixelz = match &self.pixelz_developer_key {
            Some(key) => pixelz.map(|credentials| {
                credentials.with_developer_key(key.clone()).with_developer_email(self.pixelz_developer_email.clone())
            }),
            None => pixelz,
        };
        Credentials { pixieset, pixelz }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(tokens: &[&str], sandbox: bool) -> AccessPolicy {
        AccessPolicy {
            default_pixieset: Some(PixiesetCredentials::new(Secret::new("session_cookie=default"))),
            default_pixelz: None,
            tokens: tokens.iter().map(|t| Secret::new(*t)).collect(),
            defaults_are_sandbox: sandbox,
            pixelz_developer_key: None,
            pixelz_developer_email: None,
        }
    }

    fn with_bearer(token: &str) -> Supplied {
        Supplied { bearer: Some(Secret::new(token)), ..Supplied::default() }
    }

    #[test]
    fn defaults_need_a_configured_token() {
        let policy = policy(&["alpha", "beta"], false);
        assert_eq!(policy.resolve(Supplied::default()).pixieset.unwrap_err(), Unavailable::TokenRequired);
        assert_eq!(policy.resolve(with_bearer("gamma")).pixieset.unwrap_err(), Unavailable::TokenRequired);
        assert!(policy.resolve(with_bearer("beta")).pixieset.is_ok());
        assert_eq!(policy.resolve(with_bearer("beta")).pixelz.unwrap_err(), Unavailable::NotSent);
    }

    #[test]
    fn own_credentials_need_no_token() {
        let supplied = Supplied { pixieset_cookie: Some(Secret::new("session_cookie=mine")), ..Supplied::default() };
        let credentials = policy(&["alpha"], false).resolve(supplied);
        assert_ne!(
            credentials.pixieset.unwrap().tenant(),
            PixiesetCredentials::new(Secret::new("session_cookie=default")).tenant()
        );
    }

    #[test]
    fn sandbox_defaults_are_open() {
        assert!(policy(&["alpha"], true).resolve(Supplied::default()).pixieset.is_ok());
    }

    #[test]
    fn half_a_pixelz_pair_is_incomplete() {
        let supplied = Supplied { pixelz_email: Some("a@b.test".into()), ..Supplied::default() };
        assert_eq!(policy(&[], false).resolve(supplied).pixelz.unwrap_err(), Unavailable::Incomplete);
    }

    #[test]
    fn headers_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer  tok ".parse().unwrap());
        let mut names = credential_header_names().skip(1);
        headers.insert(names.next().unwrap(), "a@b.test".parse().unwrap());
        headers.insert(names.next().unwrap(), "k".parse().unwrap());
        let supplied = Supplied::from_headers(&headers);
        assert_eq!(supplied.bearer.unwrap().expose(), "tok");
        assert_eq!(supplied.pixelz_email.as_deref(), Some("a@b.test"));
    }
}
