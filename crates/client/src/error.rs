//! One error type for every call, carrying the server's error body in whichever dialect it came.

use keyward_model::KeyApiError;
use keyward_model::{ErrorBody, OAuthError};
use reqwest::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HAL API refused the request (`{timestamp, status, error, message, path}`).
    #[error("{status}: {}", body.message)]
    Api { status: StatusCode, body: ErrorBody },
    /// The key API refused the request (its errors are a message alone).
    #[error("{status}: {message}")]
    Key { status: StatusCode, message: String },
    /// The token endpoint refused the credentials or the request (RFC 6749 section 5.2).
    #[error("{status}: {}{}", body.error, body.error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OAuth { status: StatusCode, body: OAuthError },
    /// A status the API does not document for this request.
    #[error("unexpected {status}: {body}")]
    Unexpected { status: StatusCode, body: String },
    /// The server could not be reached, or the connection failed.
    #[error("cannot reach the server: {0}")]
    Transport(#[source] reqwest::Error),
    /// A response that does not parse as documented.
    #[error("malformed response: {0}")]
    Decode(String),
    /// The request could not be built (an invalid argument).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// The HTTP status of a refused request.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. }
            | Error::Key { status, .. }
            | Error::OAuth { status, .. }
            | Error::Unexpected { status, .. } => Some(*status),
            Error::Transport(error) => error.status(),
            Error::Decode(_) | Error::InvalidRequest(_) => None,
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

/// The error bodies the generated code can return, turned into [`Error`].
pub trait ErrorBodyKind: Sized {
    fn into_error(status: StatusCode, body: Self) -> Error;
}

impl ErrorBodyKind for ErrorBody {
    fn into_error(status: StatusCode, body: Self) -> Error {
        Error::Api { status, body }
    }
}

impl ErrorBodyKind for KeyApiError {
    fn into_error(status: StatusCode, body: Self) -> Error {
        Error::Key { status, message: body.0 }
    }
}

impl ErrorBodyKind for OAuthError {
    fn into_error(status: StatusCode, body: Self) -> Error {
        Error::OAuth { status, body }
    }
}

impl ErrorBodyKind for () {
    fn into_error(status: StatusCode, (): Self) -> Error {
        Error::Unexpected { status, body: String::new() }
    }
}

/// Marks a token endpoint refusal that the request hooks pass through the generated code, which
/// carries hook errors as text only.
const TOKEN_REFUSAL: &str = "keyward token refusal ";

/// The hook error for a failed token fetch: the token endpoint's answer, kept whole.
pub(crate) fn hook_error(error: &Error) -> String {
    match error {
        Error::OAuth { status, body } => {
            format!("{TOKEN_REFUSAL}{} {}", status.as_u16(), serde_json::to_string(body).unwrap_or_default())
        }
        other => other.to_string(),
    }
}

/// The inverse of [`hook_error`].
fn from_hook(message: String) -> Error {
    let refusal = message.strip_prefix(TOKEN_REFUSAL).and_then(|rest| {
        let (status, body) = rest.split_once(' ')?;
        let status = StatusCode::from_u16(status.parse().ok()?).ok()?;
        Some(Error::OAuth { status, body: serde_json::from_str(body).ok()? })
    });
    refusal.unwrap_or(Error::InvalidRequest(message))
}

impl<E: ErrorBodyKind> From<progenitor_client::Error<E>> for Error {
    fn from(error: progenitor_client::Error<E>) -> Self {
        use progenitor_client::Error as Generated;
        match error {
            Generated::ErrorResponse(response) => {
                let status = response.status();
                E::into_error(status, response.into_inner())
            }
            Generated::CommunicationError(error) | Generated::InvalidUpgrade(error) => {
                Error::Transport(error)
            }
            Generated::ResponseBodyError(error) => Error::Transport(error),
            Generated::InvalidResponsePayload(_, error) => Error::Decode(error.to_string()),
            Generated::UnexpectedResponse(response) => {
                Error::Unexpected { status: response.status(), body: String::new() }
            }
            Generated::InvalidRequest(message) => Error::InvalidRequest(message),
            Generated::Custom(message) => from_hook(message),
        }
    }
}
