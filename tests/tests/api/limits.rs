//! The per-profile key limit.

use crate::{assert_error, statuses_of};
use keyward_tests::{StatusCode, TestServer};
use serde_json::json;

#[tokio::test]
async fn creating_beyond_the_limit_is_403_with_the_documented_message() {
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 3).await;
    let (_, token) = server.login("p").await;
    server.mint("p", "two").await;
    server.mint("p", "three").await;

    // Initialising is still allowed: initialised keys do not count.
    let (status, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/api/apikeys/{}", init["id"].as_str().unwrap());
    let (status, _, body) =
        server.send(server.put(&path).bearer_auth(&token).json(&json!({ "name": "four" }))).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, &path);
    assert_eq!(body["message"], "You reached the limit of entities of this type for this tenant.");

    // Another profile has its own allowance.
    let (_, other) = server.login("q").await;
    let (status, _, _) = server.send(server.post("/api/apikeys").bearer_auth(&other)).await;
    assert_eq!(status, StatusCode::OK);

    // Deleting one makes room; the initialised key can then be created.
    let (_, _, list) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    let victim =
        list["_embedded"]["apikeys"].as_array().unwrap().iter().find(|k| k["name"] == "two").unwrap().clone();
    let (status, _, _) = server
        .send(
            server
                .http
                .delete(server.url(&format!("/api/apikeys/{}", victim["id"].as_str().unwrap())))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) =
        server.send(server.put(&path).bearer_auth(&token).json(&json!({ "name": "four" }))).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_limit_holds_under_concurrent_creates() {
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 5).await;
    let (_, token) = server.login("p").await;
    let mut paths = Vec::new();
    for _ in 0..5 {
        let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
        paths.push(format!("/api/apikeys/{}", init["id"].as_str().unwrap()));
    }
    // One key exists; five concurrent creates race for the four places left.
    let requests = paths
        .iter()
        .enumerate()
        .map(|(n, path)| server.put(path).bearer_auth(&token).json(&json!({ "name": format!("racer {n}") })));
    let statuses = statuses_of(&server, requests).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 4, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::FORBIDDEN).count(), 1, "{statuses:?}");
    let (_, _, list) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(list["page"]["totalElements"], 5);
}

#[tokio::test]
async fn initialised_keys_cannot_pile_up() {
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 2).await;
    let (_, token) = server.login("p").await;
    for _ in 0..2 {
        let (status, _, _) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _, body) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "/api/apikeys");
}
