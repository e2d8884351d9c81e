//! Every error of the HAL API is a Spring-style JSON body with the right status.

use crate::{assert_error, keys};
use keyward_tests::{StatusCode, TestServer};
use serde_json::json;

#[tokio::test]
async fn missing_and_bad_credentials_are_401_with_a_challenge() {
    let server = TestServer::start().await;
    let (status, headers, body) = server.send(server.get("/api/apikeys")).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "/api/apikeys");
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));

    for header in
        ["Bearer not-a-token", "garbage", "Bearer", "Basic !!!", "Bearer a.b.c", "Basic Zm9vOmJhcg=="]
    {
        let (status, headers, body) =
            server.send(server.get("/api/apikeys").header("Authorization", header)).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "/api/apikeys");
        assert!(headers["www-authenticate"].to_str().unwrap().contains("invalid_token"), "{header}");
    }
}

/// The schemes a 401 offers: one challenge to each `WWW-Authenticate` field.
fn schemes(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let values = headers.get_all("www-authenticate").iter();
    values.map(|value| value.to_str().unwrap().split(' ').next().unwrap().to_owned()).collect()
}

/// A client learns from a 401 every scheme it may answer with: routes that take a key's client id
/// and secret in HTTP Basic say so beside Bearer; the token endpoint, which takes no bearer
/// value, offers Basic alone.
#[tokio::test]
async fn a_401_offers_every_scheme_its_route_accepts() {
    let server = TestServer::start().await;
    let key = server.mint("p", "k").await;
    for path in ["/api/apikeys", "/api/profiles/p", "/api/v1/keys/list"] {
        let (status, _, body) =
            server.send(server.get(path).basic_auth(&key.client_id, Some(&key.secret))).await;
        assert_eq!(status, StatusCode::OK, "{path} takes Basic: {body}");
        for authorization in [None, Some("Bearer not-a-token"), Some("Basic Zm9vOmJhcg==")] {
            let mut request = server.get(path);
            if let Some(authorization) = authorization {
                request = request.header("Authorization", authorization);
            }
            let (status, headers, _) = server.send(request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {authorization:?}");
            assert_eq!(schemes(&headers), ["Bearer", "Basic"], "{path} {authorization:?}");
            let basic = headers.get_all("www-authenticate").iter().nth(1).unwrap();
            assert_eq!(basic, r#"Basic realm="keyward""#);
        }
    }
    let (status, headers, _) =
        server.send(server.post("/oauth/token").form(&[("grant_type", "client_credentials")])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(schemes(&headers), ["Basic"], "a bearer value is no client");
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    let server = TestServer::start().await;
    let other = TestServer::start().await;
    let (_, foreign) = other.login("p").await;
    let (status, _, body) = server.send(server.get("/api/apikeys").bearer_auth(&foreign)).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "/api/apikeys");
}

#[tokio::test]
async fn unknown_ids_routes_and_methods() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for path in ["/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e", "/api/apikeys/not-a-uuid"] {
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let (status, _, body) =
                server.send(server.http.request(method, server.url(path)).bearer_auth(&token)).await;
            assert_error(status, &body, StatusCode::NOT_FOUND, path);
        }
        let (status, _, body) =
            server.send(server.put(path).bearer_auth(&token).json(&json!({ "name": "x" }))).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, path);
    }
    let (status, _, body) = server.send(server.get("/api/nothing").bearer_auth(&token)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "/api/nothing");

    // A path segment that is not UTF-8 names nothing either.
    for path in ["/api/apikeys/%FF", "/api/profiles/%FF%FE"] {
        let (status, _, body) = server.send(server.get(path).bearer_auth(&token)).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, path);
    }
    // Under the key API, the same answers come as that API's JSON strings.
    for (method, path, expected) in [
        (reqwest::Method::DELETE, "/api/v1/keys/%FF/delete", StatusCode::NOT_FOUND),
        (reqwest::Method::GET, "/api/v1/keys/nothing", StatusCode::NOT_FOUND),
        (reqwest::Method::PATCH, "/api/v1/keys/list", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let (status, _, body) =
            server.send(server.http.request(method, server.url(path)).bearer_auth(&token)).await;
        assert_eq!(status, expected, "{path}");
        assert!(body.is_string(), "{path}: {body}");
    }

    let (status, headers, body) =
        server.send(server.http.patch(server.url("/api/apikeys")).bearer_auth(&token)).await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "/api/apikeys");
    assert!(headers.contains_key("allow"));
}

#[tokio::test]
async fn bad_bodies_are_4xx_and_change_nothing() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
    let path = format!("/api/apikeys/{}", init["id"].as_str().unwrap());
    let (status, _, created) =
        server.send(server.put(&path).bearer_auth(&token).json(&json!({ "name": "kept" }))).await;
    assert_eq!(status, StatusCode::CREATED);

    let put = |content_type: &str, body: Vec<u8>| {
        server.put(&path).bearer_auth(&token).header("Content-Type", content_type).body(body)
    };
    let cases = [
        (put("application/json", b"{\"name\":".to_vec()), StatusCode::BAD_REQUEST),
        (put("application/json", b"[1,2]".to_vec()), StatusCode::BAD_REQUEST),
        // serde would read `["renamed"]` as `{"name": "renamed"}`: only an object is a body.
        (put("application/json", b"[\"renamed\"]".to_vec()), StatusCode::BAD_REQUEST),
        (put("application/json", b"\"renamed\"".to_vec()), StatusCode::BAD_REQUEST),
        (
            put("application/json", format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes()),
            StatusCode::BAD_REQUEST,
        ),
        (
            put(
                "application/json",
                format!("{{\"name\": {}1{}}}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (put("application/json", b"{\"name\": {\"a\": 1}}".to_vec()), StatusCode::BAD_REQUEST),
        (put("application/json", vec![0xff, 0xfe, 0x00]), StatusCode::BAD_REQUEST),
        (put("application/x-www-form-urlencoded", b"name=".to_vec()), StatusCode::BAD_REQUEST),
        (put("text/plain", b"name=x".to_vec()), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (put("application/xml", b"<name>x</name>".to_vec()), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (put("application/json", vec![b' '; 64 * 1024 + 1]), StatusCode::PAYLOAD_TOO_LARGE),
        (put("application/json", b"{}".to_vec()), StatusCode::BAD_REQUEST),
    ];
    for (request, expected) in cases {
        let (status, _, body) = server.send(request).await;
        assert_error(status, &body, expected, &path);
    }
    // A body on a request that reads none is bounded too.
    let (status, _, body) =
        server.send(server.post("/api/apikeys").bearer_auth(&token).body(vec![b'x'; 200 * 1024])).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "/api/apikeys");

    let (status, _, bad_page) = server.send(server.get("/api/apikeys?page=-1").bearer_auth(&token)).await;
    assert_error(status, &bad_page, StatusCode::BAD_REQUEST, "/api/apikeys");
    let (status, _, bad_size) = server.send(server.get("/api/apikeys?size=abc").bearer_auth(&token)).await;
    assert_error(status, &bad_size, StatusCode::BAD_REQUEST, "/api/apikeys");

    let (_, _, after) = server.send(server.get(&path).bearer_auth(&token)).await;
    assert_eq!(after["name"], "kept");
    assert_eq!(after["lastModified"], created["lastModified"]);
    assert_eq!(keys(&after), ["_links", "clientId", "created", "id", "lastModified", "name", "profileId"]);
}
