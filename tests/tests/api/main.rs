//! Black-box tests of the HTTP API: a real server on an ephemeral port per test.

mod apikeys;
mod client;
mod client_faults;
mod compression;
mod cors;
mod discovery;
mod errors;
mod etags;
mod forwarding;
mod generated_clients;
mod hal_json;
mod hostile;
mod isolation;
mod keys_v1;
mod limits;
mod linters;
mod logs;
mod metrics;
mod ownership;
mod pagination;
mod races;
mod revocation;
mod schemathesis;
mod scopes;
mod signin;
mod slow_clients;
mod snippets;
mod spec;
mod storage_faults;
mod throttle;
mod tokens;

use keyward_tests::StatusCode;
use serde_json::Value;

/// Keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    keys
}

/// The sorted names on a HAL list page, and its `totalElements`.
pub async fn listed_names(
    server: &keyward_tests::TestServer,
    token: &str,
    path: &str,
) -> (Vec<String>, Value) {
    let (status, _, body) = server.send(server.get(path).bearer_auth(token)).await;
    assert_eq!(status, keyward_tests::StatusCode::OK, "{body}");
    let mut names: Vec<String> = body["_embedded"]["apikeys"]
        .as_array()
        .map(|keys| keys.iter().map(|key| key["name"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    names.sort();
    (names, body["page"]["totalElements"].clone())
}

/// `2026-01-11T18:58:35.961074`: UTC without an offset, as documented.
pub fn assert_resource_timestamp(value: &Value) {
    let text = value.as_str().expect("a timestamp string");
    assert!(
        keyward_model::time::parse_resource(text).is_ok() && !text.ends_with('Z') && !text.contains('+'),
        "not a documented timestamp: {text}"
    );
}

/// A Spring-style error body with the given status and path.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, path: &str) {
    assert_eq!(status, expected, "body: {body}");
    assert_eq!(keys(body), ["error", "message", "path", "status", "timestamp"], "body: {body}");
    assert_eq!(body["status"], expected.as_u16());
    assert_eq!(body["error"], expected.canonical_reason().unwrap());
    assert_eq!(body["path"], path);
    assert!(!body["message"].as_str().unwrap().is_empty());
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(timestamp.ends_with("+00:00") && timestamp.len() == 29, "timestamp {timestamp}");
}

/// Sends requests concurrently and returns their statuses in order.
pub async fn statuses_of(
    server: &keyward_tests::TestServer,
    requests: impl Iterator<Item = reqwest::RequestBuilder>,
) -> Vec<StatusCode> {
    let responses = futures::future::join_all(requests.map(|request| server.send(request))).await;
    responses.into_iter().map(|(status, _, _)| status).collect()
}
