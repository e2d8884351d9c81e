//! Throttling of credential verifications that cost work.
//!
//! Every verification that needs the store and argon2 first takes a cell from two governor
//! quotas: its public id's and its client address's. Past either, the caller gets 429 with
//! `Retry-After` and no query or hash is spent on it. Taking the cell before the work keeps the
//! bound under any concurrency. What never reaches the throttle: credentials the cache already
//! verified, and a key's owner presenting the secret that last verified (see
//! [`super::CredentialCache::known_good`]), so that an attack on a public id, which is no secret,
//! does not lock its owner out.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct Throttle {
    by_client_id: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl Throttle {
    /// Allows `per_client_id` and `per_address` costly verifications a minute, each in a burst.
    pub fn new(per_client_id: NonZeroU32, per_address: NonZeroU32) -> Self {
        Self {
            by_client_id: RateLimiter::keyed(Quota::per_minute(per_client_id)),
            by_address: RateLimiter::keyed(Quota::per_minute(per_address)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one attempt for `client_id` from `address`, or says how long to wait.
    pub fn attempt(&self, client_id: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        if let Some(address) = address {
            self.by_address.check_key(&address).map_err(|until| until.wait_time_from(self.clock.now()))?;
        }
        self.by_client_id
            .check_key(&client_id.to_owned())
            .map_err(|until| until.wait_time_from(self.clock.now()))
    }

    /// Drops the state of callers whose quota is full again, so that memory does not grow with
    /// every id ever tried.
    pub fn forget_idle(&self) {
        self.by_client_id.retain_recent();
        self.by_client_id.shrink_to_fit();
        self.by_address.retain_recent();
        self.by_address.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_id_and_address_has_its_own_quota() {
        let throttle = Throttle::new(NonZeroU32::new(2).unwrap(), NonZeroU32::new(3).unwrap());
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        let there: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(throttle.attempt("a", Some(here)).is_ok());
        assert!(throttle.attempt("a", Some(here)).is_ok());
        let wait = throttle.attempt("a", Some(there)).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(throttle.attempt("b", Some(here)).is_ok(), "another id, the address's third attempt");
        assert!(throttle.attempt("c", Some(here)).is_err(), "the address's quota of 3 is spent");
        assert!(throttle.attempt("c", Some(there)).is_ok());
        assert!(throttle.attempt("d", None).is_ok(), "no address: the id's quota alone");
    }
}
