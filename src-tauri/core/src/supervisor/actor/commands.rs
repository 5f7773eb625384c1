//! Commands from the [`super::super::Supervisor`] handle.

use super::*;

impl Actor {
    pub(super) fn command(&mut self, command: Command) {
        match command {
            Command::Start(reply) => self.on_start(reply),
            Command::Stop(reply) => {
                self.fail_waiters(Problem::new("the engine was stopped"));
                self.stop_waiters.push(reply);
                match &mut self.phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        self.begin_stop(Then::Stop, "stop requested")
                    }
                    Phase::Stopping { then, .. } if *then != Then::Shutdown => *then = Then::Stop,
                    Phase::Stopping { .. } => {}
                    _ => {
                        self.set_phase(Phase::Stopped, "stop requested");
                        self.answer_stop_waiters();
                    }
                }
            }
            Command::Restart(reply) => {
                self.crashes = 0;
                self.error = None;
                self.stop_waiters.push(reply);
                match &mut self.phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        self.total_restarts += 1;
                        self.begin_stop(Then::Restart, "restart requested");
                    }
                    Phase::Stopping { then, .. } if *then != Then::Shutdown => {
                        *then = Then::Restart
                    }
                    Phase::Stopping { .. } => {}
                    _ => {
                        self.start_engine(false, "restart requested");
                        self.answer_stop_waiters();
                    }
                }
            }
            Command::Shutdown(reply) => {
                self.fail_waiters(Problem::new("Murmur is shutting down"));
                self.stop_waiters.push(reply);
                match &mut self.phase {
                    Phase::Starting { .. } | Phase::Ready { .. } => {
                        self.begin_stop(Then::Shutdown, "shutting down")
                    }
                    Phase::Stopping { then, .. } => *then = Then::Shutdown,
                    _ => {
                        self.set_phase(Phase::Stopped, "shutting down");
                        self.answer_stop_waiters();
                        self.exit = true;
                    }
                }
            }
            Command::Apply(settings, reply) => {
                // Request defaults (speed, voice, format, language) apply to the next request
                // without a restart; only what the engine is launched with restarts it.
                let relaunch = self.capability.relaunches(&self.settings, &settings);
                self.settings = *settings;
                if matches!(self.phase, Phase::Failed(_)) {
                    self.crashes = 0;
                    self.error = None;
                    self.set_phase(Phase::Stopped, "settings changed");
                }
                if relaunch && matches!(self.phase, Phase::Provisioning { .. }) {
                    self.start_engine(false, "settings changed");
                }
                if relaunch && matches!(self.phase, Phase::Starting { .. } | Phase::Ready { .. }) {
                    self.total_restarts += 1;
                    self.begin_stop(Then::Restart, "settings changed");
                }
                let _ = reply.send(());
            }
            Command::Hung(port, waited) => self.on_hung(port, waited),
            Command::Suspect(port) => {
                if let Phase::Ready { run, .. } = &self.phase
                    && run.port == port
                {
                    // If it died, its exit event is on the way; if not, a probe clears it.
                    self.spawn_probe(Duration::from_secs(2));
                }
            }
        }
    }

    pub(super) fn on_start(&mut self, reply: Option<oneshot::Sender<Result<Upstream, Problem>>>) {
        match &self.phase {
            Phase::Ready { run, .. }
                if run.port != self.shared.dead_port.load(Ordering::SeqCst) =>
            {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(loopback(run.port)));
                }
            }
            Phase::Failed(reason) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(Problem::new(format!(
                        "the engine has failed: {reason}"
                    ))
                    .at(Stage::Failed)
                    .hint(
                        "restart the engine from Murmur's menu or page, or change its settings",
                    )));
                }
            }
            Phase::Stopping {
                then: Then::Shutdown,
                ..
            } => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(Problem::new("Murmur is shutting down")));
                }
            }
            _ => {
                self.waiters.extend(reply);
                match &mut self.phase {
                    Phase::Stopped | Phase::Idle => self.start_engine(false, "requested"),
                    Phase::Stopping { then, .. } => *then = Then::Restart,
                    // Reported dead but not seen to exit: a probe decides.
                    Phase::Ready { .. } => self.spawn_probe(Duration::from_secs(2)),
                    _ => {}
                }
            }
        }
    }
}
