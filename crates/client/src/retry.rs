//! When a request is sent again, and after how long.

use std::time::Duration;

/// When and how often requests are sent again.
///
/// A request is sent again only when that cannot do harm: after a connection that was never made
/// (any request); after 429 or 503 (idempotent requests and token requests, but not the `PUT`
/// that may create a key, whose secret a second answer would not show); after a timeout or a
/// lost answer (reads, deletes and token requests). A `Retry-After` longer than
/// [`RetryPolicy::max_wait`] ends the retries at once, and the error carries it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, and a random part of it is waited.
    pub initial_backoff: Duration,
    /// The longest wait before a retry.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self::default().max_retries(0)
    }

    /// Retries after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first backoff, doubled at each retry.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The longest wait before a retry; a server asking for longer ends the retries.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The wait before retry number `retry` (from 0): exponential, capped, with jitter between
    /// half and all of it, so that clients refused together do not come back together.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let full = self.initial_backoff.saturating_mul(2u32.saturating_pow(retry)).min(self.max_wait);
        full / 2 + full.mul_f64(fastrand::f64() / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_wait(Duration::from_secs(1));
        let waits: Vec<Duration> = (0..200).map(|_| policy.backoff(1)).collect();
        assert!(waits.iter().all(|w| (Duration::from_millis(100)..=Duration::from_millis(200)).contains(w)));
        assert!(waits.iter().any(|w| *w != waits[0]), "no jitter");
        assert!(policy.backoff(30) <= Duration::from_secs(1));
    }
}
