//! `POST /oauth/token`: the client-credentials grant (RFC 6749 section 4.4).

use crate::AppState;
use crate::api::base_url::BaseUrl;
use crate::api::body::{BodyError, JsonOrForm};
use crate::api::caller::ClientAddress;
use crate::auth::{AuthError, Presented, header};
use crate::error::{ApiError, Fault};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyward_model::{ClientSecret, OAuthError, TokenRequest, TokenResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token))
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
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("too many failed attempts; retry later")]
    Throttled(std::time::Duration),
    /// Details go to the log, never to the caller.
    #[error("the token could not be issued now; retry later")]
    Fault(#[from] Fault),
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            TokenError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            TokenError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
            TokenError::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            TokenError::Body(BodyError::TooLarge) => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            TokenError::Body(BodyError::UnsupportedMediaType(_)) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request")
            }
            TokenError::Body(BodyError::Malformed(_)) => (StatusCode::BAD_REQUEST, "invalid_request"),
            TokenError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable"),
            TokenError::Fault(fault @ Fault::Unavailable(_)) => (fault.status(), "temporarily_unavailable"),
            TokenError::Fault(fault) => (fault.status(), "server_error"),
        };
        if let TokenError::Fault(fault) = &self {
            fault.log();
        }
        let body = OAuthError { error: code.to_owned(), error_description: Some(self.to_string()) };
        let mut response = (status, no_store(), Json(body)).into_response();
        if let TokenError::Throttled(wait) = self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, crate::error::retry_after(wait));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static(r#"Basic realm="keyward""#));
        }
        response
    }
}

/// Get an access token
///
/// The OAuth 2.0 client-credentials grant: exchanges a key's client id and secret (in the body or
/// with HTTP Basic) for an RS256 access token.
#[utoipa::path(
    post, path = "/oauth/token", tag = "oauth", operation_id = "getToken",
    security((), ("basic" = [])),
    request_body(
        description = "The grant, as a form (RFC 6749) or as JSON.",
        content((TokenRequest = "application/x-www-form-urlencoded"), (TokenRequest = "application/json"))
    ),
    responses(
        (status = 200, description = "An access token.", body = TokenResponse),
        (status = 400, description = "`invalid_request` or `unsupported_grant_type`.", body = OAuthError),
        (status = 401, description = "`invalid_client`: unknown, wrong or revoked credentials.", body = OAuthError),
        (status = 413, description = "The body is larger than 64 KiB.", body = OAuthError),
        (status = 415, description = "The body is neither a form nor JSON.", body = OAuthError),
        (status = 429, description = "`temporarily_unavailable`: too many failed attempts for this client \
            or from this address; see `Retry-After`.", body = OAuthError),
    )
)]
async fn token(
    State(state): State<AppState>,
    base: Result<BaseUrl, ApiError>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Result<JsonOrForm<TokenRequest>, BodyError>,
) -> Result<Response, TokenError> {
    let BaseUrl(base) = base.map_err(|error| TokenError::InvalidRequest(error.to_string()))?;
    let JsonOrForm(request) = body?;
    match request.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
        None => return Err(TokenError::InvalidRequest("grant_type is required".into())),
    }
    let (client_id, secret) = client_credentials(&headers, request.client_id, request.client_secret)?;
    let principal =
        state.auth.client_credentials(&client_id, &secret, address).await.map_err(|error| match error {
            AuthError::Invalid | AuthError::Malformed => TokenError::InvalidClient,
            AuthError::Throttled(wait) => TokenError::Throttled(wait),
            AuthError::Store(error) => TokenError::Fault(error.into()),
        })?;
    let access_token = state
        .tokens
        .issue(&principal.client_id, &base)
        .map_err(|error| TokenError::Fault(Fault::internal(error)))?;
    let body = TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl().as_secs(),
    };
    Ok((no_store(), Json(body)).into_response())
}

/// The client's id and secret from exactly one place: HTTP Basic or the body (RFC 6749 2.3.1).
fn client_credentials(
    headers: &HeaderMap,
    body_id: Option<String>,
    body_secret: Option<ClientSecret>,
) -> Result<(String, ClientSecret), TokenError> {
    let from_header = match headers.get(axum::http::header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| TokenError::InvalidClient)?;
            let (scheme, encoded) = value.trim().split_once(' ').ok_or(TokenError::InvalidClient)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(TokenError::InvalidClient);
            }
            match header::parse_basic(encoded.trim()) {
                Some(Presented::ClientCredentials { client_id, secret }) => Some((client_id, secret)),
                _ => return Err(TokenError::InvalidClient),
            }
        }
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
