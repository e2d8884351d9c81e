//! Paging through a profile's keys.

use keyward_tests::{StatusCode, TestServer};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[tokio::test]
async fn pages_cover_every_key_once_in_a_stable_order() {
    let server = TestServer::start().await;
    let (login, token) = server.login("p").await;
    for n in 0..6 {
        server.mint("p", &format!("key {n}")).await;
    }
    // 7 keys, 3 a page: pages 0..=2.
    let server = &server;
    let page = |n: u64| {
        let request =
            server.http.get(server.url(&format!("/api/apikeys?page={n}&size=3"))).bearer_auth(&token);
        async move { server.send(request).await.2 }
    };
    let link = |body: &Value, relation: &str| body["_links"][relation]["href"].as_str().map(str::to_owned);
    let href = |n: u64| server.url(&format!("/api/apikeys?page={n}&size=3"));

    let first = page(0).await;
    assert_eq!(first["page"], json!({ "size": 3, "totalElements": 7, "totalPages": 3, "number": 0 }));
    assert_eq!(link(&first, "first"), Some(href(0)));
    assert_eq!(link(&first, "prev"), None);
    assert_eq!(link(&first, "next"), Some(href(1)));
    assert_eq!(link(&first, "last"), Some(href(2)));

    let middle = page(1).await;
    assert_eq!(link(&middle, "prev"), Some(href(0)));
    assert_eq!(link(&middle, "next"), Some(href(2)));

    let last = page(2).await;
    assert_eq!(link(&last, "next"), None);
    assert_eq!(last["_embedded"]["apikeys"].as_array().unwrap().len(), 1);

    // Following `next` from the first page visits every key exactly once, newest first.
    let mut seen = Vec::new();
    let mut next = Some(href(0));
    while let Some(url) = next {
        let (status, _, body) = server.send(server.http.get(&url).bearer_auth(&token)).await;
        assert_eq!(status, StatusCode::OK);
        for key in body["_embedded"]["apikeys"].as_array().unwrap() {
            seen.push((key["created"].as_str().unwrap().to_owned(), key["id"].as_str().unwrap().to_owned()));
        }
        next = link(&body, "next");
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().map(|(_, id)| id).collect::<BTreeSet<_>>().len(), 7);
    assert!(seen.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {seen:?}");
    assert_eq!(seen.last().unwrap().1, login.id.to_string(), "the oldest key comes last");

    // The same page twice is the same page.
    assert_eq!(page(1).await["_embedded"], middle["_embedded"]);

    // Past the end: an empty page that still reports the totals.
    let beyond = page(9).await;
    assert_eq!(beyond["_embedded"]["apikeys"], json!([]));
    assert_eq!(beyond["page"]["totalElements"], 7);
}

#[tokio::test]
async fn page_size_defaults_to_20_and_is_capped() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let (_, _, body) = server.send(server.http.get(server.url("/api/apikeys")).bearer_auth(&token)).await;
    assert_eq!(body["page"]["size"], 20);
    let (_, _, body) =
        server.send(server.http.get(server.url("/api/apikeys?size=100000")).bearer_auth(&token)).await;
    assert_eq!(body["page"]["size"], 100);
    assert!(body["_links"].get("next").is_none(), "a single page has no navigation links");
    assert!(body["_links"].get("first").is_none());
}
