//! No credential reaches a log line, even at TRACE, whatever the calls do.

use std::io::Write;
use std::sync::{Arc, Mutex};

use pixgate::cli::ServeArgs;
use pixgate::secret::Secret;
use pixgate::upstream::pixelz::wire::{ImageQuery, ImageRef, ImageSubmission};
use pixgate::upstream::{PixelzCredentials, PixiesetCredentials};
use pixgate_sandbox::{self as sandbox, Faults};

use crate::gateway::{gateway, graphql};
use crate::support::*;
use crate::upstream::{clients_for, contact, settings, studio};

const WRONG_KEY: &str = "wrong-key-7f3a9c";
const WRONG_COOKIE: &str = "session_cookie=stolen-5d1e";
const SSE_COOKIE: &str = "session_cookie=sse-2b8e41";
const WS_COOKIE: &str = "session_cookie=socket-9c04d7";
const WS_KEY: &str = "socket-key-61f2aa";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_hold_no_credentials() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // As the gateway filters its own logs: the wire-level libraries at TRACE are capped.
    let subscriber = tracing_subscriber::layer::SubscriberExt::with(subscriber, pixgate::telemetry::wire_cap());
    let _guard = tracing::subscriber::set_default(subscriber);
    // Another test's thread may have met the transport's callsites first, while no
    // subscriber wanted them; without this, they could stay switched off here.
    tracing::callsite::rebuild_interest_cache();
    // reqwest logs through `log`; bring it in too. Another test may have done so already.
    let _ = tracing_log::LogTracer::init();

    let sandbox = sandbox().await;
    let upstreams = clients_for(&sandbox, settings());
    let partner = PixelzCredentials::new(sandbox::PIXELZ_CONTACT_EMAIL, Secret::new(sandbox::PIXELZ_API_KEY))
        .with_developer_key(Secret::new(sandbox::PIXELZ_PARTNER_KEY));
    upstreams.pixieset.client(&studio(), CLIENT_ID).await.unwrap();
    upstreams.pixelz.images(&contact(), &ImageQuery::default()).await.unwrap();
    let image =
        ImageSubmission { image_urls: vec!["https://images.example.com/x.jpg".into()], ..ImageSubmission::default() };
    upstreams.pixelz.submit_image(&partner, &image).await.unwrap();
    upstreams.pixelz.image_status(&contact(), &ImageRef::CustomerImageId("1234".into())).await.unwrap();
    // Failures keep more of the answer: refusals, malformed bodies, retries, timeouts.
    let _ = upstreams.pixelz.contact(&PixelzCredentials::new("x@y.test", Secret::new(WRONG_KEY))).await;
    let _ = upstreams.pixieset.client(&PixiesetCredentials::new(Secret::new(WRONG_COOKIE)), CLIENT_ID).await;
    sandbox.set_faults(Faults { malformed_rate: 1.0, ..Faults::default() });
    let _ = upstreams.pixelz.contact(&contact()).await;
    let _ = upstreams.pixieset.client(&studio(), CLIENT_ID).await;
    sandbox.set_faults(Faults { error_rate: 1.0, error_status: 503, ..Faults::default() });
    let _ = upstreams.pixelz.templates(&contact()).await;
    sandbox.set_faults(Faults::default());

    // And through the gateway, credentials in headers. Other tests' threads meet callsites too,
    // and may have cached them as wanted by no one in the meantime: ask again.
    tracing::callsite::rebuild_interest_cache();
    let gateway = gateway(ServeArgs::default()).await;
    let headers = [
        ("X-Pixelz-Email", sandbox::PIXELZ_CONTACT_EMAIL),
        ("X-Pixelz-Api-Key", WRONG_KEY),
        ("X-Pixieset-Cookie", WRONG_COOKIE),
    ];
    graphql(&gateway, "{ pixelzAccount { email } client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { id } }", &headers)
        .await;
    // Over SSE, credentials in headers; over a WebSocket, in `connection_init`, whose frames
    // the WebSocket library would trace byte for byte.
    let sse = http()
        .post(format!("http://{}/graphql/sse", gateway.addr()))
        .header("Accept", "text/event-stream")
        .header("X-Pixieset-Cookie", SSE_COOKIE)
        .json(&serde_json::json!({ "query": "{ contractTemplates { id } }" }))
        .send()
        .await
        .unwrap();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), sse.text()).await;
    {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/graphql/ws", gateway.addr()).into_client_request().unwrap();
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let init = serde_json::json!({ "type": "connection_init", "payload": {
            "pixiesetCookie": WS_COOKIE, "pixelzEmail": sandbox::PIXELZ_CONTACT_EMAIL, "pixelzApiKey": WS_KEY,
        } });
        socket.send(Message::Text(init.to_string().into())).await.unwrap();
        let query = serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ pixelzAccount { email } }" } });
        socket.send(Message::Text(query.to_string().into())).await.unwrap();
        for _ in 0..3 {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next()).await;
        }
        let _ = socket.close(None).await;
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("upstream") && logs.contains("retrying upstream call"), "the capture saw the calls:\n{logs}");
    assert!(logs.lines().count() > 20);
    for secret in [
        sandbox::PIXELZ_API_KEY,
        sandbox::PIXELZ_PARTNER_KEY,
        sandbox::PIXELZ_APP_SECRET,
        "session_cookie=sandbox",
        WRONG_KEY,
        WRONG_COOKIE,
        SSE_COOKIE,
        WS_COOKIE,
        WS_KEY,
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked:\n{}",
            logs.lines().filter(|l| l.contains(secret)).collect::<Vec<_>>().join("\n")
        );
    }
}
