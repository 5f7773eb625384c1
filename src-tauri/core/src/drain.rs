//! Stopping gracefully: once Murmur is told to stop, it takes no new connections, and what is
//! in flight — requests, and live sessions, which outlive the HTTP connection they came on —
//! finishes within the drain time before the engines stop.
//!
//! A [`Drain`] is the server's side: it says when stopping begins and waits for everything
//! held to be let go. A [`Lifeline`] is what a live session carries: it holds the drain open
//! while the session lives and tells the session when Murmur is stopping.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// The server's side of a graceful stop.
pub struct Drain {
    open: mpsc::Sender<()>,
    all_closed: mpsc::Receiver<()>,
    stopping: watch::Sender<bool>,
}

/// What is in flight holds one of these; the drain waits until every one is dropped.
#[must_use]
pub struct Held(#[allow(dead_code)] mpsc::Sender<()>);

/// A live session's view of the drain: hold it open, and hear when stopping begins.
#[derive(Clone)]
pub struct Lifeline {
    open: Option<mpsc::WeakSender<()>>,
    stopping: Option<watch::Receiver<bool>>,
}

impl Drain {
    pub fn new() -> Self {
        let (open, all_closed) = mpsc::channel(1);
        let (stopping, _) = watch::channel(false);
        Self {
            open,
            all_closed,
            stopping,
        }
    }

    /// For what lives beyond a connection (live sessions): it holds the drain only while it
    /// asks to.
    pub fn lifeline(&self) -> Lifeline {
        Lifeline {
            open: Some(self.open.downgrade()),
            stopping: Some(self.stopping.subscribe()),
        }
    }

    /// Hold the drain open (a connection being served).
    pub fn hold(&self) -> Held {
        Held(self.open.clone())
    }

    /// Begin stopping, and wait at most `within` for everything held to be let go. Returns
    /// whether it all finished in time.
    pub async fn stop(self, within: Duration) -> bool {
        let Self {
            open,
            mut all_closed,
            stopping,
        } = self;
        stopping.send_replace(true);
        drop(open);
        tokio::time::timeout(within, all_closed.recv())
            .await
            .is_ok()
    }
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifeline {
    /// A lifeline to no server (tests of the proxy alone): it holds nothing and never stops.
    pub fn detached() -> Self {
        Self {
            open: None,
            stopping: None,
        }
    }

    /// Hold the drain open while the returned value lives (`None` once stopping has ended).
    pub fn hold(&self) -> Option<Held> {
        self.open.as_ref()?.upgrade().map(Held)
    }

    /// Resolves once Murmur is stopping (or the server is gone without saying so); never,
    /// for a detached lifeline.
    pub async fn stopped(&mut self) {
        match &mut self.stopping {
            Some(stopping) => {
                let _ = stopping.wait_for(|stopping| *stopping).await;
            }
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_drain_waits_for_what_is_held_and_tells_the_lifelines() {
        let drain = Drain::new();
        let mut lifeline = drain.lifeline();
        let held = lifeline.hold().expect("held while serving");
        let connection = drain.hold();
        let (told_tx, told) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            lifeline.stopped().await;
            let _ = told_tx.send(());
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        });
        drop(connection);
        let stopping = tokio::spawn(drain.stop(Duration::from_secs(5)));
        told.await.expect("the session heard");
        assert!(stopping.await.expect("joined"), "finished in time");
    }

    #[tokio::test]
    async fn what_is_still_held_after_the_drain_time_is_reported() {
        let drain = Drain::new();
        let held = drain.lifeline().hold();
        assert!(!drain.stop(Duration::from_millis(50)).await);
        drop(held);
    }

    #[tokio::test]
    async fn a_detached_lifeline_holds_nothing() {
        assert!(Lifeline::detached().hold().is_none());
        let mut detached = Lifeline::detached();
        let stopped = tokio::time::timeout(Duration::from_millis(20), detached.stopped()).await;
        assert!(stopped.is_err(), "never stops");
    }
}
