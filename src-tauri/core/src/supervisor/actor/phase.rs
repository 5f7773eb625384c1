//! The actor's states ([`Phase`]) and what each holds: a running engine ([`Running`]), how a
//! ready one's checks stand ([`Checks`]), a start under way ([`Start`]) with the requests
//! waiting for it ([`Waiting`]), what follows a stop ([`Then`]), and what a handler leaves
//! ([`Next`]).

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::super::{Reply, loopback};
use crate::problem::{Problem, Stage};
use crate::status::Warmup;

/// Requests waiting for the engine to be ready. They travel with the phases that can have
/// them (a start, a ready engine whose port is suspect, a restart's stop, a pause after a
/// crash) and are answered or told why not when the start ends.
#[derive(Default)]
pub(super) struct Waiting(Vec<Reply>);

impl Waiting {
    pub(super) fn of(reply: Option<Reply>) -> Self {
        Self(reply.into_iter().collect())
    }

    pub(super) fn add(&mut self, reply: Option<Reply>) {
        self.0.extend(reply);
    }

    /// The engine is ready on `port`.
    pub(super) fn answer(self, port: u16) {
        for waiter in self.0 {
            let _ = waiter.send(Ok(loopback(port)));
        }
    }

    /// The start went wrong: each request gets `problem`.
    pub(super) fn fail(self, problem: &Problem) {
        for waiter in self.0 {
            let _ = waiter.send(Err(problem.clone()));
        }
    }
}

/// A start under way, from provisioning to the first words: whether it is an automatic
/// restart (a failure counts against the crash budget), the requests waiting for it, and how
/// often in a row its port was taken by another process first (see `PORT_RETRIES`).
pub(super) struct Start {
    pub(super) auto: bool,
    pub(super) waiting: Waiting,
    pub(super) port_retries: u32,
}

impl Start {
    /// A start asked for by a request or the user (`auto` false) or after a crash.
    pub(super) fn new(auto: bool, waiting: Waiting) -> Self {
        Self {
            auto,
            waiting,
            port_retries: 0,
        }
    }
}

/// Callers waiting for a stop (or restart, or shutdown) to finish.
pub(super) type Stops = Vec<oneshot::Sender<()>>;

/// Tell the callers a stop has finished.
pub(super) fn answer_stops(stops: Stops) {
    for stop in stops {
        let _ = stop.send(());
    }
}

/// One engine process.
pub(super) struct Running {
    pub(super) pid: u32,
    pub(super) port: u16,
    pub(super) generation: u64,
    pub(super) started: Instant,
    pub(super) started_unix: u64,
    pub(super) probe_path: String,
    /// Murmur sent SIGKILL itself (so a SIGKILL exit is not "killed by the OS").
    pub(super) we_killed: bool,
    /// Why Murmur is stopping it, if it is.
    pub(super) stop_reason: Option<String>,
    /// A health or readiness probe is on its way (one at a time).
    pub(super) probe_in_flight: bool,
    /// Unix time in seconds of its last successful probe, and how long that probe took.
    pub(super) last_ok: Option<(u64, f64)>,
    /// The launcher's lifeline: the engine exits when this pipe closes.
    pub(super) _lifeline: Option<Box<dyn Send + Sync>>,
}

/// What to do once a stopping engine has exited.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Then {
    /// Stay stopped, showing why the start went wrong if it did.
    Stop(Option<Problem>),
    Idle,
    Restart,
    /// Give up with this problem (its stage: the warm-up step it happened at).
    Fail(Problem),
    Shutdown,
}

impl Then {
    /// The problem the status shows while stopping.
    pub(super) fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Stop(problem) => problem.as_ref(),
            Self::Fail(problem) => Some(problem),
            Self::Idle | Self::Restart | Self::Shutdown => None,
        }
    }
}

/// How a ready engine's checks stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Checks {
    Passing,
    /// The proxy could not reach it: requests wait for a probe to say it is alive. (It had
    /// failed this many health checks in a row before.)
    Suspect {
        failing: u32,
    },
    /// This many health checks in a row failed.
    Failing(u32),
}

impl Checks {
    /// Health checks failed in a row.
    pub(super) fn failing(self) -> u32 {
        match self {
            Self::Passing => 0,
            Self::Suspect { failing } | Self::Failing(failing) => failing,
        }
    }
}

pub(super) enum Phase {
    /// Not running; `problem` says why the last start went wrong, if it did.
    Stopped { problem: Option<Problem> },
    /// Unloaded after inactivity.
    Idle,
    /// Murmur gave up until the user restarts the engine or changes its settings.
    Failed(Problem),
    /// Preparing the Python runtime; the generation tags its report.
    Provisioning {
        generation: u64,
        warmup: Warmup,
        start: Start,
    },
    Starting {
        run: Running,
        deadline: Instant,
        next_probe: Instant,
        start: Start,
        /// It answered its probe and is saying its first words (ready once it has).
        speaking: bool,
    },
    Ready {
        run: Running,
        next_health: Instant,
        checks: Checks,
        /// Requests waiting while a probe decides whether a suspect port is alive.
        waiting: Waiting,
    },
    Stopping {
        run: Running,
        kill_at: Instant,
        then: Then,
        /// Requests waiting for the start that follows (`then` is [`Then::Restart`]).
        waiting: Waiting,
        stops: Stops,
    },
    Backoff {
        until: Instant,
        attempt: u32,
        waiting: Waiting,
    },
    /// Shut down: the actor ends.
    Gone,
}

impl Phase {
    pub(super) fn run(&self) -> Option<&Running> {
        match self {
            Self::Starting { run, .. } | Self::Ready { run, .. } | Self::Stopping { run, .. } => {
                Some(run)
            }
            _ => None,
        }
    }

    pub(super) fn run_mut(&mut self) -> Option<&mut Running> {
        match self {
            Self::Starting { run, .. } | Self::Ready { run, .. } | Self::Stopping { run, .. } => {
                Some(run)
            }
            _ => None,
        }
    }

    /// The requests waiting in this phase, taken out of it (none, if it has none).
    pub(super) fn take_waiting(&mut self) -> Waiting {
        match self {
            Self::Provisioning { start, .. } | Self::Starting { start, .. } => {
                std::mem::take(&mut start.waiting)
            }
            Self::Ready { waiting, .. }
            | Self::Stopping { waiting, .. }
            | Self::Backoff { waiting, .. } => std::mem::take(waiting),
            Self::Stopped { .. } | Self::Idle | Self::Failed(_) | Self::Gone => Waiting::default(),
        }
    }

    /// The warm-up step under way, if one is.
    pub(super) fn stage(&self) -> Option<Stage> {
        match self {
            Self::Provisioning { warmup, .. } => warmup.stage,
            Self::Starting {
                speaking: false, ..
            } => Some(Stage::Server),
            Self::Starting { speaking: true, .. } => Some(Stage::Speech),
            _ => None,
        }
    }

    /// What the status shows as the engine's error in this phase.
    pub(super) fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Stopped { problem } => problem.as_ref(),
            Self::Failed(problem) => Some(problem),
            Self::Stopping { then, .. } => then.problem(),
            _ => None,
        }
    }

    /// Move to this phase because of `why` (logged with the change of state).
    pub(super) fn because(self, why: impl Into<String>) -> Next {
        Next {
            phase: self,
            why: Some(why.into()),
        }
    }

    /// Stay in this phase (perhaps updated in place).
    pub(super) fn stay(self) -> Next {
        Next {
            phase: self,
            why: None,
        }
    }
}

/// What a handler leaves: the next phase, and why it changed, if it did.
#[must_use]
pub(super) struct Next {
    pub(super) phase: Phase,
    pub(super) why: Option<String>,
}
