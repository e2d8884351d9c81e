//! Each profile's created keys, held in memory so that viewing and listing keys reads no store.
//!
//! A profile's newest [`HELD_KEYS`] keys are held, newest first, with its total: all of a profile
//! that has no more, and the head of a larger one, where its first pages are (later pages of a
//! larger profile are read from the store).
//! What is held is dropped at once by every change made through this instance, and within a
//! second by changes made through others (the key events log names the profile), and at the
//! latest after the TTL.
//!
//! A load that read the store before a change and finishes after it must not put back what the
//! change made stale: every drop advances an epoch, and a load whose epoch moved meanwhile takes
//! back what it inserted.

use crate::ids::{ClientId, ProfileId};
use crate::store::Key;
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The most keys of one profile held.
pub const HELD_KEYS: u32 = 1_000;

/// What is held of one profile: its newest created keys, newest first (`created` then `id`, both
/// descending), and how many it has in all.
#[derive(Clone)]
pub struct View {
    pub newest: Arc<[Key]>,
    pub total: u64,
}

impl View {
    /// Whether every key of the profile is held.
    pub fn is_complete(&self) -> bool {
        self.newest.len() as u64 == self.total
    }
}

pub struct ProfileViews {
    views: Cache<ProfileId, View>,
    epoch: AtomicU64,
}

impl ProfileViews {
    /// Views that live at most `ttl` and hold at most `capacity` keys in all.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        let views = Cache::builder()
            .max_capacity(capacity)
            .weigher(|_, view: &View| u32::try_from(view.newest.len()).unwrap_or(u32::MAX).saturating_add(1))
            .time_to_live(ttl)
            .build();
        Self { views, epoch: AtomicU64::new(0) }
    }

    pub fn get(&self, profile_id: &ProfileId) -> Option<View> {
        self.views.get(profile_id)
    }

    /// The epoch to read before loading a view from the store.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Holds `view` as the profile's, unless something was dropped since `epoch`.
    pub fn insert(&self, profile_id: &ProfileId, view: View, epoch: u64) {
        if self.epoch() != epoch {
            return;
        }
        self.views.insert(profile_id.clone(), view);
        // A drop between the check and the insert: take the insert back.
        if self.epoch() != epoch {
            self.views.invalidate(profile_id);
        }
    }

    /// Drops the profile's view: its keys changed.
    pub fn invalidate(&self, profile_id: &ProfileId) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.views.invalidate(profile_id);
    }

    /// Drops the profile's view unless it already holds the key `client_id` (a create is always
    /// the newest key, so a view that holds it was loaded after it, total included): the log
    /// brings back this instance's own creates too, and their views are fresh.
    pub fn created(&self, profile_id: &ProfileId, client_id: &ClientId) {
        let held = self
            .get(profile_id)
            .is_some_and(|view| view.newest.iter().any(|key| key.client_id == *client_id));
        if !held {
            self.invalidate(profile_id);
        }
    }

    /// Drops every view: a change whose profile is not known.
    pub fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.views.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_that_straddles_a_change_is_not_held() {
        let views = ProfileViews::new(Duration::from_secs(60), 100);
        let p = ProfileId::from("p");
        let before = views.epoch();
        views.invalidate(&p);
        let view = || View { newest: vec![Key::sample("p")].into(), total: 1 };
        views.insert(&p, view(), before);
        assert!(views.get(&p).is_none(), "loaded before the change: stale");
        views.insert(&p, view(), views.epoch());
        assert!(views.get(&p).is_some_and(|view| view.is_complete()));
        views.created(&p, &ClientId::from("c"));
        assert!(views.get(&p).is_some(), "a create the view holds leaves it");
        views.created(&p, &ClientId::from("d"));
        assert!(views.get(&p).is_none(), "a create it lacks drops it");
        views.insert(&p, view(), views.epoch());
        views.invalidate(&ProfileId::from("other"));
        views.invalidate_all();
        assert!(views.get(&p).is_none());
    }
}
