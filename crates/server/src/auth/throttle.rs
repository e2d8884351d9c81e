//! Throttling of failed credential verifications.
//!
//! Each failure takes a cell from two governor quotas: its public id's and its client address's.
//! The failure that finds a quota spent blocks that id or address until the quota refills; while
//! blocked, a caller gets 429 with `Retry-After` before any query or hash is spent on it.
//! Successes take nothing, and a credential already verified is answered by the cache before
//! the throttle is asked, so an attack on a key's public id does not lock its owner out.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use moka::sync::Cache;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// A block never outlasts a quota's full refill, which takes at most a minute.
const LONGEST_BLOCK: Duration = Duration::from_secs(61);

/// One quota of failures per key, and the keys it currently blocks.
struct Limit<K: Hash + Eq + Clone + Send + Sync + 'static> {
    failures: DefaultKeyedRateLimiter<K>,
    blocked_until: Cache<K, Instant>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Limit<K> {
    fn per_minute(failures: NonZeroU32) -> Self {
        Self {
            failures: RateLimiter::keyed(Quota::per_minute(failures)),
            blocked_until: Cache::builder().max_capacity(100_000).time_to_live(LONGEST_BLOCK).build(),
        }
    }

    fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        self.blocked_until.get(key).and_then(|until| until.checked_duration_since(now))
    }

    fn fail(&self, key: &K, clock: &DefaultClock) -> Result<(), Duration> {
        self.failures.check_key(key).map_err(|until| {
            let wait = until.wait_time_from(clock.now());
            self.blocked_until.insert(key.clone(), Instant::now() + wait);
            wait
        })
    }

    fn forget_idle(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
    }
}

pub struct Throttle {
    by_client_id: Limit<String>,
    by_address: Limit<IpAddr>,
    clock: DefaultClock,
}

impl Throttle {
    /// Allows `per_client_id` and `per_address` failed verifications a minute, each in a burst.
    pub fn new(per_client_id: NonZeroU32, per_address: NonZeroU32) -> Self {
        Self {
            by_client_id: Limit::per_minute(per_client_id),
            by_address: Limit::per_minute(per_address),
            clock: DefaultClock::default(),
        }
    }

    /// How long `client_id` or `address` is still blocked, if it is.
    pub fn check(&self, client_id: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let by_address = address.and_then(|address| self.by_address.blocked(&address, now));
        match by_address.or_else(|| self.by_client_id.blocked(&client_id.to_owned(), now)) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Records a failed verification; says how long to wait when it spent a quota.
    pub fn fail(&self, client_id: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let by_address = address.map(|address| self.by_address.fail(&address, &self.clock));
        let by_client_id = self.by_client_id.fail(&client_id.to_owned(), &self.clock);
        by_address.unwrap_or(Ok(())).and(by_client_id)
    }

    /// Drops the state of callers whose quota is full again, so that memory does not grow with
    /// every id ever tried.
    pub fn forget_idle(&self) {
        self.by_client_id.forget_idle();
        self.by_address.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beyond_the_quota_block_the_id_or_the_address() {
        let throttle = Throttle::new(NonZeroU32::new(2).unwrap(), NonZeroU32::new(3).unwrap());
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        let there: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(throttle.fail("a", Some(here)).is_ok());
        assert!(throttle.fail("a", Some(here)).is_ok());
        assert!(throttle.check("a", Some(there)).is_ok(), "two failures are within the quota");
        let wait = throttle.fail("a", Some(there)).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(throttle.check("a", Some(there)).is_err(), "the id is blocked from anywhere");
        assert!(throttle.check("b", Some(here)).is_ok(), "another id from the same address");
        assert!(throttle.fail("b", Some(here)).is_ok(), "the address's third failure is within its quota");
        assert!(throttle.fail("c", Some(here)).is_err(), "its fourth is not");
        assert!(throttle.check("d", Some(here)).is_err(), "the address is blocked for every id");
        assert!(throttle.check("d", Some(there)).is_ok());
    }
}
