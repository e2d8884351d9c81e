//! An identity provider on loopback, as Keyward's sign-in sees one: an OpenID discovery document,
//! a JWKS of ES256 keys that a test can rotate, and access tokens signed with them.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// The audience tokens of this provider carry for Keyward.
pub const AUDIENCE: &str = "https://keyward.test/api";

/// One signing key of the provider.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    /// A new ES256 key named `kid`.
    pub fn new(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ES256 key");
        let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("encoding key");
        // The uncompressed point: 0x04, then x and y.
        let point = pair.public_key_raw();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self { kid: kid.to_owned(), encoding, jwk }
    }

    /// `claims`, signed with this key under its kid.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signed token")
    }
}

#[derive(Default)]
struct Published {
    keys: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    issuer: Mutex<String>,
}

/// The provider, serving until dropped.
pub struct IdentityProvider {
    /// The issuer, as its tokens' `iss` and its discovery document spell it.
    pub issuer: String,
    published: Arc<Published>,
    server: tokio::task::JoinHandle<()>,
}

impl IdentityProvider {
    /// A provider publishing `keys`.
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}/", listener.local_addr().expect("address"));
        let published = Arc::new(Published::default());
        *published.issuer.lock().expect("issuer") = issuer.clone();
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks))
            .with_state(published.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("identity provider");
        });
        let provider = Self { issuer, published, server };
        provider.publish(keys);
        provider
    }

    /// Publishes `keys` in place of those published before.
    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.published.keys.lock().expect("keys") = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.published.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The claims of a valid access token of this provider for `subject`, an hour long.
    pub fn claims(&self, subject: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer, "sub": subject, "aud": [AUDIENCE, format!("{}userinfo", self.issuer)],
            "iat": now, "exp": now + 3600, "scope": "openid profile",
        })
    }
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn discovery(State(published): State<Arc<Published>>) -> Json<Value> {
    let issuer = published.issuer.lock().expect("issuer").clone();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}jwks.json"),
        "authorization_endpoint": format!("{issuer}authorize"),
        "token_endpoint": format!("{issuer}oauth/token"),
    }))
}

async fn jwks(State(published): State<Arc<Published>>) -> Json<Value> {
    published.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "keys": *published.keys.lock().expect("keys") }))
}
