//! Compression: answers of 1 KiB and more go gzip- or brotli-compressed to clients that ask, and
//! read back the same; small answers, writes and the large static files of `/docs` go as they are.

use keyward_tests::{StatusCode, TestServer};
use reqwest::header::HeaderMap;
use serde_json::json;
use std::io::Read;

/// Sends `request` as it is and returns the status, headers and the body's bytes as they came.
async fn raw(server: &TestServer, request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = server.http.execute(request.build().unwrap()).await.unwrap();
    (response.status(), response.headers().clone(), response.bytes().await.unwrap().to_vec())
}

fn decoded(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(bytes).read_to_end(&mut decoded),
        "br" => brotli_decompressor::Decompressor::new(bytes, 4096).read_to_end(&mut decoded),
        other => panic!("{other}"),
    }
    .expect("decodes");
    decoded
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn large_answers_go_compressed_to_clients_that_ask_and_read_back_the_same() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for n in 0..8 {
        server.mint("p", &format!("key {n}")).await;
    }
    for path in ["/api/apikeys", "/openapi.json", "/api/v1/keys/list"] {
        let get = || server.get(path).bearer_auth(&token);
        let (status, headers, plain) = raw(&server, get()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, "content-encoding"), None, "{path}: not asked");
        assert!(plain.len() >= 1024, "{path}: {} bytes", plain.len());
        for (asked, expected) in
            [("gzip", "gzip"), ("br", "br"), ("gzip;q=0.5, br", "br"), ("br;q=0, gzip", "gzip")]
        {
            let (status, headers, body) = raw(&server, get().header("Accept-Encoding", asked)).await;
            assert_eq!(status, StatusCode::OK, "{path} {asked}");
            assert_eq!(header(&headers, "content-encoding"), Some(expected), "{path} {asked}");
            let mut vary = headers.get_all("vary").iter().map(|vary| vary.to_str().unwrap());
            assert!(vary.any(|vary| vary.contains("accept-encoding")), "{path}");
            assert!(body.len() < plain.len() / 2, "{path} {asked}: {} of {} bytes", body.len(), plain.len());
            assert_eq!(decoded(expected, &body), plain, "{path} {asked}");
        }
    }
}

#[tokio::test]
async fn small_answers_writes_and_the_large_static_files_go_as_they_are() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let (status, headers, body) =
        raw(&server, server.get("/.well-known/oauth-authorization-server").header("Accept-Encoding", "gzip"))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.len() < 1024);
    assert_eq!(header(&headers, "content-encoding"), None, "under 1 KiB");

    // Writes: a client that refuses an answer as it is still learns that its key was made.
    for accept_encoding in ["gzip, br", "identity;q=0", "*;q=0"] {
        let (_, _, initialised) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
        let path = format!("/api/apikeys/{}", initialised["id"].as_str().unwrap());
        let put = server
            .put(&path)
            .bearer_auth(&token)
            .header("Accept-Encoding", accept_encoding)
            .json(&json!({ "name": accept_encoding }));
        let (status, headers, _) = raw(&server, put).await;
        assert_eq!(status, StatusCode::CREATED, "{accept_encoding}");
        assert_eq!(header(&headers, "content-encoding"), None, "{accept_encoding}");
    }

    // Swagger UI's 1.5 MB bundle would cost more to compress on every request than a flood of
    // them should.
    let (status, headers, body) =
        raw(&server, server.get("/docs/swagger-ui-bundle.js").header("Accept-Encoding", "gzip")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.len() > 256 * 1024);
    assert_eq!(header(&headers, "content-encoding"), None);
}
