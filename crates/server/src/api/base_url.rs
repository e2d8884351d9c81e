//! The base of every absolute link: the configured public URL, or what the request says.

use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use std::marker::PhantomData;
use std::str::FromStr;

/// `https://keys.example.com`, without a trailing slash; refused with the dialect error `E`.
pub struct BaseUrl<E>(pub String, pub PhantomData<E>);

/// Headers that name no usable base URL.
pub struct BadBaseUrl(pub &'static str);

impl<E> FromRequestParts<AppState> for BaseUrl<E>
where
    E: From<BadBaseUrl> + IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        base_url(parts, state).map(|base| Self(base, PhantomData)).map_err(E::from)
    }
}

fn base_url(parts: &Parts, state: &AppState) -> Result<String, BadBaseUrl> {
    if let Some(url) = &state.public_url {
        return Ok(url.clone());
    }
    let proto = first_value(&parts.headers, "x-forwarded-proto").unwrap_or("http");
    if proto != "http" && proto != "https" {
        return Err(BadBaseUrl("X-Forwarded-Proto must be http or https"));
    }
    let host = first_value(&parts.headers, "x-forwarded-host")
        .or_else(|| parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()))
        .or_else(|| parts.uri.authority().map(Authority::as_str))
        .unwrap_or("localhost");
    let host = Authority::from_str(host)
        .ok()
        .filter(|authority| !authority.as_str().contains('@'))
        .ok_or(BadBaseUrl("the Host header is not a valid host"))?;
    Ok(format!("{proto}://{host}"))
}

/// The first of a comma-separated header's values (proxies append theirs).
fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    value.split(',').next().map(str::trim).filter(|v| !v.is_empty())
}
