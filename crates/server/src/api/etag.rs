//! Strong ETags for the documents clients keep and fetch again (the JWKS, the OpenAPI document):
//! asked with `If-None-Match`, an unchanged one is a 304 without its body.
//!
//! The tag hashes the bytes as they are sent, so this layer sits outside the route's compression:
//! each encoding of a document has its own tag, as a strong validator must (RFC 9110 8.8.1).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_LOCATION, ETAG, EXPIRES, IF_NONE_MATCH, VARY};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Far beyond the documents tagged here: the OpenAPI document is about 100 KB.
const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Tags a successful answer with a hash of its bytes, or answers 304 when the request's
/// `If-None-Match` names that tag.
pub async fn tag(request: Request, next: Next) -> Response {
    let if_none_match = request.headers().get(IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "a tagged answer could not be read");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let etag = etag_of(&bytes);
    if if_none_match.is_some_and(|tags| names(&tags, &etag)) {
        // RFC 9110 15.4.5: what a cache updates its copy with, and no content.
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        for name in [CACHE_CONTROL, CONTENT_LOCATION, EXPIRES, VARY] {
            for value in parts.headers.get_all(&name) {
                not_modified.headers_mut().append(name.clone(), value.clone());
            }
        }
        not_modified.headers_mut().insert(ETAG, etag);
        return not_modified;
    }
    parts.headers.insert(ETAG, etag);
    Response::from_parts(parts, Body::from(bytes))
}

/// `"<base64url of the first 16 bytes of the SHA-256>"`.
fn etag_of(bytes: &Bytes) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let tag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]));
    HeaderValue::from_str(&tag).expect("base64url in quotes is a header value")
}

/// Whether an `If-None-Match` value names `etag`, by the weak comparison it calls for: `W/`
/// ignored, `*` names any.
fn names(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(tags) = if_none_match.to_str() else { return false };
    let etag = etag.as_bytes();
    tags.trim() == "*"
        || tags.split(',').map(str::trim).any(|tag| tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_names_a_tag_weakly_in_a_list_or_by_a_star() {
        let etag = etag_of(&Bytes::from_static(b"{}"));
        let tag = etag.to_str().unwrap();
        for named in [tag.to_owned(), format!("W/{tag}"), format!("\"a\", {tag}"), "*".to_owned()] {
            assert!(names(&HeaderValue::from_str(&named).unwrap(), &etag), "{named}");
        }
        let unquoted = tag.trim_matches('"').to_owned();
        for other in ["\"a\"", "", unquoted.as_str(), "W/\"a\""] {
            assert!(!names(&HeaderValue::from_str(other).unwrap(), &etag), "{other}");
        }
        assert_ne!(etag, etag_of(&Bytes::from_static(b"[]")));
    }
}
