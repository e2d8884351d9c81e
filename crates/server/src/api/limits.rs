//! Bounds on what requests may hold: a share of the in-flight requests, and time.
//!
//! A request beyond the in-flight bound is refused at once rather than queued, so that a flood
//! does not turn into latency for everyone; one that runs past the request timeout is answered
//! 503 and its work dropped (a write whose commit did not finish changed nothing, and one that
//! did is not acknowledged). Both are worded by the route's dialect.

use crate::config::HttpSettings;
use crate::error::{self, Refusal};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The in-flight bound and the timeouts, shared by every route.
#[derive(Debug)]
pub struct Limits {
    in_flight: Semaphore,
    request_timeout: Duration,
    body_timeout: Duration,
}

impl Limits {
    pub fn new(settings: &HttpSettings) -> Self {
        Self {
            in_flight: Semaphore::new(settings.max_in_flight.max(1) as usize),
            request_timeout: settings.request_timeout(),
            body_timeout: settings.body_timeout(),
        }
    }
}

/// How long reading a request's body may take, for the body extractors.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

#[derive(Debug, thiserror::Error)]
enum Overload {
    #[error("Service Unavailable: the server is handling as many requests as it can; retry later")]
    AtCapacity,
    #[error("Service Unavailable: the request took too long; retry later")]
    TimedOut,
}

impl Refusal for Overload {
    fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn retry_after(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }
}

/// Runs the request within the bounds of the [`Limits`] the router put in its extensions, or
/// refuses it.
pub async fn bound(mut request: Request, next: Next) -> Response {
    let Some(limits) = request.extensions().get::<Arc<Limits>>().cloned() else {
        return next.run(request).await;
    };
    let Ok(_permit) = limits.in_flight.try_acquire() else {
        tracing::warn!("request refused: the in-flight bound is reached");
        return error::respond(&Overload::AtCapacity);
    };
    request.extensions_mut().insert(BodyTimeout(limits.body_timeout));
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout = ?limits.request_timeout, "request dropped: it ran past the request timeout");
            error::respond(&Overload::TimedOut)
        }
    }
}
