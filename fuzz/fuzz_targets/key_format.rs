//! The full-key decoder: never panics, and what decodes encodes back to the same key.

#![no_main]

use keyward_model::KeyFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let format = KeyFormat::new("keyward").expect("a valid prefix");
    if let Ok((client_id, secret)) = format.decode(input) {
        assert_eq!(format.encode(&client_id, &secret).expose(), input);
    }
});
