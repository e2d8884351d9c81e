//! Signing keys sealed at rest: AES-256-GCM under the deployment's secret key.
//!
//! Whoever reads the database (or a backup of it) must not be able to sign tokens. Each private
//! key is sealed with a random 96-bit nonce and its `kid` as associated data, so that a sealed key
//! moved to another row does not open. What is stored is `base64(nonce || ciphertext || tag)`.
//!
//! The secret key is rotated without a pause: while the previous key is configured beside the new
//! one, keys sealed with either open, and each start seals again with the new key what only the
//! previous one opens.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// The two settings a secret comes from, its value or a file holding it, as messages name them
/// ("VALUE or FILE").
#[derive(Debug, Clone, Copy)]
pub struct SecretSettings {
    pub value: &'static str,
    pub file: &'static str,
}

impl std::fmt::Display for SecretSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} or {}", self.value, self.file)
    }
}

/// The settings the secret key comes from.
pub const SECRET_KEY_SETTINGS: SecretSettings =
    SecretSettings { value: "KEYWARD_SECRET_KEY", file: "KEYWARD_SECRET_KEY_FILE" };

/// The settings the previous secret key comes from during a rotation.
pub const PREVIOUS_SECRET_KEY_SETTINGS: SecretSettings =
    SecretSettings { value: "KEYWARD_PREVIOUS_SECRET_KEY", file: "KEYWARD_PREVIOUS_SECRET_KEY_FILE" };

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// Never says what the value was: it may be most of a secret.
    #[error("the secret key ({SECRET_KEY_SETTINGS}) is not 32 bytes in base64")]
    MalformedSecretKey,
    #[error("the signing key {kid} is sealed, and no secret key is configured: set {SECRET_KEY_SETTINGS}")]
    NoSecretKey { kid: String },
    #[error(
        "the signing key {kid} does not open with the configured secret key ({SECRET_KEY_SETTINGS}): \
         it was sealed with another (while rotating the secret key, set the old one as \
         {PREVIOUS_SECRET_KEY_SETTINGS}), or the stored value is damaged"
    )]
    WrongSecretKey { kid: String },
    #[error("could not seal the signing key {kid}")]
    Seal { kid: String },
}

/// The key that seals signing keys: AES-256-GCM with a random nonce per seal.
pub struct SealingKey(RandomizedNonceKey);

/// The secret keys of a deployment: the current one seals, and during a rotation of the secret
/// key the previous one still opens.
#[derive(Debug)]
pub struct Sealing {
    current: SealingKey,
    previous: Option<SealingKey>,
}

impl Sealing {
    pub fn new(current: SealingKey, previous: Option<SealingKey>) -> Self {
        Self { current, previous }
    }

    /// Whether a previous key is configured beside the current one.
    pub fn rotating(&self) -> bool {
        self.previous.is_some()
    }

    /// `private_key` sealed with the current key for the key `kid`, as stored.
    pub fn seal(&self, kid: &str, private_key: &str) -> Result<String, SealingError> {
        self.current.seal(kid, private_key)
    }

    /// The private key that `sealed` holds for the key `kid`, sealed with either key.
    pub fn open(&self, kid: &str, sealed: &str) -> Result<Zeroizing<String>, SealingError> {
        self.current.open(kid, sealed).or_else(|error| match &self.previous {
            Some(previous) => previous.open(kid, sealed).map_err(|_| error),
            None => Err(error),
        })
    }

    /// `sealed` sealed again with the current key when only the previous key opens it; `None`
    /// when no previous key is configured or the current key opens it already.
    pub fn reseal(&self, kid: &str, sealed: &str) -> Result<Option<String>, SealingError> {
        let Some(previous) = &self.previous else { return Ok(None) };
        if self.current.open(kid, sealed).is_ok() {
            return Ok(None);
        }
        let pem = previous.open(kid, sealed)?;
        let resealed = self.seal(kid, &pem)?;
        self.current.open(kid, &resealed)?;
        Ok(Some(resealed))
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// The key that `text` (32 bytes in base64, surrounding whitespace ignored) encodes.
    pub fn from_base64(text: &str) -> Result<Self, SealingError> {
        let bytes =
            Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| SealingError::MalformedSecretKey)?);
        if bytes.len() != 32 {
            return Err(SealingError::MalformedSecretKey);
        }
        RandomizedNonceKey::new(&AES_256_GCM, &bytes).map(Self).map_err(|_| SealingError::MalformedSecretKey)
    }

    /// `private_key` sealed for the key `kid`, as stored.
    pub fn seal(&self, kid: &str, private_key: &str) -> Result<String, SealingError> {
        let mut in_out = Zeroizing::new(private_key.as_bytes().to_vec());
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(kid.as_bytes()), &mut *in_out)
            .map_err(|_| SealingError::Seal { kid: kid.to_owned() })?;
        let mut stored = nonce.as_ref().to_vec();
        stored.extend_from_slice(&in_out);
        Ok(STANDARD.encode(stored))
    }

    /// The private key that `sealed` holds for the key `kid`.
    pub fn open(&self, kid: &str, sealed: &str) -> Result<Zeroizing<String>, SealingError> {
        let wrong = || SealingError::WrongSecretKey { kid: kid.to_owned() };
        let mut stored = Zeroizing::new(STANDARD.decode(sealed).map_err(|_| wrong())?);
        if stored.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, in_out) = stored.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let opened = self.0.open_in_place(nonce, Aad::from(kid.as_bytes()), in_out).map_err(|_| wrong())?;
        let opened = std::str::from_utf8(opened).map_err(|_| wrong())?;
        Ok(Zeroizing::new(opened.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const OTHER: &str = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=";

    #[test]
    fn a_sealed_key_opens_only_with_its_secret_key_and_kid() {
        let key = SealingKey::from_base64(KEY).unwrap();
        let sealed = key.seal("kid-1", "-----BEGIN PRIVATE KEY-----").unwrap();
        assert!(!sealed.contains("PRIVATE KEY"));
        assert_ne!(sealed, key.seal("kid-1", "-----BEGIN PRIVATE KEY-----").unwrap(), "a fresh nonce");
        assert_eq!(key.open("kid-1", &sealed).unwrap().as_str(), "-----BEGIN PRIVATE KEY-----");
        assert!(matches!(key.open("kid-2", &sealed), Err(SealingError::WrongSecretKey { .. })));
        let other = SealingKey::from_base64(OTHER).unwrap();
        assert!(matches!(other.open("kid-1", &sealed), Err(SealingError::WrongSecretKey { .. })));
        for damaged in ["", "AAAA", "not base64!", &sealed[..sealed.len() - 4]] {
            assert!(key.open("kid-1", damaged).is_err(), "{damaged:?}");
        }
    }

    #[test]
    fn during_a_rotation_either_key_opens_and_only_the_new_one_seals() {
        let pem = "-----BEGIN PRIVATE KEY-----";
        let old = Sealing::new(SealingKey::from_base64(KEY).unwrap(), None);
        let sealed_before = old.seal("kid-1", pem).unwrap();
        let rotating = Sealing::new(
            SealingKey::from_base64(OTHER).unwrap(),
            Some(SealingKey::from_base64(KEY).unwrap()),
        );
        assert_eq!(rotating.open("kid-1", &sealed_before).unwrap().as_str(), pem, "the previous key opens");
        let sealed_now = rotating.seal("kid-1", pem).unwrap();
        assert!(old.open("kid-1", &sealed_now).is_err(), "sealed with the new key, not the previous");

        let resealed = rotating.reseal("kid-1", &sealed_before).unwrap().expect("sealed again");
        let new = Sealing::new(SealingKey::from_base64(OTHER).unwrap(), None);
        assert_eq!(new.open("kid-1", &resealed).unwrap().as_str(), pem, "the new key alone opens it");
        assert!(new.open("kid-1", &sealed_before).is_err());
        assert!(rotating.reseal("kid-1", &resealed).unwrap().is_none(), "nothing to do the second time");
        assert!(matches!(rotating.reseal("kid-2", &sealed_before), Err(SealingError::WrongSecretKey { .. })));
    }

    #[test]
    fn a_secret_key_is_32_bytes_in_base64_and_never_echoed() {
        for bad in ["", "c2hvcnQ=", "not base64 at all", &format!("{KEY}AAAA")] {
            let error = SealingKey::from_base64(bad).unwrap_err();
            assert!(matches!(error, SealingError::MalformedSecretKey));
            assert!(bad.is_empty() || !error.to_string().contains(bad));
        }
        assert!(SealingKey::from_base64(&format!("  {KEY}\n")).is_ok(), "as a file holds it");
        assert_eq!(format!("{:?}", SealingKey::from_base64(KEY).unwrap()), "SealingKey(<redacted>)");
    }
}
