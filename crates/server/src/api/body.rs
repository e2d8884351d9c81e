//! Request bodies as JSON or as a form.
//!
//! The documents' curl snippets send JSON, their Python snippets send `data=dict`, which
//! `requests` encodes as `application/x-www-form-urlencoded`; both must work. An empty body
//! (the documented POST sends `Content-Type: application/json` and nothing else) reads as the
//! type's default.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct JsonOrForm<T>(pub T);

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("content type '{0}' is not supported")]
    UnsupportedMediaType(String),
    #[error("malformed request body: {0}")]
    Malformed(String),
}

impl axum::response::IntoResponse for BodyError {
    fn into_response(self) -> axum::response::Response {
        crate::error::ApiError::from(self).into_response()
    }
}

impl<S, T> FromRequest<S> for JsonOrForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = BodyError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media_type = request.headers().get(CONTENT_TYPE).map(|value| {
            let value = value.to_str().unwrap_or_default();
            value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
        });
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                BodyError::TooLarge
            } else {
                BodyError::Malformed(rejection.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        match media_type.as_deref() {
            Some("application/json") => {
                serde_json::from_slice(&bytes).map(Self).map_err(|e| BodyError::Malformed(e.to_string()))
            }
            Some(json) if json.starts_with("application/") && json.ends_with("+json") => {
                serde_json::from_slice(&bytes).map(Self).map_err(|e| BodyError::Malformed(e.to_string()))
            }
            Some("application/x-www-form-urlencoded") => serde_urlencoded::from_bytes(&bytes)
                .map(Self)
                .map_err(|e| BodyError::Malformed(e.to_string())),
            Some(other) => Err(BodyError::UnsupportedMediaType(other.to_owned())),
            None => Err(BodyError::UnsupportedMediaType("none".to_owned())),
        }
    }
}
