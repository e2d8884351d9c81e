//! Hostile `Authorization` values: `parse` answers anything without panicking, accepts the three
//! documented forms, and nothing that is not one of them.

use super::*;
use proptest::prelude::*;

/// `word` with each letter's case chosen at random: schemes are case-insensitive.
fn any_case(word: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars().zip(upper).map(|(c, upper)| if upper { c.to_ascii_uppercase() } else { c }).collect()
    })
}

/// Whitespace around a value, which `parse` trims.
fn padding() -> impl Strategy<Value = String> {
    "[ \t]{0,3}"
}

/// A token: visible characters, no whitespace.
fn token() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9_.~+/=-]{1,64}", "[^\\s]{1,32}"]
}

fn scheme() -> impl Strategy<Value = String> {
    prop_oneof![any_case("bearer"), any_case("basic"), "[A-Za-z]{0,8}", "\\PC{0,8}"]
}

/// Values shaped like a header and not: a scheme, separators, and a payload that is often base64.
fn header_like() -> impl Strategy<Value = String> {
    let separator = prop_oneof![Just(" ".to_owned()), "[ \t\u{a0}\u{3000}]{0,4}"];
    let payload = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48).prop_map(|bytes| STANDARD.encode(bytes)),
        "[\\PC&&[^:]]{0,8}:\\PC{0,8}".prop_map(|pair| STANDARD.encode(pair)),
        "[A-Za-z0-9+/=]{0,48}",
        any::<String>(),
    ];
    prop_oneof![
        (padding(), scheme(), separator, payload, padding())
            .prop_map(|(a, s, sep, p, b)| format!("{a}{s}{sep}{p}{b}")),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever is accepted is one of the documented forms, rebuilt from what `parse` returned:
    /// a bare token is the whole trimmed value, a bearer token follows the scheme and a space, and
    /// Basic credentials encode back to exactly the base64 that was sent.
    #[test]
    fn only_the_documented_forms_are_accepted(value in header_like()) {
        let trimmed = value.trim();
        let (scheme, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        match parse(&value) {
            None => {}
            Some(Presented::Token(token)) => {
                let bearer = scheme.eq_ignore_ascii_case("bearer") && rest.trim() == token;
                let bare = trimmed == token && !token.contains(char::is_whitespace);
                prop_assert!(bearer || bare, "{:?} read as the token {:?}", value, token);
                prop_assert!(!token.is_empty());
            }
            Some(Presented::ClientCredentials { client_id, secret }) => {
                prop_assert!(scheme.eq_ignore_ascii_case("basic"), "{:?}", value);
                prop_assert!(!client_id.is_empty() && !client_id.contains(':'));
                prop_assert!(!secret.expose().is_empty());
                let encoded = STANDARD.encode(format!("{client_id}:{}", secret.expose()));
                prop_assert_eq!(encoded.as_str(), rest.trim());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn bearer_tokens_are_read_in_any_case_with_any_spacing(
        (before, scheme, spaces, token, after) in (padding(), any_case("bearer"), "[ ]{1,3}[ \t]{0,2}", token(), padding())
    ) {
        let value = format!("{before}{scheme}{spaces}{token}{after}");
        prop_assert!(matches!(parse(&value), Some(Presented::Token(read)) if read == token), "{:?}", value);
    }

    #[test]
    fn bare_tokens_are_read_whole(token in token(), (before, after) in (padding(), padding())) {
        prop_assume!(!token.eq_ignore_ascii_case("bearer") && !token.eq_ignore_ascii_case("basic"));
        let value = format!("{before}{token}{after}");
        prop_assert!(matches!(parse(&value), Some(Presented::Token(read)) if read == token), "{:?}", value);
    }

    #[test]
    fn basic_credentials_are_read_in_any_case_with_any_spacing(
        (scheme, spaces, client_id, secret) in (any_case("basic"), "[ ]{1,3}", "[^:]{1,40}", ".{1,60}")
    ) {
        let value = format!("{scheme}{spaces}{}", STANDARD.encode(format!("{client_id}:{secret}")));
        let Some(Presented::ClientCredentials { client_id: read_id, secret: read_secret }) = parse(&value) else {
            return Err(TestCaseError::fail(format!("{value:?} not read as client credentials")));
        };
        prop_assert_eq!(read_id, client_id);
        prop_assert_eq!(read_secret.expose(), secret.as_str());
    }

    #[test]
    fn basic_without_both_halves_is_refused(
        (scheme, half) in (any_case("basic"), "[^:]{0,20}"),
        shape in 0..3_u8,
    ) {
        let credentials = match shape {
            0 => half,                // no colon
            1 => format!(":{half}"),  // no client id
            _ => format!("{half}:"),  // no secret
        };
        let value = format!("{scheme} {}", STANDARD.encode(credentials));
        prop_assert!(parse(&value).is_none(), "{:?}", value);
    }

    #[test]
    fn basic_that_is_not_utf8_is_refused(
        (scheme, mut bytes) in (any_case("basic"), proptest::collection::vec(any::<u8>(), 1..40)),
    ) {
        bytes.push(0xff);
        let value = format!("{scheme} {}", STANDARD.encode(&bytes));
        prop_assert!(parse(&value).is_none(), "{:?}", value);
    }
}
