//! Strong ETags on the documents clients keep (the JWKS, the OpenAPI document): asked again with
//! `If-None-Match`, an unchanged one is a 304 without its body.

use keyward_tests::{StatusCode, TestServer};
use reqwest::header::HeaderMap;

const DOCUMENTS: [&str; 2] = ["/.well-known/jwks.json", "/openapi.json"];

async fn raw(server: &TestServer, request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = server.http.execute(request.build().unwrap()).await.unwrap();
    (response.status(), response.headers().clone(), response.bytes().await.unwrap().to_vec())
}

fn etag(headers: &HeaderMap) -> String {
    headers.get("etag").expect("an ETag").to_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_unchanged_document_is_a_304_without_its_body() {
    let server = TestServer::start().await;
    for path in DOCUMENTS {
        let (status, headers, body) = raw(&server, server.get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let tag = etag(&headers);
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() > 20, "a strong tag: {tag}");
        let (_, again, same) = raw(&server, server.get(path)).await;
        assert_eq!((etag(&again), same), (tag.clone(), body.clone()), "{path}: the same bytes, the same tag");

        let weak = format!("W/{tag}");
        let listed = format!("\"other\", {tag}");
        for if_none_match in [tag.as_str(), weak.as_str(), listed.as_str(), "*"] {
            let (status, not_modified, empty) =
                raw(&server, server.get(path).header("If-None-Match", if_none_match)).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{path} {if_none_match}");
            assert!(empty.is_empty(), "{path}: no body");
            assert_eq!(etag(&not_modified), tag);
            assert_eq!(not_modified.get("cache-control"), headers.get("cache-control"), "{path}");
        }
        let (status, _, full) = raw(&server, server.get(path).header("If-None-Match", "\"other\"")).await;
        assert_eq!((status, full), (StatusCode::OK, body), "{path}: another tag is another document");
    }
    // Through the document check, as clients of the published document see it.
    let (status, _, _) = server.send(server.get(DOCUMENTS[0])).await;
    assert_eq!(status, StatusCode::OK);
}

/// A tag names one representation: the gzip-compressed document has a tag of its own, so that a
/// cache never takes one encoding's bytes for the other's.
#[tokio::test]
async fn each_encoding_has_its_own_tag() {
    let server = TestServer::start().await;
    let path = "/openapi.json";
    let (_, plain, _) = raw(&server, server.get(path)).await;
    let gzip = || server.get(path).header("Accept-Encoding", "gzip");
    let (status, compressed, _) = raw(&server, gzip()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(compressed["content-encoding"], "gzip");
    assert_ne!(etag(&compressed), etag(&plain));
    let (status, _, _) = raw(&server, gzip().header("If-None-Match", etag(&plain))).await;
    assert_eq!(status, StatusCode::OK, "the plain document's tag is not the compressed one's");
    let (status, _, body) = raw(&server, gzip().header("If-None-Match", etag(&compressed))).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
}

#[tokio::test]
async fn a_rotation_changes_the_keys_tag() {
    let server = TestServer::start().await;
    let (_, before, _) = raw(&server, server.get(DOCUMENTS[0])).await;
    server.state.tokens.rotate(server.state.store.as_ref()).await.unwrap();
    let (status, after, _) =
        raw(&server, server.get(DOCUMENTS[0]).header("If-None-Match", etag(&before))).await;
    assert_eq!(status, StatusCode::OK, "the new key is published");
    assert_ne!(etag(&after), etag(&before));
}
