//! Access tokens: RS256 JWTs signed with a key that lives in the database.
//!
//! The signing key is made on the first start and stored, so that every instance on one database
//! signs and verifies alike. Claims follow the documents' example token (Auth0's
//! client-credentials shape): `sub` is `<clientId>@clients`, `azp` the client id, `gty`
//! `client-credentials`.

use crate::clock::Clock;
use crate::store::{SigningKeyRecord, Store, StoreError};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use chrono::Utc;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub const GRANT_TYPE_CLAIM: &str = "client-credentials";

#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not generate a signing key")]
    Generate,
    #[error("the stored signing key is unusable: {0}")]
    Unusable(#[from] jsonwebtoken::errors::Error),
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
}

/// Issues and verifies access tokens.
pub struct TokenService {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: JwkSet,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl TokenService {
    /// Loads the database's signing key, making and storing one first if there is none.
    /// Tokens are issued and checked at `clock`'s time.
    pub async fn load_or_create(
        store: &dyn Store,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenKeyError> {
        if store.signing_key().await?.is_none() {
            let candidate = tokio::task::spawn_blocking(generate_signing_key)
                .await
                .map_err(|_| TokenKeyError::Generate)??;
            store.insert_first_signing_key(&candidate).await?;
        }
        // Read back: another instance may have stored its key first.
        let record = store.signing_key().await?.ok_or(TokenKeyError::Generate)?;
        Self::from_record(&record, ttl, clock)
    }

    fn from_record(
        record: &SigningKeyRecord,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenKeyError> {
        let encoding = EncodingKey::from_rsa_pem(record.private_key_pem.as_bytes())?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)?;
        jwk.common.key_id = Some(record.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
        let decoding = DecodingKey::from_jwk(&jwk)?;
        Ok(Self { kid: record.kid.clone(), encoding, decoding, jwks: JwkSet { keys: vec![jwk] }, ttl, clock })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The public keys, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// A signed access token for `client_id`, issued by `issuer` (the service's base URL).
    pub fn issue(&self, client_id: &str, issuer_base: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let now = self.now_secs();
        let claims = Claims {
            iss: issuer(issuer_base),
            sub: format!("{client_id}@clients"),
            aud: audience(issuer_base),
            iat: now,
            exp: now + self.ttl.as_secs(),
            gty: GRANT_TYPE_CLAIM.to_owned(),
            azp: client_id.to_owned(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// The claims of a token this service signed, if it is valid now. `expected_base`, when the
    /// public URL is configured, pins the issuer and audience; without one the base varies with
    /// the Host header, so only the signature, the key id and the expiry are checked.
    pub fn verify(&self, token: &str, expected_base: Option<&str>) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return None;
        }
        let mut validation = Validation::new(Algorithm::RS256);
        // jsonwebtoken would read the system time; `exp` is checked below against our clock.
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        match expected_base {
            Some(base) => {
                validation.set_issuer(&[issuer(base)]);
                validation.set_audience(&[audience(base)]);
            }
            None => validation.validate_aud = false,
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?.claims;
        // RFC 7519: valid only before `exp`, with no leeway.
        let current = self.now_secs() < claims.exp;
        let consistent = claims.gty == GRANT_TYPE_CLAIM
            && claims.sub.strip_suffix("@clients") == Some(claims.azp.as_str());
        (current && consistent).then_some(claims)
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

fn generate_signing_key() -> Result<SigningKeyRecord, TokenKeyError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| TokenKeyError::Generate)?;
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).map_err(|_| TokenKeyError::Generate)?;
    Ok(SigningKeyRecord {
        kid: crate::secrets::random_base62(16),
        private_key_pem: pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref())),
        created: Utc::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_token_is_valid_until_its_expiry_by_the_clock() {
        let clock = Arc::new(ManualClock::starting_now());
        let record = generate_signing_key().unwrap();
        let service = TokenService::from_record(&record, Duration::from_secs(60), clock.clone()).unwrap();
        let token = service.issue("c", "https://keys.example.com").unwrap();
        let claims = service.verify(&token, Some("https://keys.example.com")).expect("valid when issued");
        assert_eq!(claims.iat, u64::try_from(clock.now().timestamp()).unwrap());
        assert_eq!(claims.exp - claims.iat, 60);
        assert!(service.verify(&token, Some("https://other.example.com")).is_none(), "issuer pinned");
        clock.advance(Duration::from_secs(59));
        assert!(service.verify(&token, None).is_some(), "a second before expiry");
        clock.advance(Duration::from_secs(1));
        assert!(service.verify(&token, None).is_none(), "expired at exp, with no leeway");
    }
}
