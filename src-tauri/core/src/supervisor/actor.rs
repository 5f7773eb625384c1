//! The task that owns the engine process. See the module docs of [`super`].

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

use super::logs::EngineLog;
use super::memory::{self, Sampler};
use super::process::{self, Signal, signal_group};
use super::{Command, Shared, loopback, pidfile};
use crate::backend::{NotReady, Upstream};
use crate::config::Settings;
use crate::engine;
use crate::http_client::{self, HttpClient, Probe};
use crate::status::{EngineInfo, ErrorInfo, Health, Memory, Restarts, State, Status, Warmup};

const PROBE_EVERY: Duration = Duration::from_millis(250);
const STDERR_LINES_IN_ERRORS: usize = 8;

/// One engine process.
struct Running {
    pid: u32,
    port: u16,
    generation: u64,
    started: Instant,
    started_unix: u64,
    probe_path: String,
    /// Murmur sent SIGKILL itself (so a SIGKILL exit is not "killed by the OS").
    we_killed: bool,
    /// Why Murmur is stopping it, if it is.
    stop_reason: Option<String>,
}

/// What to do once a stopping engine has exited.
#[derive(Debug, Clone, PartialEq)]
enum Then {
    Stop,
    Idle,
    Restart,
    Fail(String),
    Shutdown,
}

enum Phase {
    Stopped,
    Idle,
    Failed(String),
    Starting {
        run: Running,
        deadline: Instant,
        next_probe: Instant,
    },
    Ready {
        run: Running,
        next_health: Instant,
    },
    Stopping {
        run: Running,
        kill_at: Instant,
        then: Then,
    },
    Backoff {
        until: Instant,
        attempt: u32,
    },
}

impl Phase {
    fn run(&self) -> Option<&Running> {
        match self {
            Self::Starting { run, .. } | Self::Ready { run, .. } | Self::Stopping { run, .. } => {
                Some(run)
            }
            _ => None,
        }
    }
}

/// Reports from the helper tasks.
enum Event {
    Exited {
        generation: u64,
        status: std::io::Result<ExitStatus>,
    },
    Probe {
        generation: u64,
        probe: Probe,
        latency: Duration,
    },
}

pub(super) struct Actor {
    settings: Settings,
    data_dir: PathBuf,
    client: HttpClient,
    shared: Arc<Shared>,
    log: EngineLog,
    status: watch::Sender<Status>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    phase: Phase,
    generation: u64,
    /// Requests waiting for the current start.
    waiters: Vec<oneshot::Sender<Result<Upstream, NotReady>>>,
    /// Callers waiting for a stop (or restart, or shutdown) to finish.
    stop_waiters: Vec<oneshot::Sender<()>>,
    /// The start in progress was an automatic restart after a crash.
    auto_restart: bool,
    probe_in_flight: bool,
    crashes: u32,
    total_restarts: u32,
    last_exit: Option<String>,
    health: Health,
    memory: Memory,
    sampler: Sampler,
    error: Option<ErrorInfo>,
    exit: bool,
    /// Why the phase last changed, and the state last logged (transitions are logged once).
    reason: String,
    logged_state: &'static str,
}

impl Actor {
    pub(super) fn new(
        settings: Settings,
        data_dir: &Path,
        client: HttpClient,
        shared: Arc<Shared>,
        log: EngineLog,
    ) -> (Self, watch::Receiver<Status>) {
        let spec = engine::spec(settings.engine.id);
        let initial = Status::stopped(
            spec.id.as_str(),
            spec.display_name,
            settings.supervisor.max_restarts,
        );
        let (status, receiver) = watch::channel(initial);
        let (events_tx, events) = mpsc::unbounded_channel();
        let actor = Self {
            settings,
            data_dir: data_dir.to_path_buf(),
            client,
            shared,
            log,
            status,
            events_tx,
            events,
            phase: Phase::Stopped,
            generation: 0,
            waiters: Vec::new(),
            stop_waiters: Vec::new(),
            auto_restart: false,
            probe_in_flight: false,
            crashes: 0,
            total_restarts: 0,
            last_exit: None,
            health: Health::default(),
            memory: Memory::default(),
            sampler: Sampler::default(),
            error: None,
            exit: false,
            reason: String::new(),
            logged_state: "stopped",
        };
        (actor, receiver)
    }

    fn pidfile(&self) -> PathBuf {
        self.data_dir.join("engine.pid")
    }

    pub(super) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        match pidfile::reap(&self.pidfile()) {
            pidfile::Reaped::Stale(pid) => self.log.line(&format!(
                "[murmur] stopped engine {pid} left by an earlier run"
            )),
            pidfile::Reaped::Foreign(pid) => {
                self.log.line(&format!(
                    "[murmur] pid {pid} from the pidfile is another program now; left alone"
                ));
            }
            pidfile::Reaped::Nothing => {}
        }
        self.publish();
        while !self.exit {
            let wake = self.next_wake();
            tokio::select! {
                biased;
                Some(event) = self.events.recv() => self.event(event),
                command = inbox.recv() => match command {
                    Some(command) => self.command(command),
                    None => self.command(Command::Shutdown(oneshot::channel().0)),
                },
                () = tokio::time::sleep_until(wake.into()) => self.tick(),
            }
            self.publish();
        }
    }

    // ---- commands ---------------------------------------------------------------------

    fn command(&mut self, command: Command) {
        match command {
            Command::Start(reply) => self.on_start(reply),
            Command::Stop(reply) => {
                self.fail_waiters(NotReady::new("the engine was stopped"));
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
                self.fail_waiters(NotReady::new("Murmur is shutting down"));
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
                let relaunch = settings.engine != self.settings.engine;
                self.settings = *settings;
                if matches!(self.phase, Phase::Failed(_)) {
                    self.crashes = 0;
                    self.error = None;
                    self.set_phase(Phase::Stopped, "settings changed");
                }
                if relaunch && matches!(self.phase, Phase::Starting { .. } | Phase::Ready { .. }) {
                    self.total_restarts += 1;
                    self.begin_stop(Then::Restart, "settings changed");
                }
                let _ = reply.send(());
            }
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

    fn on_start(&mut self, reply: Option<oneshot::Sender<Result<Upstream, NotReady>>>) {
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
                    let _ = reply.send(Err(NotReady::new(format!(
                        "the engine has failed: {reason}"
                    ))
                    .stage("failed")
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
                    let _ = reply.send(Err(NotReady::new("Murmur is shutting down")));
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

    // ---- starting and stopping --------------------------------------------------------

    fn start_engine(&mut self, auto: bool, reason: &str) {
        self.auto_restart = auto;
        self.error = None;
        let reading = self.sampler.sample(None);
        self.memory.system_available_mb = reading.available_mb;
        self.memory.warning = memory::warning(
            reading.available_mb,
            engine::memory_estimate_mb(&self.settings),
        );
        if let Some(warning) = &self.memory.warning {
            tracing::warn!("{warning}");
        }

        let port = match free_port() {
            Ok(port) => port,
            Err(e) => {
                return self
                    .start_failed(format!("no free loopback port for the engine: {e}"), None);
            }
        };
        let Some(launch) = engine::launch(&self.settings, "127.0.0.1", port, &self.data_dir) else {
            let id = self.settings.engine.id;
            return self.start_failed(
                format!("Murmur does not know how to launch the {id} engine"),
                None,
            );
        };
        self.log.line(&format!(
            "[murmur] starting: {} {} (port {port})",
            launch.program,
            launch.args.join(" ")
        ));
        let spawned = match process::spawn(&launch, None) {
            Ok(spawned) => spawned,
            Err(e) => {
                let hint =
                    "check [engine.custom] command: the program must exist and be executable";
                return self.start_failed(e.to_string(), Some(hint.into()));
            }
        };
        self.generation += 1;
        let generation = self.generation;
        let mut child = spawned.child;
        if let Err(e) = pidfile::write(&self.pidfile(), spawned.pid) {
            tracing::warn!("cannot record the engine pid: {e}");
        }
        for stream in [
            child.stdout.take().map(Output::Out),
            child.stderr.take().map(Output::Err),
        ]
        .into_iter()
        .flatten()
        {
            tokio::spawn(copy_lines(stream, self.log.clone()));
        }
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = events.send(Event::Exited { generation, status });
        });

        let now = Instant::now();
        let run = Running {
            pid: spawned.pid,
            port,
            generation,
            started: now,
            started_unix: unix_now(),
            probe_path: launch.probe_path,
            we_killed: false,
            stop_reason: None,
        };
        let deadline = now + Duration::from_secs(self.settings.supervisor.startup_timeout_secs);
        self.health = Health::default();
        self.set_phase(
            Phase::Starting {
                run,
                deadline,
                next_probe: now,
            },
            reason,
        );
    }

    /// A start that could not even spawn: waiters get the reason.
    fn start_failed(&mut self, message: String, hint: Option<String>) {
        tracing::error!("engine start failed: {message}");
        self.log.line(&format!("[murmur] start failed: {message}"));
        let mut reason = NotReady::new(message.clone()).stage("starting");
        reason.hint = hint.clone();
        self.fail_waiters(reason);
        self.error = Some(ErrorInfo { message, hint });
        self.set_phase(Phase::Stopped, "start failed");
    }

    fn begin_stop(&mut self, then: Then, reason: &str) {
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
        signal_group(run.pid, Signal::Term);
        let kill_at =
            Instant::now() + Duration::from_secs(self.settings.supervisor.stop_grace_secs);
        self.set_phase(Phase::Stopping { run, kill_at, then }, reason);
    }

    // ---- events -----------------------------------------------------------------------

    fn event(&mut self, event: Event) {
        match event {
            Event::Exited { generation, status } => self.on_exit(generation, status),
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

    fn on_exit(&mut self, generation: u64, status: std::io::Result<ExitStatus>) {
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

    fn on_crash(&mut self, message: String, uptime: Duration) {
        let sup = &self.settings.supervisor;
        if uptime >= Duration::from_secs(sup.healthy_reset_secs) {
            self.crashes = 0;
        }
        self.crashes += 1;
        if sup.restart_on_crash && self.crashes <= sup.max_restarts {
            self.total_restarts += 1;
            let until = Instant::now() + Duration::from_millis(sup.restart_delay_ms);
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

    fn fail(&mut self, reason: String) {
        let hint = "see the engine log, then restart the engine or change its settings";
        self.fail_waiters(NotReady::new(reason.clone()).stage("failed").hint(hint));
        self.error = Some(ErrorInfo {
            message: reason.clone(),
            hint: Some(hint.into()),
        });
        self.set_phase(Phase::Failed(reason), "gave up");
    }

    fn on_probe(&mut self, probe: Probe, latency: Duration) {
        let ok = probe == Probe::Ok;
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
                let next_health = Instant::now() + self.health_interval();
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

    // ---- time -------------------------------------------------------------------------

    fn health_interval(&self) -> Duration {
        Duration::from_secs(self.settings.supervisor.health_interval_secs)
    }

    fn next_wake(&self) -> Instant {
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
                    wake = wake.min(Instant::now() + idle.saturating_sub(self.shared.idle_for()));
                }
                if self.crashes > 0 {
                    wake = wake.min(run.started + Duration::from_secs(sup.healthy_reset_secs));
                }
                wake
            }
            Phase::Stopping { kill_at, .. } => *kill_at,
            Phase::Backoff { until, .. } => *until,
            Phase::Stopped | Phase::Idle | Phase::Failed(_) => far,
        }
    }

    fn tick(&mut self) {
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
                    *next_health = now + Duration::from_secs(sup.health_interval_secs);
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
            Phase::Stopped | Phase::Idle | Phase::Failed(_) => {}
        }
    }

    fn spawn_probe(&mut self, timeout: Duration) {
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
        tokio::spawn(async move {
            let started = Instant::now();
            let probe = http_client::probe(&client, &url, timeout).await;
            let _ = events.send(Event::Probe {
                generation,
                probe,
                latency: started.elapsed(),
            });
        });
    }

    // ---- bookkeeping ------------------------------------------------------------------

    fn set_phase(&mut self, phase: Phase, reason: &str) {
        self.phase = phase;
        self.reason = reason.to_string();
    }

    fn fail_waiters(&mut self, reason: NotReady) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(reason.clone()));
        }
    }

    fn answer_stop_waiters(&mut self) {
        for waiter in self.stop_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    fn stderr_tail(&self) -> String {
        let lines: Vec<String> = self
            .log
            .tail(STDERR_LINES_IN_ERRORS)
            .into_iter()
            .filter(|l| !l.starts_with("[murmur]"))
            .collect();
        if lines.is_empty() {
            String::new()
        } else {
            format!("; last output:\n{}", lines.join("\n"))
        }
    }

    fn state(&self) -> State {
        match &self.phase {
            Phase::Stopped => State::Stopped,
            Phase::Idle => State::Idle,
            Phase::Failed(reason) => State::Failed {
                reason: reason.clone(),
            },
            Phase::Starting { .. } => State::Starting,
            Phase::Ready { .. } if self.health.consecutive_failures > 0 => State::Unhealthy,
            Phase::Ready { .. } => State::Ready,
            Phase::Stopping { .. } => State::Stopping,
            Phase::Backoff { until, attempt } => State::Backoff {
                attempt: *attempt,
                in_ms: until.saturating_duration_since(Instant::now()).as_millis() as u64,
            },
        }
    }

    fn publish(&mut self) {
        let name = self.state().name();
        if name != self.logged_state {
            tracing::info!("engine: {} → {name} ({})", self.logged_state, self.reason);
            self.logged_state = name;
        }
        let spec = engine::spec(self.settings.engine.id);
        let run = self.phase.run();
        let status = Status {
            state: self.state(),
            engine: EngineInfo {
                id: spec.id.as_str().into(),
                name: spec.display_name.into(),
                pid: run.map(|r| r.pid),
                port: run.map(|r| r.port),
                started_at: run.map(|r| r.started_unix),
                uptime_secs: run.map(|r| r.started.elapsed().as_secs()),
            },
            restarts: Restarts {
                total: self.total_restarts,
                crashes: self.crashes,
                max: self.settings.supervisor.max_restarts,
                last_exit: self.last_exit.clone(),
            },
            health: self.health.clone(),
            memory: self.memory.clone(),
            warmup: match &self.phase {
                Phase::Starting { .. } => Warmup {
                    stage: Some("server".into()),
                    message: Some("waiting for the engine to answer".into()),
                    ..Warmup::default()
                },
                _ => Warmup::default(),
            },
            error: self.error.clone(),
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

enum Output {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

async fn copy_lines(output: Output, log: EngineLog) {
    match output {
        Output::Out(out) => copy(BufReader::new(out), &log).await,
        Output::Err(err) => copy(BufReader::new(err), &log).await,
    }
}

async fn copy<R: tokio::io::AsyncBufRead + Unpin>(reader: R, log: &EngineLog) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log.line(&line);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
