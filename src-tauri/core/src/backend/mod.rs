//! The proxy's view of the engine: "make it ready, then tell me where it is".
//!
//! [`Backend`] is the seam between the proxy and whatever runs the engine: an external server
//! ([`external`]), the engine supervisor, or a stand-in in tests.
//! [`SingleFlight`] is the de-duplication every backend wants: however many requests arrive
//! while the engine is cold, one start attempt runs, and all of them get its outcome.

pub mod external;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::problem::Problem;

/// Where a ready engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port`, e.g. `127.0.0.1:40123`.
    pub authority: http::uri::Authority,
    /// Reached over TLS (an external server at an `https://` URL).
    pub tls: bool,
    /// The `Host` header a forwarded request carries: the authority, made once.
    host: http::HeaderValue,
}

impl Upstream {
    /// Plain HTTP: every engine Murmur runs, on loopback.
    pub fn new(authority: http::uri::Authority) -> Self {
        Self::with_tls(authority, false)
    }

    /// Over TLS.
    pub fn tls(authority: http::uri::Authority) -> Self {
        Self::with_tls(authority, true)
    }

    fn with_tls(authority: http::uri::Authority, tls: bool) -> Self {
        let host = http::HeaderValue::from_str(authority.as_str())
            .expect("invariant: an authority's characters are all valid in a header value");
        Self {
            authority,
            tls,
            host,
        }
    }

    /// The `Host` header for a request to it.
    pub fn host(&self) -> &http::HeaderValue {
        &self.host
    }

    pub fn scheme(&self) -> http::uri::Scheme {
        if self.tls {
            http::uri::Scheme::HTTPS
        } else {
            http::uri::Scheme::HTTP
        }
    }

    /// The `http(s)://host:port` base URL.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.authority)
    }
}

/// What the proxy needs from the thing that runs the engine.
pub trait Backend: Send + Sync + 'static {
    /// Resolve when the engine can take requests, starting it if needed. Concurrent callers
    /// share one start attempt.
    fn ensure_ready(&self) -> BoxFuture<'_, Result<Upstream, Problem>>;

    /// Where to forward a request that does not wait for readiness, if anything is running.
    fn current(&self) -> Option<Upstream>;

    /// The proxy could not connect to `upstream`: it is probably gone.
    fn report_unreachable(&self, upstream: &Upstream);

    /// A speech request to `upstream` got no audio for `waited` (the engine is stuck).
    /// Default: nothing (an engine Murmur does not manage cannot be restarted).
    fn report_hung(&self, _upstream: &Upstream, _waited: Duration) {}

    /// Whether the engine is ready right now (for `/murmur/readyz`).
    fn is_ready(&self) -> bool;

    /// A request that uses the engine begins; it lasts until the returned [`Activity`] is
    /// dropped (after its response body has been sent), and the engine is not idle meanwhile.
    /// Default: nothing is counted.
    fn activity(&self) -> Activity {
        Activity::none()
    }
}

type Attempt = Shared<BoxFuture<'static, Result<Upstream, Problem>>>;

#[derive(Default)]
enum Flight {
    #[default]
    Cold,
    Starting(Attempt),
    Ready(Upstream),
}

/// One start attempt at a time, shared by every caller; a failure is not cached, so the next
/// call tries again.
#[derive(Default, Clone)]
pub struct SingleFlight {
    state: Arc<Mutex<Flight>>,
}

impl SingleFlight {
    /// The ready upstream, or the outcome of the attempt in progress, or of a new attempt made
    /// by `start`. The attempt runs on its own task, so callers that give up (a client that
    /// disconnects) do not cancel it for the others.
    pub async fn run<F>(&self, start: F) -> Result<Upstream, Problem>
    where
        F: FnOnce() -> BoxFuture<'static, Result<Upstream, Problem>>,
    {
        let attempt = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match &*state {
                Flight::Ready(upstream) => return Ok(upstream.clone()),
                Flight::Starting(attempt) => attempt.clone(),
                Flight::Cold => {
                    let task = tokio::spawn(start());
                    let attempt = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(Problem::new(format!(
                                "the engine start was interrupted: {e}"
                            )))
                        })
                    }
                    .boxed()
                    .shared();
                    *state = Flight::Starting(attempt.clone());
                    attempt
                }
            }
        };
        let outcome = attempt.clone().await;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Flight::Starting(current) = &*state
            && current.ptr_eq(&attempt)
        {
            *state = match &outcome {
                Ok(upstream) => Flight::Ready(upstream.clone()),
                Err(_) => Flight::Cold,
            };
        }
        outcome
    }

    /// The upstream if ready, without waiting.
    pub fn ready(&self) -> Option<Upstream> {
        match &*self.state.lock().unwrap_or_else(PoisonError::into_inner) {
            Flight::Ready(upstream) => Some(upstream.clone()),
            _ => None,
        }
    }

    /// Forget a ready upstream if it is `upstream`, so the next call starts again.
    pub fn invalidate(&self, upstream: &Upstream) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(&*state, Flight::Ready(current) if current == upstream) {
            *state = Flight::Cold;
        }
    }
}

/// Held while a request uses the engine (see [`Backend::activity`]).
pub struct Activity(#[allow(dead_code)] Option<Box<dyn Send + Sync>>);

impl Activity {
    pub fn none() -> Self {
        Self(None)
    }

    /// `held` is dropped when the activity ends.
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        Self(Some(Box::new(held)))
    }
}

/// `response` with `activity` held until its body has been sent (or dropped).
pub fn hold(response: axum::response::Response, activity: Activity) -> axum::response::Response {
    response.map(|inner| {
        axum::body::Body::new(Held {
            inner,
            _activity: activity,
        })
    })
}

struct Held {
    inner: axum::body::Body,
    _activity: Activity,
}

impl http_body::Body for Held {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn upstream() -> Upstream {
        Upstream::new("127.0.0.1:1".parse().expect("authority"))
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_attempt_and_failures_are_retried() {
        let flight = SingleFlight::default();
        let starts = Arc::new(AtomicUsize::new(0));
        let run = |fail: bool| {
            let flight = flight.clone();
            let starts = starts.clone();
            async move {
                flight
                    .run(move || {
                        async move {
                            starts.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            if fail {
                                Err(Problem::new("boom"))
                            } else {
                                Ok(upstream())
                            }
                        }
                        .boxed()
                    })
                    .await
            }
        };

        let failures = futures_util::future::join_all((0..20).map(|_| run(true))).await;
        assert!(
            failures
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.message == "boom"))
        );
        assert_eq!(starts.load(Ordering::SeqCst), 1);

        let successes = futures_util::future::join_all((0..20).map(|_| run(false))).await;
        assert!(successes.iter().all(Result::is_ok));
        assert_eq!(starts.load(Ordering::SeqCst), 2, "a failure is not cached");
        run(false).await.expect("ready");
        assert_eq!(starts.load(Ordering::SeqCst), 2, "ready is cached");

        flight.invalidate(&upstream());
        run(false).await.expect("ready again");
        assert_eq!(
            starts.load(Ordering::SeqCst),
            3,
            "invalidation starts again"
        );
    }
}
