//! The OpenMetrics text exposition of [`Metrics`] (which Prometheus reads), written from the
//! counts as they are when it is asked for: the request log keeps its counts under one lock
//! ([`Metrics::record`]), not in `prometheus_client`'s families.

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Metrics;
use crate::engine::Capability;

/// The latency histogram's upper bounds in seconds, from 5 ms to ~20 s (a health check to a
/// long paragraph), doubling; a last bucket takes the rest.
const BOUNDS: [f64; 13] = [
    0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
];

/// One route's latency histogram.
#[derive(Debug, Clone, Default)]
pub(super) struct Durations {
    /// Requests by the first bound they are within (the last: beyond them all).
    counts: [u64; BOUNDS.len() + 1],
    sum_secs: f64,
}

impl Durations {
    pub(super) fn observe(&mut self, secs: f64) {
        let bucket = BOUNDS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(BOUNDS.len());
        self.counts[bucket] += 1;
        self.sum_secs += secs;
    }
}

impl Metrics {
    /// The OpenMetrics text exposition (which Prometheus reads): request counts by route and
    /// status, a latency histogram in seconds by route, bytes relayed, requests waiting,
    /// then each engine's (restarts, crashes in a row): `engine_…` for speech,
    /// `<capability>_engine_…` for the others.
    pub fn prometheus(&self, engines: &[(Capability, (u32, u32))]) -> String {
        let mut registry = Registry::with_prefix("murmur");
        let (requests, durations) = {
            let routes = self.routes();
            let requests = routes
                .stats
                .iter()
                .map(|(&(route, status), stat)| (RequestLabels { route, status }, stat.count))
                .collect();
            let durations = routes
                .durations
                .iter()
                .map(|(&route, durations)| (RouteLabels { route }, durations.clone()))
                .collect();
            (requests, durations)
        };
        registry.register(
            "requests",
            "Requests answered, by route and status",
            RequestCounts(requests),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response head, by route",
            Histograms(durations),
        );
        registry.register(
            "response_bytes",
            "Engine response bytes relayed to clients",
            ConstCounter::new(self.bytes_out()),
        );
        registry.register(
            "client_requests_in_progress",
            "Client requests arrived and not yet answered in full",
            ConstGauge::new(self.in_progress() as i64),
        );
        registry.register(
            "queued_requests",
            "Requests waiting for the engine now",
            ConstGauge::new(self.queued() as i64),
        );
        self.live.register(&mut registry);
        for &(capability, (restarts, crashes)) in engines {
            let prefix = match capability {
                Capability::Speech => String::new(),
                other => format!("{}_", other.as_str()),
            };
            let noun = capability.noun();
            let noun = format!("{}{}", noun[..1].to_uppercase(), &noun[1..]);
            registry.register(
                format!("{prefix}engine_restarts"),
                format!("{noun} restarts of every kind"),
                ConstCounter::new(u64::from(restarts)),
            );
            registry.register(
                format!("{prefix}engine_crashes"),
                format!("{noun} crashes in a row, counted against the restart budget"),
                ConstGauge::new(i64::from(crashes)),
            );
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// Requests answered, by their labels: a counter family.
#[derive(Debug)]
struct RequestCounts(Vec<(RequestLabels, u64)>);

impl EncodeMetric for RequestCounts {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, count) in &self.0 {
            encoder
                .encode_family(labels)?
                .encode_counter::<NoLabelSet, _, u64>(count, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Latency histograms, by their labels: a histogram family.
#[derive(Debug)]
struct Histograms(Vec<(RouteLabels, Durations)>);

impl EncodeMetric for Histograms {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, durations) in &self.0 {
            let buckets: Vec<(f64, u64)> = BOUNDS
                .into_iter()
                .chain([f64::INFINITY])
                .zip(durations.counts)
                .collect();
            let count = durations.counts.iter().sum();
            encoder
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(durations.sum_secs, count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_counts_in_the_first_bucket_it_is_within() {
        let mut durations = Durations::default();
        for secs in [0.001, 0.005, 0.0051, 20.48, 60.0] {
            durations.observe(secs);
        }
        assert_eq!(durations.counts[0], 2, "up to 5 ms, 5 ms included");
        assert_eq!(durations.counts[1], 1);
        assert_eq!(
            durations.counts[BOUNDS.len() - 1],
            1,
            "up to the last bound"
        );
        assert_eq!(durations.counts[BOUNDS.len()], 1, "beyond every bound");
        assert!((durations.sum_secs - 80.4911).abs() < 1e-9);
    }
}
