//! The keys as the database holds them: sealed at rest, rotated, retired.

use super::*;
use crate::clock::ManualClock;
use crate::config::DatabaseSettings;
use crate::store::SqliteStore;
use base64::Engine;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER: &str = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let store = SqliteStore::connect(&DatabaseSettings::at(url)).await.unwrap();
    (dir, store)
}

fn settings(algorithm: SigningAlgorithm, secret_key: Option<&str>) -> TokenSettings {
    TokenSettings {
        algorithm,
        ttl: Duration::from_secs(60),
        cache_capacity: 1000,
        base_url: "https://keys.example.com".into(),
        sealing: secret_key.map(|key| Arc::new(Sealing::new(SealingKey::from_base64(key).unwrap(), None))),
        reload_interval: RELOAD_INTERVAL,
    }
}

async fn start(
    store: &SqliteStore,
    secret_key: Option<&str>,
    clock: &Arc<ManualClock>,
) -> Result<TokenService, TokenKeyError> {
    TokenService::load_or_create(store, &settings(SigningAlgorithm::Es256, secret_key), clock.clone()).await
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn with_a_secret_key_no_private_key_is_stored_in_clear() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::starting_now());
    let service = start(&store, Some(KEY), &clock).await.unwrap();
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 2, "RS256 and ES256");
    let opener = SealingKey::from_base64(KEY).unwrap();
    for record in &stored {
        let StoredPrivateKey::Sealed(sealed) = &record.private_key else {
            panic!("{} is stored in clear", record.kid);
        };
        let pem = opener.open(&record.kid, sealed).unwrap();
        let der = pem::parse(pem.as_bytes()).unwrap().into_contents();
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap();
        assert!(!sealed.contains("PRIVATE KEY") && !sealed.contains(pem.lines().nth(1).unwrap()));
        assert!(!bytes.windows(der.len()).any(|window| window == der.as_slice()), "the DER is stored");
        assert!(!bytes.windows(16).any(|window| window == &der[der.len() - 16..]), "a part of the DER is");
    }
    let token = service.issue("c", &Scopes::all()).unwrap();
    let restarted = start(&store, Some(KEY), &clock).await.unwrap();
    assert_eq!(
        restarted.verify(&token).map(|granted| granted.client_id),
        Some(ClientId::from("c")),
        "the sealed keys open again"
    );
}

#[tokio::test]
async fn keys_stored_in_clear_are_sealed_at_the_first_start_with_a_secret_key() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::starting_now());
    let token = start(&store, None, &clock).await.unwrap().issue("c", &Scopes::all()).unwrap();
    let clear = store.signing_keys().await.unwrap();
    assert!(clear.iter().all(|record| matches!(record.private_key, StoredPrivateKey::Clear(_))));
    let sealed_start = start(&store, Some(KEY), &clock).await.unwrap();
    let sealed = store.signing_keys().await.unwrap();
    assert!(sealed.iter().all(|record| matches!(record.private_key, StoredPrivateKey::Sealed(_))));
    assert_eq!(
        clear.iter().map(|record| &record.kid).collect::<Vec<_>>(),
        sealed.iter().map(|record| &record.kid).collect::<Vec<_>>(),
        "the same keys"
    );
    assert_eq!(
        sealed_start.verify(&token).map(|granted| granted.client_id),
        Some(ClientId::from("c")),
        "their tokens verify"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_secret_key_is_refused_at_start_naming_the_setting() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::starting_now());
    start(&store, Some(KEY), &clock).await.unwrap();
    for (secret_key, expected) in [(Some(OTHER), "does not open"), (None, "no secret key is configured")] {
        let Err(error) = start(&store, secret_key, &clock).await else {
            panic!("started with {secret_key:?}");
        };
        let message = error.to_string();
        assert!(message.contains(expected) && message.contains("KEYWARD_SECRET_KEY"), "{message}");
        let Err(refused) = rotate(&store, SigningAlgorithm::Es256, None, clock.now()).await else {
            panic!("rotated without the secret key");
        };
        assert!(refused.to_string().contains("KEYWARD_SECRET_KEY"));
    }
    assert_eq!(store.signing_keys().await.unwrap().len(), 2, "nothing stored by the refusals");
}

/// A rotation of the secret key with no pause: instances started with the new key and the
/// previous one beside it open the keys sealed with either and seal them again with the new key,
/// which from then on opens them alone. An instance still running with the old key goes on
/// reloading, and tokens signed before verify throughout.
#[tokio::test]
async fn the_secret_key_rotates_with_the_previous_one_beside_it() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::starting_now());
    let old_instance = start(&store, Some(KEY), &clock).await.unwrap();
    let token = old_instance.issue("c", &Scopes::all()).unwrap();
    let Err(refused) = start(&store, Some(OTHER), &clock).await else {
        panic!("the new key alone opened keys sealed with the old one");
    };
    assert!(refused.to_string().contains("KEYWARD_PREVIOUS_SECRET_KEY"), "{refused}");

    let mut rotating = settings(SigningAlgorithm::Es256, None);
    rotating.sealing = Some(Arc::new(Sealing::new(
        SealingKey::from_base64(OTHER).unwrap(),
        Some(SealingKey::from_base64(KEY).unwrap()),
    )));
    let new_instance = TokenService::load_or_create(&store, &rotating, clock.clone()).await.unwrap();
    let Err(TokenKeyError::SecretKeyRotating) = new_instance.rotate(&store).await else {
        panic!("a signing key sealed with the new secret key, which the old instance cannot open");
    };
    let (old, new) = (SealingKey::from_base64(KEY).unwrap(), SealingKey::from_base64(OTHER).unwrap());
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 2, "the same keys, no new ones");
    for record in &stored {
        let StoredPrivateKey::Sealed(sealed) = &record.private_key else {
            panic!("{} is stored in clear", record.kid);
        };
        assert!(new.open(&record.kid, sealed).is_ok(), "{} is sealed with the new key", record.kid);
        assert!(old.open(&record.kid, sealed).is_err(), "{} still opens with the old key", record.kid);
    }

    old_instance.reload(&store).await.unwrap();
    let after = start(&store, Some(OTHER), &clock).await.unwrap();
    for service in [&old_instance, &new_instance, &after] {
        assert_eq!(service.verify(&token).map(|granted| granted.client_id), Some(ClientId::from("c")));
    }
    assert_eq!(kid_of(&after.issue("c", &Scopes::all()).unwrap()), kid_of(&token), "the signing key is kept");
}

/// Instances starting together with the new secret key and the previous one each seal the keys
/// again, and agree: every start succeeds, and the new key alone opens every key afterwards.
#[tokio::test]
async fn instances_starting_together_during_a_secret_key_rotation_agree() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::starting_now());
    let token = start(&store, Some(KEY), &clock).await.unwrap().issue("c", &Scopes::all()).unwrap();
    let mut rotating = settings(SigningAlgorithm::Es256, None);
    rotating.sealing = Some(Arc::new(Sealing::new(
        SealingKey::from_base64(OTHER).unwrap(),
        Some(SealingKey::from_base64(KEY).unwrap()),
    )));
    let start_rotating = || TokenService::load_or_create(&store, &rotating, clock.clone());
    let (a, b, c, d) = tokio::join!(start_rotating(), start_rotating(), start_rotating(), start_rotating());
    for started in [a, b, c, d] {
        let service = started.expect("every start succeeds");
        assert_eq!(service.verify(&token).map(|granted| granted.client_id), Some(ClientId::from("c")));
    }
    let after = start(&store, Some(OTHER), &clock).await.expect("the new key alone opens every key");
    assert_eq!(after.verify(&token).map(|granted| granted.client_id), Some(ClientId::from("c")));
}

/// A rotation on one instance: the new key signs there at once and on another at its reload;
/// tokens of the old key verify on both until the old key retires, a TTL and two reloads
/// after the rotation, and from then on not even a token it signed since (by an instance that
/// never reloaded, or a thief of the old key) nor one remembered as verified.
#[tokio::test]
async fn a_rotated_key_signs_and_the_old_one_verifies_until_it_retires() {
    let (_dir, store) = store().await;
    let clock = Arc::new(ManualClock::starting_now());
    let (first, second) =
        (start(&store, Some(KEY), &clock).await.unwrap(), start(&store, Some(KEY), &clock).await.unwrap());
    let stale = start(&store, Some(KEY), &clock).await.unwrap();
    let before = first.issue("c", &Scopes::all()).unwrap();
    let old_kid = kid_of(&before);

    let new_kid = first.rotate(&store).await.unwrap();
    assert_ne!(new_kid, old_kid);
    assert_eq!(kid_of(&first.issue("c", &Scopes::all()).unwrap()), new_kid, "signs here at once");
    assert_eq!(
        kid_of(&second.issue("c", &Scopes::all()).unwrap()),
        old_kid,
        "elsewhere from the next reload"
    );
    second.reload(&store).await.unwrap();
    assert_eq!(kid_of(&second.issue("c", &Scopes::all()).unwrap()), new_kid);
    for service in [&first, &second] {
        assert_eq!(
            service.verify(&before).map(|granted| granted.client_id),
            Some(ClientId::from("c")),
            "the old key's token verifies"
        );
        assert!(service.jwks().find(&old_kid).is_some() && service.jwks().find(&new_kid).is_some());
    }

    let overlap = overlap(first.ttl(), RELOAD_INTERVAL);
    clock.advance(overlap - Duration::from_secs(1));
    let late = stale.issue("c", &Scopes::all()).unwrap();
    assert_eq!(kid_of(&late), old_kid);
    assert_eq!(
        first.verify(&late).map(|granted| granted.client_id),
        Some(ClientId::from("c")),
        "the old key has not retired yet"
    );
    // The new key is stored a moment after the newest (see `rotate`).
    clock.advance(Duration::from_secs(2));
    for service in [&first, &second] {
        assert!(service.verify(&late).is_none(), "remembered, unexpired, but its key retired");
        assert!(service.jwks().find(&old_kid).is_none(), "retired keys are not published");
        assert_eq!(service.jwks().keys.len(), 2, "the RS256 key and the new ES256 key");
    }
    second.reload(&store).await.unwrap();
    let restarted = start(&store, Some(KEY), &clock).await.unwrap();
    assert!(
        restarted.verify(&stale.issue("d", &Scopes::all()).unwrap()).is_none(),
        "nor after a reload or a restart"
    );
    assert_eq!(kid_of(&restarted.issue("c", &Scopes::all()).unwrap()), new_kid);
}
