//! Access tokens: JWTs signed with keys that live in the database.
//!
//! Signing keys are made on the first start and stored, so that every instance on one database
//! signs and verifies alike. An RS256 key always exists (the documents' tokens are RS256); the
//! configured algorithm, when another, gets a key of its own, and the JWKS publishes both. Claims
//! follow the documents' example token (Auth0's client-credentials shape): `sub` is
//! `<clientId>@clients`, `azp` the client id, `gty` `client-credentials`.
//!
//! `signing-keys rotate` stores a newer key, which every instance picks up at its next reload
//! ([`RELOAD_INTERVAL`]); `keyring` decides which keys sign, verify and have retired. With a
//! secret key configured, private keys are stored sealed (`sealing`); keys found in clear, or
//! sealed with the previous secret key during a rotation of it, are sealed again at start.
//!
//! A token verified once is remembered (by its SHA-256, until its expiry) so that a client
//! presenting the same token again costs a hash and a lookup, not a signature check.

mod keyring;
mod sealing;
mod signing;

pub use keyring::KeyringError;
pub use sealing::{
    PREVIOUS_SECRET_KEY_SETTINGS, SECRET_KEY_SETTINGS, Sealing, SealingError, SealingKey, SecretSettings,
};
pub use signing::{SigningAlgorithm, SigningError, SigningKey, SigningKeyError};

use crate::clock::Clock;
use crate::ids::ClientId;
use crate::store::{SigningKeyRecord, Store, StoreError, StoredPrivateKey};
use chrono::{DateTime, Utc};
use jsonwebtoken::Validation;
use jsonwebtoken::jwk::JwkSet;
use keyring::{Keyring, Reading};
use keyward_model::Scopes;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

pub const GRANT_TYPE_CLAIM: &str = "client-credentials";

/// How often a running instance reads the signing keys again, so that a rotation reaches it
/// within a minute without a restart; a superseded key verifies this much longer (twice, for a
/// reload that fails once) than its tokens live.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] SigningKeyError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Sealing(#[from] SealingError),
    #[error("could not generate a signing key")]
    Generate,
    #[error(
        "the secret key is being rotated ({PREVIOUS_SECRET_KEY_SETTINGS} is set): rotate the signing key once \
         every instance runs with the new secret key alone, since an instance still on the old one could not \
         open a key sealed with the new"
    )]
    SecretKeyRotating,
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
    /// The scopes granted, space-separated (RFC 8693's `scope`): within the key's when issued,
    /// and held only while the key still holds them. Tokens issued before tokens named their
    /// scopes have none, and grant their key's.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "a_string")]
    pub scope: Option<String>,
}

/// A claim that, when present, is a string: `null` is nothing Keyward issues.
fn a_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// What a valid token grants: its key's rights, within the scopes it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub client_id: ClientId,
    pub scopes: Scopes,
}

/// What a verified token is remembered as.
#[derive(Clone)]
struct Verified {
    exp: u64,
    granted: Granted,
    /// The key that signed it: once that key retires, the token is refused though remembered.
    kid: Arc<str>,
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
    /// Seals the private keys in the database; without it they are stored in clear.
    pub sealing: Option<Arc<Sealing>>,
    /// How often the keys are read again ([`RELOAD_INTERVAL`] but in tests).
    pub reload_interval: Duration,
}

/// Issues and verifies access tokens.
pub struct TokenService {
    /// The keys in force, swapped whole by a reload.
    keyring: RwLock<Arc<Keyring>>,
    algorithm: SigningAlgorithm,
    sealing: Option<Arc<Sealing>>,
    reload_interval: Duration,
    ttl: Duration,
    /// `iss` and `aud` of every token issued, and required of every token verified.
    issuer: String,
    audience: String,
    clock: Arc<dyn Clock>,
    /// SHA-256 of a token -> what the token verified as.
    verified: Cache<[u8; 32], Verified>,
}

impl TokenService {
    /// Loads the database's signing keys, first sealing with the secret key, when one is
    /// configured, those stored in clear or sealed with the previous secret key, and making and storing an RS256 key and one for the configured algorithm
    /// where there is none. Tokens are issued and checked at `clock`'s time.
    pub async fn load_or_create(
        store: &dyn Store,
        settings: &TokenSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenKeyError> {
        let algorithm = settings.algorithm;
        let sealing = settings.sealing.as_deref();
        let stored = store.signing_keys().await?;
        match sealing {
            Some(sealing) => {
                seal_again(store, &stored, sealing).await?;
                if sealing.rotating() {
                    tracing::warn!(
                        "the previous secret key ({PREVIOUS_SECRET_KEY_SETTINGS}) is set: remove it once every \
                         instance has started with the current one"
                    );
                }
            }
            None => tracing::warn!(
                "no secret key ({SECRET_KEY_SETTINGS}): token signing keys are stored in clear, and \
                 whoever reads the database can sign tokens"
            ),
        }
        let mut wanted = vec![SigningAlgorithm::Rs256];
        if algorithm != SigningAlgorithm::Rs256 {
            wanted.push(algorithm);
        }
        for wanted in wanted {
            if !stored.iter().any(|record| record.algorithm == wanted) {
                let candidate = new_record(wanted, sealing, clock.now()).await?;
                store.insert_first_signing_key(&candidate).await?;
            }
        }
        // Read back: another instance may have stored its keys first.
        let records = store.signing_keys().await?;
        let reading = Reading {
            algorithm,
            overlap: overlap(settings.ttl, settings.reload_interval),
            sealing,
            previous: None,
        };
        let keyring = Keyring::read(&records, &reading, clock.now())?;
        Ok(Self::with_keyring(keyring, settings, clock))
    }

    fn with_keyring(keyring: Keyring, settings: &TokenSettings, clock: Arc<dyn Clock>) -> Self {
        let verified =
            Cache::builder().max_capacity(settings.cache_capacity).time_to_live(settings.ttl).build();
        Self {
            keyring: RwLock::new(Arc::new(keyring)),
            algorithm: settings.algorithm,
            sealing: settings.sealing.clone(),
            reload_interval: settings.reload_interval,
            ttl: settings.ttl,
            issuer: issuer(&settings.base_url),
            audience: audience(&settings.base_url),
            clock,
            verified,
        }
    }

    /// Reads the signing keys again and puts them in force: a rotation made elsewhere signs
    /// from now on here, and keys past their retirement are dropped. On an error the keys in force
    /// stay.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), TokenKeyError> {
        let records = store.signing_keys().await?;
        let current = self.keyring();
        let reading = Reading {
            algorithm: self.algorithm,
            overlap: overlap(self.ttl, self.reload_interval),
            sealing: self.sealing.as_deref(),
            previous: Some(&current),
        };
        let keyring = Keyring::read(&records, &reading, self.clock.now())?;
        if keyring.signer().kid != current.signer().kid {
            tracing::info!(kid = %keyring.signer().kid, "a new token signing key signs from now on");
        }
        *self.keyring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keyring);
        Ok(())
    }

    /// Reloads the signing keys every reload interval, for as long as the server runs.
    pub async fn follow_rotations(self: Arc<Self>, store: Arc<dyn Store>) {
        let start = tokio::time::Instant::now() + self.reload_interval;
        let mut interval = tokio::time::interval_at(start, self.reload_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = self.reload(store.as_ref()).await {
                tracing::warn!(%error, "reloading the token signing keys failed; the loaded keys stay");
            }
        }
    }

    /// Stores a new key of the configured algorithm, which signs from now on (here at once, on
    /// other instances from their next reload); returns its `kid`.
    pub async fn rotate(&self, store: &dyn Store) -> Result<String, TokenKeyError> {
        let kid = rotate(store, self.algorithm, self.sealing.as_deref(), self.clock.now()).await?;
        self.reload(store).await?;
        Ok(kid)
    }

    fn keyring(&self) -> Arc<Keyring> {
        self.keyring.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The algorithm new tokens are signed with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The public keys of every key that verifies now, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        self.keyring().jwks(self.clock.now())
    }

    /// A signed access token for `client_id`, granting `scopes` (within its key's).
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
            scope: Some(scopes.to_string()),
        };
        self.keyring().signer().sign(&claims)
    }

    /// What a token this service signed grants, if the token is valid now: one of our keys that
    /// has not retired signed it, for our issuer and audience, and it has not expired.
    pub fn verify(&self, token: &str) -> Option<Granted> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.clock.now();
        let now_secs = self.now_secs();
        if let Some(known) = self.verified.get(&digest) {
            let in_force = self.keyring().accepting(&known.kid, now).is_some();
            return (now_secs < known.exp && in_force).then_some(known.granted);
        }
        let (claims, kid) = self.check(token, now)?;
        // RFC 7519: valid only before `exp`, with no leeway.
        if now_secs >= claims.exp {
            return None;
        }
        let scopes = match claims.scope {
            Some(scope) => scope.parse().ok()?,
            None => Scopes::all(),
        };
        let granted = Granted { client_id: ClientId::new(claims.azp), scopes };
        self.verified.insert(digest, Verified { exp: claims.exp, granted: granted.clone(), kid });
        Some(granted)
    }

    /// The claims of `token`, and its key's `kid`, if one of our keys in force at `now` signed it
    /// and they are consistent; the expiry is left to the caller.
    fn check(&self, token: &str, now: DateTime<Utc>) -> Option<(Claims, Arc<str>)> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = self.keyring().accepting(header.kid.as_deref()?, now)?.clone();
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
        consistent.then(|| (claims, Arc::from(key.kid.as_str())))
    }

    /// The clock's time in whole seconds since the epoch, as `iat` and `exp` count.
    fn now_secs(&self) -> u64 {
        u64::try_from(self.clock.now().timestamp()).unwrap_or_default()
    }
}

/// Stores a new signing key of `algorithm`, sealed with `sealing` if given, made at `now`, which
/// every instance makes its signer at its next reload; returns its `kid`. Refused when the stored
/// keys do not open with `sealing`, or while the secret key is being rotated, so that no instance
/// is handed a key it cannot open.
pub async fn rotate(
    store: &dyn Store,
    algorithm: SigningAlgorithm,
    sealing: Option<&Sealing>,
    now: DateTime<Utc>,
) -> Result<String, TokenKeyError> {
    if sealing.is_some_and(Sealing::rotating) {
        return Err(TokenKeyError::SecretKeyRotating);
    }
    let stored = store.signing_keys().await?;
    for record in &stored {
        if let StoredPrivateKey::Sealed(sealed) = &record.private_key {
            let sealing = sealing.ok_or_else(|| SealingError::NoSecretKey { kid: record.kid.clone() })?;
            sealing.open(&record.kid, sealed)?;
        }
    }
    // Newer than every stored key, so that it signs even when this machine's clock lags.
    let newest = stored.iter().map(|record| record.created + chrono::TimeDelta::milliseconds(1)).max();
    let record = new_record(algorithm, sealing, newest.map_or(now, |newest| newest.max(now))).await?;
    let kid = record.kid.clone();
    store.insert_signing_key(&record).await?;
    Ok(kid)
}

/// How long a superseded key keeps verifying: its last tokens' lifetime, after the instances
/// that have not reloaded yet stopped signing with it.
fn overlap(ttl: Duration, reload_interval: Duration) -> Duration {
    ttl.saturating_add(reload_interval.saturating_mul(2))
}

/// A new key pair of `algorithm`, made at `now`, as it is stored: sealed when `sealing` is given.
async fn new_record(
    algorithm: SigningAlgorithm,
    sealing: Option<&Sealing>,
    now: DateTime<Utc>,
) -> Result<SigningKeyRecord, TokenKeyError> {
    let (kid, pem) = tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
        .await
        .map_err(|_| TokenKeyError::Generate)??;
    let private_key = match sealing {
        Some(sealing) => StoredPrivateKey::Sealed(sealing.seal(&kid, &pem)?),
        None => StoredPrivateKey::Clear(pem.to_string()),
    };
    Ok(SigningKeyRecord { kid, algorithm, private_key, created: now })
}

/// Seals with the current secret key every key of `stored` kept in clear or sealed with the
/// previous secret key, after checking that each opens again. A key that opens with neither is
/// left for the keyring to refuse if it is still in force.
async fn seal_again(
    store: &dyn Store,
    stored: &[SigningKeyRecord],
    sealing: &Sealing,
) -> Result<(), TokenKeyError> {
    for record in stored {
        let sealed = match &record.private_key {
            StoredPrivateKey::Clear(pem) => {
                let sealed = sealing.seal(&record.kid, pem)?;
                sealing.open(&record.kid, &sealed)?;
                sealed
            }
            StoredPrivateKey::Sealed(sealed) => match sealing.reseal(&record.kid, sealed) {
                Ok(Some(resealed)) => resealed,
                Ok(None) | Err(_) => continue,
            },
        };
        store.seal_signing_key(&record.kid, &record.private_key, &sealed).await?;
        tracing::info!(kid = %record.kid, "sealed a token signing key with the current secret key");
    }
    Ok(())
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

    pub(super) const BASE: &str = "https://keys.example.com";

    fn settings(algorithm: SigningAlgorithm, base_url: &str) -> TokenSettings {
        TokenSettings {
            algorithm,
            ttl: Duration::from_secs(60),
            cache_capacity: 1000,
            base_url: base_url.into(),
            sealing: None,
            reload_interval: RELOAD_INTERVAL,
        }
    }

    /// A new key of `algorithm` made at `created`, stored in clear.
    fn record(algorithm: SigningAlgorithm, created: DateTime<Utc>) -> SigningKeyRecord {
        let (kid, pem) = SigningKey::generate(algorithm).unwrap();
        SigningKeyRecord { kid, algorithm, private_key: StoredPrivateKey::Clear(pem.to_string()), created }
    }

    pub(super) fn records(algorithm: SigningAlgorithm) -> Vec<SigningKeyRecord> {
        let mut records = vec![record(SigningAlgorithm::Rs256, Utc::now())];
        if algorithm != SigningAlgorithm::Rs256 {
            records.push(record(algorithm, Utc::now()));
        }
        records
    }

    fn service(algorithm: SigningAlgorithm, clock: Arc<ManualClock>) -> TokenService {
        service_with(&records(algorithm), algorithm, BASE, clock)
    }

    pub(super) fn service_with(
        records: &[SigningKeyRecord],
        algorithm: SigningAlgorithm,
        base_url: &str,
        clock: Arc<ManualClock>,
    ) -> TokenService {
        let settings = settings(algorithm, base_url);
        let reading = Reading {
            algorithm,
            overlap: overlap(settings.ttl, settings.reload_interval),
            sealing: None,
            previous: None,
        };
        let keyring = Keyring::read(records, &reading, clock.now()).unwrap();
        TokenService::with_keyring(keyring, &settings, clock)
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
        assert_eq!(
            service.verify(&token).map(|granted| granted.client_id),
            Some(ClientId::from("c")),
            "valid when issued"
        );
        clock.advance(Duration::from_secs(59));
        assert!(service.verify(&token).is_some(), "a second before expiry, remembered");
        let afresh = service_with(&keys, SigningAlgorithm::Rs256, BASE, clock.clone());
        assert!(afresh.verify(&token).is_some(), "a second before expiry, checked afresh");
        clock.advance(Duration::from_secs(1));
        assert!(service.verify(&token).is_none(), "expired at exp although remembered");
        assert!(afresh.verify(&token).is_none(), "expired at exp, with no leeway");
    }

    #[test]
    fn a_token_grants_the_scopes_it_was_issued_for() {
        let service = service(SigningAlgorithm::Rs256, Arc::new(ManualClock::starting_now()));
        let reader: Scopes = "keys:read".parse().unwrap();
        let token = service.issue("c", &reader).unwrap();
        assert_eq!(claims_of(&token).scope.as_deref(), Some("keys:read"));
        let granted = service.verify(&token).unwrap();
        assert_eq!((granted.client_id.as_str(), &granted.scopes), ("c", &reader));
        assert_eq!(service.verify(&token).unwrap().scopes, reader, "remembered alike");
        // Signed by our key: one from before tokens named scopes, and one naming a scope that
        // does not exist.
        let mut claims = claims_of(&token);
        claims.scope = None;
        let unscoped = service.keyring().signer().sign(&claims).unwrap();
        assert_eq!(service.verify(&unscoped).unwrap().scopes, Scopes::all(), "its key's, at use");
        claims.scope = Some("keys:admin".into());
        assert!(service.verify(&service.keyring().signer().sign(&claims).unwrap()).is_none());
        let mut null = serde_json::to_value(&claims).unwrap();
        null["scope"] = serde_json::Value::Null;
        assert!(
            service.verify(&service.keyring().signer().sign(&null).unwrap()).is_none(),
            "no claim we issue"
        );
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_is_refused_although_our_key_signed_it() {
        let clock = Arc::new(ManualClock::starting_now());
        let keys = records(SigningAlgorithm::Rs256);
        let ours = service_with(&keys, SigningAlgorithm::Rs256, BASE, clock.clone());
        let elsewhere = service_with(&keys, SigningAlgorithm::Rs256, "https://evil.example", clock);
        let token = elsewhere.issue("c", &Scopes::all()).unwrap();
        assert_eq!(
            elsewhere.verify(&token).map(|granted| granted.client_id),
            Some(ClientId::from("c")),
            "our key signed it"
        );
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
            let jwks = service.jwks();
            let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("published");
            let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
            let mut validation = Validation::new(algorithm.jwt());
            validation.set_audience(&[audience(BASE)]);
            validation.set_issuer(&[issuer(BASE)]);
            let claims = jsonwebtoken::decode::<Claims>(&token, &key, &validation).unwrap().claims;
            assert_eq!(claims.azp, "c");
            assert_eq!(service.verify(&token).map(|granted| granted.client_id), Some(ClientId::from("c")));
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

/// The keys as the database holds them: sealed at rest, rotated, retired.
#[cfg(test)]
mod stored_tests;

#[cfg(test)]
mod fuzz;
