//! The actor's states ([`Phase`]) and what each holds: a running engine ([`Running`]), how a
//! ready one's checks stand ([`Checks`]), what follows a stop ([`Then`]), and what a handler
//! leaves ([`Next`]).

use tokio::time::Instant;

use crate::problem::{Problem, Stage};
use crate::status::Warmup;

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
    Stopped {
        problem: Option<Problem>,
    },
    /// Unloaded after inactivity.
    Idle,
    /// Murmur gave up until the user restarts the engine or changes its settings.
    Failed(Problem),
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
        checks: Checks,
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
