//! The task that owns the engine process. See the module docs of [`super`].
//!
//! Split by job: [`commands`] (what the handle asks), [`lifecycle`] (spawning and stopping),
//! [`events`] (exits and probe results), [`timing`] (what is due when), [`report`] (the
//! status snapshot).

mod commands;
mod crashes;
mod events;
mod lifecycle;
mod report;
mod timing;

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::host::{Host, ProbeTarget, SpeakTarget};
use super::logs::EngineLog;
use super::memory::{self, Sampler};
use super::process::{self, Signal};
use super::{Command, Shared, loopback, pidfile};
use crate::backend::Upstream;
use crate::config::Settings;
use crate::engine;
use crate::http_client::Probe;
use crate::problem::{Problem, Stage};
use crate::status::{EngineInfo, Health, Memory, Restarts, State, Status, Warmup};

const PROBE_EVERY: Duration = Duration::from_millis(250);
const STDERR_LINES_IN_ERRORS: usize = 8;
/// The engine log's line before each engine's own output.
const STARTING_LINE: &str = "[murmur] starting:";
/// How often in a row a start may lose its port to another process before it is a failure.
const PORT_RETRIES: u32 = 3;
/// How long an exited engine's last output may take to reach its log.
const OUTPUT_DRAIN: Duration = Duration::from_millis(500);

/// One engine process.
struct Running {
    pid: u32,
    port: u16,
    generation: u64,
    started: Instant,
    started_unix: u64,
    probe_path: String,
    /// Murmur sent SIGKILL itself (so a SIGKILL exit is not "killed by the OS").
    we_killed: bool,
    /// Why Murmur is stopping it, if it is.
    stop_reason: Option<String>,
    /// A health or readiness probe is on its way (one at a time).
    probe_in_flight: bool,
    /// The launcher's lifeline: the engine exits when this pipe closes.
    _lifeline: Option<Box<dyn Send + Sync>>,
}

/// What to do once a stopping engine has exited.
#[derive(Debug, Clone, PartialEq)]
enum Then {
    Stop,
    Idle,
    Restart,
    Fail(String),
    Shutdown,
}

enum Phase {
    Stopped,
    Idle,
    Failed(String),
    /// Preparing the Python runtime; the generation tags its report.
    Provisioning {
        generation: u64,
        warmup: Warmup,
        /// An automatic restart after a crash (a failure counts against the budget).
        auto: bool,
    },
    Starting {
        run: Running,
        deadline: Instant,
        next_probe: Instant,
        auto: bool,
        /// It answered its probe and is saying its first words (ready once it has).
        speaking: bool,
    },
    Ready {
        run: Running,
        next_health: Instant,
    },
    Stopping {
        run: Running,
        kill_at: Instant,
        then: Then,
    },
    Backoff {
        until: Instant,
        attempt: u32,
    },
}

impl Phase {
    fn run(&self) -> Option<&Running> {
        match self {
            Self::Starting { run, .. } | Self::Ready { run, .. } | Self::Stopping { run, .. } => {
                Some(run)
            }
            _ => None,
        }
    }

    fn run_mut(&mut self) -> Option<&mut Running> {
        match self {
            Self::Starting { run, .. } | Self::Ready { run, .. } | Self::Stopping { run, .. } => {
                Some(run)
            }
            _ => None,
        }
    }
}

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
    Spoke {
        generation: u64,
        result: Result<usize, String>,
        took: Duration,
    },
}

pub(super) struct Actor {
    /// Which engine this actor runs: speech or transcription.
    capability: engine::Capability,
    settings: Settings,
    data_dir: PathBuf,
    host: Arc<dyn Host>,
    shared: Arc<Shared>,
    log: EngineLog,
    status: watch::Sender<Status>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    phase: Phase,
    generation: u64,
    /// Requests waiting for the current start.
    waiters: Vec<oneshot::Sender<Result<Upstream, Problem>>>,
    /// Callers waiting for a stop (or restart, or shutdown) to finish.
    stop_waiters: Vec<oneshot::Sender<()>>,
    crashes: u32,
    /// Starts in a row whose port another process took first (see `PORT_RETRIES`).
    port_retries: u32,
    total_restarts: u32,
    last_exit: Option<String>,
    health: Health,
    memory: Memory,
    sampler: Sampler,
    error: Option<Problem>,
    /// The last warm-up step shown, so a failure can say where it happened.
    last_stage: Option<Stage>,
    /// The last runtime's note (a system interpreter, a failed update), shown in the status.
    runtime_note: Option<String>,
    exit: bool,
    /// Why the phase last changed, and the state last logged (transitions are logged once).
    reason: String,
    logged_state: &'static str,
}

impl Actor {
    pub(super) fn new(
        capability: engine::Capability,
        settings: Settings,
        data_dir: &Path,
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
            data_dir: data_dir.to_path_buf(),
            host,
            shared,
            log,
            status,
            events_tx,
            events,
            phase: Phase::Stopped,
            generation: 0,
            waiters: Vec::new(),
            stop_waiters: Vec::new(),
            crashes: 0,
            port_retries: 0,
            total_restarts: 0,
            last_exit: None,
            health: Health::default(),
            memory: Memory::default(),
            sampler: Sampler::default(),
            error: None,
            last_stage: None,
            runtime_note: None,
            exit: false,
            reason: String::new(),
            logged_state: "stopped",
        };
        (actor, receiver)
    }

    fn pidfile(&self) -> PathBuf {
        self.data_dir
            .join(format!("{}.pid", self.capability.file_stem()))
    }

    pub(super) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
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
        while !self.exit {
            let wake = self.next_wake();
            tokio::select! {
                biased;
                Some(event) = self.events.recv() => self.event(event),
                command = inbox.recv() => match command {
                    Some(command) => self.command(command),
                    None => self.command(Command::Shutdown(oneshot::channel().0)),
                },
                () = tokio::time::sleep_until(wake) => self.tick(),
            }
            self.publish();
        }
    }

    fn set_phase(&mut self, phase: Phase, reason: &str) {
        self.phase = phase;
        self.reason = reason.to_string();
    }

    fn fail_waiters(&mut self, reason: Problem) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(reason.clone()));
        }
    }

    /// A start that went wrong: the waiting requests get `reason`, and the status shows it.
    fn report(&mut self, reason: Problem) {
        self.error = Some(Problem {
            stage: self.last_stage,
            ..reason.clone()
        });
        self.fail_waiters(reason);
    }

    fn answer_stop_waiters(&mut self) {
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(());
        }
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
