//! The verified-credential cache.
//!
//! A repeat request with a credential already verified costs neither argon2 nor a query. Entries
//! live for the configured TTL; [`CredentialCache::revoke`] ends them at once and, because client
//! ids are never reused, also remembers the id as revoked so that a verification that was already
//! under way when the key was deleted cannot put it back.

use moka::sync::Cache;
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Who a credential authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: Uuid,
    pub profile_id: String,
    pub client_id: String,
}

/// Entries per cache; beyond it the least used are evicted (and simply verified again).
const CAPACITY: u64 = 100_000;

#[derive(Clone)]
struct Verified {
    /// SHA-256 of the secret: enough to recognise it again, useless to recover it.
    secret_digest: [u8; 32],
    principal: Principal,
}

pub struct CredentialCache {
    /// Client id -> the secret that verified and who it is.
    verified: Cache<String, Verified>,
    /// Client id -> its live key, for access tokens (which carry only the client id).
    live: Cache<String, Principal>,
    /// Client id -> digest of the secret that last verified, kept long after `verified` expires,
    /// so that its owner skips the throttle (the store is still asked whether the key lives).
    known_good: Cache<String, [u8; 32]>,
    /// Client ids deleted within the last TTL.
    revoked: Cache<String, ()>,
}

/// How long the secret that last verified is remembered.
const KNOWN_GOOD_TTL: Duration = Duration::from_secs(24 * 3600);

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            verified: Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build(),
            live: Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build(),
            known_good: Cache::builder().max_capacity(CAPACITY).time_to_live(KNOWN_GOOD_TTL).build(),
            // Revocations outlive every entry they guard against.
            revoked: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl + Duration::from_secs(1))
                .build(),
        }
    }

    /// The principal for a client id and secret verified before, if the secret is the same.
    pub fn verified(&self, client_id: &str, secret: &str) -> Option<Principal> {
        let entry = self.verified.get(client_id)?;
        let digest = Sha256::digest(secret.as_bytes());
        bool::from(entry.secret_digest.ct_eq(&digest[..])).then_some(entry.principal)
    }

    pub fn remember_verified(&self, secret: &str, principal: &Principal) {
        if self.revoked.contains_key(&principal.client_id) {
            return;
        }
        let secret_digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        self.known_good.insert(principal.client_id.clone(), secret_digest);
        self.verified
            .insert(principal.client_id.clone(), Verified { secret_digest, principal: principal.clone() });
        self.remember_live(principal);
    }

    /// Whether `secret` is the secret that last verified for `client_id`.
    pub fn known_good(&self, client_id: &str, secret: &str) -> bool {
        let digest = Sha256::digest(secret.as_bytes());
        self.known_good.get(client_id).is_some_and(|known| bool::from(known.ct_eq(&digest[..])))
    }

    /// The live key behind a client id, if known.
    pub fn live(&self, client_id: &str) -> Option<Principal> {
        self.live.get(client_id)
    }

    pub fn remember_live(&self, principal: &Principal) {
        if !self.revoked.contains_key(&principal.client_id) {
            self.live.insert(principal.client_id.clone(), principal.clone());
        }
    }

    pub fn is_revoked(&self, client_id: &str) -> bool {
        self.revoked.contains_key(client_id)
    }

    /// Forgets a client id at once: called when its key is deleted, here or (with a shared
    /// database) when another instance reports a delete.
    pub fn revoke(&self, client_id: &str) {
        self.revoked.insert(client_id.to_owned(), ());
        self.verified.invalidate(client_id);
        self.live.invalidate(client_id);
        self.known_good.invalidate(client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal { key_id: Uuid::new_v4(), profile_id: "p".into(), client_id: "c".into() }
    }

    #[test]
    fn only_the_same_secret_hits() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let p = principal();
        cache.remember_verified("s3cret", &p);
        assert_eq!(cache.verified("c", "s3cret"), Some(p));
        assert!(cache.verified("c", "other").is_none());
        assert!(cache.live("c").is_some());
    }

    #[test]
    fn revoke_is_immediate_and_sticks() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let p = principal();
        cache.remember_verified("s3cret", &p);
        cache.revoke("c");
        assert!(cache.verified("c", "s3cret").is_none());
        assert!(cache.live("c").is_none());
        // A verification that finishes after the delete cannot re-admit the key.
        cache.remember_verified("s3cret", &p);
        assert!(cache.verified("c", "s3cret").is_none());
        assert!(cache.is_revoked("c"));
    }
}
