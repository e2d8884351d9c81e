//! The isolation matrix: every operation of both APIs, with every kind of credential, from one
//! profile at another's keys. Nothing of one is visible to or changeable by the other, and
//! another profile's key cannot be told from a missing one: same status, same body, similar time.

use keyward_tests::{Minted, StatusCode, TestServer};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How a caller presents its key.
#[derive(Debug, Clone, Copy)]
enum Kind {
    FullKey,
    Basic,
    Bearer,
}

struct Caller {
    kind: Kind,
    key: Minted,
    token: String,
}

impl Caller {
    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.kind {
            Kind::FullKey => request.header("Authorization", &self.key.api_key),
            Kind::Basic => request.basic_auth(&self.key.client_id, Some(&self.key.secret)),
            Kind::Bearer => request.bearer_auth(&self.token),
        }
    }
}

/// A request about one key of someone's, by id and name: what the matrix sends for a foreign key
/// and for a missing one.
type Probe = fn(&TestServer, &Caller, &str, &str) -> reqwest::RequestBuilder;

fn probes() -> Vec<(&'static str, Probe)> {
    vec![
        ("view", |s, c, id, _| c.authorize(s.get(&format!("/api/apikeys/{id}")))),
        ("rename", |s, c, id, _| {
            c.authorize(s.put(&format!("/api/apikeys/{id}"))).json(&json!({ "name": "taken over" }))
        }),
        ("delete", |s, c, id, _| c.authorize(s.delete(&format!("/api/apikeys/{id}")))),
        ("delete by name", |s, c, _, name| {
            c.authorize(s.http.delete(s.url(&format!("/api/v1/keys/{name}/delete"))))
        }),
    ]
}

/// The body with what names the request itself (the path, the time) taken out.
fn comparable(body: &Value, id: &str, name: &str) -> String {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("timestamp");
        object.remove("path");
    }
    body.to_string().replace(id, "<id>").replace(name, "<name>")
}

/// The median time of `n` sends of `request()`.
async fn median_time(
    server: &TestServer,
    n: usize,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        server.send(request()).await;
        times.push(started.elapsed());
    }
    times.sort();
    times[n / 2]
}

/// What the owner sees of its keys: names and last modifications, and the audit log's length.
async fn owners_view(server: &TestServer, owner: &Minted) -> (Value, usize) {
    let (_, _, list) =
        server.send(server.get("/api/apikeys?size=100").header("Authorization", &owner.api_key)).await;
    let keys: Vec<Value> = list["_embedded"]["apikeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| json!([key["id"], key["name"], key["lastModified"]]))
        .collect();
    let (_, _, audit) =
        server.send(server.get("/api/v1/keys/audit?limit=100").header("Authorization", &owner.api_key)).await;
    (json!(keys), audit.as_array().unwrap().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_profile_can_neither_see_nor_change_anothers_keys_with_any_credential() {
    let server = TestServer::start().await;
    let owner = server.mint("auth0|owner", "owned").await;
    let (_, _, initialised) =
        server.send(server.post("/api/apikeys").header("Authorization", &owner.api_key)).await;
    let pending = initialised["id"].as_str().unwrap().to_owned();
    let before = owners_view(&server, &owner).await;

    let mut callers = Vec::new();
    for kind in [Kind::FullKey, Kind::Basic, Kind::Bearer] {
        let key = server.mint("auth0|intruder", &format!("{kind:?}")).await;
        let token = server.token(&key.client_id, &key.secret).await;
        callers.push(Caller { kind, key, token });
    }
    let missing_id = uuid::Uuid::new_v4().to_string();
    let missing_name = "no such key";

    for caller in &callers {
        // Lists and the log show nothing of the owner's.
        for path in ["/api/apikeys", "/api/v1/keys/list", "/api/v1/keys/onboarding", "/api/v1/keys/audit"] {
            let (status, _, body) = server.send(caller.authorize(server.get(path))).await;
            assert_eq!(status, StatusCode::OK, "{:?} {path}", caller.kind);
            let text = body.to_string();
            for secret in [owner.client_id.as_str(), "owned", pending.as_str(), owner.id.to_string().as_str()]
            {
                assert!(!text.contains(secret), "{:?} {path} shows {secret}: {text}", caller.kind);
            }
        }
        let (status, _, _) =
            server.send(caller.authorize(server.get(&format!("/api/profiles/{}", "auth0%7Cowner")))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{:?}: another's profile", caller.kind);
        let (_, _, verdict) = server
            .send(
                caller
                    .authorize(server.http.post(server.url("/api/v1/keys/verify")))
                    .json(&json!({ "key": owner.api_key })),
            )
            .await;
        assert_eq!(verdict, json!({ "valid": false, "code": "NOT_FOUND" }), "{:?}", caller.kind);

        // Every operation on the owner's key, and on its initialised one, answers exactly as on
        // a key that does not exist.
        for (operation, probe) in probes() {
            for (id, name) in
                [(owner.id.to_string(), "owned".to_owned()), (pending.clone(), "owned".to_owned())]
            {
                let (foreign_status, _, foreign) = server.send(probe(&server, caller, &id, &name)).await;
                let (missing_status, _, missing) =
                    server.send(probe(&server, caller, &missing_id, missing_name)).await;
                assert_eq!(
                    foreign_status, missing_status,
                    "{:?} {operation}: {foreign} / {missing}",
                    caller.kind
                );
                assert_eq!(
                    comparable(&foreign, &id, &name),
                    comparable(&missing, &missing_id, missing_name),
                    "{:?} {operation}",
                    caller.kind
                );
                assert!(foreign_status.is_client_error(), "{:?} {operation}: {foreign_status}", caller.kind);
            }
        }
    }

    // Similar time: the foreign key's answer takes about as long as the missing one's.
    let caller = &callers[0];
    let id = owner.id.to_string();
    let foreign =
        median_time(&server, 31, || caller.authorize(server.get(&format!("/api/apikeys/{id}")))).await;
    let missing =
        median_time(&server, 31, || caller.authorize(server.get(&format!("/api/apikeys/{missing_id}"))))
            .await;
    let slack = Duration::from_millis(2);
    assert!(foreign <= missing * 3 + slack && missing <= foreign * 3 + slack, "{foreign:?} vs {missing:?}");

    assert_eq!(owners_view(&server, &owner).await, before, "nothing of the owner's changed");
}
