//! `POST /admin/invalidate`: a studio that edits its data outside pixgate (in the
//! Pixieset web app) drops what the gateway holds of it, on every instance. Guarded
//! by its own token (`PIXGATE_ADMIN_TOKEN`); without one configured, the route is not
//! there. Whose entries go is whom the request's credentials act for, as for a query.
//! An address that presented ten wrong tokens within a minute is refused before its
//! next token is even compared, so the token cannot be guessed at full speed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use super::AppState;
use crate::auth::Supplied;
use crate::cache::{Invalidation, Kind};
use crate::error_code::ErrorCode;
use crate::session::Session;
use crate::upstream::pixelz::Ticket;

/// What to drop: one object, or (no `kind`) everything the credentials' tenants hold.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropRequest {
    kind: Option<Dropped>,
    id: Option<String>,
}

#[derive(Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
enum Dropped {
    Client,
    Invoice,
    Contract,
    ContractTemplate,
    PixelzTemplate,
    PixelzImage,
}

impl Dropped {
    fn kind(self) -> Kind {
        match self {
            Self::Client => Kind::Client,
            Self::Invoice => Kind::Invoice,
            Self::Contract => Kind::Contract,
            Self::ContractTemplate => Kind::ContractTemplate,
            Self::PixelzTemplate => Kind::PixelzTemplate,
            Self::PixelzImage => Kind::PixelzImage,
        }
    }

    fn is_pixelz(self) -> bool {
        matches!(self, Self::PixelzTemplate | Self::PixelzImage)
    }
}

/// Wrong admin tokens one address may present within [`GUESSES_FORGOTTEN_AFTER`].
pub const MAX_WRONG_TOKENS: u32 = 10;
pub const GUESSES_FORGOTTEN_AFTER: Duration = Duration::from_secs(60);

/// Wrong admin tokens per address, each count forgotten a minute after its first.
#[derive(Clone)]
pub struct Guesses(moka::sync::Cache<IpAddr, Arc<AtomicU32>>);

impl Default for Guesses {
    fn default() -> Self {
        Self(moka::sync::Cache::builder().max_capacity(100_000).time_to_live(GUESSES_FORGOTTEN_AFTER).build())
    }
}

impl Guesses {
    fn exhausted(&self, client: IpAddr) -> bool {
        self.0.get(&client).is_some_and(|wrong| wrong.load(Ordering::Relaxed) >= MAX_WRONG_TOKENS)
    }

    fn wrong(&self, client: IpAddr) {
        self.0.get_with(client, Arc::default).fetch_add(1, Ordering::Relaxed);
    }
}

fn token_accepted(expected: &crate::secret::Secret, headers: &HeaderMap) -> bool {
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.split_once(' '));
    match presented {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            bool::from(token.trim().as_bytes().ct_eq(expected.expose().as_bytes()))
        }
        _ => false,
    }
}

pub async fn invalidate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Option<Json<DropRequest>>,
) -> Response {
    let Some(expected) = &state.admin_token else {
        return super::refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound.error("no admin token is configured"));
    };
    let client = state.rate_limits.client_ip(peer.ip(), &headers);
    if state.admin_guesses.exhausted(client) {
        let (seconds, error) = super::rate_limit::over_budget(GUESSES_FORGOTTEN_AFTER);
        let mut refused = super::refuse(StatusCode::TOO_MANY_REQUESTS, error);
        refused.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return refused;
    }
    if !token_accepted(expected, &headers) {
        state.admin_guesses.wrong(client);
        let refused = ErrorCode::Unauthenticated.error("send the admin token as Authorization: Bearer …");
        return super::refuse(StatusCode::UNAUTHORIZED, refused);
    }
    let Some(Json(drop)) = body else {
        let message = r#"send JSON: {} for everything, or {"kind": "client", "id": "cl_…"}"#;
        return super::refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message));
    };
    // The admin token must not count as an access token that unlocks the default credentials.
    let supplied = Supplied { bearer: None, ..Supplied::from_headers(&headers) };
    let session = Session::resolve(&state.access, supplied, [127, 0, 0, 1].into());
    let credentials = session.credentials();
    let pixieset = credentials.pixieset.as_ref().ok().map(|c| c.tenant().clone());
    let pixelz = credentials.pixelz.as_ref().ok().map(|c| c.tenant().clone());
    let cache = &state.sources.cache;
    let dropped = match (drop.kind, drop.id) {
        (None, None) => {
            for tenant in pixieset.iter().chain(pixelz.iter()) {
                cache.drop_everywhere(Invalidation { tenant: tenant.clone(), kind: None, id: None }).await;
            }
            pixieset.is_some() || pixelz.is_some()
        }
        (Some(kind), Some(id)) if !id.trim().is_empty() => {
            let tenant = if kind.is_pixelz() { pixelz } else { pixieset };
            let Some(tenant) = tenant else { return no_credentials() };
            let object = kind.kind();
            let id = id.trim().to_string();
            // Tickets are kept in lower case, as the loaders key them.
            let id = if matches!(kind, Dropped::PixelzImage) { Ticket::of(&id).into() } else { id };
            cache.drop_everywhere(Invalidation { tenant: tenant.clone(), kind: Some(object), id: Some(id) }).await;
            cache.invalidate_kinds(&tenant, object.copies()).await;
            true
        }
        _ => {
            let message = "give `kind` with `id` to drop one object, or neither to drop everything";
            return super::refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message));
        }
    };
    if !dropped {
        return no_credentials();
    }
    Json(serde_json::json!({ "dropped": true })).into_response()
}

fn no_credentials() -> Response {
    use crate::auth::{PIXELZ_API_KEY_HEADER, PIXELZ_EMAIL_HEADER, PIXIESET_COOKIE_HEADER};
    let message = format!(
        "send the studio's credentials ({PIXIESET_COOKIE_HEADER}, {PIXELZ_EMAIL_HEADER} and {PIXELZ_API_KEY_HEADER}) \
         to name whose entries go"
    );
    super::refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest.error(message))
}
