//! The actor's stand-in world: a scripted [`Host`] whose engine processes exit, hang, ignore
//! SIGTERM or cannot speak when a test says so, and a harness that waits on the status while
//! tokio's paused clock runs.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::super::Supervisor;
use super::super::host::{Child, FirstWordsTarget, Host, ProbeTarget};
use super::super::process::{Signal, SpawnError};
use crate::config::{EngineId, Settings};
use crate::engine::Launch;
use crate::http_client::{NoAudio, Probe};
use crate::status::{State, Status};

/// Fake pids sit above Linux's largest `pid_max` (2^22): never a real process.
pub(super) const FIRST_PID: u32 = 10_000_000;

#[derive(Default)]
pub(super) struct Script {
    pub(super) spawned: Vec<u32>,
    /// Running processes, and how to end each.
    pub(super) running: HashMap<u32, oneshot::Sender<ExitStatus>>,
    /// These answer no probe (a wedged engine).
    pub(super) hung: HashSet<u32>,
    /// These ignore SIGTERM.
    pub(super) stubborn: HashSet<u32>,
    /// These answer their probe but cannot speak (a dead inference thread).
    pub(super) mute: HashSet<u32>,
    /// Speech requests each process got.
    pub(super) spoken: Vec<u32>,
    /// How long a first synthesis takes (300 ms unless set): a slow warm-up.
    pub(super) first_words: Option<Duration>,
    pub(super) signals: Vec<(u32, Signal, Instant)>,
}

#[derive(Clone, Default)]
pub(super) struct FakeHost(Arc<Mutex<Script>>);

impl FakeHost {
    pub(super) fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().expect("script")
    }

    pub(super) fn current(&self) -> u32 {
        *self.script().spawned.last().expect("an engine was started")
    }

    /// The engine exits on its own with `code`.
    pub(super) fn crash(&self, pid: u32, code: i32) {
        let exit = self.script().running.remove(&pid).expect("running");
        let _ = exit.send(ExitStatus::from_raw(code << 8));
    }

    pub(super) fn spawned(&self) -> usize {
        self.script().spawned.len()
    }

    pub(super) fn signals_to(&self, pid: u32) -> Vec<(Signal, Instant)> {
        let script = self.script();
        let signals = script.signals.iter().filter(|(p, ..)| *p == pid);
        signals.map(|(_, signal, at)| (*signal, *at)).collect()
    }
}

impl Host for FakeHost {
    fn spawn(&self, _launch: &Launch) -> Result<Child, SpawnError> {
        let mut script = self.script();
        let pid = FIRST_PID + script.spawned.len() as u32;
        let (exit, exited) = oneshot::channel();
        script.spawned.push(pid);
        script.running.insert(pid, exit);
        Ok(Child {
            pid,
            exited: Box::pin(async move { Ok(exited.await.unwrap_or_default()) }),
            output: Vec::new(),
            lifeline: None,
        })
    }

    fn signal(&self, pgid: u32, signal: Signal) -> bool {
        let mut script = self.0.lock().expect("script");
        script.signals.push((pgid, signal, Instant::now()));
        let obeys = signal == Signal::Kill || !script.stubborn.contains(&pgid);
        match script.running.remove(&pgid) {
            Some(exit) if obeys => {
                let raw = if signal == Signal::Kill { 9 } else { 15 };
                let _ = exit.send(ExitStatus::from_raw(raw));
                true
            }
            Some(exit) => {
                script.running.insert(pgid, exit);
                true
            }
            None => false,
        }
    }

    fn probe(&self, target: ProbeTarget) -> BoxFuture<'static, (Probe, Duration)> {
        let script = self.script();
        let answers =
            script.running.contains_key(&target.group) && !script.hung.contains(&target.group);
        Box::pin(async move {
            if answers {
                (Probe::Ok, Duration::from_millis(1))
            } else {
                tokio::time::sleep(target.timeout).await;
                (Probe::Unreachable("timed out".into()), target.timeout)
            }
        })
    }

    fn ask_first_words(
        &self,
        target: FirstWordsTarget,
    ) -> BoxFuture<'static, Result<usize, NoAudio>> {
        let result = self.first_words_now(target.group);
        let takes = self
            .script()
            .first_words
            .unwrap_or(Duration::from_millis(300));
        Box::pin(async move {
            tokio::time::sleep(takes).await; // a first synthesis
            result
        })
    }
}

impl FakeHost {
    pub(super) fn first_words_now(&self, group: u32) -> Result<usize, NoAudio> {
        let mut script = self.script();
        script.spoken.push(group);
        if script.mute.contains(&group) {
            Err(NoAudio::Refused {
                status: http::StatusCode::INTERNAL_SERVER_ERROR,
                text: "the inference thread is gone".into(),
            })
        } else {
            Ok(4800)
        }
    }
}

pub(super) fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.engine.id = EngineId::Custom;
    settings.engine.custom.command = vec!["fake-engine".into(), "{port}".into()];
    let sup = &mut settings.supervisor;
    sup.auto_start = false;
    sup.restart_on_crash = true;
    sup.max_restarts = 2;
    sup.restart_delay_ms = 500;
    sup.healthy_reset_secs = 60;
    sup.health_interval_secs = 5;
    sup.health_timeout_secs = 2;
    sup.health_failures_before_restart = 3;
    sup.startup_timeout_secs = 30;
    sup.stop_grace_secs = 4;
    sup.idle_unload_secs = 0;
    settings
}

pub(super) struct Harness {
    pub(super) supervisor: Supervisor,
    /// The settings the supervisor follows.
    pub(super) settings: crate::config::LiveSettings,
    pub(super) host: FakeHost,
    _dir: tempfile::TempDir,
}

pub(super) fn harness(settings: Settings) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = FakeHost::default();
    let live = crate::config::LiveSettings::new(settings);
    let supervisor = Supervisor::spawn_on(
        crate::engine::Capability::Speech,
        &live,
        &crate::paths::Paths::under(dir.path()),
        Arc::new(host.clone()),
    );
    Harness {
        supervisor,
        settings: live,
        host,
        _dir: dir,
    }
}

impl Harness {
    /// The first status that satisfies `done` (the clock runs on while nothing else can).
    pub(super) async fn until(&self, what: &str, done: impl Fn(&Status) -> bool) -> Status {
        let mut status = self.supervisor.status();
        let waited = tokio::time::timeout(Duration::from_secs(3600), status.wait_for(|s| done(s)));
        match waited.await {
            Ok(Ok(status)) => status.clone(),
            _ => panic!("never {what}: {:?}", self.supervisor.status().borrow()),
        }
    }

    pub(super) async fn ready(&self) -> Status {
        self.until("ready", |s| s.state == State::Ready).await
    }
}

pub(super) fn failed(status: &Status) -> bool {
    matches!(status.state, State::Failed { .. })
}
