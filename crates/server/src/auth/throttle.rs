//! Throttling of credential verifications that cost work, in bounded memory.
//!
//! Two governor limiters, each over a bounded moka map (so that a flood of made-up ids or
//! addresses evicts old buckets rather than growing memory):
//! - **attempts** per (public id, address prefix): a cell is taken before the work, so that
//!   concurrent guesses of one id from one place reach the store and the hasher a bounded number
//!   of times; a successful verification empties the bucket. Keyed by the prefix too, so that
//!   guesses of a victim's public id (public by design) from elsewhere never throttle its owner.
//! - **failures** per address prefix: a cell is taken for each failed verification only, so that
//!   any number of services starting behind one address with valid keys are never refused. An
//!   address whose failures run past the quota is refused before any work until a cell is back.
//!
//! An address prefix is the IPv4 address, or the IPv6 /64 (one subscriber's allocation, which an
//! attacker could otherwise walk for fresh buckets). What never reaches the throttle: credentials
//! the cache already verified, and a key's owner presenting the secret that last verified.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use moka::ops::compute::Op;
use moka::sync::Cache;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// How long an idle bucket is kept: a per-minute quota is whole again after a minute, and a
/// forgotten bucket is a whole one.
const IDLE_BUCKET: Duration = Duration::from_secs(61);

/// Where attempts come from, as far as throttling tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressPrefix(IpAddr);

impl From<IpAddr> for AddressPrefix {
    fn from(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                AddressPrefix(IpAddr::V6(Ipv6Addr::from(network)))
            }
            v4 => AddressPrefix(v4),
        }
    }
}

/// A governor state store in a bounded moka map.
struct BoundedStore<K: Hash + Eq + Send + Sync + 'static> {
    cells: Cache<K, Nanos>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut outcome = None;
        // Computed under moka's lock of the key: concurrent attempts are serialised per bucket.
        self.cells.entry_by_ref(key).and_compute_with(|entry| match f(entry.map(|e| e.into_value())) {
            Ok((value, state)) => {
                outcome = Some(Ok(value));
                Op::Put(state)
            }
            Err(error) => {
                outcome = Some(Err(error));
                Op::Nop
            }
        });
        outcome.expect("moka runs the computation exactly once")
    }
}

type Limiter<K> = RateLimiter<K, BoundedStore<K>, DefaultClock, NoOpMiddleware>;

/// One limiter and a handle on its buckets.
struct Buckets<K: Hash + Eq + Clone + Send + Sync + 'static> {
    limiter: Limiter<K>,
    cells: Cache<K, Nanos>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Buckets<K> {
    fn new(per_minute: NonZeroU32, capacity: u64, clock: &DefaultClock) -> Self {
        let cells = Cache::builder().max_capacity(capacity).time_to_live(IDLE_BUCKET).build();
        let store = BoundedStore { cells: cells.clone() };
        Self { limiter: RateLimiter::new(Quota::per_minute(per_minute), store, clock.clone()), cells }
    }

    /// Takes a cell, or says how long until one is back.
    fn take(&self, key: &K, clock: &DefaultClock) -> Result<(), Duration> {
        self.limiter.check_key(key).map_err(|until| until.wait_time_from(clock.now()))
    }

    fn entry_count(&self) -> u64 {
        self.cells.run_pending_tasks();
        self.cells.entry_count()
    }
}

pub struct Throttle {
    attempts: Buckets<(String, Option<AddressPrefix>)>,
    failures: Buckets<AddressPrefix>,
    /// Address prefixes refused until a failure cell is back.
    blocked: Cache<AddressPrefix, Instant>,
    clock: DefaultClock,
}

impl Throttle {
    /// Allows `per_client_id` costly verifications a minute per public id and address prefix,
    /// and `per_address` failed ones per address prefix, each in a burst; at most `capacity`
    /// buckets of each kind are held.
    pub fn new(per_client_id: NonZeroU32, per_address: NonZeroU32, capacity: u64) -> Self {
        let clock = DefaultClock::default();
        Self {
            attempts: Buckets::new(per_client_id, capacity, &clock),
            failures: Buckets::new(per_address, capacity, &clock),
            blocked: Cache::builder().max_capacity(capacity).time_to_live(IDLE_BUCKET).build(),
            clock,
        }
    }

    /// Admits a verification of `client_id` from `address` that will cost work, or says how long
    /// to wait.
    pub fn admit(&self, client_id: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let prefix = address.map(AddressPrefix::from);
        if let Some(prefix) = prefix
            && let Some(until) = self.blocked.get(&prefix)
        {
            let wait = until.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                return Err(wait);
            }
        }
        self.attempts.take(&(client_id.to_owned(), prefix), &self.clock)
    }

    /// Counts a failed verification against its address.
    pub fn failed(&self, address: Option<IpAddr>) {
        let Some(prefix) = address.map(AddressPrefix::from) else { return };
        if let Err(wait) = self.failures.take(&prefix, &self.clock) {
            self.blocked.insert(prefix, Instant::now() + wait);
        }
    }

    /// A verification succeeded: the key's attempts from there start afresh.
    pub fn succeeded(&self, client_id: &str, address: Option<IpAddr>) {
        self.attempts.cells.invalidate(&(client_id.to_owned(), address.map(AddressPrefix::from)));
    }

    /// Buckets held, of each kind: bounded by the capacity.
    pub fn buckets(&self) -> (u64, u64) {
        (self.attempts.entry_count(), self.failures.entry_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(per_id: u32, per_address: u32) -> Throttle {
        Throttle::new(NonZeroU32::new(per_id).unwrap(), NonZeroU32::new(per_address).unwrap(), 10_000)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn attempts_are_counted_per_id_and_address_and_a_success_starts_them_afresh() {
        let throttle = throttle(2, 100);
        let (here, there) = (ip("192.0.2.1"), ip("192.0.2.2"));
        assert!(throttle.admit("a", here).is_ok());
        assert!(throttle.admit("a", here).is_ok());
        let wait = throttle.admit("a", here).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(throttle.admit("a", there).is_ok(), "the owner elsewhere is not locked out");
        assert!(throttle.admit("b", here).is_ok(), "another id");
        throttle.succeeded("a", here);
        assert!(throttle.admit("a", here).is_ok(), "a success empties the bucket");
        assert!(throttle.admit("c", None).is_ok(), "no address: the id's bucket alone");
    }

    #[test]
    fn only_failures_count_against_an_address() {
        let throttle = throttle(100, 3);
        let here = ip("192.0.2.1");
        for id in 0..500 {
            assert!(throttle.admit(&format!("valid{id}"), here).is_ok(), "successes never refuse");
        }
        for _ in 0..3 {
            throttle.failed(here);
        }
        assert!(throttle.admit("x", here).is_ok(), "three failures, the quota");
        throttle.failed(here);
        assert!(throttle.admit("y", here).is_err(), "the fourth failure blocks the address");
        assert!(throttle.admit("y", ip("192.0.2.2")).is_ok(), "only that address");
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let throttle = throttle(1, 1);
        throttle.failed(ip("2001:db8:1:2::1"));
        throttle.failed(ip("2001:db8:1:2:ffff::9"));
        assert!(throttle.admit("a", ip("2001:db8:1:2:abcd::1")).is_err(), "same /64");
        assert!(throttle.admit("a", ip("2001:db8:1:3::1")).is_ok(), "another /64");
        assert_eq!(
            AddressPrefix::from("::ffff:192.0.2.1".parse::<IpAddr>().unwrap()),
            AddressPrefix(ip("192.0.2.1").unwrap())
        );
    }

    #[test]
    fn a_flood_of_made_up_ids_and_addresses_holds_a_bounded_number_of_buckets() {
        let capacity = 1_000;
        let throttle = Throttle::new(NonZeroU32::new(10).unwrap(), NonZeroU32::new(10).unwrap(), capacity);
        for n in 0..100_000u32 {
            let address = Some(IpAddr::V6(Ipv6Addr::from(u128::from(n) << 64)));
            let _ = throttle.admit(&format!("id{n}"), address);
            throttle.failed(address);
        }
        let (attempts, failures) = throttle.buckets();
        assert!(attempts <= capacity && failures <= capacity, "{attempts} and {failures} buckets");
    }
}
