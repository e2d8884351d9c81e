//! The full key: one string that carries a key's public id and secret.
//!
//! `<prefix>_<public id><secret><checksum>`, after GitHub's token format: the prefix lets secret
//! scanners recognise a Keyward key; the public id (the client id, 32 base62 characters) finds
//! the key with one indexed lookup; the secret is the client secret (44 base62 characters, over
//! 256 bits); the checksum, CRC32 of everything before it in 6 base62 characters, rejects a
//! mistyped or made-up key without a query or a hash. Everything after the `_` is alphanumeric,
//! so the key survives copy-paste, URLs and shells; a double-click selects all of it.
//!
//! The server makes and checks full keys; a client may make one from the client id and secret
//! it was shown, given the deployment's prefix (the part of any identifier before the `.`).

use crate::Secret;

/// Length of a public id (client id), in base62 characters.
pub const CLIENT_ID_LEN: usize = 32;
/// Length of a secret, in base62 characters: over 256 bits.
pub const SECRET_LEN: usize = 44;
/// The digits of base62, in order.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const CHECKSUM_LEN: usize = 6;
const BODY_LEN: usize = CLIENT_ID_LEN + SECRET_LEN + CHECKSUM_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a well-formed key")]
pub struct MalformedKey;

#[derive(Debug, thiserror::Error)]
#[error("a key prefix is 1 to 16 lowercase letters or digits")]
pub struct InvalidPrefix;

/// The full keys of one deployment: its prefix.
#[derive(Debug, Clone)]
pub struct KeyFormat {
    prefix: String,
}

impl KeyFormat {
    /// The format with `prefix`: 1 to 16 lowercase letters or digits.
    pub fn new(prefix: &str) -> Result<Self, InvalidPrefix> {
        let valid = (1..=16).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid { Ok(Self { prefix: prefix.to_owned() }) } else { Err(InvalidPrefix) }
    }

    /// The full key of a client id and secret.
    pub fn encode(&self, client_id: &str, secret: &Secret) -> Secret {
        let mut key = format!("{}_{client_id}{}", self.prefix, secret.expose());
        let checksum = checksum(&key);
        key.push_str(&checksum);
        Secret::new(key)
    }

    /// The client id and secret in a full key, if its shape and checksum are right.
    pub fn decode(&self, key: &str) -> Result<(String, Secret), MalformedKey> {
        let body = key
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or(MalformedKey)?;
        if body.len() != BODY_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MalformedKey);
        }
        let (signed, check) = key.split_at(key.len() - CHECKSUM_LEN);
        if checksum(signed) != check {
            return Err(MalformedKey);
        }
        let (client_id, rest) = body.split_at(CLIENT_ID_LEN);
        let secret = &rest[..SECRET_LEN];
        Ok((client_id.to_owned(), Secret::new(secret.to_owned())))
    }

    /// Whether `text` starts as one of our full keys does, `<prefix>_` (it may still be malformed).
    pub fn is_prefixed(&self, text: &str) -> bool {
        text.strip_prefix(self.prefix.as_str()).is_some_and(|rest| rest.starts_with('_'))
    }

    /// The public identifier of a key: `<prefix>.<public id>`.
    pub fn identifier(&self, client_id: &str) -> String {
        format!("{}.{client_id}", self.prefix)
    }
}

/// CRC32 of `text` in 6 base62 digits (62^6 > 2^32), most significant first.
fn checksum(text: &str) -> String {
    let mut value = u64::from(crc32fast::hash(text.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[usize::try_from(value % 62).unwrap_or_default()];
        value /= 62;
    }
    String::from_utf8(digits.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    struct Generated {
        client_id: String,
        secret: Secret,
    }

    fn generated() -> Generated {
        Generated {
            client_id: "UajESGdi9hMM9v3IsPv7NLYZfJ1uo53i".into(),
            secret: Secret::new("S".repeat(SECRET_LEN)),
        }
    }

    #[test]
    fn keys_round_trip_and_have_the_documented_shape() {
        let format = KeyFormat::new("keyward").unwrap();
        let generated = generated();
        let key = format.encode(&generated.client_id, &generated.secret);
        assert!(key.expose().starts_with("keyward_"));
        assert_eq!(key.expose().len(), "keyward_".len() + BODY_LEN);
        let (client_id, secret) = format.decode(key.expose()).unwrap();
        assert_eq!(client_id, generated.client_id);
        assert_eq!(secret, generated.secret);
        assert_eq!(format.identifier(&client_id), format!("keyward.{client_id}"));
    }

    #[test]
    fn any_single_change_is_caught_by_the_checksum() {
        let format = KeyFormat::new("keyward").unwrap();
        let generated = generated();
        let key = format.encode(&generated.client_id, &generated.secret).expose().to_owned();
        for position in "keyward_".len()..key.len() {
            let mut bytes = key.clone().into_bytes();
            bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(format.decode(&tampered), Err(MalformedKey), "position {position}");
        }
        assert_eq!(format.decode(&key[..key.len() - 1]), Err(MalformedKey));
        assert_eq!(format.decode(&format!("other_{}", &key[8..])), Err(MalformedKey));
        assert_eq!(format.decode("keyward_"), Err(MalformedKey));
    }

    #[test]
    fn prefixes_are_short_lowercase_words() {
        assert!(KeyFormat::new("acme2").is_ok());
        for bad in ["", "Acme", "a_b", "a.b", "seventeen-chars-x"] {
            assert!(KeyFormat::new(bad).is_err(), "{bad}");
        }
    }
}
