//! The error body of the HAL API, in the Spring style its documents show.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"timestamp", "status", "error", "message", "path"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// `2026-04-23T13:17:02.940+00:00`.
    #[schema(example = "2026-04-23T13:17:02.940+00:00")]
    pub timestamp: String,
    pub status: u16,
    /// The status's reason phrase, e.g. `Not Found`.
    pub error: String,
    pub message: String,
    /// The request path.
    pub path: String,
}
