//! `pixgate doctor` against the sandbox: good settings pass, and each broken one (a wrong base
//! URL, a refused credential, an unreachable Redis, a Redis that would lose records, a public
//! URL without its webhook secret) is named with the setting to fix, and no secret is printed.

use pixgate::cli::ServeArgs;
use pixgate::doctor::{Finding, Verdict, examine};
use pixgate_sandbox::{self as sandbox, Sandbox};

use crate::cli::pixgate;
use crate::fleet::free_port;
use crate::support::*;
use crate::write_once::{both_redis, redis_server_available};

fn good(upstream: &Sandbox) -> ServeArgs {
    ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        pixieset_cookie: Some(sandbox::PIXIESET_COOKIE.into()),
        pixelz_contact_email: Some(sandbox::PIXELZ_CONTACT_EMAIL.into()),
        pixelz_api_key: Some(sandbox::PIXELZ_API_KEY.into()),
        public_url: Some("https://gateway.example.com/".into()),
        pixelz_app_secret: Some(sandbox::PIXELZ_APP_SECRET.into()),
        ..ServeArgs::default()
    }
}

fn finding<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check} line: {findings:?}"))
}

fn failed_saying(findings: &[Finding], check: &str, words: &str) {
    let found = finding(findings, check);
    assert_eq!(found.verdict, Verdict::Failed, "{found}");
    assert!(found.said.contains(words), "{found} should say {words:?}");
}

fn no_secret_in(findings: &[Finding]) {
    let printed: String = findings.iter().map(|f| format!("{f}\n")).collect();
    for secret in
        [sandbox::PIXIESET_COOKIE, sandbox::PIXELZ_API_KEY, sandbox::PIXELZ_APP_SECRET, "wrong-key", "hunter2"]
    {
        assert!(!printed.contains(secret), "doctor printed a secret:\n{printed}");
    }
}

#[tokio::test]
async fn good_settings_pass_every_check() {
    let upstream = sandbox().await;
    let mut args = good(&upstream);
    let _redis = if redis_server_available() {
        let (shared, records) = both_redis().await;
        (args.redis_url, args.records_redis_url) = (Some(shared.url()), Some(records.url()));
        Some((shared, records))
    } else {
        None
    };
    let findings = examine(&args).await;
    assert!(findings.iter().all(|f| f.verdict == Verdict::Ok), "{findings:#?}");
    for check in ["pixieset", "pixieset credentials", "pixelz", "pixelz credentials", "webhooks"] {
        finding(&findings, check);
    }
    no_secret_in(&findings);
}

#[tokio::test]
async fn a_wrong_base_url_is_named() {
    let upstream = sandbox().await;
    let args = ServeArgs {
        // A path the API does not have, and a port nothing listens on.
        pixieset_base_url: Some(format!("{}/api/v2", upstream.base_url())),
        pixelz_base_url: Some(format!("http://127.0.0.1:{}/REST.svc/JSON", free_port())),
        ..good(&upstream)
    };
    let findings = examine(&args).await;
    failed_saying(&findings, "pixieset", "PIXIESET_BASE_URL");
    failed_saying(&findings, "pixelz", "PIXELZ_BASE_URL");
    assert_eq!(finding(&findings, "pixieset credentials").verdict, Verdict::Skipped);
    no_secret_in(&findings);
}

#[tokio::test]
async fn a_refused_credential_is_named() {
    let upstream = sandbox().await;
    let args = ServeArgs {
        pixieset_cookie: Some("session_cookie=hunter2".into()),
        pixelz_api_key: Some("wrong-key".into()),
        ..good(&upstream)
    };
    let findings = examine(&args).await;
    failed_saying(&findings, "pixieset credentials", "PIXIESET_COOKIE");
    failed_saying(&findings, "pixelz credentials", "PIXELZ_API_KEY");
    assert_eq!(finding(&findings, "pixieset").verdict, Verdict::Ok, "the API answers: only the key is wrong");
    no_secret_in(&findings);
}

#[tokio::test]
async fn an_unreachable_redis_and_one_that_would_lose_records_are_named() {
    let upstream = sandbox().await;
    let unreachable = format!("redis://:hunter2@127.0.0.1:{}", free_port());
    let args = ServeArgs { redis_url: Some(unreachable), ..good(&upstream) };
    let findings = examine(&args).await;
    failed_saying(&findings, "redis", "cannot reach the Redis of PIXGATE_REDIS_URL");
    no_secret_in(&findings);

    if !redis_server_available() {
        return;
    }
    // The shared role's Redis as compose runs it keeps nothing on disk: records there would be lost.
    let (shared, _records) = both_redis().await;
    let args = ServeArgs { redis_url: Some(shared.url()), ..good(&upstream) };
    let findings = examine(&args).await;
    assert_eq!(finding(&findings, "redis").verdict, Verdict::Ok, "{findings:#?}");
    failed_saying(&findings, "records redis", "appendonly yes");
}

#[tokio::test]
async fn a_public_url_without_the_webhook_secret_is_named() {
    let upstream = sandbox().await;
    let args = ServeArgs { pixelz_app_secret: None, ..good(&upstream) };
    failed_saying(&examine(&args).await, "webhooks", "PIXELZ_APP_SECRET");
}

/// The binary: one line per check, and its exit status says whether any failed.
#[tokio::test]
async fn the_command_exits_non_zero_when_a_check_fails() {
    let healthy = pixgate(&["doctor"]).output().await.unwrap();
    assert!(healthy.status.success(), "on the built-in sandbox nothing fails");
    let upstream = sandbox().await;
    let broken = pixgate(&["doctor"])
        .env("PIXIESET_BASE_URL", format!("{}/nowhere", upstream.base_url()))
        .env("PIXELZ_BASE_URL", upstream.pixelz_base_url())
        .output()
        .await
        .unwrap();
    assert_eq!(broken.status.code(), Some(1));
    let printed = String::from_utf8_lossy(&broken.stdout);
    assert!(printed.lines().any(|line| line.starts_with("FAIL  pixieset:")), "{printed}");
    assert!(printed.lines().all(|line| ["ok  ", "skip", "FAIL"].iter().any(|mark| line.starts_with(mark))));
}
