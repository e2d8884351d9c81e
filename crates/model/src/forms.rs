//! The request bodies that may come as forms (`application/x-www-form-urlencoded`), as the
//! document describes them: the JSON bodies' fields, but a form has no null (`keyFor=null` is the
//! text `null`, which names no type) and no array (scopes are space-separated). The server reads
//! a form into the JSON body's type; these types are its schema only.

use crate::{KeyType, Scope};
use utoipa::ToSchema;

/// `PUT /api/apikeys/{id}` as a form: the fields of `ApiKeyRequest`, none null.
#[derive(Debug, Clone, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyForm {
    /// 1 to 255 characters after trimming, no control characters, unique within the profile.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// The key's type when it is created (`GENERIC` by default). A created key keeps its type.
    #[schema(nullable = false)]
    pub key_for: Option<KeyType>,
    /// Space-separated scopes: some of the caller's own.
    #[schema(
        nullable = false,
        pattern = r"^[\t\n\f\r ]*((keys:read|keys:write|keys:verify)([\t\n\f\r ]+|$))*$",
        example = "keys:read keys:verify"
    )]
    pub scopes: Option<String>,
}

/// `POST /api/v1/keys/create` as a form: the fields of `CreateKeyRequest`, none null.
#[derive(Debug, Clone, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyForm {
    /// Unique name for the key: 1 to 255 characters after trimming, no control characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// `GENERIC` by default.
    #[schema(nullable = false)]
    pub key_for: Option<KeyType>,
    /// Space-separated scopes: some of the caller's own (the default: all of them).
    #[schema(
        nullable = false,
        pattern = r"^[\t\n\f\r ]*((keys:read|keys:write|keys:verify)([\t\n\f\r ]+|$))*$",
        example = "keys:verify"
    )]
    pub scopes: Option<String>,
}

/// `POST /api/v1/keys/verify` as a form: the fields of `VerifyKeyRequest`, none null.
#[derive(Debug, Clone, ToSchema)]
pub struct VerifyKeyForm {
    /// A full key.
    pub key: String,
    /// When given, the key is valid only if it holds this scope (`MISSING_SCOPE` otherwise).
    #[schema(nullable = false)]
    pub scope: Option<Scope>,
}
