//! Deadlines that cannot overflow. A setting may ask for a very long time; adding it to "now"
//! must give "very late", never a panic (an overflowing `Instant + Duration` panics, and one
//! in the supervisor's task would leave the engine without an owner). And the wall clock as
//! the page shows it.

use std::time::Duration;

/// Far enough to mean "never" for anything Murmur waits on.
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `at + by`, or a year after `at` when that would overflow.
pub fn later(at: std::time::Instant, by: Duration) -> std::time::Instant {
    at.checked_add(by.min(FAR)).unwrap_or(at)
}

/// The same for tokio's clock.
pub fn later_tokio(at: tokio::time::Instant, by: Duration) -> tokio::time::Instant {
    at.checked_add(by.min(FAR)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_give_a_late_deadline_not_a_panic() {
        let now = std::time::Instant::now();
        let late = later(now, Duration::from_secs(u64::MAX));
        assert!(late >= now + Duration::from_secs(364 * 24 * 3600));
        let now = tokio::time::Instant::now();
        assert!(later_tokio(now, Duration::MAX) > now);
        assert_eq!(
            later(std::time::Instant::now(), Duration::from_secs(1))
                .saturating_duration_since(std::time::Instant::now())
                .as_secs(),
            0
        );
    }
}
