//! Each profile's created keys, held in memory so that viewing and listing keys reads no store.
//!
//! A profile's keys are held whole, newest first, when it has at most [`HELD_KEYS`] of them;
//! larger profiles are read from the store each time (their totals come from the kept counts).
//! What is held is dropped at once by every change made through this instance, and within a
//! second by changes made through others (the key events log names the profile), and at the
//! latest after the TTL.
//!
//! A load that read the store before a change and finishes after it must not put back what the
//! change made stale: every drop advances an epoch, and a load whose epoch moved meanwhile takes
//! back what it inserted.

use crate::ids::ProfileId;
use crate::store::Key;
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The most keys of one profile held; beyond it the profile is read from the store.
pub const HELD_KEYS: u32 = 1_000;

/// A profile's created keys, newest first (`created` then `id`, both descending).
pub type ProfileKeys = Arc<[Key]>;

/// What is held of one profile.
#[derive(Clone)]
pub enum View {
    Held(ProfileKeys),
    /// More than [`HELD_KEYS`]: read from the store.
    TooLarge,
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
            .weigher(|_, view: &View| match view {
                View::Held(keys) => u32::try_from(keys.len()).unwrap_or(u32::MAX).saturating_add(1),
                View::TooLarge => 1,
            })
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

    /// Drops every view: a change whose profile is not known.
    pub fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.views.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(profile: &str) -> Key {
        Key {
            id: crate::ids::KeyId::new_random(),
            profile_id: profile.into(),
            name: "k".into(),
            client_id: "c".into(),
            key_for: keyward_model::KeyType::Generic,
            created: chrono::Utc::now(),
            last_modified: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_load_that_straddles_a_change_is_not_held() {
        let views = ProfileViews::new(Duration::from_secs(60), 100);
        let p = ProfileId::from("p");
        let before = views.epoch();
        views.invalidate(&p);
        views.insert(&p, View::Held(vec![key("p")].into()), before);
        assert!(views.get(&p).is_none(), "loaded before the change: stale");
        views.insert(&p, View::Held(vec![key("p")].into()), views.epoch());
        assert!(matches!(views.get(&p), Some(View::Held(keys)) if keys.len() == 1));
        views.invalidate(&ProfileId::from("other"));
        views.invalidate_all();
        assert!(views.get(&p).is_none());
    }
}
