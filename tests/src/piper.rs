//! The real Piper engine under `murmurd`, for the tests that speak with it.

use std::time::Duration;

use crate::Murmurd;
use crate::supervised::state;

/// The default engine; managed Pythons from a refusing loopback address, so every machine
/// takes the same (system Python) path without waiting on GitHub.
pub const PIPER: &str = "[runtime]\npython_install_mirror = \"http://127.0.0.1:9/python\"\n";

pub async fn ready_piper() -> Murmurd {
    let murmurd = Murmurd::start(PIPER);
    let status = murmurd
        .wait_for("piper ready", Duration::from_secs(180), |s| {
            state(s) == "ready" || state(s) == "failed" || s["error"].is_object()
        })
        .await;
    assert_eq!(
        state(&status),
        "ready",
        "{status:#}\n{}",
        murmurd.engine_log()
    );
    assert_eq!(status["engine"]["id"], "piper");
    murmurd
}
