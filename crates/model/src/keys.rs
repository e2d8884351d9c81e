//! The `/api/v1/keys` dialect: keys named and typed, shown once in full, then by identifier.

use crate::Secret;
use crate::scopes::{Scope, Scopes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// What a key is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyType {
    /// General-purpose API access.
    #[default]
    Generic,
    /// Initial setup and onboarding.
    Onboarding,
    /// Integration with Google Cloud Platform.
    Gcp,
    /// Integration with Amazon Web Services.
    Aws,
}

impl KeyType {
    pub const ALL: [KeyType; 4] = [KeyType::Generic, KeyType::Onboarding, KeyType::Gcp, KeyType::Aws];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Generic => "GENERIC",
            KeyType::Onboarding => "ONBOARDING",
            KeyType::Gcp => "GCP",
            KeyType::Aws => "AWS",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of `GENERIC`, `ONBOARDING`, `GCP`, `AWS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKeyType;

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        KeyType::ALL.into_iter().find(|t| t.as_str() == text).ok_or(UnknownKeyType)
    }
}

/// The body of `POST /api/v1/keys/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyRequest {
    /// Unique name for the key: 1 to 255 characters after trimming, no control characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$", example = "my-api-key")]
    #[serde(default)]
    pub name: Option<String>,
    /// `GENERIC` (the default), `ONBOARDING`, `GCP` or `AWS`.
    #[schema(value_type = Option<KeyType>, example = "GENERIC")]
    #[serde(default)]
    pub key_for: Option<String>,
    /// What the new key may do: some of the caller's own scopes (the default: all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeSet<Scope>>, max_items = 3, example = json!(["keys:verify"]))]
    pub scopes: Option<Scopes>,
}

/// A key just created: the only response that carries the full key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    /// The full key. Store it securely: it is not shown again.
    #[schema(value_type = String, example = "keyward_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    pub api_key: Secret,
    pub name: String,
    /// The public identifier, `<prefix>.<public id>`.
    #[schema(example = "keyward.abc123xyz")]
    pub identifier: String,
    #[serde(with = "crate::time::instant")]
    #[schema(value_type = String, format = DateTime, example = "2026-03-03T12:00:00.000Z")]
    pub created: DateTime<Utc>,
    #[serde(rename = "for")]
    pub key_for: KeyType,
}

/// A key's metadata, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeySummary {
    pub name: String,
    #[schema(example = "keyward.abc123xyz")]
    pub identifier: String,
    #[serde(with = "crate::time::instant")]
    #[schema(value_type = String, format = DateTime, example = "2026-03-03T12:00:00.000Z")]
    pub created: DateTime<Utc>,
    #[serde(rename = "for")]
    pub key_for: KeyType,
}

/// The answer to a delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeleteKeyResponse {
    /// `OK`.
    #[schema(example = "OK")]
    pub status: String,
}

/// The body of `POST /api/v1/keys/verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifyKeyRequest {
    /// A full key.
    #[schema(value_type = String, required = true)]
    #[serde(default)]
    pub key: Option<Secret>,
    /// When given, the key is valid only if it holds this scope (`MISSING_SCOPE` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// Why a key did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyFailure {
    /// Not a Keyward key, or mistyped: its checksum does not match.
    InvalidFormat,
    /// No such key among the caller's profile's (unknown, wrong secret, deleted, or another's).
    NotFound,
    /// Too many failed verifications for this key or from this address; retry later.
    RateLimited,
    /// The key is valid but does not hold the scope asked about.
    MissingScope,
}

/// The verdict on a key: its metadata when valid, a reason when not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyKeyResponse {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<VerifyFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub key_for: Option<KeyType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::instant_option")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-03-03T12:00:00.000Z")]
    pub created: Option<DateTime<Utc>>,
    /// What the key may do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Scope>>)]
    pub scopes: Option<Scopes>,
}

impl VerifyKeyResponse {
    pub fn invalid(code: VerifyFailure) -> Self {
        Self {
            valid: false,
            code: Some(code),
            identifier: None,
            name: None,
            key_for: None,
            profile_id: None,
            created: None,
            scopes: None,
        }
    }
}

/// An error of this dialect: the message alone, as a JSON string (`"Client unauthorized"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(example = "Client unauthorized")]
pub struct KeyApiError(pub String);

/// One change to the profile's keys, as `GET /api/v1/keys/audit` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Increases with every entry: pass the last one seen as `before` for older entries.
    pub seq: i64,
    #[serde(with = "crate::time::instant")]
    #[schema(value_type = String, format = DateTime, example = "2026-03-03T12:00:00.000Z")]
    pub at: DateTime<Utc>,
    /// `created`, `renamed`, `scopes_changed` or `deleted`.
    #[schema(example = "created")]
    pub action: String,
    /// The key changed: its id, and (once created) its identifier, name and scopes after the
    /// change (before it, for a delete).
    pub key_id: uuid::Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Scope>>)]
    pub scopes: Option<Scopes>,
    /// The identifier of the key that made the change; absent for the server's command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The identity provider (its issuer) of the person who made the change, signed in and
    /// acting through their default key (`by`), or having it provisioned; absent when a key's
    /// own credentials or access token made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "https://example.eu.auth0.com/")]
    pub signed_in_with: Option<String>,
    /// The address the change was asked from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}
