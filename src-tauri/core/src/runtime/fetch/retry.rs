//! How hard a download tries: attempts, backoff, the stall time.

use std::future::Future;
use std::time::Duration;

/// How hard to try.
#[derive(Debug, Clone)]
pub struct DownloadPolicy {
    /// Abort an attempt when no byte arrives for this long.
    pub stall_timeout: Duration,
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        Self {
            stall_timeout: Duration::from_secs(30),
            attempts: 3,
            first_backoff: Duration::from_millis(500),
        }
    }
}

pub(crate) async fn retry<T, E: std::fmt::Display, F, Fut>(
    policy: &DownloadPolicy,
    attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_unless(policy, |_| false, attempt).await
}

/// [`retry`], except that an error `is_final` says is final is returned at once (a source that
/// sends too much, or the wrong thing, will do it again).
pub(crate) async fn retry_unless<T, E: std::fmt::Display, F, Fut>(
    policy: &DownloadPolicy,
    is_final: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = policy.first_backoff;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if tries < policy.attempts && !is_final(&e) => {
                tracing::warn!(
                    "download attempt {tries} failed ({e}); retrying in {} ms",
                    backoff.as_millis()
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}
