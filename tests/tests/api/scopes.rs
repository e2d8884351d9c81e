//! Scopes: what a key may do to its profile's keys, in both dialects and through its tokens, and
//! the audit log of every change.

use crate::assert_error;
use keyward_tests::{Minted, StatusCode, TestServer};
use serde_json::{Value, json};

/// `Authorization: <full key>`.
fn as_key(request: reqwest::RequestBuilder, key: &Minted) -> reqwest::RequestBuilder {
    request.header("Authorization", &key.api_key)
}

#[tokio::test]
async fn a_key_without_keys_write_cannot_change_keys_in_either_dialect_nor_through_its_token() {
    let server = TestServer::start().await;
    let admin = server.mint("p", "admin").await;
    let reader = server.mint_scoped("p", "reader", "keys:read").await;
    let reader_token = server.token(&reader.client_id, &reader.secret).await;
    let claims = crate::tokens::claims(&reader_token);
    assert_eq!(claims["scope"], "keys:read", "the token carries the key's scopes");

    let (_, _, initialised) = server.send(as_key(server.post("/api/apikeys"), &admin)).await;
    let path = format!("/api/apikeys/{}", initialised["id"].as_str().unwrap());
    let v1 = |path: &str| server.url(&format!("/api/v1/keys/{path}"));
    for auth in [reader.api_key.clone(), format!("Bearer {reader_token}")] {
        let with = |request: reqwest::RequestBuilder| request.header("Authorization", &auth);
        let (status, _, body) = server.send(with(server.post("/api/apikeys"))).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "/api/apikeys");
        assert!(body["message"].as_str().unwrap().contains("keys:write"), "{body}");
        let (status, _, body) =
            server.send(with(server.put(&path)).json(&json!({ "name": "escalated" }))).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, &path);
        let (status, _, body) = server.send(with(server.delete(&format!("/api/apikeys/{}", admin.id)))).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, &format!("/api/apikeys/{}", admin.id));
        let (status, _, body) =
            server.send(with(server.http.post(v1("create"))).json(&json!({ "name": "escalated" }))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.as_str().is_some_and(|said| said.contains("keys:write")), "the key API's shape: {body}");
        let (status, _, _) = server.send(with(server.http.delete(v1("admin/delete")))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, body) =
            server.send(with(server.http.post(v1("verify"))).json(&json!({ "key": admin.api_key }))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "keys:verify is a scope of its own: {body}");
        // What it holds, it may do.
        let (status, _, _) = server.send(with(server.get("/api/apikeys"))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = server.send(with(server.http.get(v1("list")))).await;
        assert_eq!(status, StatusCode::OK);
    }
    // Nothing changed.
    let (_, _, listed) = server.send(as_key(server.http.get(v1("list")), &admin)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
}

#[tokio::test]
async fn a_key_gives_the_keys_it_makes_only_scopes_it_holds() {
    let server = TestServer::start().await;
    let admin = server.mint("p", "admin").await;
    let writer = server.mint_scoped("p", "writer", "keys:write").await;
    let v1 = |path: &str| server.url(&format!("/api/v1/keys/{path}"));

    let (status, _, body) = server
        .send(
            as_key(server.http.post(v1("create")), &writer)
                .json(&json!({ "name": "wider", "scopes": ["keys:read"] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.as_str().unwrap().contains("keys:read"), "{body}");

    // Without scopes, the maker's own; through a form, space-separated.
    let (status, _, made) =
        server.send(as_key(server.http.post(v1("create")), &writer).json(&json!({ "name": "same" }))).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(
        crate::keys(&made),
        ["apiKey", "created", "for", "identifier", "name"],
        "the documented fields only"
    );
    let scopes_of = |key: Value| {
        let server = &server;
        let admin = &admin;
        async move {
            let (_, _, verdict) = server
                .send(
                    as_key(server.http.post(server.url("/api/v1/keys/verify")), admin)
                        .json(&json!({ "key": key })),
                )
                .await;
            verdict["scopes"].clone()
        }
    };
    assert_eq!(scopes_of(made["apiKey"].clone()).await, json!(["keys:write"]));

    let (_, _, initialised) = server.send(as_key(server.post("/api/apikeys"), &admin)).await;
    let path = format!("/api/apikeys/{}", initialised["id"].as_str().unwrap());
    let (status, _, created) = server
        .send(
            as_key(server.put(&path), &admin)
                .form(&[("name", "verifier"), ("scopes", "keys:verify keys:read")]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created.get("scopes").is_none(), "the documented fields only: {created}");
    let full = server.state.format.encode(
        created["clientId"].as_str().unwrap(),
        &keyward_model::Secret::new(created["clientSecret"].as_str().unwrap().to_owned()),
    );
    assert_eq!(scopes_of(json!(full.expose())).await, json!(["keys:read", "keys:verify"]));

    // A PUT on the created key changes its scopes, within the caller's.
    let (status, _, _) = server
        .send(
            as_key(server.put(&path), &admin).json(&json!({ "name": "verifier", "scopes": ["keys:verify"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(scopes_of(json!(full.expose())).await, json!(["keys:verify"]));
}

#[tokio::test]
async fn verify_reports_scopes_and_answers_whether_a_key_holds_one() {
    let server = TestServer::start().await;
    let verifier = server.mint_scoped("p", "verifier", "keys:verify").await;
    let reader = server.mint_scoped("p", "reader", "keys:read").await;
    let verify =
        |body: Value| as_key(server.http.post(server.url("/api/v1/keys/verify")), &verifier).json(&body);
    let (status, _, verdict) = server.send(verify(json!({ "key": reader.api_key }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((verdict["valid"].clone(), verdict["scopes"].clone()), (json!(true), json!(["keys:read"])));
    let (_, _, verdict) = server.send(verify(json!({ "key": reader.api_key, "scope": "keys:read" }))).await;
    assert_eq!(verdict["valid"], true);
    let (_, _, verdict) = server.send(verify(json!({ "key": reader.api_key, "scope": "keys:write" }))).await;
    assert_eq!((verdict["valid"].clone(), verdict["code"].clone()), (json!(false), json!("MISSING_SCOPE")));
    assert_eq!(crate::keys(&verdict), ["code", "valid"]);
    let (status, _, _) = server.send(verify(json!({ "key": reader.api_key, "scope": "keys:admin" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown scope is refused");
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_who_and_where() {
    let server = TestServer::start_with(|settings| {
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let admin = server.mint("p", "admin").await;
    let stranger = server.mint("q", "stranger").await;
    let from =
        |request: reqwest::RequestBuilder| as_key(request, &admin).header("X-Forwarded-For", "198.51.100.7");
    let v1 = |path: &str| server.url(&format!("/api/v1/keys/{path}"));

    let (_, _, initialised) = server.send(from(server.post("/api/apikeys"))).await;
    let path = format!("/api/apikeys/{}", initialised["id"].as_str().unwrap());
    let (status, _, _) = server.send(from(server.put(&path)).json(&json!({ "name": "ci" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = server.send(from(server.put(&path)).json(&json!({ "name": "ci2" }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) =
        server.send(from(server.put(&path)).json(&json!({ "name": "ci2", "scopes": ["keys:read"] }))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = server.send(from(server.http.delete(v1("ci2/delete")))).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, entries) = server.send(as_key(server.http.get(v1("audit")), &admin)).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    let entries = entries.as_array().unwrap().clone();
    let actions: Vec<&str> = entries.iter().map(|entry| entry["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["deleted", "scopes_changed", "renamed", "created", "created"], "newest first");
    let admin_identifier = format!("keyward.{}", admin.client_id);
    for entry in &entries[..4] {
        assert_eq!(entry["by"], admin_identifier.as_str(), "{entry}");
        assert_eq!(entry["address"], "198.51.100.7", "{entry}");
        assert_eq!(entry["keyId"], initialised["id"], "{entry}");
    }
    assert_eq!(entries[0]["name"], "ci2");
    assert_eq!(entries[1]["scopes"], json!(["keys:read"]));
    assert_eq!(entries[3]["name"], "ci");
    assert_eq!(entries[3]["scopes"], json!(["keys:read", "keys:write", "keys:verify"]));
    assert!(entries[4].get("by").is_none(), "the command line made the admin key: {}", entries[4]);
    assert_eq!(entries[4]["name"], "admin");

    // Paged by `before`; another profile's log is its own.
    let before = entries[1]["seq"].as_i64().unwrap();
    let (_, _, older) =
        server.send(as_key(server.http.get(v1(&format!("audit?before={before}&limit=2"))), &admin)).await;
    let older: Vec<&str> = older.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(older, ["renamed", "created"]);
    let (_, _, theirs) = server.send(as_key(server.http.get(v1("audit")), &stranger)).await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(1), "only its own key's creation: {theirs}");
    let (status, _, _) = server.send(as_key(server.http.get(v1("audit?limit=0")), &admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let verifier = server.mint_scoped("p", "verifier", "keys:verify").await;
    let (status, _, _) = server.send(as_key(server.http.get(v1("audit")), &verifier)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reading the log takes keys:read");
}

/// A token request for `scope` (none: the parameter is left out) with `key`'s credentials.
fn token_request(server: &TestServer, key: &Minted, scope: Option<&str>) -> reqwest::RequestBuilder {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", key.client_id.as_str()),
        ("client_secret", key.secret.as_str()),
    ];
    form.extend(scope.map(|scope| ("scope", scope)));
    server.post("/oauth/token").form(&form)
}

#[tokio::test]
async fn a_token_grants_the_scopes_asked_within_the_keys_and_says_which() {
    let server = TestServer::start().await;
    let key = server.mint_scoped("p", "k", "keys:read keys:verify").await;
    for (asked, granted) in [
        (None, "keys:read keys:verify"),
        (Some(""), "keys:read keys:verify"),
        (Some("keys:verify"), "keys:verify"),
        (Some("keys:verify  keys:read"), "keys:read keys:verify"),
    ] {
        let (status, _, body) = server.send(token_request(&server, &key, asked)).await;
        assert_eq!(status, StatusCode::OK, "{asked:?}: {body}");
        assert_eq!(body["scope"], granted, "{asked:?}: the response names what was granted");
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(crate::tokens::claims(token)["scope"], granted, "{asked:?}: and so does the token");
    }
    // Beyond the key's scopes, or no scope at all: RFC 6749's invalid_scope, and no token.
    for asked in ["keys:write", "keys:read keys:write", "keys:admin", "keys:read,keys:verify"] {
        let (status, headers, body) = server.send(token_request(&server, &key, Some(asked))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{asked}: {body}");
        assert_eq!(body["error"], "invalid_scope", "{asked}: {body}");
        assert_eq!(headers["cache-control"], "no-store");
    }
    let json = server.post("/oauth/token").json(&json!({
        "grant_type": "client_credentials",
        "client_id": key.client_id,
        "client_secret": key.secret,
        "scope": "keys:write",
    }));
    let (status, _, body) = server.send(json).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_scope")), "{body}");
}

/// A token holds what it was granted, not its key's every right: a narrow token that leaks cannot
/// change keys, nor make a key wider than itself.
#[tokio::test]
async fn a_token_granted_narrower_scopes_holds_those_only() {
    let server = TestServer::start().await;
    let key = server.mint("p", "k").await;
    let (_, _, body) = server.send(token_request(&server, &key, Some("keys:read"))).await;
    let reader = body["access_token"].as_str().expect("a token").to_owned();
    let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = server.send(server.post("/api/apikeys").bearer_auth(&reader)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "/api/apikeys");
    let (status, _, body) = server
        .send(server.post("/api/v1/keys/verify").bearer_auth(&reader).json(&json!({ "key": key.api_key })))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (_, _, body) = server.send(token_request(&server, &key, Some("keys:read keys:write"))).await;
    let writer = body["access_token"].as_str().expect("a token").to_owned();
    let (status, _, made) = server
        .send(server.post("/api/v1/keys/create").bearer_auth(&writer).json(&json!({ "name": "made" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let (_, _, verified) = server
        .send(as_key(server.post("/api/v1/keys/verify"), &key).json(&json!({ "key": made["apiKey"] })))
        .await;
    assert_eq!(verified["scopes"], json!(["keys:read", "keys:write"]), "the token's scopes, not the key's");
    let (status, _, body) = server
        .send(
            server
                .post("/api/v1/keys/create")
                .bearer_auth(&writer)
                .json(&json!({ "name": "wider", "scopes": ["keys:verify"] })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
