//! Errors, as each dialect answers them.
//!
//! Three dialects word errors: the HAL API (a Spring-style body with the request's path), the key
//! API (a JSON string) and the token endpoint (RFC 6749). Each has its own error type, which
//! implements [`Refusal`]: its status, what it says, and its headers. [`respond`] turns a refusal
//! into a response without a body, carrying what it says as [`Said`]; the [`word_errors`] layer on
//! each dialect's routes writes the body in that dialect, for those responses and for the bodiless
//! ones that axum and tower make (405, 413). What every dialect shares is written here once: the
//! `Retry-After` and `WWW-Authenticate` headers, and the logging of a [`Fault`].

use crate::store::StoreError;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// A failure of the server rather than of the request. Every dialect answers it in its own shape
/// with [`Fault::status`]; the cause is logged at error level by [`respond`] and never shown.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The database cannot do the work now (see [`StoreError::Unavailable`]): 503, and a write
    /// that failed so changed nothing.
    #[error("Service Unavailable: the database cannot take requests now; retry later")]
    Unavailable(#[source] StoreError),
    /// Every hashing slot stayed busy: 503, retry in a second.
    #[error("Service Unavailable: the server is at capacity; retry later")]
    Busy,
    /// A sign-in token arrived while no identity provider's keys could be fetched: 503.
    #[error("Service Unavailable: the identity provider's keys cannot be fetched; retry later")]
    IdentityProvider,
    #[error("Internal Server Error")]
    Internal(#[source] anyhow::Error),
}

impl Fault {
    pub fn status(&self) -> StatusCode {
        match self {
            Fault::Unavailable(_) | Fault::Busy | Fault::IdentityProvider => StatusCode::SERVICE_UNAVAILABLE,
            Fault::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Fault::Internal(error.into())
    }

    fn log(&self) {
        match self {
            Fault::Unavailable(cause) => {
                tracing::error!(error = %cause, "request refused: storage unavailable")
            }
            Fault::Busy => tracing::warn!("request refused: every hashing slot stayed busy"),
            Fault::IdentityProvider => tracing::warn!("sign-in refused: no identity provider's keys"),
            Fault::Internal(cause) => tracing::error!(error = format!("{cause:#}"), "request failed"),
        }
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
            crate::keys::KeyError::Busy(_) => Fault::Busy,
            other => Fault::internal(other),
        }
    }
}

/// The `WWW-Authenticate` challenges.
pub const BEARER_CHALLENGE: &str = r#"Bearer realm="keyward""#;
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="keyward", error="invalid_token""#;
pub const BASIC_CHALLENGE: &str = r#"Basic realm="keyward""#;

/// What a 401 of the API offers: its routes take a bearer value (a token or a full key) or a
/// key's client id and secret in HTTP Basic.
pub const API_CHALLENGES: &[&str] = &[BEARER_CHALLENGE, BASIC_CHALLENGE];
/// The same, when the credentials sent were refused.
pub const REFUSED_CHALLENGES: &[&str] = &[INVALID_TOKEN_CHALLENGE, BASIC_CHALLENGE];

/// An error of one dialect: what [`respond`] needs to answer it. Its `Display` is what it says.
pub trait Refusal: std::fmt::Display {
    fn status(&self) -> StatusCode;
    /// A machine-readable code, where the dialect has one (RFC 6749's `error`).
    fn code(&self) -> Option<&'static str> {
        None
    }
    /// How long to wait before trying again.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
    /// The `WWW-Authenticate` challenges of a 401, one field each: one per scheme the route
    /// takes.
    fn challenges(&self) -> &'static [&'static str] {
        &[]
    }
    /// The server's own failure behind it, if any: logged, never shown.
    fn fault(&self) -> Option<&Fault> {
        None
    }
}

/// What an error response says, before its dialect's [`word_errors`] layer words it.
#[derive(Debug, Clone)]
pub struct Said {
    pub message: String,
    pub code: Option<&'static str>,
}

/// The response to a refusal: status and headers, with what it says for the dialect's layer.
pub fn respond(refusal: &impl Refusal) -> Response {
    if let Some(fault) = refusal.fault() {
        fault.log();
    }
    let mut response = refusal.status().into_response();
    let headers = response.headers_mut();
    let busy = matches!(refusal.fault(), Some(Fault::Busy)).then_some(Duration::from_secs(1));
    if let Some(wait) = refusal.retry_after().or(busy) {
        headers.insert(header::RETRY_AFTER, retry_after(wait));
    }
    for challenge in refusal.challenges() {
        headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response.extensions_mut().insert(Said { message: refusal.to_string(), code: refusal.code() });
    response
}

/// `Retry-After` in whole seconds, rounded up so that a client that waits that long gets through.
fn retry_after(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

/// How a dialect writes an error body.
pub trait Dialect: Send + Sync + 'static {
    /// The body (and any headers of its own) of an error with `status` that says `said`, in
    /// answer to a request for `path`.
    fn body(status: StatusCode, said: Said, path: &str) -> Response;
}

/// Writes the body of every error response of a dialect's routes, in that dialect.
pub async fn word_errors<D: Dialect>(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    let said = match response.extensions_mut().remove::<Said>() {
        Some(said) => said,
        // A body a handler wrote on purpose (readiness's `{"status": "DOWN"}`) is kept.
        None if is_json(&response) => return response,
        // axum's and tower's own answers (a wrong method, a body over the limit) come with no
        // body or a plain-text one.
        None if status.is_client_error() || status.is_server_error() => {
            let text =
                axum::body::to_bytes(std::mem::take(response.body_mut()), 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_owned();
            let message = if text.is_empty() { default_message(status) } else { text };
            Said { message, code: None }
        }
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let worded = D::body(status, said, &path);
    parts.headers.extend(worded.headers().clone());
    Response::from_parts(parts, worded.into_body())
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "No such resource".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed on this resource".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => crate::api::body::BodyError::TooLarge.to_string(),
        other => other.canonical_reason().unwrap_or("Error").to_owned(),
    }
}
