//! Control: what the user can ask of a running Murmur — start, stop or restart the engine, read
//! its status and logs, read and save settings, hear a test phrase.
//!
//! [`Control`] is a typed handle, and the one place those actions are written. Its callers
//! are adapters over it: the HTTP API under `/murmur/api/` ([`http`], guarded by a token), the
//! tray (which calls the handle directly), and, through that HTTP API over loopback, the
//! settings window ([`local`]). State-changing HTTP calls are refused from any web page but
//! Murmur's own.
//!
//! Control knows the engines through what the composition root (`server.rs`) hands it: the
//! [`Engines`] collection (each engine's backend says whether it is ready; its supervisor,
//! when Murmur runs it, starts and stops it), and a [`Speaker`] for test speech. Every engine
//! action takes the [`Capability`] it is for. It never reaches into the proxy.

pub mod http;
pub mod local;
mod models;
pub mod openapi;
pub mod page;
pub mod settings;
pub mod token;
mod trial;
mod voices;

pub use models::{ModelAction, ModelEntry, TranscriptionModels};
pub use trial::{SpeakTest, TEST_PHRASE};

use std::path::PathBuf;
use std::sync::Arc;

use axum::response::Response;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::api_error::{ApiError, Code};
use crate::config::{LiveSettings, Overrides};
use crate::engines::{Capability, Engine, Engines, Runner};
use crate::metrics::Metrics;
use crate::problem::Stage;
use crate::security::Policy;
use crate::speech_request::SpeechRequest;
use crate::status::{State as EngineState, Status};
use crate::supervisor::Supervisor;

/// Makes speech, and transcribes, the way a client's request would (the proxy's paths): what
/// the page's Test speech and Test transcription use.
pub trait Speaker: Send + Sync + 'static {
    fn speak(&self, request: SpeechRequest) -> BoxFuture<'static, Result<Response, ApiError>>;
    /// `request` is an OpenAI transcription request (its multipart form unread).
    fn transcribe(&self, request: axum::extract::Request) -> BoxFuture<'static, Response>;
}

/// The desktop app's dictation and read aloud, as the control API sees them (headless
/// `murmurd` has none).
pub trait Desk: Send + Sync + 'static {
    /// The microphones there are, by name.
    fn microphones(&self) -> Vec<String>;
    /// The open microphone's loudness, 0–1 (`None` when it is closed).
    fn level(&self) -> Option<f32>;
    /// How this desktop lets Murmur hear the shortcuts and put text in other apps, in a
    /// sentence for the settings (Wayland's limits said plainly).
    fn ways(&self) -> String;
    /// Insert `text` into whatever app has the focus after `delay` (the page's "Insert
    /// again": time to click where it goes).
    fn insert(&self, text: String, delay: std::time::Duration);
}

/// What [`Control::new`] is built from.
pub struct Parts {
    /// The bearer token (`<data-dir>/control-token`); without one the HTTP API refuses all.
    pub token: Option<String>,
    /// Where settings are saved.
    pub config_file: PathBuf,
    /// Environment and flag values that win over the file.
    pub overrides: Overrides,
    /// The OpenAI base URL clients use (`http://127.0.0.1:19281/v1`).
    pub api_url: String,
    /// The engines, by capability.
    pub engines: Engines,
    /// The effective settings, which a save or a reload replaces.
    pub live: LiveSettings,
    pub metrics: Arc<Metrics>,
    pub speaker: Arc<dyn Speaker>,
    /// Who may talk to Murmur: the HTTP API asks it which origin is Murmur's own page.
    pub policy: Arc<Policy>,
    /// The voices each engine can install.
    pub catalog: crate::catalog::Catalog,
    /// The transcription models installed from the page.
    pub models: crate::catalog::models::ModelInstalls,
    /// Murmur's data folder (where models are installed).
    pub data_dir: PathBuf,
    /// The Wyoming server's address, when it runs.
    pub wyoming_url: Option<String>,
    /// The dictation history (the desktop app's dictations).
    pub dictations: Arc<crate::dictations::History>,
    /// The desktop app's dictation and read aloud, once it runs them in this process.
    pub desk: std::sync::OnceLock<Arc<dyn Desk>>,
}

/// A handle to a running Murmur's controls. Cheap to clone.
#[derive(Clone)]
pub struct Control(Arc<Parts>);

/// What the engine buttons and the tray's toggle do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineAction {
    Start,
    Stop,
    Restart,
}

impl EngineAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

impl std::str::FromStr for EngineAction {
    type Err = ApiError;

    fn from_str(action: &str) -> Result<Self, ApiError> {
        match action {
            "start" => Ok(Self::Start),
            "stop" => Ok(Self::Stop),
            "restart" => Ok(Self::Restart),
            other => Err(ApiError::not_found(format!(
                "no engine action {other:?}; use start, stop or restart"
            ))),
        }
    }
}

/// What a client needs to know to use this Murmur.
#[derive(Debug, Clone, serde::Serialize)]
pub struct About {
    pub version: &'static str,
    pub api_url: String,
    pub config_file: String,
    /// Where Home Assistant reaches Murmur's Wyoming server (`tcp://host:port`), when on.
    pub wyoming_url: Option<String>,
    /// Dictation and read aloud run here (the desktop app, not `murmurd`).
    pub desk: bool,
    /// The speeds speech takes, lowest and highest ([`crate::config::SPEED`]).
    pub speed_range: [f64; 2],
    /// Every warm-up step with its label for people (a status's `engine.steps` names them).
    pub stages: Vec<StageLabel>,
}

/// A warm-up step as the page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageLabel {
    pub id: Stage,
    pub label: &'static str,
}

impl Control {
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }

    pub(crate) fn parts(&self) -> &Parts {
        &self.0
    }

    /// The control token, as read (or created) once when Murmur started; `None` when it could
    /// not be, and the HTTP API refuses all.
    pub fn token(&self) -> Option<&str> {
        self.0.token.as_deref()
    }

    /// The OpenAI base URL clients use.
    pub fn api_url(&self) -> &str {
        &self.0.api_url
    }

    pub fn about(&self) -> About {
        About {
            version: env!("CARGO_PKG_VERSION"),
            api_url: self.0.api_url.clone(),
            config_file: self.0.config_file.display().to_string(),
            wyoming_url: self.0.wyoming_url.clone(),
            desk: self.has_desk(),
            speed_range: [*crate::config::SPEED.start(), *crate::config::SPEED.end()],
            stages: Stage::WARMUP
                .into_iter()
                .map(|id| StageLabel {
                    id,
                    label: id.label(),
                })
                .collect(),
        }
    }

    /// The kept dictations.
    pub fn dictations(&self) -> &crate::dictations::History {
        &self.0.dictations
    }

    /// Whether dictation and read aloud run in this process.
    pub fn has_desk(&self) -> bool {
        self.0.desk.get().is_some()
    }

    /// The desk, when dictation and read aloud run here.
    pub fn desk(&self) -> Option<&Arc<dyn Desk>> {
        self.0.desk.get()
    }

    /// The desktop app's dictation and read aloud run (once; later calls are ignored).
    pub fn attach_desk(&self, desk: Arc<dyn Desk>) {
        let _ = self.0.desk.set(desk);
    }

    /// The engines, by capability.
    pub fn engines(&self) -> &Engines {
        &self.0.engines
    }

    /// Whether Murmur runs the speech engine (and so can start and stop it).
    pub fn manages_engine(&self) -> bool {
        self.0.engines.speech().supervisor.is_some()
    }

    /// Every engine's status now, listed in `engines`; speech's is also the top level.
    pub fn status(&self) -> Status {
        let listed = self
            .0
            .engines
            .iter()
            .map(|engine| {
                let mut status = self.engine_status(engine);
                if engine.capability == crate::engine::Capability::Transcription {
                    status.live_sessions = self.0.metrics.live.open_now();
                }
                crate::status::Listed {
                    capability: engine.capability.as_str().into(),
                    status,
                }
            })
            .collect();
        Status::of_engines(listed)
            .expect("invariant: Engines::build always makes the speech engine")
    }

    /// One engine's status: its supervisor's, or for one Murmur does not run, whether it
    /// answered.
    fn engine_status(&self, engine: &Engine) -> Status {
        if let Some(supervisor) = &engine.supervisor {
            return supervisor.status().borrow().clone();
        }
        let spec = engine.capability.engine(&self.0.live.get()).spec();
        let mut status = Status::stopped(spec.id, spec.display_name, 0);
        status.engine.steps = vec![Stage::Server, Stage::Ready];
        if engine.backend.is_ready() {
            status.state = EngineState::Ready;
        }
        status
    }

    /// Each change of an engine's status, when Murmur runs it (an external one, or a
    /// capability that is off, has none).
    pub fn watch(&self, capability: Capability) -> Option<watch::Receiver<Status>> {
        self.supervisor(capability).map(Supervisor::status)
    }

    /// Every engine's status changes, from now on (see [`Changes`]).
    pub fn changes(&self) -> Changes {
        Changes(
            Capability::ALL
                .into_iter()
                .filter_map(|c| self.watch(c))
                .collect(),
        )
    }

    fn supervisor(&self, capability: Capability) -> Option<&Supervisor> {
        self.0.engines.get(capability)?.supervisor.as_ref()
    }

    /// Start, stop or restart an engine; answers with the status after. A failed start is
    /// not an error of this call: the status says what happened.
    pub async fn act(
        &self,
        capability: Capability,
        action: EngineAction,
    ) -> Result<Status, ApiError> {
        let Some(supervisor) = self.supervisor(capability) else {
            let section = capability.section();
            let why = match capability.runner(&self.0.live.get()) {
                Runner::Off => format!(
                    "{} is off ([{section}] engine = \"off\")",
                    capability.as_str()
                ),
                Runner::External | Runner::Murmur => format!(
                    "Murmur does not run this {} ([{section}] {} = \"external\"), so it cannot start or stop it",
                    capability.noun(),
                    if capability == Capability::Speech {
                        "id"
                    } else {
                        "engine"
                    },
                ),
            };
            return Err(ApiError::conflict(Code::NotManaged, why));
        };
        match action {
            EngineAction::Start => {
                let _ = supervisor.start().await;
            }
            EngineAction::Stop => supervisor.stop().await,
            EngineAction::Restart => supervisor.restart().await,
        }
        Ok(self.status())
    }

    /// The last `n` lines of the speech engine's output (at most 200 are kept).
    pub fn log_tail(&self, n: usize) -> Vec<String> {
        self.supervisor(Capability::Speech)
            .map(|s| s.log_tail(n.min(200)))
            .unwrap_or_default()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// (restarts, crashes in a row) of an engine, unless its capability is off.
    pub fn restarts(&self, capability: Capability) -> Option<(u32, u32)> {
        let engine = self.0.engines.get(capability)?;
        let status = self.engine_status(engine);
        Some((status.restarts.total, status.restarts.crashes))
    }

    /// Stop every engine for good (Murmur is quitting). Resolves once they are gone.
    pub async fn shutdown(&self) {
        self.0.engines.shutdown().await;
    }
}

/// Follows the status of every engine Murmur runs.
pub struct Changes(Vec<watch::Receiver<Status>>);

impl Changes {
    /// Resolves when one engine's status changes (read [`Control::status`] for all of them);
    /// `None` once an engine's supervisor has ended (Murmur is stopping). Never, when Murmur
    /// runs no engine.
    pub async fn next(&mut self) -> Option<()> {
        if self.0.is_empty() {
            return std::future::pending().await;
        }
        let changes = self.0.iter_mut().map(|receiver| {
            Box::pin(async move {
                receiver.changed().await.ok()?;
                receiver.borrow_and_update();
                Some(())
            })
        });
        futures_util::future::select_all(changes).await.0
    }
}
