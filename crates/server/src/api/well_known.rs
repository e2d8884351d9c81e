//! `/.well-known/*`: what a resource server needs to verify Keyward's tokens on its own.

use crate::AppState;
use crate::api::base_url::BaseUrl;
use crate::tokens;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;
use keyward_model::OpenIdConfiguration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
}

async fn jwks(State(state): State<AppState>) -> Json<JwkSet> {
    Json(state.tokens.jwks().clone())
}

async fn openid_configuration(BaseUrl(base): BaseUrl) -> Json<OpenIdConfiguration> {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    Json(OpenIdConfiguration {
        issuer: tokens::issuer(&base),
        token_endpoint: format!("{base}/oauth/token"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        grant_types_supported: strings(&["client_credentials"]),
        token_endpoint_auth_methods_supported: strings(&[
            "client_secret_basic",
            "client_secret_post",
        ]),
        id_token_signing_alg_values_supported: strings(&["RS256"]),
        response_types_supported: strings(&["token"]),
        subject_types_supported: strings(&["public"]),
    })
}
