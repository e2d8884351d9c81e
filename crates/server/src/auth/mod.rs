//! Who is calling: credentials in, a [`Principal`] out.

pub mod cache;
pub mod header;
pub mod throttle;
pub mod turns;

pub use cache::CredentialCache;
pub use header::Presented;
pub use throttle::Throttle;

use crate::hashing::SecretHasher;
use crate::ids::ClientId;
use crate::secrets::{CLIENT_ID_LEN, SECRET_LEN};
use crate::signin::SignIn;
use crate::store::{Key, Store, StoreError};
use crate::tokens::TokenService;
use keyward_model::KeyFormat;
use keyward_model::Secret;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credentials are unknown, wrong, expired or revoked. Callers are never told which.
    #[error("invalid credentials")]
    Invalid,
    /// Something that claims to be a full key but is not well-formed (checked without the store).
    #[error("malformed key")]
    Malformed,
    /// Too many uncached verifications for this client id or from this address.
    #[error("too many attempts; retry in {0:?}")]
    Throttled(Duration),
    /// Every hashing slot stayed busy: the server is at capacity.
    #[error(transparent)]
    Busy(#[from] crate::hashing::HasherBusy),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A sign-in could not be judged or completed: no identity provider's keys could be fetched,
    /// or provisioning the profile's default key failed.
    #[error(transparent)]
    Fault(crate::error::Fault),
}

/// Who a request authenticates as: the created key whose credential it presented (directly, or
/// through a token issued for it), or the default key of the person who signed in.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Shared with the caches that hold it.
    pub key: Arc<Key>,
    pub via: Via,
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A key's credentials, or an access token issued for them.
    Credentials,
    /// A person's access token from the identity provider `issuer`.
    SignIn { issuer: Arc<str> },
}

impl Via {
    pub fn is_sign_in(&self) -> bool {
        matches!(self, Via::SignIn { .. })
    }
}

impl std::ops::Deref for Principal {
    type Target = Key;

    fn deref(&self) -> &Key {
        &self.key
    }
}

/// What an [`Authenticator`] is made of.
pub struct AuthenticatorParts {
    pub store: Arc<dyn Store>,
    pub hasher: SecretHasher,
    pub cache: Arc<CredentialCache>,
    pub tokens: Arc<TokenService>,
    pub format: KeyFormat,
    pub throttle: Throttle,
    /// People's sign-in through identity providers, when configured.
    pub sign_in: Option<Arc<SignIn>>,
}

/// How long a verification waits for its turn behind another of the same client id.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// Verifies full keys, client credentials and access tokens.
pub struct Authenticator {
    parts: AuthenticatorParts,
    /// One uncached verification of a client id at a time: the others wait for it, then find its
    /// result in the cache. A burst of first uses of one key costs one lookup, one hash and no
    /// throttle cell, and concurrent guesses of one id are taken in turn.
    turns: turns::Turns<String>,
}

impl Authenticator {
    pub fn new(parts: AuthenticatorParts) -> Self {
        let turns = turns::Turns::new(parts.cache.capacity(), TURN_WAIT);
        Self { parts, turns }
    }

    /// Who `presented` authenticates as, asked from `address`.
    pub async fn authenticate(
        &self,
        presented: &Presented,
        address: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let (kind, result) = match presented {
            Presented::Token(token) if self.parts.format.is_prefixed(token) => {
                ("full_key", self.full_key(token, address).await.map(|key| (key, Via::Credentials)))
            }
            Presented::Token(token) => match (self.access_token(token).await, &self.parts.sign_in) {
                (Err(AuthError::Invalid), Some(sign_in)) => {
                    ("sign_in", self.signed_in(sign_in, token, address).await)
                }
                (result, _) => ("bearer", result.map(|key| (key, Via::Credentials))),
            },
            Presented::ClientCredentials { client_id, secret } => (
                "basic",
                self.client_credentials(client_id, secret, address).await.map(|key| (key, Via::Credentials)),
            ),
        };
        let result = result.map(|(key, via)| Principal { key, via });
        let outcome = match &result {
            Ok(_) => "ok",
            Err(AuthError::Invalid | AuthError::Malformed) => "invalid",
            Err(AuthError::Throttled(_)) => "throttled",
            Err(AuthError::Busy(_)) => "busy",
            Err(AuthError::Store(_) | AuthError::Fault(_)) => "unavailable",
        };
        metrics::counter!("keyward_authentications_total", "kind" => kind, "outcome" => outcome).increment(1);
        result
    }

    /// Verifies a full key: its checksum first (no store, no hash), then as client credentials.
    pub async fn full_key(&self, key: &str, address: Option<IpAddr>) -> Result<Arc<Key>, AuthError> {
        let (client_id, secret) = self.parts.format.decode(key).map_err(|_| AuthError::Malformed)?;
        self.client_credentials(&client_id, &secret, address).await
    }

    /// Verifies a client id and secret: from the cache when this exact pair verified before,
    /// otherwise within the throttle's bounds (see [`throttle`]).
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: &Secret,
        address: Option<IpAddr>,
    ) -> Result<Arc<Key>, AuthError> {
        let parts = &self.parts;
        // Anything not shaped like our credentials is refused before any query or hash.
        if !is_base62(client_id, CLIENT_ID_LEN) || !is_base62(secret.expose(), SECRET_LEN) {
            return Err(AuthError::Invalid);
        }
        // A revocation removes the verified entry and keeps it from coming back: a hit needs no
        // other check.
        if let Some(principal) = parts.cache.verified(client_id, secret.expose()) {
            metrics::counter!("keyward_credential_cache_total", "result" => "hit").increment(1);
            return Ok(principal);
        }
        metrics::counter!("keyward_credential_cache_total", "result" => "miss").increment(1);
        if parts.cache.is_revoked(client_id) {
            return Err(AuthError::Invalid);
        }
        let _turn = self.turns.take(client_id).await?;
        if let Some(principal) = parts.cache.verified(client_id, secret.expose()) {
            return Ok(principal);
        }
        // The owner presenting the secret that last verified needs no throttle and no hash:
        // only the store's word that the key still exists.
        if parts.cache.known_good(client_id, secret.expose()) {
            let stored =
                parts.store.credential(&ClientId::from(client_id)).await?.ok_or(AuthError::Invalid)?;
            let principal = Arc::new(stored.key);
            parts.cache.remember_verified(secret.expose(), &principal);
            return Ok(principal);
        }
        parts.throttle.admit(client_id, address).map_err(|wait| {
            metrics::counter!("keyward_throttled_total").increment(1);
            AuthError::Throttled(wait)
        })?;
        let verified = self.verify_uncached(client_id, secret).await;
        match &verified {
            Ok(_) => parts.throttle.succeeded(client_id, address),
            Err(AuthError::Invalid) => parts.throttle.failed(address),
            Err(_) => {}
        }
        verified
    }

    /// The costly part, taken in turn per client id: one lookup by client id (none for an id
    /// known not to exist) and one argon2 verification on a hashing slot.
    async fn verify_uncached(&self, client_id: &str, secret: &Secret) -> Result<Arc<Key>, AuthError> {
        let parts = &self.parts;
        if parts.cache.is_absent(client_id) {
            return Err(AuthError::Invalid);
        }
        let Some(stored) = parts.store.credential(&ClientId::from(client_id)).await? else {
            parts.cache.remember_absent(client_id);
            return Err(AuthError::Invalid);
        };
        let slot = parts.hasher.slot().await?;
        if !slot.verify(secret.clone(), stored.secret_hash.clone()).await {
            return Err(AuthError::Invalid);
        }
        let principal = Arc::new(stored.key);
        parts.cache.remember_verified(secret.expose(), &principal);
        Ok(principal)
    }

    /// Verifies an access token and that the key it was issued for still exists; the token
    /// holds what both its key holds now and it was granted.
    pub async fn access_token(&self, token: &str) -> Result<Arc<Key>, AuthError> {
        let granted = self.parts.tokens.verify(token).ok_or(AuthError::Invalid)?;
        let key = self.live_key(granted.client_id.as_str()).await?;
        if key.scopes.is_subset(&granted.scopes) {
            return Ok(key);
        }
        let scopes = key.scopes.intersection(&granted.scopes);
        Ok(Arc::new(Key { scopes, ..Key::clone(&key) }))
    }

    /// The default key that a person's sign-in token signs in as. A key deleted since the token
    /// signed in is provisioned anew: the person is signed in, and acts through it.
    async fn signed_in(
        &self,
        sign_in: &SignIn,
        token: &str,
        address: Option<IpAddr>,
    ) -> Result<(Arc<Key>, Via), AuthError> {
        let mut signed_in = sign_in.sign_in(token, address).await?;
        let key = match self.live_key(signed_in.client_id.as_str()).await {
            Err(AuthError::Invalid) => {
                sign_in.forget(token);
                signed_in = sign_in.sign_in(token, address).await?;
                self.live_key(signed_in.client_id.as_str()).await?
            }
            found => found?,
        };
        Ok((key, Via::SignIn { issuer: signed_in.issuer }))
    }

    async fn live_key(&self, client_id: &str) -> Result<Arc<Key>, AuthError> {
        let parts = &self.parts;
        if let Some(principal) = parts.cache.live(client_id) {
            return Ok(principal);
        }
        if parts.cache.is_revoked(client_id) {
            return Err(AuthError::Invalid);
        }
        let stored = parts.store.credential(&ClientId::from(client_id)).await?.ok_or(AuthError::Invalid)?;
        let principal = Arc::new(stored.key);
        parts.cache.remember_live(&principal);
        Ok(principal)
    }

    /// Throttle buckets held, per kind.
    pub fn throttle_buckets(&self) -> (u64, u64) {
        self.parts.throttle.buckets()
    }
}

fn is_base62(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_alphanumeric())
}
