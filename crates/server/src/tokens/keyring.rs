//! The signing keys in force, and when each retires.
//!
//! Of the configured algorithm, the newest stored key signs. A key is superseded when a newer key
//! of its algorithm is stored (`signing-keys rotate`); instances may go on signing with it until
//! their next reload, and its last token lives a TTL after that, so it verifies (and is published)
//! until `superseded + reload lag + TTL`, then retires: it is neither published nor accepted, and
//! its private key is not even opened.

use super::sealing::{Sealing, SealingError};
use super::signing::{SigningAlgorithm, SigningKey, SigningKeyError};
use crate::store::{SigningKeyRecord, StoredPrivateKey};
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Key(#[from] SigningKeyError),
    #[error(transparent)]
    Sealing(#[from] SealingError),
    #[error("no {0:?} signing key is stored")]
    NoSigner(SigningAlgorithm),
}

/// A key that verifies, and when it stops (`None`: not superseded).
struct Accepted {
    key: Arc<SigningKey>,
    retires: Option<DateTime<Utc>>,
}

/// The keys that sign and verify now.
pub(super) struct Keyring {
    accepted: Vec<Accepted>,
    signer: Arc<SigningKey>,
}

/// How a keyring is read from the stored keys.
pub(super) struct Reading<'a> {
    /// The algorithm whose newest key signs.
    pub algorithm: SigningAlgorithm,
    /// How long a superseded key keeps verifying: the token TTL and the reload lag.
    pub overlap: Duration,
    pub sealing: Option<&'a Sealing>,
    /// The keyring this one replaces, whose parsed keys are taken over.
    pub previous: Option<&'a Keyring>,
}

impl Keyring {
    /// The keys of `records` (oldest first, as the store lists them) in force at `now`.
    pub(super) fn read(
        records: &[SigningKeyRecord],
        reading: &Reading<'_>,
        now: DateTime<Utc>,
    ) -> Result<Self, KeyringError> {
        let overlap = chrono::TimeDelta::from_std(reading.overlap).unwrap_or(chrono::TimeDelta::MAX);
        let mut accepted = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let successor = records[index + 1..].iter().find(|later| later.algorithm == record.algorithm);
            let retires = successor
                .map(|later| later.created.checked_add_signed(overlap).unwrap_or(DateTime::<Utc>::MAX_UTC));
            if retires.is_some_and(|retires| retires <= now) {
                continue;
            }
            accepted.push(Accepted { key: parse(record, reading)?, retires });
        }
        let signer = accepted
            .iter()
            .rev()
            .find(|accepted| accepted.key.algorithm == reading.algorithm && accepted.retires.is_none())
            .map(|accepted| accepted.key.clone())
            .ok_or(KeyringError::NoSigner(reading.algorithm))?;
        Ok(Self { accepted, signer })
    }

    /// The key that signs new tokens.
    pub(super) fn signer(&self) -> &Arc<SigningKey> {
        &self.signer
    }

    /// The key `kid`, if it verifies tokens at `now`.
    pub(super) fn accepting(&self, kid: &str, now: DateTime<Utc>) -> Option<&Arc<SigningKey>> {
        self.accepted
            .iter()
            .find(|accepted| accepted.key.kid == kid && accepted.retires.is_none_or(|retires| now < retires))
            .map(|accepted| &accepted.key)
    }

    /// The public keys of the keys that verify at `now`.
    pub(super) fn jwks(&self, now: DateTime<Utc>) -> JwkSet {
        let keys = self
            .accepted
            .iter()
            .filter(|accepted| accepted.retires.is_none_or(|retires| now < retires))
            .map(|accepted| accepted.key.jwk.clone())
            .collect();
        JwkSet { keys }
    }
}

/// The key `record` holds: taken over from the previous keyring, or opened and parsed.
fn parse(record: &SigningKeyRecord, reading: &Reading<'_>) -> Result<Arc<SigningKey>, KeyringError> {
    let known = reading
        .previous
        .and_then(|previous| previous.accepted.iter().find(|accepted| accepted.key.kid == record.kid));
    if let Some(known) = known {
        return Ok(known.key.clone());
    }
    let key = match &record.private_key {
        StoredPrivateKey::Clear(pem) => SigningKey::from_pem(&record.kid, record.algorithm, pem)?,
        StoredPrivateKey::Sealed(sealed) => {
            let sealing =
                reading.sealing.ok_or_else(|| SealingError::NoSecretKey { kid: record.kid.clone() })?;
            let pem = sealing.open(&record.kid, sealed)?;
            SigningKey::from_pem(&record.kid, record.algorithm, &pem)?
        }
    };
    Ok(Arc::new(key))
}
