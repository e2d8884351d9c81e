//! Time as an input.
//!
//! Token claims and cache lifetimes read the time from a [`Clock`], so that tests can move it with
//! a [`ManualClock`] instead of sleeping. Production uses [`SystemClock`].

use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Wall-clock time, for what leaves the process (token `iat` and `exp`).
    fn now(&self) -> DateTime<Utc>;

    /// Monotonic time, for lifetimes inside the process: a step of the wall clock must not
    /// shorten a revocation or lengthen a cached verification.
    fn instant(&self) -> Instant;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until it is told to move. Share it as an `Arc<ManualClock>`: the
/// server holds it as its [`Clock`], the test moves it.
#[derive(Debug)]
pub struct ManualClock {
    times: Mutex<(DateTime<Utc>, Instant)>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self { times: Mutex::new((now, Instant::now())) }
    }

    /// A clock stopped at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::new(Utc::now())
    }

    /// Lets `by` pass, on both the wall clock and the monotonic one.
    pub fn advance(&self, by: Duration) {
        let mut times = self.lock();
        times.0 += chrono::TimeDelta::from_std(by).expect("a duration chrono can represent");
        times.1 += by;
    }

    /// Steps the wall clock to `now`, as a time adjustment would; monotonic time does not move.
    pub fn set(&self, now: DateTime<Utc>) {
        self.lock().0 = now;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (DateTime<Utc>, Instant)> {
        // The guarded values are always whole: a panic elsewhere cannot leave them half-written.
        self.times.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().0
    }

    fn instant(&self) -> Instant {
        self.lock().1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let instant = clock.instant();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start + chrono::TimeDelta::seconds(90));
        assert_eq!(clock.instant() - instant, Duration::from_secs(90));
        clock.set(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.instant() - instant, Duration::from_secs(90), "monotonic time never goes back");
    }
}
