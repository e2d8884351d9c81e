//! The profile that owns API keys.

use crate::hal::Link;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A profile as `GET /api/profiles/{id}` shows it to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: String,
    /// When the profile's person first signed in through the identity provider (RFC 3339);
    /// `null` for a profile that never signed in (its keys were made by an operator).
    #[serde(default, with = "crate::time::instant_option")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-01-11T18:58:34.864Z")]
    pub first_sign_in: Option<chrono::DateTime<chrono::Utc>>,
    /// When the profile's person last signed in: the first use of their latest access token.
    #[serde(default, with = "crate::time::instant_option")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-01-12T09:30:00.000Z")]
    pub last_sign_in: Option<chrono::DateTime<chrono::Utc>>,
    /// How many created keys the profile holds.
    pub key_count: u64,
    #[serde(rename = "_links")]
    pub links: ProfileLinks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProfileLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub apikeys: Link,
}
