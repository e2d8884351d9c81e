//! Discovery: RFC 8414 metadata at both well-known paths, describing only what exists, with the
//! audience a relying party checks tokens for.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use keyward_tests::{StatusCode, TestServer};
use serde_json::{Value, json};

const PATHS: [&str; 2] = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];

#[tokio::test]
async fn both_well_known_paths_serve_the_same_metadata_of_what_exists() {
    let server = TestServer::start_with(|settings| {
        settings.public_url = Some("https://keys.example.com".into());
    })
    .await;
    let mut documents = Vec::new();
    for path in PATHS {
        let (status, headers, metadata) = server.send(server.get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {metadata}");
        assert_eq!(headers["cache-control"], "public, max-age=300", "{path}");
        documents.push(metadata);
    }
    assert_eq!(documents[0], documents[1], "one document at both paths");
    let metadata = &documents[0];
    assert_eq!(metadata["issuer"], "https://keys.example.com/");
    assert_eq!(metadata["token_endpoint"], "https://keys.example.com/oauth/token");
    assert_eq!(metadata["jwks_uri"], "https://keys.example.com/.well-known/jwks.json");
    assert_eq!(metadata["grant_types_supported"], json!(["client_credentials"]));
    assert_eq!(metadata["scopes_supported"], json!(["keys:read", "keys:write", "keys:verify"]));
    // No authorization endpoint (RFC 8414 lets a client-credentials server omit it), so no
    // response type; no ID tokens, so nothing about them.
    assert_eq!(metadata["response_types_supported"], json!([]));
    for absent in
        ["authorization_endpoint", "id_token_signing_alg_values_supported", "subject_types_supported"]
    {
        assert!(metadata.get(absent).is_none(), "{absent} describes a flow that does not exist: {metadata}");
    }
}

/// What a relying party does with the metadata alone: verifies a token for the issuer and the
/// audience it publishes, with the keys at `jwks_uri`.
#[tokio::test]
async fn a_relying_party_configured_from_the_metadata_verifies_a_token() {
    let server = TestServer::start().await;
    let (status, _, metadata) = server.send(server.get(PATHS[0])).await;
    assert_eq!(status, StatusCode::OK, "{metadata}");
    let audience = metadata["audience"].as_str().expect("the audience is published");
    let issuer = metadata["issuer"].as_str().unwrap();

    let key = server.mint("p", "k").await;
    let token = server.token(&key.client_id, &key.secret).await;
    assert_eq!(crate::tokens::claims(&token)["aud"], audience, "the audience tokens carry");

    let jwks_path = metadata["jwks_uri"].as_str().unwrap().strip_prefix(&server.base).expect("ours");
    let jwks: JwkSet = serde_json::from_value(server.send(server.get(jwks_path)).await.2).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("verifies for the published issuer and audience");
    let mut elsewhere = validation.clone();
    elsewhere.set_audience(&["https://another.example/api"]);
    assert!(
        jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &elsewhere).is_err(),
        "the audience check can fail"
    );
}
