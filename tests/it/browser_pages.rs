//! What a browser is served, checked over HTTP (the browser itself is in `tests/browser/`).

use pixgate::cli::ServeArgs;
use pixgate_sandbox as sandbox;

use crate::gateway::gateway;
use crate::support::*;

async fn page(base: &str, path: &str) -> (u16, String, String) {
    let response = http().get(format!("{base}{path}")).header("Accept", "text/html").send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    (status, content_type.unwrap_or_default(), response.text().await.unwrap())
}

/// Every `src` and `href` of a page.
fn links(html: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1).map(|rest| rest.split('"').next().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn graphiql_and_the_demo_load_only_what_the_gateway_serves() {
    let gateway = gateway(ServeArgs::default()).await;
    let base = format!("http://{}", gateway.addr());
    for path in ["/graphql", "/demo", "/graphql?query=%7B%20pixelzAccount%20%7B%20email%20%7D%20%7D"] {
        let (status, content_type, html) = page(&base, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
        let links = links(&html);
        assert!(links.len() >= 3, "{path}: {links:?}");
        for link in links {
            assert!(link.starts_with('/') || link.starts_with("data:"), "{path} loads {link} from elsewhere");
            if link.starts_with('/') {
                let response = http().get(format!("{base}{link}")).send().await.unwrap();
                assert_eq!(response.status(), 200, "{link}");
                let kind = response.headers()["content-type"].to_str().unwrap().to_string();
                assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"), "{link}: {kind}");
                assert!(!response.bytes().await.unwrap().is_empty(), "{link}");
            }
        }
    }
    let (_, _, graphiql) = page(&base, "/graphql").await;
    assert!(graphiql.contains(sandbox::PIXELZ_CONTACT_EMAIL), "the sandbox's credentials are prefilled");
    let bundle = format!("{base}/assets/graphiql/graphiql.min.js");
    // As a browser sees it: the client must not undo the encoding.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let plain = raw.get(&bundle).header("Accept-Encoding", "identity").send().await.unwrap();
    let plain_length = plain.bytes().await.unwrap().len();
    let gzipped = raw.get(&bundle).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let gzipped_length = gzipped.bytes().await.unwrap().len();
    assert!(gzipped_length * 3 < plain_length, "{gzipped_length} bytes gzipped, {plain_length} plain");
    assert_eq!(http().get(format!("{base}/assets/graphiql/nothing.js")).send().await.unwrap().status(), 404);
    assert_eq!(http().get(format!("{base}/assets/../Cargo.toml")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn off_the_sandbox_there_is_no_demo_and_nothing_prefilled() {
    let upstream = sandbox().await;
    let gateway = gateway(ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        ..ServeArgs::default()
    })
    .await;
    let base = format!("http://{}", gateway.addr());
    let (status, _, graphiql) = page(&base, "/graphql").await;
    assert_eq!(status, 200);
    assert!(graphiql.contains("\"headers\":null"), "{graphiql}");
    for credential in [sandbox::PIXELZ_CONTACT_EMAIL, sandbox::PIXELZ_API_KEY, sandbox::PIXIESET_COOKIE] {
        assert!(!graphiql.contains(credential));
    }
    assert_eq!(page(&base, "/demo").await.0, 404);
    assert_eq!(page(&base, "/demo/demo.js").await.0, 404);
}
