//! Upstream credentials, and the tenant key derived from them.

#[cfg(test)]
use std::cell::Cell;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// Identifies whose data a cache entry holds: a hash of the credentials, never the credentials.
/// It travels between instances in cache invalidations, as the hash it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TenantKey(String);

#[cfg(test)]
thread_local! {
    /// How many tenant keys this thread has hashed: a session's tests count them.
    pub(crate) static DERIVED: Cell<usize> = const { Cell::new(0) };
}

impl TenantKey {
    fn derive(parts: &[&str]) -> Self {
        #[cfg(test)]
        DERIVED.with(|derived| derived.set(derived.get() + 1));
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part.as_bytes());
            // A separator no credential contains, so ("ab", "c") and ("a", "bc") differ.
            hasher.update([0u8]);
        }
        let digest = hasher.finalize();
        // Every request derives its keys: hex by table, not a `format!` per byte.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut key = String::with_capacity(32);
        for byte in &digest[..16] {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Self(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant of a Pixieset session cookie, for tests that need tenants apart.
    #[cfg(test)]
    pub(crate) fn of_cookie(cookie: &str) -> Self {
        PixiesetCredentials::new(crate::secret::Secret::new(cookie)).tenant().clone()
    }

    /// Whoever acts with both sets of credentials at once.
    pub fn joined(&self, other: &TenantKey) -> TenantKey {
        Self::derive(&[&self.0, &other.0])
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Pixieset session, sent upstream as the `Cookie` header. Its tenant key is
/// hashed when it is made: everything after reads the stored key.
#[derive(Clone, Debug)]
pub struct PixiesetCredentials {
    cookie: Secret,
    tenant: TenantKey,
}

impl PixiesetCredentials {
    pub fn new(cookie: Secret) -> Self {
        let tenant = TenantKey::derive(&["pixieset", cookie.expose()]);
        Self { cookie, tenant }
    }

    pub fn cookie(&self) -> &Secret {
        &self.cookie
    }

    pub fn tenant(&self) -> &TenantKey {
        &self.tenant
    }
}

/// A Pixelz contact, and optionally the developer key of the partner acting for it.
/// The tenant key is the contact's alone, hashed when the credentials are made.
#[derive(Clone, Debug)]
pub struct PixelzCredentials {
    contact_email: String,
    api_key: Secret,
    developer_key: Option<Secret>,
    developer_email: Option<String>,
    tenant: TenantKey,
}

impl PixelzCredentials {
    pub fn new(contact_email: impl Into<String>, api_key: Secret) -> Self {
        let contact_email = contact_email.into();
        let tenant = TenantKey::derive(&["pixelz", &contact_email.to_ascii_lowercase(), api_key.expose()]);
        Self { contact_email, api_key, developer_key: None, developer_email: None, tenant }
    }

    pub fn with_developer_key(mut self, key: Secret) -> Self {
        self.developer_key = Some(key);
        self
    }

    /// The partner's own email, which goes with its key where Pixelz asks who the developer is.
    pub fn with_developer_email(mut self, email: Option<String>) -> Self {
        self.developer_email = email;
        self
    }

    pub fn developer_email(&self) -> Option<&str> {
        self.developer_email.as_deref()
    }

    pub fn contact_email(&self) -> &str {
        &self.contact_email
    }

    pub fn api_key(&self) -> &Secret {
        &self.api_key
    }

    pub fn developer_key(&self) -> Option<&Secret> {
        self.developer_key.as_ref()
    }

    pub fn tenant(&self) -> &TenantKey {
        &self.tenant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_differ_by_credentials_and_hide_them() {
        let a = PixelzCredentials::new("studio@sandbox.test", Secret::new("sandbox-key"));
        let b = PixelzCredentials::new("studio@sandbox.test", Secret::new("other-key"));
        assert_ne!(a.tenant(), b.tenant());
        assert_eq!(a.tenant(), PixelzCredentials::new("Studio@Sandbox.test", Secret::new("sandbox-key")).tenant());
        assert!(!a.tenant().as_str().contains("sandbox"));
        assert!(!format!("{a:?}").contains("sandbox-key"));
        let cookie = PixiesetCredentials::new(Secret::new("session_cookie=sandbox"));
        assert_eq!(cookie.tenant().as_str().len(), 32);
        assert!(!format!("{cookie:?}").contains("session_cookie"));
    }
}
