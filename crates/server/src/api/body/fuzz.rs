//! Hostile request bodies: any bytes under any content type decode to a value or a 4xx, and every
//! body a client writes, as JSON or as a form, decodes back to what it wrote.

use super::*;
use keyward_model::{ApiKeyRequest, CreateKeyRequest, Scope, Scopes, Secret, TokenRequest, VerifyKeyRequest};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

fn content_type() -> impl Strategy<Value = Option<HeaderValue>> {
    let known = prop_oneof![
        Just("application/json"),
        Just("Application/JSON ; charset=utf-8"),
        Just("application/merge-patch+json"),
        Just("application/x-www-form-urlencoded"),
        Just(" application/x-www-form-urlencoded;charset=UTF-8"),
        Just("text/plain"),
        Just("multipart/form-data; boundary=x"),
    ];
    prop_oneof![
        3 => known.prop_map(|value| Some(HeaderValue::from_static(value))),
        1 => Just(None),
        1 => proptest::collection::vec(any::<u8>(), 0..32).prop_filter_map("not a header value", |bytes| {
            HeaderValue::from_bytes(&bytes).ok().map(Some)
        }),
    ]
}

/// The fields the request bodies have, and a few they do not.
fn field() -> impl Strategy<Value = String> {
    let known =
        ["name", "keyFor", "key_for", "scopes", "scope", "key", "grant_type", "client_id", "client_secret"];
    prop_oneof![4 => proptest::sample::select(known.to_vec()).prop_map(str::to_owned), 1 => any::<String>()]
}

fn text() -> impl Strategy<Value = String> {
    let scope = proptest::sample::select(Scope::ALL.to_vec()).prop_map(|scope| scope.as_str().to_owned());
    prop_oneof![scope, Just("GENERIC".to_owned()), "[ -~]{0,12}", any::<String>()]
}

/// JSON near the bodies' shapes: objects of their fields with values of every type, nested.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((field(), inner), 0..5)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Bodies: anything, JSON near the bodies' shapes, and forms of their fields.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let form = proptest::collection::vec((field(), text()), 0..5)
        .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap_or_default().into_bytes());
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..128),
        json().prop_map(|value| serde_json::to_vec(&value).unwrap()),
        form,
        proptest::collection::vec((field(), any::<Vec<u8>>()), 0..4).prop_map(|pairs| {
            // Raw `name=value` pairs, unescaped: bytes a form encoder would never write.
            pairs
                .into_iter()
                .flat_map(|(name, value)| [name.into_bytes(), b"=".to_vec(), value, b"&".to_vec()].concat())
                .collect()
        }),
    ]
}

/// `bytes` decoded as `T` is a value or a 4xx.
fn decodes_or_refuses<T: DeserializeOwned + Default>(
    content_type: Option<&HeaderValue>,
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    let Err(error) = decode::<T>(content_type, bytes) else { return Ok(()) };
    prop_assert!(error.status().is_client_error(), "{error}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_body_decodes_to_a_value_or_a_client_error(content_type in content_type(), bytes in body()) {
        let content_type = content_type.as_ref();
        decodes_or_refuses::<ApiKeyRequest>(content_type, &bytes)?;
        decodes_or_refuses::<CreateKeyRequest>(content_type, &bytes)?;
        decodes_or_refuses::<VerifyKeyRequest>(content_type, &bytes)?;
        decodes_or_refuses::<TokenRequest>(content_type, &bytes)?;
    }

    #[test]
    fn json_that_is_not_an_object_is_refused(value in json().prop_filter("an object", |value| !value.is_object())) {
        let bytes = serde_json::to_vec(&value).unwrap();
        prop_assert!(matches!(decode::<ApiKeyRequest>(Some(&JSON), &bytes), Err(BodyError::Malformed(_))));
        prop_assert!(matches!(decode::<TokenRequest>(Some(&JSON), &bytes), Err(BodyError::Malformed(_))));
    }
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof!["[ -~]{0,16}", any::<String>()])
}

fn scopes() -> impl Strategy<Value = Scopes> {
    proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len()).prop_map(Scopes::from_iter)
}

fn api_key_request() -> impl Strategy<Value = ApiKeyRequest> {
    (optional_text(), optional_text(), proptest::option::of(scopes()))
        .prop_map(|(name, key_for, scopes)| ApiKeyRequest { name, key_for, scopes })
}

fn create_key_request() -> impl Strategy<Value = CreateKeyRequest> {
    (optional_text(), optional_text(), proptest::option::of(scopes()))
        .prop_map(|(name, key_for, scopes)| CreateKeyRequest { name, key_for, scopes })
}

fn verify_key_request() -> impl Strategy<Value = VerifyKeyRequest> {
    (optional_text(), proptest::option::of(proptest::sample::select(Scope::ALL.to_vec())))
        .prop_map(|(key, scope)| VerifyKeyRequest { key: key.map(Secret::new), scope })
}

fn token_request() -> impl Strategy<Value = TokenRequest> {
    (optional_text(), optional_text(), optional_text(), optional_text(), optional_text()).prop_map(
        |(grant_type, client_id, client_secret, audience, scope)| TokenRequest {
            grant_type,
            client_id,
            client_secret: client_secret.map(Secret::new),
            audience,
            scope,
        },
    )
}

/// `value` as a client writes it in a form: absent fields left out, scopes space-separated.
fn form(value: &impl Serialize) -> String {
    let Value::Object(fields) = serde_json::to_value(value).unwrap() else { panic!("not an object") };
    let pairs: Vec<(String, String)> = fields
        .into_iter()
        .filter_map(|(name, value)| match value {
            Value::Null => None,
            Value::String(text) => Some((name, text)),
            Value::Array(items) => {
                let words: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                Some((name, words.join(" ")))
            }
            other => panic!("{name} is {other}: not a form value"),
        })
        .collect();
    serde_urlencoded::to_string(pairs).unwrap()
}

/// `value` written as JSON and as a form decodes back equal (compared as JSON: not every
/// request type has `PartialEq`).
fn reads_back<T: Serialize + DeserializeOwned + Default>(value: &T) -> Result<(), TestCaseError> {
    let expected = serde_json::to_value(value).unwrap();
    let from_json: T = decode(Some(&JSON), &serde_json::to_vec(value).unwrap())
        .map_err(|error| TestCaseError::fail(format!("as JSON: {error}")))?;
    prop_assert_eq!(serde_json::to_value(from_json).unwrap(), expected.clone());
    let form = form(value);
    let from_form: T = decode(Some(&FORM), form.as_bytes())
        .map_err(|error| TestCaseError::fail(format!("{form:?}: {error}")))?;
    prop_assert_eq!(serde_json::to_value(from_form).unwrap(), expected, "{:?}", form);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn api_key_requests_read_back(request in api_key_request()) {
        reads_back(&request)?;
    }

    #[test]
    fn create_key_requests_read_back(request in create_key_request()) {
        reads_back(&request)?;
    }

    #[test]
    fn verify_key_requests_read_back(request in verify_key_request()) {
        reads_back(&request)?;
    }

    #[test]
    fn token_requests_read_back(request in token_request()) {
        reads_back(&request)?;
    }
}

#[test]
fn an_array_or_deeply_nested_json_is_a_400() {
    for body in [r#"["name"]"#.to_owned(), format!(r#"{{"name": {}"#, "[".repeat(100_000))] {
        let error = decode::<ApiKeyRequest>(Some(&JSON), body.as_bytes()).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{error}");
    }
}
