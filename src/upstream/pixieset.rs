//! The Pixieset Studio client: cookie auth, `{ data, meta, links }` answers.

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde::Deserialize;

use super::{Api, Endpoint, PixiesetCredentials, UpstreamError, parse, send, url_with};

const fn endpoint(name: &'static str) -> Endpoint {
    Endpoint { api: Api::Pixieset, name }
}

#[derive(Clone, Debug)]
pub struct PixiesetClient {
    http: reqwest::Client,
    base: Url,
}

#[derive(Debug, Deserialize)]
struct Data<T> {
    data: T,
}

/// A client or lead as Pixieset sends it; only `id` is certain.
#[derive(Clone, Debug, Deserialize)]
pub struct Client {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status_name: Option<String>,
}

impl PixiesetClient {
    pub fn new(http: reqwest::Client, base: Url) -> Self {
        Self { http, base }
    }

    fn get(&self, credentials: &PixiesetCredentials, segments: &[&str]) -> reqwest::RequestBuilder {
        self.http
            .get(url_with(&self.base, segments))
            .header(COOKIE, credentials.cookie().expose())
            .header("X-Requested-With", "XMLHttpRequest")
            .header(CONTENT_TYPE, "application/json")
    }

    pub async fn client(&self, credentials: &PixiesetCredentials, id: &str) -> Result<Client, UpstreamError> {
        const ENDPOINT: Endpoint = endpoint("GET /clients/{client_id}");
        let secrets = [credentials.cookie().expose()];
        let (status, body) = send(ENDPOINT, self.get(credentials, &["clients", id]), &secrets).await?;
        Ok(parse::<Data<Client>>(ENDPOINT, status, &body, &secrets)?.data)
    }
}
