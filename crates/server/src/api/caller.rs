//! The authenticated caller of an API route, from the `Authorization` header.

use crate::AppState;
use crate::auth::{AuthError, Principal, header};
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated)?;
        let presented = value
            .to_str()
            .ok()
            .and_then(header::parse)
            .ok_or(ApiError::InvalidCredentials)?;
        state
            .auth
            .authenticate(&presented)
            .await
            .map_err(|error| match error {
                AuthError::Invalid => ApiError::InvalidCredentials,
                AuthError::Store(error) => ApiError::internal(error),
            })
    }
}
