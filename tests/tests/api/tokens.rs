//! The client-credentials token exchange and the published keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keyward_tests::{StatusCode, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test]
async fn form_json_and_basic_all_yield_a_bearer_token() {
    let server = TestServer::start().await;
    let key = server.mint("p", "k").await;
    let form = server.post("/oauth/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", key.client_id.as_str()),
        ("client_secret", key.secret.as_str()),
    ]);
    let json = server.post("/oauth/token").json(&json!({
        "grant_type": "client_credentials",
        "client_id": key.client_id,
        "client_secret": key.secret,
        "audience": "https://app.matatika.com/api",
    }));
    let basic = server
        .http
        .post(server.url("/oauth/token"))
        .basic_auth(&key.client_id, Some(&key.secret))
        .form(&[("grant_type", "client_credentials")]);
    for request in [form, json, basic] {
        let (status, headers, body) = server.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(crate::keys(&body), ["access_token", "expires_in", "scope", "token_type"]);
        assert_eq!(body["scope"], "keys:read keys:write keys:verify", "the key's");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 86_400);
        assert_eq!(headers["cache-control"], "no-store");
        let token = body["access_token"].as_str().unwrap();
        let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(token)).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn tokens_carry_the_documented_claims_and_verify_against_the_jwks() {
    let server = TestServer::start_with(|settings| {
        settings.public_url = Some("https://keys.example.com/".into());
        settings.token_ttl = 600;
    })
    .await;
    let key = server.mint("p", "k").await;
    let token = server.token(&key.client_id, &key.secret).await;

    let header = header(&token);
    assert_eq!(header["alg"], "RS256");
    let kid = header["kid"].as_str().expect("a kid").to_owned();

    let claims = claims(&token);
    assert_eq!(crate::keys(&claims), ["aud", "azp", "exp", "gty", "iat", "iss", "scope", "sub"]);
    assert_eq!(claims["scope"], "keys:read keys:write keys:verify", "the key's scopes");
    assert_eq!(claims["iss"], "https://keys.example.com/");
    assert_eq!(claims["aud"], "https://keys.example.com/api");
    assert_eq!(claims["sub"], format!("{}@clients", key.client_id));
    assert_eq!(claims["azp"], key.client_id.as_str());
    assert_eq!(claims["gty"], "client-credentials");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 600);

    let jwks: JwkSet =
        serde_json::from_value(server.send(server.get("/.well-known/jwks.json")).await.2).unwrap();
    let jwk = jwks.find(&kid).expect("the token's key is published");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://keys.example.com/api"]);
    validation.set_issuer(&["https://keys.example.com/"]);
    jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the token verifies with the published key");

    let (status, _, discovery) = server.send(server.get("/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(discovery["issuer"], "https://keys.example.com/");
    assert_eq!(discovery["token_endpoint"], "https://keys.example.com/oauth/token");
    assert_eq!(discovery["jwks_uri"], "https://keys.example.com/.well-known/jwks.json");
    assert_eq!(discovery["grant_types_supported"], json!(["client_credentials"]));
}

#[tokio::test]
async fn token_errors_follow_rfc_6749() {
    let server = TestServer::start().await;
    let key = server.mint("p", "k").await;
    let post = || server.post("/oauth/token");
    let wrong_secret = "A".repeat(44);
    let cases = [
        (
            post().form(&[
                ("grant_type", "client_credentials"),
                ("client_id", key.client_id.as_str()),
                ("client_secret", wrong_secret.as_str()),
            ]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            post().form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "nothing"),
            ]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (post().form(&[("grant_type", "client_credentials")]), StatusCode::UNAUTHORIZED, "invalid_client"),
        (
            post().basic_auth(&key.client_id, Some("wrong")).form(&[("grant_type", "client_credentials")]),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            post().form(&[("grant_type", "client_credentials"), ("client_id", key.client_id.as_str())]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post().form(&[("client_id", key.client_id.as_str()), ("client_secret", key.secret.as_str())]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post().form(&[
                ("grant_type", "password"),
                ("client_id", key.client_id.as_str()),
                ("client_secret", key.secret.as_str()),
            ]),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            post()
                .basic_auth(&key.client_id, Some(&key.secret))
                .form(&[("grant_type", "client_credentials"), ("client_secret", key.secret.as_str())]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post().header("Content-Type", "application/json").body("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post().header("Content-Type", "text/plain").body("grant_type=client_credentials"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
        (
            post().header("Content-Type", "application/json").body(vec![b' '; 100 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
        ),
    ];
    for (request, status, code) in cases {
        let (actual, headers, body) = server.send(request).await;
        assert_eq!(actual, status, "{body}");
        assert_eq!(body["error"], code, "{body}");
        if status == StatusCode::UNAUTHORIZED {
            assert!(headers.contains_key("www-authenticate"));
        }
    }
}

#[tokio::test]
async fn instances_on_one_database_sign_and_verify_alike() {
    let first = TestServer::start().await;
    let second = first.start_beside().await;
    let key = first.mint("p", "k").await;
    let token = first.token(&key.client_id, &key.secret).await;
    let (status, _, _) = second.send(second.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let a: Value = serde_json::from_value(first.send(first.get("/.well-known/jwks.json")).await.2).unwrap();
    let b: Value = serde_json::from_value(second.send(second.get("/.well-known/jwks.json")).await.2).unwrap();
    assert_eq!(a, b);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let server = TestServer::start_with(|settings| settings.token_ttl = 1).await;
    let key = server.mint("p", "k").await;
    let token = server.token(&key.client_id, &key.secret).await;
    let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::OK);
    // Refused from its `exp` on, with no leeway.
    server.advance(Duration::from_secs(server.settings.token_ttl));
    let (status, headers, _) = server.send(server.get("/api/apikeys").bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

/// After a rotation, the old key is published and verifies until its last token has expired
/// (and the instances that had not reloaded have stopped signing with it), then retires.
#[tokio::test]
async fn a_rotated_out_key_retires_once_its_last_token_has_expired() {
    let server = TestServer::start_with(|settings| settings.token_ttl = 600).await;
    let key = server.mint("p", "k").await;
    let before = server.token(&key.client_id, &key.secret).await;
    let old_kid = header(&before)["kid"].as_str().unwrap().to_owned();
    let kids = async || -> Vec<String> {
        let jwks: JwkSet =
            serde_json::from_value(server.send(server.get("/.well-known/jwks.json")).await.2).unwrap();
        jwks.keys.into_iter().filter_map(|jwk| jwk.common.key_id).collect()
    };

    let new_kid = server.state.tokens.rotate(server.state.store.as_ref()).await.unwrap();
    let after = server.token(&key.client_id, &key.secret).await;
    assert_eq!(header(&after)["kid"], new_kid.as_str());
    assert!(kids().await.contains(&old_kid) && kids().await.contains(&new_kid));
    server.advance(Duration::from_secs(599));
    let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(&before)).await;
    assert_eq!(status, StatusCode::OK, "the old key verifies its tokens while they live");

    // The token's life, then two reloads of the other instances.
    server.advance(Duration::from_secs(1 + 2 * 30 + 1));
    server.state.tokens.reload(server.state.store.as_ref()).await.unwrap();
    assert_eq!(kids().await, [new_kid], "the old key is no longer published");
    let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(&before)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let fresh = server.token(&key.client_id, &key.secret).await;
    let (status, _, _) = server.send(server.get("/api/apikeys").bearer_auth(&fresh)).await;
    assert_eq!(status, StatusCode::OK);
}
