//! Sign-in through an identity provider. A person's access token from a configured issuer
//! authenticates as their profile (the token's `sub`), which exists from its first sign-in, by way
//! of the profile's `default` key, provisioned then: the person acts with that key's rights, and
//! the key list shows them its current access token, so that a CLI they sign in to can carry on
//! with Keyward's own tokens.

pub mod providers;

pub use providers::{Identity, IdentityProviders, SignInError};

use crate::auth::AuthError;
use crate::auth::turns::Turns;
use crate::clock::Clock;
use crate::ids::{ClientId, KeyId, ProfileId};
use crate::keys::KeyService;
use crate::store::{Actor, Key, Store};
use crate::tokens::TokenService;
use moka::sync::Cache;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a sign-in waits for another of the same profile.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// What a sign-in needs besides the identity providers.
pub struct SignInParts {
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyService>,
    pub tokens: Arc<TokenService>,
    pub clock: Arc<dyn Clock>,
    pub cache_capacity: u64,
}

pub struct SignIn {
    providers: IdentityProviders,
    parts: SignInParts,
    /// SHA-256 of a sign-in token -> the default key it signs in as: a sign-in is recorded once per
    /// token, not once per request.
    signed_in: Cache<[u8; 32], SignedIn>,
    /// One sign-in of a profile at a time, so that a burst of first requests provisions one key.
    turns: Turns<ProfileId>,
    /// The current access token of each default key shown, until it is due for renewal.
    access_tokens: Cache<KeyId, Issued>,
}

/// What a sign-in token signs in as.
#[derive(Clone)]
pub struct SignedIn {
    /// The profile's default key.
    pub client_id: ClientId,
    /// The identity provider that issued the token.
    pub issuer: Arc<str>,
    /// The sign-in token's `exp`, in seconds since the Unix epoch.
    expires_at: u64,
}

#[derive(Clone)]
struct Issued {
    token: Arc<str>,
    /// The key's scopes when it was issued: a change of scopes issues a new token.
    scopes: keyward_model::Scopes,
    /// When the token is renewed: halfway through its life, so that the token a list shows has
    /// at least half its life ahead.
    renew_at: chrono::DateTime<chrono::Utc>,
}

impl SignIn {
    pub fn new(providers: IdentityProviders, parts: SignInParts) -> Self {
        let capacity = parts.cache_capacity;
        Self {
            providers,
            signed_in: Cache::builder().max_capacity(capacity).build(),
            turns: Turns::new(capacity, TURN_WAIT),
            access_tokens: Cache::builder().max_capacity(capacity).time_to_live(parts.tokens.ttl()).build(),
            parts,
        }
    }

    /// The default key that `token` signs in as, and through which identity provider, signing in
    /// (and provisioning the key) when this token was not seen before.
    pub async fn sign_in(&self, token: &str, address: Option<IpAddr>) -> Result<SignedIn, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.parts.clock.now();
        let now_secs = u64::try_from(now.timestamp()).unwrap_or_default();
        if let Some(known) = self.signed_in.get(&digest) {
            if now_secs < known.expires_at {
                return Ok(known);
            }
            self.signed_in.invalidate(&digest);
        }
        let identity = self.providers.verify(token).await.map_err(|error| match error {
            SignInError::Invalid => AuthError::Invalid,
            SignInError::Unavailable => AuthError::Fault(crate::error::Fault::IdentityProvider),
        })?;
        let profile_id =
            crate::keys::validate_profile_id(&identity.subject).map_err(|_| AuthError::Invalid)?;
        let _turn = self.turns.take(&profile_id).await?;
        let profile = self.parts.store.record_sign_in(&profile_id, now).await?;
        let key = match profile.default_key {
            Some(key) => key,
            None => {
                let by = Actor { client_id: None, address, issuer: Some(identity.issuer.clone()) };
                let key = self
                    .parts
                    .keys
                    .provision_default(&profile_id, &by)
                    .await
                    .map_err(|error| AuthError::Fault(error.into()))?;
                tracing::info!(profile = %profile_id, issuer = %identity.issuer, key = %key.id, "provisioned the default key of a profile signing in");
                key
            }
        };
        let signed_in = SignedIn {
            client_id: key.client_id,
            issuer: identity.issuer.into(),
            expires_at: identity.expires_at,
        };
        self.signed_in.insert(digest, signed_in.clone());
        Ok(signed_in)
    }

    /// Forgets what `token` signed in as: its key is gone, and the next use signs in afresh.
    pub fn forget(&self, token: &str) {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.signed_in.invalidate(&digest);
    }

    /// The current access token of the default key `key`: the one issued before, until half its
    /// life has passed, then a new one.
    pub fn access_token(&self, key: &Key) -> Result<Arc<str>, crate::tokens::SigningError> {
        let now = self.parts.clock.now();
        if let Some(issued) = self.access_tokens.get(&key.id)
            && now < issued.renew_at
            && issued.scopes == key.scopes
        {
            return Ok(issued.token);
        }
        let token: Arc<str> = self.parts.tokens.issue(key.client_id.as_str(), &key.scopes)?.into();
        let half_life = chrono::TimeDelta::from_std(self.parts.tokens.ttl() / 2).unwrap_or_default();
        self.access_tokens.insert(
            key.id,
            Issued { token: token.clone(), scopes: key.scopes.clone(), renew_at: now + half_life },
        );
        Ok(token)
    }
}
