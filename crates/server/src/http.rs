//! Connections: accepted within a bound, each served by hyper with a timer, so that a client that
//! opens connections and sends nothing, or trickles its headers, holds them only so long.
//!
//! Only HTTP/1.1 is served: hyper's header-read timeout guards HTTP/1 alone, and HTTP/2 belongs
//! to a TLS-terminating proxy in front, which speaks HTTP/1.1 to its upstream.

use crate::config::HttpSettings;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The pause after a failed accept: out of descriptors, retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Connections beyond the bound being told so at once, and how long each may take to be told.
const REFUSING_AT_ONCE: usize = 64;
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a connection beyond the bound is answered, before its request is read.
static AT_CAPACITY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body =
        r#"{"message":"Service Unavailable: the server holds as many connections as it can; retry later"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets requests
/// in flight finish for up to the shutdown timeout, and closes what is left.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &HttpSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(settings.max_connections.max(1) as usize));
    let refusals = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(settings.header_timeout()).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refuse(stream, &refusals);
            continue;
        };
        let service = router.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            // A client that vanishes, times out or breaks the protocol ends its own connection.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed");
            }
            drop(permit);
        });
    }
    // New connections are refused from here on.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(settings.shutdown_timeout()) => {
            tracing::warn!("requests still in flight at the shutdown timeout are cut off");
        }
    }
    Ok(())
}

/// Tells a connection beyond the bound that the server is full, and closes it; when even the
/// telling is at its bound, only closes it.
fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>) {
    tracing::warn!("connection refused: the connection bound is reached");
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, stream.write_all(&AT_CAPACITY)).await;
        drop(permit);
    });
}

/// Raises the soft limit on open files towards `wanted` (up to the hard limit), so that the
/// connection bound, not the descriptor limit, is what refuses connections.
pub fn raise_open_files_limit(wanted: u64) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        return;
    }
    let raised = limit.maximum.map_or(wanted, |maximum| wanted.min(maximum));
    limit.current = Some(raised);
    if setrlimit(Resource::Nofile, limit).is_err() || raised < wanted {
        tracing::warn!(
            open_files = raised.max(current),
            wanted,
            "the open-files limit is below the connection bound: raise it or lower KEYWARD_MAX_CONNECTIONS"
        );
    }
}
