//! No secret ever reaches the logs.

use keyward_tests::{StatusCode, TestServer, captured_logs};
use serde_json::json;

#[tokio::test]
async fn no_secret_or_token_appears_in_the_logs() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;

    // Create a key over HTTP, use its secret every way there is, and get it wrong on purpose.
    let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
    let path = format!("/api/apikeys/{}", init["id"].as_str().unwrap());
    let (status, _, created) =
        server.send(server.put(&path).bearer_auth(&token).json(&json!({ "name": "logged?" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    let client_id = created["clientId"].as_str().unwrap().to_owned();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    let own_token = server.token(&client_id, &secret).await;
    let wrong = format!("{}x", &secret[..43]);
    let full_key = server
        .state
        .format
        .encode(&client_id, &keyward_model::Secret::new(secret.clone()))
        .expose()
        .to_owned();
    let tampered_key = format!("{}0", &full_key[..full_key.len() - 1]);

    let requests = [
        server.get("/api/apikeys").bearer_auth(&own_token),
        server.get("/api/apikeys").header("Authorization", &own_token),
        server.get("/api/apikeys").basic_auth(&client_id, Some(&secret)),
        server.get("/api/apikeys").basic_auth(&client_id, Some(&wrong)),
        server.get(&format!("/api/apikeys?secret={secret}")).bearer_auth(&own_token),
        server.post("/oauth/token").form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &wrong),
        ]),
        server
            .http
            .post(server.url("/oauth/token"))
            .header("Content-Type", "application/json")
            .body(format!("{{\"client_secret\": \"{secret}\"")),
        server
            .http
            .post(server.url("/oauth/token"))
            .header("Content-Type", "text/plain")
            .body(secret.clone()),
        server.put(&path).bearer_auth(&own_token).json(&json!({ "name": secret })),
        server.get("/api/v1/keys/list").header("Authorization", &full_key),
        server.get("/api/v1/keys/list").bearer_auth(&full_key),
        server.get("/api/v1/keys/list").header("Authorization", &tampered_key),
        server
            .http
            .post(server.url("/api/v1/keys/verify"))
            .bearer_auth(&full_key)
            .json(&json!({ "key": full_key })),
        server
            .http
            .post(server.url("/api/v1/keys/verify"))
            .bearer_auth(&full_key)
            .json(&json!({ "key": tampered_key })),
        server
            .http
            .post(server.url("/api/v1/keys/create"))
            .bearer_auth(&full_key)
            .json(&json!({ "name": full_key })),
    ];
    for request in requests {
        server.send(request).await;
    }
    let (status, _, _) = server.send(server.delete(&path).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(&own_token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let logs = captured_logs();
    assert!(logs.contains("finished processing request"), "the logs were captured");
    assert!(logs.contains(&path), "requests are logged by path");
    let signature = own_token.rsplit('.').next().unwrap();
    for (what, needle) in [
        ("secret", secret.as_str()),
        ("wrong secret", wrong.as_str()),
        ("token", own_token.as_str()),
        ("token signature", signature),
        ("login token", token.as_str()),
        ("full key", full_key.as_str()),
        ("tampered key", tampered_key.as_str()),
    ] {
        assert!(!logs.contains(needle), "the {what} appears in the logs");
    }
}
