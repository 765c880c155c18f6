//! What a browser gets: GraphiQL and, on the sandbox, the demo page. Every file
//! they load is embedded in the binary and served from here, so a page served by
//! pixgate makes no request to any other host.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use crate::error_code::ErrorCode;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr, $path:literal) => {
        Asset { name: $name, content_type: $content_type, bytes: include_bytes!($path) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Served under `/assets/`: GraphiQL and its libraries as published on npm
/// (`scripts/vendor-assets`, versions in `assets/graphiql/VERSIONS`), and the page's own script.
const ASSETS: &[Asset] = &[
    asset!("graphiql/graphiql.min.js", JS, "../../assets/graphiql/graphiql.min.js"),
    asset!("graphiql/graphiql.min.css", CSS, "../../assets/graphiql/graphiql.min.css"),
    asset!("graphiql/react.production.min.js", JS, "../../assets/graphiql/react.production.min.js"),
    asset!("graphiql/react-dom.production.min.js", JS, "../../assets/graphiql/react-dom.production.min.js"),
    asset!("graphiql/graphql-ws.min.js", JS, "../../assets/graphiql/graphql-ws.min.js"),
    asset!("graphiql.js", JS, "../../assets/graphiql.js"),
];

/// Served under `/demo/` on the sandbox only: the example frontend in `examples/demo/`.
const DEMO: &[Asset] =
    &[asset!("demo.js", JS, "../../examples/demo/demo.js"), asset!("demo.css", CSS, "../../examples/demo/demo.css")];

const GRAPHIQL_PAGE: &str = include_str!("../../assets/graphiql.html");
const DEMO_PAGE: &str = include_str!("../../examples/demo/index.html");

const DEFAULT_QUERY: &str = r#"# pixgate: Pixieset Studio and Pixelz behind one endpoint.
{
  clients(first: 3) {
    edges { node { firstName lastName email invoices(first: 2) { edges { node { number amount { amount currency } } } } } }
  }
  pixelzAccount { email company }
}
"#;

/// GraphiQL, with the sandbox's credentials in its headers pane when the gateway runs
/// on the sandbox (`AccessPolicy::sandbox_headers`: they open nothing real), and an empty
/// pane otherwise; with a place for the access token when only trusted documents run without one.
pub fn graphiql(sandbox_headers: Option<[(&str, String); 3]>, token_needed: bool) -> Html<String> {
    let mut pane = serde_json::Map::new();
    for (name, value) in sandbox_headers.into_iter().flatten() {
        pane.insert(name.to_string(), value.into());
    }
    if token_needed {
        pane.insert("Authorization".into(), "Bearer <an access token>".into());
    }
    let headers = (!pane.is_empty()).then(|| serde_json::to_string_pretty(&pane).unwrap_or_default());
    let settings = serde_json::json!({
        "endpoint": "/graphql",
        "subscriptionPath": "/graphql/ws",
        "defaultQuery": DEFAULT_QUERY,
        "headers": headers,
    });
    // Inside a <script> element, "</" would end it early.
    let settings = settings.to_string().replace("</", "<\\/");
    Html(GRAPHIQL_PAGE.replace("{{settings}}", &settings))
}

fn serve(assets: &[Asset], name: &str) -> Response {
    match assets.iter().find(|asset| asset.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                // The files change only with the binary.
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
            ],
            asset.bytes,
        )
            .into_response(),
        None => super::refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound.error("no such file")),
    }
}

pub async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    // The demo, which uses the WebSocket client from here, runs only where GraphiQL is on: on the sandbox.
    if !state.limits.graphiql {
        return super::refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound.error("GraphiQL is switched off on this gateway"),
        );
    }
    serve(ASSETS, &name)
}

fn on_sandbox(state: &AppState) -> bool {
    state.access.defaults_are_sandbox
}

fn no_demo() -> Response {
    super::refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound.error("the demo runs on the sandbox only"))
}

pub async fn demo_page(State(state): State<AppState>) -> Response {
    if !on_sandbox(&state) {
        return no_demo();
    }
    Html(DEMO_PAGE).into_response()
}

pub async fn demo_file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    if !on_sandbox(&state) {
        return no_demo();
    }
    serve(DEMO, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_pages_name_is_served() {
        for page in [GRAPHIQL_PAGE, DEMO_PAGE] {
            for path in page.split('"').filter(|s| s.starts_with("/assets/") || s.starts_with("/demo/")) {
                let found = match path.strip_prefix("/assets/") {
                    Some(name) => ASSETS.iter().any(|a| a.name == name),
                    None => DEMO.iter().any(|a| Some(a.name) == path.strip_prefix("/demo/")),
                };
                assert!(found, "{path} is named by a page but not served");
            }
        }
    }

    #[test]
    fn credentials_are_prefilled_on_the_sandbox_only() {
        use crate::secret::Secret;
        use crate::upstream::{PixelzCredentials, PixiesetCredentials};
        use pixgate_sandbox as sandbox;
        let mut policy = crate::auth::AccessPolicy {
            default_pixieset: Some(PixiesetCredentials::new(Secret::new(sandbox::PIXIESET_COOKIE))),
            default_pixelz: Some(PixelzCredentials::new(
                sandbox::PIXELZ_CONTACT_EMAIL,
                Secret::new(sandbox::PIXELZ_API_KEY),
            )),
            defaults_are_sandbox: true,
            ..Default::default()
        };
        assert!(graphiql(policy.sandbox_headers(), false).0.contains(sandbox::PIXELZ_API_KEY));
        policy.defaults_are_sandbox = false;
        let page = graphiql(policy.sandbox_headers(), false).0;
        assert!(!page.contains(sandbox::PIXELZ_API_KEY) && !page.contains(sandbox::PIXIESET_COOKIE));
        assert!(page.contains("\"headers\":null"));
        assert!(graphiql(None, true).0.contains("Authorization"), "a place for the token trusted documents ask for");
    }
}
