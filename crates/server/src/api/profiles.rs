//! `/api/profiles/{id}`: the owner of keys, visible to itself only, so that `profile` links resolve.

use crate::AppState;
use crate::api::base_url::BaseUrl;
use crate::api::links;
use crate::auth::Principal;
use crate::error::ApiError;
use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use keyward_model::{Link, Profile, ProfileLinks};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/profiles/{id}", get(view))
}

async fn view(
    caller: Principal,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<Profile>, ApiError> {
    // Another profile is a 404 like an unknown one: its existence is not the caller's business.
    if id != caller.profile_id {
        return Err(ApiError::NotFound("Profile not found".into()));
    }
    Ok(Json(Profile {
        links: ProfileLinks {
            self_: Link::new(links::profile(&base, &id)),
            apikeys: Link::new(links::apikeys(&base)),
        },
        id,
    }))
}
