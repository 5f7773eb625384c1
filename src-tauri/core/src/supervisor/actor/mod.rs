//! The task that owns the engine process. See the module docs of [`super`].
//!
//! Its state is its [`Phase`]: what is true of the engine only in one phase (its process, how
//! its health checks stand, why it failed) lives in that phase's variant, and nowhere else.
//! Every handler takes the phase by value and returns the next one ([`Next`]); [`Actor::step`]
//! is the one place the phase is replaced, so no handler can leave it half-changed. The
//! requests waiting for a start travel with the phases that have them ([`phase::Start`],
//! [`phase::Waiting`]), as do the callers waiting for a stop. What outlives every phase (the
//! crash budget, the last exit, the memory figures) is the actor's own, beside its
//! dependencies and channels.
//!
//! Split by job: [`phase`] (the states and what each holds), [`commands`] (what the handle
//! asks, and new settings), [`lifecycle`]
//! (provisioning, spawning and stopping), [`events`] (exits, probes, first words),
//! [`crashes`] (the crash budget: restart or give up), [`timing`] (what is due when),
//! [`report`] (the status snapshot).

mod commands;
mod crashes;
mod events;
mod lifecycle;
mod phase;
mod report;
mod timing;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::host::{FirstWordsTarget, Host, ProbeTarget};
use super::logs::EngineLog;
use super::memory::{self, Sampler};
use super::process::{self, Signal};
use super::{Command, Reply, Shared, loopback, pidfile};
use crate::config::Settings;
use crate::engine;
use crate::http_client::{NoAudio, Probe};
use crate::problem::{Problem, Stage};
use crate::status::{EngineInfo, Health, Memory, Restarts, State, Status, Warmup};
use phase::{Checks, Next, Phase, Running, Start, Stops, Then, Waiting, answer_stops};

const PROBE_EVERY: Duration = Duration::from_millis(250);
const STDERR_LINES_IN_ERRORS: usize = 8;
/// The engine log's line before each engine's own output.
const STARTING_LINE: &str = "[murmur] starting:";
/// How often in a row a start may lose its port to another process before it is a failure.
const PORT_RETRIES: u32 = 3;
/// How long an exited engine's last output may take to reach its log.
const OUTPUT_DRAIN: Duration = Duration::from_millis(500);

/// What is left of the crash budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// Restart; this is attempt N in a row.
    Retry(u32),
    /// Give up.
    Spent,
}

/// Reports from the helper tasks.
enum Event {
    Exited {
        generation: u64,
        status: std::io::Result<ExitStatus>,
    },
    Probe {
        generation: u64,
        probe: Probe,
        latency: Duration,
    },
    Warmup {
        generation: u64,
        warmup: Warmup,
    },
    Provisioned {
        generation: u64,
        result: Result<crate::runtime::Runtime, Problem>,
    },
    /// The engine's memory, measured off the async workers.
    Memory {
        generation: u64,
        reading: memory::Reading,
    },
    /// The outcome of the speech asked of an engine before it is called ready.
    FirstWords {
        generation: u64,
        result: Result<usize, NoAudio>,
        took: Duration,
    },
}

pub(super) struct Actor {
    /// Which engine this actor runs: speech or transcription.
    capability: engine::Capability,
    /// The settings it acts on: the last value of [`crate::config::LiveSettings`] it has seen.
    settings: Arc<Settings>,
    data_dir: PathBuf,
    /// The app bundle's resource folder, when Murmur runs from one (see [`crate::paths::Paths`]).
    resources: Option<PathBuf>,
    host: Arc<dyn Host>,
    shared: Arc<Shared>,
    log: EngineLog,
    status: watch::Sender<Status>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    phase: Phase,
    generation: u64,
    crashes: u32,
    total_restarts: u32,
    last_exit: Option<String>,
    memory: Memory,
    sampler: Sampler,
    /// The last runtime's note (a system interpreter, a failed update), shown in the status.
    runtime_note: Option<String>,
    /// The port last offered in [`Shared`] (see [`Actor::offer`]).
    offered: Option<u16>,
    /// Why the phase last changed, and the state last logged (transitions are logged once).
    reason: String,
    logged_state: &'static str,
}

impl Actor {
    pub(super) fn new(
        capability: engine::Capability,
        settings: Arc<Settings>,
        paths: &crate::paths::Paths,
        host: Arc<dyn Host>,
        shared: Arc<Shared>,
        log: EngineLog,
    ) -> (Self, watch::Receiver<Status>) {
        let spec = capability.engine(&settings).spec();
        let initial = Status::stopped(spec.id, spec.display_name, settings.supervisor.max_restarts);
        let (status, receiver) = watch::channel(initial);
        let (events_tx, events) = mpsc::unbounded_channel();
        let actor = Self {
            capability,
            settings,
            data_dir: paths.data_dir.clone(),
            resources: paths.resources.clone(),
            host,
            shared,
            log,
            status,
            events_tx,
            events,
            phase: Phase::Stopped { problem: None },
            generation: 0,
            crashes: 0,
            total_restarts: 0,
            last_exit: None,
            memory: Memory::default(),
            sampler: Sampler::default(),
            runtime_note: None,
            offered: None,
            reason: String::new(),
            logged_state: "stopped",
        };
        (actor, receiver)
    }

    fn pidfile(&self) -> PathBuf {
        self.data_dir
            .join(format!("{}.pid", self.capability.file_stem()))
    }

    /// Handle commands, settings, events and timers until shut down. Settings come before
    /// commands, so a command sent after a settings change is handled after it.
    pub(super) async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<Command>,
        mut settings: watch::Receiver<Arc<Settings>>,
    ) {
        match pidfile::reap(&self.pidfile()) {
            pidfile::Reaped::Stale(pid) => self.log.line(&format!(
                "[murmur] stopped engine {pid} left by an earlier run"
            )),
            pidfile::Reaped::Foreign(pid) => {
                self.log.line(&format!(
                    "[murmur] pid {pid} from the pidfile is another program now; left alone"
                ));
            }
            pidfile::Reaped::Nothing => {}
        }
        self.publish();
        loop {
            let wake = self.next_wake();
            tokio::select! {
                biased;
                Some(event) = self.events.recv() => self.step(|actor, phase| actor.event(phase, event)),
                Ok(()) = settings.changed() => {
                    let new = settings.borrow_and_update().clone();
                    self.step(|actor, phase| actor.on_settings(phase, new));
                }
                command = inbox.recv() => {
                    let command =
                        command.unwrap_or_else(|| Command::Shutdown(oneshot::channel().0));
                    self.step(|actor, phase| actor.command(phase, command));
                }
                () = tokio::time::sleep_until(wake) => self.step(Self::tick),
            }
            self.publish();
            if matches!(self.phase, Phase::Gone) {
                return;
            }
        }
    }

    /// The one place the phase changes: `handle` takes it and says what comes next.
    fn step(&mut self, handle: impl FnOnce(&mut Self, Phase) -> Next) {
        let phase = std::mem::replace(&mut self.phase, Phase::Gone);
        let next = handle(self, phase);
        self.phase = next.phase;
        if let Some(why) = next.why {
            self.reason = why;
        }
    }
}

/// A start that went wrong: the `waiting` requests get `problem`; what the status shows is
/// returned, with `at` (the warm-up step it happened at) as its stage.
fn report(waiting: Waiting, problem: Problem, at: Option<Stage>) -> Problem {
    waiting.fail(&problem);
    Problem {
        stage: at,
        ..problem
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
