//! Deleting a key revokes it at once: its credentials and every token issued for it.

use crate::assert_error;
use keyward_tests::{StatusCode, TestServer};

#[tokio::test]
async fn deleted_keys_are_refused_on_the_very_next_request() {
    let server = TestServer::start().await;
    let (admin, admin_token) = server.login("p").await;
    let victim = server.mint("p", "victim").await;
    let token = server.token(&victim.client_id, &victim.secret).await;
    let basic = (victim.client_id.clone(), victim.secret.clone());

    // Warm every cache: token, Basic, bare token.
    for _ in 0..3 {
        let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) =
            server.send(server.get("/api/apikeys").basic_auth(&basic.0, Some(&basic.1))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = server.send(server.get("/api/apikeys").header("Authorization", &token)).await;
        assert_eq!(status, StatusCode::OK);
    }

    let (status, _, _) =
        server.send(server.delete(&format!("/api/apikeys/{}", victim.id)).bearer_auth(&admin_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, _, body) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "/api/apikeys");
    let (status, _, body) = server.send(server.get("/api/apikeys").header("Authorization", &token)).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "/api/apikeys");
    let (status, _, body) =
        server.send(server.get("/api/apikeys").basic_auth(&basic.0, Some(&basic.1))).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "/api/apikeys");
    let (status, _, body) = server
        .send(server.post("/oauth/token").form(&[
            ("grant_type", "client_credentials"),
            ("client_id", basic.0.as_str()),
            ("client_secret", basic.1.as_str()),
        ]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    // The other key of the profile is unaffected.
    let (status, _, list) = server.send(server.get("/api/apikeys").bearer_auth(&admin_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["_embedded"]["apikeys"][0]["id"], admin.id.to_string());
}

#[tokio::test]
async fn a_key_can_delete_itself_and_is_refused_after() {
    let server = TestServer::start().await;
    let (key, token) = server.login("p").await;
    let path = format!("/api/apikeys/{}", key.id);
    let (status, _, _) = server.send(server.delete(&path).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = server.send(server.get(&path).bearer_auth(&token)).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, &path);
}

/// Polls `check` until it holds, for at most two seconds; returns how long that took.
async fn time_until(mut check: impl AsyncFnMut() -> bool) -> std::time::Duration {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(2) {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("not within two seconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_through_one_instance_is_refused_by_another_within_a_second() {
    let first = TestServer::start().await;
    let second = first.start_beside().await;
    let (_, admin_token) = first.login("p").await;
    let victim = first.mint("p", "victim").await;
    let token = first.token(&victim.client_id, &victim.secret).await;
    // The second instance has verified both the key and its token: both are in its caches.
    for auth in [victim.api_key.clone(), format!("Bearer {token}")] {
        let (status, _, _) =
            second.send(second.get("/api/v1/keys/list").header("Authorization", &auth)).await;
        assert_eq!(status, StatusCode::OK);
    }

    let (status, _, _) =
        first.send(first.delete(&format!("/api/apikeys/{}", victim.id)).bearer_auth(&admin_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let delay = time_until(async || {
        let key =
            second.send(second.get("/api/v1/keys/list").header("Authorization", &victim.api_key)).await.0;
        let bearer = second.send(second.get("/api/v1/keys/list").bearer_auth(&token)).await.0;
        key == StatusCode::UNAUTHORIZED && bearer == StatusCode::UNAUTHORIZED
    })
    .await;
    eprintln!("revoked on the other instance after {delay:?}");
    assert!(delay < std::time::Duration::from_secs(1), "{delay:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rename_through_one_instance_shows_through_another_within_a_second() {
    let first = TestServer::start().await;
    let second = first.start_beside().await;
    let (admin, admin_token) = first.login("p").await;
    let verify = async |server: &TestServer| {
        let request = server.post("/api/v1/keys/verify").header("Authorization", &admin.api_key);
        let (_, _, body) = server.send(request.json(&serde_json::json!({ "key": admin.api_key }))).await;
        body["name"].as_str().unwrap_or_default().to_owned()
    };
    assert_ne!(verify(&second).await, "renamed", "the old name is cached");
    let (status, _, _) = first
        .send(
            first
                .put(&format!("/api/apikeys/{}", admin.id))
                .bearer_auth(&admin_token)
                .json(&serde_json::json!({ "name": "renamed" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let delay = time_until(async || verify(&second).await == "renamed").await;
    eprintln!("renamed on the other instance after {delay:?}");
    assert!(delay < std::time::Duration::from_secs(1), "{delay:?}");
}

/// Lists and views are held in memory per profile: a create, a rename and a delete made through
/// one instance show in another's within a second, and a key just created through one is found
/// by id through the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lists_through_another_instance_follow_changes_within_a_second() {
    let first = TestServer::start().await;
    let second = first.start_beside().await;
    let (_, admin_token) = first.login("p").await;
    let names = async |server: &TestServer| crate::listed_names(server, &admin_token, "/api/apikeys").await.0;
    let before = names(&second).await;
    assert!(!before.contains(&"fresh".to_owned()), "{before:?}");

    let fresh = first.mint("p", "fresh").await;
    let (status, _, _) =
        second.send(second.get(&format!("/api/apikeys/{}", fresh.id)).bearer_auth(&admin_token)).await;
    assert_eq!(status, StatusCode::OK, "a key created elsewhere is found by id at once");
    let delay = time_until(async || names(&second).await.contains(&"fresh".to_owned())).await;
    eprintln!("a create listed on the other instance after {delay:?}");
    assert!(delay < std::time::Duration::from_secs(1), "{delay:?}");

    let rename = first
        .put(&format!("/api/apikeys/{}", fresh.id))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({ "name": "renamed" }));
    assert_eq!(first.send(rename).await.0, StatusCode::OK);
    let delay = time_until(async || names(&second).await.contains(&"renamed".to_owned())).await;
    assert!(delay < std::time::Duration::from_secs(1), "rename after {delay:?}");

    let delete = first.delete(&format!("/api/apikeys/{}", fresh.id)).bearer_auth(&admin_token);
    assert_eq!(first.send(delete).await.0, StatusCode::NO_CONTENT);
    let delay = time_until(async || !names(&second).await.contains(&"renamed".to_owned())).await;
    assert!(delay < std::time::Duration::from_secs(1), "delete after {delay:?}");
    let (status, _, _) =
        second.send(second.get(&format!("/api/apikeys/{}", fresh.id)).bearer_auth(&admin_token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
