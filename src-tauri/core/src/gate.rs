//! The per-engine concurrency gate: at most `max_concurrent_requests` in flight, at most
//! `max_queue` waiting in arrival order (tokio's semaphore is fair), the rest turned away at
//! once so a client never waits behind an unbounded queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Returned when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

pub struct Gate {
    permits: Arc<Semaphore>,
    /// Requests waiting now (shared with whoever reports it: see [`Gate::counting`]).
    waiting: Arc<AtomicUsize>,
    max_queue: usize,
}

/// Counts a waiter for as long as it waits, even if the caller gives up.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Gate {
    pub fn new(max_concurrent: u32, max_queue: u32) -> Self {
        Self::counting(max_concurrent, max_queue, Arc::default())
    }

    /// A gate that keeps its count of waiting requests in `waiting`.
    pub fn counting(max_concurrent: u32, max_queue: u32, waiting: Arc<AtomicUsize>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1) as usize)),
            waiting,
            max_queue: max_queue as usize,
        }
    }

    /// A permit to send one request to the engine; hold it until the response is done.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, QueueFull> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(QueueFull);
        }
        let _waiting = Waiting(&self.waiting);
        self.permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_closed| QueueFull)
    }
}
