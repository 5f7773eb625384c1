//! What the helper tasks report: exits and probe results.

use super::*;

impl Actor {
    pub(super) fn event(&mut self, event: Event) {
        match event {
            Event::Exited { generation, status } => self.on_exit(generation, status),
            Event::Warmup { generation, warmup } => {
                if matches!(self.phase, Phase::Provisioning { generation: g } if g == generation) {
                    self.warmup = warmup;
                }
            }
            Event::Provisioned { generation, result } => {
                if !matches!(self.phase, Phase::Provisioning { generation: g } if g == generation) {
                    return; // stopped or restarted meanwhile
                }
                match result {
                    Ok(runtime) => {
                        let how = if runtime.fast_path {
                            "up to date"
                        } else {
                            "synced"
                        };
                        self.log.line(&format!(
                            "[murmur] Python environment {how}: {}",
                            runtime.python.display()
                        ));
                        if let Some(note) = &runtime.note {
                            tracing::warn!("{note}");
                            self.log.line(&format!("[murmur] {note}"));
                        }
                        self.runtime_note = runtime.note.clone();
                        self.spawn_engine(Some(runtime), "Python environment ready");
                    }
                    Err(e) => self.start_failed(e.message, Some(e.hint)),
                }
            }
            Event::Probe {
                generation,
                probe,
                latency,
            } => {
                if self.phase.run().is_some_and(|r| r.generation == generation) {
                    self.probe_in_flight = false;
                    self.on_probe(probe, latency);
                }
            }
        }
    }

    pub(super) fn on_exit(&mut self, generation: u64, status: std::io::Result<ExitStatus>) {
        let Some(run) = self.phase.run() else {
            return;
        };
        if run.generation != generation {
            return;
        }
        let (pid, we_killed, uptime) = (run.pid, run.we_killed, run.started.elapsed());
        let stop_reason = run.stop_reason.clone();
        self.probe_in_flight = false;
        pidfile::remove(&self.pidfile());
        // The leader is gone; take anything it left in its group with it.
        signal_group(pid, Signal::Kill);

        let description = match &status {
            Ok(status) => {
                let (text, sigkill) = process::describe_exit(status);
                if sigkill && !we_killed {
                    format!("{text} (likely killed by the OS for memory)")
                } else {
                    text
                }
            }
            Err(e) => format!("could not be waited for: {e}"),
        };
        self.log
            .line(&format!("[murmur] engine {pid} {description}"));
        self.last_exit = Some(match &stop_reason {
            Some(reason) => format!("stopped by Murmur ({reason}): {description}"),
            None => description.clone(),
        });

        let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
        match phase {
            Phase::Stopping { then, .. } => {
                match then {
                    Then::Stop => self.set_phase(Phase::Stopped, "stopped"),
                    Then::Idle => self.set_phase(Phase::Idle, "unloaded after inactivity"),
                    Then::Restart => self.start_engine(false, "restarting"),
                    Then::Fail(reason) => self.set_phase(Phase::Failed(reason), "gave up"),
                    Then::Shutdown => {
                        self.set_phase(Phase::Stopped, "shut down");
                        self.exit = true;
                    }
                }
                self.answer_stop_waiters();
            }
            Phase::Starting { .. } => {
                let message = format!(
                    "the engine {description} while starting{}",
                    self.stderr_tail()
                );
                if self.auto_restart {
                    self.on_crash(message, uptime);
                } else {
                    self.fail_waiters(
                        NotReady::new(message.clone())
                            .stage("starting")
                            .hint("see the engine log; the next request tries again"),
                    );
                    self.error = Some(ErrorInfo {
                        message,
                        hint: Some("see the engine log; the next request tries again".into()),
                    });
                    self.set_phase(Phase::Stopped, "exited while starting");
                }
            }
            Phase::Ready { .. } => self.on_crash(format!("the engine {description}"), uptime),
            other => self.phase = other,
        }
    }

    pub(super) fn on_crash(&mut self, message: String, uptime: Duration) {
        let sup = &self.settings.supervisor;
        if uptime >= Duration::from_secs(sup.healthy_reset_secs) {
            self.crashes = 0;
        }
        self.crashes += 1;
        if sup.restart_on_crash && self.crashes <= sup.max_restarts {
            self.total_restarts += 1;
            let until =
                crate::time::later(Instant::now(), Duration::from_millis(sup.restart_delay_ms));
            let attempt = self.crashes;
            self.set_phase(Phase::Backoff { until, attempt }, &message);
        } else {
            let reason = if sup.restart_on_crash {
                format!(
                    "{message}; it crashed {} times in a row{}",
                    self.crashes,
                    self.stderr_tail()
                )
            } else {
                format!("{message}{}", self.stderr_tail())
            };
            self.fail(reason);
        }
    }

    pub(super) fn fail(&mut self, reason: String) {
        let hint = "see the engine log, then restart the engine or change its settings";
        self.fail_waiters(NotReady::new(reason.clone()).stage("failed").hint(hint));
        self.error = Some(ErrorInfo {
            message: reason.clone(),
            hint: Some(hint.into()),
        });
        self.set_phase(Phase::Failed(reason), "gave up");
    }

    pub(super) fn on_probe(&mut self, probe: Probe, latency: Duration) {
        let ok = probe == Probe::Ok;
        if let Probe::Foreign(why) = &probe {
            tracing::warn!("not trusting the engine's port: {why}");
            self.log.line(&format!(
                "[murmur] {why}: another program may be trying to receive speech requests; \
                 not trusted"
            ));
        }
        if ok {
            self.health.last_ok_at = Some(unix_now());
            self.health.latency_ms = Some((latency.as_secs_f64() * 10_000.0).round() / 10.0);
            self.health.consecutive_failures = 0;
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
        match phase {
            Phase::Starting { run, .. } if ok => {
                let upstream = loopback(run.port);
                let reading = self.sampler.sample(Some(run.pid));
                self.memory.system_available_mb = reading.available_mb;
                self.memory.engine_rss_mb = reading.engine_rss_mb;
                let next_health = crate::time::later(Instant::now(), self.health_interval());
                self.set_phase(Phase::Ready { run, next_health }, "answered its probe");
                self.shared.dead_port.store(0, Ordering::SeqCst);
                for waiter in self.waiters.drain(..) {
                    let _ = waiter.send(Ok(upstream.clone()));
                }
            }
            Phase::Ready { run, next_health } if ok => {
                self.phase = Phase::Ready { run, next_health };
                if self.shared.dead_port.swap(0, Ordering::SeqCst) != 0 || !self.waiters.is_empty()
                {
                    let upstream = self.phase.run().map(|r| loopback(r.port));
                    for waiter in self.waiters.drain(..) {
                        if let Some(upstream) = &upstream {
                            let _ = waiter.send(Ok(upstream.clone()));
                        }
                    }
                }
            }
            Phase::Ready { run, next_health } => {
                self.phase = Phase::Ready { run, next_health };
                self.health.consecutive_failures += 1;
                let failures = self.health.consecutive_failures;
                tracing::warn!(failures, "engine health check failed: {probe:?}");
                if failures >= self.settings.supervisor.health_failures_before_restart {
                    let why = format!("stopped answering: {failures} health checks failed");
                    self.crashes += 1;
                    if self.crashes <= self.settings.supervisor.max_restarts {
                        self.total_restarts += 1;
                        self.begin_stop(Then::Restart, &why);
                    } else {
                        let reason =
                            format!("the engine {why}, after {} restarts", self.crashes - 1);
                        self.begin_stop(Then::Fail(reason), &why);
                    }
                }
            }
            other => self.phase = other,
        }
    }
}
