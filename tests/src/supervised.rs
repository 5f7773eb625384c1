//! Helpers for tests that run the fault-injecting engine under `murmurd`.

use serde_json::Value;

use crate::{Client, Murmurd, Reply};

/// No background warm-up, quick restarts: the test decides when the engine starts.
pub const QUICK: &str = "[supervisor]\nauto_start = false\nrestart_delay_ms = 100\n";

/// The `state` of a status.
pub fn state(status: &Value) -> &str {
    status["state"].as_str().unwrap_or_default()
}

/// The engine pid of a status.
pub fn engine_pid(status: &Value) -> u32 {
    status["engine"]["pid"].as_u64().expect("engine pid") as u32
}

/// A speech request with `text`.
pub async fn speak(murmurd: &Murmurd, text: &str) -> Reply {
    Client::new()
        .post_json(
            &murmurd.url("/v1/audio/speech"),
            &format!(r#"{{"input":"{text}"}}"#),
        )
        .await
}

/// A speech request with `text` that must succeed; a failure shows the reply and the engine log.
pub async fn spoken(murmurd: &Murmurd, text: &str) {
    let reply = speak(murmurd, text).await;
    assert_eq!(
        reply.status,
        200,
        "speaking {text:?} failed: {}\n--- engine log ---\n{}",
        String::from_utf8_lossy(&reply.body),
        murmurd.engine_log()
    );
}

/// How many times the engine was spawned, from its log.
pub fn spawns(murmurd: &Murmurd) -> usize {
    murmurd.engine_log().matches("[murmur] starting:").count()
}
