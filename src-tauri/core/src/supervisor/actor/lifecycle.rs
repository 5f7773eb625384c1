//! Spawning the engine and stopping it.

use super::*;

impl Actor {
    pub(super) fn start_engine(&mut self, auto: bool, reason: &str) {
        self.error = None;
        let reading = self.sampler.sample(None);
        self.memory.system_available_mb = reading.available_mb;
        self.memory.warning = memory::warning(
            reading.available_mb,
            self.capability
                .engine(&self.settings)
                .memory_estimate_mb(&self.settings),
        );
        if let Some(warning) = &self.memory.warning {
            tracing::warn!("{warning}");
        }

        if let Some((project, name)) = self
            .capability
            .engine(&self.settings)
            .python_project(&self.settings)
        {
            self.provision(project, name, auto, reason);
        } else {
            self.spawn_engine(None, auto, reason);
        }
    }

    /// Provision the engine's Python runtime on a helper task; `Event::Provisioned` continues.
    fn provision(&mut self, project: PathBuf, name: String, auto: bool, reason: &str) {
        self.generation += 1;
        let generation = self.generation;
        let (events, log) = (self.events_tx.clone(), self.log.clone());
        let (settings, data_dir) = (self.settings.clone(), self.data_dir.clone());
        let engine = self.capability.engine(&settings);
        let progress_events = events.clone();
        let progress = crate::runtime::Progress::new(move |warmup| {
            let _ = progress_events.send(Event::Warmup { generation, warmup });
        });
        tokio::spawn(async move {
            let log_line = move |line: &str| log.line(line);
            let provisioned = crate::runtime::provision(crate::runtime::Provision {
                project: &project,
                name: &name,
                settings: &settings.runtime,
                data_dir: &data_dir,
                policy: crate::runtime::download::DownloadPolicy::default(),
                progress: progress.clone(),
                log: &log_line,
                search_path: None,
            })
            .await
            .map_err(|e| {
                Problem::new(format!(
                    "cannot prepare the engine's Python environment: {e}"
                ))
                .hint(e.hint())
            });
            let result = match provisioned {
                Ok(runtime) => engine
                    .prepare(engine::Preparation {
                        settings: &settings,
                        data_dir: &data_dir,
                        runtime: &runtime,
                        project: &project,
                        progress: &progress,
                        log: &log_line,
                    })
                    .await
                    .map(|()| runtime),
                Err(e) => Err(e),
            };
            let _ = events.send(Event::Provisioned { generation, result });
        });
        let warmup = Warmup {
            stage: Some(Stage::Python),
            message: Some("checking the Python environment".into()),
            ..Warmup::default()
        };
        self.set_phase(
            Phase::Provisioning {
                generation,
                warmup,
                auto,
            },
            reason,
        );
    }

    /// Start the engine process (its runtime, if it has one, is ready).
    pub(super) fn spawn_engine(
        &mut self,
        runtime: Option<crate::runtime::Runtime>,
        auto: bool,
        reason: &str,
    ) {
        let port = match free_port() {
            Ok(port) => port,
            Err(e) => {
                return self
                    .start_failed(format!("no free loopback port for the engine: {e}"), None);
            }
        };
        let engine = self.capability.engine(&self.settings);
        let place = engine::Place {
            host: "127.0.0.1",
            port,
            data_dir: &self.data_dir,
            runtime: runtime.as_ref(),
        };
        let Some(launch) = engine.launch(&self.settings, &place) else {
            let id = engine.spec().id;
            return self.start_failed(
                format!("Murmur does not know how to launch the {id} engine"),
                None,
            );
        };
        self.log.line(&format!(
            "{STARTING_LINE} {} {} (port {port})",
            launch.program,
            launch.args.join(" ")
        ));
        let child = match self.host.spawn(&launch) {
            Ok(child) => child,
            Err(e) => {
                let hint = engine.spawn_hint();
                return self.start_failed(e.to_string(), Some(hint.into()));
            }
        };
        self.generation += 1;
        let generation = self.generation;
        if let Err(e) = pidfile::write(&self.pidfile(), child.pid) {
            tracing::warn!("cannot record the engine pid: {e}");
        }
        let copies: Vec<_> = child
            .output
            .into_iter()
            .map(|output| tokio::spawn(copy(output, self.log.clone())))
            .collect();
        let events = self.events_tx.clone();
        let exited = child.exited;
        tokio::spawn(async move {
            let status = exited.await;
            // Its last words (why it exited) reach the log before the exit is handled; a
            // grandchild holding the pipes open does not hold this up for long.
            let _ =
                tokio::time::timeout(OUTPUT_DRAIN, futures_util::future::join_all(copies)).await;
            let _ = events.send(Event::Exited { generation, status });
        });

        let now = Instant::now();
        let run = Running {
            pid: child.pid,
            port,
            generation,
            started: now,
            started_unix: unix_now(),
            probe_path: launch.probe_path,
            we_killed: false,
            stop_reason: None,
            probe_in_flight: false,
            _lifeline: child.lifeline,
        };
        let deadline = crate::time::later_tokio(
            now,
            Duration::from_secs(self.settings.supervisor.startup_timeout_secs),
        );
        self.health = Health::default();
        self.set_phase(
            Phase::Starting {
                run,
                deadline,
                next_probe: now,
                auto,
                speaking: false,
            },
            reason,
        );
    }

    /// A start that could not even spawn: waiters get the reason.
    pub(super) fn start_failed(&mut self, message: String, hint: Option<String>) {
        tracing::error!("engine start failed: {message}");
        self.log.line(&format!("[murmur] start failed: {message}"));
        let mut reason = Problem::new(message).at(Stage::Starting);
        reason.hint = hint;
        self.report(reason);
        self.set_phase(Phase::Stopped, "start failed");
    }

    pub(super) fn begin_stop(&mut self, then: Then, reason: &str) {
        let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
        let Some(mut run) = (match phase {
            Phase::Starting { run, .. }
            | Phase::Ready { run, .. }
            | Phase::Stopping { run, .. } => Some(run),
            other => {
                self.phase = other;
                None
            }
        }) else {
            return;
        };
        self.log
            .line(&format!("[murmur] stopping engine {} ({reason})", run.pid));
        run.stop_reason = Some(reason.to_string());
        self.host.signal(run.pid, Signal::Term);
        let kill_at = crate::time::later_tokio(
            Instant::now(),
            Duration::from_secs(self.settings.supervisor.stop_grace_secs),
        );
        self.set_phase(Phase::Stopping { run, kill_at, then }, reason);
    }
}

/// Copy an engine's output into its log, line by line.
async fn copy(output: Box<dyn tokio::io::AsyncBufRead + Send + Unpin>, log: EngineLog) {
    crate::lines::each_line(output, |line| log.line(line)).await;
}
