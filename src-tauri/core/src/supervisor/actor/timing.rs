//! What is due when: probes, health checks, the kill after the grace period, restarts.

use super::*;
use crate::http_client::Probe;
use crate::port_owner::Holder;

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
            Phase::Ready { run, next_health } => {
                let mut wake = *next_health;
                if sup.idle_unload_secs > 0 {
                    let idle = Duration::from_secs(sup.idle_unload_secs);
                    wake = wake.min(crate::time::later(
                        Instant::now(),
                        idle.saturating_sub(self.shared.idle_for()),
                    ));
                }
                if self.crashes > 0 {
                    wake = wake.min(crate::time::later(
                        run.started,
                        Duration::from_secs(sup.healthy_reset_secs),
                    ));
                }
                wake
            }
            Phase::Stopping { kill_at, .. } => *kill_at,
            Phase::Backoff { until, .. } => *until,
            Phase::Stopped | Phase::Idle | Phase::Failed(_) | Phase::Provisioning { .. } => far,
        }
    }

    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        let sup = self.settings.supervisor.clone();
        match &mut self.phase {
            Phase::Starting {
                deadline,
                next_probe,
                ..
            } => {
                if now >= *deadline {
                    let message = format!(
                        "the engine did not answer its readiness probe within {} s",
                        sup.startup_timeout_secs
                    );
                    let hint = "raise [supervisor] startup_timeout_secs if it is just slow; see the engine log";
                    self.fail_waiters(NotReady::new(message.clone()).stage("starting").hint(hint));
                    self.error = Some(ErrorInfo {
                        message,
                        hint: Some(hint.into()),
                    });
                    self.begin_stop(Then::Stop, "start-up timed out");
                } else if now >= *next_probe {
                    *next_probe = now + PROBE_EVERY;
                    let timeout =
                        Duration::from_secs(sup.health_timeout_secs).min(Duration::from_secs(2));
                    self.spawn_probe(timeout);
                }
            }
            Phase::Ready { run, next_health } => {
                if self.crashes > 0
                    && run.started.elapsed() >= Duration::from_secs(sup.healthy_reset_secs)
                {
                    self.crashes = 0;
                }
                if sup.idle_unload_secs > 0
                    && self.shared.idle_for() >= Duration::from_secs(sup.idle_unload_secs)
                {
                    self.begin_stop(Then::Idle, "idle");
                } else if now >= *next_health {
                    *next_health =
                        crate::time::later(now, Duration::from_secs(sup.health_interval_secs));
                    let pid = run.pid;
                    let reading = self.sampler.sample(Some(pid));
                    self.memory.system_available_mb = reading.available_mb;
                    self.memory.engine_rss_mb = reading.engine_rss_mb;
                    self.spawn_probe(Duration::from_secs(sup.health_timeout_secs));
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
                    signal_group(run.pid, Signal::Kill);
                    *kill_at = now + Duration::from_secs(5);
                }
            }
            Phase::Backoff { until, .. } => {
                if now >= *until {
                    self.start_engine(true, "restarting after a crash");
                }
            }
            Phase::Stopped | Phase::Idle | Phase::Failed(_) | Phase::Provisioning { .. } => {}
        }
    }

    pub(super) fn spawn_probe(&mut self, timeout: Duration) {
        let Some(run) = self.phase.run() else {
            return;
        };
        if self.probe_in_flight {
            return;
        }
        self.probe_in_flight = true;
        let url = format!("http://127.0.0.1:{}{}", run.port, run.probe_path);
        let (generation, client, events) =
            (run.generation, self.client.clone(), self.events_tx.clone());
        let (port, group) = (run.port, run.pid);
        tokio::spawn(async move {
            let mut latency = Duration::ZERO;
            // An answer counts only from the engine's own process group: the port number is
            // in the engine's command line, and another local process could bind it first.
            // Probed only once the engine's group is seen listening (nothing is ever sent to
            // a stranger), and checked again after the answer.
            let probe = match holder(port, group).await {
                Holder::Other(other) => Probe::Foreign(describe(port, &other)),
                Holder::Nobody => Probe::Unreachable(format!("nothing listens on port {port} yet")),
                Holder::Group | Holder::Unknown => {
                    let started = Instant::now();
                    let answer = http_client::probe(&client, &url, timeout).await;
                    latency = started.elapsed();
                    match (answer, holder(port, group).await) {
                        (Probe::Ok, Holder::Other(other)) => Probe::Foreign(describe(port, &other)),
                        (answer, _) => answer,
                    }
                }
            };
            let _ = events.send(Event::Probe {
                generation,
                probe,
                latency,
            });
        });
    }
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
