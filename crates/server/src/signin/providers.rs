//! The identity providers whose people sign in: each issuer's keys, fetched through its discovery
//! document and JWKS and cached, and the verification of the access tokens they sign.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The algorithms a sign-in token may be signed with: asymmetric ones only, so that no published
/// key can be taken for a shared secret, and never `none`.
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How long one fetch of a discovery document or a JWKS may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document or JWKS read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// The most keys kept of one issuer.
const MAX_KEYS: usize = 64;
/// Keys older than this are fetched again before they verify, so that a key the provider
/// withdrew stops verifying.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The longest `kid` looked up.
const MAX_KID_BYTES: usize = 256;

/// Who a sign-in token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    /// The token's `sub`: the profile id.
    pub subject: String,
    /// The token's `exp`, in seconds since the Unix epoch.
    pub expires_at: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Not a token of a configured issuer for a configured audience, or expired, or not signed by
    /// one of the issuer's keys. Callers are never told which.
    #[error("not a valid sign-in token")]
    Invalid,
    /// No key of any issuer could be fetched yet: the token cannot be judged now.
    #[error("the identity providers' keys cannot be fetched")]
    Unavailable,
}

/// The configured issuers and the audiences their tokens must carry.
pub struct IdentityProviders {
    issuers: Vec<Issuer>,
    audiences: Vec<String>,
    http: reqwest::Client,
    /// The least time between two fetches of one issuer's keys.
    refresh_floor: Duration,
}

struct Issuer {
    url: String,
    keys: RwLock<Arc<IssuerKeys>>,
    /// Held by the one fetch under way; when the last fetch started.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Default)]
struct IssuerKeys {
    by_kid: HashMap<String, PublicKey>,
    fetched: Option<Instant>,
}

struct PublicKey {
    key: DecodingKey,
    /// The key's `alg`, when its JWK names one: no other algorithm verifies with it.
    algorithm: Option<Algorithm>,
}

/// Why fetching an issuer's keys failed; logged, never shown to a client.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("{url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url}: status {status}")]
    Status { url: String, status: reqwest::StatusCode },
    #[error("{url}: larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error("{url}: not the expected JSON: {source}")]
    Json { url: String, source: serde_json::Error },
    #[error("the discovery document names the issuer {0:?}")]
    OtherIssuer(String),
    #[error("jwks_uri {0:?} is neither https nor http on a loopback host")]
    InsecureJwksUri(String),
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

impl IdentityProviders {
    /// Providers for `issuers`, whose tokens must carry one of `audiences`; `None` when no issuer
    /// is configured.
    pub fn new(
        issuers: &[String],
        audiences: &[String],
        refresh_floor: Duration,
    ) -> anyhow::Result<Option<Self>> {
        if issuers.is_empty() {
            return Ok(None);
        }
        anyhow::ensure!(!audiences.is_empty(), "KEYWARD_OIDC_ISSUER is set: set KEYWARD_OIDC_AUDIENCE too");
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        let issuers = issuers
            .iter()
            .map(|url| Issuer {
                url: url.clone(),
                keys: RwLock::default(),
                last_fetch: tokio::sync::Mutex::new(None),
            })
            .collect();
        Ok(Some(Self { issuers, audiences: audiences.to_vec(), http, refresh_floor }))
    }

    /// Who `token` names, if one of the issuers' keys signed it for one of the audiences and it
    /// has not expired. A token naming a key not yet seen fetches the issuers' keys again, at most
    /// once per refresh floor.
    pub async fn verify(&self, token: &str) -> Result<Identity, SignInError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| SignInError::Invalid)?;
        let kid = header.kid.filter(|kid| kid.len() <= MAX_KID_BYTES).ok_or(SignInError::Invalid)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(SignInError::Invalid);
        }
        for issuer in &self.issuers {
            if issuer.keys().fetched.is_none_or(|at| at.elapsed() >= KEYS_MAX_AGE) {
                self.refresh(issuer).await;
            }
        }
        if self.find(&kid).is_none() {
            for issuer in &self.issuers {
                self.refresh(issuer).await;
            }
        }
        let Some((issuer, keys)) = self.find(&kid) else {
            let none_fetched = self.issuers.iter().all(|issuer| issuer.keys().fetched.is_none());
            return Err(if none_fetched { SignInError::Unavailable } else { SignInError::Invalid });
        };
        let key = &keys.by_kid[&kid];
        let fits =
            key.key.family() == header.alg.family() && key.algorithm.is_none_or(|alg| alg == header.alg);
        if !fits {
            return Err(SignInError::Invalid);
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&issuer.url]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|_| SignInError::Invalid)?
            .claims;
        Ok(Identity { issuer: issuer.url.clone(), subject: claims.sub, expires_at: claims.exp })
    }

    /// The issuer holding `kid`, and its keys.
    fn find(&self, kid: &str) -> Option<(&Issuer, Arc<IssuerKeys>)> {
        self.issuers.iter().find_map(|issuer| {
            let keys = issuer.keys();
            keys.by_kid.contains_key(kid).then_some((issuer, keys))
        })
    }

    /// Fetches the issuer's keys again, unless a fetch started within the refresh floor (one under
    /// way is waited for). A failed fetch keeps the keys held.
    async fn refresh(&self, issuer: &Issuer) {
        let mut last_fetch = issuer.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < self.refresh_floor) {
            return;
        }
        *last_fetch = Some(Instant::now());
        match self.fetch(&issuer.url).await {
            Ok(by_kid) => {
                let keys = Arc::new(IssuerKeys { by_kid, fetched: Some(Instant::now()) });
                *issuer.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
            }
            Err(error) => {
                tracing::warn!(issuer = %issuer.url, %error, "fetching the identity provider's keys failed");
            }
        }
    }

    /// The issuer's signing keys by `kid`, from its discovery document's `jwks_uri`.
    async fn fetch(&self, issuer: &str) -> Result<HashMap<String, PublicKey>, FetchError> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let discovery: Discovery = self.fetch_json(&url).await?;
        // OpenID Connect Discovery 1.0, §4.3: the document must name the issuer it was fetched for.
        if discovery.issuer != issuer {
            return Err(FetchError::OtherIssuer(discovery.issuer));
        }
        if crate::config::secure_url(&discovery.jwks_uri).is_err() {
            return Err(FetchError::InsecureJwksUri(discovery.jwks_uri));
        }
        let set: RawKeySet = self.fetch_json(&discovery.jwks_uri).await?;
        // A key this server cannot use (another type, for encryption, without a kid) is skipped,
        // not fatal: providers publish such keys beside their signing keys.
        let keys = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, public_key(&jwk)?)))
            .take(MAX_KEYS)
            .collect();
        Ok(keys)
    }

    /// A JSON document of at most [`MAX_DOCUMENT_BYTES`].
    async fn fetch_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let http = |source| FetchError::Http { url: url.to_owned(), source };
        let mut response = self.http.get(url).send().await.map_err(http)?;
        if !response.status().is_success() {
            return Err(FetchError::Status { url: url.to_owned(), status: response.status() });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge { url: url.to_owned() });
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|source| FetchError::Json { url: url.to_owned(), source })
    }
}

impl Issuer {
    fn keys(&self) -> Arc<IssuerKeys> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The verifying key of a signing JWK of an asymmetric type; `None` for any other.
fn public_key(jwk: &Jwk) -> Option<PublicKey> {
    if jwk.common.public_key_use.as_ref().is_some_and(|usage| *usage != PublicKeyUse::Signature) {
        return None;
    }
    let asymmetric = matches!(
        jwk.algorithm,
        AlgorithmParameters::RSA(_)
            | AlgorithmParameters::EllipticCurve(_)
            | AlgorithmParameters::OctetKeyPair(_)
    );
    if !asymmetric {
        return None;
    }
    let algorithm = match &jwk.common.key_algorithm {
        Some(algorithm) => {
            Some(algorithm.to_string().parse::<Algorithm>().ok().filter(|alg| ALGORITHMS.contains(alg))?)
        }
        None => None,
    };
    Some(PublicKey { key: DecodingKey::from_jwk(jwk).ok()?, algorithm })
}
