//! One error type for every upstream failure. It knows the API, the endpoint
//! (a path template, never a URL with credentials in it) and the HTTP status.

use std::fmt;
use std::time::Duration;

use crate::error_code::ErrorCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Pixieset,
    Pixelz,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pixieset => "pixieset",
            Self::Pixelz => "pixelz",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pixieset => "Pixieset",
            Self::Pixelz => "Pixelz",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }

    pub fn method(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

/// Where a call went: the API, the method and the path template, e.g.
/// `GET /clients/{client_id}`; never a URL, which may carry credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub api: Api,
    pub verb: Verb,
    pub path: &'static str,
}

impl Endpoint {
    pub const fn pixieset(verb: Verb, path: &'static str) -> Self {
        Self { api: Api::Pixieset, verb, path }
    }

    pub const fn pixelz(verb: Verb, path: &'static str) -> Self {
        Self { api: Api::Pixelz, verb, path }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.api, self.verb.as_str(), self.path)
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    #[error("{endpoint}: the credentials were refused")]
    Unauthenticated { endpoint: Endpoint, status: u16 },
    /// `code` is the upstream's own (`contract_not_found`): without one, the server
    /// may not have the endpoint at all rather than the object.
    #[error("{endpoint}: not found")]
    NotFound { endpoint: Endpoint, code: Option<String>, message: Option<String> },
    #[error("{endpoint}: the input was rejected: {message}")]
    Invalid { endpoint: Endpoint, status: u16, message: String, details: Option<serde_json::Value> },
    #[error("{endpoint}: rate limited")]
    RateLimited { endpoint: Endpoint, retry_after: Option<Duration> },
    #[error("{endpoint}: unavailable ({reason})")]
    Unavailable { endpoint: Endpoint, status: Option<u16>, reason: String },
    #[error("{endpoint}: the answer could not be read ({reason}; it began {excerpt:?})")]
    Malformed { endpoint: Endpoint, status: u16, reason: String, excerpt: String },
    /// A write whose request may have reached the upstream, with no answer that says what it
    /// did: a timeout or a reset after sending, an unreadable 2xx, a 500, 502 or 504. It may
    /// have been made; it is never sent again blindly.
    #[error("{endpoint}: the write may have been made, its answer was lost ({reason})")]
    OutcomeUnknown { endpoint: Endpoint, status: Option<u16>, reason: String },
    /// Pixelz answers its failures with HTTP 200 and an `ErrorCode`. The documents
    /// name no code but `NoError`, so `meaning` comes from the call, never the code.
    #[error("{endpoint}: Pixelz answered {code}: {message}")]
    Refused { endpoint: Endpoint, code: String, message: String, meaning: Refusal },
    /// Not called: the operation has made every upstream call its budget allows.
    #[error("{endpoint}: not called, the operation's budget of {limit} upstream calls is spent")]
    BudgetSpent { endpoint: Endpoint, limit: u32 },
    /// Not called: the circuit to the upstream is open for these credentials.
    #[error("{endpoint}: not called, the circuit is open for {} ms more", retry_after.as_millis())]
    CircuitOpen { endpoint: Endpoint, retry_after: Duration },
}

/// What a Pixelz refusal turned out to mean, found from the call's context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The credentials: `GET Contact` with them is refused too.
    Credentials,
    /// The object named: the image or template is not there for these credentials.
    NotFound,
    /// Anything else about the request: a value, or the image's state.
    Input,
}

impl UpstreamError {
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Self::Unauthenticated { endpoint, .. }
            | Self::NotFound { endpoint, .. }
            | Self::Invalid { endpoint, .. }
            | Self::RateLimited { endpoint, .. }
            | Self::Unavailable { endpoint, .. }
            | Self::Malformed { endpoint, .. }
            | Self::OutcomeUnknown { endpoint, .. }
            | Self::Refused { endpoint, .. }
            | Self::BudgetSpent { endpoint, .. }
            | Self::CircuitOpen { endpoint, .. } => *endpoint,
        }
    }

    /// The stable `extensions.code` for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated { .. } | Self::Refused { meaning: Refusal::Credentials, .. } => {
                ErrorCode::Unauthenticated
            }
            Self::NotFound { .. } | Self::Refused { meaning: Refusal::NotFound, .. } => ErrorCode::NotFound,
            Self::Invalid { .. } | Self::Refused { meaning: Refusal::Input, .. } => ErrorCode::BadUserInput,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable { .. } | Self::Malformed { .. } | Self::CircuitOpen { .. } => {
                ErrorCode::UpstreamUnavailable
            }
            Self::BudgetSpent { .. } => ErrorCode::UpstreamBudgetExceeded,
            Self::OutcomeUnknown { .. } => ErrorCode::WriteOutcomeUnknown,
        }
    }

    /// What a client is told: the failure without its cause (a reason or an excerpt of
    /// the answer belongs in the log), in words that name the API.
    pub fn public_message(&self) -> String {
        let api = self.endpoint().api;
        match self {
            Self::Unauthenticated { .. } | Self::Refused { meaning: Refusal::Credentials, .. } => {
                format!("{api} refused the credentials")
            }
            Self::NotFound { message: Some(message), .. } => format!("{api}: {message}"),
            Self::NotFound { message: None, .. } => format!("{api} has no such object"),
            Self::Invalid { message, .. } => format!("{api} rejected the input: {message}"),
            Self::Refused { code, message, .. } if message.is_empty() => format!("{api} refused: {code}"),
            Self::Refused { code, message, .. } => format!("{api} refused: {message} ({code})"),
            Self::RateLimited { retry_after: Some(after), .. } => {
                format!("{api} is limiting this gateway's calls: retry after {} s", after.as_secs().max(1))
            }
            Self::RateLimited { retry_after: None, .. } => format!("{api} is limiting this gateway's calls"),
            Self::Unavailable { .. } => format!("{api} is unavailable"),
            Self::Malformed { .. } => format!("{api} answered something this gateway cannot read"),
            Self::OutcomeUnknown { .. } => {
                format!("{api} may have made this write: its answer was lost. Look for the object before writing again")
            }
            Self::BudgetSpent { limit, .. } => {
                format!("not asked of {api}: this operation made the {limit} upstream calls one operation may make")
            }
            Self::CircuitOpen { retry_after, .. } => format!(
                "{api} is given room after failing or limiting these credentials' calls: retry after {} s",
                retry_after.as_secs().max(1)
            ),
        }
    }

    /// When to try again, where the failure says.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            // Whole seconds, rounded up: rounding down would invite an early retry.
            Self::CircuitOpen { retry_after, .. } => Some(Duration::from_secs(retry_after.as_secs_f64().ceil() as u64)),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthenticated { status, .. } | Self::Invalid { status, .. } | Self::Malformed { status, .. } => {
                Some(*status)
            }
            Self::NotFound { .. } => Some(404),
            Self::RateLimited { .. } => Some(429),
            Self::Unavailable { status, .. } | Self::OutcomeUnknown { status, .. } => *status,
            Self::Refused { .. } => Some(200),
            Self::BudgetSpent { .. } | Self::CircuitOpen { .. } => None,
        }
    }
}
