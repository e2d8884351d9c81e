//! The verified-credential cache.
//!
//! A repeat request with a credential already verified costs neither argon2 nor a query. Entries
//! live for the configured TTL; [`CredentialCache::revoke`] ends them at once and, because client
//! ids are never reused, also remembers the id as revoked so that a verification that was already
//! under way when the key was deleted cannot put it back.
//!
//! Lifetimes are measured on the injected [`Clock`]: each entry carries the time it was stored and
//! is absent once its TTL has passed. moka's own TTL and capacity only bound the memory.

use crate::clock::{Clock, SystemClock};
use crate::store::Key;
use moka::sync::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

#[derive(Clone)]
struct Verified {
    /// SHA-256 of the secret: enough to recognise it again, useless to recover it.
    secret_digest: [u8; 32],
    principal: Arc<Key>,
}

/// A moka cache by client id whose entries expire by the clock after `ttl`.
struct Timed<V> {
    entries: Cache<String, (Instant, V)>,
    ttl: Duration,
}

impl<V: Clone + Send + Sync + 'static> Timed<V> {
    /// At most `capacity` entries: beyond it the least used are evicted (and simply verified again).
    fn new(ttl: Duration, capacity: u64) -> Self {
        Self { entries: Cache::builder().max_capacity(capacity).time_to_live(ttl).build(), ttl }
    }

    fn get(&self, client_id: &str, now: Instant) -> Option<V> {
        // A stale entry is left to moka: removing it here could remove a fresh one written since.
        let (stored, value) = self.entries.get(client_id)?;
        (now.saturating_duration_since(stored) < self.ttl).then_some(value)
    }

    fn contains(&self, client_id: &str, now: Instant) -> bool {
        self.get(client_id, now).is_some()
    }

    fn insert(&self, client_id: &str, value: V, now: Instant) {
        self.entries.insert(client_id.to_owned(), (now, value));
    }

    fn invalidate(&self, client_id: &str) {
        self.entries.invalidate(client_id);
    }
}

pub struct CredentialCache {
    /// Client id -> the secret that verified and who it is.
    verified: Timed<Verified>,
    /// Client id -> its live key, for access tokens (which carry only the client id).
    live: Timed<Arc<Key>>,
    /// Client id -> digest of the secret that last verified, kept long after `verified` expires,
    /// so that its owner skips the throttle (the store is still asked whether the key lives).
    known_good: Timed<[u8; 32]>,
    /// Client ids deleted within the last TTL.
    revoked: Timed<()>,
    /// Client ids the store did not have within the last TTL: a flood of one made-up id costs
    /// one lookup.
    absent: Timed<()>,
    clock: Arc<dyn Clock>,
}

/// How long the secret that last verified is remembered.
const KNOWN_GOOD_TTL: Duration = Duration::from_secs(24 * 3600);

impl CredentialCache {
    /// A cache on the system clock of at most `capacity` entries of each kind.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Self::with_clock(ttl, capacity, Arc::new(SystemClock))
    }

    /// A cache whose entries expire by `clock`.
    pub fn with_clock(ttl: Duration, capacity: u64, clock: Arc<dyn Clock>) -> Self {
        Self {
            verified: Timed::new(ttl, capacity),
            live: Timed::new(ttl, capacity),
            known_good: Timed::new(KNOWN_GOOD_TTL, capacity),
            // Revocations outlive every entry they guard against.
            revoked: Timed::new(ttl + Duration::from_secs(1), capacity),
            absent: Timed::new(ttl, capacity),
            clock,
        }
    }

    /// Most entries of each kind held.
    pub fn capacity(&self) -> u64 {
        self.verified.entries.policy().max_capacity().unwrap_or(u64::MAX)
    }

    /// How long a verified credential is trusted.
    pub fn ttl(&self) -> Duration {
        self.verified.ttl
    }

    /// The principal for a client id and secret verified before, if the secret is the same.
    pub fn verified(&self, client_id: &str, secret: &str) -> Option<Arc<Key>> {
        let entry = self.verified.get(client_id, self.clock.instant())?;
        let digest = Sha256::digest(secret.as_bytes());
        bool::from(entry.secret_digest.ct_eq(&digest[..])).then_some(entry.principal)
    }

    pub fn remember_verified(&self, secret: &str, principal: &Arc<Key>) {
        let now = self.clock.instant();
        if self.revoked.contains(principal.client_id.as_str(), now) {
            return;
        }
        let secret_digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        self.known_good.insert(principal.client_id.as_str(), secret_digest, now);
        self.verified.insert(
            principal.client_id.as_str(),
            Verified { secret_digest, principal: principal.clone() },
            now,
        );
        self.remember_live(principal);
    }

    /// Whether `secret` is the secret that last verified for `client_id`.
    pub fn known_good(&self, client_id: &str, secret: &str) -> bool {
        let digest = Sha256::digest(secret.as_bytes());
        self.known_good
            .get(client_id, self.clock.instant())
            .is_some_and(|known| bool::from(known.ct_eq(&digest[..])))
    }

    /// The live key behind a client id, if known.
    pub fn live(&self, client_id: &str) -> Option<Arc<Key>> {
        self.live.get(client_id, self.clock.instant())
    }

    pub fn remember_live(&self, principal: &Arc<Key>) {
        let now = self.clock.instant();
        if !self.revoked.contains(principal.client_id.as_str(), now) {
            self.live.insert(principal.client_id.as_str(), principal.clone(), now);
        }
    }

    /// Whether the store lately had no key `client_id`.
    pub fn is_absent(&self, client_id: &str) -> bool {
        self.absent.contains(client_id, self.clock.instant())
    }

    pub fn remember_absent(&self, client_id: &str) {
        self.absent.insert(client_id, (), self.clock.instant());
    }

    /// A key `client_id` was created: it is no longer absent.
    pub fn created(&self, client_id: &str) {
        self.absent.invalidate(client_id);
    }

    pub fn is_revoked(&self, client_id: &str) -> bool {
        self.revoked.contains(client_id, self.clock.instant())
    }

    /// Forgets what is known of a client id's key (its name, after a rename), but not that its
    /// secret verified.
    pub fn forget(&self, client_id: &str) {
        self.verified.invalidate(client_id);
        self.live.invalidate(client_id);
    }

    /// Forgets a client id at once: called when its key is deleted, here or (with a shared
    /// database) when another instance reports a delete.
    pub fn revoke(&self, client_id: &str) {
        self.revoked.insert(client_id, (), self.clock.instant());
        self.verified.invalidate(client_id);
        self.live.invalidate(client_id);
        self.known_good.invalidate(client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn principal() -> Arc<Key> {
        Arc::new(crate::store::Key::sample("p"))
    }

    #[test]
    fn only_the_same_secret_hits() {
        let cache = CredentialCache::new(Duration::from_secs(60), 100);
        let p = principal();
        cache.remember_verified("s3cret", &p);
        assert_eq!(cache.verified("c", "s3cret"), Some(p));
        assert!(cache.verified("c", "other").is_none());
        assert!(cache.live("c").is_some());
    }

    #[test]
    fn revoke_is_immediate_and_sticks() {
        let cache = CredentialCache::new(Duration::from_secs(60), 100);
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

    #[test]
    fn entries_expire_by_the_clock() {
        let clock = Arc::new(ManualClock::starting_now());
        let cache = CredentialCache::with_clock(Duration::from_secs(60), 100, clock.clone());
        let p = principal();
        cache.remember_verified("s3cret", &p);
        clock.advance(Duration::from_secs(59));
        assert!(cache.verified("c", "s3cret").is_some());
        assert!(cache.live("c").is_some());
        clock.advance(Duration::from_secs(1));
        assert!(cache.verified("c", "s3cret").is_none(), "absent once the TTL has passed");
        assert!(cache.live("c").is_none());
        assert!(cache.known_good("c", "s3cret"), "the secret that verified is remembered for a day");
        clock.advance(KNOWN_GOOD_TTL);
        assert!(!cache.known_good("c", "s3cret"));
    }

    #[test]
    fn a_revocation_outlives_the_entries_it_guards_against() {
        let clock = Arc::new(ManualClock::starting_now());
        let cache = CredentialCache::with_clock(Duration::from_secs(60), 100, clock.clone());
        cache.revoke("c");
        clock.advance(Duration::from_secs(60));
        assert!(cache.is_revoked("c"));
        cache.remember_verified("s3cret", &principal());
        assert!(cache.verified("c", "s3cret").is_none());
        clock.advance(Duration::from_secs(1));
        assert!(!cache.is_revoked("c"));
    }
}
