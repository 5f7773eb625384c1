//! The actor's seam to the operating system: start a process, signal its group, probe its
//! port. [`SystemHost`] is the real one; the actor's unit tests put a scripted one in its
//! place, and with tokio's paused clock every state transition runs in microseconds and in
//! the same order every time.

use std::process::ExitStatus;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::AsyncBufRead;
use tokio::time::Instant;

use super::process::{self, Signal, SpawnError};
use crate::engine::Launch;
use crate::http_client::{self, HttpClient, NoAudio, Probe};
use crate::port_owner::Holder;

/// A started engine process.
pub(crate) struct Child {
    pub pid: u32,
    /// Resolves when the process has exited.
    pub exited: BoxFuture<'static, std::io::Result<ExitStatus>>,
    /// Its stdout and stderr, read line by line into the engine log.
    pub output: Vec<Box<dyn AsyncBufRead + Send + Unpin>>,
    /// Held while it runs: the launcher's stdin pipe (the engine exits when it closes).
    pub lifeline: Option<Box<dyn Send + Sync>>,
}

/// What to probe: `url` on the engine's `port`, whose process group is `group`.
pub(crate) struct ProbeTarget {
    pub url: String,
    pub port: u16,
    pub group: u32,
    pub timeout: Duration,
}

/// A speech request to send an engine before it is called ready.
pub(crate) struct FirstWordsTarget {
    pub url: String,
    pub port: u16,
    /// The engine's process group: the text goes nowhere else.
    pub group: u32,
    pub body: bytes::Bytes,
    pub timeout: Duration,
}

/// Where engines run.
pub(crate) trait Host: Send + Sync + 'static {
    fn spawn(&self, launch: &Launch) -> Result<Child, SpawnError>;
    /// Signal every process in the group led by `pgid`; `false` when none is left.
    fn signal(&self, pgid: u32, signal: Signal) -> bool;
    /// Ask the engine whether it is up; answers with how long the answer took.
    fn probe(&self, target: ProbeTarget) -> BoxFuture<'static, (Probe, Duration)>;
    /// Ask the engine to speak; answers with how many bytes of audio came back.
    fn ask_first_words(
        &self,
        target: FirstWordsTarget,
    ) -> BoxFuture<'static, Result<usize, NoAudio>>;
}

/// Real processes and real HTTP.
pub(crate) struct SystemHost {
    client: HttpClient,
}

impl SystemHost {
    pub fn new(client: HttpClient) -> Self {
        Self { client }
    }
}

impl Host for SystemHost {
    fn spawn(&self, launch: &Launch) -> Result<Child, SpawnError> {
        let spawned = process::spawn(launch, None)?;
        let mut child = spawned.child;
        let lifeline = child
            .stdin
            .take()
            .map(|stdin| Box::new(stdin) as Box<dyn Send + Sync>);
        let mut output: Vec<Box<dyn AsyncBufRead + Send + Unpin>> = Vec::new();
        if let Some(out) = child.stdout.take() {
            output.push(Box::new(tokio::io::BufReader::new(out)));
        }
        if let Some(err) = child.stderr.take() {
            output.push(Box::new(tokio::io::BufReader::new(err)));
        }
        Ok(Child {
            pid: spawned.pid,
            exited: Box::pin(async move { child.wait().await }),
            output,
            lifeline,
        })
    }

    fn signal(&self, pgid: u32, signal: Signal) -> bool {
        process::signal_group(pgid, signal)
    }

    fn probe(&self, target: ProbeTarget) -> BoxFuture<'static, (Probe, Duration)> {
        let client = self.client.clone();
        Box::pin(async move {
            let ProbeTarget {
                url,
                port,
                group,
                timeout,
            } = target;
            // An answer counts only from the engine's own process group: the port number is
            // in the engine's command line, and another local process could bind it first.
            // Probed only once the engine's group is seen listening (nothing is ever sent to
            // a stranger), and checked again after the answer.
            match holder(port, group).await {
                Holder::Other(other) => (Probe::Foreign(describe(port, &other)), Duration::ZERO),
                Holder::Nobody => (
                    Probe::Unreachable(format!("nothing listens on port {port} yet")),
                    Duration::ZERO,
                ),
                Holder::Group | Holder::Unknown => {
                    let started = Instant::now();
                    let answer = http_client::probe(&client, &url, timeout).await;
                    let latency = started.elapsed();
                    let probe = match (answer, holder(port, group).await) {
                        (Probe::Ok, Holder::Other(other)) => Probe::Foreign(describe(port, &other)),
                        (answer, _) => answer,
                    };
                    (probe, latency)
                }
            }
        })
    }

    fn ask_first_words(
        &self,
        target: FirstWordsTarget,
    ) -> BoxFuture<'static, Result<usize, NoAudio>> {
        let client = self.client.clone();
        Box::pin(async move {
            if let Holder::Other(other) = holder(target.port, target.group).await {
                return Err(NoAudio::Foreign(describe(target.port, &other)));
            }
            http_client::ask_for_speech(
                &client,
                &target.url,
                target.body,
                Self::MIN_AUDIO_BYTES,
                target.timeout,
            )
            .await
        })
    }
}

impl SystemHost {
    /// The least an answer must hold to count as speech: a WAV header and some samples.
    const MIN_AUDIO_BYTES: usize = 100;
}

/// Who listens on the engine's `port`, seen from its process `group`.
async fn holder(port: u16, group: u32) -> Holder {
    tokio::task::spawn_blocking(move || crate::port_owner::check(port, group))
        .await
        .unwrap_or(Holder::Unknown)
}

fn describe(port: u16, other: &crate::port_owner::PortOwner) -> String {
    format!(
        "port {port} is held by {} (pid {}), not by the engine",
        other.name, other.pid
    )
}
