//! `/health/live`: whether the process accepts requests.

use crate::AppState;
use axum::Json;
use keyward_model::Health;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live))
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
