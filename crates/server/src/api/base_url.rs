//! The base of every absolute link: the configured public URL, or what the request says.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, header};
use std::str::FromStr;

/// `https://keys.example.com`, without a trailing slash.
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(url) = &state.public_url {
            return Ok(BaseUrl(url.clone()));
        }
        let proto = first_value(&parts.headers, "x-forwarded-proto").unwrap_or("http");
        if proto != "http" && proto != "https" {
            return Err(ApiError::BadRequest("X-Forwarded-Proto must be http or https".into()));
        }
        let host = first_value(&parts.headers, "x-forwarded-host")
            .or_else(|| parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()))
            .or_else(|| parts.uri.authority().map(Authority::as_str))
            .unwrap_or("localhost");
        let host = Authority::from_str(host)
            .ok()
            .filter(|authority| !authority.as_str().contains('@'))
            .ok_or_else(|| ApiError::BadRequest("the Host header is not a valid host".into()))?;
        Ok(BaseUrl(format!("{proto}://{host}")))
    }
}

/// The first of a comma-separated header's values (proxies append theirs).
fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    value.split(',').next().map(str::trim).filter(|v| !v.is_empty())
}
