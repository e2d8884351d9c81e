//! `/api/apikeys`: the HAL dialect of the key API.

use crate::AppState;
use crate::api::base_url::BaseUrl;
use crate::api::body::{BodyError, JsonOrForm};
use crate::api::links;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::keys::PutOutcome;
use crate::store::KeyRecord;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use keyward_model::{
    ApiKey, ApiKeyLinks, ApiKeyPage, ApiKeyRequest, ClientSecret, EmbeddedApiKeys, Link, PageLinks,
    PageMetadata,
};
use serde::Deserialize;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/apikeys", get(list).post(initialise))
        .route("/api/apikeys/", get(list).post(initialise))
        .route("/api/apikeys/{id}", get(view).put(put).delete(delete))
}

#[derive(Deserialize)]
struct PageParams {
    page: Option<u64>,
    size: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    caller: Principal,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ApiKeyPage>, ApiError> {
    let Query(params) = params
        .map_err(|_| ApiError::BadRequest("page and size must be non-negative integers".into()))?;
    let number = params.page.unwrap_or(0);
    let size = match params.size {
        None => DEFAULT_PAGE_SIZE,
        Some(0) => return Err(ApiError::BadRequest("size must be at least 1".into())),
        Some(size) => size.min(MAX_PAGE_SIZE),
    };
    let offset = number
        .checked_mul(u64::from(size))
        .ok_or_else(|| ApiError::BadRequest("page is out of range".into()))?;
    let (records, total) = state.keys.list(&caller.profile_id, offset, size).await?;
    let total_pages = total.div_ceil(u64::from(size));
    let page_href = |n: u64| Link::new(format!("{base}{}?page={n}&size={size}", uri.path()));
    let several = total_pages > 1;
    let links = PageLinks {
        first: several.then(|| page_href(0)),
        prev: (several && number > 0).then(|| page_href((number - 1).min(total_pages - 1))),
        self_: page_href(number),
        next: (number + 1 < total_pages).then(|| page_href(number + 1)),
        last: several.then(|| page_href(total_pages - 1)),
    };
    Ok(Json(ApiKeyPage {
        embedded: EmbeddedApiKeys {
            apikeys: records.iter().map(|r| resource(r, &base, None)).collect(),
        },
        links,
        page: PageMetadata {
            size,
            total_elements: total,
            total_pages,
            number,
        },
    }))
}

async fn view(
    State(state): State<AppState>,
    caller: Principal,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    let record = state.keys.get(&caller.profile_id, key_id(&id)?).await?;
    Ok(Json(resource(&record, &base, None)))
}

async fn initialise(
    State(state): State<AppState>,
    caller: Principal,
    BaseUrl(base): BaseUrl,
) -> Result<Json<ApiKey>, ApiError> {
    let record = state.keys.initialise(&caller.profile_id).await?;
    Ok(Json(resource(&record, &base, None)))
}

async fn put(
    State(state): State<AppState>,
    caller: Principal,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    body: Result<JsonOrForm<ApiKeyRequest>, BodyError>,
) -> Result<Response, ApiError> {
    let id = key_id(&id)?;
    let JsonOrForm(request) = body?;
    match state
        .keys
        .create_or_rename(&caller.profile_id, id, request.name.as_deref())
        .await?
    {
        PutOutcome::Created(created) => {
            let resource = resource(&created.record, &base, Some(created.secret));
            let location = resource
                .links
                .self_
                .as_ref()
                .map(|link| link.href.clone())
                .unwrap_or_default();
            let mut response = (StatusCode::CREATED, Json(resource)).into_response();
            let headers = response.headers_mut();
            // The body holds the only copy of the secret: no cache may keep it.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            Ok(response)
        }
        PutOutcome::Renamed(record) => Ok(Json(resource(&record, &base, None)).into_response()),
    }
}

async fn delete(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.keys.delete(&caller.profile_id, key_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An id that is not a UUID names no key.
fn key_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::key_not_found())
}

/// The HAL representation of a key. `secret` is given only by the response that creates it.
fn resource(record: &KeyRecord, base: &str, secret: Option<ClientSecret>) -> ApiKey {
    let href = links::apikey(base, record.id);
    let links = if record.is_created() {
        ApiKeyLinks {
            self_: Some(Link::new(&href)),
            update: Some(Link::new(&href)),
            delete: Some(Link::new(&href)),
            profile: Some(Link::new(links::profile(base, &record.profile_id))),
            create: None,
        }
    } else {
        ApiKeyLinks {
            create: Some(Link::new(&href)),
            ..ApiKeyLinks::default()
        }
    };
    ApiKey {
        id: record.id,
        created: record.created,
        last_modified: record.last_modified,
        name: record.name.clone(),
        client_id: record.client_id.clone(),
        client_secret: secret,
        profile_id: record.profile_id.clone(),
        links,
    }
}
