//! The API key resource of the HAL dialect (`/api/apikeys`).

use crate::hal::{Link, PageLinks, PageMetadata};
use crate::secret::ClientSecret;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An API key as the HAL API shows it.
///
/// An initialised key has no `name` or `clientId` yet and only a `create apikey` link; a created
/// key has both. `clientSecret` is present only in the response that creates the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    #[serde(with = "crate::time::resource")]
    pub created: DateTime<Utc>,
    #[serde(with = "crate::time::resource")]
    pub last_modified: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    pub profile_id: String,
    #[serde(rename = "_links")]
    pub links: ApiKeyLinks,
}

/// Link relations of an API key, named as in the documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyLinks {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    #[serde(
        rename = "update apikey",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub update: Option<Link>,
    #[serde(
        rename = "delete apikey",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delete: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Link>,
    #[serde(
        rename = "create apikey",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create: Option<Link>,
}

/// The body of `PUT /api/apikeys/{id}`, as JSON or as a form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRequest {
    #[serde(default)]
    pub name: Option<String>,
}

/// A page of the caller's API keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyPage {
    #[serde(rename = "_embedded")]
    pub embedded: EmbeddedApiKeys,
    #[serde(rename = "_links")]
    pub links: PageLinks,
    pub page: PageMetadata,
}

/// `_embedded` of a page of API keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddedApiKeys {
    pub apikeys: Vec<ApiKey>,
}
