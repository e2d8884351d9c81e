//! The OAuth 2.0 client-credentials token exchange (RFC 6749 sections 4.4 and 5).

use crate::scopes::Scope;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A token request, sent as a form or as JSON. The client id and secret may come in the body or
/// in an HTTP Basic `Authorization` header instead.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    #[serde(default)]
    #[schema(value_type = String, required = true, example = "client_credentials")]
    pub grant_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Secret>,
    /// Accepted for compatibility with Auth0-style clients; the audience is always Keyward's API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The scopes the token is for, space-separated, all of them the key's: a token may hold
    /// less than its key. Without it (or empty), the key's scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "keys:read")]
    pub scope: Option<String>,
}

/// A successful token response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The scopes the token grants, space-separated. Keyward always says; RFC 6749 lets other
    /// servers leave it out when it is what was asked, so a reader does not require it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true, example = "keys:read keys:write keys:verify")]
    pub scope: Option<String>,
}

/// An error of the token endpoint (RFC 6749 section 5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, ...
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// Authorization server metadata (RFC 8414), served at `/.well-known/oauth-authorization-server`
/// and, the same, at `/.well-known/openid-configuration`. It describes the client-credentials
/// grant only: there is no authorization endpoint, and no ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationServerMetadata {
    /// The `iss` of every access token.
    #[schema(example = "https://keys.example.com/")]
    pub issuer: String,
    pub token_endpoint: String,
    /// The keys that verify access tokens.
    pub jwks_uri: String,
    /// The scopes a token request may name.
    pub scopes_supported: Vec<Scope>,
    /// Empty: without an authorization endpoint, no response type is supported.
    pub response_types_supported: Vec<String>,
    /// `client_credentials`.
    pub grant_types_supported: Vec<String>,
    /// `client_secret_basic` and `client_secret_post`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Keyward's own: the `aud` of every access token, which a resource server verifying tokens
    /// itself requires.
    #[schema(example = "https://keys.example.com/api")]
    pub audience: String,
}

/// A JSON Web Key Set (RFC 7517): the public keys that verify access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JsonWebKeySet {
    pub keys: Vec<JsonWebKey>,
}

/// One RSA public key of a [`JsonWebKeySet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JsonWebKey {
    /// `RSA`.
    pub kty: String,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `RS256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// The key id that tokens name in their `kid` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The modulus, base64url.
    pub n: String,
    /// The public exponent, base64url.
    pub e: String,
}
