//! Keys held in memory answer exactly as the store does: whole profiles, and the head of a
//! profile too large to hold whole, whose later pages come from the store. Each case runs on
//! SQLite and on PostgreSQL (the latter needs the cluster that `cargo xtask test` starts).

use chrono::{TimeDelta, Utc};
use keyward_model::KeyType;
use keyward_server::auth::CredentialCache;
use keyward_server::config::DatabaseSettings;
use keyward_server::hashing::{DEFAULT_ITERATIONS, DEFAULT_MEMORY_KIB, DEFAULT_PARALLELISM, SecretHasher};
use keyward_server::ids::{ClientId, KeyId, ProfileId};
use keyward_server::keys::KeyService;
use keyward_server::store::{self, NewCredentials, SecretHash, Store};
use keyward_server::views::{HELD_KEYS, ProfileViews};
use std::sync::Arc;
use std::time::Duration;

async fn held_pages_match_the_store(store: Arc<dyn Store>) {
    let service = KeyService::new(
        store.clone(),
        SecretHasher::new(DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM).unwrap(),
        Arc::new(CredentialCache::new(Duration::from_secs(60), 100)),
        Arc::new(ProfileViews::new(Duration::from_secs(60), 10_000)),
        u32::MAX,
    );
    let (small, large) = (ProfileId::from("small"), ProfileId::from("large"));
    let start = Utc::now();
    let mut n = 0;
    for (profile, count) in [(&small, 30), (&large, HELD_KEYS + 15)] {
        for i in 0..count {
            n += 1;
            let credentials = NewCredentials {
                name: format!("key {n}"),
                key_for: if i % 3 == 0 { KeyType::Gcp } else { KeyType::Generic },
                scopes: keyward_model::Scopes::all(),
                client_id: ClientId::new(format!("{n:0>32}")),
                secret_hash: SecretHash::new("$argon2id$stand-in".to_owned()),
            };
            // Some keys share a creation time, so that ties are broken by id as the store does.
            let created = start + TimeDelta::milliseconds(i64::from(i / 2));
            store
                .insert_created(
                    profile,
                    KeyId::new_random(),
                    &credentials,
                    created,
                    u32::MAX,
                    &Default::default(),
                )
                .await
                .unwrap();
        }
    }
    for profile in [&small, &large] {
        let (every, total) = store.page(profile, 0, u32::MAX).await.unwrap();
        for (offset, limit) in [(0, 20), (20, 20), (990, 20), (1000, 20), (1010, 20), (5000, 20)] {
            let held = service.page(profile, offset, limit).await.unwrap();
            assert_eq!(
                held,
                store.page(profile, offset, limit).await.unwrap(),
                "{profile:?} page at {offset}"
            );
        }
        // A walk by positions visits every key once, in order, whatever answers each page.
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            let page = service.page_after(profile, after, 97).await.unwrap();
            assert_eq!(page.total, total);
            after = page.keys.last().map(|key| (key.created, key.id));
            walked.extend(page.keys);
            if !page.more {
                break;
            }
        }
        assert_eq!(walked, every, "{profile:?} walk");
        for key_for in [None, Some(KeyType::Gcp)] {
            assert_eq!(
                service.every_key(profile, key_for).await.unwrap(),
                store.every_key(profile, key_for).await.unwrap()
            );
        }
        let oldest = every.last().unwrap();
        assert_eq!(&service.get(profile, oldest.id).await.unwrap(), oldest, "found beyond the held head");
        assert!(service.get(profile, KeyId::new_random()).await.is_err());
    }
}

#[tokio::test]
async fn held_pages_match_the_store_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    held_pages_match_the_store(store::connect(&DatabaseSettings::at(url)).await.unwrap()).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run cargo xtask test"]
async fn held_pages_match_the_store_on_postgres() {
    let url = keyward_tests::database::fresh_postgres().await;
    held_pages_match_the_store(store::connect(&DatabaseSettings::at(url)).await.unwrap()).await;
}
