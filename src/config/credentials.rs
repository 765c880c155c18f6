//! The `credentials` section: what the gateway acts with for callers that send none, who
//! may use it, and the `webhooks` secrets that verify Pixelz's deliveries. None has a default.

use super::settings::{Given, key};
use super::{ConfigError, invalid};
use crate::secret::Secret;

/// The credentials the gateway acts with for callers that send none, and who may use them.
#[derive(Clone, Debug)]
pub struct CredentialSettings {
    pub pixieset_cookie: Option<Secret>,
    pub pixelz: Option<PixelzDefaults>,
    /// Bearer tokens a caller presents to act with the defaults.
    pub access_tokens: Vec<Secret>,
    /// The partner acting for every studio: its key goes with each submission, and
    /// each webhook must then carry the partner signature.
    pub pixelz_developer_api_key: Option<Secret>,
    /// The partner's Pixelz email: with its key, who creates contacts.
    pub pixelz_developer_email: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PixelzDefaults {
    pub contact_email: String,
    pub api_key: Secret,
}

/// The secrets that verify Pixelz's webhooks.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub app_secret: Option<Secret>,
    pub partner_secret: Option<Secret>,
}

impl CredentialSettings {
    pub(super) fn given(given: &Given) -> Result<Self, ConfigError> {
        let pixelz = match (given.pixelz_contact_email(), given.pixelz_api_key()) {
            (None, None) => None,
            (Some(contact_email), Some(api_key)) => Some(PixelzDefaults { contact_email, api_key }),
            (Some(_), None) => return Err(invalid(key::pixelz_api_key, "is required with PIXELZ_CONTACT_EMAIL")),
            (None, Some(_)) => return Err(invalid(key::pixelz_contact_email, "is required with PIXELZ_API_KEY")),
        };
        let access_tokens = given.access_tokens().unwrap_or_default();
        if access_tokens.iter().any(|t| t.expose().trim().is_empty() || t.expose().chars().any(char::is_whitespace)) {
            return Err(invalid(key::access_tokens, "tokens must be non-empty and contain no whitespace"));
        }
        Ok(Self {
            pixieset_cookie: given.pixieset_cookie(),
            pixelz,
            access_tokens,
            pixelz_developer_api_key: given.pixelz_developer_api_key(),
            pixelz_developer_email: given.pixelz_developer_email(),
        })
    }

    pub fn has_defaults(&self) -> bool {
        self.pixieset_cookie.is_some() || self.pixelz.is_some()
    }
}

impl WebhookSettings {
    pub(super) fn given(given: &Given) -> Self {
        Self { app_secret: given.pixelz_app_secret(), partner_secret: given.pixelz_partner_secret() }
    }
}
