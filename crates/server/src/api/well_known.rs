//! `/.well-known/*`: what a resource server needs to verify Keyward's tokens on its own.

use crate::AppState;
use crate::api::{compression, etag};
use crate::tokens;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::{Json, middleware};
use jsonwebtoken::jwk::JwkSet;
use keyward_model::{AuthorizationServerMetadata, JsonWebKeySet, Scope};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The documents are the same for every request, and may be kept a short while by any cache. A
/// rotated key signs within a minute of its rotation, so a verifier that meets an unknown `kid`
/// fetches the keys again (as JWKS clients do) rather than waiting out this.
const CACHE_FOR: HeaderValue = HeaderValue::from_static("public, max-age=300");

pub fn router() -> OpenApiRouter<AppState> {
    // The keys' tag hashes their bytes as sent: compressed inside the tagging.
    let keys = OpenApiRouter::new()
        .routes(routes!(jwks))
        .layer(compression::layer())
        .layer(middleware::from_fn(etag::tag));
    keys.routes(routes!(authorization_server)).routes(routes!(openid_configuration))
}

/// The token signing keys
///
/// The public keys that verify Keyward's access tokens (RFC 7517). A client that keeps them
/// asks again with `If-None-Match`, and gets a 304 while they are unchanged.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "oauth", operation_id = "getJwks", security(()),
    responses(
        (status = 200, description = "A JSON Web Key Set.", body = JsonWebKeySet,
            headers(("ETag" = String, description = "A strong tag of the keys as sent."))),
        (status = 304, description = "The keys are those the request's `If-None-Match` names: no body.",
            headers(("ETag" = String, description = "The same tag."))),
    )
)]
async fn jwks(State(state): State<AppState>) -> ([(axum::http::HeaderName, HeaderValue); 1], Json<JwkSet>) {
    ([(CACHE_CONTROL, CACHE_FOR)], Json(state.tokens.jwks()))
}

/// Authorization server metadata
///
/// Where the token endpoint and the signing keys are, what they support, and the audience of
/// the tokens (RFC 8414).
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    operation_id = "getAuthorizationServerMetadata", security(()),
    responses((status = 200, description = "The metadata.", body = AuthorizationServerMetadata))
)]
async fn authorization_server(State(state): State<AppState>) -> Discovery {
    ([(CACHE_CONTROL, CACHE_FOR)], Json(metadata(&state.base_url)))
}

/// Discovery
///
/// The same metadata as `/.well-known/oauth-authorization-server`, where OpenID Connect clients
/// look for it.
// Keyward is no OpenID Provider: it issues no ID token and has no authorization endpoint, which
// OIDC Discovery's REQUIRED `authorization_endpoint`, `subject_types_supported` and
// `id_token_signing_alg_values_supported` describe. Naming them would send clients to flows that
// fail, so this path serves the RFC 8414 document (whose section 5 calls the path a general
// OAuth 2.0 feature): OIDC libraries find the issuer, the token endpoint and the keys in it.
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", tag = "oauth", operation_id = "getOpenIdConfiguration",
    security(()),
    responses((status = 200, description = "The authorization server metadata.", body = AuthorizationServerMetadata))
)]
async fn openid_configuration(State(state): State<AppState>) -> Discovery {
    ([(CACHE_CONTROL, CACHE_FOR)], Json(metadata(&state.base_url)))
}

type Discovery = ([(axum::http::HeaderName, HeaderValue); 1], Json<AuthorizationServerMetadata>);

/// The deployment's metadata: only the client-credentials grant, so no authorization endpoint
/// and (RFC 8414 requires the field) no response type.
fn metadata(base: &str) -> AuthorizationServerMetadata {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    AuthorizationServerMetadata {
        issuer: tokens::issuer(base),
        token_endpoint: format!("{base}/oauth/token"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        scopes_supported: Scope::ALL.to_vec(),
        response_types_supported: Vec::new(),
        grant_types_supported: strings(&["client_credentials"]),
        token_endpoint_auth_methods_supported: strings(&["client_secret_basic", "client_secret_post"]),
        audience: tokens::audience(base),
    }
}
