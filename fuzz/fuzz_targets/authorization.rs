//! The `Authorization` parser: never panics, and accepts only the documented forms.

#![no_main]

use keyward_server::auth::Presented;
use keyward_server::auth::header::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let trimmed = value.trim();
    let (scheme, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    match parse(value) {
        None => {}
        Some(Presented::Token(token)) => {
            let bearer = scheme.eq_ignore_ascii_case("bearer") && rest.trim() == token;
            let bare = trimmed == token && !token.contains(char::is_whitespace);
            assert!(bearer || bare, "{value:?} read as the token {token:?}");
        }
        Some(Presented::ClientCredentials { client_id, secret }) => {
            use base64::Engine;
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{}", secret.expose()));
            assert!(scheme.eq_ignore_ascii_case("basic") && encoded == rest.trim(), "{value:?}");
        }
    }
});
