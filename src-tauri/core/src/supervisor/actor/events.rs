//! What the helper tasks report: exits, provisioning, probe results, first words.

use super::*;

impl Actor {
    pub(super) fn event(&mut self, phase: Phase, event: Event) -> Next {
        match event {
            Event::Exited { generation, status } => self.on_exit(phase, generation, status),
            Event::Warmup { generation, warmup } => {
                let mut phase = phase;
                if let Phase::Provisioning {
                    generation: g,
                    warmup: shown,
                    ..
                } = &mut phase
                    && *g == generation
                {
                    *shown = warmup;
                }
                phase.stay()
            }
            Event::Provisioned { generation, result } => match phase {
                Phase::Provisioning {
                    generation: g,
                    start,
                    warmup,
                } if g == generation => self.on_provisioned(result, start, warmup.stage),
                other => other.stay(), // stopped or restarted meanwhile
            },
            Event::FirstWords {
                generation,
                result,
                took,
            } => self.on_first_words(phase, generation, result, took),
            Event::Memory {
                generation,
                reading,
            } => {
                if phase.run().is_some_and(|run| run.generation == generation) {
                    self.memory.system_available_mb = reading.available_mb;
                    self.memory.engine_rss_mb = reading.engine_rss_mb;
                }
                phase.stay()
            }
            Event::Probe {
                generation,
                probe,
                latency,
            } => {
                let mut phase = phase;
                match phase.run_mut() {
                    Some(run) if run.generation == generation => {
                        run.probe_in_flight = false;
                        self.on_probe(phase, probe, latency)
                    }
                    _ => phase.stay(),
                }
            }
        }
    }

    /// The runtime is ready (launch the engine) or could not be made (give up: a broken
    /// environment or a model that cannot be fetched needs the user, or a restart, first).
    fn on_provisioned(
        &mut self,
        result: Result<crate::runtime::Runtime, Problem>,
        start: Start,
        stage: Option<Stage>,
    ) -> Next {
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
                self.spawn_engine(Some(runtime), start, stage, "Python environment ready")
            }
            Err(problem) => {
                tracing::error!("engine start failed: {}", problem.message);
                self.log
                    .line(&format!("[murmur] start failed: {}", problem.message));
                self.give_up(problem.with_stage(stage), start.waiting)
            }
        }
    }

    pub(super) fn on_exit(
        &mut self,
        phase: Phase,
        generation: u64,
        status: std::io::Result<ExitStatus>,
    ) -> Next {
        let Some(run) = phase.run().filter(|run| run.generation == generation) else {
            return phase.stay();
        };
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

        let stage = phase.stage();
        match phase {
            Phase::Stopping {
                then,
                waiting,
                stops,
                ..
            } => {
                let (next, left) = match then {
                    Then::Restart => (
                        self.start_engine(Start::new(false, waiting), "restarting"),
                        None,
                    ),
                    Then::Fail(problem) => (self.give_up(problem, waiting), None),
                    Then::Stop(problem) => {
                        (Phase::Stopped { problem }.because("stopped"), Some(waiting))
                    }
                    Then::Idle => (
                        Phase::Idle.because("unloaded after inactivity"),
                        Some(waiting),
                    ),
                    Then::Shutdown => (Phase::Gone.because("shut down"), Some(waiting)),
                };
                // Nothing waits for a stop that stays stopped (a request turns it into a
                // restart); if something does, it is told.
                if let Some(waiting) = left {
                    waiting.fail(&Problem::new("the engine was stopped"));
                }
                answer_stops(stops);
                next
            }
            Phase::Starting { start, run, .. }
                if start.port_retries < PORT_RETRIES && self.lost_its_port() =>
            {
                // Another process bound the port between Murmur choosing it and the engine
                // binding it: not the engine's fault, and the waiting requests need not know.
                self.log.line(&format!(
                    "[murmur] port {} was taken before the engine could bind it; trying another",
                    run.port
                ));
                let start = Start {
                    port_retries: start.port_retries + 1,
                    ..start
                };
                self.start_engine(start, "its port was taken; trying another")
            }
            Phase::Starting { start, .. } => {
                let message = format!(
                    "the engine {description} while starting{}",
                    self.stderr_tail()
                );
                if start.auto {
                    return self.after_crash(message, uptime, stage, start.waiting);
                }
                let problem = Problem::new(message)
                    .at(Stage::Starting)
                    .hint("see the engine log; the next request tries again");
                let shown = report(start.waiting, problem, stage);
                Phase::Stopped {
                    problem: Some(shown),
                }
                .because("exited while starting")
            }
            Phase::Ready { waiting, .. } => {
                self.after_crash(format!("the engine {description}"), uptime, None, waiting)
            }
            other => other.stay(),
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

    /// Call the engine ready: the requests waiting for the start get it.
    pub(super) fn become_ready(&mut self, run: Running, start: Start, reason: &str) -> Next {
        self.measure_memory(run.pid, run.generation);
        let next_health = crate::time::later_tokio(Instant::now(), self.health_interval());
        // Idle is counted from here: a warm-up longer than the idle timeout (a model's
        // download) must not unload the engine the moment it is ready.
        self.shared.mark_activity();
        start.waiting.answer(run.port);
        Phase::Ready {
            run,
            next_health,
            checks: Checks::Passing,
            waiting: Waiting::default(),
        }
        .because(reason)
    }

    /// Ask the engine for its first words, within what is left of the start-up time.
    fn spawn_first_words(&self, run: &Running, deadline: Instant, body: bytes::Bytes) {
        let target = FirstWordsTarget {
            url: format!("http://127.0.0.1:{}/v1/audio/speech", run.port),
            port: run.port,
            group: run.pid,
            body,
            timeout: deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1)),
        };
        let (generation, events) = (run.generation, self.events_tx.clone());
        let speech = self.host.ask_first_words(target);
        tokio::spawn(async move {
            let started = Instant::now();
            let result = speech.await;
            let took = started.elapsed();
            let _ = events.send(Event::FirstWords {
                generation,
                result,
                took,
            });
        });
    }

    /// An engine that answers its probe but cannot speak is not ready: it is a failed start,
    /// shown with the last lines of its log (a missing front end, a model that cannot load).
    fn on_first_words(
        &mut self,
        phase: Phase,
        generation: u64,
        result: Result<usize, NoAudio>,
        took: Duration,
    ) -> Next {
        let (run, start) = match phase {
            Phase::Starting {
                run,
                start,
                speaking: true,
                ..
            } if run.generation == generation => (run, start),
            other => return other.stay(),
        };
        match result {
            Ok(bytes) => {
                self.log.line(&format!(
                    "[murmur] engine {} spoke its first words ({bytes} bytes in {} ms)",
                    run.pid,
                    took.as_millis()
                ));
                self.become_ready(run, start, "spoke its first words")
            }
            Err(why) => {
                let message = format!(
                    "the engine answered its probe but could not speak: {why}{}",
                    self.stderr_tail()
                );
                self.log.line(&format!("[murmur] {message}"));
                let uptime = run.started.elapsed();
                let auto = start.auto;
                // Still Starting: stopping it is what comes next, whatever the budget says.
                let mut phase = Phase::Starting {
                    run,
                    deadline: Instant::now(),
                    next_probe: Instant::now(),
                    start,
                    speaking: true,
                };
                if auto && matches!(self.spend_crash(uptime), Budget::Retry(_)) {
                    return self.begin_stop(phase, Then::Restart, "could not speak");
                }
                let problem = Problem::new(message)
                    .at(Stage::Speech)
                    .hint("see the engine log; restart the engine to try again");
                let shown = report(phase.take_waiting(), problem, Some(Stage::Speech));
                self.begin_stop(phase, Then::Fail(shown), "could not speak")
            }
        }
    }

    pub(super) fn on_probe(&mut self, phase: Phase, probe: Probe, latency: Duration) -> Next {
        let ok = probe == Probe::Ok;
        if let Probe::Foreign(why) = &probe {
            tracing::warn!("not trusting the engine's port: {why}");
            self.log.line(&format!(
                "[murmur] {why}: another program may be trying to receive speech requests; \
                 not trusted"
            ));
        }
        let mut phase = phase;
        if ok && let Some(run) = phase.run_mut() {
            let latency_ms = (latency.as_secs_f64() * 10_000.0).round() / 10.0;
            run.last_ok = Some((unix_now(), latency_ms));
        }
        match phase {
            Phase::Starting {
                run,
                deadline,
                next_probe,
                start,
                speaking: false,
            } if ok => {
                if let Some(words) = self.capability.first_words(&self.settings) {
                    self.spawn_first_words(&run, deadline, words);
                    Phase::Starting {
                        run,
                        deadline,
                        next_probe,
                        start,
                        speaking: true,
                    }
                    .because("answered its probe; saying a first word")
                } else {
                    self.become_ready(run, start, "answered its probe")
                }
            }
            Phase::Ready {
                run,
                next_health,
                waiting,
                ..
            } if ok => {
                waiting.answer(run.port);
                Phase::Ready {
                    run,
                    next_health,
                    checks: Checks::Passing,
                    waiting: Waiting::default(),
                }
                .stay()
            }
            Phase::Ready {
                run,
                next_health,
                checks,
                waiting,
            } => {
                let failures = checks.failing() + 1;
                tracing::warn!(failures, "engine health check failed: {probe:?}");
                let phase = Phase::Ready {
                    run,
                    next_health,
                    checks: Checks::Failing(failures),
                    waiting,
                };
                if failures >= self.settings.supervisor.health_failures_before_restart {
                    let why = format!("stopped answering: {failures} health checks failed");
                    self.restart_or_fail(phase, &format!("the engine {why}"), &why)
                } else {
                    phase.stay()
                }
            }
            other => other.stay(),
        }
    }
}
