//! The request body decoders: any body, as JSON or as a form, is a value or a 4xx; and a value
//! read from JSON reads back from its own JSON.

#![no_main]

use axum::http::HeaderValue;
use keyward_model::{ApiKeyRequest, CreateKeyRequest, TokenRequest, VerifyKeyRequest};
use keyward_server::api::body::decode;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn check<T: Serialize + DeserializeOwned + Default>(content_type: &HeaderValue, bytes: &[u8]) {
    match decode::<T>(Some(content_type), bytes) {
        Ok(value) => {
            let json = serde_json::to_vec(&value).expect("a request serialises");
            let again: T = decode(Some(&HeaderValue::from_static("application/json")), &json)
                .expect("its own JSON reads back");
            assert_eq!(serde_json::to_value(again).ok(), serde_json::to_value(value).ok());
        }
        Err(error) => assert!(error.status().is_client_error(), "{error}"),
    }
}

// The first byte picks the content type; the rest is the body.
fuzz_target!(|input: &[u8]| {
    let Some((&selector, bytes)) = input.split_first() else { return };
    let content_type = HeaderValue::from_static(if selector % 2 == 0 {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    });
    check::<ApiKeyRequest>(&content_type, bytes);
    check::<CreateKeyRequest>(&content_type, bytes);
    check::<VerifyKeyRequest>(&content_type, bytes);
    check::<TokenRequest>(&content_type, bytes);
});
