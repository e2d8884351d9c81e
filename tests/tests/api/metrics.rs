//! `GET /metrics`: Prometheus's text format, with the requests the server served.

use keyward_tests::{StatusCode, TestServer};

/// The value of the first sample whose line starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|line| line.starts_with(series))?.rsplit(' ').next()?.parse().ok()
}

#[tokio::test]
async fn metrics_count_the_requests_served_and_how_callers_authenticated() {
    let (server, probe) = TestServer::start_probed(|_| {}).await;
    let key = server.mint("p", "k").await;
    // The key's creation, read back from the key events log.
    probe.events_applied().await;
    let (status, _, _) = server
        .send(server.get(&format!("/api/apikeys/{}", key.id)).header("Authorization", &key.api_key))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) =
        server.send(server.get("/api/apikeys").header("Authorization", "Bearer nonsense")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let scraped = server.http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = scraped.text().await.unwrap();
    let served = r#"keyward_http_requests_total{method="GET",route="/api/apikeys/{id}",status="200"}"#;
    assert!(sample(&text, served).is_some_and(|count| count >= 1.0), "{text}");
    assert!(!text.contains(&key.id.to_string()), "routes are templates, never concrete paths");
    assert!(
        sample(&text, r#"keyward_authentications_total{kind="full_key",outcome="ok"}"#).is_some(),
        "{text}"
    );
    assert!(
        sample(&text, r#"keyward_authentications_total{kind="bearer",outcome="invalid"}"#).is_some(),
        "{text}"
    );
    assert!(
        text.contains("keyward_http_request_duration_seconds_bucket{"),
        "histograms, with buckets: {text}"
    );
    assert!(text.contains("keyward_hashing_seconds"), "a key was hashed: {text}");
    assert!(sample(&text, "keyward_database_connections_max{pool=").is_some_and(|max| max >= 1.0), "{text}");
    assert!(sample(&text, "keyward_database_connections{pool=").is_some(), "{text}");
    assert!(
        sample(&text, "keyward_key_events_lag_seconds_count").is_some_and(|count| count >= 1.0),
        "{text}"
    );
    assert!(sample(&text, "keyward_key_events_read_timestamp_seconds").is_some_and(|at| at > 0.0), "{text}");
}
