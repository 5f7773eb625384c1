//! What is due when: probes, health checks, the kill after the grace period, restarts.

use super::*;

impl Actor {
    pub(super) fn health_interval(&self) -> Duration {
        Duration::from_secs(self.settings.supervisor.health_interval_secs)
    }

    pub(super) fn next_wake(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let sup = &self.settings.supervisor;
        match &self.phase {
            Phase::Starting {
                deadline,
                next_probe,
                ..
            } => (*deadline).min(*next_probe),
            Phase::Ready {
                run, next_health, ..
            } => {
                let mut wake = *next_health;
                let idle_unload_secs = self.capability.idle_unload_secs(&self.settings);
                if idle_unload_secs > 0 {
                    let idle = Duration::from_secs(idle_unload_secs);
                    wake = wake.min(crate::time::later_tokio(
                        Instant::now(),
                        idle.saturating_sub(self.shared.idle_for()),
                    ));
                }
                if self.crashes > 0 {
                    wake = wake.min(crate::time::later_tokio(
                        run.started,
                        Duration::from_secs(sup.healthy_reset_secs),
                    ));
                }
                wake
            }
            Phase::Stopping { kill_at, .. } => *kill_at,
            Phase::Backoff { until, .. } => *until,
            Phase::Stopped { .. }
            | Phase::Idle
            | Phase::Failed(_)
            | Phase::Provisioning { .. }
            | Phase::Gone => far,
        }
    }

    pub(super) fn tick(&mut self, phase: Phase) -> Next {
        let now = Instant::now();
        let sup = self.settings.supervisor.clone();
        let mut phase = phase;
        match &mut phase {
            Phase::Starting {
                run,
                deadline,
                next_probe,
                ..
            } => {
                if now >= *deadline {
                    return self.start_timed_out(phase);
                }
                if now >= *next_probe {
                    *next_probe = now + PROBE_EVERY;
                    let timeout =
                        Duration::from_secs(sup.health_timeout_secs).min(Duration::from_secs(2));
                    self.spawn_probe(run, timeout);
                }
            }
            Phase::Ready {
                run, next_health, ..
            } => {
                if self.crashes > 0
                    && run.started.elapsed() >= Duration::from_secs(sup.healthy_reset_secs)
                {
                    self.crashes = 0;
                }
                let idle_unload_secs = self.capability.idle_unload_secs(&self.settings);
                if idle_unload_secs > 0
                    && self.shared.idle_for() >= Duration::from_secs(idle_unload_secs)
                {
                    return self.begin_stop(phase, Then::Idle, "idle");
                }
                if now >= *next_health {
                    *next_health = crate::time::later_tokio(
                        now,
                        Duration::from_secs(sup.health_interval_secs),
                    );
                    self.measure_memory(run.pid, run.generation);
                    self.spawn_probe(run, Duration::from_secs(sup.health_timeout_secs));
                }
            }
            Phase::Stopping { run, kill_at, .. } => {
                if now >= *kill_at {
                    tracing::warn!(pid = run.pid, "the engine ignored SIGTERM; sending SIGKILL");
                    self.log.line(&format!(
                        "[murmur] engine {} ignored SIGTERM; SIGKILL",
                        run.pid
                    ));
                    run.we_killed = true;
                    self.host.signal(run.pid, Signal::Kill);
                    *kill_at = now + Duration::from_secs(5);
                }
            }
            Phase::Backoff { until, waiting, .. } => {
                if now >= *until {
                    let start = Start::new(true, std::mem::take(waiting));
                    return self.start_engine(start, "restarting after a crash");
                }
            }
            Phase::Stopped { .. }
            | Phase::Idle
            | Phase::Failed(_)
            | Phase::Provisioning { .. }
            | Phase::Gone => {}
        }
        phase.stay()
    }

    /// The engine did not become ready within `startup_timeout_secs`: stop it, and say why.
    fn start_timed_out(&mut self, mut phase: Phase) -> Next {
        let sup = &self.settings.supervisor;
        let speaking = matches!(phase, Phase::Starting { speaking: true, .. });
        let message = if speaking {
            format!(
                "the engine answered its probe but could not speak: no audio within {} s of its \
                 start{}",
                sup.startup_timeout_secs,
                self.stderr_tail()
            )
        } else {
            format!(
                "the engine did not answer its readiness probe within {} s",
                sup.startup_timeout_secs
            )
        };
        let problem = Problem::new(message)
            .at(Stage::Starting)
            .hint("raise [supervisor] startup_timeout_secs if it is just slow; see the engine log");
        let stage = phase.stage();
        let shown = report(phase.take_waiting(), problem, stage);
        self.begin_stop(phase, Then::Stop(Some(shown)), "start-up timed out")
    }

    pub(super) fn spawn_probe(&self, run: &mut Running, timeout: Duration) {
        if run.probe_in_flight {
            return;
        }
        run.probe_in_flight = true;
        let target = ProbeTarget {
            url: format!("http://127.0.0.1:{}{}", run.port, run.probe_path),
            port: run.port,
            group: run.pid,
            timeout,
        };
        let (generation, events) = (run.generation, self.events_tx.clone());
        let probe = self.host.probe(target);
        tokio::spawn(async move {
            let (probe, latency) = probe.await;
            let _ = events.send(Event::Probe {
                generation,
                probe,
                latency,
            });
        });
    }
}
