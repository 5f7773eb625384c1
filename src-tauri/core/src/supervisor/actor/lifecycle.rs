//! Spawning the engine and stopping it.

use super::*;

impl Actor {
    pub(super) fn start_engine(&mut self, start: Start, reason: &str) -> Next {
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

        if let Some((project, name)) = self.project() {
            self.provision(project, name, start, reason)
        } else {
            self.spawn_engine(None, start, None, reason)
        }
    }

    /// Provision the engine's Python runtime on a helper task; `Event::Provisioned` continues.
    fn provision(&mut self, project: PathBuf, name: String, start: Start, reason: &str) -> Next {
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
                policy: crate::runtime::fetch::DownloadPolicy::default(),
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
        Phase::Provisioning {
            generation,
            warmup,
            start,
        }
        .because(reason)
    }

    /// Start the engine process (its runtime, if it has one, is ready); `stage` is the
    /// warm-up step it comes from, for a failure to name.
    pub(super) fn spawn_engine(
        &mut self,
        runtime: Option<crate::runtime::Runtime>,
        start: Start,
        stage: Option<Stage>,
        reason: &str,
    ) -> Next {
        let port = match free_port() {
            Ok(port) => port,
            Err(e) => {
                let problem = Problem::new(format!("no free loopback port for the engine: {e}"));
                return self.start_failed(start, problem, stage);
            }
        };
        let engine = self.capability.engine(&self.settings);
        let project = self.project().map(|(dir, _)| dir);
        let place = engine::Place {
            host: "127.0.0.1",
            port,
            data_dir: &self.data_dir,
            runtime: runtime.as_ref(),
            project: project.as_deref(),
        };
        let Some(launch) = engine.launch(&self.settings, &place) else {
            let id = engine.spec().id;
            let problem = Problem::new(format!(
                "Murmur does not know how to launch the {id} engine"
            ));
            return self.start_failed(start, problem, stage);
        };
        self.log.line(&format!(
            "{STARTING_LINE} {} {} (port {port})",
            launch.program,
            launch.args.join(" ")
        ));
        let child = match self.host.spawn(&launch) {
            Ok(child) => child,
            Err(e) => {
                let problem = Problem::new(e.to_string()).hint(engine.spawn_hint());
                return self.start_failed(start, problem, stage);
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
            last_ok: None,
            _lifeline: child.lifeline,
        };
        let deadline = crate::time::later_tokio(
            now,
            Duration::from_secs(self.settings.supervisor.startup_timeout_secs),
        );
        Phase::Starting {
            run,
            deadline,
            next_probe: now,
            start,
            speaking: false,
        }
        .because(reason)
    }

    /// The engine's Python project, found where Murmur runs from: (folder, runtime name).
    fn project(&self) -> Option<(PathBuf, String)> {
        let engine = self.capability.engine(&self.settings);
        let project = engine.python_project(&self.settings)?;
        Some(project.locate(self.resources.as_deref()))
    }

    /// A start that could not even spawn: waiters get the problem, and the status shows it
    /// at `stage`.
    fn start_failed(&mut self, start: Start, problem: Problem, stage: Option<Stage>) -> Next {
        tracing::error!("engine start failed: {}", problem.message);
        self.log
            .line(&format!("[murmur] start failed: {}", problem.message));
        let shown = report(start.waiting, problem.at(Stage::Starting), stage);
        Phase::Stopped {
            problem: Some(shown),
        }
        .because("start failed")
    }

    /// Ask a running engine to stop (SIGTERM; SIGKILL after the grace period), then `then`.
    /// The requests waiting in `phase` wait on in the stop (for the start a restart makes). A
    /// phase without a process stays as it is.
    pub(super) fn begin_stop(&mut self, phase: Phase, then: Then, reason: &str) -> Next {
        let (mut run, waiting, stops) = match phase {
            Phase::Starting { run, start, .. } => (run, start.waiting, Stops::new()),
            Phase::Ready { run, waiting, .. } => (run, waiting, Stops::new()),
            Phase::Stopping {
                run,
                waiting,
                stops,
                ..
            } => (run, waiting, stops),
            other => return other.stay(),
        };
        self.log
            .line(&format!("[murmur] stopping engine {} ({reason})", run.pid));
        run.stop_reason = Some(reason.to_string());
        self.host.signal(run.pid, Signal::Term);
        let kill_at = crate::time::later_tokio(
            Instant::now(),
            Duration::from_secs(self.settings.supervisor.stop_grace_secs),
        );
        Phase::Stopping {
            run,
            kill_at,
            then,
            waiting,
            stops,
        }
        .because(reason)
    }
}

/// Copy an engine's output into its log, line by line.
async fn copy(output: Box<dyn tokio::io::AsyncBufRead + Send + Unpin>, log: EngineLog) {
    crate::lines::each_line(output, |line| log.line(line)).await;
}
