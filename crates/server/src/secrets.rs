//! Making client credentials: random client ids and secrets.

use crate::ids::ClientId;
use keyward_model::Secret;
// Client ids are public: 32 alphanumeric characters. 44 base62 characters of secret carry
// 44 * log2(62) = 261.9 bits, above the 256 bits asked of a secret.
pub use keyward_model::key_format::{BASE62, CLIENT_ID_LEN, SECRET_LEN};

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
}
