//! The client crate against a real server: every operation, token refresh, revocation, retries.

use futures::TryStreamExt;
use keyward_client::{Error, Keyward, RetryPolicy, TransportKind};
use keyward_model::{KeyType, VerifyFailure};
use keyward_tests::{StatusCode, TestServer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn client(server: &TestServer, key: &keyward_tests::Minted) -> Keyward {
    Keyward::builder(&server.base).client_credentials(&key.client_id, &key.secret).build().unwrap()
}

#[tokio::test]
async fn every_operation_through_the_client() {
    let server = TestServer::start().await;
    let login = server.mint("p", "login").await;
    let keyward = client(&server, &login);
    keyward.authenticate().await.unwrap();

    let created = keyward.create_key("made by the client").await.unwrap();
    let secret = created.client_secret.clone().expect("the secret, once");
    assert_eq!(created.name.as_deref(), Some("made by the client"));
    assert_eq!(keyward.get_key(created.id).await.unwrap().client_secret, None);
    let renamed = keyward.rename_key(created.id, "renamed").await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("renamed"));

    // The new key's own credentials work through a second client.
    let second = Keyward::builder(&server.base)
        .client_credentials(created.client_id.clone().unwrap(), secret.expose())
        .build()
        .unwrap();
    assert_eq!(second.page(0, 20).await.unwrap().page.total_elements, 2);

    // Typed keys, summaries, verify, and the full key as a credential.
    let full = keyward.create_full_key("full", KeyType::Aws).await.unwrap();
    let by_key = Keyward::builder(&server.base).api_key(full.api_key.expose()).build().unwrap();
    let summaries = by_key.key_summaries().await.unwrap();
    assert_eq!(summaries.len(), 3);
    let verdict = keyward.verify(full.api_key.expose()).await.unwrap();
    assert!(verdict.valid);
    assert_eq!(verdict.key_for, Some(KeyType::Aws));
    assert_eq!(keyward.verify("keyward_nope").await.unwrap().code, Some(VerifyFailure::InvalidFormat));

    // A bearer token obtained elsewhere.
    let token = server.token(&login.client_id, &login.secret).await;
    let by_token = Keyward::builder(&server.base).bearer(token).build().unwrap();
    assert_eq!(by_token.page(0, 1).await.unwrap().page.total_elements, 3);

    // Any generated operation, through `api()`.
    let profile = keyward.api().get_profile().id("p").send().await.unwrap().into_inner();
    assert_eq!(profile.id, "p");

    keyward.delete_key(created.id).await.unwrap();
    let error = keyward.get_key(created.id).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    let Error::Api { body, .. } = error else { panic!("the HAL error body") };
    assert_eq!(body.message, "API key not found");
}

#[tokio::test]
async fn keys_stream_over_every_page() {
    let server = TestServer::start().await;
    let login = server.mint("p", "login").await;
    for n in 0..6 {
        server.mint("p", &format!("k{n}")).await;
    }
    let keyward = client(&server, &login);
    let keys: Vec<_> = keyward.keys_in_pages_of(3).try_collect().await.unwrap();
    assert_eq!(keys.len(), 7);
    assert_eq!(keys.last().unwrap().name.as_deref(), Some("login"), "newest first, all pages");
    let all: Vec<_> = keyward.keys().try_collect().await.unwrap();
    assert_eq!(all, keys);
}

#[tokio::test]
async fn revoked_credentials_give_a_clear_error_after_one_fresh_token() {
    let server = TestServer::start().await;
    let login = server.mint("p", "login").await;
    let keyward = client(&server, &login);
    keyward.page(0, 1).await.unwrap();
    assert_eq!(keyward.tokens_fetched(), 1);
    server.delete_key("p", login.id).await;
    // Revoked: the 401, one new token attempt (refused), and a clear error.
    let error = keyward.page(0, 1).await.unwrap_err();
    assert!(error.is_unauthorized(), "{error}");
    assert_eq!(keyward.tokens_fetched(), 2, "one retry with a fresh token, no more");
    // From then on, each call asks for one token, and reports the token endpoint's answer.
    for fetched in 3..6 {
        let error = keyward.page(0, 1).await.unwrap_err();
        let Error::OAuth { status, body, .. } = error else { panic!("the token endpoint's answer: {error}") };
        assert_eq!((status, body.error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));
        assert_eq!(keyward.tokens_fetched(), fetched);
    }
    let error = keyward.authenticate().await.unwrap_err();
    assert!(matches!(error, Error::OAuth { .. }), "{error}");
}

#[tokio::test]
async fn concurrent_calls_share_one_token_fetch() {
    let server = TestServer::start().await;
    let login = server.mint("p", "login").await;
    let keyward = client(&server, &login);
    let calls = (0..16).map(|_| keyward.page(0, 1));
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(keyward.tokens_fetched(), 1);
}

#[tokio::test]
async fn wrong_credentials_and_unreachable_servers_are_clear_errors() {
    let server = TestServer::start().await;
    let wrong =
        Keyward::builder(&server.base).client_credentials("x".repeat(32), "y".repeat(44)).build().unwrap();
    let error = wrong.authenticate().await.unwrap_err();
    assert!(error.is_unauthorized(), "{error}");
    assert!(error.to_string().contains("invalid_client"), "{error}");

    let nowhere =
        Keyward::builder(closed_port().await).api_key("k").retry(RetryPolicy::none()).build().unwrap();
    let error = nowhere.page(0, 1).await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error}");
    assert!(Keyward::builder("not a url").build().is_err());
}

/// A server that answers 429 with `Retry-After: 0` to the first `busy` requests, then serves an
/// empty page; it counts what it receives.
async fn busy_server(busy: usize) -> (String, Arc<AtomicUsize>) {
    use axum::http::{HeaderValue, StatusCode as Status};
    use axum::response::IntoResponse;
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    // Each dialect's error body: the HAL one for GET /api/apikeys, a string for the key API.
    let handler = move |refusal: serde_json::Value| {
        let counter = counter.clone();
        move || async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n < busy {
                let mut response = (Status::TOO_MANY_REQUESTS, axum::Json(refusal)).into_response();
                response.headers_mut().insert("retry-after", HeaderValue::from_static("0"));
                return response;
            }
            axum::Json(serde_json::json!({
                "_embedded": { "apikeys": [] },
                "_links": { "self": { "href": "http://stub/api/apikeys?page=0&size=1" } },
                "page": { "size": 1, "totalElements": 0, "totalPages": 0, "number": 0 }
            }))
            .into_response()
        }
    };
    let hal_refusal = serde_json::json!({
        "timestamp": "2026-04-23T13:17:02.940+00:00", "status": 429, "error": "Too Many Requests",
        "message": "slow down", "path": "/api/apikeys"
    });
    let app = axum::Router::new()
        .route("/api/apikeys", axum::routing::get(handler(hal_refusal)))
        .route("/api/v1/keys/create", axum::routing::post(handler(serde_json::json!("slow down"))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

#[tokio::test]
async fn idempotent_requests_are_retried_after_retry_after() {
    let (base, seen) = busy_server(2).await;
    let keyward = Keyward::builder(&base).api_key("k").build().unwrap();
    let page = keyward.page(0, 1).await.unwrap();
    assert_eq!(page.page.total_elements, 0);
    assert_eq!(seen.load(Ordering::SeqCst), 3, "two 429s, then the answer");
}

#[tokio::test]
async fn retries_stop_at_the_policy_and_posts_are_not_retried() {
    let (base, seen) = busy_server(10).await;
    let policy = RetryPolicy::default().max_retries(1).initial_backoff(Duration::from_millis(10));
    let keyward = Keyward::builder(&base).api_key("k").retry(policy).build().unwrap();
    let error = keyward.page(0, 1).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(seen.load(Ordering::SeqCst), 2, "one retry, capped wait");

    let error = keyward.create_full_key("x", KeyType::Generic).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::TOO_MANY_REQUESTS), "{error:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 3, "a POST is sent once");
}

#[tokio::test]
async fn connection_failures_are_retried_with_backoff() {
    let policy = RetryPolicy::default().max_retries(2).initial_backoff(Duration::from_millis(10));
    let nowhere = Keyward::builder(closed_port().await).api_key("k").retry(policy).build().unwrap();
    let error = nowhere.page(0, 1).await.unwrap_err();
    let Error::Transport(transport) = &error else { panic!("a transport error: {error}") };
    assert_eq!(transport.kind(), TransportKind::Connect, "{error}");
}

#[tokio::test]
async fn failed_creates_leave_no_initialised_key_behind() {
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 3).await;
    let login = server.mint("p", "login").await;
    let keyward = client(&server, &login);
    for _ in 0..4 {
        let error = keyward.create_key("login").await.unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::CONFLICT), "{error}");
    }
    // Had the initialised keys stayed, the profile's allowance of them (3) would be spent.
    keyward.create_key("fresh").await.expect("room for a new key");
}

/// The URL of a port that nothing listens on: bound, then released.
pub async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[tokio::test]
async fn a_walk_over_every_key_skips_none_and_repeats_none_while_keys_come_and_go() {
    use futures::StreamExt;
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 200).await;
    let login = server.mint("p", "login").await;
    let mut stable = std::collections::BTreeSet::new();
    let mut churn = Vec::new();
    for n in 0..30 {
        stable.insert(server.mint("p", &format!("stable {n}")).await.id);
        churn.push(server.mint("p", &format!("churn {n}")).await.id);
    }
    let keyward = client(&server, &login);
    let mut walk = std::pin::pin!(keyward.keys_in_pages_of(5));
    let mut seen = Vec::new();
    let mut created = 0;
    while let Some(key) = walk.next().await {
        seen.push(keyward_server::ids::KeyId::from(key.unwrap().id));
        // Between pages: delete keys the walk has not reached yet, and create new ones.
        if seen.len() % 5 == 0 {
            if let Some(position) = churn.iter().position(|id| !seen.contains(id)) {
                let id = churn.remove(position);
                server.delete_key("p", id).await;
            }
            server.mint("p", &format!("new {created}")).await;
            created += 1;
        }
    }
    for id in &stable {
        assert_eq!(seen.iter().filter(|seen| *seen == id).count(), 1, "{id} seen once");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no key twice");
}
