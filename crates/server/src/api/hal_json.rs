//! HAL resources as `application/hal+json` to clients that ask for it by name, and as
//! `application/json` to every other: the documents' clients (curl, Python's `requests`) send
//! `*/*` and read JSON.

use axum::extract::Request;
use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

const HAL_JSON: HeaderValue = HeaderValue::from_static("application/hal+json");

/// Labels a successful JSON answer as HAL when the request's `Accept` prefers it.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let hal = prefers_hal(request.headers());
    let mut response = next.run(request).await;
    let json = response.headers().get(CONTENT_TYPE).is_some_and(|value| value == "application/json");
    if response.status().is_success() && json {
        let headers = response.headers_mut();
        headers.append(VARY, HeaderValue::from_static("accept"));
        if hal {
            headers.insert(CONTENT_TYPE, HAL_JSON);
        }
    }
    response
}

/// Whether `Accept` names `application/hal+json` itself, with a quality above zero and no lower
/// than the most specific of its ranges that covers `application/json`. A range alone (`*/*`,
/// `application/*`) keeps plain JSON: clients that never heard of HAL send those.
fn prefers_hal(headers: &HeaderMap) -> bool {
    let ranges: Vec<(mime::Mime, f32)> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.trim().parse::<mime::Mime>().ok())
        .map(|range| {
            let quality = range.get_param("q").and_then(|q| q.as_str().parse().ok()).unwrap_or(1.0);
            (range, quality)
        })
        .collect();
    let quality_of = |essence: &str| {
        ranges.iter().find(|(range, _)| range.essence_str() == essence).map(|(_, quality)| *quality)
    };
    let Some(hal) = quality_of("application/hal+json") else { return false };
    let json =
        quality_of("application/json").or_else(|| quality_of("application/*")).or_else(|| quality_of("*/*"));
    hal > 0.0 && hal >= json.unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefers(accept: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(accept).unwrap());
        prefers_hal(&headers)
    }

    #[test]
    fn hal_only_by_name_and_never_below_json() {
        assert!(prefers("application/hal+json"));
        assert!(prefers("application/json, application/hal+json"));
        assert!(prefers("application/hal+json;q=0.5, */*;q=0.1"));
        assert!(!prefers("*/*"));
        assert!(!prefers("application/*"));
        assert!(!prefers("application/hal+json;q=0"));
        assert!(!prefers("application/json, application/hal+json;q=0.9"));
        assert!(!prefers("application/hal+json;q=0.5, application/*;q=0.8"));
        assert!(!prefers("not a media type, ;;;"));
        assert!(!prefers_hal(&HeaderMap::new()));
    }
}
