//! What the machine itself can do, measured in the same run as the service so that the ratios
//! cancel the noise of a shared machine: RSA-2048 signatures and argon2id hashes per second on
//! every core at once.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use keyward_model::Secret;
use keyward_server::hashing::{DEFAULT_ITERATIONS, DEFAULT_MEMORY_KIB, DEFAULT_PARALLELISM, SecretHasher};
use keyward_server::secrets::{SECRET_LEN, random_base62};
use std::time::{Duration, Instant};

/// RS256 signatures per second over all cores, with a key parsed once (the best any signer can do).
pub fn rsa_signs_per_second(duration: Duration) -> anyhow::Result<f64> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA key generation"))?;
    let length = pair.public_key().modulus_len();
    let pair = &pair;
    Ok(on_every_core(duration, move || {
        let mut signature = vec![0; length];
        pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), b"header.claims", &mut signature)
            .expect("RSA signing");
    }))
}

/// argon2id hashes per second at the server's default parameters, made as the server makes them:
/// on its hashing pool (a thread per core, each in memory it keeps) with every slot busy.
pub fn argon2_hashes_per_second(
    runtime: &tokio::runtime::Runtime,
    duration: Duration,
) -> anyhow::Result<f64> {
    let hasher = SecretHasher::new(DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM)
        .map_err(|error| anyhow::anyhow!("argon2 parameters: {error}"))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let done = runtime.block_on(async {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let mut count = 0u64;
                    while started.elapsed() < duration {
                        let secret = Secret::new(random_base62(SECRET_LEN));
                        hasher
                            .slot()
                            .await?
                            .hash(secret)
                            .await
                            .map_err(|error| anyhow::anyhow!("argon2: {error}"))?;
                        count += 1;
                    }
                    anyhow::Ok(count)
                })
            })
            .collect();
        let mut done = 0;
        for worker in workers {
            done += worker.await??;
        }
        anyhow::Ok(done)
    })?;
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// How many times per second `work` runs with one thread per core, for `duration`.
fn on_every_core(duration: Duration, work: impl Fn() + Sync) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let work = &work;
    let done: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(move || {
                    let mut count = 0u64;
                    while started.elapsed() < duration {
                        work();
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().expect("a measuring thread panicked")).sum()
    });
    done as f64 / started.elapsed().as_secs_f64()
}
