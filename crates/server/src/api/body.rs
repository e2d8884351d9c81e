//! Request bodies as JSON or as a form.
//!
//! The documents' curl snippets send JSON, their Python snippets send `data=dict`, which
//! `requests` encodes as `application/x-www-form-urlencoded`; both must work. An empty body
//! (the documented POST sends `Content-Type: application/json` and nothing else) reads as the
//! type's default.

use crate::api::limits::BodyTimeout;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::time::Duration;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A body of type `T`, refused with the dialect error `E`.
pub struct JsonOrForm<T, E>(pub T, pub PhantomData<E>);

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("content type '{0}' is not supported")]
    UnsupportedMediaType(String),
    #[error("malformed request body: {0}")]
    Malformed(String),
    #[error("the request body did not arrive in time")]
    TimedOut,
}

impl BodyError {
    /// The status every dialect answers this with.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::Malformed(_) => StatusCode::BAD_REQUEST,
            BodyError::TimedOut => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

impl<S, T, E> FromRequest<S> for JsonOrForm<T, E>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
    E: From<BodyError> + IntoResponse,
{
    type Rejection = E;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(request, state).await.map(|body| Self(body, PhantomData)).map_err(E::from)
    }
}

/// The body, read within the request's body timeout, then decoded.
async fn read<S: Send + Sync, T: DeserializeOwned + Default>(
    request: Request,
    state: &S,
) -> Result<T, BodyError> {
    let content_type = request.headers().get(CONTENT_TYPE).cloned();
    let timeout = request.extensions().get::<BodyTimeout>().map_or(Duration::MAX, |BodyTimeout(t)| *t);
    let bytes = tokio::time::timeout(timeout, Bytes::from_request(request, state))
        .await
        .map_err(|_| BodyError::TimedOut)?
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                BodyError::TooLarge
            } else {
                BodyError::Malformed(rejection.body_text())
            }
        })?;
    decode(content_type.as_ref(), &bytes)
}

/// A body that arrived with `content_type`, as JSON, as a form, or empty.
pub fn decode<T: DeserializeOwned + Default>(
    content_type: Option<&HeaderValue>,
    bytes: &[u8],
) -> Result<T, BodyError> {
    let media_type = content_type.map(|value| {
        let value = value.to_str().unwrap_or_default();
        value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
    });
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    match media_type.as_deref() {
        Some("application/json") => from_json(bytes),
        Some(json) if json.starts_with("application/") && json.ends_with("+json") => from_json(bytes),
        Some("application/x-www-form-urlencoded") => from_form(bytes),
        Some(other) => Err(BodyError::UnsupportedMediaType(other.to_owned())),
        None => Err(BodyError::UnsupportedMediaType("none".to_owned())),
    }
}

/// A JSON object as `T`. serde reads a struct from an array too (`["name"]` as `{"name": ...}`):
/// every body here is an object, and anything else is refused.
fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(BodyError::Malformed("the body must be a JSON object".to_owned()));
    }
    serde_json::from_slice(bytes).map_err(|e| BodyError::Malformed(e.to_string()))
}

/// A form as `T`. serde_urlencoded replaces percent-encoded bytes that are not UTF-8 with U+FFFD,
/// which would store a name nobody sent: such a form is refused instead.
fn from_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| BodyError::Malformed("the form is not UTF-8".to_owned()))?;
    let every_part_is_utf8 = text
        .split('&')
        .flat_map(|pair| pair.split('='))
        .all(|part| percent_encoding::percent_decode_str(part).decode_utf8().is_ok());
    if !every_part_is_utf8 {
        return Err(BodyError::Malformed("form values must be UTF-8 once percent-decoded".to_owned()));
    }
    serde_urlencoded::from_bytes(bytes).map_err(|e| BodyError::Malformed(e.to_string()))
}

#[cfg(test)]
mod fuzz;
