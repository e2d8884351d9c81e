//! HAL building blocks: links and the page object of a collection.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A HAL link: `{"href": "..."}`, always absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    #[schema(example = "https://app.matatika.com/api/apikeys/9904cf92-2202-48c0-a751-a9724e32c98e")]
    pub href: String,
}

impl Link {
    pub fn new(href: impl Into<String>) -> Self {
        Self { href: href.into() }
    }
}

/// Links of a page of a collection. `first`, `prev`, `next` and `last` appear only when the
/// collection spans more than one page (and `prev`/`next` only where such a page exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PageLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
    #[serde(rename = "self")]
    pub self_: Link,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Link>,
}

/// The `page` object: the requested page size, zero-based page number and the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMetadata {
    pub size: u32,
    pub total_elements: u64,
    pub total_pages: u64,
    pub number: u64,
}
