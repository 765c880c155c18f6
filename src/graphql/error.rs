//! The one place failures become GraphQL errors with a stable `extensions.code`.

use async_graphql::{Error, ErrorExtensions};

use crate::auth::Unavailable;
use crate::upstream::{Api, UpstreamError};

pub fn upstream(error: &UpstreamError) -> Error {
    let endpoint = error.endpoint();
    Error::new(error.to_string()).extend_with(|_, ext| {
        ext.set("code", error.code());
        ext.set("upstream", endpoint.api.name());
        ext.set("endpoint", format!("{} {}", endpoint.verb.as_str(), endpoint.path));
        if let Some(status) = error.status() {
            ext.set("upstreamStatus", status);
        }
        match error {
            UpstreamError::RateLimited { retry_after: Some(after), .. } => ext.set("retryAfter", after.as_secs()),
            UpstreamError::Invalid { details: Some(details), .. } => {
                if let Ok(details) = async_graphql::Value::from_json(details.clone()) {
                    ext.set("details", details);
                }
            }
            UpstreamError::Refused { code, .. } => ext.set("upstreamCode", code.as_str()),
            _ => {}
        }
    })
}

/// For `map_err` on loader results.
pub fn from_upstream(error: UpstreamError) -> Error {
    upstream(&error)
}

pub fn unauthenticated(api: Api, why: Unavailable) -> Error {
    Error::new(why.explain(&api.to_string())).extend_with(|_, ext| {
        ext.set("code", "UNAUTHENTICATED");
        ext.set("upstream", api.name());
    })
}

/// An upstream whose answers contradict each other: its fault, not the caller's.
pub fn upstream_inconsistent(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, ext| ext.set("code", "UPSTREAM_UNAVAILABLE"))
}

pub fn bad_input(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, ext| ext.set("code", "BAD_USER_INPUT"))
}
