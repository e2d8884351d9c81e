//! HAL resources come as `application/hal+json` to clients that ask for it, and as
//! `application/json` to every other, as the documents' clients expect.

use keyward_tests::{StatusCode, TestServer};
use reqwest::header::HeaderMap;
use serde_json::json;

fn content_type(headers: &HeaderMap) -> &str {
    headers["content-type"].to_str().unwrap()
}

fn varies_by_accept(headers: &HeaderMap) -> bool {
    headers.get_all("vary").iter().any(|vary| vary.to_str().unwrap().to_ascii_lowercase().contains("accept"))
}

#[tokio::test]
async fn hal_resources_are_hal_json_to_clients_that_ask() {
    let server = TestServer::start().await;
    let (key, token) = server.login("p").await;
    let as_hal = |request: reqwest::RequestBuilder| {
        request.bearer_auth(&token).header("Accept", "application/hal+json")
    };

    let (status, headers, initialised) = server.send(as_hal(server.post("/api/apikeys"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), "application/hal+json");
    let path = format!("/api/apikeys/{}", initialised["id"].as_str().unwrap());
    let (status, headers, _) = server.send(as_hal(server.put(&path)).json(&json!({ "name": "made" }))).await;
    assert_eq!((status, content_type(&headers)), (StatusCode::CREATED, "application/hal+json"));
    let (status, headers, _) =
        server.send(as_hal(server.put(&path)).json(&json!({ "name": "renamed" }))).await;
    assert_eq!((status, content_type(&headers)), (StatusCode::OK, "application/hal+json"));
    let key_path = format!("/api/apikeys/{}", key.id);
    for path in
        ["/api/apikeys", "/api/apikeys/", "/api/apikeys?cursor=", key_path.as_str(), "/api/profiles/p"]
    {
        let (status, headers, hal) = server.send(as_hal(server.get(path))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {hal}");
        assert_eq!(content_type(&headers), "application/hal+json", "{path}");
        assert!(varies_by_accept(&headers), "{path}");
        let (_, headers, plain) = server.send(server.get(path).bearer_auth(&token)).await;
        assert_eq!(content_type(&headers), "application/json", "{path}");
        assert_eq!(hal, plain, "{path}: the same body");
    }
    // An error is no HAL resource.
    let (status, headers, _) = server.send(as_hal(server.get("/api/apikeys/not-a-key"))).await;
    assert_eq!((status, content_type(&headers)), (StatusCode::NOT_FOUND, "application/json"));
}

#[tokio::test]
async fn other_clients_get_json_as_documented() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/*"),
        Some("application/json, application/hal+json;q=0.5"),
        Some("application/hal+json;q=0, */*"),
        Some("text/html, application/xhtml+xml, */*;q=0.8"),
    ] {
        let mut request = server.get("/api/apikeys").bearer_auth(&token);
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let (status, headers, _) = server.send(request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type(&headers), "application/json", "{accept:?}");
    }
    for accept in ["application/hal+json, application/json", "application/json;q=0.9, application/hal+json"] {
        let request = server.get("/api/apikeys").bearer_auth(&token).header("Accept", accept);
        let (_, headers, _) = server.send(request).await;
        assert_eq!(content_type(&headers), "application/hal+json", "{accept}");
    }
}
