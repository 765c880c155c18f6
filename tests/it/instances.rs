//! More than one instance: events through a real Redis, the poll lease, and an
//! unreachable Redis.

use std::time::Duration;

use pixgate::cli::ServeArgs;
use pixgate::events::Hub;
use pixgate::events::fanout::Fanout;
use pixgate::redis_link::RedisLink;
use pixgate::secret::Secret;
use pixgate::startup::Running;
use pixgate::upstream::pixelz::Ticket;
use pixgate_sandbox::{self as sandbox, Sandbox};
use serde_json::json;

use crate::gateway::{gateway, graphql};
use crate::live::{deliver, next_json, signature, submit, subscribed};

pub const REDIS: &str = "redis://127.0.0.1:6379";

/// Redis runs on the test machines (`.ci/run` starts it). Elsewhere these tests say so and skip.
pub async fn redis_available() -> bool {
    let up = tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect("127.0.0.1:6379"))
        .await
        .is_ok_and(|c| c.is_ok());
    if !up {
        assert!(std::env::var_os("CI").is_none(), "Redis is not running on 127.0.0.1:6379; .ci/run starts it");
        eprintln!("skipped: no Redis on 127.0.0.1:6379");
    }
    up
}

/// An instance over a shared sandbox, with the studio's default Pixelz credentials.
pub(crate) async fn instance(upstream: &Sandbox, redis: &str) -> Running {
    gateway(ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        pixelz_contact_email: Some(sandbox::PIXELZ_CONTACT_EMAIL.into()),
        pixelz_api_key: Some(sandbox::PIXELZ_API_KEY.into()),
        pixelz_app_secret: Some(sandbox::PIXELZ_APP_SECRET.into()),
        redis_url: Some(redis.into()),
        poll_interval_ms: Some(3_600_000),
        ..ServeArgs::default()
    })
    .await
}

#[tokio::test]
async fn a_webhook_on_one_instance_reaches_a_subscriber_on_another() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b) = (instance(&upstream, REDIS).await, instance(&upstream, REDIS).await);
    let ticket = submit(&a, "two-instances").await;

    let mut socket = subscribed(&b, &ticket).await;
    assert_eq!(next_json(&mut socket).await["payload"]["data"]["pixelzImageStatusChanged"]["statusId"], 10);

    let body =
        json!({ "imageTicket": ticket, "processedImageURL": "http://127.0.0.1:1/final.jpg", "templateId": "2066863" })
            .to_string();
    let signed = [("HTTP_X_PXZ_CUSTOMER_HMAC_SHA256", signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes()))];
    // Until both instances have reached Redis, a delivery stays on A; Pixelz's retries are harmless.
    let event = loop {
        assert_eq!(deliver(&a, &signed, &body, "application/json").await, 200);
        if let Ok(event) = tokio::time::timeout(Duration::from_millis(300), next_json(&mut socket)).await {
            break event;
        }
    };
    assert_eq!(event["payload"]["data"]["pixelzImageStatusChanged"]["statusId"], 70);
    assert_eq!(b.hub().latest(&Ticket::of(&ticket)).unwrap().final_images_url, ["http://127.0.0.1:1/final.jpg"]);
}

#[tokio::test]
async fn one_instance_holds_the_lease_on_an_image() {
    if !redis_available().await {
        return;
    }
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let url = Secret::new(REDIS);
    let link = || RedisLink::start(&url, stopped.clone()).unwrap();
    let (a, b) = (
        Fanout::start(&link(), &Hub::default(), stopped.clone()),
        Fanout::start(&link(), &Hub::default(), stopped.clone()),
    );
    crate::support::eventually("both connected", || async { a.connected().await && b.connected().await }).await;
    let tickets: Vec<Ticket> = (0..3).map(|_| Ticket::of(&uuid::Uuid::new_v4().to_string())).collect();
    let lease = Duration::from_secs(5);
    assert_eq!(a.claim(tickets.clone(), lease).await, tickets);
    assert!(b.claim(tickets.clone(), lease).await.is_empty(), "another instance polls these");
    assert_eq!(a.claim(tickets.clone(), lease).await, tickets, "the holder renews its lease");
}

#[tokio::test]
async fn without_redis_an_instance_serves_its_own_subscribers() {
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let alone = instance(&upstream, "redis://127.0.0.1:1").await;
    let ticket = submit(&alone, "no-redis").await;
    let mut socket = subscribed(&alone, &ticket).await;
    next_json(&mut socket).await;
    let body = json!({ "imageTicket": ticket }).to_string();
    let signed = [("HTTP_X_PXZ_CUSTOMER_HMAC_SHA256", signature(sandbox::PIXELZ_APP_SECRET, body.as_bytes()))];
    assert_eq!(deliver(&alone, &signed, &body, "application/json").await, 200);
    assert_eq!(next_json(&mut socket).await["payload"]["data"]["pixelzImageStatusChanged"]["statusId"], 70);
    assert!(RedisLink::start(&Secret::new("not a url"), tokio::sync::watch::channel(false).1).is_err());
}

/// Waits until each instance is linked to Redis and hears the others.
pub(crate) async fn hearing_each_other(instances: &[&Running]) {
    for instance in instances {
        let hearing = async {
            while !instance.cache().hears_fleet() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), hearing).await.expect("each instance hears the others");
    }
}

/// The README promises a retried submission returns the first result for a day: on
/// whichever instance the retry lands, since a submission costs real money.
#[tokio::test]
async fn one_idempotency_key_submits_once_across_instances() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b) = (instance(&upstream, REDIS).await, instance(&upstream, REDIS).await);
    // Until an instance has reached Redis it keeps the promise alone, as designed: wait for both.
    hearing_each_other(&[&a, &b]).await;
    let key = format!("fleet-{}", uuid::Uuid::new_v4());
    let submit = |image: &str| {
        format!(
            "mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/{image}.jpg\"] }}) \
             {{ ticket userErrors {{ message }} }} }}"
        )
    };
    let (first, other) = (submit("fleet"), submit("other"));
    let headers = [("Idempotency-Key", key.as_str())];
    // Ten retries at once, alternating between the two instances.
    let answers =
        futures_util::future::join_all((0..10).map(|n| graphql(if n % 2 == 0 { &a } else { &b }, &first, &headers)))
            .await;
    let tickets: Vec<&serde_json::Value> = answers.iter().map(|a| &a["data"]["submitPixelzImage"]["ticket"]).collect();
    assert!(tickets[0].is_string(), "{}", answers[0]);
    assert!(tickets.iter().all(|t| *t == tickets[0]), "ten identical answers: {tickets:?}");
    assert_eq!(upstream.requests().count("POST /REST.svc/JSON/Image"), 1, "one submission upstream, not ten");

    let reused = graphql(&b, &other, &headers).await;
    assert_eq!(reused["errors"][0]["extensions"]["code"], "IDEMPOTENCY_KEY_REUSED", "{reused}");
    assert_eq!(upstream.requests().count("POST /REST.svc/JSON/Image"), 1, "nothing more was submitted");
}

/// A write through one instance is seen through every other at once, not after the
/// other's copy expires.
#[tokio::test]
async fn a_write_on_one_instance_is_read_on_another() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b) = (instance(&upstream, REDIS).await, instance(&upstream, REDIS).await);
    hearing_each_other(&[&a, &b]).await;
    let read = "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { lastName } }";
    let cookie = [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)];
    assert_eq!(graphql(&b, read, &cookie).await["data"]["client"]["lastName"], "Doe", "B holds a copy now");
    let update = "mutation { updateClient(input: { id: \"cl_ABC123DEF456GHI789JKL012MNO345\", lastName: \"Fleet\" }) \
                  { client { lastName } userErrors { message } } }";
    let updated = graphql(&a, update, &cookie).await;
    assert_eq!(updated["data"]["updateClient"]["client"]["lastName"], "Fleet", "{updated}");
    assert_eq!(graphql(&b, read, &cookie).await["data"]["client"]["lastName"], "Fleet", "B dropped its copy");
}

/// A studio that edits a client in Pixieset's own app drops the gateway's copy on every instance.
#[tokio::test]
async fn the_admin_route_drops_an_edited_client_everywhere() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let with_token = |token: Option<&str>| ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        redis_url: Some(REDIS.into()),
        admin_token: token.map(str::to_string),
        ..ServeArgs::default()
    };
    let (a, b) = (gateway(with_token(Some("admin-secret"))).await, gateway(with_token(None)).await);
    hearing_each_other(&[&a, &b]).await;
    let id = "cl_ABC123DEF456GHI789JKL012MNO345";
    let read = format!("{{ client(id: \"{id}\") {{ lastName }} }}");
    let cookie = [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)];
    assert_eq!(graphql(&b, &read, &cookie).await["data"]["client"]["lastName"], "Doe");

    // The edit bypasses pixgate: straight to the upstream.
    let edited = crate::support::http()
        .put(format!("{}/clients/{id}", upstream.pixieset_base_url()))
        .header("Cookie", sandbox::PIXIESET_COOKIE)
        .json(&json!({ "last_name": "Edited" }))
        .send()
        .await
        .unwrap();
    assert!(edited.status().is_success());
    assert_eq!(graphql(&b, &read, &cookie).await["data"]["client"]["lastName"], "Doe", "B still holds its copy");

    let drop = |gateway: &pixgate::startup::Running, token: &str| {
        crate::support::http()
            .post(format!("http://{}/admin/invalidate", gateway.addr()))
            .bearer_auth(token)
            .header("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)
            .json(&json!({ "kind": "client", "id": id }))
            .send()
    };
    assert_eq!(drop(&a, "wrong").await.unwrap().status(), 401);
    assert_eq!(drop(&b, "admin-secret").await.unwrap().status(), 404, "no token configured, no route");
    assert_eq!(drop(&a, "admin-secret").await.unwrap().status(), 200);
    assert_eq!(graphql(&b, &read, &cookie).await["data"]["client"]["lastName"], "Edited", "dropped on B too");
}

/// A tenant's budget is the fleet's: two instances together allow it once, not twice.
#[tokio::test]
async fn a_tenant_budget_holds_across_instances() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let limited = || ServeArgs {
        pixieset_base_url: Some(upstream.pixieset_base_url()),
        pixelz_base_url: Some(upstream.pixelz_base_url()),
        redis_url: Some(REDIS.into()),
        rate_limit_ip: Some(0),
        rate_limit_tenant: Some(1),
        rate_limit_tenant_burst: Some(5),
        ..ServeArgs::default()
    };
    let (a, b) = (gateway(limited()).await, gateway(limited()).await);
    hearing_each_other(&[&a, &b]).await;
    // A tenant of its own, so no other test draws on this budget.
    let cookie = format!("session_cookie=budget-{}", uuid::Uuid::new_v4());
    let mut allowed = 0;
    for n in 0..20 {
        let instance = if n % 2 == 0 { &a } else { &b };
        let answer = crate::support::http()
            .post(format!("http://{}/graphql", instance.addr()))
            .header("X-Pixieset-Cookie", &cookie)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        allowed += usize::from(answer.status() != 429);
    }
    // A burst of 5, and about a token a second while the requests go: 5 or 6, never the 10 of two instances apart.
    assert!((5..=6).contains(&allowed), "{allowed} of 20 allowed through two instances");
}

/// What one instance fetched, the others read from Redis: instances that share one
/// cost the upstream one call per object, not one each.
#[tokio::test]
async fn instances_share_what_they_fetched() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b, c) =
        (instance(&upstream, REDIS).await, instance(&upstream, REDIS).await, instance(&upstream, REDIS).await);
    hearing_each_other(&[&a, &b, &c]).await;
    let contracts = "{ contracts(first: 45) { edges { node { client { email } template { name } } } } }";
    let cookie = [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)];
    upstream.reset_requests();
    let answers = [
        graphql(&a, contracts, &cookie).await,
        graphql(&b, contracts, &cookie).await,
        graphql(&c, contracts, &cookie).await,
    ];
    assert_eq!(answers[0]["data"]["contracts"]["edges"].as_array().map(Vec::len), Some(45), "{}", answers[0]);
    assert!(answers.iter().all(|answer| *answer == answers[0]), "one answer through every instance");
    assert_eq!(upstream.requests().total, 1, "one upstream call for three cold instances");
    let counted = metrics(&b).await;
    assert!(counted.contains("pixgate_shared_cache_operations_total{operation=\"lookup\",result=\"hit\"}"));

    // A client that arrived in a list is there for the others too.
    upstream.reset_requests();
    let clients = graphql(&a, "{ clients(first: 5) { nodes { id } } }", &cookie).await;
    let id = clients["data"]["clients"]["nodes"][3]["id"].as_str().expect("a listed client").to_string();
    let read = format!("{{ client(id: \"{id}\") {{ email }} }}");
    assert!(graphql(&b, &read, &cookie).await["data"]["client"]["email"].is_string());
    assert_eq!(upstream.requests().total, 1, "B read the client A listed from Redis");

    // A write's answer is what the others read next, from Redis, with no call upstream.
    let update = format!(
        "mutation {{ updateClient(input: {{ id: \"{id}\", company: \"Shared\" }}) {{ client {{ company }} }} }}"
    );
    assert_eq!(graphql(&c, &update, &cookie).await["data"]["updateClient"]["client"]["company"], "Shared");
    upstream.reset_requests();
    let read = format!("{{ client(id: \"{id}\") {{ company }} }}");
    assert_eq!(graphql(&b, &read, &cookie).await["data"]["client"]["company"], "Shared");
    assert_eq!(upstream.requests().total, 0, "the written client came from Redis");
}

/// Redis away: an instance reads from its own tier and the upstream, and says so in its metrics.
#[tokio::test]
async fn without_redis_the_shared_tier_is_skipped_without_an_error() {
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let alone = instance(&upstream, "redis://127.0.0.1:1").await;
    let cookie = [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)];
    let read = "{ client(id: \"cl_ABC123DEF456GHI789JKL012MNO345\") { lastName } }";
    for _ in 0..2 {
        let answer = graphql(&alone, read, &cookie).await;
        assert_eq!(answer["data"]["client"]["lastName"], "Doe", "{answer}");
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    assert_eq!(upstream.requests().total, 1, "its own tier still serves the second read");
    let metrics = metrics(&alone).await;
    assert!(
        metrics.contains("pixgate_shared_cache_operations_total{operation=\"lookup\",result=\"unavailable\"}"),
        "{metrics}"
    );
}

pub(crate) async fn metrics(instance: &Running) -> String {
    let answer = crate::support::http().get(format!("http://{}/metrics", instance.addr())).send().await.unwrap();
    answer.text().await.unwrap()
}

/// A client's images are linked in the records' Redis: an image submitted for a client through
/// one instance is the client's on another, and on an instance started after both are gone.
#[tokio::test]
async fn a_clients_images_are_its_own_on_every_instance_and_after_a_restart() {
    if !redis_available().await {
        return;
    }
    let upstream = crate::support::sandbox_with_step(600_000).await;
    let (a, b) = (instance(&upstream, REDIS).await, instance(&upstream, REDIS).await);
    let cookie = [("X-Pixieset-Cookie", sandbox::PIXIESET_COOKIE)];
    // A client of its own, so that no other test's images are linked to it.
    let email = format!("linked-{}@example.com", std::process::id());
    let created = graphql(
        &a,
        &format!("mutation {{ createClient(input: {{ firstName: \"Lin\", lastName: \"Ked\", email: \"{email}\" }}) {{ client {{ id }} userErrors {{ message }} }} }}"),
        &cookie,
    )
    .await;
    let client =
        created["data"]["createClient"]["client"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    // The sandbox makes the same ids every run: links an earlier run left in the shared Redis go first.
    let mut redis = redis::Client::open(REDIS).unwrap().get_multiplexed_async_connection().await.unwrap();
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("pixgate:client-images:*:client:{client}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    for key in left {
        redis::cmd("DEL").arg(key).query_async::<()>(&mut redis).await.unwrap();
    }
    let submitted = graphql(
        &a,
        &format!("mutation {{ submitPixelzImage(input: {{ imageUrls: [\"https://images.example.com/linked.jpg\"], clientId: \"{client}\", productId: \"lin-portraits\" }}) {{ ticket }} }}"),
        &cookie,
    )
    .await;
    let ticket =
        submitted["data"]["submitPixelzImage"]["ticket"].as_str().unwrap_or_else(|| panic!("{submitted}")).to_string();
    let retouched = format!(
        "{{ client(id: \"{client}\") {{ retouchedImages(first: 5) {{ totalCount nodes {{ ticket productId client {{ id }} }} }} }} }}"
    );
    let expected = json!({ "retouchedImages": { "totalCount": 1, "nodes": [{ "ticket": ticket, "productId": "lin-portraits", "client": { "id": client } }] } });
    let elsewhere = graphql(&b, &retouched, &cookie).await;
    assert_eq!(elsewhere["data"]["client"], expected, "{elsewhere}");
    drop((a, b));
    let later = instance(&upstream, REDIS).await;
    let again = graphql(&later, &retouched, &cookie).await;
    assert_eq!(again["data"]["client"], expected, "{again}");
}
