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
