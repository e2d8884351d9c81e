//! The `Store` contract, held against every backend: each case runs on SQLite and on PostgreSQL
//! (the latter needs the cluster that `cargo xtask test` starts).

use chrono::{TimeDelta, Utc};
use keyward_model::KeyType;
use keyward_server::config::DatabaseSettings;
use keyward_server::ids::{ClientId, KeyId, ProfileId};
use keyward_server::store::{
    self, Actor, KeyState, NewCredentials, SecretHash, SigningKeyRecord, Store, StoreError, StoredPrivateKey,
};
use keyward_server::tokens::SigningAlgorithm::{EdDsa, Es256, Rs256};
use std::sync::Arc;

/// Runs the contract case `$case` on each backend, as a test of its own.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
                    super::$case(super::open(url).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs PostgreSQL: run cargo xtask test"]
                async fn $case() {
                    let url = keyward_tests::database::fresh_postgres().await;
                    super::$case(super::open(url).await).await;
                }
            )*
        }
    };
}

contract!(
    keys_move_from_initialised_to_created_to_gone,
    another_profile_sees_nothing,
    the_limit_holds_under_concurrent_creates,
    a_name_is_taken_once_under_concurrent_creates,
    concurrent_creates_of_one_initialised_key_create_it_once,
    pages_follow_one_order_and_positions_walk_it,
    initialised_keys_are_bounded_and_purged,
    the_first_signing_key_wins,
    a_rotation_adds_a_key_and_sealing_replaces_what_was_read_once,
    totals_and_limits_follow_every_change,
    sign_ins_record_the_profile_and_provision_one_default_key,
    audit_events_past_their_retention_are_purged_in_batches,
    an_audit_event_keeps_who_acted,
);

async fn open(url: String) -> Arc<dyn Store> {
    store::connect(&DatabaseSettings::at(url)).await.expect("the store opens")
}

fn credentials(name: &str) -> NewCredentials {
    NewCredentials {
        name: name.to_owned(),
        key_for: KeyType::Onboarding,
        scopes: keyward_model::Scopes::all(),
        client_id: ClientId::new(format!("{:0>32}", uuid::Uuid::new_v4().simple())),
        secret_hash: SecretHash::new("$argon2id$stand-in".to_owned()),
    }
}

/// The command line: who makes the changes these cases make, for the audit log.
fn by() -> Actor {
    Actor::default()
}

fn profile(name: &str) -> ProfileId {
    ProfileId::from(name)
}

async fn keys_move_from_initialised_to_created_to_gone(store: Arc<dyn Store>) {
    let (p, now) = (profile("p"), Utc::now());
    let initialised = store.initialise(&p, KeyId::new_random(), now, 5).await.unwrap();
    let got = store.get(&p, initialised.id).await.unwrap();
    assert!(matches!(got, Some(KeyState::Initialised(ref key)) if *key == initialised), "{got:?}");

    let new = credentials("deploy");
    let created = store.create_initialised(&p, initialised.id, &new, now, 5, &by()).await.unwrap();
    assert_eq!(
        (created.id, created.name.as_str(), created.key_for),
        (initialised.id, "deploy", KeyType::Onboarding)
    );
    assert!(matches!(
        store.create_initialised(&p, initialised.id, &credentials("again"), now, 5, &by()).await,
        Err(StoreError::AlreadyCreated)
    ));
    let stored = store.credential(&new.client_id).await.unwrap().expect("the credential");
    assert_eq!((stored.key.clone(), stored.secret_hash.expose()), (created.clone(), "$argon2id$stand-in"));

    // Instants are kept to the microsecond.
    let later = now + TimeDelta::seconds(1);
    let renamed = store.rename(&p, created.id, "deployer", None, later, &by()).await.unwrap();
    assert_eq!(renamed.name, "deployer");
    assert_eq!(renamed.last_modified.timestamp_micros(), later.timestamp_micros());
    assert_eq!(renamed.created, created.created);
    assert!(matches!(
        store.rename(&p, KeyId::new_random(), "x", None, later, &by()).await,
        Err(StoreError::NotFound)
    ));

    let deleted = store.delete_by_name(&p, "deployer", &by()).await.unwrap().expect("deleted");
    assert_eq!(deleted.id, created.id);
    assert!(store.get(&p, created.id).await.unwrap().is_none());
    assert!(store.credential(&new.client_id).await.unwrap().is_none());
    assert!(store.delete(&p, created.id, &by()).await.unwrap().is_none());
}

async fn another_profile_sees_nothing(store: Arc<dyn Store>) {
    let (mine, theirs, now) = (profile("mine"), profile("theirs"), Utc::now());
    let key =
        store.insert_created(&mine, KeyId::new_random(), &credentials("k"), now, 5, &by()).await.unwrap();
    assert!(store.get(&theirs, key.id).await.unwrap().is_none());
    assert!(matches!(store.rename(&theirs, key.id, "x", None, now, &by()).await, Err(StoreError::NotFound)));
    assert!(store.delete(&theirs, key.id, &by()).await.unwrap().is_none());
    assert!(store.delete_by_name(&theirs, "k", &by()).await.unwrap().is_none());
    assert_eq!(store.page(&theirs, 0, 10).await.unwrap().1, 0);
    assert!(store.every_key(&theirs, None).await.unwrap().is_empty());
    assert!(store.get(&mine, key.id).await.unwrap().is_some(), "nothing of it was changed");
}

async fn the_limit_holds_under_concurrent_creates(store: Arc<dyn Store>) {
    let p = profile("p");
    let attempts = (0..60).map(|n| {
        let (store, p) = (store.clone(), p.clone());
        tokio::spawn(async move {
            store
                .insert_created(
                    &p,
                    KeyId::new_random(),
                    &credentials(&format!("k{n}")),
                    Utc::now(),
                    10,
                    &by(),
                )
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(Err(StoreError::LimitReached(10))))).count();
    assert_eq!((created, refused), (10, 50));
    assert_eq!(store.page(&p, 0, 100).await.unwrap().1, 10);
}

async fn a_name_is_taken_once_under_concurrent_creates(store: Arc<dyn Store>) {
    let p = profile("p");
    let attempts = (0..30).map(|_| {
        let (store, p) = (store.clone(), p.clone());
        tokio::spawn(async move {
            store.insert_created(&p, KeyId::new_random(), &credentials("same"), Utc::now(), 50, &by()).await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let taken = results.iter().filter(|r| matches!(r, Ok(Err(StoreError::NameTaken)))).count();
    assert_eq!((created, taken), (1, 29));
}

async fn concurrent_creates_of_one_initialised_key_create_it_once(store: Arc<dyn Store>) {
    let p = profile("p");
    let id = store.initialise(&p, KeyId::new_random(), Utc::now(), 5).await.unwrap().id;
    let attempts = (0..20).map(|n| {
        let (store, p) = (store.clone(), p.clone());
        tokio::spawn(async move {
            store.create_initialised(&p, id, &credentials(&format!("k{n}")), Utc::now(), 50, &by()).await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let already = results.iter().filter(|r| matches!(r, Ok(Err(StoreError::AlreadyCreated)))).count();
    assert_eq!((created, already), (1, 19));
}

async fn pages_follow_one_order_and_positions_walk_it(store: Arc<dyn Store>) {
    let p = profile("p");
    // Pairs of keys made in the same microsecond: the id breaks the tie, alike on every backend.
    let instants = [Utc::now(), Utc::now() - TimeDelta::seconds(5)];
    for n in 0..12 {
        store
            .insert_created(
                &p,
                KeyId::new_random(),
                &credentials(&format!("k{n}")),
                instants[n % 2],
                50,
                &by(),
            )
            .await
            .unwrap();
    }
    let (all, total) = store.page(&p, 0, 100).await.unwrap();
    assert_eq!(total, 12);
    let order: Vec<_> = all.iter().map(|key| (key.created, key.id)).collect();
    let mut expected = order.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(order, expected, "newest first, then by descending id");
    let (second, _) = store.page(&p, 5, 5).await.unwrap();
    assert_eq!(second, all[5..10]);

    let mut walked = Vec::new();
    let mut after = None;
    for _ in 0..=12 {
        let (page, _) = store.page_after(&p, after, 5).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.created, last.id));
        walked.extend(page);
    }
    assert_eq!(walked, all);
    assert_eq!(store.every_key(&p, Some(KeyType::Onboarding)).await.unwrap(), all);
    assert!(store.every_key(&p, Some(KeyType::Gcp)).await.unwrap().is_empty());
}

async fn initialised_keys_are_bounded_and_purged(store: Arc<dyn Store>) {
    let p = profile("p");
    let old = Utc::now() - TimeDelta::days(2);
    for _ in 0..3 {
        store.initialise(&p, KeyId::new_random(), old, 3).await.unwrap();
    }
    assert!(matches!(
        store.initialise(&p, KeyId::new_random(), Utc::now(), 3).await,
        Err(StoreError::LimitReached(3))
    ));
    assert_eq!(store.page(&p, 0, 10).await.unwrap().1, 0, "initialised keys are not listed");
    assert_eq!(store.purge_initialised(Utc::now() - TimeDelta::days(1)).await.unwrap(), 3);
    store.initialise(&p, KeyId::new_random(), Utc::now(), 3).await.expect("room again");
}

async fn the_first_signing_key_wins(store: Arc<dyn Store>) {
    assert!(store.signing_keys().await.unwrap().is_empty());
    let key = |kid: &str, algorithm| SigningKeyRecord {
        kid: kid.to_owned(),
        algorithm,
        private_key: StoredPrivateKey::Clear(format!("pem of {kid}")),
        created: Utc::now(),
    };
    let racers =
        [("a", Rs256), ("b", Rs256), ("c", EdDsa), ("d", Rs256), ("e", EdDsa)].map(|(kid, algorithm)| {
            let (store, key) = (store.clone(), key(kid, algorithm));
            tokio::spawn(async move { store.insert_first_signing_key(&key).await })
        });
    for result in futures::future::join_all(racers).await {
        result.unwrap().unwrap();
    }
    let winners = store.signing_keys().await.unwrap();
    assert_eq!(winners.len(), 2, "one key of each algorithm");
    for winner in &winners {
        assert!(
            matches!(&winner.private_key, StoredPrivateKey::Clear(pem) if *pem == format!("pem of {}", winner.kid))
        );
    }
    let rs256 = winners.iter().find(|key| key.algorithm == Rs256).expect("an RS256 key");
    assert!(["a", "b", "d"].contains(&rs256.kid.as_str()));
    store.insert_first_signing_key(&key("late", Rs256)).await.unwrap();
    store.insert_first_signing_key(&key("es", Es256)).await.unwrap();
    let now: Vec<String> = store.signing_keys().await.unwrap().into_iter().map(|key| key.kid).collect();
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(now.contains(&rs256.kid) && !now.contains(&"late".to_owned()), "the first key stays");
}

async fn a_rotation_adds_a_key_and_sealing_replaces_what_was_read_once(store: Arc<dyn Store>) {
    let at = Utc::now();
    let record = |kid: &str, created, private_key| SigningKeyRecord {
        kid: kid.to_owned(),
        algorithm: Rs256,
        private_key,
        created,
    };
    store
        .insert_first_signing_key(&record("first", at, StoredPrivateKey::Clear("pem".into())))
        .await
        .unwrap();
    let newer = at + TimeDelta::seconds(1);
    store
        .insert_signing_key(&record("second", newer, StoredPrivateKey::Sealed("second".into())))
        .await
        .unwrap();
    let clear = StoredPrivateKey::Clear("pem".into());
    store.seal_signing_key("first", &clear, "sealed").await.unwrap();
    store.seal_signing_key("first", &clear, "sealed by another instance").await.unwrap();
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(
        stored.iter().map(|key| key.kid.as_str()).collect::<Vec<_>>(),
        ["first", "second"],
        "oldest first"
    );
    assert!(matches!(&stored[0].private_key, StoredPrivateKey::Sealed(sealed) if sealed == "sealed"));
    assert!(matches!(&stored[1].private_key, StoredPrivateKey::Sealed(sealed) if sealed == "second"));

    // A rotation of the secret key seals again what the row holds as read, and only that.
    let sealed = StoredPrivateKey::Sealed("sealed".into());
    store.seal_signing_key("first", &sealed, "sealed with the new secret key").await.unwrap();
    store.seal_signing_key("first", &sealed, "sealed again by another instance").await.unwrap();
    store.seal_signing_key("second", &sealed, "not what the row holds").await.unwrap();
    let same_text_in_clear = StoredPrivateKey::Clear("second".into());
    store.seal_signing_key("second", &same_text_in_clear, "not what the row holds either").await.unwrap();
    let stored = store.signing_keys().await.unwrap();
    assert!(
        matches!(&stored[0].private_key, StoredPrivateKey::Sealed(sealed) if sealed == "sealed with the new secret key")
    );
    assert!(matches!(&stored[1].private_key, StoredPrivateKey::Sealed(sealed) if sealed == "second"));
}

/// The totals and limits come from counts kept beside the keys: every kind of change moves them,
/// and they always equal what a count of the keys says.
async fn totals_and_limits_follow_every_change(store: Arc<dyn Store>) {
    let (p, now) = (profile("counted"), Utc::now());
    let total = async |store: &Arc<dyn Store>| {
        let (_, total) = store.page(&p, 0, 1).await.unwrap();
        assert_eq!(total, store.every_key(&p, None).await.unwrap().len() as u64, "total equals the keys");
        total
    };
    let mut pending = Vec::new();
    for _ in 0..3 {
        pending.push(store.initialise(&p, KeyId::new_random(), now - TimeDelta::days(2), 3).await.unwrap());
    }
    assert!(matches!(
        store.initialise(&p, KeyId::new_random(), now, 3).await,
        Err(StoreError::LimitReached(3))
    ));
    assert_eq!(total(&store).await, 0, "initialised keys are not counted as created");
    let first = store.create_initialised(&p, pending[0].id, &credentials("a"), now, 3, &by()).await.unwrap();
    store.insert_created(&p, KeyId::new_random(), &credentials("b"), now, 3, &by()).await.unwrap();
    assert_eq!(total(&store).await, 2);
    store.initialise(&p, KeyId::new_random(), now, 3).await.expect("creating freed an initialised place");
    store.rename(&p, first.id, "a2", None, now, &by()).await.unwrap();
    assert_eq!(total(&store).await, 2, "a rename counts nothing");
    store.insert_created(&p, KeyId::new_random(), &credentials("c"), now, 3, &by()).await.unwrap();
    assert!(matches!(
        store.insert_created(&p, KeyId::new_random(), &credentials("d"), now, 3, &by()).await,
        Err(StoreError::LimitReached(3))
    ));
    store.delete(&p, first.id, &by()).await.unwrap().expect("deleted");
    store.delete_by_name(&p, "b", &by()).await.unwrap().expect("deleted");
    assert_eq!(total(&store).await, 1);
    store.delete(&p, pending[1].id, &by()).await.unwrap().expect("an initialised key deleted");
    assert_eq!(store.purge_initialised(now - TimeDelta::days(1)).await.unwrap(), 1);
    // One created and one initialised key remain: two of each fit again.
    store.insert_created(&p, KeyId::new_random(), &credentials("e"), now, 3, &by()).await.unwrap();
    store.insert_created(&p, KeyId::new_random(), &credentials("f"), now, 3, &by()).await.unwrap();
    for _ in 0..2 {
        store.initialise(&p, KeyId::new_random(), now, 3).await.expect("room for initialised keys");
    }
    assert!(store.initialise(&p, KeyId::new_random(), now, 3).await.is_err());
    assert_eq!(total(&store).await, 3);
    assert_eq!(store.page(&profile("other"), 0, 1).await.unwrap().1, 0);
}

async fn sign_ins_record_the_profile_and_provision_one_default_key(store: Arc<dyn Store>) {
    let p = profile("auth0|person");
    let never = store.profile(&p).await.unwrap();
    assert_eq!((never.first_sign_in, never.default_key.as_ref(), never.created_keys), (None, None, 0));

    // Stores keep microseconds.
    let at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let first = store.record_sign_in(&p, at).await.unwrap();
    assert_eq!((first.first_sign_in, first.last_sign_in), (Some(at), Some(at)));
    assert!(first.default_key.is_none());
    let later = store.record_sign_in(&p, at + TimeDelta::seconds(5)).await.unwrap();
    assert_eq!((later.first_sign_in, later.last_sign_in), (Some(at), Some(at + TimeDelta::seconds(5))));
    // A sign-in recorded late does not move the last one back.
    let late = store.record_sign_in(&p, at + TimeDelta::seconds(1)).await.unwrap();
    assert_eq!(late.last_sign_in, Some(at + TimeDelta::seconds(5)));

    // Concurrent provisions agree on one key, even at the limit (the default key may be one more).
    store.insert_created(&p, KeyId::new_random(), &credentials("mine"), Utc::now(), 50, &by()).await.unwrap();
    let attempts = (0..10).map(|_| {
        let (store, p) = (store.clone(), p.clone());
        tokio::spawn(async move {
            store
                .provision_default_key(&p, KeyId::new_random(), &credentials("default"), Utc::now(), 1, &by())
                .await
        })
    });
    let provisioned: Vec<_> =
        futures::future::join_all(attempts).await.into_iter().map(|r| r.unwrap().unwrap().id).collect();
    assert!(provisioned.iter().all(|id| *id == provisioned[0]), "{provisioned:?}");
    let known = store.profile(&p).await.unwrap();
    assert_eq!(known.default_key.map(|key| key.id), Some(provisioned[0]));
    assert_eq!(known.created_keys, 2);

    // Deleted, it is no longer the default; a key named `default` made by hand is adopted.
    store.delete(&p, provisioned[0], &by()).await.unwrap();
    assert!(store.profile(&p).await.unwrap().default_key.is_none());
    let by_hand = store
        .insert_created(&p, KeyId::new_random(), &credentials("default"), Utc::now(), 50, &by())
        .await
        .unwrap();
    let adopted = store
        .provision_default_key(&p, KeyId::new_random(), &credentials("default"), Utc::now(), 50, &by())
        .await
        .unwrap();
    assert_eq!(adopted.id, by_hand.id);
}

async fn audit_events_past_their_retention_are_purged_in_batches(store: Arc<dyn Store>) {
    let p = profile("p");
    let now = Utc::now();
    // 23 creates a year ago, 3 recent: one audit event each.
    for n in 0..26 {
        let at = if n < 23 { now - TimeDelta::days(400) + TimeDelta::seconds(n) } else { now };
        store
            .insert_created(&p, KeyId::new_random(), &credentials(&format!("k{n}")), at, 50, &by())
            .await
            .unwrap();
    }
    let purged = store.purge_audit_events(now - TimeDelta::days(365), 5).await.unwrap();
    assert_eq!(purged, 23, "every old event, over five batches");
    let kept = store.audit_events(&p, None, 100).await.unwrap();
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|event| event.at >= now - TimeDelta::seconds(1)), "{kept:?}");
    assert_eq!(store.purge_audit_events(now - TimeDelta::days(365), 5).await.unwrap(), 0);
    // The keys themselves are untouched.
    assert_eq!(store.profile(&p).await.unwrap().created_keys, 26);
}

/// The key, the address and, for a person signed in, the identity provider, as written.
async fn an_audit_event_keeps_who_acted(store: Arc<dyn Store>) {
    let p = profile("acted");
    let actors = [
        by(),
        Actor { client_id: Some(ClientId::from("key")), address: Some([10, 0, 0, 7].into()), issuer: None },
        Actor {
            client_id: Some(ClientId::from("default")),
            address: Some("2001:db8::1".parse().unwrap()),
            issuer: Some("https://idp.example.com/".into()),
        },
    ];
    for (n, actor) in actors.iter().enumerate() {
        let name = format!("k{n}");
        store
            .insert_created(&p, KeyId::new_random(), &credentials(&name), Utc::now(), 50, actor)
            .await
            .unwrap();
    }
    let mut recorded = store.audit_events(&p, None, 10).await.unwrap();
    recorded.reverse();
    assert_eq!(recorded.iter().map(|event| event.actor.clone()).collect::<Vec<_>>(), actors);
}
