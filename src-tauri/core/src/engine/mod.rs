//! The engines Murmur knows, as data: one module per engine ([`piper`], [`mlx_audio`],
//! [`custom`], [`external`]), each an [`Engine`] that says what it is called, the model and
//! voice it uses when a request names none, how to launch it, which Python project it runs
//! in, how much memory it needs, what audio it hands back, and what must happen before it
//! starts. The supervisor and the proxy ask [`of`]; neither knows an engine by name.

mod bundled;
mod capability;
pub mod custom;
pub mod external;
pub mod kokoro;
pub mod mlx_audio;
pub mod model;
pub mod piper;
pub mod whisper;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use crate::audio::EngineAudio;
use crate::config::{EngineId, Settings, TranscriptionEngineId};
use crate::problem::{Problem, Stage};
use crate::runtime::{Progress, Runtime};
use crate::speech_request::SpeechRequest;
use bundled::{add_assets, bundled_launch};
pub use capability::{Capability, NoSuchCapability, Runner};

/// What Murmur knows about one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    /// As in settings and the status: `piper`, `whisper`.
    pub id: &'static str,
    /// For people: "Piper", "MLX Audio".
    pub display_name: &'static str,
    pub default_model: Option<&'static str>,
    pub default_voice: Option<&'static str>,
}

/// How to start an engine process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    /// Probed for readiness and health; 200 means up.
    pub probe_path: String,
    /// Keep a pipe on the engine's stdin: the launcher exits when it closes.
    pub stdin_guard: bool,
}

/// Where and with what an engine process is launched.
pub struct Place<'a> {
    pub host: &'a str,
    pub port: u16,
    pub data_dir: &'a Path,
    /// Its provisioned Python runtime, if it runs in one.
    pub runtime: Option<&'a Runtime>,
    /// Its Python project's folder, if it runs in one.
    pub project: Option<&'a Path>,
}

/// The uv project an engine runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Project {
    /// One Murmur ships (`python-runtime/<name>`); its runtime has the same name.
    Bundled(&'static str),
    /// A folder of the user's, run in the runtime `runtime`.
    Folder { dir: PathBuf, runtime: &'static str },
}

impl Project {
    /// (its folder, its runtime's name). A bundled project is looked for where Murmur runs
    /// from (`app`: the app bundle's resource folder, when it runs from one); when it is
    /// nowhere, its expected path, so provisioning fails with an error that names it.
    pub fn locate(&self, app: Option<&Path>) -> (PathBuf, String) {
        match self {
            Self::Bundled(name) => {
                let dir = crate::runtime::bundled::locate(name, app)
                    .unwrap_or_else(|| PathBuf::from("python-runtime").join(name));
                (dir, (*name).to_string())
            }
            Self::Folder { dir, runtime } => (dir.clone(), (*runtime).to_string()),
        }
    }
}

/// What an engine may do once its runtime is ready and before it is launched.
pub struct Preparation<'a> {
    pub settings: &'a Settings,
    pub data_dir: &'a Path,
    pub runtime: &'a Runtime,
    /// The engine's Python project folder.
    pub project: &'a Path,
    pub progress: &'a Progress,
    pub log: &'a (dyn Fn(&str) + Send + Sync),
}

/// One engine, as a process Murmur may run: what it is called, its Python, how it is
/// launched and prepared, what it answers, how much memory it needs. What it serves is a
/// trait of its own: [`SpeechEngine`], [`TranscriptionEngine`].
pub trait Engine: Sync {
    fn spec(&self) -> EngineSpec;

    /// The paths it answers, when Murmur knows them: any other path gets Murmur's own 404
    /// without reaching the engine. `None`: forward everything.
    fn served_paths(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// What it fetches or unpacks once its packages are installed and before its server
    /// starts, in order (the warm-up card lists these steps): language data, a model, a voice.
    fn prepares(&self) -> &'static [Stage] {
        &[]
    }

    /// The uv project it runs in, if it runs in Python.
    fn python_project(&self, _settings: &Settings) -> Option<Project> {
        None
    }

    /// The command that starts it, or `None` when Murmur cannot launch it (an external
    /// server, or a Python engine whose runtime is missing).
    fn launch(&self, _settings: &Settings, _place: &Place<'_>) -> Option<Launch> {
        None
    }

    /// Memory it is expected to need, in MB, when known.
    fn memory_estimate_mb(&self, _settings: &Settings) -> Option<u64> {
        None
    }

    /// Work before launch (MLX Audio fetches its model, with progress). Default: none.
    fn prepare<'a>(&self, _preparation: Preparation<'a>) -> BoxFuture<'a, Result<(), Problem>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// What to check when its process cannot be started.
    fn spawn_hint(&self) -> &'static str {
        "Murmur's Python environment may be damaged: restart the engine to check it again"
    }
}

/// An engine that speaks: what Murmur asks of it besides running it.
pub trait SpeechEngine: Engine {
    /// What its speech responses hold, and so what Murmur asks it for.
    fn audio(&self, settings: &Settings) -> EngineAudio;

    /// Whether Murmur asks it to stream (`"stream": true`): audio as it is made, rather than
    /// one file at the end.
    fn asks_to_stream(&self) -> bool {
        false
    }

    /// Whether it loads whatever model a request names (so only the configured one may be
    /// named).
    fn pins_model(&self) -> bool {
        false
    }
}

/// An engine that transcribes.
pub trait TranscriptionEngine: Engine {
    /// How it is asked to transcribe.
    fn transcribes_with(&self) -> Transcribes {
        Transcribes::OpenAi
    }
}

/// How a transcription engine is asked: either way it is sent 16 kHz mono audio that Murmur
/// decoded, whatever the client uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transcribes {
    /// Murmur's own route ([`whisper::TRANSCRIBE_PATH`]): s16le PCM in, NDJSON segments out
    /// as they are decided.
    MurmurPcm,
    /// OpenAI's `/v1/audio/transcriptions` (or `/translations`): a WAV file in,
    /// `verbose_json` out, all at once.
    OpenAi,
}

/// The registry.
pub fn of(id: EngineId) -> &'static dyn SpeechEngine {
    match id {
        EngineId::Piper => &piper::Piper,
        EngineId::MlxAudio => &mlx_audio::MlxAudio,
        EngineId::Kokoro => &kokoro::Kokoro,
        EngineId::Custom => &custom::SPEECH,
        EngineId::External => &external::External,
    }
}

/// The transcription engine `id` names (`off` has none; its Whisper stands in, never run).
pub fn transcription_engine(id: TranscriptionEngineId) -> &'static dyn TranscriptionEngine {
    match id {
        TranscriptionEngineId::Whisper | TranscriptionEngineId::Off => &whisper::Whisper,
        TranscriptionEngineId::MlxAudio => &mlx_audio::MlxTranscription,
        TranscriptionEngineId::Custom => &custom::TRANSCRIPTION,
        TranscriptionEngineId::External => &external::External,
    }
}

/// The spec of engine `id`.
pub fn spec(id: EngineId) -> EngineSpec {
    of(id).spec()
}

/// The model a request that names none gets: the configured one, else the engine's own.
pub fn effective_model(settings: &Settings) -> Option<String> {
    let spec = spec(settings.engine.id);
    settings
        .engine
        .model
        .clone()
        .or(spec.default_model.map(String::from))
}

/// The voice a request that names none gets: the configured one, else the engine's own.
pub fn effective_voice(settings: &Settings) -> Option<String> {
    let spec = spec(settings.engine.id);
    settings
        .engine
        .voice
        .clone()
        .or(spec.default_voice.map(String::from))
}

/// What the configured engine's speech responses hold.
pub fn audio(settings: &Settings) -> EngineAudio {
    of(settings.engine.id).audio(settings)
}

/// Whether the configured engine is asked to stream its speech.
pub fn asks_to_stream(settings: &Settings) -> bool {
    of(settings.engine.id).asks_to_stream()
}

/// The paths engine `id` answers, when Murmur knows them.
pub fn served_paths(id: EngineId) -> Option<&'static [&'static str]> {
    of(id).served_paths()
}

/// The speech request Murmur sends a managed engine that answers its probe, before calling it
/// ready: the configured model and voice, as a client's request that names neither would get.
pub fn readiness_speech(settings: &Settings) -> bytes::Bytes {
    let format = audio(settings)
        .request_format()
        .unwrap_or(settings.engine.response_format);
    let mut request = SpeechRequest::new(READINESS_PHRASE);
    request.response_format = Some(format);
    request.speed = Some(1.0);
    request.lang_code = Some("a".into());
    request.model = effective_model(settings);
    request.voice = effective_voice(settings);
    request.to_body()
}

/// What an engine says before Murmur calls it ready.
pub const READINESS_PHRASE: &str = "Ready.";

#[cfg(test)]
mod tests;
