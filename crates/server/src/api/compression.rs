//! Compression of answers (gzip or br), for clients that ask.

use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::header::ACCEPT_ENCODING;
use axum::http::{Method, Response};
use axum::middleware::Next;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{And, DefaultPredicate, Predicate, SizeAbove};

/// Below this, framing and headers eat most of what compression saves.
const MIN_BYTES: u64 = 1024;

/// Above this are only `/docs`'s static files (Swagger UI's bundle is 1.5 MB): compressing them
/// afresh for every request would let a flood of them take the CPU. A proxy can keep them
/// compressed.
const MAX_BYTES: u64 = 256 * 1024;

/// Brotli's default quality (11) is meant for files compressed once; 4 costs about what gzip's
/// default does, for answers compressed on every request.
const QUALITY: CompressionLevel = CompressionLevel::Precise(4);

pub type Compression = CompressionLayer<And<And<DefaultPredicate, SizeAbove>, AtMost>>;

/// Compresses answers from 1 KiB to 256 KiB that are not already compressed (nor images), in
/// the encoding the request prefers.
pub fn layer() -> Compression {
    let sizes = DefaultPredicate::new().and(SizeAbove::new(MIN_BYTES)).and(AtMost(MAX_BYTES));
    CompressionLayer::new().quality(QUALITY).compress_when(sizes)
}

/// Answers whose size is known and at most this many bytes.
#[derive(Debug, Clone, Copy)]
pub struct AtMost(u64);

impl Predicate for AtMost {
    fn should_compress<B: HttpBody>(&self, response: &Response<B>) -> bool {
        response.body().size_hint().exact().is_some_and(|size| size <= self.0)
    }
}

/// Leaves the choice of encoding to reads alone. tower-http answers 406 to an Accept-Encoding it
/// cannot meet (`identity;q=0`) once the handler has run: a write would be told it failed when
/// it had happened. Writes' answers are small anyway.
pub async fn only_reads(mut request: Request, next: Next) -> axum::response::Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        request.headers_mut().remove(ACCEPT_ENCODING);
    }
    next.run(request).await
}
