//! `/.well-known/*`: what a resource server needs to verify Keyward's tokens on its own.

use crate::AppState;
use crate::tokens;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use jsonwebtoken::jwk::JwkSet;
use keyward_model::{JsonWebKeySet, OpenIdConfiguration};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Both documents are the same for every request, and may be kept a short while by any cache. A
/// rotated key signs within a minute of its rotation, so a verifier that meets an unknown `kid`
/// fetches the keys again (as JWKS clients do) rather than waiting out this.
const CACHE_FOR: HeaderValue = HeaderValue::from_static("public, max-age=300");

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(jwks)).routes(routes!(openid_configuration))
}

/// The token signing keys
///
/// The public keys that verify Keyward's access tokens (RFC 7517).
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "oauth", operation_id = "getJwks", security(()),
    responses((status = 200, description = "A JSON Web Key Set.", body = JsonWebKeySet))
)]
async fn jwks(State(state): State<AppState>) -> ([(axum::http::HeaderName, HeaderValue); 1], Json<JwkSet>) {
    ([(CACHE_CONTROL, CACHE_FOR)], Json(state.tokens.jwks()))
}

/// Discovery
///
/// Where the token endpoint and the signing keys are, and what they support.
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", tag = "oauth", operation_id = "getOpenIdConfiguration",
    security(()),
    responses((status = 200, description = "The discovery document.", body = OpenIdConfiguration))
)]
async fn openid_configuration(
    State(state): State<AppState>,
) -> ([(axum::http::HeaderName, HeaderValue); 1], Json<OpenIdConfiguration>) {
    let base = &state.base_url;
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    let document = Json(OpenIdConfiguration {
        issuer: tokens::issuer(base),
        token_endpoint: format!("{base}/oauth/token"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        grant_types_supported: strings(&["client_credentials"]),
        token_endpoint_auth_methods_supported: strings(&["client_secret_basic", "client_secret_post"]),
        id_token_signing_alg_values_supported: strings(&["RS256"]),
        response_types_supported: strings(&["token"]),
        subject_types_supported: strings(&["public"]),
    });
    ([(CACHE_CONTROL, CACHE_FOR)], document)
}
