//! The HTTP surface: one router per resource, merged here with the layers every route shares.

pub mod apikeys;
pub mod base_url;
pub mod body;
mod caller;
pub mod links;
pub mod profiles;
pub mod tokens;
pub mod well_known;

use crate::AppState;
use crate::error::{ApiError, render_errors};
use axum::extract::{DefaultBodyLimit, Request};
use axum::routing::get;
use axum::{Json, Router, middleware};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(apikeys::router())
        .merge(profiles::router())
        .merge(tokens::router())
        .merge(well_known::router())
        .route("/health/live", get(|| async { Json(serde_json::json!({ "status": "UP" })) }))
        .fallback(|| async { ApiError::NotFound("No such resource".into()) })
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .layer(middleware::from_fn(render_errors))
        .layer(
            // Spans name the method and path only: query strings and headers may carry secrets.
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}
