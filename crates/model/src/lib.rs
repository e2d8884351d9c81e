//! Resource and error types of the Keyward API.
//!
//! These are the JSON shapes on the wire, shared by the server (which writes them) and the client
//! (which reads them). This crate holds data and its serialisation (and the full key's encoding,
//! which both sides make): no I/O.

pub mod apikey;
pub mod error;
pub mod forms;
pub mod hal;
pub mod health;
pub mod key_format;
pub mod keys;
pub mod profile;
pub mod scopes;
pub mod secret;
pub mod time;
pub mod token;

pub use apikey::{ApiKey, ApiKeyLinks, ApiKeyPage, ApiKeyRequest, EmbeddedApiKeys};
pub use error::ErrorBody;
pub use forms::{ApiKeyForm, CreateKeyForm, VerifyKeyForm};
pub use hal::{Link, PageLinks, PageMetadata};
pub use health::Health;
pub use key_format::KeyFormat;
pub use keys::{
    AuditEntry, CreateKeyRequest, CreatedKey, DeleteKeyResponse, KeyApiError, KeySummary, KeyType,
    VerifyFailure, VerifyKeyRequest, VerifyKeyResponse,
};
pub use profile::{Profile, ProfileLinks};
pub use scopes::{Scope, Scopes};
pub use secret::Secret;
pub use token::{
    AuthorizationServerMetadata, JsonWebKey, JsonWebKeySet, OAuthError, TokenRequest, TokenResponse,
};
