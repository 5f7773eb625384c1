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
        let rows = self.rows();
        let by_route = |value: fn(&Stat) -> String| -> Vec<(String, String)> {
            rows.iter()
                .map(|r| {
                    (
                        format!("{{route=\"{}\",status=\"{}\"}}", r.route, r.status),
                        value(&r.stat),
                    )
                })
                .collect()
        };
        let mut out = String::new();
        family(
            &mut out,
            "murmur_requests_total",
            "counter",
            "Requests answered, by route and status.",
            by_route(|s| s.count.to_string()),
        );
        family(
            &mut out,
            "murmur_request_duration_milliseconds_sum",
            "counter",
            "Time to the response head, summed.",
            by_route(|s| format!("{:.3}", s.total_ms)),
        );
        let single = |value: String| vec![(String::new(), value)];
        family(
            &mut out,
            "murmur_response_bytes_total",
            "counter",
            "Engine response bytes relayed to clients.",
            single(self.bytes_out().to_string()),
        );
        family(
            &mut out,
            "murmur_engine_restarts_total",
            "counter",
            "Engine restarts of every kind.",
            single(restarts.to_string()),
        );
        family(
            &mut out,
            "murmur_engine_crashes",
            "gauge",
            "Crashes counted against the restart budget.",
            single(crashes.to_string()),
        );
        out
    }
}

/// One metric family: its HELP and TYPE lines, then a sample per (labels, value).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: Vec<(String, String)>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}
