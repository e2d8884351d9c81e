//! Micro-benchmarks of the pieces on the server's hot paths, one group per piece.
//!
//! Every authenticated request decodes a full key or checks a token, then hits the credential
//! cache or pays an argon2 verification; these figures say what each step costs on its own, so that
//! a change to one of them shows up here before it shows up in end-to-end latency.
//!
//! `cargo bench -p keyward-server --bench pieces` (add `-- --quick` for a rough pass).

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use keyward_model::{KeyFormat, KeyType, Scopes, Secret};
use keyward_server::auth::CredentialCache;
use keyward_server::clock::SystemClock;
use keyward_server::config::DatabaseSettings;
use keyward_server::hashing::{DEFAULT_ITERATIONS, DEFAULT_MEMORY_KIB, DEFAULT_PARALLELISM, SecretHasher};
use keyward_server::ids::{ClientId, KeyId, ProfileId};
use keyward_server::secrets::{CLIENT_ID_LEN, GeneratedCredentials, SECRET_LEN, random_base62};
use keyward_server::store::{self, Key, Store};
use keyward_server::tokens::{SigningAlgorithm, TokenService, TokenSettings};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The base URL tokens are issued for and pinned to, as with a configured public URL.
const BASE: &str = "https://keys.example.com";

/// Distinct tokens made upfront per algorithm for the uncached verification: each is verified
/// once per fresh service, so a timed run never hits the cache.
const FRESH_TOKENS: usize = 1000;

/// A short measurement for the cheap pieces (nanoseconds to microseconds each).
fn quick_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    group
}

/// A short measurement with fewer samples, for the pieces that take a millisecond or more (argon2,
/// RSA signatures): 100 samples would not fit in the measurement time.
fn slow_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = quick_group(c, name);
    group.sample_size(20);
    group
}

/// Full key decoding: the first step of every request that presents a full key, run before any
/// cache, throttle or query, so it must stay far below everything after it.
fn key_format(c: &mut Criterion) {
    let format = KeyFormat::new("keyward").expect("a valid prefix");
    let credentials = GeneratedCredentials::generate();
    let key = format.encode(credentials.client_id.as_str(), &credentials.secret);
    let key = key.expose().to_owned();
    assert!(format.decode(&key).is_ok());
    // One character changed before the checksum: the right shape, so the CRC32 is computed and
    // fails, the most work a made-up key costs.
    let mut malformed = key.clone().into_bytes();
    let position = "keyward_".len() + CLIENT_ID_LEN;
    malformed[position] = if malformed[position] == b'a' { b'b' } else { b'a' };
    let malformed = String::from_utf8(malformed).expect("ASCII");
    assert!(format.decode(&malformed).is_err());

    let mut group = quick_group(c, "key_format");
    // A well-formed key: prefix, shape and checksum checked, client id and secret copied out.
    group.bench_function("decode_valid", |b| b.iter(|| format.decode(black_box(&key))));
    // A key with a wrong checksum: what a mistyped or guessed key costs before it is refused.
    group.bench_function("decode_bad_checksum", |b| b.iter(|| format.decode(black_box(&malformed))));
    group.finish();
}

/// The verified-credential cache: a repeat request with a known credential costs this instead of
/// a query and an argon2 verification, so it bounds the latency of most authenticated requests.
fn credential_cache(c: &mut Criterion) {
    let cache = CredentialCache::new(Duration::from_secs(3600), 10_000);
    let client_id = random_base62(CLIENT_ID_LEN);
    let secret = random_base62(SECRET_LEN);
    let wrong_secret = random_base62(SECRET_LEN);
    let unknown_client = random_base62(CLIENT_ID_LEN);
    let principal = std::sync::Arc::new(Key {
        id: KeyId::new_random(),
        profile_id: ProfileId::from("profile"),
        name: "bench".into(),
        client_id: ClientId::new(client_id.clone()),
        key_for: KeyType::Generic,
        scopes: Scopes::all(),
        created: chrono::Utc::now(),
        last_modified: chrono::Utc::now(),
    });
    cache.remember_verified(&secret, &principal);
    assert_eq!(cache.verified(&client_id, &secret), Some(principal));
    assert!(cache.verified(&client_id, &wrong_secret).is_none());

    let mut group = quick_group(c, "credential_cache");
    // The secret that verified before: a lookup, a SHA-256 and a clone of the principal.
    group.bench_function("hit", |b| b.iter(|| cache.verified(black_box(&client_id), black_box(&secret))));
    // A known client id with another secret: the same lookup and hash, then no match.
    group.bench_function("miss_wrong_secret", |b| {
        b.iter(|| cache.verified(black_box(&client_id), black_box(&wrong_secret)))
    });
    // A client id never verified: only the lookup, as on a first request.
    group.bench_function("miss_unknown_client", |b| {
        b.iter(|| cache.verified(black_box(&unknown_client), black_box(&secret)))
    });
    group.finish();
}

/// A token service for `algorithm` on `store`'s signing keys, with an empty verification cache.
fn token_service(
    runtime: &tokio::runtime::Runtime,
    store: &dyn Store,
    algorithm: SigningAlgorithm,
) -> TokenService {
    runtime
        .block_on(TokenService::load_or_create(
            store,
            &TokenSettings {
                algorithm,
                ttl: Duration::from_secs(3600),
                cache_capacity: 100_000,
                base_url: BASE.to_owned(),
                sealing: None,
                reload_interval: keyward_server::tokens::RELOAD_INTERVAL,
            },
            Arc::new(SystemClock),
        ))
        .expect("a token service")
}

/// Access tokens, per signing algorithm: what `/oauth/token` pays to sign one, what a request
/// presenting a token already seen pays, and what a request presenting a new token pays (the
/// signature check that dominates token authentication after each issue).
fn tokens(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = DatabaseSettings::at(format!("sqlite://{}/k.db", dir.path().display()));
    let store = runtime.block_on(store::connect(&settings)).expect("an SQLite store");

    let mut group = slow_group(c, "tokens");
    for algorithm in [SigningAlgorithm::Rs256, SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
        let name = algorithm.as_str();
        let service = token_service(&runtime, store.as_ref(), algorithm);
        let client_id = random_base62(CLIENT_ID_LEN);
        let token = service.issue(&client_id, &Scopes::all()).expect("a token");
        assert_eq!(
            service.verify(&token).map(|granted| granted.client_id),
            Some(ClientId::new(client_id.clone()))
        );
        // Distinct client ids, so distinct tokens, that no service has verified yet.
        let fresh: Vec<String> = (0..FRESH_TOKENS)
            .map(|_| service.issue(&random_base62(CLIENT_ID_LEN), &Scopes::all()).expect("a token"))
            .collect();

        // Claims built and serialised, then signed with the key pair held parsed.
        group.bench_function(BenchmarkId::new("issue", name), |b| {
            b.iter(|| service.issue(black_box(&client_id), black_box(&Scopes::all())))
        });
        // A token verified before: a SHA-256 and a cache lookup, no signature check.
        group.bench_function(BenchmarkId::new("verify_cached", name), |b| {
            b.iter(|| service.verify(black_box(&token)))
        });
        // A token not seen before: the header, the signature and the claims checked, then
        // remembered. Each timed pass runs on a new service over the same stored keys, so its
        // cache starts empty and every token in the pass is verified afresh.
        group.bench_function(BenchmarkId::new("verify_fresh", name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let pass = left.min(FRESH_TOKENS as u64);
                    let verifier = token_service(&runtime, store.as_ref(), algorithm);
                    let start = Instant::now();
                    for token in fresh.iter().take(pass as usize) {
                        black_box(verifier.verify(black_box(token)));
                    }
                    total += start.elapsed();
                    assert!(verifier.verify(&fresh[0]).is_some(), "the tokens verify");
                    left -= pass;
                }
                total
            })
        });
    }
    group.finish();
}

/// argon2id with the default costs: what creating a key (hash) and an uncached authentication
/// (verify) pay, and so what an attacker presenting unknown credentials can make the server burn.
fn argon2(c: &mut Criterion) {
    let hasher = SecretHasher::new(DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM)
        .expect("valid argon2 parameters");
    let secret: Secret = GeneratedCredentials::generate().secret;
    let hash = hasher.hash(secret.expose()).expect("a hash");
    assert!(hasher.verify(secret.expose(), &hash));

    let mut group = slow_group(c, "argon2");
    // A fresh salt and one argon2id computation, encoded as a PHC string.
    group.bench_function("hash", |b| b.iter(|| hasher.hash(black_box(secret.expose()))));
    // The PHC string parsed and one argon2id computation compared.
    group
        .bench_function("verify", |b| b.iter(|| hasher.verify(black_box(secret.expose()), black_box(&hash))));
    group.finish();
}

criterion_group!(benches, key_format, credential_cache, tokens, argon2);
criterion_main!(benches);
