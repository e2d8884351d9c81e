//! CORS: which web pages' scripts may call the API from a browser and read its answers.
//!
//! Credentials in the CORS sense (cookies, a browser's remembered Basic login) are never allowed:
//! Keyward reads only the `Authorization` header, which a script sets itself, so an origin not
//! allowed cannot make a visitor's browser act for them.

use crate::api::request_id;
use crate::config::CorsOrigins;
use axum::http::{Method, header};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may keep a preflight's answer (Chromium keeps it two hours at most).
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The layer that answers preflights and lets `origins` read answers; none without origins, so
/// that no CORS header is sent at all.
pub fn layer(origins: &CorsOrigins) -> Option<CorsLayer> {
    let allow_origin = match origins {
        CorsOrigins::None => return None,
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::Listed(origins) => AllowOrigin::list(origins.iter().cloned()),
    };
    let layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE])
        // Credentials, bodies, and revalidating the documents that carry an ETag.
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_NONE_MATCH])
        // What a script reads beyond the headers every script may read.
        .expose_headers([
            request_id::HEADER,
            header::LOCATION,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            header::ETAG,
        ])
        .max_age(PREFLIGHT_MAX_AGE);
    Some(layer)
}
