//! The keyset cursor of `/api/apikeys`: a key's position in the listing order, opaque to clients.
//!
//! The position is the key's `created` time in microseconds (8 bytes, big-endian, signed) and its
//! id (16 bytes), in URL-safe base64 without padding: 32 characters that need no escaping in a
//! query string.

use crate::ids::KeyId;
use crate::store::Key;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

const BYTES: usize = 8 + 16;
/// Length of an encoded cursor: 24 bytes are 32 base64 characters.
const ENCODED_LEN: usize = BYTES.div_ceil(3) * 4;

/// A position in the listing order: strictly after the key with this `created` and `id`.
pub type Position = (DateTime<Utc>, KeyId);

pub fn encode((created, id): Position) -> String {
    let mut bytes = [0u8; BYTES];
    bytes[..8].copy_from_slice(&created.timestamp_micros().to_be_bytes());
    bytes[8..].copy_from_slice(id.as_uuid().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The cursor of the position just after `key`.
pub fn after(key: &Key) -> String {
    encode((key.created, key.id))
}

/// The position a cursor names, or `None` for anything that is not a cursor this server made
/// (checked for length before any decoding, so that a long one costs nothing).
pub fn decode(text: &str) -> Option<Position> {
    if text.len() != ENCODED_LEN {
        return None;
    }
    let bytes: [u8; BYTES] = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
    let (micros, id) = bytes.split_at(8);
    let micros = i64::from_be_bytes(micros.try_into().ok()?);
    let id = Uuid::from_slice(id).ok()?;
    Some((DateTime::from_timestamp_micros(micros)?, KeyId::from(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let created = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let position = (created, KeyId::new_random());
        let cursor = encode(position);
        assert_eq!(cursor.len(), ENCODED_LEN);
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode(&cursor), Some(position));
    }

    #[test]
    fn anything_else_is_refused() {
        let valid = encode((DateTime::from_timestamp_micros(0).unwrap(), KeyId::from(Uuid::nil())));
        for text in [
            "",
            "%%%",
            "AAAA",
            &valid[1..],
            &format!("{valid}A"),
            &format!("{}=", &valid[..31]),
            &format!("{}+", &valid[..31]),
            &"A".repeat(10_240),
            &"é".repeat(16),
            // i64::MAX microseconds: beyond the dates chrono represents.
            &URL_SAFE_NO_PAD.encode([[0x7f].as_slice(), &[0xff; 7], &[0; 16]].concat()),
        ] {
            assert_eq!(decode(text), None, "{text:?}");
        }
    }
}
