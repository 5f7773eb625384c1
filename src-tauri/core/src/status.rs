//! The status snapshot: one serde type read by the control API, the page and the tray.
//!
//! The supervisor is its only writer (through a `tokio::sync::watch` channel); everything in
//! it is derived from real events — exit statuses, probe results, process memory — never set
//! from outside.

use serde::{Deserialize, Serialize};

use crate::problem::{Problem, Stage};

/// What the engine is doing. Serialised flat into [`Status`] as `"state": "ready"` plus the
/// variant's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    Stopped,
    Provisioning,
    Starting,
    Ready,
    /// Running, but health probes are failing.
    Unhealthy,
    /// Waiting to restart after a crash.
    Backoff {
        attempt: u32,
        /// Milliseconds until the restart.
        in_ms: u64,
    },
    /// Unloaded after inactivity; the next request wakes it.
    Idle,
    Stopping,
    /// Gave up; a manual restart or a settings change clears it.
    Failed {
        reason: String,
    },
}

impl State {
    /// The `state` string alone.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Provisioning => "provisioning",
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Unhealthy => "unhealthy",
            Self::Backoff { .. } => "backoff",
            Self::Idle => "idle",
            Self::Stopping => "stopping",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Everything a user may want to know about the engine, at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    #[serde(flatten)]
    pub state: State,
    pub engine: EngineInfo,
    pub restarts: Restarts,
    pub health: Health,
    pub memory: Memory,
    pub warmup: Warmup,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Something to know about the engine's Python (a system interpreter, a failed update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_note: Option<String>,
    /// Every engine Murmur has, each in this same shape with its capability, in the order
    /// the page shows them (speech first; its fields are also the top level's). Empty inside
    /// an entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engines: Vec<Listed>,
    /// The transcription engine's entry of `engines`, where clients before the list read it
    /// (kept for one release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcription: Option<Box<Status>>,
    /// Live sessions (`/v1/realtime`) open now: the transcription engine's entry says it, and
    /// only when there are some.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub live_sessions: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One engine in [`Status::engines`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    /// `speech`, `transcription`.
    pub capability: String,
    #[serde(flatten)]
    pub status: Status,
}

impl Status {
    /// The status of the engine for `capability` (`speech`, `transcription`), unless that
    /// capability is off.
    pub fn of(&self, capability: &str) -> Option<&Status> {
        self.engines
            .iter()
            .find(|e| e.capability == capability)
            .map(|e| &e.status)
    }

    /// Murmur's status: the first engine's at the top level, and the list of all of them.
    pub fn of_engines(engines: Vec<Listed>) -> Option<Self> {
        let mut status = engines.first()?.status.clone();
        status.transcription = engines
            .iter()
            .find(|e| e.capability == "transcription")
            .map(|e| Box::new(e.status.clone()));
        status.engines = engines;
        Some(status)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EngineInfo {
    pub id: String,
    pub name: String,
    /// The model and voice requests get when they name none.
    pub model: Option<String>,
    pub voice: Option<String>,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    /// Unix time in seconds.
    pub started_at: Option<u64>,
    pub uptime_secs: Option<u64>,
    /// The steps of its warm-up, in order (what the page's warm-up card lists).
    #[serde(default)]
    pub steps: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Restarts {
    /// Every restart: crashes, failed health, manual.
    pub total: u32,
    /// Crashes counted against `max`; reset after `healthy_reset_secs` of healthy running.
    pub crashes: u32,
    pub max: u32,
    /// How the last engine process ended, in words.
    pub last_exit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Health {
    /// Unix time in seconds of the last successful probe.
    pub last_ok_at: Option<u64>,
    pub latency_ms: Option<f64>,
    pub consecutive_failures: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Memory {
    pub system_available_mb: Option<u64>,
    /// The engine and all its descendants.
    pub engine_rss_mb: Option<u64>,
    /// Set when available memory is below what the engine is expected to need.
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Warmup {
    /// The step under way.
    pub stage: Option<Stage>,
    pub done: Option<u64>,
    pub total: Option<u64>,
    pub unit: Option<Unit>,
    pub message: Option<String>,
}

/// What a warm-up's `done` and `total` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Packages,
    Bytes,
}

impl Status {
    /// The status of an engine that has not been started.
    pub fn stopped(id: &str, name: &str, max_restarts: u32) -> Self {
        Self {
            state: State::Stopped,
            engine: EngineInfo {
                id: id.into(),
                name: name.into(),
                ..EngineInfo::default()
            },
            restarts: Restarts {
                max: max_restarts,
                ..Restarts::default()
            },
            health: Health::default(),
            memory: Memory::default(),
            warmup: Warmup::default(),
            error: None,
            runtime_note: None,
            engines: Vec::new(),
            transcription: None,
            live_sessions: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_a_flat_snake_case_field() {
        let mut status = Status::stopped("custom", "Custom server", 3);
        status.state = State::Backoff {
            attempt: 2,
            in_ms: 1500,
        };
        let json = serde_json::to_value(&status).expect("serialises");
        assert_eq!(json["state"], "backoff");
        assert_eq!(json["attempt"], 2);
        assert_eq!(json["restarts"]["max"], 3);
        assert_eq!(json["engine"]["id"], "custom");
        assert!(json.get("error").is_none());
    }

    /// What the API sends reads back as the same status (clients and tests compare typed
    /// values, not JSON with string literals).
    #[test]
    fn a_status_reads_back_as_it_was_sent() {
        let mut status = Status::stopped("piper", "Piper", 3);
        status.state = State::Failed {
            reason: "it crashed".into(),
        };
        status.error = Some(
            Problem::new("the model is missing")
                .hint("restart it")
                .at(Stage::Model),
        );
        status.warmup.unit = Some(Unit::Bytes);
        let mut transcription = Status::stopped("whisper", "Whisper", 5);
        transcription.state = State::Backoff {
            attempt: 1,
            in_ms: 200,
        };
        transcription.engine.model = Some("base".into());
        let status = Status::of_engines(vec![
            Listed {
                capability: "speech".into(),
                status,
            },
            Listed {
                capability: "transcription".into(),
                status: transcription.clone(),
            },
        ])
        .expect("two engines");
        assert_eq!(status.of("transcription"), Some(&transcription));
        assert_eq!(status.transcription.as_deref(), Some(&transcription));
        let sent = serde_json::to_string(&status).expect("serialises");
        let read: Status = serde_json::from_str(&sent).expect("deserialises");
        assert_eq!(read, status);
        let json: serde_json::Value = serde_json::from_str(&sent).expect("JSON");
        assert_eq!(json["engines"][1]["capability"], "transcription");
        assert_eq!(json["engines"][1]["state"], "backoff");
        assert_eq!(json["engines"][0]["state"], "failed");
    }
}
