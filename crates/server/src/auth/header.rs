//! Reading the `Authorization` header.
//!
//! Three forms are accepted: `Bearer <token>`, `Basic <base64(clientId:secret)>`, and the bare
//! `<token>` that the documents' Python snippets send.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyward_model::Secret;

/// What a caller presented.
pub enum Presented {
    /// A bearer value: an access token (and, with the key API, a full key).
    Token(String),
    /// A client id and secret.
    ClientCredentials { client_id: String, secret: Secret },
}

/// The credentials in an `Authorization` header value, or `None` when it is malformed.
pub fn parse(value: &str) -> Option<Presented> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!rest.is_empty()).then(|| Presented::Token(rest.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        return parse_basic(rest);
    }
    // A bare value is one token: it has no spaces.
    (!value.is_empty() && !value.contains(char::is_whitespace)).then(|| Presented::Token(value.to_owned()))
}

/// `Basic base64(clientId:secret)`.
pub fn parse_basic(encoded: &str) -> Option<Presented> {
    let decoded = STANDARD.decode(encoded).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (client_id, secret) = decoded.split_once(':')?;
    if client_id.is_empty() || secret.is_empty() {
        return None;
    }
    Some(Presented::ClientCredentials {
        client_id: client_id.to_owned(),
        secret: Secret::new(secret.to_owned()),
    })
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str) -> Option<String> {
        match parse(value)? {
            Presented::Token(token) => Some(token),
            Presented::ClientCredentials { .. } => None,
        }
    }

    #[test]
    fn bearer_and_bare_tokens() {
        assert_eq!(token("Bearer abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(token("bearer   abc").as_deref(), Some("abc"));
        assert_eq!(token("abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert!(parse("Bearer").is_none());
        assert!(parse("").is_none());
        assert!(parse("two words").is_none());
    }

    #[test]
    fn basic_credentials() {
        let Some(Presented::ClientCredentials { client_id, secret }) = parse("Basic aWQ6czNjcmV0") else {
            panic!("not parsed as client credentials");
        };
        assert_eq!(client_id, "id");
        assert_eq!(secret.expose(), "s3cret");
        assert!(parse("Basic !!!").is_none());
        assert!(parse("Basic aWQ=").is_none(), "no colon");
    }
}
