//! The API key resource of the HAL dialect (`/api/apikeys`).

use crate::hal::{Link, PageLinks, PageMetadata};
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An API key as the HAL API shows it.
///
/// An initialised key has no `name` or `clientId` yet and only a `create apikey` link; a created
/// key has both. `clientSecret` is present only in the response that creates the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    /// The instant the key was created: UTC, no offset.
    #[serde(with = "crate::time::resource")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?$", example = "2026-01-11T18:58:35.961074")]
    pub created: DateTime<Utc>,
    /// The instant the key was last modified: UTC, no offset.
    #[serde(with = "crate::time::resource")]
    #[schema(value_type = String, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?$", example = "2026-01-11T18:58:35.961074")]
    pub last_modified: DateTime<Utc>,
    /// The key's name, unique within its profile. Absent while the key is only initialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The client id: 32 alphanumeric characters. Absent while the key is only initialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client secret: present only in the response that creates the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Secret>,
    pub profile_id: String,
    /// A current access token of the profile's `default` key (the key provisioned when its person
    /// first signed in through the identity provider): in the list only, on that key only, and
    /// only to the person signed in. It is renewed before it expires; use it as
    /// `Authorization: Bearer <accessToken>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Secret>,
    #[serde(rename = "_links")]
    pub links: ApiKeyLinks,
}

/// Link relations of an API key, named as in the documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyLinks {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    #[serde(rename = "update apikey", default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Link>,
    #[serde(rename = "delete apikey", default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Link>,
    #[serde(rename = "create apikey", default, skip_serializing_if = "Option::is_none")]
    pub create: Option<Link>,
}

/// The body of `PUT /api/apikeys/{id}` as JSON; as a form, see `ApiKeyForm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyRequest {
    /// 1 to 255 characters after trimming, no control characters, unique within the profile.
    #[serde(default)]
    #[schema(
        value_type = String,
        required = true,
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "SIT-generated api key (2026-01-11T18:58:35.918500330)"
    )]
    pub name: Option<String>,
    /// The key's type when it is created: `GENERIC` (the default), `ONBOARDING`, `GCP` or `AWS`.
    /// A created key keeps its type.
    #[serde(default, rename = "keyFor", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::KeyType>, example = "GENERIC")]
    pub key_for: Option<String>,
    /// What the key may do: some of the caller's own scopes. When it is created, the default is
    /// all of the caller's; on a created key, the key's scopes are replaced (or kept, without it).
    /// In a form, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeSet<crate::Scope>>, max_items = 3, example = json!(["keys:read", "keys:verify"]))]
    pub scopes: Option<crate::Scopes>,
}

/// A page of the caller's API keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyPage {
    #[serde(rename = "_embedded")]
    pub embedded: EmbeddedApiKeys,
    #[serde(rename = "_links")]
    pub links: PageLinks,
    pub page: PageMetadata,
}

/// `_embedded` of a page of API keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddedApiKeys {
    pub apikeys: Vec<ApiKey>,
}
