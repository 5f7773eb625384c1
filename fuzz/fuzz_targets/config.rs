//! Any text as a config file: it parses and validates, or fails with an error that names the
//! file; never a panic. Settings that pass validation keep every number within its range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use murmur_core::config::{check, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("config.toml");
    if let Ok(settings) = parse(text, path) {
        if check(&settings).is_empty() {
            for (key, value, range, _) in murmur_core::config::numbers(&settings) {
                assert!(range.contains(&value), "{key} = {value}");
            }
        }
    }
});
