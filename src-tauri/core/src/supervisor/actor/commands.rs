//! Commands from the [`super::super::Supervisor`] handle, and new settings.

use super::*;

/// What a request that finds the engine given up on is told.
const FAILED_HINT: &str = "restart the engine from Murmur's menu or page, or change its settings";

impl Actor {
    pub(super) fn command(&mut self, phase: Phase, command: Command) -> Next {
        let mut phase = phase;
        match command {
            Command::Start(reply) => self.on_start(phase, reply),
            Command::Stop(reply) => {
                phase
                    .take_waiting()
                    .fail(&Problem::new("the engine was stopped"));
                match phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        let next = self.begin_stop(phase, Then::Stop(None), "stop requested");
                        stopped_then(next, reply)
                    }
                    stopping @ Phase::Stopping { .. } => {
                        after_stop(stopping, reply, |then| match then {
                            Then::Shutdown => Then::Shutdown,
                            Then::Stop(problem) => Then::Stop(problem),
                            Then::Fail(problem) => Then::Stop(Some(problem)),
                            Then::Idle | Then::Restart => Then::Stop(None),
                        })
                    }
                    other => {
                        let _ = reply.send(());
                        let problem = other.problem().cloned();
                        Phase::Stopped { problem }.because("stop requested")
                    }
                }
            }
            Command::Restart(reply) => {
                self.crashes = 0;
                match phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        self.total_restarts += 1;
                        let next = self.begin_stop(phase, Then::Restart, "restart requested");
                        stopped_then(next, reply)
                    }
                    stopping @ Phase::Stopping { .. } => {
                        after_stop(stopping, reply, |then| match then {
                            Then::Shutdown => Then::Shutdown,
                            _ => Then::Restart,
                        })
                    }
                    mut other => {
                        let start = Start::new(false, other.take_waiting());
                        let next = self.start_engine(start, "restart requested");
                        let _ = reply.send(());
                        next
                    }
                }
            }
            Command::Shutdown(reply) => {
                phase
                    .take_waiting()
                    .fail(&Problem::new("Murmur is shutting down"));
                match phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        let next = self.begin_stop(phase, Then::Shutdown, "shutting down");
                        stopped_then(next, reply)
                    }
                    stopping @ Phase::Stopping { .. } => {
                        after_stop(stopping, reply, |_| Then::Shutdown)
                    }
                    _ => {
                        let _ = reply.send(());
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
            mut phase @ Phase::Provisioning { .. } if relaunch => {
                let start = Start::new(false, phase.take_waiting());
                self.start_engine(start, "settings changed")
            }
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
            Phase::Stopped { .. } | Phase::Idle => {
                self.start_engine(Start::new(false, Waiting::of(reply)), "requested")
            }
            mut phase => {
                match &mut phase {
                    Phase::Stopping { then, waiting, .. } => {
                        *then = Then::Restart;
                        waiting.add(reply);
                    }
                    // Reported unreachable but not seen to exit: a probe decides.
                    Phase::Ready { run, waiting, .. } => {
                        waiting.add(reply);
                        self.spawn_probe(run, Duration::from_secs(2));
                    }
                    Phase::Provisioning { start, .. } | Phase::Starting { start, .. } => {
                        start.waiting.add(reply);
                    }
                    Phase::Backoff { waiting, .. } => waiting.add(reply),
                    Phase::Stopped { .. } | Phase::Idle | Phase::Failed(_) | Phase::Gone => {}
                }
                phase.stay()
            }
        }
    }
}

/// A stop already under way: what follows it becomes `change(then)`, and `reply` is answered
/// when it ends.
fn after_stop(
    mut stopping: Phase,
    reply: oneshot::Sender<()>,
    change: impl FnOnce(Then) -> Then,
) -> Next {
    if let Phase::Stopping { then, stops, .. } = &mut stopping {
        *then = change(std::mem::replace(then, Then::Shutdown));
        stops.push(reply);
    }
    stopping.stay()
}

/// `next` is a stop under way: `reply` is answered when it ends (at once, if it is not).
fn stopped_then(mut next: Next, reply: oneshot::Sender<()>) -> Next {
    match &mut next.phase {
        Phase::Stopping { stops, .. } => stops.push(reply),
        _ => {
            let _ = reply.send(());
        }
    }
    next
}
