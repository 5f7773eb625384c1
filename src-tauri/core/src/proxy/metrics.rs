//! Request counts and latency by route and status, and bytes sent back to clients: what
//! `/murmur/api/metrics` reports (JSON, or Prometheus text).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Shared by the request log (counts, latency) and the relay (bytes).
#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<(&'static str, u16), Stat>>,
    bytes_out: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Stat {
    pub count: u64,
    pub total_ms: f64,
    pub max_ms: f64,
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
        p if p.starts_with("/murmur/api/") => "/murmur/api",
        p if p.starts_with("/murmur") => "/murmur",
        _ => "other",
    }
}

impl Metrics {
    pub fn record(&self, path: &str, status: u16, ms: f64) {
        let mut routes = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stat = routes.entry((route(path), status)).or_default();
        stat.count += 1;
        stat.total_ms += ms;
        stat.max_ms = stat.max_ms.max(ms);
    }

    pub fn sent(&self, bytes: u64) {
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn rows(&self) -> Vec<Row> {
        let routes = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        routes
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

    /// The Prometheus text exposition format.
    pub fn prometheus(&self, restarts: u32, crashes: u32) -> String {
        let mut out = String::new();
        let rows = self.rows();
        let _ = writeln!(
            out,
            "# HELP murmur_requests_total Requests answered, by route and status."
        );
        let _ = writeln!(out, "# TYPE murmur_requests_total counter");
        for row in &rows {
            let _ = writeln!(
                out,
                "murmur_requests_total{{route=\"{}\",status=\"{}\"}} {}",
                row.route, row.status, row.stat.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP murmur_request_duration_milliseconds_sum Time to the response head, summed."
        );
        let _ = writeln!(
            out,
            "# TYPE murmur_request_duration_milliseconds_sum counter"
        );
        for row in &rows {
            let _ = writeln!(
                out,
                "murmur_request_duration_milliseconds_sum{{route=\"{}\",status=\"{}\"}} {:.3}",
                row.route, row.status, row.stat.total_ms
            );
        }
        let _ = writeln!(
            out,
            "# HELP murmur_response_bytes_total Engine response bytes relayed to clients."
        );
        let _ = writeln!(out, "# TYPE murmur_response_bytes_total counter");
        let _ = writeln!(out, "murmur_response_bytes_total {}", self.bytes_out());
        let _ = writeln!(
            out,
            "# HELP murmur_engine_restarts_total Engine restarts of every kind."
        );
        let _ = writeln!(out, "# TYPE murmur_engine_restarts_total counter");
        let _ = writeln!(out, "murmur_engine_restarts_total {restarts}");
        let _ = writeln!(
            out,
            "# HELP murmur_engine_crashes Crashes counted against the restart budget."
        );
        let _ = writeln!(out, "# TYPE murmur_engine_crashes gauge");
        let _ = writeln!(out, "murmur_engine_crashes {crashes}");
        out
    }
}
