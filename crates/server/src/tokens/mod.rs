//! Access tokens: JWTs signed with keys that live in the database.
//!
//! Signing keys are made on the first start and stored, so that every instance on one database
//! signs and verifies alike. An RS256 key always exists (the documents' tokens are RS256); the
//! configured algorithm, when another, gets a key of its own, and the JWKS publishes both. Claims
//! follow the documents' example token (Auth0's client-credentials shape): `sub` is
//! `<clientId>@clients`, `azp` the client id, `gty` `client-credentials`.
//!
//! A token verified once is remembered (by its SHA-256, until its expiry) so that a client
//! presenting the same token again costs a hash and a lookup, not a signature check.

mod signing;

pub use signing::{SigningAlgorithm, SigningError, SigningKey, SigningKeyError};

use crate::clock::Clock;
use crate::ids::ClientId;
use crate::store::{Store, StoreError};
use jsonwebtoken::Validation;
use jsonwebtoken::jwk::JwkSet;
use keyward_model::Scopes;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

pub const GRANT_TYPE_CLAIM: &str = "client-credentials";

#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] SigningKeyError),
    #[error("could not generate a signing key")]
    Generate,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub gty: String,
    pub azp: String,
    /// The key's scopes when the token was issued, space-separated (RFC 8693's `scope`): for
    /// resource servers. Keyward itself reads the key's scopes now, not the token's.
    #[serde(default)]
    pub scope: String,
}

/// What a verified token is remembered as.
#[derive(Clone)]
struct Verified {
    exp: u64,
    client_id: ClientId,
}

/// How tokens are issued.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The algorithm new tokens are signed with.
    pub algorithm: SigningAlgorithm,
    pub ttl: Duration,
    /// Most verified tokens remembered.
    pub cache_capacity: u64,
    /// The deployment's base URL: every token's issuer and audience, checked on every token.
    pub base_url: String,
}

/// Issues and verifies access tokens.
pub struct TokenService {
    /// Every stored key: any of them verifies.
    keys: Vec<SigningKey>,
    /// The index in `keys` of the key that signs.
    signer: usize,
    jwks: JwkSet,
    ttl: Duration,
    /// `iss` and `aud` of every token issued, and required of every token verified.
    issuer: String,
    audience: String,
    clock: Arc<dyn Clock>,
    /// SHA-256 of a token -> what the token verified as.
    verified: Cache<[u8; 32], Verified>,
}

impl TokenService {
    /// Loads the database's signing keys, first making and storing an RS256 key and one for the
    /// configured algorithm where there is none. Tokens are issued and checked at `clock`'s time.
    pub async fn load_or_create(
        store: &dyn Store,
        settings: &TokenSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenKeyError> {
        let algorithm = settings.algorithm;
        let mut wanted = vec![SigningAlgorithm::Rs256];
        if algorithm != SigningAlgorithm::Rs256 {
            wanted.push(algorithm);
        }
        let stored = store.signing_keys().await?;
        for wanted in wanted {
            if !stored.iter().any(|record| record.algorithm == wanted) {
                let candidate = tokio::task::spawn_blocking(move || SigningKey::generate(wanted))
                    .await
                    .map_err(|_| TokenKeyError::Generate)??;
                store.insert_first_signing_key(&candidate).await?;
            }
        }
        // Read back: another instance may have stored its keys first.
        let keys =
            store.signing_keys().await?.iter().map(SigningKey::from_record).collect::<Result<Vec<_>, _>>()?;
        Self::with_keys(keys, settings, clock)
    }

    fn with_keys(
        keys: Vec<SigningKey>,
        settings: &TokenSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenKeyError> {
        // The first key stored for the algorithm signs, on every instance.
        let signer =
            keys.iter().position(|key| key.algorithm == settings.algorithm).ok_or(TokenKeyError::Generate)?;
        let jwks = JwkSet { keys: keys.iter().map(|key| key.jwk.clone()).collect() };
        let verified =
            Cache::builder().max_capacity(settings.cache_capacity).time_to_live(settings.ttl).build();
        Ok(Self {
            keys,
            signer,
            jwks,
            ttl: settings.ttl,
            issuer: issuer(&settings.base_url),
            audience: audience(&settings.base_url),
            clock,
            verified,
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The algorithm new tokens are signed with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.keys[self.signer].algorithm
    }

    /// The public keys, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// A signed access token for `client_id`, whose key holds `scopes`.
    pub fn issue(&self, client_id: &str, scopes: &Scopes) -> Result<String, SigningError> {
        let now = self.now_secs();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: format!("{client_id}@clients"),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            gty: GRANT_TYPE_CLAIM.to_owned(),
            azp: client_id.to_owned(),
            scope: scopes.to_string(),
        };
        self.keys[self.signer].sign(&claims)
    }

    /// The client id a token this service signed was issued to, if the token is valid now: one
    /// of our keys signed it, for our issuer and audience, and it has not expired.
    pub fn verify(&self, token: &str) -> Option<ClientId> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.now_secs();
        if let Some(known) = self.verified.get(&digest) {
            return (now < known.exp).then_some(known.client_id);
        }
        let claims = self.check(token)?;
        // RFC 7519: valid only before `exp`, with no leeway.
        if now >= claims.exp {
            return None;
        }
        let client_id = ClientId::new(claims.azp);
        self.verified.insert(digest, Verified { exp: claims.exp, client_id: client_id.clone() });
        Some(client_id)
    }

    /// The claims of `token` if one of our keys signed it and they are consistent; the expiry is
    /// left to the caller.
    fn check(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.keys.iter().find(|key| header.kid.as_deref() == Some(key.kid.as_str()))?;
        // The key decides the algorithm, never the token's header.
        let mut validation = Validation::new(key.algorithm.jwt());
        // jsonwebtoken would read the system time; `exp` is checked against our clock.
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).ok()?.claims;
        let consistent = claims.gty == GRANT_TYPE_CLAIM
            && claims.sub.strip_suffix("@clients") == Some(claims.azp.as_str());
        consistent.then_some(claims)
    }

    /// The clock's time in whole seconds since the epoch, as `iat` and `exp` count.
    fn now_secs(&self) -> u64 {
        u64::try_from(self.clock.now().timestamp()).unwrap_or_default()
    }
}

/// The `iss` claim: the base URL with a trailing slash, as Auth0 writes it.
pub fn issuer(base: &str) -> String {
    format!("{base}/")
}

/// The `aud` claim: the API this token is for.
pub fn audience(base: &str) -> String {
    format!("{base}/api")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const BASE: &str = "https://keys.example.com";

    fn settings(algorithm: SigningAlgorithm, base_url: &str) -> TokenSettings {
        TokenSettings {
            algorithm,
            ttl: Duration::from_secs(60),
            cache_capacity: 1000,
            base_url: base_url.into(),
        }
    }

    fn records(algorithm: SigningAlgorithm) -> Vec<crate::store::SigningKeyRecord> {
        let mut records = vec![SigningKey::generate(SigningAlgorithm::Rs256).unwrap()];
        if algorithm != SigningAlgorithm::Rs256 {
            records.push(SigningKey::generate(algorithm).unwrap());
        }
        records
    }

    fn service(algorithm: SigningAlgorithm, clock: Arc<ManualClock>) -> TokenService {
        service_with(&records(algorithm), algorithm, BASE, clock)
    }

    fn service_with(
        records: &[crate::store::SigningKeyRecord],
        algorithm: SigningAlgorithm,
        base_url: &str,
        clock: Arc<ManualClock>,
    ) -> TokenService {
        let keys = records.iter().map(|record| SigningKey::from_record(record).unwrap()).collect();
        TokenService::with_keys(keys, &settings(algorithm, base_url), clock).unwrap()
    }

    fn claims_of(token: &str) -> Claims {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_token_is_valid_until_its_expiry_by_the_clock() {
        let clock = Arc::new(ManualClock::starting_now());
        let keys = records(SigningAlgorithm::Rs256);
        let service = service_with(&keys, SigningAlgorithm::Rs256, BASE, clock.clone());
        let token = service.issue("c", &Scopes::all()).unwrap();
        let claims = claims_of(&token);
        assert_eq!(claims.iat, u64::try_from(clock.now().timestamp()).unwrap());
        assert_eq!(claims.exp - claims.iat, 60);
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            ("https://keys.example.com/", "https://keys.example.com/api")
        );
        assert_eq!(service.verify(&token), Some(ClientId::from("c")), "valid when issued");
        clock.advance(Duration::from_secs(59));
        assert!(service.verify(&token).is_some(), "a second before expiry, remembered");
        let afresh = service_with(&keys, SigningAlgorithm::Rs256, BASE, clock.clone());
        assert!(afresh.verify(&token).is_some(), "a second before expiry, checked afresh");
        clock.advance(Duration::from_secs(1));
        assert!(service.verify(&token).is_none(), "expired at exp although remembered");
        assert!(afresh.verify(&token).is_none(), "expired at exp, with no leeway");
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_is_refused_although_our_key_signed_it() {
        let clock = Arc::new(ManualClock::starting_now());
        let keys = records(SigningAlgorithm::Rs256);
        let ours = service_with(&keys, SigningAlgorithm::Rs256, BASE, clock.clone());
        let elsewhere = service_with(&keys, SigningAlgorithm::Rs256, "https://evil.example", clock);
        let token = elsewhere.issue("c", &Scopes::all()).unwrap();
        assert_eq!(elsewhere.verify(&token), Some(ClientId::from("c")), "our key signed it");
        assert!(ours.verify(&token).is_none(), "iss and aud are ours only");
    }

    #[test]
    fn every_algorithm_signs_what_its_published_key_verifies() {
        for algorithm in [SigningAlgorithm::Rs256, SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let service = service(algorithm, Arc::new(ManualClock::starting_now()));
            assert_eq!(service.algorithm(), algorithm);
            let token = service.issue("c", &Scopes::all()).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.alg, algorithm.jwt());
            // As a third party verifies: the key from the JWKS by `kid`, the algorithm it names.
            let jwk = service.jwks().find(header.kid.as_deref().unwrap()).expect("published");
            let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
            let mut validation = Validation::new(algorithm.jwt());
            validation.set_audience(&[audience(BASE)]);
            validation.set_issuer(&[issuer(BASE)]);
            let claims = jsonwebtoken::decode::<Claims>(&token, &key, &validation).unwrap().claims;
            assert_eq!(claims.azp, "c");
            assert_eq!(service.verify(&token), Some(ClientId::from("c")));
            let rs256_published = service
                .jwks()
                .keys
                .iter()
                .any(|jwk| jwk.common.key_algorithm == Some(jsonwebtoken::jwk::KeyAlgorithm::RS256));
            assert!(rs256_published, "the RS256 key is always published");
        }
    }

    #[test]
    fn a_token_altered_or_signed_elsewhere_is_refused() {
        let service = service(SigningAlgorithm::Es256, Arc::new(ManualClock::starting_now()));
        let token = service.issue("c", &Scopes::all()).unwrap();
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut claims = claims_of(&token);
        claims.azp = "d".into();
        claims.sub = "d@clients".into();
        let forged_claims = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&claims).unwrap(),
        );
        assert!(service.verify(&format!("{head}.{forged_claims}.{signature}")).is_none());
        let stranger = self::service(SigningAlgorithm::Es256, Arc::new(ManualClock::starting_now()));
        assert!(service.verify(&stranger.issue("c", &Scopes::all()).unwrap()).is_none(), "unknown kid");
        // A header that names another algorithm for our key is refused: the key decides.
        let mut header = jsonwebtoken::decode_header(&token).unwrap();
        header.alg = jsonwebtoken::Algorithm::HS256;
        let relabelled = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&header).unwrap(),
        );
        assert!(service.verify(&format!("{relabelled}.{}", rest)).is_none());
    }
}
