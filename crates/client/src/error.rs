//! One error type for every call. A refusal keeps the server's body in whichever dialect it came,
//! its status and its `Retry-After`; a failure to talk to the server says which failure it was.

use keyward_model::{ErrorBody, KeyApiError, OAuthError};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The HAL API refused the request (`{timestamp, status, error, message, path}`).
    #[error("{status}: {}", body.message)]
    Api {
        /// The response's status.
        status: StatusCode,
        /// How long the server asked to wait before trying again, if it did.
        retry_after: Option<Duration>,
        /// The error body.
        body: ErrorBody,
    },
    /// The key API refused the request (its errors are a message alone).
    #[error("{status}: {message}")]
    Key {
        /// The response's status.
        status: StatusCode,
        /// How long the server asked to wait before trying again, if it did.
        retry_after: Option<Duration>,
        /// The error message.
        message: String,
    },
    /// The token endpoint refused the credentials or the request (RFC 6749 section 5.2).
    #[error("{status}: {}{}", body.error, body.error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth {
        /// The response's status.
        status: StatusCode,
        /// How long the server asked to wait before trying again, if it did.
        retry_after: Option<Duration>,
        /// The RFC 6749 error body.
        body: OAuthError,
    },
    /// An answer the API does not document for this request, or a documented status whose body
    /// is not the documented one (a proxy's HTML error page, say).
    #[error("unexpected {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Unexpected {
        /// The response's status.
        status: StatusCode,
        /// How long the server asked to wait before trying again, if it did.
        retry_after: Option<Duration>,
        /// The start of the body, as text.
        body: String,
    },
    /// The server could not be reached, its certificate was not trusted, the connection failed,
    /// or no answer came in time.
    #[error(transparent)]
    Transport(TransportError),
    /// A success response that does not parse as documented.
    #[error("malformed response: {0}")]
    Decode(String),
    /// The request could not be built (an invalid argument).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// The HTTP status of an answered request.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. }
            | Error::Key { status, .. }
            | Error::OAuth { status, .. }
            | Error::Unexpected { status, .. } => Some(*status),
            Error::Transport(_) | Error::Decode(_) | Error::InvalidRequest(_) => None,
        }
    }

    /// How long the server asked to wait before trying again (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. }
            | Error::Key { retry_after, .. }
            | Error::OAuth { retry_after, .. }
            | Error::Unexpected { retry_after, .. } => *retry_after,
            Error::Transport(_) | Error::Decode(_) | Error::InvalidRequest(_) => None,
        }
    }

    /// Whether the credentials were refused (401).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// Whether the thing asked for does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }
}

/// What went wrong on the way to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TransportKind {
    /// No connection could be made: the host, the port or the network.
    Connect,
    /// The connection was made but the server's TLS certificate is not trusted.
    Certificate,
    /// No answer came within the timeout.
    Timeout,
    /// The connection failed after the request was sent.
    Other,
}

/// A failure to talk to the server.
#[derive(Debug, Clone)]
pub struct TransportError {
    kind: TransportKind,
    /// The whole chain of causes, for people.
    detail: String,
    source: Option<Arc<reqwest::Error>>,
}

impl TransportError {
    /// Which failure it was.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    pub(crate) fn timeout(detail: impl Into<String>) -> Self {
        Self { kind: TransportKind::Timeout, detail: detail.into(), source: None }
    }
}

/// Every cause in `error`'s chain, for people.
fn causes(error: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = cause {
        let text = current.to_string();
        if !causes.iter().any(|seen: &String| seen.contains(&text)) {
            causes.push(text);
        }
        cause = current.source();
    }
    causes.join(": ")
}

/// Whether the connection failed because the server's certificate is not trusted. Neither TLS
/// backend gives a typed error through reqwest; both name the certificate.
pub(crate) fn is_untrusted_certificate(error: &reqwest::Error) -> bool {
    error.is_connect() && causes(error).to_ascii_lowercase().contains("certificate")
}

impl From<reqwest::Error> for TransportError {
    fn from(error: reqwest::Error) -> Self {
        let detail = causes(&error);
        let kind = if is_untrusted_certificate(&error) {
            TransportKind::Certificate
        } else if error.is_timeout() {
            TransportKind::Timeout
        } else if error.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Other
        };
        Self { kind, detail, source: Some(Arc::new(error)) }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = &self.detail;
        match self.kind {
            TransportKind::Connect => write!(f, "cannot reach the server: {detail}"),
            TransportKind::Certificate => write!(
                f,
                "the server's TLS certificate is not trusted: {detail}; if a private CA signed it, \
                 add that CA's certificate"
            ),
            TransportKind::Timeout => write!(f, "the server did not answer in time: {detail}"),
            TransportKind::Other => write!(f, "the connection to the server failed: {detail}"),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|error| error as _)
    }
}

impl From<reqwest::Error> for Error {
    fn from(error: reqwest::Error) -> Self {
        Error::Transport(error.into())
    }
}

/// `Retry-After`, in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.to_utc() - chrono::Utc::now()).to_std().unwrap_or_default())
}

/// The start of an error body that the caller sees, as text.
const ERROR_TEXT_CHARS: usize = 1024;

/// An error response's body, read (bounded) before the generated code reads it, and kept beside
/// the response.
#[derive(Clone)]
pub(crate) struct CapturedBody(pub Vec<u8>);

impl CapturedBody {
    /// The start of the body, as text, for the caller.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).trim().chars().take(ERROR_TEXT_CHARS).collect()
    }
}

/// The error bodies the generated code can return, turned into [`Error`].
pub trait ErrorBodyKind: Sized {
    /// The [`Error`] for this body.
    fn into_error(status: StatusCode, retry_after: Option<Duration>, body: Self) -> Error;
}

impl ErrorBodyKind for ErrorBody {
    fn into_error(status: StatusCode, retry_after: Option<Duration>, body: Self) -> Error {
        Error::Api { status, retry_after, body }
    }
}

impl ErrorBodyKind for KeyApiError {
    fn into_error(status: StatusCode, retry_after: Option<Duration>, body: Self) -> Error {
        Error::Key { status, retry_after, message: body.0 }
    }
}

impl ErrorBodyKind for OAuthError {
    fn into_error(status: StatusCode, retry_after: Option<Duration>, body: Self) -> Error {
        Error::OAuth { status, retry_after, body }
    }
}

impl ErrorBodyKind for () {
    fn into_error(status: StatusCode, retry_after: Option<Duration>, (): Self) -> Error {
        Error::Unexpected { status, retry_after, body: String::new() }
    }
}

/// An [`Error`] as the request hooks hand it through the generated code, which carries hook
/// errors as text only.
#[derive(Serialize, Deserialize)]
enum Wire {
    OAuth { status: u16, retry_after: Option<u64>, body: OAuthError },
    Unexpected { status: u16, retry_after: Option<u64>, body: String },
    Transport { kind: TransportKind, detail: String },
    Decode(String),
    InvalidRequest(String),
}

/// Marks hook errors written by [`to_hook`].
const HOOK_ERROR: &str = "keyward-client hook error ";

/// The hook error that [`Error::from`] turns back into `error`.
pub(crate) fn to_hook(error: &Error) -> String {
    let seconds = |wait: &Option<Duration>| wait.map(|wait| wait.as_secs());
    let wire = match error {
        Error::OAuth { status, retry_after, body } => {
            Wire::OAuth { status: status.as_u16(), retry_after: seconds(retry_after), body: body.clone() }
        }
        Error::Transport(transport) => {
            Wire::Transport { kind: transport.kind, detail: transport.detail.clone() }
        }
        Error::Decode(detail) => Wire::Decode(detail.clone()),
        Error::InvalidRequest(detail) => Wire::InvalidRequest(detail.clone()),
        Error::Unexpected { status, retry_after, body } => Wire::Unexpected {
            status: status.as_u16(),
            retry_after: seconds(retry_after),
            body: body.clone(),
        },
        other => Wire::Unexpected {
            status: other.status().map_or(500, |status| status.as_u16()),
            retry_after: seconds(&other.retry_after()),
            body: other.to_string(),
        },
    };
    format!("{HOOK_ERROR}{}", serde_json::to_string(&wire).unwrap_or_default())
}

fn from_hook(message: String) -> Error {
    let Some(wire) = message.strip_prefix(HOOK_ERROR).and_then(|json| serde_json::from_str(json).ok()) else {
        return Error::InvalidRequest(message);
    };
    let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match wire {
        Wire::OAuth { status: code, retry_after, body } => {
            Error::OAuth { status: status(code), retry_after: retry_after.map(Duration::from_secs), body }
        }
        Wire::Unexpected { status: code, retry_after, body } => Error::Unexpected {
            status: status(code),
            retry_after: retry_after.map(Duration::from_secs),
            body,
        },
        Wire::Transport { kind, detail } => Error::Transport(TransportError { kind, detail, source: None }),
        Wire::Decode(detail) => Error::Decode(detail),
        Wire::InvalidRequest(detail) => Error::InvalidRequest(detail),
    }
}

impl<E: ErrorBodyKind> From<progenitor_client::Error<E>> for Error {
    fn from(error: progenitor_client::Error<E>) -> Self {
        use progenitor_client::Error as Generated;
        match error {
            Generated::ErrorResponse(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                E::into_error(status, retry_after, response.into_inner())
            }
            Generated::CommunicationError(error)
            | Generated::InvalidUpgrade(error)
            | Generated::ResponseBodyError(error) => error.into(),
            Generated::InvalidResponsePayload(_, error) => Error::Decode(error.to_string()),
            Generated::UnexpectedResponse(response) => Error::Unexpected {
                status: response.status(),
                retry_after: retry_after(response.headers()),
                body: response.extensions().get::<CapturedBody>().map(CapturedBody::text).unwrap_or_default(),
            },
            Generated::InvalidRequest(message) => Error::InvalidRequest(message),
            Generated::Custom(message) => from_hook(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "120".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        let later =
            (chrono::Utc::now() + chrono::TimeDelta::seconds(90)).to_rfc2822().replace("+0000", "GMT");
        headers.insert("retry-after", later.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!((Duration::from_secs(85)..=Duration::from_secs(90)).contains(&wait), "{wait:?}");
        headers.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a date in the past means now");
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn hook_errors_come_back_whole() {
        let errors = [
            Error::OAuth {
                status: StatusCode::UNAUTHORIZED,
                retry_after: None,
                body: OAuthError { error: "invalid_client".into(), error_description: Some("no".into()) },
            },
            Error::Unexpected {
                status: StatusCode::BAD_GATEWAY,
                retry_after: Some(Duration::from_secs(7)),
                body: "<html>".into(),
            },
            Error::Transport(TransportError::timeout("no token in 30 s")),
        ];
        for error in errors {
            let back = from_hook(to_hook(&error));
            assert_eq!(back.to_string(), error.to_string());
            assert_eq!(back.status(), error.status());
            assert_eq!(back.retry_after(), error.retry_after());
        }
    }
}
