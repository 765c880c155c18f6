//! No credential reaches a log line, even at TRACE, whatever the calls do.

use std::io::Write;
use std::sync::{Arc, Mutex};

use pixgate::cli::ServeArgs;
use pixgate::sandbox::{self, Faults};
use pixgate::secret::Secret;
use pixgate::upstream::pixelz::wire::{ImageQuery, ImageRef, ImageSubmission};
use pixgate::upstream::{PixelzCredentials, PixiesetCredentials};

use crate::gateway::{gateway, graphql};
use crate::support::*;
use crate::upstream::{clients_for, contact, settings, studio};

const WRONG_KEY: &str = "wrong-key-7f3a9c";
const WRONG_COOKIE: &str = "session_cookie=stolen-5d1e";

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

    // And through the gateway, credentials in headers.
    let gateway = gateway(ServeArgs::default()).await;
    let headers = [
        ("X-Pixelz-Email", sandbox::PIXELZ_CONTACT_EMAIL),
        ("X-Pixelz-Api-Key", WRONG_KEY),
        ("X-Pixieset-Cookie", WRONG_COOKIE),
    ];
    graphql(&gateway, "{ pixelzAccount { email } client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { id } }", &headers)
        .await;

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
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked:\n{}",
            logs.lines().filter(|l| l.contains(secret)).collect::<Vec<_>>().join("\n")
        );
    }
}
