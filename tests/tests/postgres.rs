//! Several instances on one PostgreSQL database, and PostgreSQL going away under them. These need
//! the cluster that `cargo xtask test` starts.

use keyward_tests::database::fresh_postgres;
use keyward_tests::outage::Relay;
use keyward_tests::{StatusCode, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};

/// `url` with its `host:port` replaced by `address`.
fn through(url: &str, address: &str) -> String {
    let (scheme_and_user, rest) = url.split_once('@').expect("a user in the URL");
    let (_, database) = rest.split_once('/').expect("a database in the URL");
    format!("{scheme_and_user}@{address}/{database}")
}

fn host_of(url: &str) -> String {
    url.split_once('@').unwrap().1.split_once('/').unwrap().0.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn limits_and_names_hold_across_instances() {
    let url = fresh_postgres().await;
    let first = TestServer::start_on(url.clone(), |settings| settings.keys.max_keys_per_profile = 51).await;
    let second = first.start_beside().await;
    let (admin, _) = first.login("p").await;
    let create = |server: &TestServer, name: String| {
        server
            .post("/api/v1/keys/create")
            .header("Authorization", &admin.api_key)
            .json(&json!({ "name": name }))
    };
    // 200 creates spread over both instances against a limit of 50 more keys.
    let requests = (0..200).map(|n| {
        let server = if n % 2 == 0 { &first } else { &second };
        server.send(create(server, format!("k{n}")))
    });
    let statuses: Vec<_> = futures::future::join_all(requests).await.into_iter().map(|(s, _, _)| s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 50, "{statuses:?}");
    let (_, _, keys) =
        first.send(first.get("/api/v1/keys/list").header("Authorization", &admin.api_key)).await;
    assert_eq!(keys.as_array().unwrap().len(), 51);

    // 50 creates of one name over both instances, for another profile: one wins.
    let (other, _) = first.login("q").await;
    let requests = (0..50).map(|n| {
        let server = if n % 2 == 0 { &first } else { &second };
        server.send(
            server
                .post("/api/v1/keys/create")
                .header("Authorization", &other.api_key)
                .json(&json!({ "name": "same" })),
        )
    });
    let statuses: Vec<_> = futures::future::join_all(requests).await.into_iter().map(|(s, _, _)| s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn a_revocation_reaches_the_other_instance_after_its_listener_was_killed() {
    let url = fresh_postgres().await;
    let first = TestServer::start_on(url.clone(), |_| {}).await;
    let second = first.start_beside().await;
    let (_, admin_token) = first.login("p").await;
    let victim = first.mint("p", "victim").await;
    let list = |server: &TestServer| server.get("/api/v1/keys/list").header("Authorization", &victim.api_key);
    assert_eq!(second.send(list(&second)).await.0, StatusCode::OK);

    // Kill every listening connection on this database, as a network blip would.
    let admin = std::env::var("KEYWARD_TEST_POSTGRES_URL").unwrap();
    let database = url.rsplit_once('/').unwrap().1.to_owned();
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(&database)
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert!(!killed.is_empty(), "no listener to kill");

    let (status, _, _) =
        first.send(first.delete(&format!("/api/apikeys/{}", victim.id)).bearer_auth(&admin_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let started = Instant::now();
    while second.send(list(&second)).await.0 != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < Duration::from_secs(2), "not revoked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("revoked on the other instance after {:?}, its listener killed", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn the_database_going_away_is_503_fast_then_recovery_by_itself() {
    let url = fresh_postgres().await;
    let relay = Relay::start(&host_of(&url)).await;
    let server = TestServer::start_on(through(&url, &relay.address), |settings| {
        settings.database.database_acquire_timeout_ms = 500;
    })
    .await;
    let cached = server.mint("p", "cached").await;
    let uncached = server.mint("p", "uncached").await;
    let list = |key: &str| server.get("/api/v1/keys/list").header("Authorization", key.to_owned());
    assert_eq!(server.send(list(&cached.api_key)).await.0, StatusCode::OK);
    assert_eq!(server.send(server.get("/health/ready")).await.0, StatusCode::OK);

    relay.cut();
    let started = Instant::now();
    let (status, _, body) = server.send(list(&uncached.api_key)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered after {:?}", started.elapsed());
    assert_eq!(server.send(server.get("/health/ready")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.send(server.get("/health/live")).await.0, StatusCode::OK);
    // A credential verified before is still granted a token: no database needed.
    server.token(&cached.client_id, &cached.secret).await;

    relay.restore();
    let started = Instant::now();
    while server.send(server.get("/health/ready")).await.0 != StatusCode::OK {
        assert!(started.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.send(list(&uncached.api_key)).await.0, StatusCode::OK, "recovered without a restart");
}
