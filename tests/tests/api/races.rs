//! Races: concurrent creates of one name, concurrent renames of one key, and a delete racing a
//! thousand verifications of the key it deletes.

use keyward_tests::{StatusCode, TestServer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_creates_at_a_limit_of_fifty_make_fifty() {
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 50).await;
    let admin = server.mint("p", "admin").await;
    let creates = (0..200).map(|n| {
        server.send(
            server
                .http
                .post(server.url("/api/v1/keys/create"))
                .header("Authorization", &admin.api_key)
                .json(&json!({ "name": format!("racer {n}") })),
        )
    });
    let answers = futures::future::join_all(creates).await;
    let made = answers.iter().filter(|(status, _, _)| *status == StatusCode::OK).count();
    assert_eq!(made, 49, "the admin key is the fiftieth");
    for (status, _, body) in answers.iter().filter(|(status, _, _)| *status != StatusCode::OK) {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.as_str().unwrap().starts_with("Maximum API Key Limit Reached: 50"), "{body}");
    }
    let (_, _, list) =
        server.send(server.get("/api/v1/keys/list").header("Authorization", &admin.api_key)).await;
    assert_eq!(list.as_array().map(Vec::len), Some(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_of_one_name_make_one_key() {
    let server = TestServer::start().await;
    let admin = server.mint("p", "admin").await;
    let creates = (0..50).map(|_| {
        server.send(
            server
                .http
                .post(server.url("/api/v1/keys/create"))
                .header("Authorization", &admin.api_key)
                .json(&json!({ "name": "the one" })),
        )
    });
    let answers = futures::future::join_all(creates).await;
    let made = answers.iter().filter(|(status, _, _)| *status == StatusCode::OK).count();
    assert_eq!(made, 1, "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    for (status, _, body) in &answers {
        if *status != StatusCode::OK {
            assert_eq!(
                (*status, body),
                (StatusCode::BAD_REQUEST, &json!("Can not create key with name the one"))
            );
        }
    }
    let (_, _, list) =
        server.send(server.get("/api/v1/keys/list").header("Authorization", &admin.api_key)).await;
    let named = list.as_array().unwrap().iter().filter(|key| key["name"] == "the one").count();
    assert_eq!(named, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_renames_leave_the_last_one_with_a_monotonic_last_modified() {
    let server = TestServer::start().await;
    let admin = server.mint("p", "admin").await;
    let path = format!("/api/apikeys/{}", admin.id);
    let renames = (0..20).map(|n| {
        server.send(
            server
                .put(&path)
                .header("Authorization", &admin.api_key)
                .json(&json!({ "name": format!("name {n}") })),
        )
    });
    let answers = futures::future::join_all(renames).await;
    let mut renamed: Vec<(String, String)> = answers
        .iter()
        .map(|(status, _, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            (body["lastModified"].as_str().unwrap().to_owned(), body["name"].as_str().unwrap().to_owned())
        })
        .collect();
    renamed.sort();
    let distinct: std::collections::BTreeSet<&String> = renamed.iter().map(|(at, _)| at).collect();
    assert_eq!(distinct.len(), renamed.len(), "each rename has its own lastModified: {renamed:?}");
    let (_, _, now) = server.send(server.get(&path).header("Authorization", &admin.api_key)).await;
    let (last_at, last_name) = renamed.last().unwrap();
    assert_eq!(
        (now["lastModified"].as_str().unwrap(), now["name"].as_str().unwrap()),
        (last_at.as_str(), last_name.as_str()),
        "the winner is the latest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_racing_a_thousand_verifications_lets_none_through_once_answered() {
    let server = Arc::new(TestServer::start().await);
    let admin = server.mint("p", "admin").await;
    let victim = server.mint("p", "victim").await;
    let started = Instant::now();
    // Forty clients share a thousand verifications of the victim, recording when each was sent.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..40)
        .map(|_| {
            let (server, victim, next) = (server.clone(), victim.clone(), next.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 1_000 {
                    let sent = started.elapsed();
                    let request = server.get("/api/v1/keys/list").header("Authorization", &victim.api_key);
                    let status = request.send().await.map(|response| response.status()).ok();
                    seen.push((sent, status));
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (status, _, body): (StatusCode, _, Value) = server
        .send(
            server
                .http
                .delete(server.url("/api/v1/keys/victim/delete"))
                .header("Authorization", &admin.api_key),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deleted = started.elapsed();
    let mut seen = Vec::new();
    for worker in workers {
        seen.extend(worker.await.unwrap());
    }
    assert_eq!(seen.len(), 1_000);
    let before = seen.iter().filter(|(sent, _)| *sent < deleted).count();
    let after: Vec<_> = seen.iter().filter(|(sent, _)| *sent >= deleted).collect();
    assert!(before > 0 && !after.is_empty(), "the delete came during the verifications: {before} before");
    for (sent, status) in after {
        assert_eq!(
            *status,
            Some(StatusCode::UNAUTHORIZED),
            "sent {sent:?}, after the delete answered at {deleted:?}"
        );
    }
}
