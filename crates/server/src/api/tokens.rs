//! `POST /oauth/token`: the client-credentials grant (RFC 6749 section 4.4).

use crate::AppState;
use crate::api::body::{BodyError, JsonOrForm};
use crate::api::client_address::ClientAddress;
use crate::auth::{AuthError, Presented, header};
use crate::error::{self, Dialect, Fault, Refusal, Said};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use keyward_model::scopes::UnknownScope;
use keyward_model::{OAuthError, Scopes, Secret, TokenRequest, TokenResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token))
        // Any other path under /oauth is answered in RFC 6749's words.
        .route("/oauth/{*rest}", any(|| async { TokenError::InvalidRequest("no such endpoint".into()) }))
}

/// RFC 6749 section 5.2 bodies, never cached.
pub struct OAuth;

impl Dialect for OAuth {
    fn body(status: StatusCode, said: Said, _: &str) -> Response {
        let code = said.code.unwrap_or(match status {
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            status if status.is_server_error() => "server_error",
            _ => "invalid_request",
        });
        let body = OAuthError { error: code.to_owned(), error_description: Some(said.message) };
        (no_store(), Json(body)).into_response()
    }
}

/// Errors of RFC 6749 section 5.2.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("only the client_credentials grant is supported")]
    UnsupportedGrantType,
    /// A scope that does not exist, or that the key does not hold.
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("too many failed attempts; retry later")]
    Throttled(std::time::Duration),
    /// Details go to the log, never to the caller.
    #[error("the token could not be issued now; retry later")]
    Fault(#[from] Fault),
}

impl Refusal for TokenError {
    fn status(&self) -> StatusCode {
        match self {
            TokenError::InvalidRequest(_)
            | TokenError::UnsupportedGrantType
            | TokenError::InvalidScope(_) => StatusCode::BAD_REQUEST,
            TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenError::Body(error) => error.status(),
            TokenError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            TokenError::Fault(fault) => fault.status(),
        }
    }

    fn code(&self) -> Option<&'static str> {
        Some(match self {
            TokenError::InvalidRequest(_) | TokenError::Body(_) => "invalid_request",
            TokenError::InvalidClient => "invalid_client",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::InvalidScope(_) => "invalid_scope",
            TokenError::Throttled(_)
            | TokenError::Fault(Fault::Unavailable(_) | Fault::Busy | Fault::IdentityProvider) => {
                "temporarily_unavailable"
            }
            TokenError::Fault(Fault::Internal(_)) => "server_error",
        })
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            TokenError::Throttled(wait) => Some(*wait),
            _ => None,
        }
    }

    /// Basic alone: a bearer value is no client.
    fn challenges(&self) -> &'static [&'static str] {
        match self {
            TokenError::InvalidClient => &[error::BASIC_CHALLENGE],
            _ => &[],
        }
    }

    fn fault(&self) -> Option<&Fault> {
        match self {
            TokenError::Fault(fault) => Some(fault),
            _ => None,
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        error::respond(&self)
    }
}

/// Get an access token
///
/// The OAuth 2.0 client-credentials grant: exchanges a key's client id and secret (in the body or
/// with HTTP Basic) for an access token holding the key's scopes, or those of them that `scope`
/// names.
#[utoipa::path(
    post, path = "/oauth/token", tag = "oauth", operation_id = "getToken",
    security((), ("basic" = [])),
    request_body(
        description = "The grant, as a form (RFC 6749) or as JSON.",
        content((TokenRequest = "application/x-www-form-urlencoded"), (TokenRequest = "application/json"))
    ),
    responses(
        (status = 200, description = "An access token.", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `unsupported_grant_type`, or `invalid_scope`: a \
            `scope` that does not exist or that the key does not hold.", body = OAuthError),
        (status = 401, description = "`invalid_client`: unknown, wrong or revoked credentials.", body = OAuthError),
        (status = 413, description = "The body is larger than 64 KiB.", body = OAuthError),
        (status = 415, description = "The body is neither a form nor JSON.", body = OAuthError),
        (status = 429, description = "`temporarily_unavailable`: too many failed attempts for this client \
            or from this address; see `Retry-After`.", body = OAuthError),
    )
)]
async fn token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonOrForm(request, _): JsonOrForm<TokenRequest, TokenError>,
) -> Result<Response, TokenError> {
    match request.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
        None => return Err(TokenError::InvalidRequest("grant_type is required".into())),
    }
    // Checked before the credentials: a scope that does not exist costs no hash.
    let asked = asked_scopes(request.scope.as_deref())?;
    let (client_id, secret) = client_credentials(&headers, request.client_id, request.client_secret)?;
    let principal =
        state.auth.client_credentials(&client_id, &secret, address).await.map_err(|error| match error {
            AuthError::Invalid | AuthError::Malformed => TokenError::InvalidClient,
            AuthError::Throttled(wait) => TokenError::Throttled(wait),
            AuthError::Store(error) => TokenError::Fault(error.into()),
            AuthError::Busy(_) => TokenError::Fault(crate::error::Fault::Busy),
            AuthError::Fault(fault) => TokenError::Fault(fault),
        })?;
    let scopes = asked.unwrap_or_else(|| principal.scopes.clone());
    if let Some(missing) = scopes.iter().find(|scope| !principal.scopes.contains(*scope)) {
        return Err(TokenError::InvalidScope(format!("the key does not hold {missing}")));
    }
    let access_token = state
        .tokens
        .issue(principal.client_id.as_str(), &scopes)
        .map_err(|error| TokenError::Fault(Fault::internal(error)))?;
    let body = TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl().as_secs(),
        scope: Some(scopes.to_string()),
    };
    Ok((no_store(), Json(body)).into_response())
}

/// The scopes a token request names (RFC 6749 section 3.3), or `None` for the key's. An empty
/// `scope` names none, as some clients send it when none is configured.
fn asked_scopes(scope: Option<&str>) -> Result<Option<Scopes>, TokenError> {
    let Some(scope) = scope.filter(|scope| !scope.trim().is_empty()) else { return Ok(None) };
    scope.parse().map(Some).map_err(|error: UnknownScope| TokenError::InvalidScope(error.to_string()))
}

/// The client's id and secret from exactly one place: HTTP Basic or the body (RFC 6749 2.3.1).
fn client_credentials(
    headers: &HeaderMap,
    body_id: Option<String>,
    body_secret: Option<Secret>,
) -> Result<(String, Secret), TokenError> {
    // Only HTTP Basic carries client credentials here; a bearer value is no client.
    let from_header = match headers.get(axum::http::header::AUTHORIZATION) {
        None => None,
        Some(value) => match value.to_str().ok().and_then(header::parse) {
            Some(Presented::ClientCredentials { client_id, secret }) => Some((client_id, secret)),
            _ => return Err(TokenError::InvalidClient),
        },
    };
    match (from_header, body_id, body_secret) {
        (Some(_), _, Some(_)) => Err(TokenError::InvalidRequest(
            "send the client secret either with HTTP Basic or in the body, not both".into(),
        )),
        (Some((client_id, secret)), body_id, None) => {
            if body_id.is_some_and(|id| id != client_id) {
                return Err(TokenError::InvalidRequest(
                    "client_id differs from the Basic credentials".into(),
                ));
            }
            Ok((client_id, secret))
        }
        (None, Some(client_id), Some(secret)) => Ok((client_id, secret)),
        (None, None, None) => Err(TokenError::InvalidClient),
        (None, _, _) => {
            Err(TokenError::InvalidRequest("client_id and client_secret are both required".into()))
        }
    }
}

fn no_store() -> [(axum::http::HeaderName, HeaderValue); 2] {
    [
        (axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (axum::http::header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}
