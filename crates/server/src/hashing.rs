//! argon2id hashing of secrets, on a pool of its own.
//!
//! New hashes use the configured costs; verification reads the costs from each PHC string, so
//! changing them never invalidates existing keys.
//!
//! The server hashes through [`SecretHasher::slot`], on one thread per core:
//! - **bounded**: a slot is waited for at most [`SLOT_WAIT`], then the request is answered 503,
//!   so a burst of creations or of unknown credentials costs queueing, not a thread each;
//! - **below the request path**: the threads run at a lower priority (nice +10), so that a
//!   request's HTTP and database steps, which take microseconds, are not kept waiting for
//!   milliseconds behind hashes that fill every core;
//! - **in kept memory**: each thread keeps its argon2 blocks between hashes. A fresh 4 MiB block
//!   per hash, allocated, zeroed and freed a thousand times a second, kept the allocator tens of
//!   MiB ahead of what was in use.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, PasswordVerifier, Version};
use keyward_model::Secret;
use std::fmt;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

// Why such low argon2id costs: a secret is 44 random characters from the OS's CSPRNG, not a
// password a person chose. Nobody can guess 2^261 candidates, so a slow hash buys no protection
// against a leaked table; what a slow hash would buy instead is CPU an attacker can burn with bad
// credentials. argon2id with 4 MiB and one pass (~1.6 ms here) keeps the PHC format and the
// defence in depth of a memory-hard hash at a cost that uncached verifications can afford.
pub const DEFAULT_MEMORY_KIB: u32 = 4096;
pub const DEFAULT_ITERATIONS: u32 = 1;
pub const DEFAULT_PARALLELISM: u32 = 1;

/// The longest a request waits for a hashing slot before it is answered 503.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// How much lower than the request path the hashing threads run.
const HASHING_NICENESS: i32 = 10;

/// No hashing slot came free in time: the server is at capacity.
#[derive(Debug, thiserror::Error)]
#[error("every hashing slot stayed busy")]
pub struct HasherBusy;

/// Work for a hashing thread, given its kept memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct SecretHasher {
    argon2: Argon2<'static>,
    slots: Arc<Semaphore>,
    /// To the hashing threads, which end when the last clone is dropped.
    jobs: Sender<Job>,
}

/// The PHC string of a secret's argon2id hash, as stored. Not the secret, but where an offline
/// guess would start: never printed, and zeroed when dropped.
#[derive(Clone)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for the one place that needs it (storing, or verifying).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretHash {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl zeroize::ZeroizeOnDrop for SecretHash {}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

/// The right to run one argon2 computation on the hashing threads.
pub struct HashSlot {
    hasher: SecretHasher,
    _permit: OwnedSemaphorePermit,
}

impl HashSlot {
    /// [`SecretHasher::hash`], on a hashing thread.
    pub async fn hash(self, secret: Secret) -> Result<SecretHash, argon2::password_hash::Error> {
        let argon2 = self.hasher.argon2.clone();
        self.run(move |memory| hash_in(&argon2, secret.expose(), memory).map(SecretHash))
            .await
            .unwrap_or(Err(argon2::password_hash::Error::Crypto))
    }

    /// [`SecretHasher::verify`], on a hashing thread.
    pub async fn verify(self, secret: Secret, hash: SecretHash) -> bool {
        self.run(move |memory| matches_in(secret.expose(), hash.expose(), memory).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// Runs `work` on a hashing thread; `None` if the threads are gone.
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Option<T> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let started = std::time::Instant::now();
            let done = work(memory);
            metrics::histogram!("keyward_hashing_seconds").record(started.elapsed().as_secs_f64());
            let _ = answer.send(done);
        });
        self.hasher.jobs.send(job).ok()?;
        // The slot is held until the answer: the threads never have more work than slots.
        answered.await.ok()
    }
}

impl SecretHasher {
    /// A hasher of the given costs, with one hashing thread per core.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, argon2::Error> {
        let params = Params::new(memory_kib, iterations, parallelism, None)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..cores {
            let (queue, blocks) = (queue.clone(), argon2.params().block_count());
            std::thread::Builder::new()
                .name("keyward-hashing".into())
                .spawn(move || hashing_thread(&queue, blocks))
                .map_err(|_| argon2::Error::ThreadsTooMany)?;
        }
        Ok(Self { argon2, slots: Arc::new(Semaphore::new(cores)), jobs })
    }

    /// Waits for a hashing slot, at most [`SLOT_WAIT`].
    pub async fn slot(&self) -> Result<HashSlot, HasherBusy> {
        let permit = tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HasherBusy)?
            .map_err(|_| HasherBusy)?;
        Ok(HashSlot { hasher: self.clone(), _permit: permit })
    }

    /// The PHC string of `secret`'s hash, with a fresh random salt, on the calling thread.
    pub fn hash(&self, secret: &str) -> Result<String, argon2::password_hash::Error> {
        Ok(self.argon2.hash_password(secret.as_bytes())?.to_string())
    }

    /// Whether `secret` matches the PHC string `hash`, on the calling thread. A malformed hash
    /// never matches.
    pub fn verify(&self, secret: &str, hash: &str) -> bool {
        self.argon2.verify_password(secret.as_bytes(), hash).is_ok()
    }
}

/// A hashing thread: takes jobs until the hasher is dropped, in memory of `blocks` blocks.
fn hashing_thread(queue: &Mutex<Receiver<Job>>, blocks: usize) {
    if let Err(error) = rustix::process::setpriority_process(None, HASHING_NICENESS) {
        tracing::debug!(%error, "hashing at the request path's priority");
    }
    let mut memory = vec![Block::default(); blocks];
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        job(&mut memory);
        // Memory grown for a hash of higher costs is not kept.
        memory.truncate(blocks);
        memory.shrink_to(blocks);
    }
}

/// [`SecretHasher::hash`] in `memory`.
fn hash_in(
    argon2: &Argon2<'_>,
    secret: &str,
    memory: &mut [Block],
) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| argon2::password_hash::Error::Crypto)?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2.hash_password_into_with_memory(secret.as_bytes(), &salt, &mut output, memory)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(Salt::new(&salt)?),
        hash: Some(Output::new(&output)?),
    };
    Ok(hash.to_string())
}

/// [`SecretHasher::verify`] in `memory` (grown if the hash's costs need more): the hash is made
/// again with the algorithm, version, costs and salt that the PHC string names, and compared in
/// constant time.
fn matches_in(
    secret: &str,
    phc: &str,
    memory: &mut Vec<Block>,
) -> Result<bool, argon2::password_hash::Error> {
    let hash = PasswordHash::new(phc)?;
    let algorithm = Algorithm::try_from(hash.algorithm.as_str())?;
    let version = hash.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(&hash)?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return Ok(false) };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut output = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        secret.as_bytes(),
        salt,
        &mut output,
        &mut memory[..],
    )?;
    Ok(Output::new(&output)? == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes made on the hashing threads are the crate's own PHC strings: each way verifies the
    /// other's, for the configured costs and for others met in stored hashes.
    #[tokio::test]
    async fn hashes_on_the_pool_agree_with_the_crates_own() {
        let hasher = SecretHasher::new(DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM).unwrap();
        let secret = || Secret::new("correct".to_owned());
        let ours = hasher.slot().await.unwrap().hash(secret()).await.unwrap();
        assert!(ours.expose().starts_with("$argon2id$v=19$m=4096,t=1,p=1$"), "{}", ours.expose());
        assert!(hasher.verify("correct", ours.expose()), "the crate verifies ours");
        assert!(!hasher.verify("wrong", ours.expose()));
        let stronger = SecretHasher::new(8192, 2, 2).unwrap().hash("correct").unwrap();
        for theirs in [hasher.hash("correct").unwrap(), stronger] {
            let theirs = SecretHash::new(theirs);
            assert!(
                hasher.slot().await.unwrap().verify(secret(), theirs.clone()).await,
                "{}",
                theirs.expose()
            );
            let wrong = Secret::new("wrong".to_owned());
            assert!(!hasher.slot().await.unwrap().verify(wrong, theirs.clone()).await);
        }
        for malformed in ["", "not a phc string", "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ"] {
            let malformed = SecretHash::new(malformed.to_owned());
            assert!(!hasher.slot().await.unwrap().verify(secret(), malformed).await);
        }
        // The configured hash still verifies after memory grew for a costlier one.
        assert!(hasher.slot().await.unwrap().verify(secret(), ours).await);
    }

    #[tokio::test]
    async fn slots_bound_the_work_in_flight() {
        let hasher = SecretHasher::new(DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM).unwrap();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let held: Vec<HashSlot> = take_slots(&hasher, cores).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), hasher.slot()).await.is_err(),
            "no slot beyond one per core"
        );
        drop(held);
        assert!(hasher.slot().await.is_ok());
    }

    async fn take_slots(hasher: &SecretHasher, count: usize) -> Vec<HashSlot> {
        let mut slots = Vec::new();
        for _ in 0..count {
            slots.push(hasher.slot().await.unwrap());
        }
        slots
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let hasher = SecretHasher::new(DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM).unwrap();
        let hash = hasher.hash("correct").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=4096,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("correct", &hash));
        assert!(!hasher.verify("wrong", &hash));
        assert!(!hasher.verify("correct", "not a phc string"));
        // Two hashes of one secret differ by their salt.
        assert_ne!(hash, hasher.hash("correct").unwrap());
    }
}
