//! GraphQL over HTTP's media types and status codes: which of
//! `application/graphql-response+json` and `application/json` an answer is sent
//! as, and the status that goes with it, as the spec's sections of those names say.
//!
//! With `application/json` every well-formed request is answered 200, whatever
//! went wrong inside it: older clients read only 200 bodies. With
//! `application/graphql-response+json` a request that could not start executing
//! (it does not parse, does not validate, or its variables do not coerce) is a
//! 400. Either way such an answer has no `data` entry, as the GraphQL spec says of
//! errors raised before execution begins; a `data: null` says execution ran.

use std::collections::BTreeMap;
use std::time::Duration;

use async_graphql::ServerError;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::error_code::ErrorCode;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// The media type an answer goes out as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    GraphQLResponseJson,
    Json,
}

impl Media {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GraphQLResponseJson => GRAPHQL_RESPONSE_JSON,
            Self::Json => JSON,
        }
    }

    /// The client's choice from its `Accept` header: the type it weighs higher,
    /// `application/json` when it names neither (no header, or only `*/*`: the
    /// spec's legacy clients), the newer type when it weighs both alike. None when
    /// it accepts neither.
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let accept: Vec<&str> =
            headers.get_all(header::ACCEPT).iter().filter_map(|value| value.to_str().ok()).collect();
        if accept.iter().all(|value| value.trim().is_empty()) {
            return Some(Self::Json);
        }
        let ranges: Vec<MediaRange> =
            accept.iter().flat_map(|value| value.split(',')).filter_map(MediaRange::parse).collect();
        let graphql = weight(&ranges, "application", "graphql-response+json");
        let json = weight(&ranges, "application", "json");
        let named = |w: Option<Weight>| w.is_some_and(|w| w.specificity == Specificity::Exact);
        match (graphql.map_or(0, |w| w.quality), json.map_or(0, |w| w.quality)) {
            (0, 0) => None,
            (g, j) if g > j => Some(Self::GraphQLResponseJson),
            (g, j) if j > g => Some(Self::Json),
            _ if named(graphql) => Some(Self::GraphQLResponseJson),
            _ => Some(Self::Json),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    Any,
    Subtype,
    Exact,
}

#[derive(Clone, Copy, Debug)]
struct Weight {
    specificity: Specificity,
    /// The `q` parameter in thousandths.
    quality: u16,
}

struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    quality: u16,
}

impl<'a> MediaRange<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let quality = parts
            .filter_map(|parameter| parameter.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1000), |(_, value)| parse_quality(value.trim()))?;
        Some(Self { kind: kind.trim(), subtype: subtype.trim(), quality })
    }
}

/// `q` values have at most three decimals and lie in 0..=1; anything else makes the range unusable.
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The weight the most specific matching range gives a type, as RFC 9110 orders them.
fn weight(ranges: &[MediaRange<'_>], kind: &str, subtype: &str) -> Option<Weight> {
    ranges
        .iter()
        .filter_map(|range| {
            let specificity = match (range.kind, range.subtype) {
                ("*", "*") => Specificity::Any,
                (k, "*") if k.eq_ignore_ascii_case(kind) => Specificity::Subtype,
                (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => Specificity::Exact,
                _ => return None,
            };
            Some(Weight { specificity, quality: range.quality })
        })
        .max_by_key(|weight| weight.specificity)
}

/// True when the operation never started executing: no data, and no error
/// belongs to a field. A timeout stopped an execution that had started.
pub fn before_execution(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|error| error.path.is_empty() && ErrorCode::of(error) != Some(ErrorCode::ExecutionTimeout))
}

fn status(response: &async_graphql::Response, media: Media) -> StatusCode {
    if !before_execution(response) {
        return StatusCode::OK;
    }
    // Not a well-formed GraphQL-over-HTTP request: 400 in either media type.
    let malformed = response.errors.iter().any(|error| ErrorCode::of(error) == Some(ErrorCode::BadRequest));
    // Apollo's protocol asks for the query again on this code, and its clients read it from a 200.
    let persisted_miss =
        response.errors.iter().all(|error| ErrorCode::of(error) == Some(ErrorCode::PersistedQueryNotFound));
    match media {
        _ if malformed => StatusCode::BAD_REQUEST,
        Media::GraphQLResponseJson if !persisted_miss => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

/// An answer that never executed: its errors (and extensions), no `data`.
#[derive(serde::Serialize)]
struct Unexecuted<'a> {
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

/// The body of one operation's answer.
pub fn body(response: &async_graphql::Response) -> serde_json::Result<Bytes> {
    if before_execution(response) {
        serde_json::to_vec(&Unexecuted { errors: &response.errors, extensions: &response.extensions })
    } else {
        serde_json::to_vec(response)
    }
    .map(Bytes::from)
}

/// One operation's answer: executed now, or its body as serialised before (a kept
/// answer, which has no errors).
pub enum Reply {
    Executed(async_graphql::Response),
    Serialised {
        body: Bytes,
        /// How long ago a kept answer was made; None when it was made now.
        age: Option<Duration>,
    },
}

impl Reply {
    /// The reply with `value` under `extensions.<name>`.
    pub fn with_extension(self, name: &str, value: serde_json::Value) -> Self {
        match self {
            Self::Executed(mut response) => {
                response
                    .extensions
                    .insert(name.to_string(), async_graphql::Value::from_json(value).unwrap_or_default());
                Self::Executed(response)
            }
            Self::Serialised { body, age } => {
                let Ok(serde_json::Value::Object(mut answer)) = serde_json::from_slice::<serde_json::Value>(&body)
                else {
                    return Self::Serialised { body, age };
                };
                let extensions = answer.entry("extensions").or_insert_with(|| serde_json::json!({}));
                if let Some(extensions) = extensions.as_object_mut() {
                    extensions.insert(name.to_string(), value);
                }
                let body = serde_json::to_vec(&answer).map(Bytes::from).unwrap_or(body);
                Self::Serialised { body, age }
            }
        }
    }

    pub fn is_ok(&self) -> bool {
        match self {
            Self::Executed(response) => response.is_ok(),
            Self::Serialised { .. } => true,
        }
    }
}

/// What a request is answered: one operation, or a batch of them.
pub enum Replies {
    Single(Reply),
    Batch(Vec<Reply>),
}

/// The HTTP answer for GraphQL answers (a batch is always 200: its items may differ).
pub fn answer(replies: Replies, media: Media) -> Response {
    let mut headers = HeaderMap::new();
    let (status, body) = match replies {
        Replies::Single(Reply::Executed(one)) => {
            headers = one.http_headers.clone();
            (status(&one, media), body(&one))
        }
        Replies::Single(Reply::Serialised { body, age }) => {
            // RFC 9111's `Age`: the answer is older than this request, and a shared
            // cache downstream must count that against its `max-age`.
            if let Some(age) = age {
                headers.insert(header::AGE, HeaderValue::from(age.as_secs()));
            }
            (StatusCode::OK, Ok(body))
        }
        Replies::Batch(many) => {
            let bodies: serde_json::Result<Vec<Bytes>> = many
                .into_iter()
                .map(|reply| match reply {
                    Reply::Executed(one) => body(&one),
                    Reply::Serialised { body, .. } => Ok(body),
                })
                .collect();
            let joined = bodies.map(|bodies| {
                let mut joined = b"[".to_vec();
                joined.extend(bodies.join(&b","[..]));
                joined.push(b']');
                Bytes::from(joined)
            });
            (StatusCode::OK, joined)
        }
    };
    // Serialising a value async-graphql built cannot fail; should it ever, say so typed.
    let Ok(body) = body else {
        let error = ErrorCode::InternalServerError.error("the answer could not be serialised");
        return super::refuse(StatusCode::INTERNAL_SERVER_ERROR, error);
    };
    let mut answer = (status, body).into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media.as_str()));
    answer.headers_mut().extend(headers);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(accept: Option<&str>) -> Option<Media> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        Media::negotiate(&headers)
    }

    #[test]
    fn the_client_chooses_by_weight_and_legacy_clients_get_json() {
        assert_eq!(chosen(None), Some(Media::Json));
        assert_eq!(chosen(Some("*/*")), Some(Media::Json));
        assert_eq!(chosen(Some("application/json")), Some(Media::Json));
        assert_eq!(chosen(Some("application/graphql-response+json")), Some(Media::GraphQLResponseJson));
        // Apollo Client's and graphql-http's own clients' header.
        assert_eq!(
            chosen(Some("application/graphql-response+json, application/json;q=0.9")),
            Some(Media::GraphQLResponseJson)
        );
        assert_eq!(chosen(Some("application/graphql-response+json;q=0.5, application/json")), Some(Media::Json));
        assert_eq!(
            chosen(Some("application/json, application/graphql-response+json")),
            Some(Media::GraphQLResponseJson)
        );
        assert_eq!(chosen(Some("application/*")), Some(Media::Json));
        assert_eq!(chosen(Some("text/html")), None);
        assert_eq!(chosen(Some("application/json;q=0")), None);
        assert_eq!(chosen(Some("*/*, application/json;q=0")), Some(Media::GraphQLResponseJson));
        assert_eq!(chosen(Some("application/json;q=2")), None, "a q over 1 makes the range unusable");
    }

    fn refused(code: ErrorCode, path: bool) -> async_graphql::Response {
        let mut error = code.error("no");
        if path {
            error.path.push(async_graphql::PathSegment::Field("client".into()));
        }
        async_graphql::Response::from_errors(vec![error])
    }

    #[test]
    fn a_request_that_never_executed_is_a_400_only_in_the_newer_media_type() {
        let invalid = refused(ErrorCode::GraphqlValidationFailed, false);
        assert_eq!(status(&invalid, Media::GraphQLResponseJson), StatusCode::BAD_REQUEST);
        assert_eq!(status(&invalid, Media::Json), StatusCode::OK);
        let malformed = refused(ErrorCode::BadRequest, false);
        assert_eq!(status(&malformed, Media::Json), StatusCode::BAD_REQUEST);
        let miss = refused(ErrorCode::PersistedQueryNotFound, false);
        assert_eq!(status(&miss, Media::GraphQLResponseJson), StatusCode::OK);
        // A non-null root field failed: execution ran, and its null data is an answer.
        let failed_root = refused(ErrorCode::NotFound, true);
        assert_eq!(status(&failed_root, Media::GraphQLResponseJson), StatusCode::OK);
        assert!(String::from_utf8(body(&failed_root).unwrap().to_vec()).unwrap().contains("\"data\":null"));
        assert!(!String::from_utf8(body(&invalid).unwrap().to_vec()).unwrap().contains("\"data\""));
    }
}
