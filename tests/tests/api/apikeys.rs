//! The six documented requests and their response shapes.

use crate::{assert_error, assert_resource_timestamp, keys, listed_names, statuses_of};
use keyward_tests::{StatusCode, TestServer};
use serde_json::json;

const PROFILE: &str = "auth0|5eb0327cbfd7490bff55feeb";
const PROFILE_HREF: &str = "/api/profiles/auth0%7C5eb0327cbfd7490bff55feeb";

#[tokio::test]
async fn initialise_create_view_update_list_delete_as_documented() {
    let server = TestServer::start().await;
    let (_, token) = server.login(PROFILE).await;
    let bearer = format!("Bearer {token}");

    // Initialise: 200, id and the `create apikey` link only.
    let (status, _, initialised) = server
        .send(
            server
                .http
                .post(server.url("/api/apikeys/"))
                .header("Authorization", &bearer)
                .header("Content-Type", "application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&initialised), ["_links", "created", "id", "lastModified", "profileId"]);
    assert_eq!(keys(&initialised["_links"]), ["create apikey"]);
    assert_eq!(initialised["profileId"], PROFILE);
    assert_resource_timestamp(&initialised["created"]);
    let id = initialised["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    let href = server.url(&format!("/api/apikeys/{id}"));
    assert_eq!(initialised["_links"]["create apikey"]["href"], href);

    // An initialised key is not listed yet.
    let (_, _, list) = server.send(server.get("/api/apikeys").header("Authorization", &bearer)).await;
    assert_eq!(list["page"]["totalElements"], 1, "only the login key: {list}");

    // Create: 201 with the client id and the secret, shown this once.
    let name = "SIT-generated api key (2026-01-11T18:58:35.918500330)";
    let (status, headers, created) = server
        .send(server.http.put(&href).header("Authorization", &bearer).json(&json!({ "name": name })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        keys(&created),
        ["_links", "clientId", "clientSecret", "created", "id", "lastModified", "name", "profileId"]
    );
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["name"], name);
    assert_eq!(headers["cache-control"], "no-store");
    let client_id = created["clientId"].as_str().unwrap().to_owned();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 32);
    assert!(client_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(secret.len() >= 43, "at least 256 bits in base62");
    assert_eq!(keys(&created["_links"]), ["delete apikey", "profile", "self", "update apikey"]);
    for relation in ["self", "update apikey", "delete apikey"] {
        assert_eq!(created["_links"][relation]["href"], href);
    }
    assert_eq!(created["_links"]["profile"]["href"], server.url(PROFILE_HREF));

    // View: the same key, without the secret.
    let (status, _, viewed) = server.send(server.http.get(&href).header("Authorization", &bearer)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&viewed), ["_links", "clientId", "created", "id", "lastModified", "name", "profileId"]);
    assert_eq!(viewed["clientId"], client_id.as_str());
    assert_eq!(viewed["created"], created["created"]);
    assert_resource_timestamp(&viewed["lastModified"]);

    // The new credentials work.
    let own_token = server.token(&client_id, &secret).await;
    let (status, _, _) =
        server.send(server.http.get(&href).header("Authorization", format!("Bearer {own_token}"))).await;
    assert_eq!(status, StatusCode::OK);

    // Update: 200, renamed, same client id, later lastModified, no secret.
    let renamed = format!("{name} (updated)");
    let (status, _, updated) = server
        .send(server.http.put(&href).header("Authorization", &bearer).json(&json!({ "name": renamed })))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], renamed.as_str());
    assert_eq!(updated["clientId"], client_id.as_str());
    assert_eq!(updated["created"], created["created"]);
    assert!(updated.get("clientSecret").is_none());
    assert!(updated["lastModified"].as_str().unwrap() > created["lastModified"].as_str().unwrap());

    // List: HAL collection with the page object.
    let (status, _, list) = server.send(server.get("/api/apikeys/").header("Authorization", &bearer)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&list), ["_embedded", "_links", "page"]);
    assert_eq!(list["page"], json!({ "size": 20, "totalElements": 2, "totalPages": 1, "number": 0 }));
    assert_eq!(list["_links"], json!({ "self": { "href": server.url("/api/apikeys/?page=0&size=20") } }));
    let listed = list["_embedded"]["apikeys"].as_array().unwrap();
    assert_eq!(listed[0]["id"], id.as_str(), "newest first");
    assert!(listed.iter().all(|key| key.get("clientSecret").is_none()));

    // Delete: 204, no body; then it is gone.
    let (status, _, body) = server.send(server.http.delete(&href).header("Authorization", &bearer)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_null(), "no body");
    let (status, _, body) = server.send(server.http.get(&href).header("Authorization", &bearer)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, &format!("/api/apikeys/{id}"));
}

#[tokio::test]
async fn both_collection_paths_work() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for path in ["/api/apikeys", "/api/apikeys/"] {
        let (status, _, body) = server.send(server.get(path).bearer_auth(&token)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body["page"]["totalElements"], 1);
        let (status, _, body) = server.send(server.post(path).bearer_auth(&token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

#[tokio::test]
async fn names_are_trimmed_bounded_and_unique_per_profile() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let (_, other_token) = server.login("q").await;

    let create = |token: &str, name: serde_json::Value| {
        let token = token.to_owned();
        let server = &server;
        async move {
            let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
            let path = format!("/api/apikeys/{}", init["id"].as_str().unwrap());
            let (status, _, body) =
                server.send(server.put(&path).bearer_auth(&token).json(&json!({ "name": name }))).await;
            (status, body, path)
        }
    };

    let (status, body, _) = create(&token, json!("  padded  ")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["name"], "padded");

    let (status, body, path) = create(&token, json!("padded")).await;
    assert_error(status, &body, StatusCode::CONFLICT, &path);

    // The same name in another profile is fine.
    let (status, _, _) = create(&other_token, json!("padded")).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, _, _) = create(&token, json!("x".repeat(255))).await;
    assert_eq!(status, StatusCode::CREATED);
    for bad in [json!("x".repeat(256)), json!("   "), json!(null), json!(42)] {
        let (status, body, path) = create(&token, bad.clone()).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, &path);
    }

    // Renaming onto a taken name is a conflict too, and changes nothing.
    let (_, _, list) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    let key = list["_embedded"]["apikeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] != "padded")
        .unwrap()
        .clone();
    let path = format!("/api/apikeys/{}", key["id"].as_str().unwrap());
    let (status, body) = {
        let (s, _, b) =
            server.send(server.put(&path).bearer_auth(&token).json(&json!({ "name": "padded" }))).await;
        (s, b)
    };
    assert_error(status, &body, StatusCode::CONFLICT, &path);
    let (_, _, unchanged) = server.send(server.get(&path).bearer_auth(&token)).await;
    assert_eq!(unchanged["name"], key["name"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_one_name_yield_one_key() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
        ids.push(init["id"].as_str().unwrap().to_owned());
    }
    let requests = ids.iter().map(|id| {
        server
            .http
            .put(server.url(&format!("/api/apikeys/{id}")))
            .bearer_auth(&token)
            .json(&json!({ "name": "same" }))
    });
    let statuses = statuses_of(&server, requests).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn initialised_keys_are_purged_after_a_day() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
    let path = format!("/api/apikeys/{}", init["id"].as_str().unwrap());

    let purged = server.state.keys.purge_initialised(chrono::Utc::now()).await.unwrap();
    assert_eq!(purged, 0, "a fresh initialised key stays");
    let later = chrono::Utc::now() + chrono::TimeDelta::hours(25);
    let purged = server.state.keys.purge_initialised(later).await.unwrap();
    assert_eq!(purged, 1, "only the initialised key goes; created keys stay");

    let (status, body) = {
        let (s, _, b) =
            server.send(server.put(&path).bearer_auth(&token).json(&json!({ "name": "late" }))).await;
        (s, b)
    };
    assert_error(status, &body, StatusCode::NOT_FOUND, &path);
    let (_, _, list) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(list["page"]["totalElements"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_on_one_initialised_key_create_it_once() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for _ in 0..5 {
        let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
        let path = format!("/api/apikeys/{}", init["id"].as_str().unwrap());
        let requests = (0..2).map(|n| {
            server
                .http
                .put(server.url(&path))
                .bearer_auth(&token)
                .json(&json!({ "name": format!("race {path} {n}") }))
        });
        let mut statuses = statuses_of(&server, requests).await;
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED], "one creates, the other renames");
    }
}

/// Lists are answered from memory, down to the bytes of a page: each change through this
/// instance shows in the very next list, in every page variant asked before it.
#[tokio::test]
async fn the_next_list_after_a_change_shows_it() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let names = async |path: &str| listed_names(&server, &token, path).await;
    let paths = ["/api/apikeys", "/api/apikeys/", "/api/apikeys?page=0&size=1", "/api/apikeys?size=5"];
    for path in paths {
        names(path).await;
    }
    let key = server.mint("p", "fresh").await;
    for path in paths {
        assert!(names(path).await.1 == json!(2), "{path}: the create is counted at once");
    }
    assert!(names("/api/apikeys").await.0.contains(&"fresh".to_owned()));
    let rename = server
        .put(&format!("/api/apikeys/{}", key.id))
        .bearer_auth(&token)
        .json(&json!({ "name": "renamed" }));
    assert_eq!(server.send(rename).await.0, StatusCode::OK);
    assert!(names("/api/apikeys").await.0.contains(&"renamed".to_owned()), "the rename shows at once");
    let delete = server.delete(&format!("/api/apikeys/{}", key.id)).bearer_auth(&token);
    assert_eq!(server.send(delete).await.0, StatusCode::NO_CONTENT);
    for path in paths {
        let (names, total) = names(path).await;
        assert!(
            !names.contains(&"renamed".to_owned()) && total == json!(1),
            "{path}: the delete shows at once"
        );
    }
}
