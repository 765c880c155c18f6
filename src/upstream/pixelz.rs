//! The Pixelz client: credentials in every call, failures inside HTTP 200 answers.

use reqwest::Url;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Api, Endpoint, PixelzCredentials, UpstreamError, parse, send, url_with};

const fn endpoint(name: &'static str) -> Endpoint {
    Endpoint { api: Api::Pixelz, name }
}

#[derive(Clone, Debug)]
pub struct PixelzClient {
    http: reqwest::Client,
    base: Url,
}

/// The account behind a contact.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub contact_company: Option<String>,
    #[serde(default)]
    pub contact_person: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContactAnswer {
    contact: Contact,
}

/// `ErrorCode` is `"NoError"` in most answers and `0` in some.
fn failure(answer: &Value) -> Option<(String, String)> {
    let code = answer.get("ErrorCode")?;
    let ok = match code {
        Value::String(s) => s.eq_ignore_ascii_case("NoError") || s == "0",
        Value::Number(n) => n.as_u64() == Some(0),
        Value::Null => true,
        _ => false,
    };
    if ok {
        return None;
    }
    let code = code.as_str().map_or_else(|| code.to_string(), str::to_string);
    let message = answer.get("Message").and_then(Value::as_str).unwrap_or_default().to_string();
    Some((code, message))
}

impl PixelzClient {
    pub fn new(http: reqwest::Client, base: Url) -> Self {
        Self { http, base }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        credentials: &PixelzCredentials,
        segments: &[&str],
    ) -> Result<T, UpstreamError> {
        let mut url = url_with(&self.base, segments);
        // Pixelz documents every path with a trailing slash.
        url.path_segments_mut()
            .map(|mut p| {
                p.push("");
            })
            .ok();
        let request = self
            .http
            .get(url)
            .query(&[("contactEmail", credentials.contact_email()), ("contactAPIkey", credentials.api_key().expose())]);
        let secrets = [credentials.api_key().expose()];
        let (status, body) = send(endpoint, request, &secrets).await?;
        let answer: Value = parse(endpoint, status, &body, &secrets)?;
        if let Some((code, message)) = failure(&answer) {
            return Err(UpstreamError::Refused { endpoint, code, message: super::scrub(&message, &secrets) });
        }
        serde_json::from_value(answer).map_err(|e| UpstreamError::Malformed {
            endpoint,
            status: status.as_u16(),
            reason: e.to_string(),
            excerpt: String::new(),
        })
    }

    pub async fn contact(&self, credentials: &PixelzCredentials) -> Result<Contact, UpstreamError> {
        const ENDPOINT: Endpoint = endpoint("GET /Contact/");
        Ok(self.get::<ContactAnswer>(ENDPOINT, credentials, &["Contact"]).await?.contact)
    }
}
