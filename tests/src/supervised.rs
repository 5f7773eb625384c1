//! Helpers for tests that run the fault-injecting engine under `murmurd`.

use std::sync::{Arc, Mutex};

use http::Method;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::client::request;
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

/// The engine pid of a typed status.
pub fn pid(status: &murmur_core::status::Status) -> u32 {
    status.engine.pid.expect("engine pid")
}

/// The transcription engine's status within a status (transcription must be on).
pub fn transcription_of(status: &murmur_core::status::Status) -> &murmur_core::status::Status {
    status.of("transcription").expect("transcription is on")
}

/// Whether the engine has been given up on.
pub fn failed(status: &murmur_core::status::Status) -> bool {
    matches!(status.state, murmur_core::status::State::Failed { .. })
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

/// Events by name (`status`, `voices`) and data, as they arrived.
pub type Events = Arc<Mutex<Vec<(String, Value)>>>;

/// Every event the event stream sends (`status`, `voices`), with its name, collected in the
/// background.
pub fn collect_events(murmurd: &Murmurd) -> Events {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = murmurd.url(&format!("/murmur/api/events?token={}", murmurd.token()));
    let out = seen.clone();
    tokio::spawn(async move {
        let response = Client::new().send(request(Method::GET, &url, "")).await;
        let mut body = response.into_body();
        let mut pending = String::new();
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            pending.push_str(&String::from_utf8_lossy(&data));
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                let name = event
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or("message")
                    .to_string();
                if let Some(json) = event.lines().find_map(|l| l.strip_prefix("data: "))
                    && let Ok(data) = serde_json::from_str(json)
                {
                    out.lock().expect("events").push((name, data));
                }
            }
        }
    });
    seen
}

/// Wait (up to `timeout`) for the engine's start to end; it must be ready (else the status and
/// engine log are shown). The status is returned.
pub async fn ready(murmurd: &Murmurd, timeout: std::time::Duration) -> Value {
    let status = murmurd
        .wait_for("ready", timeout, |s| {
            state(s) == "ready" || state(s) == "failed"
        })
        .await;
    assert_eq!(
        state(&status),
        "ready",
        "{status:#}\n{}",
        murmurd.engine_log()
    );
    status
}

/// `(done, total)` of each `status` event whose warm-up was at `stage` with a byte count.
pub fn warmup_progress(events: &Events, stage: &str) -> Vec<(u64, u64)> {
    events
        .lock()
        .expect("events")
        .iter()
        .filter(|(event, s)| event == "status" && s["warmup"]["stage"] == stage)
        .filter_map(|(_, s)| {
            Some((
                s["warmup"]["done"].as_u64()?,
                s["warmup"]["total"].as_u64()?,
            ))
        })
        .collect()
}

/// Every `voices` event's entry for voice `id`, in order.
pub fn voice_installs(events: &Events, id: &str) -> Vec<Value> {
    events
        .lock()
        .expect("events")
        .iter()
        .filter(|(event, _)| event == "voices")
        .flat_map(|(_, v)| v.as_array().cloned().unwrap_or_default())
        .filter(|i| i["voice"] == id)
        .collect()
}

/// Install voice `id` from the catalog (a 202), and wait until the install has ended; its
/// `voices` events, in order.
pub async fn install_voice(murmurd: &Murmurd, events: &Events, id: &str) -> Vec<Value> {
    let started = murmurd
        .control(
            http::Method::POST,
            &format!("/murmur/api/voices/{id}/install"),
            None,
            None,
        )
        .await;
    assert_eq!(started.status, 202, "{id}: {:?}", started.body);
    murmurd
        .wait_for(
            &format!("{id}'s install to end"),
            std::time::Duration::from_secs(60),
            |_| {
                voice_installs(events, id)
                    .iter()
                    .any(|i| i["state"] != "downloading")
            },
        )
        .await;
    voice_installs(events, id)
}
