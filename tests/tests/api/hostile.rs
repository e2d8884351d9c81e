//! Hostile bytes in every part of a request: invalid UTF-8 and NUL in paths, headers, names and
//! bodies, a name of a megabyte, ten thousand headers. Each is a clear 4xx (in the route's shape
//! wherever a route is reached) and the server carries on unchanged.

use crate::assert_error;
use keyward_tests::{StatusCode, TestServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes on a new connection and returns the status line's code and the body.
async fn raw(server: &TestServer, request: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.settings.bind).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let code = answer.get(9..12).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (code, body)
}

#[tokio::test]
async fn hostile_bytes_anywhere_are_a_clear_4xx_and_change_nothing() {
    let server = TestServer::start().await;
    let admin = server.mint("p", "admin").await;
    let list = || server.get("/api/v1/keys/list").header("Authorization", &admin.api_key);
    let (_, _, before) = server.send(list()).await;

    // Paths: percent-encoded invalid UTF-8 and NUL reach the routes, which answer in their shape.
    let path = "/api/apikeys/%FF%FE";
    let (status, _, body) = server.send(server.get(path).header("Authorization", &admin.api_key)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "/api/apikeys/%FF%FE");
    for name in ["a%00b", "%FF%FE", "%C0%80"] {
        let (status, _, body) = server
            .send(
                server
                    .http
                    .delete(server.url(&format!("/api/v1/keys/{name}/delete")))
                    .header("Authorization", &admin.api_key),
            )
            .await;
        assert!(status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST, "{name}: {status}");
        assert!(body.is_string(), "the key API's shape: {body}");
    }

    // Headers: an Authorization that is not UTF-8 is refused like any bad credential.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap());
    let (status, _, body) = server.send(server.get("/api/apikeys").headers(headers)).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "/api/apikeys");

    // Names and bodies.
    let create = |body: Vec<u8>| {
        server
            .http
            .post(server.url("/api/v1/keys/create"))
            .header("Authorization", &admin.api_key)
            .header("Content-Type", "application/json")
            .body(body)
    };
    for (body, expected) in [
        (json!({ "name": "nul\u{0}inside" }).to_string().into_bytes(), StatusCode::BAD_REQUEST),
        (b"{\"name\": \"\xff\xfe\"}".to_vec(), StatusCode::BAD_REQUEST),
        (json!({ "name": "x".repeat(1 << 20) }).to_string().into_bytes(), StatusCode::PAYLOAD_TOO_LARGE),
        (
            format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            format!("{{\"name\": {}\"x\"{}}}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, _, said): (StatusCode, _, Value) = server.send(create(body)).await;
        assert_eq!(status, expected, "{said}");
        assert!(said.is_string(), "the key API's shape: {said}");
    }
    let form = server
        .http
        .post(server.url("/api/v1/keys/create"))
        .header("Authorization", &admin.api_key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"name=%FF%FE&keyFor=GENERIC".to_vec());
    let (status, _, said) = server.send(form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{said}");

    // What hyper refuses before any route: raw bytes in the request line, NUL in a header,
    // ten thousand headers. A 4xx and a closed connection, and nothing else changes.
    let (code, _) = raw(&server, b"GET /api/apikeys/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!((400..500).contains(&code), "raw bytes in the path: {code}");
    let (code, _) = raw(&server, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n").await;
    assert!((400..500).contains(&code), "NUL in a header: {code}");
    let mut many = b"GET /health/live HTTP/1.1\r\nHost: x\r\n".to_vec();
    for n in 0..10_000 {
        many.extend_from_slice(format!("X-H{n}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let (code, _) = raw(&server, &many).await;
    assert!((400..500).contains(&code), "ten thousand headers: {code}");

    // The server is unaffected: it serves, and nothing was made or lost.
    let (status, _, after) = server.send(list()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before);
}
