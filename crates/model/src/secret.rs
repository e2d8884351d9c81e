//! A secret that cannot be printed by accident.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A credential in clear: a client secret, a full key or an access token. It serialises (it must
/// reach the caller once) but its `Debug` never shows the value, so it cannot leak through logs or
/// error messages, and its memory is zeroed when it is dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret in clear, for the one place that needs it (hashing, or a request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl zeroize::ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = Secret::new("s3cr3t-value".into());
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"s3cr3t-value\"");
    }
}
