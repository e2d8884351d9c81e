//! What a request says about where it was sent and where it comes from: the issuer, the links and
//! discovery are the deployment's whatever the headers claim, and forwarding headers name the
//! client only when a trusted proxy wrote them.

use keyward_server::api::client_address::ForwardedHeader;
use keyward_server::config::ServeSettings;
use keyward_tests::{StatusCode, TestServer};

/// Headers a client sends to pose as another host.
fn posing(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "https")
        .header("Forwarded", "host=evil.example;proto=https")
}

#[tokio::test]
async fn discovery_tokens_and_links_name_the_deployment_whatever_the_request_says() {
    let server = TestServer::start().await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let (status, headers, discovery) = server.send(posing(server.get(path))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(discovery["issuer"], server.url("/"));
        assert_eq!(discovery["token_endpoint"], server.url("/oauth/token"));
        assert_eq!(discovery["jwks_uri"], server.url("/.well-known/jwks.json"));
        assert_eq!(discovery["audience"], server.url("/api"));
        assert_eq!(headers["cache-control"], "public, max-age=300", "a shared cache may keep it");
        assert!(!headers.contains_key("vary"), "the same for every request");
    }
    let (_, headers, _) = server.send(server.get("/.well-known/jwks.json")).await;
    assert_eq!(headers["cache-control"], "public, max-age=300");

    let key = server.mint("p", "k").await;
    let (status, _, body) = server
        .send(posing(server.post("/oauth/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", key.client_id.as_str()),
            ("client_secret", key.secret.as_str()),
        ]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let claims = crate::tokens::claims(token);
    assert_eq!(claims["iss"], server.url("/"));
    assert_eq!(claims["aud"], server.url("/api"));

    let (status, _, list) = server.send(posing(server.get("/api/apikeys")).bearer_auth(token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list["_links"]["self"]["href"].as_str().unwrap().split('?').next(),
        Some(server.url("/api/apikeys").as_str())
    );
}

#[tokio::test]
async fn a_token_issued_for_another_deployment_is_refused_although_our_key_signed_it() {
    // Two deployments sharing one database, so one set of signing keys: only the issuer and
    // audience tell their tokens apart.
    let elsewhere = TestServer::start_with(|settings| {
        settings.public_url = Some("https://elsewhere.example".into());
    })
    .await;
    let here = TestServer::start_on(elsewhere.settings.database.database_url.clone(), |_| {}).await;
    let key = elsewhere.mint("p", "k").await;
    let token = elsewhere.token(&key.client_id, &key.secret).await;
    let (status, _, _) = elsewhere.send(elsewhere.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = here.send(here.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "iss and aud are checked on every token");
    let own = here.token(&key.client_id, &key.secret).await;
    let (status, _, _) = here.send(here.get("/api/apikeys").bearer_auth(&own)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Sends a made-up key with `X-Forwarded-For: from` and returns the status.
async fn guess(server: &TestServer, from: &str) -> StatusCode {
    let request = server
        .get("/api/v1/keys/list")
        .header("Authorization", server.made_up_key())
        .header("X-Forwarded-For", from);
    server.send(request).await.0
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    // An address's failures past its quota of 2 (the third) get it refused.
    // Not behind a proxy: a client cannot pose as many addresses to escape its quota.
    let direct = TestServer::start_with(|settings| {
        settings.throttle_per_address = std::num::NonZeroU32::new(2).unwrap();
    })
    .await;
    assert_eq!(guess(&direct, "203.0.113.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(guess(&direct, "203.0.113.2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(guess(&direct, "203.0.113.3").await, StatusCode::UNAUTHORIZED);
    assert_eq!(guess(&direct, "203.0.113.4").await, StatusCode::TOO_MANY_REQUESTS, "one peer, one quota");

    // Behind a trusted proxy, each client has its own quota, by the address the proxy appended.
    let proxied = TestServer::start_with(|settings| {
        settings.throttle_per_address = std::num::NonZeroU32::new(2).unwrap();
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    assert_eq!(guess(&proxied, "203.0.113.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(guess(&proxied, "198.51.100.9, 203.0.113.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(guess(&proxied, "198.51.100.8, 203.0.113.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        guess(&proxied, "198.51.100.10, 203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the leftmost value is the client's own word"
    );
    assert_eq!(guess(&proxied, "203.0.113.2").await, StatusCode::UNAUTHORIZED, "another client");
}

/// The client every proxied request below comes from.
const CLIENT: &str = "203.0.113.7";

/// What a server behind a trusted proxy makes of requests from [`CLIENT`] carrying `proxied` (the
/// header the proxy wrote, naming that client) and the client's own `forged` header, passed on as
/// it came and naming another address each time: the address the audit log records for a change,
/// and the answers to four failed guesses, against a quota of two failures.
async fn attribution(
    configure: impl FnOnce(&mut ServeSettings),
    proxied: (&str, &str),
    forged: impl Fn(u8) -> (&'static str, String),
) -> (String, Vec<StatusCode>) {
    let server = TestServer::start_with(|settings| {
        settings.throttle_per_address = std::num::NonZeroU32::new(2).unwrap();
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        configure(settings);
    })
    .await;
    let through_proxy = |request: reqwest::RequestBuilder, n: u8| {
        let (name, value) = forged(n);
        request.header(proxied.0, proxied.1).header(name, value)
    };
    let admin = server.mint("p", "admin").await;
    let as_admin = |request: reqwest::RequestBuilder| request.header("Authorization", &admin.api_key);
    let (_, _, initialised) = server.send(as_admin(server.post("/api/apikeys"))).await;
    let path = format!("/api/apikeys/{}", initialised["id"].as_str().unwrap());
    let create = through_proxy(as_admin(server.put(&path)), 0).json(&serde_json::json!({ "name": "ci" }));
    let (status, _, created) = server.send(create).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _, entries) = server.send(as_admin(server.get("/api/v1/keys/audit"))).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    assert_eq!(entries[0]["keyId"], created["id"], "{entries}");
    let recorded = entries[0]["address"].as_str().unwrap_or_default().to_owned();
    let mut answers = Vec::new();
    for n in 1..=4 {
        let guess = server.get("/api/v1/keys/list").header("Authorization", server.made_up_key());
        answers.push(server.send(through_proxy(guess, n)).await.0);
    }
    (recorded, answers)
}

/// Four failed guesses from one address, against a quota of two: the fourth is refused.
const ONE_ADDRESS: [StatusCode; 4] = [
    StatusCode::UNAUTHORIZED,
    StatusCode::UNAUTHORIZED,
    StatusCode::UNAUTHORIZED,
    StatusCode::TOO_MANY_REQUESTS,
];

#[tokio::test]
async fn behind_a_proxy_appending_x_forwarded_for_a_clients_own_forwarded_header_names_no_one() {
    // The usual proxy (nginx's $proxy_add_x_forwarded_for) passes a client's Forwarded on as is.
    let (recorded, answers) =
        attribution(|_| {}, ("X-Forwarded-For", CLIENT), |n| ("Forwarded", format!("for=198.51.100.{n}")))
            .await;
    assert_eq!(recorded, CLIENT, "the audit log records the address the proxy saw");
    assert_eq!(answers, ONE_ADDRESS, "a client cannot pose as many addresses to escape its quota");
}

#[tokio::test]
async fn behind_a_proxy_writing_forwarded_a_clients_own_x_forwarded_for_names_no_one() {
    let forwarded = format!("for={CLIENT}");
    let (recorded, answers) = attribution(
        |settings| settings.forwarded_header = ForwardedHeader::Forwarded,
        ("Forwarded", &forwarded),
        |n| ("X-Forwarded-For", format!("198.51.100.{n}")),
    )
    .await;
    assert_eq!(recorded, CLIENT, "the audit log records the address the proxy saw");
    assert_eq!(answers, ONE_ADDRESS, "a client cannot pose as many addresses to escape its quota");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_only_a_trusted_proxy_chooses_it() {
    let direct = TestServer::start().await;
    let (_, headers, _) = direct.send(direct.get("/health/live")).await;
    let id = headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let (_, headers, _) =
        direct.send(direct.get("/health/live").header("X-Request-Id", "client-chosen")).await;
    assert_ne!(headers["x-request-id"], "client-chosen", "a client does not write the logs' ids");
    // The request's log lines carry its id.
    let (_, headers, _) = direct.send(direct.get("/api/apikeys")).await;
    let id = headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(
        keyward_tests::captured_logs()
            .lines()
            .any(|line| line.contains(&id) && line.contains("/api/apikeys"))
    );

    let proxied = TestServer::start_with(|settings| {
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let (_, headers, _) =
        proxied.send(proxied.get("/health/live").header("X-Request-Id", "proxy-7f3a")).await;
    assert_eq!(headers["x-request-id"], "proxy-7f3a", "the proxy's id is kept");
    for hostile in ["has spaces", &"x".repeat(200)] {
        let (_, headers, _) = proxied.send(proxied.get("/health/live").header("X-Request-Id", hostile)).await;
        assert_ne!(headers["x-request-id"], hostile);
    }
}
