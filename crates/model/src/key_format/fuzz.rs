//! Hostile full keys: `decode` answers anything without panicking, and only what `encode` made
//! decodes.

use super::*;
use proptest::prelude::*;

/// `length` base62 characters.
fn base62(length: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9A-Za-z]{{{length}}}")).unwrap()
}

fn format() -> KeyFormat {
    KeyFormat::new("keyward").unwrap()
}

/// A key `encode` made from a random prefix, client id and secret.
fn encoded() -> impl Strategy<Value = (KeyFormat, String, String, String)> {
    ("[a-z0-9]{1,16}", base62(CLIENT_ID_LEN), base62(SECRET_LEN)).prop_map(|(prefix, client_id, secret)| {
        let format = KeyFormat::new(&prefix).unwrap();
        let key = format.encode(&client_id, &Secret::new(secret.clone())).expose().to_owned();
        (format, key, client_id, secret)
    })
}

/// Inputs near a key as well as far from one: anything, and `keyward_` with a body of about
/// the right length, of the right alphabet or not.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "keyward_[0-9A-Za-z]{78,84}",
        "keyward_[0-9A-Za-z_\\-.=+/ \u{0}é€]{78,84}",
        "[kK]eyward[_.]?.{0,90}",
    ]
}

/// One edit of a key: a character replaced, inserted or removed, or two neighbours swapped.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Remove(usize),
    Swap(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let position = 0..=usize::MAX;
    let character =
        prop_oneof![4 => proptest::sample::select(BASE62.to_vec()).prop_map(char::from), 1 => any::<char>()];
    prop_oneof![
        (position.clone(), character.clone()).prop_map(|(at, c)| Edit::Replace(at, c)),
        (position.clone(), character).prop_map(|(at, c)| Edit::Insert(at, c)),
        position.clone().prop_map(Edit::Remove),
        position.prop_map(Edit::Swap),
    ]
}

/// `key` (ASCII) with `edit` applied, positions taken modulo the key's length.
fn apply(key: &str, edit: &Edit) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    match *edit {
        Edit::Replace(at, c) => chars[at % key.len()] = c,
        Edit::Insert(at, c) => chars.insert(at % (key.len() + 1), c),
        Edit::Remove(at) => {
            chars.remove(at % key.len());
        }
        Edit::Swap(at) => {
            // CRC32 catches any change within 32 consecutive bits of what it signs, so a swap is
            // caught when both characters lie on one side of the checksum; across it, a collision
            // is merely unlikely (2^-32), not excluded, so that pair is not swapped.
            let at = at % (key.len() - 1);
            if at != key.len() - CHECKSUM_LEN - 1 {
                chars.swap(at, at + 1);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoding_anything_never_panics_and_what_decodes_encodes_back(input in hostile()) {
        if let Ok((client_id, secret)) = format().decode(&input) {
            let encoded = format().encode(&client_id, &secret);
            prop_assert_eq!(encoded.expose(), input.as_str());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_encoded_key_decodes_back((format, key, client_id, secret) in encoded()) {
        prop_assert_eq!(key.len(), format.prefix.len() + 1 + BODY_LEN);
        prop_assert!(format.is_prefixed(&key));
        let (decoded_id, decoded_secret) = format.decode(&key).unwrap();
        prop_assert_eq!(decoded_id, client_id);
        prop_assert_eq!(decoded_secret.expose(), secret.as_str());
    }

    #[test]
    fn a_key_with_one_character_changed_is_refused((format, key, ..) in encoded(), edit in edit()) {
        let edited = apply(&key, &edit);
        if edited != key {
            prop_assert_eq!(format.decode(&edited), Err(MalformedKey), "{:?} of {}", edit, key);
        }
    }
}
