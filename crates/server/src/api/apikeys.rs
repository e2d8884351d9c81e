//! `/api/apikeys`: the HAL dialect of the key API.

use crate::AppState;
use crate::api::body::JsonOrForm;
use crate::api::caller::{Caller, require};
use crate::api::client_address::ClientAddress;
use crate::api::hal::{HalError, PathKey};
use crate::api::rendered::PageKey;
use crate::api::{cursor, links};
use crate::auth::Principal;
use crate::error::Fault;
use crate::ids::ProfileId;
use crate::keys::PutOutcome;
use crate::keys::Requester;
use crate::store::{InitialisedKey, Key};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, OriginalUri, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyward_model::{
    ApiKey, ApiKeyForm, ApiKeyLinks, ApiKeyPage, ApiKeyRequest, EmbeddedApiKeys, ErrorBody, KeyType, Link,
    PageLinks, PageMetadata, Scope, Secret,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;
/// The highest `page`: the largest integer that every JSON client reads exactly, and whose offset
/// (at most 100 keys a page) stays far within the stores' signed 64-bit offsets.
pub const MAX_PAGE: u64 = (1 << 53) - 1;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, initialise))
        .routes(routes!(view, put, delete))
        // The documents' snippets use the collection with a trailing slash; same handlers.
        .route("/api/apikeys/", get(list).post(initialise))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Zero-based page number, at most 9007199254740991 (2^53 - 1); a higher one is a 400.
    #[param(minimum = 0, maximum = 9007199254740991_u64, default = 0)]
    page: Option<u64>,
    /// Page size: 1 to 100, 20 by default; any other is a 400.
    #[param(minimum = 1, maximum = 100, default = 20)]
    size: Option<u32>,
    /// Keyset paging, which neither skips nor repeats a key when keys are created or deleted
    /// between pages. Empty (`cursor=`): the first page, from the newest key. Otherwise an opaque
    /// cursor taken from a `next` link: the page after the key it names, even once that key is
    /// deleted. Not combined with `page`; such pages have `number` 0 and no `prev` or `last`
    /// link. A cursor this API did not return is a 400.
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = HalError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<PageParams>::from_request_parts(parts, state)
            .await
            .map_err(|_| HalError::BadRequest("page and size must be non-negative integers".into()))?;
        Ok(params)
    }
}

/// View all API keys
///
/// Returns all API keys owned by the authenticated user profile, newest first. Pages are counted
/// by `page`, or walked by `cursor` from the `next` links.
#[utoipa::path(
    get, path = "/api/apikeys", tag = "apikeys", operation_id = "listApiKeys",
    params(PageParams),
    responses(
        (status = 200, description = "API key collection with HAL links.",
            content((ApiKeyPage = "application/json"), (ApiKeyPage = "application/hal+json"))),
        (status = 400, description = "Invalid paging parameters.", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials.", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = ErrorBody),
        (status = 403, description = "The key does not hold `keys:read`.", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<AppState>,
    Caller(caller, _): Caller<HalError>,
    OriginalUri(uri): OriginalUri,
    params: PageParams,
) -> Result<Response, HalError> {
    require(&caller, Scope::KeysRead)?;
    let base = state.base_url.as_str();
    let number = params.page.unwrap_or(0);
    let size = match params.size {
        None => DEFAULT_PAGE_SIZE,
        Some(size @ 1..=MAX_PAGE_SIZE) => size,
        Some(_) => return Err(HalError::BadRequest(format!("size must be 1 to {MAX_PAGE_SIZE}"))),
    };
    if let Some(cursor) = params.cursor {
        if params.page.is_some() {
            return Err(HalError::BadRequest("page and cursor cannot be combined".into()));
        }
        let mut page = keyset_page(&state, &caller.profile_id, base, uri.path(), &cursor, size).await?;
        show_access_token(&state, &caller, &mut page)?;
        return Ok(Json(page).into_response());
    }
    let offset = Some(number)
        .filter(|number| *number <= MAX_PAGE)
        .and_then(|number| number.checked_mul(u64::from(size)))
        .ok_or_else(|| HalError::BadRequest(format!("page must be at most {MAX_PAGE}")))?;
    let view = state.keys.view(&caller.profile_id).await?;
    let kept = PageKey {
        profile_id: caller.profile_id.clone(),
        base: base.to_owned(),
        path: uri.path().to_owned(),
        page: number,
        size,
    };
    // A page shown to a person signed in carries their default key's token: it is made for them
    // alone, never kept.
    let personal = caller.via.is_sign_in();
    if !personal && let Some(body) = state.rendered.get(&kept, &view) {
        return Ok(json(body));
    }
    let (keys, total) = state.keys.page(&caller.profile_id, offset, size).await?;
    let total_pages = total.div_ceil(u64::from(size));
    let page_href = |n: u64| Link::new(format!("{base}{}?page={n}&size={size}", uri.path()));
    // Only a list of several pages links to others, and never to a page past the last or MAX_PAGE.
    let last = total_pages.checked_sub(1).filter(|last| *last > 0).map(|last| last.min(MAX_PAGE));
    let links = PageLinks {
        first: last.map(|_| page_href(0)),
        prev: number.checked_sub(1).zip(last).map(|(prev, last)| page_href(prev.min(last))),
        self_: page_href(number),
        next: number.checked_add(1).filter(|next| last.is_some_and(|last| *next <= last)).map(page_href),
        last: last.map(page_href),
    };
    let mut page = ApiKeyPage {
        embedded: EmbeddedApiKeys { apikeys: keys.iter().map(|key| resource(key, base, None)).collect() },
        links,
        page: PageMetadata { size, total_elements: total, total_pages, number },
    };
    if personal {
        show_access_token(&state, &caller, &mut page)?;
        return Ok(Json(page).into_response());
    }
    let body =
        Bytes::from(serde_json::to_vec(&page).map_err(|error| HalError::Fault(Fault::internal(error)))?);
    // Made from the view read above, or from a newer state: kept under the older view, it
    // answers no later request, as views only ever get replaced.
    state.rendered.insert(kept, &view, body.clone());
    Ok(json(body))
}

/// A JSON answer of bytes already serialized.
fn json(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// The page after the position `cursor` names (empty: from the newest key).
/// Adds the current access token to the caller's own default key on the page, when the caller is
/// the person who signed in through it: no other caller and no other key ever gets one.
fn show_access_token(state: &AppState, caller: &Principal, page: &mut ApiKeyPage) -> Result<(), HalError> {
    let Some(sign_in) = state.sign_in.as_ref().filter(|_| caller.via.is_sign_in()) else { return Ok(()) };
    let own = page.embedded.apikeys.iter_mut().find(|key| key.id == caller.id.as_uuid());
    if let Some(key) = own {
        let token =
            sign_in.access_token(&caller.key).map_err(|error| HalError::Fault(Fault::internal(error)))?;
        key.access_token = Some(Secret::new(token.to_string()));
    }
    Ok(())
}

async fn keyset_page(
    state: &AppState,
    profile_id: &ProfileId,
    base: &str,
    path: &str,
    cursor: &str,
    size: u32,
) -> Result<ApiKeyPage, HalError> {
    let after = match cursor {
        "" => None,
        text => Some(cursor::decode(text).ok_or_else(|| {
            HalError::BadRequest("cursor is not valid: use the cursor of a next link, or none".into())
        })?),
    };
    let page = state.keys.page_after(profile_id, after, size).await?;
    // `cursor` is now known to be empty or URL-safe base64: it needs no escaping.
    let cursor_href = |cursor: &str| Link::new(format!("{base}{path}?cursor={cursor}&size={size}"));
    let next = page.keys.last().filter(|_| page.more).map(|last| cursor_href(&cursor::after(last)));
    let links = PageLinks {
        first: Some(Link::new(format!("{base}{path}?size={size}&cursor="))),
        prev: None,
        self_: cursor_href(cursor),
        next,
        last: None,
    };
    Ok(ApiKeyPage {
        embedded: EmbeddedApiKeys {
            apikeys: page.keys.iter().map(|key| resource(key, base, None)).collect(),
        },
        links,
        page: PageMetadata {
            size,
            total_elements: page.total,
            total_pages: page.total.div_ceil(u64::from(size)),
            number: 0,
        },
    })
}

/// View an API key
///
/// Returns the API key `{id}`.
#[utoipa::path(
    get, path = "/api/apikeys/{id}", tag = "apikeys", operation_id = "getApiKey",
    params(("id" = Uuid, Path, description = "The API key ID.")),
    responses(
        (status = 200, description = "API key with HAL links.",
            content((ApiKey = "application/json"), (ApiKey = "application/hal+json"))),
        (status = 401, description = "Missing or invalid credentials.", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = ErrorBody),
        (status = 404, description = "No such key among the caller's; an initialised key is not one until \
            `PUT` creates it.", body = ErrorBody),
        (status = 403, description = "The key does not hold `keys:read`.", body = ErrorBody),
    )
)]
async fn view(
    State(state): State<AppState>,
    Caller(caller, _): Caller<HalError>,
    PathKey(id): PathKey,
) -> Result<Json<ApiKey>, HalError> {
    require(&caller, Scope::KeysRead)?;
    let base = state.base_url.as_str();
    let key = state.keys.get(&caller.profile_id, id).await?;
    Ok(Json(resource(&key, base, None)))
}

/// Initialise an API key
///
/// Reserves a new API key id; `PUT` on it creates the key. Initialised keys are not listed, do
/// not count against the limit and are deleted after a day.
#[utoipa::path(
    post, path = "/api/apikeys", tag = "apikeys", operation_id = "initialiseApiKey",
    responses(
        (status = 200, description = "API key with HAL links.",
            content((ApiKey = "application/json"), (ApiKey = "application/hal+json"))),
        (status = 401, description = "Missing or invalid credentials.", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = ErrorBody),
        (status = 403, description = "Too many initialised keys; or the key does not hold `keys:write`, or asks for scopes it does not hold.", body = ErrorBody),
        (status = 413, description = "A body (which this request does not need) larger than 64 KiB.", body = ErrorBody),
    )
)]
async fn initialise(
    State(state): State<AppState>,
    Caller(caller, _): Caller<HalError>,
) -> Result<Json<ApiKey>, HalError> {
    require(&caller, Scope::KeysWrite)?;
    let base = state.base_url.as_str();
    let key = state.keys.initialise(&caller.profile_id).await?;
    Ok(Json(initialised_resource(&key, base)))
}

/// Create or update an API key
///
/// On an initialised id, creates the key: 201, with the client secret shown this once. On a
/// created key, renames it: 200.
#[utoipa::path(
    put, path = "/api/apikeys/{id}", tag = "apikeys", operation_id = "putApiKey",
    params(("id" = Uuid, Path, description = "The API key ID.")),
    request_body(
        description = "API key resource.",
        content((ApiKeyRequest = "application/json"), (ApiKeyForm = "application/x-www-form-urlencoded"))
    ),
    responses(
        (status = 200, description = "Updated: API key with HAL links.",
            content((ApiKey = "application/json"), (ApiKey = "application/hal+json"))),
        (status = 201, description = "Created: API key with HAL links and the client secret.",
            content((ApiKey = "application/json"), (ApiKey = "application/hal+json")),
            headers(("Location" = String, description = "The key's URL"))),
        (status = 400, description = "Missing or invalid name, or a malformed body.", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials.", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = ErrorBody),
        (status = 403, description = "The profile's key limit is reached; or the key does not hold `keys:write`, or asks for scopes it does not hold.", body = ErrorBody),
        (status = 404, description = "No such key among the caller's.", body = ErrorBody),
        (status = 409, description = "The profile already has a key with this name.", body = ErrorBody),
        (status = 413, description = "The body is larger than 64 KiB.", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor a form.", body = ErrorBody),
    )
)]
async fn put(
    State(state): State<AppState>,
    Caller(caller, _): Caller<HalError>,
    ClientAddress(address): ClientAddress,
    PathKey(id): PathKey,
    JsonOrForm(request, _): JsonOrForm<ApiKeyRequest, HalError>,
) -> Result<Response, HalError> {
    require(&caller, Scope::KeysWrite)?;
    let by = Requester::caller(&caller, address);
    let base = state.base_url.as_str();
    let key_for = match request.key_for.as_deref() {
        None => KeyType::default(),
        Some(text) => text.parse().map_err(|_| {
            HalError::BadRequest("keyFor must be one of GENERIC, ONBOARDING, GCP, AWS".into())
        })?,
    };
    let name = request.name.as_deref();
    match state.keys.create_or_rename(&caller.profile_id, id, name, key_for, request.scopes, &by).await? {
        PutOutcome::Created(created) => {
            let resource = resource(&created.key, base, Some(created.secret));
            let location = resource.links.self_.as_ref().map(|link| link.href.clone()).unwrap_or_default();
            let mut response = (StatusCode::CREATED, Json(resource)).into_response();
            let headers = response.headers_mut();
            // The body holds the only copy of the secret: no cache may keep it.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            Ok(response)
        }
        PutOutcome::Renamed(key) => Ok(Json(resource(&key, base, None)).into_response()),
    }
}

/// Delete an API key
///
/// Deletes the API key `{id}`. Its credentials and every token issued for it stop working at once.
#[utoipa::path(
    delete, path = "/api/apikeys/{id}", tag = "apikeys", operation_id = "deleteApiKey",
    params(("id" = Uuid, Path, description = "The API key ID.")),
    responses(
        (status = 204, description = "Deleted; no body."),
        (status = 401, description = "Missing or invalid credentials.", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = ErrorBody),
        (status = 404, description = "No such key among the caller's.", body = ErrorBody),
        (status = 403, description = "The key does not hold `keys:write`, or asks for scopes it does not hold.", body = ErrorBody),
    )
)]
async fn delete(
    State(state): State<AppState>,
    Caller(caller, _): Caller<HalError>,
    ClientAddress(address): ClientAddress,
    PathKey(id): PathKey,
) -> Result<StatusCode, HalError> {
    require(&caller, Scope::KeysWrite)?;
    state.keys.delete(&caller.profile_id, id, &Requester::caller(&caller, address)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The HAL representation of a created key. `secret` is given only by the response that creates it.
fn resource(key: &Key, base: &str, secret: Option<Secret>) -> ApiKey {
    let href = links::apikey(base, key.id.as_uuid());
    ApiKey {
        id: key.id.as_uuid(),
        created: key.created,
        last_modified: key.last_modified,
        name: Some(key.name.clone()),
        client_id: Some(key.client_id.to_string()),
        client_secret: secret,
        access_token: None,
        profile_id: key.profile_id.to_string(),
        links: ApiKeyLinks {
            self_: Some(Link::new(&href)),
            update: Some(Link::new(&href)),
            delete: Some(Link::new(&href)),
            profile: Some(Link::new(links::profile(base, key.profile_id.as_str()))),
            create: None,
        },
    }
}

/// The HAL representation of an initialised key: its id and the link that creates it.
fn initialised_resource(key: &InitialisedKey, base: &str) -> ApiKey {
    let href = links::apikey(base, key.id.as_uuid());
    ApiKey {
        id: key.id.as_uuid(),
        created: key.created,
        last_modified: key.created,
        name: None,
        client_id: None,
        client_secret: None,
        access_token: None,
        profile_id: key.profile_id.to_string(),
        links: ApiKeyLinks { create: Some(Link::new(&href)), ..ApiKeyLinks::default() },
    }
}
