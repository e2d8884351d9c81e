//! `/api/profiles/{id}`: the owner of keys, visible to itself only, so that `profile` links resolve.

use crate::AppState;
use crate::api::caller::{Caller, require};
use crate::api::hal::{HalError, Segment};
use crate::api::links;
use axum::Json;
use axum::extract::State;
use keyward_model::{ErrorBody, Link, Profile, ProfileLinks};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(view))
}

/// View a profile
///
/// Returns the caller's own profile (when its person signed in through the identity provider, and
/// how many keys it holds); any other id is a 404.
#[utoipa::path(
    get, path = "/api/profiles/{id}", tag = "profiles", operation_id = "getProfile",
    params(("id" = String, Path, description = "The profile ID, percent-encoded (`auth0%7C5eb0...`).")),
    responses(
        (status = 200, description = "The caller's profile.",
            content((Profile = "application/json"), (Profile = "application/hal+json"))),
        (status = 401, description = "Missing or invalid credentials.", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`.", body = ErrorBody),
        (status = 404, description = "Not the caller's profile.", body = ErrorBody),
        (status = 403, description = "The key does not hold `keys:read`.", body = ErrorBody),
    )
)]
async fn view(
    State(state): State<AppState>,
    Caller(caller, _): Caller<HalError>,
    Segment(id): Segment,
) -> Result<Json<Profile>, HalError> {
    require(&caller, keyward_model::Scope::KeysRead)?;
    let base = state.base_url.as_str();
    // Another profile is a 404 like an unknown one (or an undecodable id): its existence is not
    // the caller's business.
    let id = match id {
        Some(id) if id == caller.profile_id.as_str() => id,
        _ => return Err(HalError::NotFound("Profile not found".into())),
    };
    let record =
        state.store.profile(&caller.profile_id).await.map_err(|error| HalError::Fault(error.into()))?;
    Ok(Json(Profile {
        first_sign_in: record.first_sign_in,
        last_sign_in: record.last_sign_in,
        key_count: record.created_keys,
        links: ProfileLinks {
            self_: Link::new(links::profile(base, &id)),
            apikeys: Link::new(links::apikeys(base)),
        },
        id,
    }))
}
