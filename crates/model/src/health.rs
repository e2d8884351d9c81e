//! The liveness answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"status": "UP"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `UP`.
    #[schema(example = "UP")]
    pub status: String,
}
