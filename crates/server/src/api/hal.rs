//! The HAL dialect's errors: Spring-style bodies `{timestamp, status, error, message, path}`, as
//! the Matatika and Meltano documents show them. The routes of `/api/apikeys`, `/api/profiles`,
//! discovery and health answer in it, and so does every path no route serves.

use crate::api::body::BodyError;
use crate::api::caller::{CallerError, MissingScope};
use crate::error::{self, Dialect, Fault, Refusal, Said};
use crate::ids::KeyId;
use crate::keys::KeyError;
use axum::Json;
use axum::extract::{FromRequestParts, OriginalUri, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use keyward_model::ErrorBody;
use std::time::Duration;
use uuid::Uuid;

/// The document's wording for the key limit.
pub const LIMIT_MESSAGE: &str = "You reached the limit of entities of this type for this tenant.";

/// Spring-style error bodies.
pub struct Hal;

impl Dialect for Hal {
    fn body(status: StatusCode, said: Said, path: &str) -> Response {
        Json(ErrorBody {
            timestamp: keyward_model::time::format_error(&Utc::now()),
            status: status.as_u16(),
            error: status.canonical_reason().unwrap_or("Error").to_owned(),
            message: said.message,
            path: path.to_owned(),
        })
        .into_response()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HalError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Full authentication is required to access this resource")]
    Unauthenticated,
    #[error("Invalid or expired credentials")]
    InvalidCredentials,
    #[error("{0}")]
    NotFound(String),
    #[error("{}", LIMIT_MESSAGE)]
    LimitReached,
    /// The caller's key lacks a scope the request needs.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("Too many failed attempts; retry later")]
    TooManyRequests(Duration),
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl HalError {
    pub fn key_not_found() -> Self {
        HalError::NotFound("API key not found".into())
    }
}

impl Refusal for HalError {
    fn status(&self) -> StatusCode {
        match self {
            HalError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HalError::Unauthenticated | HalError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            HalError::NotFound(_) => StatusCode::NOT_FOUND,
            HalError::LimitReached | HalError::Forbidden(_) => StatusCode::FORBIDDEN,
            HalError::Conflict(_) => StatusCode::CONFLICT,
            HalError::Body(error) => error.status(),
            HalError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            HalError::Fault(fault) => fault.status(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            HalError::TooManyRequests(wait) => Some(*wait),
            _ => None,
        }
    }

    fn challenges(&self) -> &'static [&'static str] {
        match self {
            HalError::Unauthenticated => error::API_CHALLENGES,
            HalError::InvalidCredentials => error::REFUSED_CHALLENGES,
            _ => &[],
        }
    }

    fn fault(&self) -> Option<&Fault> {
        match self {
            HalError::Fault(fault) => Some(fault),
            _ => None,
        }
    }
}

impl IntoResponse for HalError {
    fn into_response(self) -> Response {
        error::respond(&self)
    }
}

impl From<KeyError> for HalError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::NotFound => HalError::key_not_found(),
            KeyError::LimitReached(_) => HalError::LimitReached,
            KeyError::NameTaken(name) => {
                HalError::Conflict(format!("An API key named '{name}' already exists"))
            }
            KeyError::InvalidName(reason) => HalError::BadRequest(reason.to_owned()),
            KeyError::ScopeNotHeld(_) => HalError::Forbidden(error.to_string()),
            KeyError::Hash | KeyError::Busy(_) | KeyError::Store(_) => HalError::Fault(error.into()),
        }
    }
}

impl From<MissingScope> for HalError {
    fn from(missing: MissingScope) -> Self {
        HalError::Forbidden(missing.to_string())
    }
}

impl From<CallerError> for HalError {
    fn from(error: CallerError) -> Self {
        match error {
            CallerError::Missing => HalError::Unauthenticated,
            CallerError::Invalid => HalError::InvalidCredentials,
            CallerError::Throttled(wait) => HalError::TooManyRequests(wait),
            CallerError::Fault(fault) => HalError::Fault(fault),
        }
    }
}

/// The answer to a path that no route serves, worded here since no dialect's layer wraps it.
pub async fn no_such_resource(OriginalUri(uri): OriginalUri) -> Response {
    let status = StatusCode::NOT_FOUND;
    let mut response = Hal::body(status, Said { message: "No such resource".into(), code: None }, uri.path());
    *response.status_mut() = status;
    response
}

/// The one parameter of a path, if it decodes: a segment that does not (not even UTF-8) names
/// nothing, and the handler answers 404 as for anything else that does not exist.
pub struct Segment(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Segment(Path::<String>::from_request_parts(parts, state).await.ok().map(|Path(text)| text)))
    }
}

/// The key id of a path: one that is not a UUID names no key.
pub struct PathKey(pub KeyId);

impl<S: Send + Sync> FromRequestParts<S> for PathKey {
    type Rejection = HalError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(Segment(id)) = Segment::from_request_parts(parts, state).await;
        let id = id.and_then(|id| Uuid::parse_str(&id).ok()).ok_or_else(HalError::key_not_found)?;
        Ok(PathKey(KeyId::from(id)))
    }
}
