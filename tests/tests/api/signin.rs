//! Sign-in through an identity provider: a person's access token from a configured issuer signs
//! in as the profile its `sub` names, which gets a `default` key whose token the list shows to
//! that person alone. Each refusal below is a token that a careless verifier would accept.

use keyward_tests::idp::{AUDIENCE, IdentityProvider, SigningKey};
use keyward_tests::{StatusCode, TestServer, captured_logs};
use serde_json::{Value, json};

const PROFILE: &str = "auth0|5eb0327cbfd7490bff55feeb";
const PROFILE_PATH: &str = "/api/profiles/auth0%7C5eb0327cbfd7490bff55feeb";

/// A server trusting `provider`, fetching its keys again at most every `floor_ms`.
async fn server_trusting(provider: &IdentityProvider, floor_ms: u64) -> TestServer {
    let issuer = provider.issuer.clone();
    TestServer::start_with(move |settings| {
        settings.oidc.oidc_issuer = vec![issuer];
        settings.oidc.oidc_audience = vec![AUDIENCE.to_owned()];
        settings.oidc.oidc_refresh_floor_ms = floor_ms;
    })
    .await
}

async fn list(server: &TestServer, authorization: &str) -> (StatusCode, Value) {
    let (status, _, body) =
        server.send(server.get("/api/apikeys").header("Authorization", authorization)).await;
    (status, body)
}

fn keys(page: &Value) -> &Vec<Value> {
    page["_embedded"]["apikeys"].as_array().expect("a list of keys")
}

#[tokio::test]
async fn a_first_sign_in_makes_the_profile_and_its_default_key_whose_token_the_list_shows() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let server = server_trusting(&provider, 30_000).await;
    let person = signing.sign(&provider.claims(PROFILE));
    server.watch_for_leaks(&person);

    let (status, page) = list(&server, &format!("Bearer {person}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let listed = keys(&page);
    assert_eq!(listed.len(), 1, "{page}");
    assert_eq!(listed[0]["name"], "default");
    assert_eq!(listed[0]["profileId"], PROFILE);
    let access_token = listed[0]["accessToken"].as_str().expect("the default key's token").to_owned();
    server.watch_for_leaks(&access_token);

    // The token is Keyward's own, for the default key: it authenticates on its own.
    let (status, page) = list(&server, &format!("Bearer {access_token}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page)[0]["id"], listed[0]["id"]);
    // Shown to the person who signed in only, not to a holder of the key's token.
    assert!(keys(&page)[0].get("accessToken").is_none(), "{page}");

    // The same token again, and a later token of the same person: no second key.
    let later = signing.sign(&with(provider.claims(PROFILE), json!({ "jti": "later" })));
    for token in [&person, &later] {
        let (status, page) = list(&server, &format!("Bearer {token}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(keys(&page).len(), 1, "{page}");
        assert_eq!(keys(&page)[0]["accessToken"], access_token, "the token is kept until it is due");
    }

    let (status, _, profile) =
        server.send(server.get(PROFILE_PATH).header("Authorization", format!("Bearer {person}"))).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["id"], PROFILE);
    assert_eq!(profile["keyCount"], 1);
    let first = profile["firstSignIn"].as_str().expect("first sign-in");
    let last = profile["lastSignIn"].as_str().expect("last sign-in");
    assert!(first <= last, "{profile}");
    assert!(!captured_logs().contains(&access_token));
}

#[tokio::test]
async fn the_default_keys_token_is_shown_to_no_other_key_of_the_profile() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let server = server_trusting(&provider, 30_000).await;
    let person = signing.sign(&provider.claims(PROFILE));
    let (status, _) = list(&server, &format!("Bearer {person}")).await;
    assert_eq!(status, StatusCode::OK);

    // A narrow key of the same profile must not read a token with every scope.
    let reader = server.mint_scoped(PROFILE, "ci reader", "keys:read").await;
    let (status, page) = list(&server, &reader.api_key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&page).len(), 2, "{page}");
    assert!(keys(&page).iter().all(|key| key.get("accessToken").is_none()), "{page}");
    // And the page the person sees is not kept for others: their list again, then the reader's.
    let (_, mine) = list(&server, &format!("Bearer {person}")).await;
    assert!(keys(&mine).iter().any(|key| key.get("accessToken").is_some()), "{mine}");
    let (_, theirs) = list(&server, &reader.api_key).await;
    assert!(keys(&theirs).iter().all(|key| key.get("accessToken").is_none()), "{theirs}");
}

#[tokio::test]
async fn concurrent_first_sign_ins_of_one_person_make_one_default_key() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let server = server_trusting(&provider, 30_000).await;
    let tokens = distinct_sign_ins(&provider, &signing, 8);
    let answers = futures::future::join_all(tokens.iter().map(|token| list(&server, token))).await;
    for (status, page) in &answers {
        assert_eq!(*status, StatusCode::OK, "{page}");
    }
    let (_, page) = list(&server, &tokens[0]).await;
    assert_eq!(keys(&page).len(), 1, "{page}");
}

#[tokio::test]
async fn a_deleted_default_key_is_provisioned_again_at_the_next_sign_in() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let server = server_trusting(&provider, 30_000).await;
    let person = format!("Bearer {}", signing.sign(&provider.claims(PROFILE)));
    let (_, page) = list(&server, &person).await;
    let first = keys(&page)[0]["id"].as_str().expect("id").to_owned();
    let (status, _, _) =
        server.send(server.delete(&format!("/api/apikeys/{first}")).header("Authorization", &person)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, page) = list(&server, &person).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page).len(), 1, "{page}");
    assert_ne!(keys(&page)[0]["id"], first.as_str());
    assert!(keys(&page)[0]["accessToken"].is_string());
}

/// `Authorization` values of `count` distinct sign-in tokens of one person.
fn distinct_sign_ins(provider: &IdentityProvider, signing: &SigningKey, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            format!(
                "Bearer {}",
                signing.sign(&with(provider.claims(PROFILE), json!({ "jti": i.to_string() })))
            )
        })
        .collect()
}

/// `claims` with `changes` applied.
fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().expect("changes") {
        claims[name] = value.clone();
    }
    claims
}

#[tokio::test]
async fn tokens_that_must_not_sign_anyone_in_are_refused() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let server = server_trusting(&provider, 30_000).await;
    let claims = provider.claims(PROFILE);
    let now = chrono::Utc::now().timestamp();
    // Another key under the same kid: a forged signature.
    let forger = SigningKey::new("idp-1");
    let unsigned = {
        use base64::Engine;
        let encode =
            |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
        format!("{}.{}.", encode(&json!({ "alg": "none", "kid": "idp-1", "typ": "JWT" })), encode(&claims))
    };
    let refused = [
        ("an unknown issuer", signing.sign(&with(claims.clone(), json!({ "iss": "https://evil.example/" })))),
        (
            "a wrong audience",
            signing.sign(&with(claims.clone(), json!({ "aud": "https://other.example/api" }))),
        ),
        (
            "an expired token",
            signing.sign(&with(claims.clone(), json!({ "iat": now - 7200, "exp": now - 3600 }))),
        ),
        ("a token not yet valid", signing.sign(&with(claims.clone(), json!({ "nbf": now + 3600 })))),
        ("no subject", signing.sign(&with(claims.clone(), json!({ "sub": "" })))),
        ("a bad signature", forger.sign(&claims)),
        ("alg none", unsigned),
    ];
    for (what, token) in refused {
        let (status, body) = list(&server, &format!("Bearer {token}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    }
    // None of them made a profile.
    let (status, _, _) = server
        .send(server.get(PROFILE_PATH).header("Authorization", format!("Bearer {}", signing.sign(&claims))))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = list(&server, &format!("Bearer {}", signing.sign(&claims))).await;
    assert_eq!(keys(&page).len(), 1, "only the valid sign-in made a key: {page}");
}

#[tokio::test]
async fn a_rotated_identity_provider_key_is_picked_up() {
    let old = SigningKey::new("idp-old");
    let provider = IdentityProvider::start(&[&old]).await;
    // No floor: a token naming a key not seen fetches the keys again at once.
    let server = server_trusting(&provider, 0).await;
    let (status, _) = list(&server, &format!("Bearer {}", old.sign(&provider.claims(PROFILE)))).await;
    assert_eq!(status, StatusCode::OK);

    let new = SigningKey::new("idp-new");
    provider.publish(&[&new]);
    let (status, body) = list(&server, &format!("Bearer {}", new.sign(&provider.claims(PROFILE)))).await;
    assert_eq!(status, StatusCode::OK, "the new key verifies once fetched: {body}");
}

#[tokio::test]
async fn unknown_kids_fetch_the_providers_keys_at_most_once_per_floor() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let server = server_trusting(&provider, 60_000).await;
    let (status, _) = list(&server, &format!("Bearer {}", signing.sign(&provider.claims(PROFILE)))).await;
    assert_eq!(status, StatusCode::OK);
    let fetched = provider.jwks_fetches();
    assert_eq!(fetched, 1);

    let unknown: Vec<String> = (0..50)
        .map(|i| {
            format!("Bearer {}", SigningKey::new(&format!("made-up-{i}")).sign(&provider.claims(PROFILE)))
        })
        .collect();
    let answers = futures::future::join_all(unknown.iter().map(|token| list(&server, token))).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::UNAUTHORIZED));
    assert_eq!(provider.jwks_fetches(), fetched, "within the floor, no guess fetches the keys again");
}

#[tokio::test]
async fn first_sign_ins_on_two_instances_at_once_make_one_default_key() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let first = server_trusting(&provider, 30_000).await;
    let second = first.start_beside().await;
    let tokens = distinct_sign_ins(&provider, &signing, 8);
    let answers = futures::future::join_all(
        tokens.iter().enumerate().map(|(i, token)| list(if i % 2 == 0 { &first } else { &second }, token)),
    )
    .await;
    for (status, page) in &answers {
        assert_eq!(*status, StatusCode::OK, "{page}");
    }
    let (_, page) = list(&second, &tokens[0]).await;
    assert_eq!(keys(&page).len(), 1, "{page}");
}

/// The audit log tells a person's changes from a key's: a change made signed in names the
/// identity provider beside the default key it was made through, and so does the default key's
/// provisioning; a change made with the default key's own access token names none.
#[tokio::test]
async fn the_audit_log_names_the_identity_provider_of_a_change_made_signed_in() {
    let signing = SigningKey::new("idp-1");
    let provider = IdentityProvider::start(&[&signing]).await;
    let server = server_trusting(&provider, 30_000).await;
    let person = format!("Bearer {}", signing.sign(&provider.claims(PROFILE)));
    let (status, page) = list(&server, &person).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let key_token =
        format!("Bearer {}", keys(&page)[0]["accessToken"].as_str().expect("the default key's token"));

    let (_, _, initialised) = server.send(server.post("/api/apikeys").header("Authorization", &person)).await;
    let path = format!("/api/apikeys/{}", initialised["id"].as_str().expect("an id"));
    let (status, _, created) =
        server.send(server.put(&path).header("Authorization", &person).json(&json!({ "name": "ci" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _, renamed) = server
        .send(server.put(&path).header("Authorization", &key_token).json(&json!({ "name": "ci2" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");

    let (status, _, entries) =
        server.send(server.get("/api/v1/keys/audit").header("Authorization", &person)).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    let entries = entries.as_array().expect("a list");
    let actions: Vec<&str> = entries.iter().map(|entry| entry["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["renamed", "created", "created"], "newest first: {entries:?}");
    let (by_token, by_person, provisioned) = (&entries[0], &entries[1], &entries[2]);
    assert!(by_token.get("signedInWith").is_none(), "the key's own token acted: {by_token}");
    assert_eq!(by_person["signedInWith"], provider.issuer.as_str(), "{by_person}");
    assert_eq!(by_person["by"], by_token["by"], "both through the default key");
    assert_eq!(provisioned["name"], "default");
    assert_eq!(provisioned["signedInWith"], provider.issuer.as_str(), "{provisioned}");
    assert!(provisioned.get("by").is_none(), "no key acted: {provisioned}");
}
