//! Token verification: never panics, and accepts only a token the service issued, unchanged.
//! The input is tried as a token, and spliced into a valid token: its first two bytes are an
//! offset (little-endian), and the rest replaces as many bytes of the token from there.

#![no_main]

use keyward_model::Scopes;
use keyward_server::clock::SystemClock;
use keyward_server::config::DatabaseSettings;
use keyward_server::store;
use keyward_server::tokens::{RELOAD_INTERVAL, SigningAlgorithm, TokenService, TokenSettings};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

struct Fixture {
    service: TokenService,
    token: String,
    _dir: tempfile::TempDir,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = DatabaseSettings::at(format!("sqlite://{}/fuzz.db", dir.path().display()));
    let store = runtime.block_on(store::connect(&settings)).expect("an SQLite store");
    let settings = TokenSettings {
        algorithm: SigningAlgorithm::Rs256,
        ttl: Duration::from_secs(3600),
        cache_capacity: 10_000,
        base_url: "https://keys.example.com".to_owned(),
        sealing: None,
        reload_interval: RELOAD_INTERVAL,
    };
    let service = runtime
        .block_on(TokenService::load_or_create(store.as_ref(), &settings, Arc::new(SystemClock)))
        .expect("a token service");
    let token = service.issue("c", &Scopes::all()).expect("a token");
    Fixture { service, token, _dir: dir }
});

fuzz_target!(|input: &[u8]| {
    let Fixture { service, token, .. } = &*FIXTURE;
    if let Ok(text) = std::str::from_utf8(input) {
        assert!(text == token || service.verify(text).is_none(), "accepted {text:?}");
    }
    let [low, high, patch @ ..] = input else { return };
    let at = usize::from(u16::from_le_bytes([*low, *high])) % token.len();
    let mut spliced = token.as_bytes().to_vec();
    let end = (at + patch.len()).min(spliced.len());
    spliced.splice(at..end, patch.iter().copied());
    if let Ok(spliced) = String::from_utf8(spliced) {
        assert!(spliced == *token || service.verify(&spliced).is_none(), "accepted {spliced:?}");
    }
});
