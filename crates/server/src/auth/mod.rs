//! Who is calling: credentials in, a [`Principal`] out.

pub mod cache;
pub mod header;

pub use cache::{CredentialCache, Principal};
pub use header::Presented;

use crate::secrets::{CLIENT_ID_LEN, SECRET_LEN, SecretHasher};
use crate::store::{Store, StoreError};
use crate::tokens::TokenService;
use keyward_model::ClientSecret;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credentials are unknown, wrong, expired or revoked. Callers are never told which.
    #[error("invalid credentials")]
    Invalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies client credentials and access tokens.
pub struct Authenticator {
    store: Arc<dyn Store>,
    hasher: SecretHasher,
    cache: Arc<CredentialCache>,
    tokens: Arc<TokenService>,
    public_url: Option<String>,
}

impl Authenticator {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: SecretHasher,
        cache: Arc<CredentialCache>,
        tokens: Arc<TokenService>,
        public_url: Option<String>,
    ) -> Self {
        Self {
            store,
            hasher,
            cache,
            tokens,
            public_url,
        }
    }

    pub async fn authenticate(&self, presented: &Presented) -> Result<Principal, AuthError> {
        match presented {
            Presented::Token(token) => self.access_token(token).await,
            Presented::ClientCredentials { client_id, secret } => {
                self.client_credentials(client_id, secret).await
            }
        }
    }

    /// Verifies a client id and secret: from the cache when this exact pair verified before,
    /// otherwise with one lookup by client id and one argon2 verification.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: &ClientSecret,
    ) -> Result<Principal, AuthError> {
        // Anything not shaped like our credentials is refused before any query or hash.
        if !is_base62(client_id, CLIENT_ID_LEN) || !is_base62(secret.expose(), SECRET_LEN) {
            return Err(AuthError::Invalid);
        }
        if self.cache.is_revoked(client_id) {
            return Err(AuthError::Invalid);
        }
        if let Some(principal) = self.cache.verified(client_id, secret.expose()) {
            return Ok(principal);
        }
        let stored = self
            .store
            .credential(client_id)
            .await?
            .ok_or(AuthError::Invalid)?;
        let hasher = self.hasher.clone();
        let candidate = secret.clone();
        let hash = stored.secret_hash;
        let matches = tokio::task::spawn_blocking(move || hasher.verify(candidate.expose(), &hash))
            .await
            .unwrap_or(false);
        if !matches {
            return Err(AuthError::Invalid);
        }
        let principal = Principal {
            key_id: stored.key_id,
            profile_id: stored.profile_id,
            client_id: client_id.to_owned(),
        };
        self.cache.remember_verified(secret.expose(), &principal);
        Ok(principal)
    }

    /// Verifies an access token and that the key it was issued for still exists.
    pub async fn access_token(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self
            .tokens
            .verify(token, self.public_url.as_deref())
            .ok_or(AuthError::Invalid)?;
        self.live_key(&claims.azp).await
    }

    async fn live_key(&self, client_id: &str) -> Result<Principal, AuthError> {
        if self.cache.is_revoked(client_id) {
            return Err(AuthError::Invalid);
        }
        if let Some(principal) = self.cache.live(client_id) {
            return Ok(principal);
        }
        let stored = self
            .store
            .credential(client_id)
            .await?
            .ok_or(AuthError::Invalid)?;
        let principal = Principal {
            key_id: stored.key_id,
            profile_id: stored.profile_id,
            client_id: client_id.to_owned(),
        };
        self.cache.remember_live(&principal);
        Ok(principal)
    }
}

fn is_base62(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_alphanumeric())
}
