//! A profile sees and changes only its own keys; another profile's key is a 404.

use crate::assert_error;
use keyward_tests::{StatusCode, TestServer};
use serde_json::json;

#[tokio::test]
async fn two_profiles_cannot_see_each_other() {
    let server = TestServer::start().await;
    let (alice_key, alice) = server.login("auth0|alice").await;
    let (bob_key, bob) = server.login("auth0|bob").await;

    // Each lists only its own.
    for (token, own) in [(&alice, &alice_key), (&bob, &bob_key)] {
        let (_, _, list) = server.send(server.get("/api/apikeys").bearer_auth(token)).await;
        let ids: Vec<&str> = list["_embedded"]["apikeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [own.id.to_string()]);
    }

    // Bob cannot view, rename, create on or delete Alice's key: 404, as if it did not exist.
    let path = format!("/api/apikeys/{}", alice_key.id);
    let (status, _, body) = server.send(server.get(&path).bearer_auth(&bob)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, &path);
    let (status, _, body) =
        server.send(server.put(&path).bearer_auth(&bob).json(&json!({ "name": "stolen" }))).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, &path);
    let (status, _, body) = server.send(server.delete(&path).bearer_auth(&bob)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, &path);

    // Alice's initialised key cannot be created by Bob either.
    let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&alice)).await;
    let pending = format!("/api/apikeys/{}", init["id"].as_str().unwrap());
    let (status, _, body) =
        server.send(server.put(&pending).bearer_auth(&bob).json(&json!({ "name": "mine" }))).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, &pending);

    // Alice's key is untouched and still works.
    let (status, _, viewed) = server.send(server.get(&path).bearer_auth(&alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(viewed["name"].as_str().unwrap().starts_with("login "));
    assert_eq!(viewed["profileId"], "auth0|alice");
}

#[tokio::test]
async fn the_profile_link_resolves_for_its_owner_only() {
    let server = TestServer::start().await;
    let (key, token) = server.login("auth0|5eb0327cbfd7490bff55feeb").await;
    let (_, _, viewed) =
        server.send(server.get(&format!("/api/apikeys/{}", key.id)).bearer_auth(&token)).await;
    let profile_href = viewed["_links"]["profile"]["href"].as_str().unwrap().to_owned();
    assert!(profile_href.ends_with("/api/profiles/auth0%7C5eb0327cbfd7490bff55feeb"), "{profile_href}");

    let (status, _, profile) = server.send(server.http.get(&profile_href).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["id"], "auth0|5eb0327cbfd7490bff55feeb");
    assert_eq!(profile["_links"]["self"]["href"], profile_href.as_str());

    let (_, other) = server.login("auth0|other").await;
    let (status, _, body) = server.send(server.http.get(&profile_href).bearer_auth(&other)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "/api/profiles/auth0%7C5eb0327cbfd7490bff55feeb");
}
