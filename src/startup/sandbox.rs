//! The built-in sandbox `serve` starts when no upstream is configured, with the
//! defaults it brings: its credentials, which open nothing real, and its webhook
//! secrets. The one place production code names the simulator, and only in a build
//! with the `sandbox` feature.

use pixgate_sandbox::{self as simulator, ProcessingSettings, Sandbox, SandboxSettings};

use super::StartError;
use crate::auth::AccessPolicy;
use crate::config::Config;
use crate::secret::Secret;
use crate::server::webhook::WebhookSecrets;
use crate::upstream::{PixelzCredentials, PixiesetCredentials, UpstreamUrls};

pub(super) async fn start(
    config: &Config,
) -> Result<(Sandbox, AccessPolicy, WebhookSecrets, UpstreamUrls), StartError> {
    let mut processing = ProcessingSettings::default();
    if let Some(step_ms) = config.sandbox.step_ms {
        processing.step_ms = step_ms;
    }
    let settings = SandboxSettings { processing, extras: config.sandbox.extras, ..SandboxSettings::default() };
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), settings).await.map_err(StartError::Sandbox)?;
    tracing::info!(sandbox = %sandbox.base_url(), "no upstream configured: using the built-in sandbox and its credentials by default");
    let secrets = WebhookSecrets {
        customer: Some(config.webhooks.app_secret.clone().unwrap_or_else(|| Secret::new(simulator::PIXELZ_APP_SECRET))),
        partner: Some(
            config.webhooks.partner_secret.clone().unwrap_or_else(|| Secret::new(simulator::PIXELZ_PARTNER_SECRET)),
        ),
        partner_required: config.credentials.pixelz_developer_api_key.is_some(),
    };
    let access = AccessPolicy {
        default_pixieset: Some(PixiesetCredentials::new(Secret::new(simulator::PIXIESET_COOKIE))),
        default_pixelz: Some(PixelzCredentials::new(
            simulator::PIXELZ_CONTACT_EMAIL,
            Secret::new(simulator::PIXELZ_API_KEY),
        )),
        tokens: config.credentials.access_tokens.clone(),
        defaults_are_sandbox: true,
        pixelz_developer_key: config.credentials.pixelz_developer_api_key.clone(),
        pixelz_developer_email: config.credentials.pixelz_developer_email.clone(),
    };
    let urls = UpstreamUrls {
        pixieset: sandbox.pixieset_base_url().parse().expect("the sandbox URL is valid"),
        pixelz: sandbox.pixelz_base_url().parse().expect("the sandbox URL is valid"),
        pixelz_assets: config.upstreams.pixelz_asset_base_url.clone(),
    };
    Ok((sandbox, access, secrets, urls))
}
