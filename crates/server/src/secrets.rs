//! Making client credentials and hashing their secrets.

use crate::ids::ClientId;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use keyward_model::Secret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
// Client ids are public: 32 alphanumeric characters. 44 base62 characters of secret carry
// 44 * log2(62) = 261.9 bits, above the 256 bits asked of a secret.
pub use keyward_model::key_format::{BASE62, CLIENT_ID_LEN, SECRET_LEN};

// Why such low argon2id costs: a secret is 44 random characters from the OS's CSPRNG, not a
// password a person chose. Nobody can guess 2^261 candidates, so a slow hash buys no protection
// against a leaked table; what a slow hash would buy instead is CPU an attacker can burn with bad
// credentials. argon2id with 4 MiB and one pass (~1.6 ms here) keeps the PHC format and the
// defence in depth of a memory-hard hash at a cost that uncached verifications can afford.
pub const DEFAULT_MEMORY_KIB: u32 = 4096;
pub const DEFAULT_ITERATIONS: u32 = 1;
pub const DEFAULT_PARALLELISM: u32 = 1;

/// `len` base62 characters, uniformly distributed, from the OS's CSPRNG.
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buffer = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buffer).expect("the operating system's random number generator failed");
        // Rejection sampling: 248 = 4 * 62, so bytes below it map to base62 without bias.
        for byte in buffer.iter().filter(|byte| **byte < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(BASE62[usize::from(*byte % 62)]));
        }
    }
    out
}

/// A fresh client id and secret.
pub struct GeneratedCredentials {
    pub client_id: ClientId,
    pub secret: Secret,
}

impl GeneratedCredentials {
    pub fn generate() -> Self {
        Self {
            client_id: ClientId::new(random_base62(CLIENT_ID_LEN)),
            secret: Secret::new(random_base62(SECRET_LEN)),
        }
    }
}

/// argon2id hashing of secrets. New hashes use the configured costs; verification reads the costs
/// from each PHC string, so changing them never invalidates existing keys.
///
/// The server hashes through [`SecretHasher::slot`]: at most one hash per core runs at a time, so
/// that a burst of creations or of unknown credentials costs queueing, not a thread and an
/// argon2 memory block per request.
#[derive(Clone)]
pub struct SecretHasher {
    argon2: Argon2<'static>,
    slots: Arc<Semaphore>,
}

/// The longest a request waits for a hashing slot before it is answered 503.
const SLOT_WAIT: Duration = Duration::from_secs(2);

/// No hashing slot came free in time: the server is at capacity.
#[derive(Debug, thiserror::Error)]
#[error("every hashing slot stayed busy")]
pub struct HasherBusy;

/// The right to run one argon2 computation, on a blocking thread.
pub struct HashSlot {
    hasher: SecretHasher,
    _permit: OwnedSemaphorePermit,
}

impl HashSlot {
    /// [`SecretHasher::hash`], off the async workers.
    pub async fn hash(self, secret: Secret) -> Result<String, argon2::password_hash::Error> {
        tokio::task::spawn_blocking(move || self.hasher.hash(secret.expose()))
            .await
            .unwrap_or(Err(argon2::password_hash::Error::Crypto))
    }

    /// [`SecretHasher::verify`], off the async workers.
    pub async fn verify(self, secret: Secret, hash: String) -> bool {
        tokio::task::spawn_blocking(move || self.hasher.verify(secret.expose(), &hash)).await.unwrap_or(false)
    }
}

impl SecretHasher {
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, argon2::Error> {
        let params = Params::new(memory_kib, iterations, parallelism, None)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            slots: Arc::new(Semaphore::new(cores)),
        })
    }

    /// Waits for a hashing slot, at most [`SLOT_WAIT`].
    pub async fn slot(&self) -> Result<HashSlot, HasherBusy> {
        let permit = tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HasherBusy)?
            .map_err(|_| HasherBusy)?;
        Ok(HashSlot { hasher: self.clone(), _permit: permit })
    }

    /// The PHC string of `secret`'s hash, with a fresh random salt.
    pub fn hash(&self, secret: &str) -> Result<String, argon2::password_hash::Error> {
        Ok(self.argon2.hash_password(secret.as_bytes())?.to_string())
    }

    /// Whether `secret` matches the PHC string `hash`. A malformed hash never matches.
    pub fn verify(&self, secret: &str, hash: &str) -> bool {
        self.argon2.verify_password(secret.as_bytes(), hash).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_have_the_promised_shape_and_differ() {
        let a = GeneratedCredentials::generate();
        let b = GeneratedCredentials::generate();
        assert_eq!(a.client_id.as_str().len(), CLIENT_ID_LEN);
        assert_eq!(a.secret.expose().len(), SECRET_LEN);
        assert!(a.client_id.as_str().chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(a.secret.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.client_id, b.client_id);
        assert_ne!(a.secret, b.secret);
    }

    #[test]
    fn every_base62_character_turns_up() {
        let sample = random_base62(10_000);
        for c in BASE62 {
            assert!(sample.as_bytes().contains(c), "{} never drawn", char::from(*c));
        }
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
