//! Taking connections without being exhausted by them, for every listener Murmur has (HTTP and
//! Wyoming): a connection slot is taken *before* a connection is accepted, so at the cap new
//! connections wait in the kernel's queue and cost Murmur nothing; an accept that fails (out of
//! file descriptors) backs off instead of spinning, and is logged once per burst, as is any
//! other refusal a hostile client can repeat at will ([`Throttle`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The first pause after a failed accept; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts connections on one listener under a cap.
pub struct Acceptor {
    /// What the log calls this listener ("wyoming").
    name: &'static str,
    slots: Arc<Semaphore>,
    failures: Throttle,
}

impl Acceptor {
    pub fn new(name: &'static str, max_connections: usize) -> Self {
        Self {
            name,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            failures: Throttle::new(Duration::from_secs(10)),
        }
    }

    /// The next connection and the slot it holds (dropped when the connection ends). Waits for
    /// a free slot first, then for a connection; failed accepts are retried after a pause.
    pub async fn accept(
        &mut self,
        listener: &TcpListener,
    ) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("invariant: the acceptor never closes its semaphore");
        let mut backoff = FIRST_BACKOFF;
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => return (stream, peer, slot),
                Err(e) => {
                    if let Some(more) = self.failures.allow() {
                        tracing::warn!(
                            listener = self.name,
                            also_failed = more,
                            "cannot accept a connection: {e}; pausing before the next"
                        );
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// Lets a repeated event be logged once per `window`, counting the ones passed over, so that
/// what a client can repeat thousands of times a second costs the log one line a window.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    last: Option<Instant>,
    passed_over: u64,
}

impl Throttle {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last: None,
            passed_over: 0,
        }
    }

    /// `Some(n)` when this one may be logged, `n` being how many were passed over since the
    /// last that was; `None` when it is to be passed over.
    pub fn allow(&mut self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.window => {
                self.passed_over += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.passed_over))
            }
        }
    }
}

/// A [`Throttle`] shared by the tasks of one listener.
pub type SharedThrottle = Arc<std::sync::Mutex<Throttle>>;

/// Whether `throttle` lets this one be logged (see [`Throttle::allow`]).
pub fn allow(throttle: &SharedThrottle) -> Option<u64> {
    throttle.lock().ok()?.allow()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_once_a_window_with_the_count_passed_over() {
        let mut throttle = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(throttle.allow_at(start), Some(0));
        for ms in 1..=500 {
            assert_eq!(throttle.allow_at(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(
            throttle.allow_at(start + Duration::from_secs(11)),
            Some(500)
        );
        assert_eq!(throttle.allow_at(start + Duration::from_secs(12)), None);
    }

    #[tokio::test]
    async fn at_the_cap_a_connection_waits_unaccepted_until_a_slot_frees() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut acceptor = Acceptor::new("test", 1);
        let _first_client = TcpStream::connect(addr).await.expect("connect");
        let (_first, _, slot) = acceptor.accept(&listener).await;
        let _second_client = TcpStream::connect(addr).await.expect("connect");
        let waiting =
            tokio::time::timeout(Duration::from_millis(200), acceptor.accept(&listener)).await;
        assert!(
            waiting.is_err(),
            "no second connection while the slot is held"
        );
        drop(slot);
        let second = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(&listener)).await;
        assert!(second.is_ok(), "taken once the slot is free");
    }
}
