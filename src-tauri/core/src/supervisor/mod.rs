//! The engine supervisor: starts the engine on demand, watches it, restarts it when it
//! crashes or stops answering, and stops it — never leaving it behind.
//!
//! # Theory of operation
//!
//! One task, the [`actor`], owns the engine process. Everything else holds a [`Supervisor`], a
//! cheap `Clone` handle that sends it commands (start, stop, restart, shutdown, new settings)
//! and reads [`Status`] from a `watch` channel. Start, stop and restart are therefore
//! serialised by construction: the actor handles one message at a time, and requests that
//! arrive during a start all wait for that one start (single flight).
//!
//! The actor never blocks: the child's exit and every HTTP probe run on their own small tasks
//! and report back as events, tagged with the generation of the process they concern, so a
//! late report about an old process is ignored.
//!
//! The actor follows [`LiveSettings`] itself: a settings change reaches it as a value, not a
//! command, and it relaunches the engine only when what the engine is launched with changed.
//!
//! The proxy sees the supervisor through [`Backend`]. A ready engine's port is offered in
//! [`Shared`] (one atomic the actor sets when its engine is ready and clears when it is not):
//! `ensure_ready` takes it from there without a message, so the usual request never waits on
//! the actor. Only when nothing is offered does it ask the actor and wait for the outcome of
//! a start. `report_unreachable` withdraws the offer (if it is still that port) and tells the
//! actor, so until a probe says otherwise the actor hands the port out to no one; the report
//! and a later ask are messages on one channel, answered in that order.

mod actor;
mod host;
mod logs;
mod memory;
pub mod pidfile;
pub mod process;

use crate::paths::Paths;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use tokio::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};

pub use logs::EngineLog;

use crate::backend::{Backend, Upstream};
use crate::config::{LiveSettings, Settings};
use crate::engine::Capability;
use crate::http_client::HttpClient;
use crate::problem::Problem;
use crate::status::{State, Status};

/// Where the outcome of a start goes: the engine's address, or why it is not ready.
pub(crate) type Reply = oneshot::Sender<Result<Upstream, Problem>>;

/// What the handle asks of the actor.
pub(crate) enum Command {
    /// Make the engine ready; the reply carries the outcome of the start (or `None` for a
    /// background warm-up nobody waits on).
    Start(Option<Reply>),
    Stop(oneshot::Sender<()>),
    Restart(oneshot::Sender<()>),
    /// Stop the engine and end the actor.
    Shutdown(oneshot::Sender<()>),
    /// Answered once every settings change made before it has been acted on.
    Sync(oneshot::Sender<()>),
    /// The proxy could not reach the engine on this port.
    Suspect(u16),
    /// A speech request to the engine on this port got no audio for this long.
    Hung(u16, std::time::Duration),
}

/// Shared between the handle and the actor without messages: cheap, per-request facts.
pub(crate) struct Shared {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last gated request (for idle unload).
    last_activity_ms: AtomicU64,
    /// Requests using the engine right now: it is not idle while any is.
    busy: AtomicUsize,
    /// The port of the engine ready to take requests, 0 when none is: set by the actor
    /// ([`Shared::offer`]), withdrawn by the handle when a request finds it unreachable.
    offered_port: AtomicU32,
}

impl Shared {
    /// How long the engine has had no request: zero while one is in flight, else the time
    /// since the last one ended.
    pub(crate) fn idle_for(&self) -> std::time::Duration {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return std::time::Duration::ZERO;
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        std::time::Duration::from_millis(
            now.saturating_sub(self.last_activity_ms.load(Ordering::Relaxed)),
        )
    }

    /// The actor offers its ready engine's port (`None`: no engine takes requests now).
    pub(crate) fn offer(&self, port: Option<u16>) {
        self.offered_port
            .store(port.map_or(0, u32::from), Ordering::Release);
    }

    /// The ready engine's port, if one is offered.
    fn offered(&self) -> Option<u16> {
        match self.offered_port.load(Ordering::Acquire) {
            0 => None,
            port => u16::try_from(port).ok(),
        }
    }

    /// Take back the offer of `port` (a request could not use it); another port stays.
    fn withdraw(&self, port: u16) {
        let _ = self.offered_port.compare_exchange(
            u32::from(port),
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    fn mark_activity(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.last_activity_ms.store(now, Ordering::Relaxed);
    }
}

/// One request in flight (see [`Backend::activity`]).
struct Busy(Arc<Shared>);

impl Busy {
    fn begin(shared: &Arc<Shared>) -> Self {
        shared.busy.fetch_add(1, Ordering::SeqCst);
        shared.mark_activity();
        Self(shared.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.mark_activity();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A handle to the engine supervisor. Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Status>,
    shared: Arc<Shared>,
    log: EngineLog,
}

impl Supervisor {
    /// Start the actor on the current tokio runtime. With `auto_start`, the engine begins
    /// warming up right away; otherwise the first request starts it.
    /// It follows `settings` from then on.
    pub fn spawn(
        capability: Capability,
        settings: &LiveSettings,
        paths: &Paths,
        client: HttpClient,
    ) -> Self {
        Self::spawn_on(
            capability,
            settings,
            paths,
            Arc::new(host::SystemHost::new(client)),
        )
    }

    /// [`Self::spawn`] with engines run by `host` (the actor's unit tests script one).
    fn spawn_on(
        capability: Capability,
        live: &LiveSettings,
        paths: &Paths,
        host: Arc<dyn host::Host>,
    ) -> Self {
        let mut settings_changes = live.subscribe();
        let settings: Arc<Settings> = settings_changes.borrow_and_update().clone();
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            offered_port: AtomicU32::new(0),
        });
        let log = EngineLog::open(&paths.data_dir.join("logs"), capability.file_stem());
        let (commands, inbox) = mpsc::unbounded_channel();
        let auto_start = capability.auto_start(&settings);
        let (actor, status) = actor::Actor::new(
            capability,
            settings,
            paths,
            host,
            shared.clone(),
            log.clone(),
        );
        tokio::spawn(actor.run(inbox, settings_changes));
        if auto_start {
            let _ = commands.send(Command::Start(None));
        }
        Self {
            commands,
            status,
            shared,
            log,
        }
    }

    /// Make the engine ready, starting it if needed.
    pub async fn start(&self) -> Result<Upstream, Problem> {
        let (reply, outcome) = oneshot::channel();
        self.send(Command::Start(Some(reply)));
        outcome
            .await
            .unwrap_or_else(|_| Err(Problem::new("Murmur is shutting down")))
    }

    /// Stop the engine (SIGTERM, grace, SIGKILL). Resolves once it is gone.
    pub async fn stop(&self) {
        self.ask(Command::Stop).await;
    }

    /// Stop and start again; clears a `Failed` state and the crash count.
    pub async fn restart(&self) {
        self.ask(Command::Restart).await;
    }

    /// Stop the engine and end the supervisor. Resolves once the engine is gone.
    pub async fn shutdown(&self) {
        self.ask(Command::Shutdown).await;
    }

    /// Resolves once the actor has acted on every settings change made before the call (a
    /// restart it needs has begun).
    pub async fn settled(&self) {
        self.ask(Command::Sync).await;
    }

    /// The live status.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// The last `n` lines of engine output.
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        self.log.tail(n)
    }

    fn send(&self, command: Command) {
        // A closed channel means the actor has ended (shutdown); the reply side reports it.
        let _ = self.commands.send(command);
    }

    async fn ask(&self, command: impl FnOnce(oneshot::Sender<()>) -> Command) {
        let (reply, done) = oneshot::channel();
        self.send(command(reply));
        let _ = done.await;
    }

    fn ready_port(&self) -> Option<u16> {
        let status = self.status.borrow();
        match status.state {
            State::Ready | State::Unhealthy => status.engine.port,
            _ => None,
        }
    }
}

fn loopback(port: u16) -> Upstream {
    Upstream::new(
        format!("127.0.0.1:{port}")
            .parse()
            .expect("invariant: 127.0.0.1:<u16> is a valid authority"),
    )
}

impl Backend for Supervisor {
    fn ensure_ready(&self) -> BoxFuture<'_, Result<Upstream, Problem>> {
        match self.shared.offered() {
            // The fast path: no message, no wait.
            Some(port) => futures_util::future::ready(Ok(loopback(port))).boxed(),
            None => self.start().boxed(),
        }
    }

    fn current(&self) -> Option<Upstream> {
        self.ready_port().map(loopback)
    }

    fn report_unreachable(&self, upstream: &Upstream) {
        if let Some(port) = upstream.authority.port_u16() {
            self.shared.withdraw(port);
            self.send(Command::Suspect(port));
        }
    }

    fn report_hung(&self, upstream: &Upstream, waited: std::time::Duration) {
        if let Some(port) = upstream.authority.port_u16() {
            // Requests asked after this wait for the restarted engine, not this one.
            self.shared.withdraw(port);
            self.send(Command::Hung(port, waited));
        }
    }

    fn is_ready(&self) -> bool {
        matches!(self.status.borrow().state, State::Ready)
    }

    fn activity(&self) -> crate::backend::Activity {
        crate::backend::Activity::new(Busy::begin(&self.shared))
    }
}

#[cfg(all(test, unix))]
mod tests;
