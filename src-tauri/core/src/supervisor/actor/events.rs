//! What the helper tasks report: exits and probe results.

use super::*;

impl Actor {
    pub(super) fn event(&mut self, event: Event) {
        match event {
            Event::Exited { generation, status } => self.on_exit(generation, status),
            Event::Warmup { generation, warmup } => {
                if let Phase::Provisioning {
                    generation: g,
                    warmup: current,
                    ..
                } = &mut self.phase
                    && *g == generation
                {
                    *current = warmup;
                }
            }
            Event::Provisioned { generation, result } => {
                let auto = match self.phase {
                    Phase::Provisioning {
                        generation: g,
                        auto,
                        ..
                    } if g == generation => auto,
                    _ => return, // stopped or restarted meanwhile
                };
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
                        self.spawn_engine(Some(runtime), auto, "Python environment ready");
                    }
                    // Not retried by the next request: a broken environment or a model that
                    // cannot be fetched needs the user (or a restart) first.
                    Err(e) => {
                        tracing::error!("engine start failed: {}", e.message);
                        self.log
                            .line(&format!("[murmur] start failed: {}", e.message));
                        self.give_up(e);
                    }
                }
            }
            Event::Spoke {
                generation,
                result,
                took,
            } => self.on_spoke(generation, result, took),
            Event::Memory {
                generation,
                reading,
            } => {
                if self
                    .phase
                    .run()
                    .is_some_and(|run| run.generation == generation)
                {
                    self.memory.system_available_mb = reading.available_mb;
                    self.memory.engine_rss_mb = reading.engine_rss_mb;
                }
            }
            Event::Probe {
                generation,
                probe,
                latency,
            } => {
                if let Some(run) = self.phase.run_mut()
                    && run.generation == generation
                {
                    run.probe_in_flight = false;
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
        pidfile::remove(&self.pidfile());
        // The leader is gone; take anything it left in its group with it.
        self.host.signal(pid, Signal::Kill);

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
                    Then::Fail(reason) => self.give_up(Problem::new(reason)),
                    Then::Shutdown => {
                        self.set_phase(Phase::Stopped, "shut down");
                        self.exit = true;
                    }
                }
                self.answer_stop_waiters();
            }
            Phase::Starting { auto, run, .. }
                if self.port_retries < PORT_RETRIES && self.lost_its_port() =>
            {
                // Another process bound the port between Murmur choosing it and the engine
                // binding it: not the engine's fault, and the waiting requests need not know.
                self.port_retries += 1;
                self.log.line(&format!(
                    "[murmur] port {} was taken before the engine could bind it; trying another",
                    run.port
                ));
                self.start_engine(auto, "its port was taken; trying another");
            }
            Phase::Starting { auto, .. } => {
                let message = format!(
                    "the engine {description} while starting{}",
                    self.stderr_tail()
                );
                if auto {
                    self.on_crash(message, uptime);
                } else {
                    self.report(
                        Problem::new(message)
                            .at(Stage::Starting)
                            .hint("see the engine log; the next request tries again"),
                    );
                    self.set_phase(Phase::Stopped, "exited while starting");
                }
            }
            Phase::Ready { .. } => self.on_crash(format!("the engine {description}"), uptime),
            other => self.phase = other,
        }
    }

    /// Measure the engine's memory on a blocking thread; `Event::Memory` brings the figure.
    pub(super) fn measure_memory(&self, pid: u32, generation: u64) {
        let (sampler, events) = (self.sampler.clone(), self.events_tx.clone());
        tokio::spawn(async move {
            let reading = sampler.measure(pid).await;
            let _ = events.send(Event::Memory {
                generation,
                reading,
            });
        });
    }

    /// Call the engine ready: the waiters get it.
    pub(super) fn become_ready(&mut self, run: Running, reason: &str) {
        let upstream = loopback(run.port);
        self.measure_memory(run.pid, run.generation);
        let next_health = crate::time::later_tokio(Instant::now(), self.health_interval());
        self.set_phase(Phase::Ready { run, next_health }, reason);
        self.port_retries = 0;
        self.shared.dead_port.store(0, Ordering::SeqCst);
        // Idle is counted from here: a warm-up longer than the idle timeout (a model's
        // download) must not unload the engine the moment it is ready.
        self.shared.mark_activity();
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Ok(upstream.clone()));
        }
    }

    /// Ask the engine for its first words, within what is left of the start-up time.
    fn spawn_speech(&mut self, run: &Running, deadline: Instant, body: bytes::Bytes) {
        let target = SpeakTarget {
            url: format!("http://127.0.0.1:{}/v1/audio/speech", run.port),
            port: run.port,
            group: run.pid,
            body,
            timeout: deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1)),
        };
        let (generation, events) = (run.generation, self.events_tx.clone());
        let speech = self.host.speak(target);
        tokio::spawn(async move {
            let started = Instant::now();
            let result = speech.await;
            let took = started.elapsed();
            let _ = events.send(Event::Spoke {
                generation,
                result,
                took,
            });
        });
    }

    /// An engine that answers its probe but cannot speak is not ready: it is a failed start,
    /// shown with the last lines of its log (a missing front end, a model that cannot load).
    fn on_spoke(&mut self, generation: u64, result: Result<usize, String>, took: Duration) {
        let run_generation = match &self.phase {
            Phase::Starting {
                run,
                speaking: true,
                ..
            } => run.generation,
            _ => return,
        };
        if run_generation != generation {
            return;
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
        let Phase::Starting { run, auto, .. } = phase else {
            self.phase = phase;
            return;
        };
        match result {
            Ok(bytes) => {
                self.log.line(&format!(
                    "[murmur] engine {} spoke its first words ({bytes} bytes in {} ms)",
                    run.pid,
                    took.as_millis()
                ));
                self.become_ready(run, "spoke its first words");
            }
            Err(why) => {
                let uptime = run.started.elapsed();
                self.phase = Phase::Ready {
                    run,
                    next_health: Instant::now(),
                };
                let message = format!(
                    "the engine answered its probe but could not speak: {why}{}",
                    self.stderr_tail()
                );
                self.log.line(&format!("[murmur] {message}"));
                if auto {
                    match self.spend_crash(uptime) {
                        Budget::Retry(_) => {
                            return self.begin_stop(Then::Restart, "could not speak");
                        }
                        Budget::Spent => {}
                    }
                }
                self.report(
                    Problem::new(message.clone())
                        .at(Stage::Speech)
                        .hint("see the engine log; restart the engine to try again"),
                );
                self.begin_stop(Then::Fail(message), "could not speak");
            }
        }
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
            Phase::Starting {
                run,
                deadline,
                next_probe,
                auto,
                speaking: false,
            } if ok => {
                if let Some(words) = self.capability.first_words(&self.settings) {
                    self.spawn_speech(&run, deadline, words);
                    self.set_phase(
                        Phase::Starting {
                            run,
                            deadline,
                            next_probe,
                            auto,
                            speaking: true,
                        },
                        "answered its probe; saying a first word",
                    );
                } else {
                    self.become_ready(run, "answered its probe");
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
                    let uptime = self
                        .phase
                        .run()
                        .map_or(Duration::ZERO, |r| r.started.elapsed());
                    match self.spend_crash(uptime) {
                        Budget::Retry(_) => self.begin_stop(Then::Restart, &why),
                        Budget::Spent => {
                            let reason = self.spent_reason(&format!("the engine {why}"));
                            self.begin_stop(Then::Fail(reason), &why);
                        }
                    }
                }
            }
            other => self.phase = other,
        }
    }
}
