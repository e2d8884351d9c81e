//! One at a time per key: concurrent work on the same key (a client id's first verification, a
//! profile's first sign-in) waits for the one under way, then finds its result, so that a burst
//! costs one piece of work. Waits are bounded; the locks are bounded in number and dropped idle.

use crate::hashing::HasherBusy;
use moka::sync::Cache;
use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub struct Turns<K> {
    locks: Cache<K, Arc<Mutex<()>>>,
    wait: Duration,
}

impl<K: Hash + Eq + Send + Sync + 'static> Turns<K> {
    /// At most `capacity` keys' locks, each waited for at most `wait`.
    pub fn new(capacity: u64, wait: Duration) -> Self {
        // Idle for `wait`, a lock has no waiter left: one would have given up.
        Self { locks: Cache::builder().max_capacity(capacity).time_to_idle(wait).build(), wait }
    }

    /// Waits for `key`'s turn, held until the guard drops; [`HasherBusy`] when it does not come
    /// within the wait: the server is at capacity.
    pub async fn take<Q>(&self, key: &Q) -> Result<OwnedMutexGuard<()>, HasherBusy>
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        let lock = self.locks.get_with_by_ref(key, Default::default);
        tokio::time::timeout(self.wait, lock.lock_owned()).await.map_err(|_| HasherBusy)
    }
}
