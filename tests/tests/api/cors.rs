//! CORS: scripts of the origins in `KEYWARD_CORS_ORIGINS` may call the API from a browser and read
//! its answers; any other origin, and every origin when none is listed, gets no CORS header.

use keyward_tests::{StatusCode, TestServer};
use reqwest::header::HeaderMap;
use serde_json::json;

const APP: &str = "https://app.example.com";

async fn listing(origins: &str) -> TestServer {
    let origins = origins.parse().expect("origins");
    TestServer::start_with(|settings| settings.cors.cors_origins = origins).await
}

/// A browser's preflight from `origin` for `method` on `path`, with the headers a script sets.
async fn preflight(server: &TestServer, method: &str, path: &str, origin: &str) -> (StatusCode, HeaderMap) {
    let response = server
        .http
        .request(reqwest::Method::OPTIONS, server.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "authorization,content-type")
        .send()
        .await
        .expect("preflight");
    (response.status(), response.headers().clone())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map_or("", |value| value.to_str().unwrap())
}

/// The comma-separated names of a header, in lower case.
fn names(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name).split(',').map(|item| item.trim().to_ascii_lowercase()).collect()
}

fn no_cors_headers(headers: &HeaderMap) -> bool {
    headers.keys().all(|name| !name.as_str().starts_with("access-control-"))
}

#[tokio::test]
async fn a_listed_origin_may_call_every_route_with_a_token_and_read_the_answer() {
    let server = listing("https://app.example.com, http://localhost:3000").await;
    let (_, token) = server.login("p").await;
    let routes = [
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/oauth/token"),
        // Behind the in-flight bound and the dialects' error layers.
        ("GET", "/api/apikeys"),
        ("POST", "/api/apikeys"),
        ("PUT", "/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e"),
        ("DELETE", "/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e"),
        ("POST", "/api/v1/keys/create"),
        ("DELETE", "/api/v1/keys/some-name/delete"),
    ];
    for (method, path) in routes {
        let (status, headers) = preflight(&server, method, path, APP).await;
        assert!(status == StatusCode::OK || status == StatusCode::NO_CONTENT, "{method} {path}: {status}");
        assert_eq!(header(&headers, "access-control-allow-origin"), APP, "{method} {path}");
        assert!(names(&headers, "access-control-allow-methods").contains(&method.to_ascii_lowercase()));
        let allowed = names(&headers, "access-control-allow-headers");
        assert!(allowed.contains(&"authorization".into()) && allowed.contains(&"content-type".into()));
        assert!(!headers.contains_key("access-control-allow-credentials"), "never with credentials");
        assert!(names(&headers, "vary").contains(&"origin".into()), "{method} {path}");
    }
    let (_, headers) = preflight(&server, "GET", "/api/apikeys", "http://localhost:3000").await;
    assert_eq!(header(&headers, "access-control-allow-origin"), "http://localhost:3000");

    // The answers themselves, errors included, are readable, with the headers a script needs.
    let (status, headers, _) =
        server.send(server.get("/api/apikeys").bearer_auth(&token).header("Origin", APP)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "access-control-allow-origin"), APP);
    let exposed = names(&headers, "access-control-expose-headers");
    for name in ["x-request-id", "location", "retry-after", "www-authenticate", "etag"] {
        assert!(exposed.contains(&name.to_owned()), "{name} is not exposed: {exposed:?}");
    }
    let (status, headers, _) = server.send(server.post("/api/v1/keys/list").header("Origin", APP)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&headers, "access-control-allow-origin"), APP, "an error is readable too");
    let (status, headers, _) = server.send(server.get("/api/apikeys").header("Origin", APP)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&headers, "access-control-allow-origin"), APP);
    let (_, _, initialised) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
    let path = format!("/api/apikeys/{}", initialised["id"].as_str().unwrap());
    let (status, headers, _) = server
        .send(server.put(&path).bearer_auth(&token).header("Origin", APP).json(&json!({ "name": "web" })))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(header(&headers, "access-control-allow-origin"), APP);
    assert!(headers.contains_key("location"));
}

#[tokio::test]
async fn an_origin_not_listed_gets_no_access_control_allow_origin() {
    let server = listing(APP).await;
    let (_, headers) = preflight(&server, "GET", "/api/apikeys", APP).await;
    assert_eq!(header(&headers, "access-control-allow-origin"), APP, "the listed origin may");
    for origin in
        ["https://evil.example", "http://app.example.com", "https://app.example.com.evil.example", "null"]
    {
        let (_, headers) = preflight(&server, "GET", "/api/apikeys", origin).await;
        assert!(!headers.contains_key("access-control-allow-origin"), "{origin}: {headers:?}");
        let (_, headers, _) =
            server.send(server.get("/.well-known/jwks.json").header("Origin", origin)).await;
        assert!(!headers.contains_key("access-control-allow-origin"), "{origin}: {headers:?}");
    }
}

#[tokio::test]
async fn without_origins_there_are_no_cors_headers() {
    let server = TestServer::start().await;
    let (status, headers) = preflight(&server, "GET", "/.well-known/jwks.json", APP).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "no preflight is answered");
    assert!(no_cors_headers(&headers), "{headers:?}");
    let (status, headers, _) = server.send(server.get("/.well-known/jwks.json").header("Origin", APP)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(no_cors_headers(&headers), "{headers:?}");
}

#[tokio::test]
async fn a_star_lets_any_origin_read_without_credentials() {
    let server = listing("*").await;
    let (status, headers) = preflight(&server, "POST", "/oauth/token", "https://anywhere.example").await;
    assert!(status.is_success(), "{status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    assert!(!headers.contains_key("access-control-allow-credentials"));
    let (_, headers, _) =
        server.send(server.get("/.well-known/jwks.json").header("Origin", "https://anywhere.example")).await;
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
}
