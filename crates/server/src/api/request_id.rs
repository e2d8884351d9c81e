//! Every request's id: in its `X-Request-Id` answer header and on every log line of its span, so
//! that a caller's report and the logs meet. A trusted proxy's id is kept, so that one id follows
//! a request through the proxy's logs and ours; anyone else's is replaced, since a client could
//! otherwise write whatever it likes into the logs.

use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id kept from a proxy.
const MAX_LEN: usize = 128;

/// Gives the request its id, and its answer the same.
pub async fn assign(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip());
    let from_proxy = peer.is_some_and(|peer| state.proxies.trusts(peer));
    let given = request.headers().get(&HEADER).filter(|value| from_proxy && is_plain(value)).cloned();
    let id = given.unwrap_or_else(|| {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a header value")
    });
    request.headers_mut().insert(HEADER, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, id);
    response
}

/// Short, printable ASCII, no spaces: safe on a log line.
fn is_plain(value: &HeaderValue) -> bool {
    value.len() <= MAX_LEN && !value.is_empty() && value.as_bytes().iter().all(u8::is_ascii_graphic)
}
