//! Hostile tokens: `verify` answers anything without panicking and accepts a token only as the
//! service issued it, before its expiry. Altered tokens, including ones our own key signed with
//! claims we would never issue, are refused.

use super::tests::{BASE, records, service_with};
use super::*;
use crate::clock::ManualClock;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// An RS256 and an EdDSA key, made once: RSA key generation is slow.
static KEYS: LazyLock<Vec<SigningKeyRecord>> = LazyLock::new(|| records(SigningAlgorithm::EdDsa));

/// A service that signs with `algorithm` and accepts both keys.
fn service(algorithm: SigningAlgorithm, clock: Arc<ManualClock>) -> TokenService {
    service_with(&KEYS, algorithm, BASE, clock)
}

fn algorithm() -> impl Strategy<Value = SigningAlgorithm> {
    prop_oneof![Just(SigningAlgorithm::Rs256), Just(SigningAlgorithm::EdDsa)]
}

fn decode_segment(segment: &str) -> Map<String, Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

fn encode_segment(object: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(object).unwrap())
}

/// A JSON value that stands in for a claim or header field: the right one, near misses, and
/// values of the wrong type. `None` removes the field.
fn replacement<T: Into<Value>, const N: usize>(right: [T; N]) -> impl Strategy<Value = Option<Value>> {
    let right: Vec<Value> = right.into_iter().map(Into::into).collect();
    prop_oneof![
        2 => proptest::sample::select(right.clone()).prop_map(Some),
        1 => "[ -~]{0,24}".prop_map(|text| Some(Value::from(text))),
        1 => prop_oneof![
            Just(Value::Null),
            Just(Value::from(-1)),
            Just(Value::from(1.5)),
            Just(Value::from(u64::MAX)),
            Just(Value::Array(right)),
        ].prop_map(Some),
        1 => Just(None),
    ]
}

fn set(object: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    match value {
        Some(value) => object.insert(name.to_owned(), value),
        None => object.remove(name),
    };
}

/// One way to alter a token.
#[derive(Debug, Clone)]
enum Alteration {
    /// A segment replaced by arbitrary text, or by base64url of arbitrary bytes.
    Segment(usize, String),
    /// The header's `alg`, `kid` or another field changed, and the header re-encoded.
    Header(&'static str, Option<Value>),
    /// One claim changed, and the claims re-encoded.
    Claim(&'static str, Option<Value>),
    /// The token cut short.
    Truncated(usize),
    /// One character replaced.
    Character(usize, char),
    /// The same bytes in another base64 alphabet or padding.
    Reencoded(usize, bool),
    /// A segment dropped, or one added.
    Dropped(usize),
    Appended(String),
}

fn alteration() -> impl Strategy<Value = Alteration> {
    let segment = 0..3_usize;
    let text = prop_oneof![
        "[A-Za-z0-9_-]{0,64}",
        proptest::collection::vec(any::<u8>(), 0..96).prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
        any::<String>(),
    ];
    let algs = ["RS256", "EdDSA", "ES256", "HS256", "PS256", "none", "None", ""];
    let kids = [KEYS[0].kid.clone(), KEYS[1].kid.clone()];
    prop_oneof![
        (segment.clone(), text.clone()).prop_map(|(at, text)| Alteration::Segment(at, text)),
        replacement(algs).prop_map(|alg| Alteration::Header("alg", alg)),
        replacement(kids).prop_map(|kid| Alteration::Header("kid", kid)),
        replacement(["JWT", "at+jwt"]).prop_map(|typ| Alteration::Header("typ", typ)),
        replacement(["https://evil.example/jwks.json"]).prop_map(|jku| Alteration::Header("jku", jku)),
        claim().prop_map(|(name, value)| Alteration::Claim(name, value)),
        any::<usize>().prop_map(Alteration::Truncated),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Alteration::Character(at, c)),
        (segment.clone(), any::<bool>()).prop_map(|(at, padded)| Alteration::Reencoded(at, padded)),
        segment.prop_map(Alteration::Dropped),
        text.prop_map(Alteration::Appended),
    ]
}

/// A claim and what it is set to: the service's own values among others.
fn claim() -> impl Strategy<Value = (&'static str, Option<Value>)> {
    let (issuer, audience, base) = (issuer(BASE), audience(BASE), BASE.to_owned());
    prop_oneof![
        replacement([issuer.clone(), audience.clone(), base.clone()]).prop_map(|value| ("iss", value)),
        replacement([audience, issuer, base]).prop_map(|value| ("aud", value)),
        replacement(["c", "d", "c@clients"]).prop_map(|value| ("azp", value)),
        replacement(["c@clients", "d@clients", "c"]).prop_map(|value| ("sub", value)),
        replacement([GRANT_TYPE_CLAIM, "authorization_code"]).prop_map(|value| ("gty", value)),
        replacement(["keys:read", ""]).prop_map(|value| ("scope", value)),
        proptest::option::of(prop_oneof![any::<u64>().prop_map(Value::from), Just(Value::from("0"))])
            .prop_map(|value| ("exp", value)),
        proptest::option::of(any::<u64>().prop_map(Value::from)).prop_map(|value| ("iat", value)),
    ]
}

/// `token` altered by `alteration`.
fn alter(token: &str, alteration: &Alteration) -> String {
    let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
    match alteration {
        Alteration::Segment(at, text) => segments[*at] = text.clone(),
        Alteration::Header(name, value) => {
            let mut header = decode_segment(&segments[0]);
            set(&mut header, name, value.clone());
            segments[0] = encode_segment(&header);
        }
        Alteration::Claim(name, value) => {
            let mut claims = decode_segment(&segments[1]);
            set(&mut claims, name, value.clone());
            segments[1] = encode_segment(&claims);
        }
        Alteration::Truncated(length) => return token[..length % token.len()].to_owned(),
        Alteration::Character(at, c) => {
            let mut chars: Vec<char> = token.chars().collect();
            chars[at % token.len()] = *c;
            return chars.into_iter().collect();
        }
        Alteration::Reencoded(at, padded) => {
            let bytes = URL_SAFE_NO_PAD.decode(&segments[*at]).unwrap();
            segments[*at] = if *padded { URL_SAFE.encode(bytes) } else { STANDARD.encode(bytes) };
        }
        Alteration::Dropped(at) => {
            segments.remove(*at);
        }
        Alteration::Appended(text) => segments.push(text.clone()),
    }
    segments.join(".")
}

/// Whether the service would have issued these claims, as of `now`: its issuer and audience, a
/// client's `sub` and `azp` that agree, the grant type, and an expiry still ahead.
fn issuable(claims: &Map<String, Value>, now: u64) -> bool {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    text("iss") == Some(issuer(BASE).as_str())
        && text("aud") == Some(audience(BASE).as_str())
        && text("gty") == Some(GRANT_TYPE_CLAIM)
        && text("azp").is_some_and(|azp| text("sub") == Some(format!("{azp}@clients").as_str()))
        && claims.get("iat").is_some_and(Value::is_u64)
        && claims.get("exp").and_then(Value::as_u64).is_some_and(|exp| exp > now)
        && claims
            .get("scope")
            .is_none_or(|scope| scope.as_str().is_some_and(|scope| scope.parse::<Scopes>().is_ok()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_is_never_a_token(text in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,100}",
    ]) {
        static SERVICE: LazyLock<TokenService> =
            LazyLock::new(|| service(SigningAlgorithm::Rs256, Arc::new(ManualClock::starting_now())));
        prop_assert!(SERVICE.verify(&text).is_none());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn an_altered_token_is_refused(algorithm in algorithm(), alteration in alteration()) {
        let service = service(algorithm, Arc::new(ManualClock::starting_now()));
        let token = service.issue("c", &Scopes::all()).unwrap();
        let altered = alter(&token, &alteration);
        prop_assume!(altered != token);
        prop_assert!(service.verify(&altered).is_none(), "{:?}: {}", alteration, altered);
        prop_assert!(service.verify(&token).is_some(), "the token itself still verifies");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Our own signature is not enough: the claims must be ones the service issues.
    #[test]
    fn claims_signed_by_our_key_verify_only_as_issued(
        algorithm in algorithm(),
        changes in proptest::collection::vec(claim(), 1..4),
    ) {
        let clock = Arc::new(ManualClock::starting_now());
        let service = service(algorithm, clock.clone());
        let issued = service.issue("c", &Scopes::all()).unwrap();
        let mut claims = decode_segment(issued.split('.').nth(1).unwrap());
        for (name, value) in changes {
            set(&mut claims, name, value);
        }
        let signed = service.keyring().signer().sign(&claims).unwrap();
        let now = u64::try_from(clock.now().timestamp()).unwrap();
        let expected = issuable(&claims, now).then(|| Granted {
            client_id: ClientId::from(claims["azp"].as_str().unwrap()),
            scopes: claims.get("scope").and_then(Value::as_str).map_or_else(Scopes::all, |scope| scope.parse().unwrap()),
        });
        prop_assert_eq!(service.verify(&signed), expected, "{:?}", claims);
    }

    #[test]
    fn a_token_verifies_until_its_expiry_and_never_after(
        algorithm in algorithm(),
        elapsed in 0..120_u64,
        remembered in any::<bool>(),
    ) {
        let clock = Arc::new(ManualClock::starting_now());
        let service = service(algorithm, clock.clone());
        let token = service.issue("c", &Scopes::all()).unwrap();
        if remembered {
            prop_assert!(service.verify(&token).is_some());
        }
        clock.advance(Duration::from_secs(elapsed));
        let ttl = service.ttl().as_secs();
        prop_assert_eq!(service.verify(&token).is_some(), elapsed < ttl, "{}s after issue", elapsed);
    }
}
