//! The `/api/v1/keys` dialect: documented requests, responses and errors, direct key
//! authentication, one store behind both dialects, revocation, the checksum, throttling and the
//! verify endpoint.

use crate::keys;
use keyward_model::{KeyType, Secret};
use keyward_tests::{StatusCode, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

const CLIENT_UNAUTHORIZED: &str = "Client unauthorized";

fn v1(server: &TestServer, path: &str) -> String {
    server.url(&format!("/api/v1/keys/{path}"))
}

/// A key whose checksum is right but whose secret is not the key's.
pub fn wrong_secret_key(server: &TestServer, client_id: &str) -> String {
    let wrong = Secret::new("W".repeat(44));
    server.state.format.encode(client_id, &wrong).expose().to_owned()
}

#[tokio::test]
async fn create_list_onboarding_and_delete_as_documented() {
    let server = TestServer::start().await;
    let admin = server.mint_typed("p", "onboarding-key", KeyType::Onboarding).await;

    let (status, headers, created) = server
        .send(
            server
                .http
                .post(v1(&server, "create"))
                .header("Authorization", &admin.api_key)
                .json(&json!({ "name": "my-api-key", "keyFor": "GENERIC" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(keys(&created), ["apiKey", "created", "for", "identifier", "name"]);
    assert_eq!(created["name"], "my-api-key");
    assert_eq!(created["for"], "GENERIC");
    assert_eq!(headers["cache-control"], "no-store");
    let api_key = created["apiKey"].as_str().unwrap().to_owned();
    assert!(api_key.starts_with("keyward_") && api_key.len() == "keyward_".len() + 82, "{api_key}");
    assert!(api_key["keyward_".len()..].chars().all(|c| c.is_ascii_alphanumeric()));
    let identifier = created["identifier"].as_str().unwrap();
    assert_eq!(identifier, format!("keyward.{}", &api_key[8..40]));
    let created_at = created["created"].as_str().unwrap();
    assert!(
        created_at.len() == 24
            && created_at.ends_with('Z')
            && chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "{created_at}"
    );

    // The new key authenticates by itself.
    let (status, _, list) =
        server.send(server.http.get(v1(&server, "list")).header("Authorization", &api_key)).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "my-api-key", "newest first");
    assert_eq!(list[1]["name"], "onboarding-key");
    assert_eq!(list[1]["for"], "ONBOARDING");
    for summary in &list {
        assert_eq!(keys(summary), ["created", "for", "identifier", "name"], "metadata only");
    }
    assert!(!serde_json::to_string(&list).unwrap().contains(&api_key[40..]), "no secret in the list");

    let (status, _, onboarding) =
        server.send(server.http.get(v1(&server, "onboarding")).header("Authorization", &api_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(onboarding, json!([list[1]]));

    let (status, _, deleted) = server
        .send(server.http.delete(v1(&server, "my-api-key/delete")).header("Authorization", &admin.api_key))
        .await;
    assert_eq!((status, deleted), (StatusCode::OK, json!({ "status": "OK" })));

    // Deleted: refused on the very next request, in the documented words.
    let (status, headers, body) =
        server.send(server.http.get(v1(&server, "list")).header("Authorization", &api_key)).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!(CLIENT_UNAUTHORIZED)));
    assert!(headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn documented_errors() {
    let server = TestServer::start_with(|settings| settings.keys.max_keys_per_profile = 3).await;
    let admin = server.mint("p", "admin").await;
    let create = |body: Value| {
        server.http.post(v1(&server, "create")).header("Authorization", &admin.api_key).json(&body)
    };

    // 401: no key, an invalid key, a made-up key, a deleted key (below).
    for request in [
        server.http.get(v1(&server, "list")),
        server
            .http
            .get(v1(&server, "list"))
            .header("Authorization", "metlo_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        server
            .http
            .get(v1(&server, "list"))
            .header("Authorization", wrong_secret_key(&server, &admin.client_id)),
        server.http.post(v1(&server, "create")).json(&json!({ "name": "anonymous" })),
    ] {
        let (status, _, body) = server.send(request).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!(CLIENT_UNAUTHORIZED)));
    }

    let (status, _, _) = server.send(create(json!({ "name": "my-api-key", "keyFor": "GENERIC" }))).await;
    assert_eq!(status, StatusCode::OK);
    // 400: a duplicate name, a missing name, an invalid type.
    for (body, name) in [
        (json!({ "name": "my-api-key" }), "my-api-key"),
        (json!({ "keyFor": "GENERIC" }), ""),
        (json!({ "name": "  " }), "  "),
        (json!({ "name": "typed", "keyFor": "AZURE" }), "typed"),
    ] {
        let (status, _, error) = server.send(create(body)).await;
        assert_eq!(
            (status, error),
            (StatusCode::BAD_REQUEST, json!(format!("Can not create key with name {name}")))
        );
    }
    // The limit, in the documented words, with the configured number.
    let (status, _, _) = server.send(create(json!({ "name": "third" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, error) = server.send(create(json!({ "name": "fourth" }))).await;
    assert_eq!(
        (status, error),
        (
            StatusCode::BAD_REQUEST,
            json!("Maximum API Key Limit Reached: 3. Consider deleting any that are not in use.")
        )
    );

    // 404 for a name that does not exist, 400/415 for malformed bodies: never a 500.
    let (status, _, error) = server
        .send(server.http.delete(v1(&server, "nothing/delete")).header("Authorization", &admin.api_key))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error.is_string());
    let raw = |content_type: &str, body: &str| {
        server
            .http
            .post(v1(&server, "create"))
            .header("Authorization", &admin.api_key)
            .header("Content-Type", content_type)
            .body(body.to_owned())
    };
    for (request, expected) in [
        (raw("application/json", "{\"name\":"), StatusCode::BAD_REQUEST),
        (raw("application/json", "[]"), StatusCode::BAD_REQUEST),
        (raw("application/json", "{\"name\": 5}"), StatusCode::BAD_REQUEST),
        (raw("text/plain", "name=x"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ] {
        let (status, _, body) = server.send(request).await;
        assert_eq!(status, expected, "{body}");
        assert!(body.is_string());
    }
}

#[tokio::test]
async fn every_header_style_works_on_both_dialects() {
    let server = TestServer::start().await;
    let key = server.mint("p", "k").await;
    let token = server.token(&key.client_id, &key.secret).await;
    for url in [v1(&server, "list"), server.url("/api/apikeys")] {
        let styles = [
            server.http.get(&url).header("Authorization", &key.api_key),
            server.http.get(&url).bearer_auth(&key.api_key),
            server.http.get(&url).basic_auth(&key.client_id, Some(&key.secret)),
            server.http.get(&url).bearer_auth(&token),
            server.http.get(&url).header("Authorization", &token),
        ];
        for request in styles {
            let (status, _, body) = server.send(request).await;
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
        }
    }
}

#[tokio::test]
async fn one_key_lives_in_both_dialects() {
    let server = TestServer::start().await;
    let (admin, token) = server.login("p").await;

    // Made in the key API, seen and used in the HAL API.
    let (_, _, created) = server
        .send(
            server
                .http
                .post(v1(&server, "create"))
                .header("Authorization", &admin.api_key)
                .json(&json!({ "name": "shared", "keyFor": "AWS" })),
        )
        .await;
    let api_key = created["apiKey"].as_str().unwrap().to_owned();
    let (_, _, hal) = server.send(server.get("/api/apikeys").bearer_auth(&api_key)).await;
    let shared = hal["_embedded"]["apikeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "shared")
        .unwrap()
        .clone();
    assert_eq!(
        format!("keyward.{}", shared["clientId"].as_str().unwrap()),
        created["identifier"].as_str().unwrap()
    );

    // Made in the HAL API (typed), seen in the key API; its client id and secret form its full key.
    let (_, _, init) = server.send(server.post("/api/apikeys").bearer_auth(&token)).await;
    let path = format!("/api/apikeys/{}", init["id"].as_str().unwrap());
    let (status, _, hal_key) = server
        .send(
            server
                .http
                .put(server.url(&path))
                .bearer_auth(&token)
                .json(&json!({ "name": "hal", "keyFor": "ONBOARDING" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let client_id = hal_key["clientId"].as_str().unwrap();
    let full =
        server.state.format.encode(client_id, &Secret::new(hal_key["clientSecret"].as_str().unwrap().into()));
    let (status, _, onboarding) =
        server.send(server.http.get(v1(&server, "onboarding")).header("Authorization", full.expose())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(onboarding[0]["name"], "hal");
    assert_eq!(onboarding[0]["identifier"], format!("keyward.{client_id}"));

    // Deleted by name in one dialect, gone from the other.
    let (status, _, _) =
        server.send(server.http.delete(v1(&server, "hal/delete")).header("Authorization", &api_key)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server.send(server.get(&path).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(full.expose())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tampered_keys_are_refused_without_touching_the_store() {
    let (server, probe) = TestServer::start_probed(|_| {}).await;
    let key = server.mint("p", "k").await;
    // The log brings the create back; once applied it no longer drops what is held.
    probe.events_applied().await;
    let list = |auth: &str| server.http.get(v1(&server, "list")).header("Authorization", auth.to_owned());

    // One flipped character, a truncated key, a made-up key: 401 with no store call at all.
    let mut tampered = key.api_key.clone().into_bytes();
    let last = tampered.len() - 10;
    tampered[last] = if tampered[last] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        tampered.as_str(),
        &key.api_key[..key.api_key.len() - 1],
        "keyward_0000000000000000000000000000000000",
    ] {
        let before = probe.calls();
        let (status, _, _) = server.send(list(bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(probe.calls(), before, "{bad} reached the store");
    }

    // A valid key: the first request looks it up and reads the list; a repeat reads nothing, as
    // the verification is cached and the profile's keys are held.
    let before = probe.calls();
    let (status, _, _) = server.send(list(&key.api_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(probe.calls() - before, 2, "one credential lookup and one list");
    let before = probe.calls();
    let (status, _, _) = server.send(list(&key.api_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(probe.calls() - before, 0, "a cached verification and a held list cost no query");
}

#[tokio::test]
async fn failed_verifications_are_throttled_and_verified_keys_keep_working() {
    // A verified credential is trusted for a second; the throttle allows 3 costly tries a minute.
    let (server, probe) = TestServer::start_probed(|settings| {
        settings.throttle_per_key = 3.try_into().unwrap();
        settings.cache_ttl = 1;
    })
    .await;
    let victim = server.mint("p", "victim").await;
    let list = |auth: String| server.http.get(v1(&server, "list")).header("Authorization", auth);

    // The owner's key is verified before the attack (a success leaves its tries whole).
    let (status, _, _) = server.send(list(victim.api_key.clone())).await;
    assert_eq!(status, StatusCode::OK);

    let guess = wrong_secret_key(&server, &victim.client_id);
    for _ in 0..3 {
        let (status, _, _) = server.send(list(guess.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The quota is spent: 429 before any query or hash.
    let before = probe.calls();
    let (status, headers, body) = server.send(list(guess.clone())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(probe.calls(), before, "no work is done for a throttled caller");

    // The same public id through the token endpoint and HTTP Basic is throttled too.
    let (status, headers, body) = server
        .send(
            server
                .http
                .post(server.url("/oauth/token"))
                .basic_auth(&victim.client_id, Some("W".repeat(44)))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!((status, &body["error"]), (StatusCode::TOO_MANY_REQUESTS, &json!("temporarily_unavailable")));
    assert!(headers.contains_key("retry-after"));

    // The owner is not locked out, even once its verification has left the cache: the secret
    // that last verified skips the throttle.
    server.advance(Duration::from_secs(server.settings.cache_ttl));
    let before = probe.calls();
    for _ in 0..3 {
        let (status, _, _) = server.send(list(victim.api_key.clone())).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(probe.calls() - before >= 1, "the verification had left the cache");
    let (status, _, _) = server.send(list(guess.clone())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the attacker still is");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_throttle_holds_under_concurrent_guesses() {
    let (server, probe) =
        TestServer::start_probed(|settings| settings.throttle_per_key = 3.try_into().unwrap()).await;
    let victim = server.mint("p", "victim").await;
    let guess = wrong_secret_key(&server, &victim.client_id);
    let before = probe.calls();
    let requests =
        (0..20).map(|_| server.http.get(v1(&server, "list")).header("Authorization", guess.clone()));
    let statuses = crate::statuses_of(&server, requests).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 17, "{statuses:?}");
    assert_eq!(probe.calls() - before, 3, "only the 3 allowed tries reach the store");
}

#[tokio::test]
async fn failed_verifications_are_throttled_per_address() {
    let server =
        TestServer::start_with(|settings| settings.throttle_per_address = 4.try_into().unwrap()).await;
    let mut last = StatusCode::OK;
    for n in 0..6 {
        let other = server.mint(&format!("p{n}"), "k").await;
        let (status, _, _) = server
            .send(
                server
                    .http
                    .get(v1(&server, "list"))
                    .header("Authorization", wrong_secret_key(&server, &other.client_id)),
            )
            .await;
        if n < 4 {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}");
        }
        last = status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn verify_answers_for_the_callers_own_keys_only() {
    let server = TestServer::start_with(|settings| settings.throttle_per_key = 2.try_into().unwrap()).await;
    let caller = server.mint("p", "gateway").await;
    let checked = server.mint_typed("p", "checked", KeyType::Gcp).await;
    let foreign = server.mint("q", "theirs").await;
    let verify = |body: Value| {
        server.http.post(v1(&server, "verify")).header("Authorization", &caller.api_key).json(&body)
    };

    let (status, _, verdict) = server.send(verify(json!({ "key": checked.api_key }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&verdict), ["created", "for", "identifier", "name", "profileId", "scopes", "valid"]);
    assert_eq!(
        verdict["scopes"],
        json!(["keys:read", "keys:write", "keys:verify"]),
        "a key made without scopes"
    );
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["name"], "checked");
    assert_eq!(verdict["for"], "GCP");
    assert_eq!(verdict["profileId"], "p");
    assert_eq!(verdict["identifier"], format!("keyward.{}", checked.client_id));

    let code = |verdict: &Value| (verdict["valid"].clone(), verdict["code"].clone());
    let mut flipped = checked.api_key.clone();
    flipped.replace_range(20..21, if &flipped[20..21] == "x" { "y" } else { "x" });
    for (key, expected) in [
        (flipped.as_str(), "INVALID_FORMAT"),
        ("sk_live_not_ours", "INVALID_FORMAT"),
        (foreign.api_key.as_str(), "NOT_FOUND"),
        (&wrong_secret_key(&server, &checked.client_id), "NOT_FOUND"),
    ] {
        let (status, _, verdict) = server.send(verify(json!({ "key": key }))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(code(&verdict), (json!(false), json!(expected)), "{key}");
        assert_eq!(keys(&verdict), ["code", "valid"], "nothing about the key is revealed");
    }
    // Two wrong guesses spent the key's quota of 2 costly tries from here (its first
    // verification, a success, spent none).
    let guess = wrong_secret_key(&server, &checked.client_id);
    let (_, _, verdict) = server.send(verify(json!({ "key": guess }))).await;
    assert_eq!(code(&verdict), (json!(false), json!("NOT_FOUND")));
    let (_, _, verdict) = server.send(verify(json!({ "key": guess }))).await;
    assert_eq!(code(&verdict), (json!(false), json!("RATE_LIMITED")));

    let (status, _, _) = server
        .send(server.http.delete(v1(&server, "checked/delete")).header("Authorization", &caller.api_key))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, verdict) = server.send(verify(json!({ "key": checked.api_key }))).await;
    assert_eq!(code(&verdict), (json!(false), json!("NOT_FOUND")), "deleted");

    let (status, _, body) = server.send(verify(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.is_string());
    let (status, _, _) =
        server.send(server.http.post(v1(&server, "verify")).json(&json!({ "key": caller.api_key }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "verify itself needs a key");
}
