//! Absolute hrefs of the API's resources, built in one place.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use uuid::Uuid;

/// Everything but RFC 3986's unreserved characters is escaped in a path segment, so that
/// `auth0|5eb0...` becomes `auth0%7C5eb0...` as in the documents.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub fn apikeys(base: &str) -> String {
    format!("{base}/api/apikeys")
}

pub fn apikey(base: &str, id: Uuid) -> String {
    format!("{base}/api/apikeys/{id}")
}

pub fn profile(base: &str, profile_id: &str) -> String {
    format!("{base}/api/profiles/{}", utf8_percent_encode(profile_id, PATH_SEGMENT))
}

#[cfg(test)]
mod tests {
    #[test]
    fn profile_ids_are_escaped_as_documented() {
        assert_eq!(
            super::profile("https://app.matatika.com", "auth0|5eb0327cbfd7490bff55feeb"),
            "https://app.matatika.com/api/profiles/auth0%7C5eb0327cbfd7490bff55feeb"
        );
    }
}
