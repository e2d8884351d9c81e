//! Storage faults, injected: every write route of both dialects answers 503 in its own shape when
//! the store cannot write, changes nothing, and works again once the store does; reads, cached
//! verifications and token grants go on meanwhile. A lost database is a 503, never a 401.

use crate::assert_error;
use keyward_server::keys::KeyError;
use keyward_server::store::StoreError;
use keyward_tests::probe::WriteFault;
use keyward_tests::{StatusCode, TestServer, captured_logs};
use serde_json::{Value, json};

const PROFILE: &str = "p";

fn assert_v1_unavailable(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.is_string(), "the key API's errors are JSON strings: {body}");
}

#[tokio::test]
async fn a_full_disk_answers_writes_503_and_changes_nothing() {
    failed_writes_answer_503_and_change_nothing(WriteFault::Full, "No space left on device").await;
}

#[tokio::test]
async fn a_read_only_database_answers_writes_503_and_changes_nothing() {
    failed_writes_answer_503_and_change_nothing(WriteFault::ReadOnly, "Read-only file system").await;
}

/// Every write route fails with `fault` (logged with `cause`), then works again.
async fn failed_writes_answer_503_and_change_nothing(fault: WriteFault, cause: &str) {
    let (server, probe) = TestServer::start_probed(|_| {}).await;
    let (admin, token) = server.login(PROFILE).await;
    let bearer = format!("Bearer {token}");
    let doomed = server.mint(PROFILE, "doomed").await;
    let get = |path: &str| server.get(path).header("Authorization", &bearer);
    let (_, _, initialised) = server.send(server.post("/api/apikeys").header("Authorization", &bearer)).await;
    let pending = initialised["id"].as_str().unwrap().to_owned();
    let (_, _, before) = server.send(get("/api/apikeys")).await;

    probe.fail_writes_with(Some(fault));

    // The HAL dialect: initialise, create, rename, delete.
    let (status, _, body) = server.send(server.post("/api/apikeys").header("Authorization", &bearer)).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "/api/apikeys");
    let put = |id: &str, name: &str| {
        server
            .http
            .put(server.url(&format!("/api/apikeys/{id}")))
            .header("Authorization", &bearer)
            .json(&json!({ "name": name }))
    };
    let (status, _, body) = server.send(put(&pending, "never created")).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, &format!("/api/apikeys/{pending}"));
    let doomed_path = format!("/api/apikeys/{}", doomed.id);
    let (status, _, body) = server.send(put(&doomed.id.to_string(), "never renamed")).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, &doomed_path);
    let (status, _, body) = server.send(server.delete(&doomed_path).header("Authorization", &bearer)).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, &doomed_path);

    // The key API: create and delete.
    let (status, _, body) = server
        .send(
            server
                .http
                .post(server.url("/api/v1/keys/create"))
                .header("Authorization", &admin.api_key)
                .json(&json!({ "name": "never created" })),
        )
        .await;
    assert_v1_unavailable(status, &body);
    let (status, _, body) = server
        .send(
            server
                .http
                .delete(server.url("/api/v1/keys/doomed/delete"))
                .header("Authorization", &admin.api_key),
        )
        .await;
    assert_v1_unavailable(status, &body);

    // The bootstrap path (`keyward-server keys create`) is refused the same way.
    let by = keyward_server::keys::Requester::command_line();
    let bootstrap =
        server.state.keys.create(&PROFILE.into(), Some("bootstrapped"), Default::default(), None, &by).await;
    assert!(
        matches!(bootstrap, Err(KeyError::Store(StoreError::Unavailable(_)))),
        "bootstrap while writes fail: {:?}",
        bootstrap.err()
    );

    // Reads, cached verifications and grants need no write.
    let (status, _, during) = server.send(get("/api/apikeys")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(during, before, "a refused write changed the list");
    let (status, _, _) =
        server.send(server.get("/api/v1/keys/list").header("Authorization", &admin.api_key)).await;
    assert_eq!(status, StatusCode::OK);
    server.token(&doomed.client_id, &doomed.secret).await;
    let logs = captured_logs();
    assert!(
        logs.lines().any(|line| line.contains("ERROR")
            && line.contains("storage unavailable")
            && line.contains(cause)),
        "no error-level log line names the cause"
    );

    // Writes work again by themselves.
    probe.fail_writes_with(None);
    let (status, _, body) = server.send(put(&pending, "created at last")).await;
    assert_eq!(status, StatusCode::CREATED, "the initialised key survived: {body}");
    let (status, _, body) = server.send(get(&doomed_path)).await;
    assert_eq!(
        (status, body["name"].as_str()),
        (StatusCode::OK, Some("doomed")),
        "neither renamed nor deleted"
    );
    let (status, _, _) = server
        .send(
            server
                .http
                .delete(server.url("/api/v1/keys/doomed/delete"))
                .header("Authorization", &admin.api_key),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_lost_database_is_503_in_each_dialect_not_a_refusal() {
    let (server, probe) = TestServer::start_probed(|_| {}).await;
    let cached = server.mint(PROFILE, "cached").await;
    let uncached = server.mint(PROFILE, "uncached").await;
    // The log brings the two creates back; once applied they no longer drop what is held.
    probe.events_applied().await;
    let list = |key: &str| server.get("/api/v1/keys/list").header("Authorization", key.to_owned());
    let (status, _, _) = server.send(list(&cached.api_key)).await;
    assert_eq!(status, StatusCode::OK);

    probe.fail_reads(true);
    probe.fail_writes(true);

    // A credential verified before needs no database: it authenticates, is granted a token, and
    // its profile's keys, listed before, are held in memory.
    let (status, _, body) = server.send(list(&cached.api_key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.token(&cached.client_id, &cached.secret).await;

    // One that was not cannot be checked, and is not called wrong.
    let (status, _, body) = server.send(list(&uncached.api_key)).await;
    assert_v1_unavailable(status, &body);
    let (status, _, body) =
        server.send(server.get("/api/apikeys").header("Authorization", &uncached.api_key)).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "/api/apikeys");
    let (status, headers, body) = server
        .send(server.post("/oauth/token").form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &uncached.client_id),
            ("client_secret", &uncached.secret),
        ]))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(headers["cache-control"], "no-store");

    probe.fail_reads(false);
    probe.fail_writes(false);
    let (status, _, _) = server.send(list(&uncached.api_key)).await;
    assert_eq!(status, StatusCode::OK);
}
