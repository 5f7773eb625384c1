//! The status snapshot and its log of transitions.

use super::*;

impl Actor {
    pub(super) fn stderr_tail(&self) -> String {
        let lines = self.last_output();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; last output:\n{}", lines.join("\n"))
        }
    }

    /// Whether the engine's last output says its port was already in use.
    pub(super) fn lost_its_port(&self) -> bool {
        self.last_output().iter().any(|l| port_in_use(l))
    }

    /// The current engine's last lines of output (none of an earlier run's, none of Murmur's).
    fn last_output(&self) -> Vec<String> {
        let tail = self.log.tail(STDERR_LINES_IN_ERRORS);
        let this_run = tail
            .iter()
            .rposition(|l| l.starts_with(STARTING_LINE))
            .map_or(0, |i| i + 1);
        tail.into_iter()
            .skip(this_run)
            .filter(|l| !l.starts_with("[murmur]"))
            .collect()
    }

    pub(super) fn state(&self) -> State {
        match &self.phase {
            Phase::Stopped { .. } | Phase::Gone => State::Stopped,
            Phase::Idle => State::Idle,
            Phase::Failed(problem) => State::Failed {
                reason: problem.message.clone(),
            },
            Phase::Provisioning { .. } => State::Provisioning,
            Phase::Starting { .. } => State::Starting,
            Phase::Ready { checks, .. } if checks.failing() > 0 => State::Unhealthy,
            Phase::Ready { .. } => State::Ready,
            Phase::Stopping { .. } => State::Stopping,
            Phase::Backoff { until, attempt, .. } => State::Backoff {
                attempt: *attempt,
                in_ms: until.saturating_duration_since(Instant::now()).as_millis() as u64,
            },
        }
    }

    fn health(&self) -> Health {
        let Some(run) = self.phase.run() else {
            return Health::default();
        };
        let consecutive_failures = match &self.phase {
            Phase::Ready { checks, .. } => checks.failing(),
            _ => 0,
        };
        Health {
            last_ok_at: run.last_ok.map(|(at, _)| at),
            latency_ms: run.last_ok.map(|(_, ms)| ms),
            consecutive_failures,
        }
    }

    fn warmup(&self) -> Warmup {
        match &self.phase {
            Phase::Provisioning { warmup, .. } => warmup.clone(),
            Phase::Starting {
                speaking: false, ..
            } => Warmup {
                stage: Some(Stage::Server),
                message: Some("waiting for the engine to answer".into()),
                ..Warmup::default()
            },
            Phase::Starting { speaking: true, .. } => Warmup {
                stage: Some(Stage::Speech),
                message: Some("loading the model and saying a first word".into()),
                ..Warmup::default()
            },
            _ => Warmup::default(),
        }
    }

    /// Offer the port of an engine that takes requests, so they need not ask the actor. Only a
    /// change is written: a port the handle withdrew stays withdrawn until the phase says
    /// otherwise (a probe clears the suspicion, or another engine is ready).
    fn offer(&mut self) {
        let port = match &self.phase {
            Phase::Ready {
                run,
                checks: Checks::Passing | Checks::Failing(_),
                ..
            } => Some(run.port),
            _ => None,
        };
        if port != self.offered {
            self.offered = port;
            self.shared.offer(port);
        }
    }

    pub(super) fn publish(&mut self) {
        self.offer();
        let state = self.state();
        let name = state.name();
        if name != self.logged_state {
            tracing::info!(
                "{}: {} → {name} ({})",
                self.capability.noun(),
                self.logged_state,
                self.reason
            );
            self.logged_state = name;
        }
        let spec = self.capability.engine(&self.settings).spec();
        let run = self.phase.run();
        let status = Status {
            state,
            engine: EngineInfo {
                id: spec.id.into(),
                name: spec.display_name.into(),
                model: self.capability.model(&self.settings),
                voice: self.capability.voice(&self.settings),
                pid: run.map(|r| r.pid),
                port: run.map(|r| r.port),
                started_at: run.map(|r| r.started_unix),
                uptime_secs: run.map(|r| r.started.elapsed().as_secs()),
                steps: self.capability.warmup_steps(&self.settings),
            },
            restarts: Restarts {
                total: self.total_restarts,
                crashes: self.crashes,
                max: self.settings.supervisor.max_restarts,
                last_exit: self.last_exit.clone(),
            },
            health: self.health(),
            memory: self.memory.clone(),
            warmup: self.warmup(),
            error: self.phase.problem().cloned(),
            runtime_note: self.runtime_note.clone(),
            engines: Vec::new(),
            transcription: None,
            live_sessions: 0,
        };
        self.status.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status;
                true
            }
        });
    }
}

/// Whether an output line is an "address already in use" error, as Python, Rust or Go print it.
fn port_in_use(line: &str) -> bool {
    let line = line.to_ascii_lowercase();
    line.contains("address already in use")
        || line.contains("errno 98")
        || line.contains("errno 48")
        || line.contains("eaddrinuse")
}
