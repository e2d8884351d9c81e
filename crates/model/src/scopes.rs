//! What a key may do: scopes, named as OAuth 2.0 names them and carried in tokens' `scope`.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// One right over the keys of the key's own profile.
// Deserialised from its name alone (through `FromStr`): serde's derive would also read a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
pub enum Scope {
    /// List and view keys (and the profile).
    #[serde(rename = "keys:read")]
    KeysRead,
    /// Create, rename, delete keys and change their scopes.
    #[serde(rename = "keys:write")]
    KeysWrite,
    /// Verify keys with `POST /api/v1/keys/verify`.
    #[serde(rename = "keys:verify")]
    KeysVerify,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::KeysRead, Scope::KeysWrite, Scope::KeysVerify];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::KeysRead => "keys:read",
            Scope::KeysWrite => "keys:write",
            Scope::KeysVerify => "keys:verify",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text names no scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}: expected keys:read, keys:write or keys:verify")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| UnknownScope(text.to_owned()))
    }
}

/// serde's derive would also read a variant spelled as an object (`{"keys:read": null}`), which
/// the documents do not allow.
impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(de::Error::custom)
    }
}

/// A set of scopes. On the wire, an array of names; a form (which has no arrays) or a token's
/// `scope` claim writes them space-separated, as RFC 6749 does, and both are read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = Vec<Scope>)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Every scope: the rights of a key made without any named.
    pub fn all() -> Self {
        Scopes(Scope::ALL.into_iter().collect())
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes held by both.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).copied().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        Scopes(scopes.into_iter().collect())
    }
}

/// Space-separated, in a fixed order.
impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

impl FromStr for Scopes {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split_ascii_whitespace().map(Scope::from_str).collect()
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScopesVisitor;

        impl<'de> Visitor<'de> for ScopesVisitor {
            type Value = Scopes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of scopes, or scopes separated by spaces")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Scopes, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scopes, A::Error> {
                // Each scope at most once, as the document's `uniqueItems` says: a repeat is refused
                // at once, so no array is read past three names.
                let mut scopes = BTreeSet::new();
                while let Some(scope) = seq.next_element::<Scope>()? {
                    if !scopes.insert(scope) {
                        return Err(de::Error::custom(format!("{scope} is named twice")));
                    }
                }
                Ok(Scopes(scopes))
            }
        }

        deserializer.deserialize_any(ScopesVisitor)
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_as_an_array_or_space_separated_and_write_as_an_array() {
        let from_array: Scopes = serde_json::from_str(r#"["keys:write", "keys:read"]"#).unwrap();
        let from_text: Scopes = serde_json::from_str(r#""keys:read  keys:write""#).unwrap();
        assert_eq!(from_array, from_text);
        assert_eq!(serde_json::to_string(&from_array).unwrap(), r#"["keys:read","keys:write"]"#);
        assert_eq!(from_array.to_string(), "keys:read keys:write");
        assert!(serde_json::from_str::<Scopes>(r#"["keys:admin"]"#).is_err());
        assert!(serde_json::from_str::<Scopes>(r#"{"keys:read": true}"#).is_err());
        assert!(serde_json::from_str::<Scopes>(r#"[{"keys:read": null}]"#).is_err(), "a name only");
        let repeated = r#"["keys:read", "keys:read", "keys:read", "keys:read"]"#;
        assert!(serde_json::from_str::<Scopes>(repeated).is_err(), "at most three");
        assert!(serde_json::from_str::<Scopes>(r#"["keys:write", "keys:write"]"#).is_err(), "each once");
        assert!(from_array.is_subset(&Scopes::all()));
        assert!(!Scopes::all().is_subset(&from_array));
        let verify: Scopes = "keys:verify".parse().unwrap();
        assert_eq!(Scopes::all().intersection(&from_array), from_array);
        assert!(from_array.intersection(&verify).is_empty());
    }
}
