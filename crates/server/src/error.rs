//! Errors of the HAL API, rendered as the Spring-style bodies its documents show.
//!
//! Handlers return [`ApiError`]; its response carries the status and message, and the
//! [`render_errors`] middleware, which knows the request path, writes the body. The same
//! middleware gives axum's own bare responses (unknown route, wrong method) the same shape, so
//! that every error of the API is JSON.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use keyward_model::ErrorBody;

use crate::store::StoreError;

/// A failure of the server rather than of the request. Every dialect answers it in its own shape
/// with [`Fault::status`]; the cause is logged at error level by [`Fault::log`] and never shown.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The database cannot do the work now (see [`StoreError::Unavailable`]): 503, and a write
    /// that failed so changed nothing.
    #[error("Service Unavailable: the database cannot take requests now; retry later")]
    Unavailable(#[source] StoreError),
    #[error("Internal Server Error")]
    Internal(#[source] anyhow::Error),
}

impl Fault {
    pub fn status(&self) -> StatusCode {
        match self {
            Fault::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Fault::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Logs the cause, which the response never carries.
    pub fn log(&self) {
        match self {
            Fault::Unavailable(cause) => {
                tracing::error!(error = %cause, "request refused: storage unavailable")
            }
            Fault::Internal(cause) => tracing::error!(error = format!("{cause:#}"), "request failed"),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Fault::Internal(error.into())
    }
}

impl From<StoreError> for Fault {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Fault::Unavailable(error),
            other => Fault::internal(other),
        }
    }
}

impl From<crate::keys::KeyError> for Fault {
    fn from(error: crate::keys::KeyError) -> Self {
        match error {
            crate::keys::KeyError::Store(error) => error.into(),
            other => Fault::internal(other),
        }
    }
}

impl From<crate::auth::AuthError> for Fault {
    fn from(error: crate::auth::AuthError) -> Self {
        match error {
            crate::auth::AuthError::Store(error) => error.into(),
            other => Fault::internal(other),
        }
    }
}

/// The document's wording for the key limit.
pub const LIMIT_MESSAGE: &str = "You reached the limit of entities of this type for this tenant.";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
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
    #[error("{0}")]
    Conflict(String),
    #[error("Request body is larger than {} bytes", crate::api::body::MAX_BODY_BYTES)]
    PayloadTooLarge,
    #[error("Content type '{0}' not supported; use application/json or application/x-www-form-urlencoded")]
    UnsupportedMediaType(String),
    #[error("Too many failed attempts; retry later")]
    TooManyRequests(std::time::Duration),
    /// Details go to the log, never to the caller.
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::LimitReached => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Fault(fault) => fault.status(),
        }
    }

    pub fn key_not_found() -> Self {
        ApiError::NotFound("API key not found".into())
    }
}

/// The message an error response carries to [`render_errors`].
#[derive(Clone)]
struct ErrorMessage(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Fault(fault) = &self {
            fault.log();
        }
        let mut response = self.status().into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            let challenge = match self {
                ApiError::InvalidCredentials => r#"Bearer realm="keyward", error="invalid_token""#,
                _ => r#"Bearer realm="keyward""#,
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let ApiError::TooManyRequests(wait) = &self {
            response.headers_mut().insert(header::RETRY_AFTER, retry_after(*wait));
        }
        response.extensions_mut().insert(ErrorMessage(self.to_string()));
        response
    }
}

/// `Retry-After` in whole seconds, rounded up so that a client that waits that long gets through.
pub fn retry_after(wait: std::time::Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

/// Writes the Spring-style body of every error response that has none yet.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    let message = match response.extensions_mut().remove::<ErrorMessage>() {
        Some(ErrorMessage(message)) => message,
        // axum's own answers (unknown route, wrong method, a rejection) come with no body or a
        // plain-text one; the JSON bodies the dialects wrote keep theirs.
        None if status.is_client_error() || status.is_server_error() => {
            let json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/json"));
            if json {
                return response;
            }
            let text =
                axum::body::to_bytes(std::mem::take(response.body_mut()), 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_owned();
            if text.is_empty() { default_message(status) } else { text }
        }
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    // Each dialect's shape: the key API's errors are a JSON string, as its document shows; the
    // token endpoint's follow RFC 6749.
    let rendered = if path.starts_with("/api/v1/") {
        axum::Json(keyward_model::KeyApiError(message)).into_response()
    } else if path.starts_with("/oauth/") {
        let code = if status.is_server_error() { "server_error" } else { "invalid_request" };
        axum::Json(keyward_model::OAuthError { error: code.to_owned(), error_description: Some(message) })
            .into_response()
    } else {
        axum::Json(spring_body(status, message, path)).into_response()
    };
    parts.headers.extend(rendered.headers().clone());
    Response::from_parts(parts, rendered.into_body())
}

fn spring_body(status: StatusCode, message: String, path: String) -> ErrorBody {
    ErrorBody {
        timestamp: keyward_model::time::format_error(&Utc::now()),
        status: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error").to_owned(),
        message,
        path,
    }
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "No such resource".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed on this resource".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge.to_string(),
        other => other.canonical_reason().unwrap_or("Error").to_owned(),
    }
}

impl From<crate::keys::KeyError> for ApiError {
    fn from(error: crate::keys::KeyError) -> Self {
        use crate::keys::KeyError;
        match error {
            KeyError::NotFound => ApiError::key_not_found(),
            KeyError::LimitReached(_) => ApiError::LimitReached,
            KeyError::NameTaken(name) => {
                ApiError::Conflict(format!("An API key named '{name}' already exists"))
            }
            KeyError::InvalidName(reason) => ApiError::BadRequest(reason.to_owned()),
            KeyError::Hash | KeyError::Store(_) => ApiError::Fault(error.into()),
        }
    }
}

impl From<crate::api::body::BodyError> for ApiError {
    fn from(error: crate::api::body::BodyError) -> Self {
        use crate::api::body::BodyError;
        match error {
            BodyError::TooLarge => ApiError::PayloadTooLarge,
            BodyError::UnsupportedMediaType(media_type) => ApiError::UnsupportedMediaType(media_type),
            BodyError::Malformed(reason) => ApiError::BadRequest(format!("Malformed request body: {reason}")),
        }
    }
}
