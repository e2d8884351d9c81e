//! The profile that owns API keys.

use crate::hal::Link;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A profile as `GET /api/profiles/{id}` shows it to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    pub id: String,
    #[serde(rename = "_links")]
    pub links: ProfileLinks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProfileLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub apikeys: Link,
}
