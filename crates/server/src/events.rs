//! Creates, deletes and renames made through other instances, applied to this instance's caches.
//!
//! Every delete and rename writes a row to the store's key events log in its own transaction.
//! Each instance reads the log at least every second, and at once when PostgreSQL announces a new
//! row (or its listener reconnects, having perhaps missed an announcement). Rows are read by time
//! with an overlap, and told apart by sequence number, because a sequence number taken by one
//! transaction can become visible after a later one's: reading "above the last applied" could
//! skip it.

use crate::auth::CredentialCache;
use crate::clock::Clock;
use crate::store::{KeyEventKind, Store};
use crate::views::ProfileViews;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The longest this instance goes without reading the log.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest gap between two reads: announcements that arrive meanwhile are served by one
/// read (under a thousand creates a second, PostgreSQL announces a thousand rows).
const MIN_GAP: Duration = Duration::from_millis(50);
/// How far back each read reaches beyond the newest row seen: longer than any transaction that
/// writes a row may take to commit (statements time out sooner).
const OVERLAP: TimeDelta = TimeDelta::seconds(10);
/// Rows are kept at least this long, and always longer than a cache entry lives.
const MIN_RETENTION: TimeDelta = TimeDelta::hours(1);

/// How long log rows are kept when cache entries live for `cache_ttl`: past that, no instance
/// can still hold what a row would correct.
pub fn retention(cache_ttl: Duration) -> TimeDelta {
    let twice = TimeDelta::from_std(cache_ttl.saturating_mul(2)).unwrap_or(TimeDelta::MAX);
    MIN_RETENTION.max(twice.checked_add(&OVERLAP).unwrap_or(TimeDelta::MAX))
}

/// Applies the log to `cache` for as long as it runs.
pub async fn follow(
    store: Arc<dyn Store>,
    cache: Arc<CredentialCache>,
    views: Arc<ProfileViews>,
    clock: Arc<dyn Clock>,
) {
    let mut newest = clock.now();
    // The highest sequence number applied: a backend whose rows appear in order reads above it.
    let mut highest = 0;
    // Rows applied within the overlap, by sequence number, so that none is applied twice.
    let mut applied: HashMap<i64, DateTime<Utc>> = HashMap::new();
    loop {
        match store.events_since(newest - OVERLAP, highest).await {
            Ok(events) => {
                let read_at = clock.now();
                metrics::gauge!("keyward_key_events_read_timestamp_seconds").set(read_at.timestamp() as f64);
                for event in events {
                    newest = newest.max(event.at);
                    highest = highest.max(event.seq);
                    if applied.insert(event.seq, event.at).is_some() {
                        continue;
                    }
                    let lag = (read_at - event.at).to_std().unwrap_or_default();
                    metrics::histogram!("keyward_key_events_lag_seconds").record(lag.as_secs_f64());
                    match event.kind {
                        KeyEventKind::Revoked => cache.revoke(event.client_id.as_str()),
                        KeyEventKind::Changed => cache.forget(event.client_id.as_str()),
                        KeyEventKind::Created => cache.created(event.client_id.as_str()),
                    }
                    match (&event.profile_id, event.kind) {
                        (Some(profile_id), KeyEventKind::Created) => {
                            views.created(profile_id, &event.client_id)
                        }
                        (Some(profile_id), _) => views.invalidate(profile_id),
                        (None, _) => views.invalidate_all(),
                    }
                }
                applied.retain(|_, at| *at >= newest - OVERLAP);
            }
            Err(error) => tracing::warn!(%error, "reading the key events log failed; retrying"),
        }
        tokio::time::sleep(MIN_GAP).await;
        store.wait_for_events(POLL_INTERVAL - MIN_GAP).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_outlive_every_cache_entry() {
        assert_eq!(retention(Duration::from_secs(30)), MIN_RETENTION);
        assert!(retention(Duration::from_secs(7200)) > TimeDelta::hours(4));
        assert_eq!(retention(Duration::MAX), TimeDelta::MAX);
    }
}
