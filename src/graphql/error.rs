//! The one place a resolver's failures become GraphQL errors: the code from
//! `ErrorCode`, a message a client may show, and details in `extensions`. The
//! cause (an upstream's reason or an excerpt of its answer) goes to the log, once
//! per failed call, from `upstream/transport.rs`.

use async_graphql::{Error, ErrorExtensions};

use crate::auth::Unavailable;
use crate::error_code::ErrorCode;
use crate::upstream::{Api, UpstreamError};

pub fn upstream(error: &UpstreamError) -> Error {
    let endpoint = error.endpoint();
    error.code().field_error(error.public_message()).extend_with(|_, ext| {
        ext.set("upstream", endpoint.api.name());
        ext.set("endpoint", format!("{} {}", endpoint.verb.as_str(), endpoint.path));
        if let Some(status) = error.status() {
            ext.set("upstreamStatus", status);
        }
        if let Some(after) = error.retry_after() {
            ext.set("retryAfter", after.as_secs().max(1));
        }
        match error {
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
    ErrorCode::Unauthenticated.field_error(why.explain(&api.to_string())).extend_with(|_, ext| {
        ext.set("upstream", api.name());
    })
}

/// An upstream whose answers contradict each other: its fault, not the caller's.
pub fn upstream_inconsistent(message: impl Into<String>) -> Error {
    ErrorCode::UpstreamUnavailable.field_error(message)
}

pub fn bad_input(message: impl Into<String>) -> Error {
    ErrorCode::BadUserInput.field_error(message)
}
