//! The header timeout, kept per connection: a connection that sends no complete request head
//! within `header_timeout` of opening, or of its last answer, is closed — a client that says
//! nothing, a slowloris trickling its headers, a kept-alive connection gone quiet.
//!
//! One timer per connection, re-armed at most once per timeout, instead of hyper's
//! `header_read_timeout`, which arms one for every request head: on a daemon with no other
//! timer that soon, each arming wakes tokio's timer driver (a write to its eventfd and an
//! extra turn of the event loop for every request).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use futures_util::FutureExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::front::Front;
use crate::request_log::{Busy, UntilSent};

/// Whether a connection is answering a request, and since when it has not been.
pub(super) struct Pace {
    opened: Instant,
    /// Requests whose answer is not yet sent (HTTP/1: at most one).
    answering: AtomicUsize,
    /// When the last answer was sent, in milliseconds after `opened`.
    idle_since_ms: AtomicU64,
}

impl Pace {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            answering: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    /// Since when the connection has waited for a request; `None` while it answers one.
    fn idle_since(&self) -> Option<Instant> {
        (self.answering.load(Ordering::SeqCst) == 0)
            .then(|| self.opened + Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst)))
    }

    /// Resolves once the connection has waited `timeout` for a request head.
    ///
    /// Polled after the connection in the same task (`select!` with `biased`): a head that
    /// has arrived has been handed to the service, and counts as a request, before this looks.
    pub(super) async fn expired(&self, timeout: Duration) {
        let mut at = self.opened + timeout;
        loop {
            tokio::time::sleep_until(at).await;
            match self.idle_since() {
                None => at = Instant::now() + timeout,
                Some(since) if since + timeout <= Instant::now() => return,
                Some(since) => at = since + timeout,
            }
        }
    }
}

/// A request's answer has been sent: the connection waits for the next from now.
impl Busy for Pace {
    fn done(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.idle_since_ms.store(now, Ordering::SeqCst);
        self.answering.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What serves one connection: the front door, with the connection's pace kept (a request
/// holds it busy until its answer has been sent: see [`UntilSent`]).
pub(super) struct Paced {
    pub(super) front: Front,
    pub(super) pace: Arc<Pace>,
}

impl hyper::service::Service<http::Request<Incoming>> for Paced {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        self.pace.answering.fetch_add(1, Ordering::SeqCst);
        let until_sent = UntilSent::new(self.pace.clone());
        let front = self.front.clone();
        boxed_in_place(move || {
            front
                .answer_holding(request.map(Body::new), Some(until_sent))
                .map(Ok)
        })
    }
}

/// The future `make` makes, made in its box: `Box::pin(future)` makes it on the stack and
/// copies all of it, kilobytes of which nothing has been written to yet, into the box (a
/// fifth of the data-cache misses a forwarded request had; callgrind).
#[inline(always)]
fn boxed_in_place<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}
