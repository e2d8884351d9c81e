//! The HTTP surface: one router per resource, grouped by the dialect its errors speak (HAL, the
//! key API, OAuth), each group with its own error layer; merged here with the layers every route
//! shares, and the OpenAPI document those routers describe.

pub mod apikeys;
pub mod body;
pub mod caller;
pub mod client_address;
pub mod compression;
pub mod cors;
mod cursor;
pub mod etag;
pub mod hal;
pub mod hal_json;
mod health;
pub mod keys_v1;
pub mod limits;
pub mod links;
pub mod openapi;
pub mod profiles;
pub mod rendered;
pub mod request_id;
pub mod tokens;
pub mod well_known;

use crate::AppState;
use crate::error::{Dialect, word_errors};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::routing::get;
use axum::{Router, middleware};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

/// Every documented route, with its OpenAPI description, each group in its dialect.
fn documented() -> OpenApiRouter<AppState> {
    let resources =
        apikeys::router().merge(profiles::router()).layer(middleware::from_fn(hal_json::negotiate));
    let hal = resources.merge(well_known::router()).merge(health::router());
    OpenApiRouter::with_openapi(openapi::base())
        .merge(speaking::<hal::Hal>(hal))
        .merge(speaking::<keys_v1::KeyApi>(keys_v1::router()))
        .merge(speaking::<tokens::OAuth>(tokens::router()))
}

/// `routes`, with every error they answer worded in `D`, bodies no handler reads bounded too, and
/// each request within the in-flight bound and the timeouts.
fn speaking<D: Dialect>(routes: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    routes
        .layer(RequestBodyLimitLayer::new(body::MAX_BODY_BYTES))
        .layer(middleware::from_fn(limits::bound))
        .layer(middleware::from_fn(word_errors::<D>))
}

/// `/docs`, Swagger UI bundled into the binary (it needs no network), and the document it shows
/// at `/openapi.json`, serialized once and tagged (compressed inside the tag, which hashes the
/// bytes as sent).
fn documents(document: &utoipa::openapi::OpenApi) -> Router {
    let json = Bytes::from(serde_json::to_vec(document).expect("the document serializes"));
    let serve = get(move || {
        let json = json.clone();
        async move { ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json) }
    });
    Router::new()
        .route(OPENAPI_PATH, serve.layer(compression::layer()).layer(middleware::from_fn(etag::tag)))
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new([OPENAPI_PATH])))
}

const OPENAPI_PATH: &str = "/openapi.json";

/// The OpenAPI document of the API, built from the code.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut document) = documented().split_for_parts();
    openapi::finish(&mut document);
    document
}

pub fn router(state: AppState) -> Router {
    let (routes, mut document) = documented().split_for_parts();
    openapi::finish(&mut document);
    openapi::at(&mut document, &state.base_url);
    let limits = state.limits.clone();
    let cors = cors::layer(&state.cors);
    let ids = state.clone();
    routes
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .route_layer(middleware::from_fn(crate::metrics::track))
        .fallback(hal::no_such_resource)
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .with_state(state)
        .merge(documents(&document))
        .layer(axum::Extension(limits))
        // Outside the dialects' layers: a preflight is answered before any route's bounds, and
        // every answer, errors included, is readable by the origins allowed.
        .layer(tower::util::option_layer(cors))
        .layer(compression::layer())
        .layer(middleware::from_fn(compression::only_reads))
        .layer(
            // Spans name the method and path only: query strings and headers may carry secrets.
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request.headers().get(request_id::HEADER).and_then(|id| id.to_str().ok());
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = id.unwrap_or_default(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        // Outside the trace layer: the span is made with the id already assigned.
        .layer(middleware::from_fn_with_state(ids, request_id::assign))
}
