//! `/health/live`: whether the process accepts requests; `/health/ready`: whether it can serve
//! them, its database answering.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keyward_model::Health;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live)).routes(routes!(ready))
}

/// Liveness
///
/// 200 once the server accepts requests.
#[utoipa::path(
    get, path = "/health/live", tag = "operations", operation_id = "getLiveness", security(()),
    responses((status = 200, description = "The server is up.", body = Health))
)]
async fn live() -> Json<Health> {
    Json(Health { status: "UP".to_owned() })
}

/// Readiness
///
/// 200 while the database answers within the acquire timeout; 503 while it does not (requests
/// that need it are answered 503 then, and those served from memory go on).
#[utoipa::path(
    get, path = "/health/ready", tag = "operations", operation_id = "getReadiness", security(()),
    responses(
        (status = 200, description = "The database answers.", body = Health),
        (status = 503, description = "The database does not answer.", body = Health),
    )
)]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "UP".to_owned() })),
        Err(error) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "DOWN".to_owned() }))
        }
    }
}
