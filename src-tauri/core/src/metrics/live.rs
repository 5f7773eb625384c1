//! Live sessions' figures: how many are open (and the cap's admission), how many there have
//! been, the audio they carried, and how soon their first words came.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug)]
pub struct LiveMetrics {
    open: Arc<AtomicUsize>,
    sessions: Counter,
    turns: Counter,
    audio_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    first_delta: Histogram,
}

impl Default for LiveMetrics {
    fn default() -> Self {
        Self {
            open: Arc::default(),
            sessions: Counter::default(),
            turns: Counter::default(),
            audio_seconds: Counter::default(),
            // 50 ms to ~25 s.
            first_delta: Histogram::new(exponential_buckets(0.05, 2.0, 10)),
        }
    }
}

/// One open session; it is counted until dropped.
#[derive(Debug)]
pub struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LiveMetrics {
    /// Admit a session if fewer than `max` are open.
    pub fn open(&self, max: usize) -> Option<Open> {
        self.open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        self.sessions.inc();
        Some(Open(self.open.clone()))
    }

    /// Sessions open now.
    pub fn open_now(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Audio a session received, in seconds.
    pub fn heard(&self, seconds: f64) {
        self.audio_seconds.inc_by(seconds);
    }

    /// A turn transcribed.
    pub fn turn(&self) {
        self.turns.inc();
    }

    /// A turn's first words came `seconds` after its speech began.
    pub fn first_delta(&self, seconds: f64) {
        self.first_delta.observe(seconds);
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "live_sessions_open",
            "Live transcription sessions open now",
            ConstGauge::new(self.open_now() as i64),
        );
        registry.register(
            "live_sessions",
            "Live transcription sessions opened",
            self.sessions.clone(),
        );
        registry.register(
            "live_turns",
            "Turns transcribed in live sessions",
            self.turns.clone(),
        );
        registry.register(
            "live_audio_seconds",
            "Seconds of audio live sessions received",
            self.audio_seconds.clone(),
        );
        registry.register(
            "live_first_delta_seconds",
            "Time from the start of a turn's speech to its first words",
            self.first_delta.clone(),
        );
    }
}
