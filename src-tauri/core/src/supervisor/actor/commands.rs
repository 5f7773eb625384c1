//! Commands from the [`super::super::Supervisor`] handle, and new settings.

use super::*;

/// What a request that finds the engine given up on is told.
const FAILED_HINT: &str = "restart the engine from Murmur's menu or page, or change its settings";

impl Actor {
    pub(super) fn command(&mut self, phase: Phase, command: Command) -> Next {
        match command {
            Command::Start(reply) => self.on_start(phase, reply),
            Command::Stop(reply) => {
                self.fail_waiters(&Problem::new("the engine was stopped"));
                self.stop_waiters.push(reply);
                match phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        self.begin_stop(phase, Then::Stop(None), "stop requested")
                    }
                    Phase::Stopping { run, kill_at, then } => {
                        let then = match then {
                            Then::Shutdown => Then::Shutdown,
                            Then::Stop(problem) => Then::Stop(problem),
                            Then::Fail(problem) => Then::Stop(Some(problem)),
                            Then::Idle | Then::Restart => Then::Stop(None),
                        };
                        Phase::Stopping { run, kill_at, then }.stay()
                    }
                    other => {
                        self.answer_stop_waiters();
                        let problem = other.problem().cloned();
                        Phase::Stopped { problem }.because("stop requested")
                    }
                }
            }
            Command::Restart(reply) => {
                self.crashes = 0;
                self.stop_waiters.push(reply);
                match phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        self.total_restarts += 1;
                        self.begin_stop(phase, Then::Restart, "restart requested")
                    }
                    Phase::Stopping { run, kill_at, then } => {
                        let then = match then {
                            Then::Shutdown => Then::Shutdown,
                            _ => Then::Restart,
                        };
                        Phase::Stopping { run, kill_at, then }.stay()
                    }
                    _ => {
                        let next = self.start_engine(false, "restart requested");
                        self.answer_stop_waiters();
                        next
                    }
                }
            }
            Command::Shutdown(reply) => {
                self.fail_waiters(&Problem::new("Murmur is shutting down"));
                self.stop_waiters.push(reply);
                match phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        self.begin_stop(phase, Then::Shutdown, "shutting down")
                    }
                    Phase::Stopping { run, kill_at, .. } => Phase::Stopping {
                        run,
                        kill_at,
                        then: Then::Shutdown,
                    }
                    .stay(),
                    _ => {
                        self.answer_stop_waiters();
                        Phase::Gone.because("shut down")
                    }
                }
            }
            Command::Sync(reply) => {
                let _ = reply.send(());
                phase.stay()
            }
            Command::Hung(port, waited) => self.on_hung(phase, port, waited),
            Command::Suspect(port) => {
                let mut phase = phase;
                if let Phase::Ready { run, checks, .. } = &mut phase
                    && run.port == port
                {
                    // If it died, its exit event is on the way; if not, a probe clears it.
                    self.spawn_probe(run, Duration::from_secs(2));
                    *checks = Checks::Suspect {
                        failing: checks.failing(),
                    };
                }
                phase.stay()
            }
        }
    }

    /// New settings (from [`crate::config::LiveSettings`]). Request defaults (speed, voice,
    /// format, language) apply to the next request without a restart; only what the engine is
    /// launched with restarts it.
    pub(super) fn on_settings(&mut self, phase: Phase, settings: Arc<Settings>) -> Next {
        let relaunch = self.capability.relaunches(&self.settings, &settings);
        self.settings = settings;
        match phase {
            Phase::Failed(_) => {
                self.crashes = 0;
                Phase::Stopped { problem: None }.because("settings changed")
            }
            Phase::Provisioning { .. } if relaunch => self.start_engine(false, "settings changed"),
            Phase::Starting { .. } | Phase::Ready { .. } if relaunch => {
                self.total_restarts += 1;
                self.begin_stop(phase, Then::Restart, "settings changed")
            }
            other => other.stay(),
        }
    }

    pub(super) fn on_start(&mut self, phase: Phase, reply: Option<Reply>) -> Next {
        match phase {
            Phase::Ready {
                ref run,
                checks: Checks::Passing | Checks::Failing(_),
                ..
            } => {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(loopback(run.port)));
                }
                phase.stay()
            }
            Phase::Failed(ref problem) => {
                if let Some(reply) = reply {
                    let refusal =
                        Problem::new(format!("the engine has failed: {}", problem.message))
                            .at(Stage::Failed)
                            .hint(FAILED_HINT);
                    let _ = reply.send(Err(refusal));
                }
                phase.stay()
            }
            Phase::Stopping {
                then: Then::Shutdown,
                ..
            } => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(Problem::new("Murmur is shutting down")));
                }
                phase.stay()
            }
            mut phase => {
                self.waiters.extend(reply);
                match &mut phase {
                    Phase::Stopped { .. } | Phase::Idle => {
                        return self.start_engine(false, "requested");
                    }
                    Phase::Stopping { then, .. } => *then = Then::Restart,
                    // Reported unreachable but not seen to exit: a probe decides.
                    Phase::Ready { run, .. } => self.spawn_probe(run, Duration::from_secs(2)),
                    _ => {}
                }
                phase.stay()
            }
        }
    }
}
