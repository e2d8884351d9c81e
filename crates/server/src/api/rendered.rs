//! Key list pages kept as the bytes they were answered with, for as long as the profile's held
//! keys they were made from are the held ones: a list that nothing changed is answered without
//! building or serializing the page (a page of 20 keys is 11 KB of HAL, most of a list's cost).
//!
//! A kept page names the view it was made from by a weak reference, so that its identity cannot
//! be taken by a later view at the same address; any change to the profile replaces the view
//! (see [`crate::views`]), and with it every page made from the old one.

use crate::ids::ProfileId;
use crate::store::Key;
use crate::views::View;
use axum::body::Bytes;
use moka::sync::Cache;
use std::sync::{Arc, Weak};

/// The most bytes of pages kept.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Which page of which list, as one request asked for it: the base and path are in its links.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub profile_id: ProfileId,
    pub base: String,
    pub path: String,
    pub page: u64,
    pub size: u32,
}

#[derive(Clone)]
struct Rendered {
    from: Weak<[Key]>,
    total: u64,
    body: Bytes,
}

pub struct RenderedPages {
    pages: Cache<PageKey, Rendered>,
}

impl Default for RenderedPages {
    fn default() -> Self {
        let pages = Cache::builder()
            .max_capacity(MAX_BYTES)
            .weigher(|key: &PageKey, page: &Rendered| {
                let bytes = page.body.len() + key.base.len() + key.path.len();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        Self { pages }
    }
}

impl RenderedPages {
    /// The page's bytes, if they were made from `view`.
    pub fn get(&self, key: &PageKey, view: &View) -> Option<Bytes> {
        let page = self.pages.get(key)?;
        let same = Weak::ptr_eq(&page.from, &Arc::downgrade(&view.newest)) && page.total == view.total;
        same.then_some(page.body)
    }

    /// Keeps the bytes of a page made from `view`.
    pub fn insert(&self, key: PageKey, view: &View, body: Bytes) {
        self.pages.insert(key, Rendered { from: Arc::downgrade(&view.newest), total: view.total, body });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        View { newest: Vec::new().into(), total: 0 }
    }

    #[test]
    fn a_page_answers_only_for_the_view_it_was_made_from() {
        let pages = RenderedPages::default();
        let key = PageKey {
            profile_id: "p".into(),
            base: "http://x".into(),
            path: "/api/apikeys".into(),
            page: 0,
            size: 20,
        };
        let (first, second) = (view(), view());
        pages.insert(key.clone(), &first, Bytes::from_static(b"{}"));
        assert_eq!(pages.get(&key, &first), Some(Bytes::from_static(b"{}")));
        assert_eq!(pages.get(&key, &first.clone()), Some(Bytes::from_static(b"{}")), "a clone is the view");
        assert!(pages.get(&key, &second).is_none(), "another view, even an equal one");
        assert!(pages.get(&PageKey { page: 1, ..key }, &first).is_none());
    }
}
