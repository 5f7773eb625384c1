//! Request counts and latency by route and status, and bytes sent back to clients: what
//! `/murmur/api/metrics` reports (JSON, or Prometheus text).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod exposition;
mod live;

pub use live::{LiveMetrics, Open};

use exposition::Durations;
use serde::Serialize;

/// Shared by the request log (counts, latency) and the relay (bytes).
#[derive(Default)]
pub struct Metrics {
    /// What every answered request counts, under one lock.
    routes: Mutex<Routes>,
    /// The last client requests, newest last (the page's activity view).
    recent: Mutex<VecDeque<Recent>>,
    /// Seconds of engine time per second of audio, by transcription model, from its last
    /// transcription in this run (the model catalog's "speed on this machine").
    speeds: Mutex<BTreeMap<String, f64>>,
    bytes_out: AtomicU64,
    /// Requests waiting for the engine's gate now (the gate counts them).
    queued: Arc<AtomicUsize>,
    /// Client requests (not Murmur's own `/murmur/` routes) arrived and not yet answered
    /// in full.
    in_progress: AtomicUsize,
    /// Live transcription sessions.
    pub live: LiveMetrics,
}

/// Answered requests by route: one lock for each request's counting, where the JSON view and
/// Prometheus's families (each with a lock and a hash of its labels per request) were three.
#[derive(Default)]
struct Routes {
    /// By (route, status): the JSON view's rows, and Prometheus's request counts.
    stats: BTreeMap<(&'static str, u16), Stat>,
    /// By route: Prometheus's latency histogram.
    durations: BTreeMap<&'static str, Durations>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Stat {
    pub count: u64,
    pub total_ms: f64,
    pub max_ms: f64,
}

/// How many finished client requests [`Metrics::recent`] keeps.
pub const RECENT: usize = 50;

/// A client request, once its response has been sent or abandoned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recent {
    /// Unix time in milliseconds when it arrived.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The audio format sent, for speech.
    pub format: Option<&'static str>,
    /// The client's `User-Agent` (at most 120 characters).
    pub agent: String,
    pub first_byte_ms: Option<f64>,
    pub total_ms: f64,
    pub bytes: u64,
    /// The client took the whole response (else it went away first).
    pub complete: bool,
    /// What a transcription transcribed: the audio's length and the format it came in.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub transcribed: Option<TranscribedAudio>,
}

/// What a transcription request carried, set by its handler as a response extension (the
/// request log reads it, as it reads speech's [`crate::audio::Format`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TranscribedAudio {
    /// Seconds of audio.
    pub audio_secs: f64,
    /// The format it was uploaded in (`webm`, `mp3`, …).
    pub audio_format: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub route: &'static str,
    pub status: u16,
    #[serde(flatten)]
    pub stat: Stat,
}

/// The route label of a path: the known ones by name, everything else together.
pub fn route(path: &str) -> &'static str {
    match path {
        "/v1/audio/speech" => "/v1/audio/speech",
        "/v1/models" => "/v1/models",
        "/v1/audio/voices" => "/v1/audio/voices",
        "/v1/audio/models" => "/v1/audio/models",
        "/v1/audio/transcriptions" | "/audio/transcriptions" => "/v1/audio/transcriptions",
        "/v1/audio/translations" | "/audio/translations" => "/v1/audio/translations",
        "wyoming synthesize" => "wyoming synthesize",
        "wyoming transcribe" => "wyoming transcribe",
        "/v1/realtime" | "/realtime" => "/v1/realtime",
        p if p.starts_with("/murmur/api/") => "/murmur/api",
        p if p.starts_with("/murmur") => "/murmur",
        _ => "other",
    }
}

impl Metrics {
    /// A request to `path` got a `status` after `ms` (to its response head).
    pub fn record(&self, path: &str, status: u16, ms: f64) {
        let route = route(path);
        let mut routes = self.routes();
        let stat = routes.stats.entry((route, status)).or_default();
        stat.count += 1;
        stat.total_ms += ms;
        stat.max_ms = stat.max_ms.max(ms);
        routes
            .durations
            .entry(route)
            .or_default()
            .observe(ms / 1000.0);
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keep `request` among the last [`RECENT`] (Murmur's own page and API are not kept).
    pub fn finished(&self, request: Recent) {
        if request.path.starts_with("/murmur") {
            return;
        }
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(request);
    }

    /// The last client requests, newest first.
    pub fn recent(&self) -> Vec<Recent> {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.iter().rev().cloned().collect()
    }

    /// `model` took `engine_secs` for `audio_secs` of audio (clips under a second say little
    /// about speed and are not kept).
    pub fn transcribed(&self, model: &str, audio_secs: f64, engine_secs: f64) {
        if audio_secs < 1.0 {
            return;
        }
        self.speeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(model.to_string(), engine_secs / audio_secs);
    }

    /// Engine seconds per second of audio, by model, as last measured.
    pub fn speeds(&self) -> BTreeMap<String, f64> {
        self.speeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn sent(&self, bytes: u64) {
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn rows(&self) -> Vec<Row> {
        self.routes()
            .stats
            .iter()
            .map(|(&(route, status), &stat)| Row {
                route,
                status,
                stat,
            })
            .collect()
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }

    /// A client request has arrived; it is in progress until the returned guard drops.
    pub fn begin(self: &Arc<Self>) -> InProgress {
        self.in_progress.fetch_add(1, Ordering::SeqCst);
        InProgress(self.clone())
    }

    /// Client requests arrived and not yet answered in full.
    pub fn in_progress(&self) -> usize {
        self.in_progress.load(Ordering::SeqCst)
    }

    /// The counter the speech gate keeps its waiting requests in.
    pub fn queued_counter(&self) -> Arc<AtomicUsize> {
        self.queued.clone()
    }

    /// Requests waiting for the engine now (beyond those it is answering).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }
}

/// One client request in progress (see [`Metrics::begin`]).
pub struct InProgress(Arc<Metrics>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What `prometheus()` returns.
pub const PROMETHEUS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Capability;

    #[test]
    fn a_request_is_in_progress_until_its_guard_drops_and_both_views_say_so() {
        let metrics = Arc::new(Metrics::default());
        let first = metrics.begin();
        let second = metrics.begin();
        assert_eq!(metrics.in_progress(), 2);
        drop(first);
        assert_eq!(metrics.in_progress(), 1);
        let text = metrics.prometheus(&[
            (Capability::Speech, (3, 1)),
            (Capability::Transcription, (2, 0)),
        ]);
        assert!(
            text.contains("murmur_client_requests_in_progress 1"),
            "{text}"
        );
        // Each engine's figures under its own name; speech's keep the names from before.
        assert!(text.contains("murmur_engine_restarts_total 3"), "{text}");
        assert!(text.contains("murmur_engine_crashes 1"), "{text}");
        assert!(
            text.contains("murmur_transcription_engine_restarts_total 2"),
            "{text}"
        );
        drop(second);
        assert_eq!(metrics.in_progress(), 0);
    }
}
