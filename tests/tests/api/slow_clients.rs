//! What a slow or greedy client can hold: connections that trickle their headers are closed after
//! the header timeout while others are served, and requests beyond the in-flight or connection
//! bound, or past a timeout, get a clear answer in the route's dialect.

use keyward_tests::{StatusCode, TestServer};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SLOW_CONNECTIONS: usize = 1_000;
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Opens a connection to `server` and sends `head`.
async fn connect(server: &TestServer, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.settings.bind).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("send");
    stream
}

/// Reads until the server closes the connection (or `within` passes) and returns what it said.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut said = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => said.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&said).into_owned())
}

#[tokio::test]
async fn connections_trickling_headers_are_closed_after_the_timeout_and_others_are_served() {
    keyward_server::http::raise_open_files_limit(4 * SLOW_CONNECTIONS as u64);
    let server = TestServer::start_with(|settings| {
        settings.http.header_timeout_ms = HEADER_TIMEOUT.as_millis() as u64;
    })
    .await;
    let opened = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..SLOW_CONNECTIONS {
        let mut stream = connect(&server, "GET /health/live HTTP/1.1\r\nHost: x\r\n").await;
        slow.push(tokio::spawn(async move {
            let started = Instant::now();
            // One header byte every 100 ms, for far longer than the timeout allows.
            for byte in b"X-Slow: ".iter().cycle().take(100) {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    closed = stream.read_u8() => if closed.is_err() { break },
                }
            }
            started.elapsed()
        }));
    }

    // While they are held, other clients are served.
    for _ in 0..20 {
        let (status, _, _) = server.send(server.get("/health/live")).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(opened.elapsed() < HEADER_TIMEOUT, "served while the slow connections are open");

    for connection in slow {
        let held = tokio::time::timeout(HEADER_TIMEOUT * 5, connection)
            .await
            .expect("closed by the server within the timeout, not left open")
            .expect("the slow client ran");
        assert!(held >= HEADER_TIMEOUT - Duration::from_millis(100), "closed early: {held:?}");
        assert!(held < HEADER_TIMEOUT * 4, "closed late: {held:?}");
    }
    let (status, _, _) = server.send(server.get("/health/live")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let server = TestServer::start_with(|settings| {
        settings.http.header_timeout_ms = HEADER_TIMEOUT.as_millis() as u64;
    })
    .await;
    let mut idle = connect(&server, "").await;
    let started = Instant::now();
    read_to_close(&mut idle, HEADER_TIMEOUT * 5).await.expect("closed by the server");
    assert!(started.elapsed() >= HEADER_TIMEOUT - Duration::from_millis(100));
}

/// A request whose body never comes: it holds its place until a timeout ends it.
async fn stalled_create(server: &TestServer, api_key: &str) -> TcpStream {
    let head = format!(
        "POST /api/v1/keys/create HTTP/1.1\r\nHost: x\r\nAuthorization: {api_key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\""
    );
    connect(server, &head).await
}

/// Waits until a request beyond the in-flight bound is refused (the stalled one took its place).
async fn refused(
    server: &TestServer,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> (reqwest::header::HeaderMap, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, headers, body) = server.send(request()).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return (headers, body);
        }
        assert!(Instant::now() < deadline, "never refused: {status} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_beyond_the_in_flight_bound_are_refused_in_their_dialect() {
    let server = TestServer::start_with(|settings| {
        settings.http.max_in_flight = 1;
        settings.http.body_timeout_ms = 1_000;
    })
    .await;
    let key = server.mint("p", "k").await;
    let mut stalled = stalled_create(&server, &key.api_key).await;

    let (headers, body) =
        refused(&server, || server.get("/api/v1/keys/list").header("Authorization", &key.api_key)).await;
    assert_eq!(headers["retry-after"], "1");
    assert!(body.as_str().is_some_and(|said| said.contains("as many requests")), "{body}");
    let (_, body) =
        refused(&server, || server.get("/api/apikeys").header("Authorization", &key.api_key)).await;
    assert_eq!(body["status"], 503, "HAL's shape: {body}");
    assert_eq!(body["path"], "/api/apikeys");
    let (_, body) =
        refused(&server, || server.post("/oauth/token").form(&[("grant_type", "client_credentials")])).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    // The body never came: 408 in the key API's shape, and the bound is free again.
    let said = read_to_close(&mut stalled, Duration::from_secs(5)).await.expect("answered and closed");
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("did not arrive in time"), "{said}");
    let (status, _, _) =
        server.send(server.get("/api/v1/keys/list").header("Authorization", &key.api_key)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) =
        server.send(server.get("/api/v1/keys/list").header("Authorization", &key.api_key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "the stalled create made nothing");
}

#[tokio::test]
async fn a_request_past_the_request_timeout_is_503_and_changes_nothing() {
    let server = TestServer::start_with(|settings| {
        settings.http.request_timeout_ms = 500;
        settings.http.body_timeout_ms = 10_000;
    })
    .await;
    let key = server.mint("p", "k").await;
    let mut stalled = stalled_create(&server, &key.api_key).await;
    let started = Instant::now();
    let said = read_to_close(&mut stalled, Duration::from_secs(5)).await.expect("answered");
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(said.contains("took too long"), "{said}");
    assert!(started.elapsed() >= Duration::from_millis(450));
    let (_, _, body) =
        server.send(server.get("/api/v1/keys/list").header("Authorization", &key.api_key)).await;
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn a_connection_beyond_the_bound_is_told_503_and_served_once_one_closes() {
    let server = TestServer::start_with(|settings| settings.http.max_connections = 2).await;
    let held = [connect(&server, "").await, connect(&server, "").await];
    let mut beyond = connect(&server, "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let said = read_to_close(&mut beyond, Duration::from_secs(5)).await.expect("answered and closed");
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(said.contains("retry-after: 1"), "{said}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut next =
            connect(&server, "GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        let said = read_to_close(&mut next, Duration::from_secs(5)).await.unwrap_or_default();
        if said.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the closed connections' places never came back: {said}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
