//! Any bytes as a speech request body: `prepare` answers Ok or a 4xx, never panics, and what
//! it sends on is valid JSON with a non-empty `input` no longer than the limit; a Chinese or
//! Japanese text is matched against a small set of installed voices (or refused with a 400).
#![no_main]

use libfuzzer_sys::fuzz_target;
use murmur_core::config::Settings;
use murmur_core::language::Voice;
use murmur_core::proxy::speech::{Defaults, prepare};

fuzz_target!(|data: &[u8]| {
    let defaults = Defaults::from_settings(&Settings::default());
    let voices = [
        Voice::new("joe", "Joe", Some("en_US")),
        Voice::new("zf_xiaobei", "zf_xiaobei", None),
    ];
    match prepare(data, &defaults, Some(&voices)) {
        Ok(prepared) => {
            let sent: serde_json::Value =
                serde_json::from_slice(&prepared.body).expect("the engine gets JSON");
            let input = sent["input"].as_str().expect("input is a string");
            assert!(!input.trim().is_empty());
            assert!(input.chars().count() as u64 <= defaults.max_input_chars);
        }
        Err(error) => assert!(error.status.is_client_error(), "{error:?}"),
    }
});
