//! `/api/v1/keys/*`: the key API of the Metlo document. Keys by name and type; the full key is
//! shown once, then only its public identifier; errors are JSON strings.

use crate::AppState;
use crate::api::body::{BodyError, JsonOrForm};
use crate::api::caller::{Caller, CallerError, MissingScope, require};
use crate::api::client_address::ClientAddress;
use crate::api::hal::Segment;
use crate::auth::{AuthError, Principal};
use crate::error::{self, Dialect, Fault, Refusal, Said};
use crate::keys::KeyError;
use crate::keys::Requester;
use crate::store::Key;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use keyward_model::{
    AuditEntry, CreateKeyForm, CreateKeyRequest, CreatedKey, DeleteKeyResponse, KeySummary, KeyType,
    VerifyFailure, VerifyKeyForm, VerifyKeyRequest, VerifyKeyResponse,
};
use keyward_model::{KeyApiError, Scope};
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(list))
        .routes(routes!(onboarding))
        .routes(routes!(delete))
        .routes(routes!(verify))
        .routes(routes!(audit))
        // Any other path of this API is answered in its words.
        .route("/api/v1/{*rest}", any(|| async { V1Error::NoSuchResource }))
}

/// Errors as a JSON string, as the Metlo document shows them.
pub struct KeyApi;

impl Dialect for KeyApi {
    fn body(_: StatusCode, said: Said, _: &str) -> Response {
        Json(KeyApiError(said.message)).into_response()
    }
}

/// Errors of this dialect, worded as the document words them.
#[derive(Debug, thiserror::Error)]
pub enum V1Error {
    #[error("Client unauthorized")]
    Unauthorized,
    /// A duplicate, missing or invalid name, or an invalid type.
    #[error("Can not create key with name {0}")]
    CannotCreate(String),
    #[error("Maximum API Key Limit Reached: {0}. Consider deleting any that are not in use.")]
    LimitReached(u32),
    #[error("No key with name {0}")]
    NotFound(String),
    /// The caller's key lacks a scope the request needs.
    #[error("{0}")]
    Forbidden(String),
    #[error("No such resource")]
    NoSuchResource,
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("Too many failed attempts; retry later")]
    Throttled(Duration),
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl From<MissingScope> for V1Error {
    fn from(missing: MissingScope) -> Self {
        V1Error::Forbidden(missing.to_string())
    }
}

impl Refusal for V1Error {
    fn status(&self) -> StatusCode {
        match self {
            V1Error::Unauthorized => StatusCode::UNAUTHORIZED,
            V1Error::CannotCreate(_) | V1Error::LimitReached(_) | V1Error::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            V1Error::NotFound(_) | V1Error::NoSuchResource => StatusCode::NOT_FOUND,
            V1Error::Forbidden(_) => StatusCode::FORBIDDEN,
            V1Error::Body(error) => error.status(),
            V1Error::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            V1Error::Fault(fault) => fault.status(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            V1Error::Throttled(wait) => Some(*wait),
            _ => None,
        }
    }

    fn challenges(&self) -> &'static [&'static str] {
        match self {
            V1Error::Unauthorized => error::API_CHALLENGES,
            _ => &[],
        }
    }

    fn fault(&self) -> Option<&Fault> {
        match self {
            V1Error::Fault(fault) => Some(fault),
            _ => None,
        }
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        error::respond(&self)
    }
}

impl From<CallerError> for V1Error {
    fn from(error: CallerError) -> Self {
        match error {
            CallerError::Missing | CallerError::Invalid => V1Error::Unauthorized,
            CallerError::Throttled(wait) => V1Error::Throttled(wait),
            CallerError::Fault(fault) => V1Error::Fault(fault),
        }
    }
}

/// A key name from the path; one that does not even decode names no key.
struct KeyName(String);

impl<S: Send + Sync> FromRequestParts<S> for KeyName {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(Segment(name)) = Segment::from_request_parts(parts, state).await;
        name.map(KeyName).ok_or_else(|| V1Error::NotFound(String::new()))
    }
}

/// Create a new API key
///
/// Creates a key of the caller's profile. The response carries the full key: it is not shown
/// again.
#[utoipa::path(
    post, path = "/api/v1/keys/create", tag = "keys", operation_id = "createKey",
    request_body(content((CreateKeyRequest = "application/json"), (CreateKeyForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The new key, in full this once.", body = CreatedKey),
        (status = 400, description = "A duplicate, missing or invalid name, an invalid type, the key limit, or a \
            malformed body.", body = KeyApiError),
        (status = 401, description = "No key, an invalid key, or a deleted key.", body = KeyApiError),
        (status = 413, description = "The body is larger than 64 KiB.", body = KeyApiError),
        (status = 415, description = "The body is neither JSON nor a form.", body = KeyApiError),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = KeyApiError),
        (status = 403, description = "The key does not hold `keys:write`, or asks for scopes it does not hold.", body = KeyApiError),
    )
)]
async fn create(
    State(state): State<AppState>,
    Caller(caller, _): Caller<V1Error>,
    ClientAddress(address): ClientAddress,
    JsonOrForm(request, _): JsonOrForm<CreateKeyRequest, V1Error>,
) -> Result<Response, V1Error> {
    require(&caller, Scope::KeysWrite)?;
    let name = request.name.clone().unwrap_or_default();
    let key_for = match request.key_for.as_deref() {
        None => KeyType::default(),
        Some(text) => text.parse().map_err(|_| V1Error::CannotCreate(name.clone()))?,
    };
    let by = Requester::caller(&caller, address);
    let created = state
        .keys
        .create(&caller.profile_id, request.name.as_deref(), key_for, request.scopes, &by)
        .await
        .map_err(|error| match error {
            KeyError::NameTaken(_) | KeyError::InvalidName(_) => V1Error::CannotCreate(name.clone()),
            KeyError::LimitReached(limit) => V1Error::LimitReached(limit),
            KeyError::ScopeNotHeld(_) => V1Error::Forbidden(error.to_string()),
            other => V1Error::Fault(other.into()),
        })?;
    let key = &created.key;
    let body = CreatedKey {
        api_key: state.format.encode(key.client_id.as_str(), &created.secret),
        name: key.name.clone(),
        identifier: state.format.identifier(key.client_id.as_str()),
        created: key.created,
        key_for: key.key_for,
    };
    // The body holds the only copy of the key: no cache may keep it.
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(body)).into_response())
}

/// List all API keys
///
/// The metadata of every key of the caller's profile, newest first. Keys themselves are never
/// shown again.
#[utoipa::path(
    get, path = "/api/v1/keys/list", tag = "keys", operation_id = "listKeys",
    responses(
        (status = 200, description = "Key metadata.", body = [KeySummary]),
        (status = 401, description = "No key, an invalid key, or a deleted key.", body = KeyApiError),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = KeyApiError),
        (status = 403, description = "The key does not hold `keys:read`.", body = KeyApiError),
    )
)]
async fn list(
    State(state): State<AppState>,
    Caller(caller, _): Caller<V1Error>,
) -> Result<Json<Vec<KeySummary>>, V1Error> {
    require(&caller, Scope::KeysRead)?;
    summaries(&state, &caller, None).await
}

/// Get onboarding keys
///
/// The metadata of the caller's `ONBOARDING` keys, newest first.
#[utoipa::path(
    get, path = "/api/v1/keys/onboarding", tag = "keys", operation_id = "listOnboardingKeys",
    responses(
        (status = 200, description = "Key metadata.", body = [KeySummary]),
        (status = 401, description = "No key, an invalid key, or a deleted key.", body = KeyApiError),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = KeyApiError),
        (status = 403, description = "The key does not hold `keys:read`.", body = KeyApiError),
    )
)]
async fn onboarding(
    State(state): State<AppState>,
    Caller(caller, _): Caller<V1Error>,
) -> Result<Json<Vec<KeySummary>>, V1Error> {
    require(&caller, Scope::KeysRead)?;
    summaries(&state, &caller, Some(KeyType::Onboarding)).await
}

async fn summaries(
    state: &AppState,
    caller: &Principal,
    key_for: Option<KeyType>,
) -> Result<Json<Vec<KeySummary>>, V1Error> {
    let records =
        state.keys.every_key(&caller.profile_id, key_for).await.map_err(|e| V1Error::Fault(e.into()))?;
    Ok(Json(records.iter().map(|key| summary(state, key)).collect()))
}

fn summary(state: &AppState, key: &Key) -> KeySummary {
    KeySummary {
        name: key.name.clone(),
        identifier: state.format.identifier(key.client_id.as_str()),
        created: key.created,
        key_for: key.key_for,
    }
}

/// Delete an API key
///
/// Deletes the caller's key named `{name}`. It is refused from the very next request on.
#[utoipa::path(
    delete, path = "/api/v1/keys/{name}/delete", tag = "keys", operation_id = "deleteKey",
    params(("name" = String, Path, description = "The key's name.")),
    responses(
        (status = 200, description = "Deleted.", body = DeleteKeyResponse),
        (status = 401, description = "No key, an invalid key, or a deleted key.", body = KeyApiError),
        (status = 404, description = "The caller has no key of this name.", body = KeyApiError),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = KeyApiError),
        (status = 403, description = "The key does not hold `keys:write`, or asks for scopes it does not hold.", body = KeyApiError),
    )
)]
async fn delete(
    State(state): State<AppState>,
    Caller(caller, _): Caller<V1Error>,
    ClientAddress(address): ClientAddress,
    KeyName(name): KeyName,
) -> Result<Json<DeleteKeyResponse>, V1Error> {
    require(&caller, Scope::KeysWrite)?;
    let by = Requester::caller(&caller, address);
    state.keys.delete_by_name(&caller.profile_id, &name, &by).await.map_err(|error| match error {
        KeyError::NotFound => V1Error::NotFound(name.clone()),
        other => V1Error::Fault(other.into()),
    })?;
    Ok(Json(DeleteKeyResponse { status: "OK".to_owned() }))
}

/// Verify a key
///
/// What another service asks Keyward: is this full key valid, and whose is it? Answers for keys
/// of the caller's own profile; any other key is `NOT_FOUND`.
#[utoipa::path(
    post, path = "/api/v1/keys/verify", tag = "keys", operation_id = "verifyKey",
    request_body(content((VerifyKeyRequest = "application/json"), (VerifyKeyForm = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The verdict: the key's metadata when valid, a code when not.", body = VerifyKeyResponse),
        (status = 400, description = "No key in the body, or a malformed body.", body = KeyApiError),
        (status = 401, description = "The caller is not authenticated.", body = KeyApiError),
        (status = 413, description = "The body is larger than 64 KiB.", body = KeyApiError),
        (status = 415, description = "The body is neither JSON nor a form.", body = KeyApiError),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = KeyApiError),
        (status = 403, description = "The key does not hold `keys:verify`.", body = KeyApiError),
    )
)]
async fn verify(
    State(state): State<AppState>,
    Caller(caller, _): Caller<V1Error>,
    ClientAddress(address): ClientAddress,
    JsonOrForm(request, _): JsonOrForm<VerifyKeyRequest, V1Error>,
) -> Result<Json<VerifyKeyResponse>, V1Error> {
    require(&caller, Scope::KeysVerify)?;
    let key = request.key.ok_or(V1Error::BadRequest("key is required"))?;
    // Charged to the caller's address like any verification: only failures count there, so a
    // service verifying its users' valid keys is never refused for them.
    let principal = match state.auth.full_key(key.expose(), address).await {
        Ok(principal) if principal.profile_id == caller.profile_id => principal,
        Ok(_) | Err(AuthError::Invalid) => {
            return Ok(Json(VerifyKeyResponse::invalid(VerifyFailure::NotFound)));
        }
        Err(AuthError::Malformed) => {
            return Ok(Json(VerifyKeyResponse::invalid(VerifyFailure::InvalidFormat)));
        }
        Err(AuthError::Throttled(_)) => {
            return Ok(Json(VerifyKeyResponse::invalid(VerifyFailure::RateLimited)));
        }
        Err(AuthError::Store(error)) => return Err(V1Error::Fault(error.into())),
        Err(AuthError::Busy(_)) => return Err(V1Error::Fault(Fault::Busy)),
        Err(AuthError::Fault(fault)) => return Err(V1Error::Fault(fault)),
    };
    if request.scope.is_some_and(|scope| !principal.scopes.contains(scope)) {
        return Ok(Json(VerifyKeyResponse::invalid(VerifyFailure::MissingScope)));
    }
    // The verification found the key itself: nothing more to read.
    let summary = summary(&state, &principal);
    Ok(Json(VerifyKeyResponse {
        valid: true,
        code: None,
        identifier: Some(summary.identifier),
        name: Some(summary.name),
        key_for: Some(summary.key_for),
        profile_id: Some(principal.profile_id.as_str().to_owned()),
        created: Some(principal.created),
        scopes: Some(principal.scopes.clone()),
    }))
}

/// The most audit entries one request returns, and how many it returns unless asked.
const MAX_AUDIT_ENTRIES: u32 = 100;
const DEFAULT_AUDIT_ENTRIES: u32 = 50;

/// The query of `GET /api/v1/keys/audit`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only entries older than this `seq`.
    #[param(minimum = 1)]
    before: Option<i64>,
    /// How many entries, 1 to 100 (50 unless given).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// The audit log
///
/// Every create, rename, scope change and delete of the caller's profile's keys, newest first:
/// what changed, when, by which key, from which address.
#[utoipa::path(
    get, path = "/api/v1/keys/audit", tag = "keys", operation_id = "listAuditEntries",
    params(AuditQuery),
    responses(
        (status = 200, description = "Audit entries, newest first.", body = [AuditEntry]),
        (status = 400, description = "`before` or `limit` out of range.", body = KeyApiError),
        (status = 401, description = "No key, an invalid key, or a deleted key.", body = KeyApiError),
        (status = 403, description = "The key does not hold `keys:read`.", body = KeyApiError),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = KeyApiError),
    )
)]
async fn audit(
    State(state): State<AppState>,
    Caller(caller, _): Caller<V1Error>,
    uri: axum::http::Uri,
) -> Result<Json<Vec<AuditEntry>>, V1Error> {
    require(&caller, Scope::KeysRead)?;
    let query: AuditQuery = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|_| V1Error::BadRequest("before and limit must be whole numbers"))?;
    let limit = match query.limit {
        None => DEFAULT_AUDIT_ENTRIES,
        Some(limit @ 1..=MAX_AUDIT_ENTRIES) => limit,
        Some(_) => return Err(V1Error::BadRequest("limit must be 1 to 100")),
    };
    if query.before.is_some_and(|before| before < 1) {
        return Err(V1Error::BadRequest("before must be at least 1"));
    }
    let events = state
        .keys
        .audit_events(&caller.profile_id, query.before, limit)
        .await
        .map_err(|error| V1Error::Fault(error.into()))?;
    let identifier = |client_id: &crate::ids::ClientId| state.format.identifier(client_id.as_str());
    Ok(Json(
        events
            .into_iter()
            .map(|event| AuditEntry {
                seq: event.seq,
                at: event.at,
                action: event.action.as_str().to_owned(),
                key_id: event.key_id.as_uuid(),
                identifier: event.client_id.as_ref().map(identifier),
                name: event.name,
                scopes: event.scopes,
                by: event.actor.client_id.as_ref().map(identifier),
                signed_in_with: event.actor.issuer,
                address: event.actor.address.map(|address| address.to_string()),
            })
            .collect(),
    ))
}
