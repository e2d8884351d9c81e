//! The authenticated caller of an API route, from the `Authorization` header, and the address it
//! calls from.

use crate::AppState;
use crate::api::client_address::client_address;
use crate::auth::{AuthError, Principal, header};
use crate::error::Fault;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use keyward_model::Scope;
use std::marker::PhantomData;

/// Why a request is not authenticated, before a dialect words it.
pub enum CallerError {
    /// No `Authorization` header.
    Missing,
    /// A header that is malformed or names no live key or token.
    Invalid,
    /// Too many failed attempts; retry after this long.
    Throttled(std::time::Duration),
    Fault(Fault),
}

/// Authenticates the request's `Authorization` header.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, CallerError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or(CallerError::Missing)?;
    let presented = value.to_str().ok().and_then(header::parse).ok_or(CallerError::Invalid)?;
    state.auth.authenticate(&presented, client_address(parts, state)).await.map_err(|error| match error {
        AuthError::Invalid | AuthError::Malformed => CallerError::Invalid,
        AuthError::Throttled(wait) => CallerError::Throttled(wait),
        AuthError::Store(error) => CallerError::Fault(error.into()),
        AuthError::Busy(_) => CallerError::Fault(crate::error::Fault::Busy),
        AuthError::Fault(fault) => CallerError::Fault(fault),
    })
}

/// The caller's key lacks the scope a route requires.
#[derive(Debug, Clone, Copy)]
pub struct MissingScope(pub Scope);

impl std::fmt::Display for MissingScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "This key does not hold the scope {}", self.0)
    }
}

/// Refuses a caller whose key lacks `scope`.
pub fn require(caller: &Principal, scope: Scope) -> Result<(), MissingScope> {
    if caller.scopes.contains(scope) { Ok(()) } else { Err(MissingScope(scope)) }
}

/// The authenticated caller, refused with the dialect error `E`.
pub struct Caller<E>(pub Principal, pub PhantomData<E>);

impl<E> FromRequestParts<AppState> for Caller<E>
where
    E: From<CallerError> + IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(parts, state).await.map(|principal| Self(principal, PhantomData)).map_err(E::from)
    }
}
