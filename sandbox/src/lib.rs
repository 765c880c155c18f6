//! The built-in sandbox: a simulator of both upstream APIs, served over real
//! HTTP so the gateway, its tests and its benchmarks talk to it exactly as they
//! would to Pixieset and Pixelz.
//!
//! It is its own crate and shares no code with the gateway: it writes JSON from its
//! own literals, so a field the gateway misreads cannot hide on both sides.

// Handlers answer a refusal by returning the finished `Response` early; its size is
// irrelevant next to the HTTP round trip it ends.
#![allow(clippy::result_large_err)]

mod admin;
pub mod cli;
mod faults;
mod lock;
mod pixelz;
mod pixieset;
mod processing;
mod rng;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{FaultTarget, Faults, LoggedRequest, RequestLog};
pub use processing::{
    CUSTOMER_SIGNATURE_HEADER, DEFAULT_STEP_MS, Delivery, NOT_LOOPBACK, PARTNER_SIGNATURE_HEADER, ProcessingSettings,
    WebhookEncoding, sign,
};

pub(crate) use lock::{locked, read, write};

/// The Pixieset session cookie that opens the seeded studio.
pub const PIXIESET_COOKIE: &str = "session_cookie=sandbox";
/// A second, smaller studio, for proving that tenants stay apart.
pub const PIXIESET_OTHER_COOKIE: &str = "session_cookie=sandbox-other";
pub const PIXELZ_CONTACT_EMAIL: &str = "studio@sandbox.test";
pub const PIXELZ_API_KEY: &str = "sandbox-key";
pub const PIXELZ_APP_SECRET: &str = "sandbox-secret";
pub const PIXELZ_PARTNER_EMAIL: &str = "partner@sandbox.test";
pub const PIXELZ_PARTNER_KEY: &str = "sandbox-partner-key";
pub const PIXELZ_PARTNER_SECRET: &str = "sandbox-partner-secret";

/// Seeded objects that the documents show, by their documented ids.
pub mod documented {
    pub use super::pixieset::seed::{
        DOC_CLIENT_ID as CLIENT_ID, DOC_CONTRACT_ID as CONTRACT_ID, DOC_INVOICE_ID as INVOICE_ID,
    };
    pub use super::pixieset::seed::{DOC_PORTRAIT_TEMPLATE_ID as PORTRAIT_TEMPLATE_ID, DOC_TEMPLATE_ID as TEMPLATE_ID};
    pub const DELIVERED_TICKET: &str = "33979dfe-5ea7-44ea-b3dd-7fde33bc37e9";
    pub const FINISHED_TICKET: &str = "0da2bbe9-4cf4-4c16-8e46-52048836a01b";
    pub const PIXELZ_TEMPLATE_ID: i64 = 2_066_863;
}

const SEED: u64 = 0x0050_4958_4741_5445;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Default)]
pub struct SandboxSettings {
    pub processing: ProcessingSettings,
    pub faults: Faults,
    /// Also write what the documents never show (see `SandboxState::extras`).
    pub extras: bool,
}

pub(crate) struct SandboxState {
    studios: Mutex<HashMap<&'static str, pixieset::Studio>>,
    pixelz: Mutex<pixelz::Store>,
    faults: RwLock<Faults>,
    requests: Mutex<RequestLog>,
    processing: RwLock<ProcessingSettings>,
    webhooks: Mutex<Vec<Delivery>>,
    /// Strict (false, the default): every field, endpoint and default is one the
    /// documents show. With extras, the sandbox also writes the fields a real server
    /// plausibly sends beside them (invoice status and payments, document titles,
    /// gallery details, `GET /invoices/{id}`, …), to test that the gateway uses such
    /// fields when present; nothing in the gateway may depend on them.
    extras: AtomicBool,
    /// The most items a Pixieset page holds, whatever was asked (0: as asked, up to 100).
    page_cap: AtomicUsize,
    /// A client's documents page: the server's own page size (0: 25), since the documents take
    /// only `page`; and whether its `meta` says `total`.
    documents_page: AtomicUsize,
    documents_total: AtomicBool,
    /// Whether Pixieset lists embed what `expand` asks for (a server may ignore it).
    lists_embed: AtomicBool,
    /// How `GET /invoices/{id}`, which no document describes, answers.
    invoice_lookup: RwLock<InvoiceLookup>,
    rng: rng::Rng,
    base_url: String,
    http: reqwest::Client,
}

impl SandboxState {
    fn new(base_url: String, settings: SandboxSettings) -> Self {
        let rng = rng::Rng::new(SEED);
        let studios = HashMap::from([
            ("sandbox", pixieset::seed::studio(&rng, &pixieset::seed::MAIN_STUDIO, true)),
            ("sandbox-other", pixieset::seed::studio(&rng, &pixieset::seed::OTHER_STUDIO, false)),
        ]);
        let pixelz = pixelz::seed::store(&rng);
        Self {
            studios: Mutex::new(studios),
            pixelz: Mutex::new(pixelz),
            faults: RwLock::new(settings.faults),
            requests: Mutex::default(),
            processing: RwLock::new(settings.processing),
            webhooks: Mutex::default(),
            extras: AtomicBool::new(settings.extras),
            page_cap: AtomicUsize::new(0),
            documents_page: AtomicUsize::new(0),
            documents_total: AtomicBool::new(true),
            lists_embed: AtomicBool::new(true),
            invoice_lookup: RwLock::new(InvoiceLookup::default()),
            rng,
            base_url,
            http: reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().expect("a plain HTTP client builds"),
        }
    }
}

impl SandboxState {
    pub(crate) fn extras(&self) -> bool {
        self.extras.load(Ordering::Relaxed)
    }

    pub(crate) fn page_cap(&self) -> Option<usize> {
        Some(self.page_cap.load(Ordering::Relaxed)).filter(|&cap| cap > 0)
    }

    /// A client's documents page: its size, when not the default, and whether `meta` has `total`.
    pub(crate) fn documents_paging(&self) -> (Option<usize>, bool) {
        let size = self.documents_page.load(Ordering::Relaxed);
        ((size > 0).then_some(size), self.documents_total.load(Ordering::Relaxed))
    }

    pub(crate) fn lists_embed(&self) -> bool {
        self.lists_embed.load(Ordering::Relaxed)
    }

    pub(crate) fn invoice_lookup(&self) -> InvoiceLookup {
        *read(&self.invoice_lookup)
    }
}

/// The shapes a server without documents for `GET /invoices/{id}` may give it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InvoiceLookup {
    /// With extras, there; strict, absent (an uncoded 404, as for any unknown path).
    #[default]
    AsExtrasSay,
    /// There: the invoice, or a coded 404.
    Present,
    /// An uncoded 404 for every id.
    Absent,
    /// 405: the path exists for another method.
    MethodNotAllowed,
    /// A coded 404 (`invoice_not_found`) for every id, listed or not.
    RefusedAsNotFound,
}

fn router(state: Arc<SandboxState>) -> Router {
    let pixelz =
        pixelz::routes().route_layer(axum::middleware::from_fn_with_state(state.clone(), pixelz::numbered_refusals));
    let apis = pixieset::routes()
        .merge(pixelz)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), faults::inject));
    apis.merge(admin::routes()).with_state(state)
}

/// A running sandbox. Dropping it stops the server and the clock.
pub struct Sandbox {
    addr: SocketAddr,
    state: Arc<SandboxState>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl Sandbox {
    pub async fn start(listen: SocketAddr, settings: SandboxSettings) -> std::io::Result<Self> {
        Self::serve(TcpListener::bind(listen).await?, settings)
    }

    pub fn serve(listener: TcpListener, settings: SandboxSettings) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let state = Arc::new(SandboxState::new(format!("http://{addr}"), settings));
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(processing::run_clock(state.clone(), stop.clone()));
        let app = router(state.clone());
        let mut stop_server = stop;
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_server.changed().await;
            };
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
                tracing::error!(%error, "sandbox server failed");
            }
        });
        Ok(Self { addr, state, shutdown, server: Some(server) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn pixieset_base_url(&self) -> String {
        format!("{}/api/v1", self.state.base_url)
    }

    pub fn pixelz_base_url(&self) -> String {
        format!("{}/REST.svc/JSON", self.state.base_url)
    }

    /// The environment that points a gateway process at this sandbox, acting with
    /// its credentials by default and verifying its webhooks.
    pub fn gateway_env(&self) -> [(&'static str, String); 6] {
        [
            ("PIXIESET_BASE_URL", self.pixieset_base_url()),
            ("PIXELZ_BASE_URL", self.pixelz_base_url()),
            ("PIXIESET_COOKIE", PIXIESET_COOKIE.into()),
            ("PIXELZ_CONTACT_EMAIL", PIXELZ_CONTACT_EMAIL.into()),
            ("PIXELZ_API_KEY", PIXELZ_API_KEY.into()),
            ("PIXELZ_APP_SECRET", PIXELZ_APP_SECRET.into()),
        ]
    }

    /// A snapshot of the request counter.
    pub fn requests(&self) -> RequestLog {
        locked(&self.state.requests).clone()
    }

    pub fn reset_requests(&self) {
        *locked(&self.state.requests) = RequestLog::default();
    }

    pub fn set_faults(&self, faults: Faults) {
        *write(&self.state.faults) = faults;
    }

    /// Switches between the strict sandbox and the one with extras.
    pub fn set_extras(&self, extras: bool) {
        self.state.extras.store(extras, Ordering::Relaxed);
    }

    /// Pixieset lists then hold at most `cap` items a page, whatever was asked, as a
    /// server may; `meta.per_page` says so.
    pub fn set_page_cap(&self, cap: Option<usize>) {
        self.state.page_cap.store(cap.unwrap_or(0), Ordering::Relaxed);
    }

    /// A client's documents come `per_page` to a page from now on (None: 25), their `meta` with
    /// or without `total` (the paging a server may choose; the documents take only `page`).
    pub fn set_documents_paging(&self, per_page: Option<usize>, with_total: bool) {
        self.state.documents_page.store(per_page.unwrap_or(0), Ordering::Relaxed);
        self.state.documents_total.store(with_total, Ordering::Relaxed);
    }

    /// Pixieset lists answer without what `expand` embeds from now on (false), as a server that
    /// ignores the parameter may; one contract still embeds its client and template. A gateway
    /// then loads every relation on its own, which is what the resolver benchmark compares against.
    pub fn set_lists_embed(&self, embed: bool) {
        self.state.lists_embed.store(embed, Ordering::Relaxed);
    }

    /// How `GET /invoices/{id}` answers from now on.
    pub fn set_invoice_lookup(&self, lookup: InvoiceLookup) {
        *write(&self.state.invoice_lookup) = lookup;
    }

    pub fn set_processing(&self, settings: ProcessingSettings) {
        *write(&self.state.processing) = settings;
    }

    /// The developer account that created the Pixelz contact `email`, if one did.
    pub fn pixelz_developer_of(&self, email: &str) -> Option<String> {
        let store = locked(&self.state.pixelz);
        store.accounts.iter().find(|a| a.email.eq_ignore_ascii_case(email)).and_then(|a| a.developer.clone())
    }

    pub fn webhook_deliveries(&self) -> Vec<Delivery> {
        locked(&self.state.webhooks).clone()
    }

    /// Stops accepting, lets in-flight requests finish, and stops the clock.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_a_lock_is_held_does_not_stop_the_sandbox() {
        let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), SandboxSettings::default()).await.unwrap();
        let state = sandbox.state.clone();
        let poisoner = std::thread::spawn(move || {
            let _faults = state.faults.write().unwrap();
            let _log = state.requests.lock().unwrap();
            panic!("a handler fails while holding the locks");
        });
        assert!(poisoner.join().is_err());
        assert!(sandbox.state.faults.is_poisoned() && sandbox.state.requests.is_poisoned());
        sandbox.set_faults(Faults { latency_ms: 1, ..Faults::default() });
        sandbox.reset_requests();
        assert_eq!(sandbox.requests().total, 0);
        let answer = reqwest::get(format!("{}/__sandbox/faults", sandbox.base_url())).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.json::<serde_json::Value>().await.unwrap()["latency_ms"], 1);
    }
}
