//! Prometheus metrics through the `metrics` facade: each thing is counted where it happens, and
//! `GET /metrics` renders them all in Prometheus's text format.
//!
//! - `keyward_http_requests_total{method, route, status}` and
//!   `keyward_http_request_duration_seconds{route}`: every routed request;
//! - `keyward_authentications_total{kind, outcome}`: credentials presented to the API (`kind`:
//!   `full_key`, `basic`, `bearer`, or `sign_in` for a person's identity-provider token);
//! - `keyward_credential_cache_total{result}`: verified-credential cache hits and misses;
//! - `keyward_throttled_total`: verifications refused by the throttle;
//! - `keyward_hashing_seconds`: argon2 work on the hashing threads;
//! - `keyward_database_connections{pool, state}` and `keyward_database_connections_max{pool}`:
//!   the connection pools, read at each scrape;
//! - `keyward_key_events_lag_seconds`: from a key event's commit to its application here (how
//!   long another instance's revocation took to reach this one), and
//!   `keyward_key_events_read_timestamp_seconds`: when the log was last read.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Upper bounds of the histograms' buckets, in seconds: from a cached verification to a timeout.
const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process's recorder: one per process, however many servers a test runs in it.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Histograms with buckets, not summaries: buckets add up across instances.
        let builder = PrometheusBuilder::new().set_buckets(BUCKETS).expect("buckets are not empty");
        builder.install_recorder().unwrap_or_else(|error| {
            tracing::warn!(%error, "another metrics recorder is installed; /metrics stays empty");
            PrometheusBuilder::new().build_recorder().handle()
        })
    })
}

/// Installs the recorder, so that what is counted before the first scrape is kept.
pub fn install() {
    handle();
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    for usage in state.store.pool_usage() {
        let gauge = |state: &'static str| metrics::gauge!("keyward_database_connections", "pool" => usage.pool, "state" => state);
        gauge("idle").set(usage.idle);
        gauge("in_use").set(usage.open.saturating_sub(usage.idle));
        metrics::gauge!("keyward_database_connections_max", "pool" => usage.pool).set(usage.max);
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}

/// Counts and times every routed request by its route's template (never its concrete path,
/// which would make a series per key).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("keyward_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("keyward_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
