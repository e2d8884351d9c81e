//! Hostile scopes: any JSON reads as the scopes it names or is refused, and what is written
//! reads back the same.

use super::*;
use proptest::prelude::*;
use serde_json::Value;

fn scopes() -> impl Strategy<Value = Scopes> {
    proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len()).prop_map(Scopes::from_iter)
}

fn name() -> impl Strategy<Value = String> {
    proptest::sample::select(Scope::ALL.to_vec()).prop_map(|scope| scope.as_str().to_owned())
}

/// Text that is often a scope's name, sometimes nearly one.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => name(),
        1 => "(keys|KEYS|key)[:_]?(read|write|verify|admin)?[ \t\n\u{a0}]?",
        1 => any::<String>(),
    ]
}

/// JSON values shaped like scopes and not: names alone, space-separated and in arrays of any
/// length, other scalars, and objects naming scopes.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        word().prop_map(Value::from),
        proptest::collection::vec(word(), 0..6).prop_map(|words| Value::from(words.join(" "))),
    ];
    // Arrays of names only, of any length, and names as the keys of objects (serde's other
    // spelling of an enum variant) are too rare among arbitrary values to leave to chance.
    let names = proptest::collection::vec(name(), 0..8).prop_map(Value::from);
    let objects = proptest::collection::vec(name(), 0..3).prop_map(|names| {
        Value::Array(names.into_iter().map(|name| serde_json::json!({ name: null })).collect())
    });
    let leaf = prop_oneof![4 => leaf, 1 => names, 1 => objects];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..3)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// What the wire format promises: a string of space-separated names, or an array naming each
/// scope at most once (`uniqueItems` in the document).
fn expected(value: &Value) -> Option<Scopes> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Array(items) => {
            let names: Vec<Scope> =
                items.iter().map(|item| item.as_str()?.parse().ok()).collect::<Option<_>>()?;
            let scopes = Scopes::from_iter(names.iter().copied());
            (scopes.iter().count() == names.len()).then_some(scopes)
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_json_reads_as_the_scopes_it_names_or_is_refused(value in json()) {
        let text = serde_json::to_string(&value).unwrap();
        let read = serde_json::from_str::<Scopes>(&text).ok();
        prop_assert_eq!(read, expected(&value), "{}", text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scopes_written_as_json_or_text_read_back(scopes in scopes()) {
        let json = serde_json::to_string(&scopes).unwrap();
        prop_assert_eq!(serde_json::from_str::<Scopes>(&json).unwrap(), scopes.clone());
        prop_assert_eq!(scopes.to_string().parse::<Scopes>().unwrap(), scopes.clone());
        let as_text = serde_json::to_string(&scopes.to_string()).unwrap();
        prop_assert_eq!(serde_json::from_str::<Scopes>(&as_text).unwrap(), scopes);
    }
}
