//! The throttle: bounded work under guessing, no lockout of a key's owner by someone else's
//! failures, and no refusal of legitimate first uses.

use crate::keys_v1::wrong_secret_key;
use keyward_server::config::ServeSettings;
use keyward_tests::{StatusCode, TestServer};
use std::num::NonZeroU32;

/// Production's quotas, cheap hashes (hundreds of keys are made), and the loopback peer trusted
/// as a proxy, so that `X-Forwarded-For` can stand for clients at many addresses.
fn as_deployed(settings: &mut ServeSettings) {
    settings.throttle_per_key = NonZeroU32::new(10).unwrap();
    settings.throttle_per_address = NonZeroU32::new(120).unwrap();
    settings.keys.argon2_memory_kib = 8;
    settings.keys.argon2_iterations = 1;
    settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// `GET /api/v1/keys/list` with `key`, from `address`: the status.
async fn list(server: &TestServer, key: &str, address: &str) -> StatusCode {
    let request =
        server.get("/api/v1/keys/list").header("Authorization", key).header("X-Forwarded-For", address);
    server.send(request).await.0
}

#[tokio::test]
async fn five_hundred_services_behind_one_address_start_with_distinct_valid_keys() {
    let server = TestServer::start_with(as_deployed).await;
    let mut keys = Vec::new();
    for n in 0..500 {
        keys.push(server.mint(&format!("service-{n}"), "k").await);
    }
    for key in &keys {
        assert_eq!(list(&server, &key.api_key, "203.0.113.5").await, StatusCode::OK, "{}", key.client_id);
    }
}

#[tokio::test]
async fn guesses_at_a_public_id_do_not_lock_its_owner_out() {
    let server = TestServer::start_with(as_deployed).await;
    let victim = server.mint("p", "victim").await;
    let guess = wrong_secret_key(&server, &victim.client_id);
    let mut refused = 0;
    for _ in 0..20 {
        if list(&server, &guess, "203.0.113.66").await == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 10, "the attacker's 11th to 20th guesses are refused");
    // The owner's first use of the key, from its own address, on this instance and on one that
    // never saw it (as after a restart).
    assert_eq!(list(&server, &victim.api_key, "198.51.100.7").await, StatusCode::OK);
    let beside = server.start_beside().await;
    assert_eq!(list(&beside, &victim.api_key, "198.51.100.7").await, StatusCode::OK);
}

#[tokio::test]
async fn a_success_starts_the_keys_failures_afresh() {
    let server = TestServer::start_with(|settings| {
        as_deployed(settings);
        settings.throttle_per_key = NonZeroU32::new(3).unwrap();
    })
    .await;
    let key = server.mint("p", "k").await;
    let wrong = wrong_secret_key(&server, &key.client_id);
    let from = "198.51.100.7";
    for _ in 0..2 {
        assert_eq!(list(&server, &wrong, from).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(list(&server, &key.api_key, from).await, StatusCode::OK, "the third try, a success");
    for _ in 0..3 {
        assert_eq!(list(&server, &wrong, from).await, StatusCode::UNAUTHORIZED, "a fresh quota");
    }
    assert_eq!(list(&server, &wrong, from).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_of_one_id_reach_the_store_a_bounded_number_of_times() {
    let (server, probe) = TestServer::start_probed(as_deployed).await;
    let key = server.mint("p", "k").await;
    let wrong = wrong_secret_key(&server, &key.client_id);
    let before = probe.calls();
    let guesses = (0..20).map(|_| list(&server, &wrong, "203.0.113.66"));
    let statuses = futures::future::join_all(guesses).await;
    let refused = statuses.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(refused, 10, "{statuses:?}");
    assert!(probe.calls() - before <= 10, "{} lookups for 20 guesses", probe.calls() - before);
}

#[tokio::test]
async fn a_made_up_id_costs_one_lookup_however_often_and_from_wherever_it_is_tried() {
    let (server, probe) = TestServer::start_probed(as_deployed).await;
    let made_up = server.made_up_key();
    let before = probe.calls();
    for n in 0..20 {
        assert_eq!(list(&server, &made_up, &format!("203.0.113.{n}")).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(probe.calls() - before, 1, "one lookup, then remembered as absent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_first_uses_of_one_key_is_served_whole_at_the_cost_of_one() {
    let (server, probe) = TestServer::start_probed(as_deployed).await;
    let key = server.mint("p", "k").await;
    probe.events_applied().await;
    let before = probe.calls();
    // Twenty workers starting at once with one key, from one address: more than its quota of 10.
    // Their own profile takes authentication and one read of the profile.
    let uses = (0..20).map(|_| {
        let request = server
            .get("/api/profiles/p")
            .header("Authorization", &key.api_key)
            .header("X-Forwarded-For", "203.0.113.5");
        server.send(request)
    });
    let answers = futures::future::join_all(uses).await;
    assert!(
        answers.iter().all(|(status, _, _)| *status == StatusCode::OK),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    // One credential lookup (and one hash) for all of them: the others waited and found it
    // verified. Then each reads its profile.
    assert_eq!(probe.calls() - before, 1 + 20, "{} store calls", probe.calls() - before);
}
