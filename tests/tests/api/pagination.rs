//! Paging through a profile's keys.

use crate::assert_error;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_model::KeyType;
use keyward_tests::{StatusCode, TestServer};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

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
        let request = server.get(&format!("/api/apikeys?page={n}&size=3")).bearer_auth(&token);
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
async fn page_size_defaults_to_20_and_is_at_most_100() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    let (_, _, body) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(body["page"]["size"], 20);
    let (_, _, body) = server.send(server.get("/api/apikeys?size=100").bearer_auth(&token)).await;
    assert_eq!(body["page"]["size"], 100);
    assert!(body["_links"].get("next").is_none(), "a single page has no navigation links");
    assert!(body["_links"].get("first").is_none());
    // Beyond the documented maximum, a refusal rather than a silently smaller page.
    for size in ["101", "100000", "2147483648", "4294967295"] {
        for query in [format!("size={size}"), format!("size={size}&cursor=")] {
            let request = server.get(&format!("/api/apikeys?{query}")).bearer_auth(&token);
            let (status, _, body) = server.send(request).await;
            assert_error(status, &body, StatusCode::BAD_REQUEST, "/api/apikeys");
        }
    }
}

fn link(body: &Value, relation: &str) -> Option<String> {
    body["_links"][relation]["href"].as_str().map(str::to_owned)
}

fn ids(body: &Value) -> Vec<String> {
    body["_embedded"]["apikeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The page at `url`, which must be a 200.
async fn get(server: &TestServer, token: &str, url: &str) -> Value {
    let (status, _, body) = server.send(server.http.get(url).bearer_auth(token)).await;
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    body
}

/// Every key of the profile in the listing order, from one offset page.
async fn listing(server: &TestServer, token: &str) -> Vec<String> {
    ids(&get(server, token, &server.url("/api/apikeys?size=100")).await)
}

/// Follows `next` links from `url`, calling `between` after each page with the ids seen so far;
/// returns every id seen, in order.
async fn walk<F>(server: &TestServer, token: &str, url: String, mut between: F) -> Vec<String>
where
    F: AsyncFnMut(&[String]),
{
    let mut seen = Vec::new();
    let mut next = Some(url);
    while let Some(url) = next {
        assert!(seen.len() <= 100, "the walk does not end");
        let body = get(server, token, &url).await;
        seen.extend(ids(&body));
        next = link(&body, "next");
        between(&seen).await;
    }
    seen
}

#[tokio::test]
async fn a_cursor_walk_visits_every_key_once_in_order() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for n in 0..9 {
        server.mint("p", &format!("key {n}")).await;
    }
    server.mint("someone else", "theirs").await;
    let expected = listing(&server, &token).await;
    assert_eq!(expected.len(), 10);

    let first_href = server.url("/api/apikeys?size=3&cursor=");
    let cursor_href = |cursor: &str| server.url(&format!("/api/apikeys?cursor={cursor}&size=3"));
    let first = get(&server, &token, &server.url("/api/apikeys?cursor=&size=3")).await;
    assert_eq!(first["page"], json!({ "size": 3, "totalElements": 10, "totalPages": 4, "number": 0 }));
    assert_eq!(ids(&first), expected[..3]);
    assert_eq!(link(&first, "self"), Some(cursor_href("")));
    assert_eq!(link(&first, "first"), Some(first_href.clone()));
    assert_eq!(link(&first, "prev"), None);
    assert_eq!(link(&first, "last"), None);
    let next = link(&first, "next").expect("a next link");
    let cursor = next
        .strip_prefix(&server.url("/api/apikeys?cursor="))
        .and_then(|rest| rest.strip_suffix("&size=3"))
        .unwrap_or_else(|| panic!("next link {next}"));
    assert!(
        !cursor.is_empty() && cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "a cursor needs no escaping: {cursor}"
    );

    // Each page's self link is the link that led to it, and every page has the same first link.
    let mut pages = Vec::new();
    let mut next = Some(first_href.clone());
    while let Some(url) = next {
        let body = get(&server, &token, &url).await;
        if url != first_href {
            assert_eq!(link(&body, "self"), Some(url));
        }
        assert_eq!(link(&body, "first"), Some(first_href.clone()));
        assert_eq!(body["page"]["number"], 0);
        assert_eq!(body["page"]["totalElements"], 10);
        assert!(link(&body, "prev").is_none() && link(&body, "last").is_none());
        next = link(&body, "next");
        pages.push(ids(&body));
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
    assert_eq!(pages.concat(), expected, "every key once, in the listing order");

    // A last page that is exactly full has no next link either.
    let first = get(&server, &token, &server.url("/api/apikeys?size=5&cursor=")).await;
    assert_eq!(first["page"]["totalPages"], 2);
    let second = get(&server, &token, &link(&first, "next").unwrap()).await;
    assert_eq!([ids(&first), ids(&second)].concat(), expected);
    assert_eq!(link(&second, "next"), None);
    assert_eq!(walk(&server, &token, first_href.replace("size=3", "size=4"), async |_| {}).await, expected);

    // A cursor is a position, not a page: with another size it goes on from the same key.
    let resized = get(&server, &token, &cursor_href(cursor).replace("size=3", "size=5")).await;
    assert_eq!(ids(&resized), expected[3..8]);

    // Offset paging is untouched beside it.
    let offset = get(&server, &token, &server.url("/api/apikeys?page=1&size=3")).await;
    assert_eq!(ids(&offset), expected[3..6]);
    assert_eq!(offset["page"]["number"], 1);
    assert_eq!(link(&offset, "last"), Some(server.url("/api/apikeys?page=3&size=3")));
}

#[tokio::test]
async fn a_cursor_walk_sees_every_lasting_key_once_while_keys_come_and_go() {
    let server = TestServer::start().await;
    let (login, token) = server.login("p").await;
    let login = login.id.to_string();
    for n in 0..14 {
        server.mint("p", &format!("key {n}")).await;
    }
    let before = listing(&server, &token).await;

    // A second writer creates and deletes keys all through the walk.
    let churning = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let churner = {
        let (keys, churning) = (server.state.keys.clone(), churning.clone());
        tokio::spawn(async move {
            let by = keyward_server::keys::Requester::command_line();
            let mut n = 0;
            while churning.load(std::sync::atomic::Ordering::SeqCst) {
                let made = keys
                    .create(&"p".into(), Some(&format!("churn {n}")), KeyType::Generic, None, &by)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
                keys.delete(&"p".into(), made.key.id, &by).await.unwrap();
                n += 1;
            }
            n
        })
    };

    // Between pages this walker deletes the key its cursor names and one it has not reached yet,
    // and creates one.
    let mut deleted = BTreeSet::new();
    let mut round = 0;
    let seen = walk(&server, &token, server.url("/api/apikeys?size=3&cursor="), async |seen: &[String]| {
        round += 1;
        let unseen = before.iter().find(|id| !seen.contains(id) && !deleted.contains(*id));
        for id in [seen.last(), unseen].into_iter().flatten().filter(|id| **id != login) {
            let request = server.delete(&format!("/api/apikeys/{id}")).bearer_auth(&token);
            assert_eq!(server.send(request).await.0, StatusCode::NO_CONTENT);
            deleted.insert(id.clone());
        }
        server.mint("p", &format!("new {round}")).await;
    })
    .await;
    churning.store(false, std::sync::atomic::Ordering::SeqCst);
    let churned = churner.await.unwrap();

    assert!(round >= 3 && churned > 0, "{round} pages, {churned} churned keys");
    let mut times = BTreeMap::new();
    for id in &seen {
        *times.entry(id).or_insert(0) += 1;
    }
    assert!(times.values().all(|&n| n == 1), "a key seen twice: {seen:?}");
    let lasting: Vec<_> = before.iter().filter(|id| !deleted.contains(*id)).collect();
    assert!(lasting.len() >= 5, "the walk must keep some keys: {lasting:?}");
    for id in &lasting {
        assert!(times.contains_key(id), "{id} lasted the whole walk but was not seen");
    }
    // What was seen of the keys listed before came in their listing order.
    let order: Vec<_> = seen.iter().filter(|id| before.contains(id)).collect();
    assert_eq!(order, before.iter().filter(|id| seen.contains(id)).collect::<Vec<_>>());
}

/// The reason for cursors: deleting keys already seen shifts offsets, and offset paging then
/// skips keys that were there all along; a cursor walk does not.
#[tokio::test]
async fn deletes_make_offset_paging_skip_keys_but_not_a_cursor_walk() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for n in 0..8 {
        server.mint("p", &format!("key {n}")).await;
    }
    let before = listing(&server, &token).await;
    let delete = async |id: &String| {
        let request = server.delete(&format!("/api/apikeys/{id}")).bearer_auth(&token);
        assert_eq!(server.send(request).await.0, StatusCode::NO_CONTENT);
    };

    // Offset: page 0, then its three keys are deleted; page 1 now starts where page 2 did.
    let page0 = get(&server, &token, &server.url("/api/apikeys?page=0&size=3")).await;
    assert_eq!(ids(&page0), before[..3]);
    for id in &before[..3] {
        delete(id).await;
    }
    let page1 = get(&server, &token, &server.url("/api/apikeys?page=1&size=3")).await;
    assert_eq!(ids(&page1), before[6..9], "offset paging skipped {:?}", &before[3..6]);

    // Cursor: the same deletes between pages skip nothing.
    let first = get(&server, &token, &server.url("/api/apikeys?size=3&cursor=")).await;
    assert_eq!(ids(&first), before[3..6]);
    for id in &before[3..6] {
        delete(id).await;
    }
    let next = get(&server, &token, &link(&first, "next").unwrap()).await;
    assert_eq!(ids(&next), before[6..9]);
    assert_eq!(next["page"]["totalElements"], 3);
    assert_eq!(link(&next, "next"), None);
}

#[tokio::test]
async fn malformed_cursors_are_a_400_and_a_deleted_keys_cursor_still_continues() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for n in 0..6 {
        server.mint("p", &format!("key {n}")).await;
    }
    let all = listing(&server, &token).await;

    let position = |micros: i64, id: Uuid| {
        URL_SAFE_NO_PAD.encode([micros.to_be_bytes().as_slice(), id.as_bytes()].concat())
    };
    let valid = position(0, Uuid::nil());
    let malformed = [
        "%%%".to_owned(),
        "AAAA".to_owned(),
        "A".repeat(10 * 1024),
        format!("{valid}A"),
        valid[1..].to_owned(),
        format!("{}=", &valid[..31]),
        format!("{}%2B", &valid[..31]),
        format!("{}%2F", &valid[..31]),
        "%00".repeat(32),
        "%C3%A9".repeat(16),
        "%FF".repeat(32),
        // Microseconds beyond the dates the server represents.
        position(i64::MAX, Uuid::nil()),
        position(i64::MIN, Uuid::max()),
    ];
    for cursor in &malformed {
        let url = server.url(&format!("/api/apikeys?cursor={cursor}&size=2"));
        let (status, _, body) = server.send(server.http.get(&url).bearer_auth(&token)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "/api/apikeys");
    }
    let (status, _, body) = server.send(server.get("/api/apikeys?page=0&cursor=").bearer_auth(&token)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "/api/apikeys");
    let (status, _, body) = server.send(server.get("/api/apikeys?cursor=&size=0").bearer_auth(&token)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "/api/apikeys");

    // Any well-formed position is just a position: before every key, after every key, or between.
    for (cursor, expected) in [
        (position(-1, Uuid::max()), &[][..]),
        (position(0, Uuid::nil()), &[][..]),
        (position(253_402_300_799_000_000, Uuid::max()), &all[..2]),
    ] {
        let body = get(&server, &token, &server.url(&format!("/api/apikeys?cursor={cursor}&size=2"))).await;
        assert_eq!(ids(&body), expected, "cursor {cursor}");
    }

    // The key a cursor names may be deleted: the walk goes on after where it was.
    let first = get(&server, &token, &server.url("/api/apikeys?size=2&cursor=")).await;
    assert_eq!(ids(&first), all[..2]);
    let request = server.delete(&format!("/api/apikeys/{}", all[1])).bearer_auth(&token);
    assert_eq!(server.send(request).await.0, StatusCode::NO_CONTENT);
    let next = get(&server, &token, &link(&first, "next").unwrap()).await;
    assert_eq!(ids(&next), all[2..4]);
}

/// Page numbers stop at 2^53 - 1, as documented, so that no arithmetic on them can overflow: a
/// higher page, or one whose offset would not fit, is a 400 in the HAL shape, not a panic.
#[tokio::test]
async fn pages_past_the_documented_maximum_are_a_400() {
    let server = TestServer::start().await;
    let (_, token) = server.login("p").await;
    for n in 0..2 {
        server.mint("p", &format!("key {n}")).await;
    }
    for query in [
        "page=18446744073709551615&size=1",
        "page=9007199254740992&size=1",
        // 2^63 keys of 2 a page: an offset of 2^64.
        "page=9223372036854775808&size=2",
        "page=200000000000000000&size=100",
    ] {
        let (status, _, body) =
            server.send(server.get(&format!("/api/apikeys?{query}")).bearer_auth(&token)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "/api/apikeys");
        assert!(body["message"].as_str().unwrap().contains("9007199254740991"), "{query}: {body}");
    }

    // The highest page is an empty page that links back to the last one and to nothing after it.
    let max = 9_007_199_254_740_991_u64;
    let body = get(&server, &token, &server.url(&format!("/api/apikeys?page={max}&size=1"))).await;
    assert_eq!(body["page"], json!({ "size": 1, "totalElements": 3, "totalPages": 3, "number": max }));
    assert_eq!(ids(&body), Vec::<String>::new());
    assert_eq!(link(&body, "self"), Some(server.url(&format!("/api/apikeys?page={max}&size=1"))));
    assert_eq!(link(&body, "prev"), Some(server.url("/api/apikeys?page=2&size=1")));
    assert_eq!(link(&body, "last"), Some(server.url("/api/apikeys?page=2&size=1")));
    assert_eq!(link(&body, "next"), None);
}
