//! The client where the network and the servers in front of Keyward fail: HTTPS with a private
//! CA, a token endpoint that is down, lost answers, long `Retry-After`s, a proxy's HTML page.

use crate::client::closed_port;
use keyward_client::{Error, Keyward, RetryPolicy, TransportKind};
use keyward_tests::scripted::{Reply, Scripted};
use keyward_tests::tls::TlsFront;
use keyward_tests::{StatusCode, TestServer};
use serde_json::json;
use std::time::Duration;

fn spring(status: u16, message: &str) -> serde_json::Value {
    json!({
        "timestamp": "2026-04-23T13:17:02.940+00:00", "status": status, "error": "Error",
        "message": message, "path": "/api/apikeys"
    })
}

fn token(value: &str) -> Reply {
    Reply::json(200, json!({ "access_token": value, "token_type": "Bearer", "expires_in": 3600 }))
}

fn empty_page() -> Reply {
    Reply::json(
        200,
        json!({
            "_embedded": { "apikeys": [] },
            "_links": { "self": { "href": "http://stub/api/apikeys?page=0&size=1" } },
            "page": { "size": 1, "totalElements": 0, "totalPages": 0, "number": 0 }
        }),
    )
}

fn credentials(base: &str, retry: RetryPolicy) -> Keyward {
    Keyward::builder(base).client_credentials("c".repeat(32), "s".repeat(44)).retry(retry).build().unwrap()
}

#[tokio::test]
async fn https_with_a_private_ca_works_and_an_untrusted_certificate_says_so() {
    let server = TestServer::start().await;
    let login = server.mint("p", "login").await;
    let front = TlsFront::start(server.base.trim_start_matches("http://")).await;

    let trusted = Keyward::builder(&front.base)
        .client_credentials(&login.client_id, &login.secret)
        .add_root_certificates_pem(front.ca_pem.clone())
        .build()
        .unwrap();
    let page = trusted.page(0, 10).await.expect("listing over HTTPS");
    assert_eq!(page.page.total_elements, 1);

    let untrusted = Keyward::builder(&front.base)
        .client_credentials(&login.client_id, &login.secret)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = untrusted.page(0, 10).await.unwrap_err();
    let Error::Transport(transport) = &error else { panic!("a transport error: {error}") };
    assert_eq!(transport.kind(), TransportKind::Certificate, "{error}");
    assert!(error.to_string().contains("certificate is not trusted"), "{error}");
    assert!(!error.to_string().contains("cannot reach"), "{error}");
}

#[tokio::test]
async fn a_failed_token_fetch_ends_the_call_with_its_own_error_and_sends_nothing_bare() {
    // The token endpoint is down (503): the call fails with that 503, not a 401.
    let down = Scripted::start(vec![Reply::json(503, json!({ "error": "temporarily_unavailable" }))]).await;
    let error = credentials(&down.base, RetryPolicy::none()).page(0, 1).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{error}");
    assert!(!error.is_unauthorized());
    assert_eq!(down.requests(), ["POST /oauth/token"], "no request went out without credentials");

    // A proxy's 502 page in front of it.
    let proxy = Scripted::start(vec![Reply::Answer {
        status: 502,
        headers: vec![("content-type", "text/html".into())],
        body: "<html>Bad Gateway</html>".into(),
    }])
    .await;
    let error = credentials(&proxy.base, RetryPolicy::none()).page(0, 1).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::BAD_GATEWAY), "{error}");
    assert!(error.to_string().contains("Bad Gateway"), "{error}");
    assert_eq!(proxy.requests(), ["POST /oauth/token"]);

    // Nobody listens: a transport error.
    let error = credentials(&closed_port().await, RetryPolicy::none()).page(0, 1).await.unwrap_err();
    assert!(matches!(&error, Error::Transport(t) if t.kind() == TransportKind::Connect), "{error}");

    // The token request is retried like any other: a 503, then a token, then the call.
    let flaky = Scripted::start(vec![
        Reply::json(503, json!({ "error": "temporarily_unavailable" })).with("retry-after", "0"),
        token("t1"),
        empty_page(),
    ])
    .await;
    credentials(&flaky.base, RetryPolicy::default()).page(0, 1).await.expect("the retry succeeds");
    assert_eq!(flaky.requests(), ["POST /oauth/token", "POST /oauth/token", "GET /api/apikeys"]);
    assert_eq!(flaky.seen()[2].header("authorization"), Some("Bearer t1"));
}

#[tokio::test]
async fn the_put_that_creates_a_key_is_never_sent_twice() {
    let initialised = json!({
        "id": "9904cf92-2202-48c0-a751-a9724e32c98e", "created": "2026-01-11T18:58:35.961074",
        "lastModified": "2026-01-11T18:58:35.961074", "profileId": "p",
        "_links": { "create apikey": { "href": "http://stub/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e" } }
    });
    let stub = Scripted::start(vec![
        Reply::json(200, initialised),
        Reply::json(503, spring(503, "unavailable")).with("retry-after", "0"),
        Reply::Answer { status: 204, headers: vec![], body: String::new() },
    ])
    .await;
    let keyward = Keyward::builder(&stub.base).api_key("k").build().unwrap();
    let error = keyward.create_key("once").await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{error}");
    let id = "/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e";
    assert_eq!(
        stub.requests(),
        ["POST /api/apikeys".to_owned(), format!("PUT {id}"), format!("DELETE {id}")]
    );
}

#[tokio::test]
async fn a_delete_whose_answer_was_lost_is_done_when_the_key_is_gone() {
    let stub = Scripted::start(vec![Reply::Close, Reply::json(404, spring(404, "API key not found"))]).await;
    let keyward = Keyward::builder(&stub.base)
        .api_key("k")
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    keyward.delete_key(uuid::Uuid::new_v4()).await.expect("deleted: the first attempt did it");
    assert_eq!(stub.requests().len(), 2);

    // Without a lost answer, a 404 is a 404.
    let stub = Scripted::start(vec![Reply::json(404, spring(404, "API key not found"))]).await;
    let keyward = Keyward::builder(&stub.base).api_key("k").build().unwrap();
    assert!(keyward.delete_key(uuid::Uuid::new_v4()).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_retries_and_reaches_the_caller() {
    let in_an_hour = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc2822().replace("+0000", "GMT");
    for retry_after in ["3600".to_owned(), in_an_hour] {
        let stub = Scripted::start(vec![
            Reply::json(429, spring(429, "slow down")).with("retry-after", retry_after),
        ])
        .await;
        let keyward = Keyward::builder(&stub.base).api_key("k").build().unwrap();
        let error = keyward.page(0, 1).await.unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        let wait = error.retry_after().expect("Retry-After in the error");
        assert!((Duration::from_secs(3590)..=Duration::from_secs(3600)).contains(&wait), "{wait:?}");
        assert_eq!(stub.requests().len(), 1, "not retried");
    }
}

#[tokio::test]
async fn a_documented_status_with_a_foreign_body_keeps_its_status() {
    let stub = Scripted::start(vec![Reply::Answer {
        status: 401,
        headers: vec![("content-type", "text/html".into())],
        body: "<html><body>Unauthorized by the proxy</body></html>".into(),
    }])
    .await;
    let keyward = Keyward::builder(&stub.base).api_key("k").build().unwrap();
    let error = keyward.page(0, 1).await.unwrap_err();
    assert!(error.is_unauthorized(), "{error:?}");
    assert!(
        matches!(&error, Error::Unexpected { body, .. } if body.contains("Unauthorized by the proxy")),
        "{error:?}"
    );
}

#[tokio::test]
async fn requests_name_the_client() {
    let stub = Scripted::start(vec![empty_page(), empty_page()]).await;
    Keyward::builder(&stub.base).api_key("k").build().unwrap().page(0, 1).await.unwrap();
    let agent = format!("keyward-client/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(stub.seen()[0].header("user-agent"), Some(agent.as_str()));
    Keyward::builder(&stub.base)
        .api_key("k")
        .user_agent("deploy-bot/2")
        .build()
        .unwrap()
        .page(0, 1)
        .await
        .unwrap();
    assert_eq!(stub.seen()[1].header("user-agent"), Some("deploy-bot/2"));
}

#[tokio::test]
async fn a_redirect_never_carries_the_secret_elsewhere() {
    let elsewhere = Scripted::start(vec![token("stolen")]).await;
    let redirecting = Scripted::start(vec![
        Reply::json(307, json!("moved")).with("location", format!("{}/oauth/token", elsewhere.base)),
    ])
    .await;
    let client = credentials(&redirecting.base, RetryPolicy::none());
    assert!(client.page(0, 1).await.is_err(), "a redirect is not followed");
    assert!(elsewhere.seen().is_empty(), "the token request went nowhere else: {:?}", elsewhere.seen());
}
