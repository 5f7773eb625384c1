//! Settings: one serde tree for `config.toml`, with every default beside its section (this
//! file, [`engine`]'s `[engine]`, [`transcription`], [`wyoming`]).
//!
//! Precedence is flags > environment (`MURMUR_*`) > config file > defaults, applied by
//! [`load`]. Validation runs once, at load, and names the offending key (and its line when the
//! value came from the file). Unknown keys are errors, so a typo never silently does nothing.
//! [`save`] writes atomically and keeps the previous file as `config.toml.bak`.

mod bounds;
mod desk;
mod engine;
mod error;
mod live;
mod load;
mod save;
mod transcription;
mod validate;
mod wyoming;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use bounds::numbers;
pub use desk::{
    DictationMode, DictationSettings, InsertMethod, MAX_PREROLL_MS, ReadAloudSettings, WhenBusy,
};
pub use engine::{CustomAudio, CustomEngine, EngineSettings, KokoroModel, KokoroSettings};
pub use error::ConfigError;
pub use live::LiveSettings;
pub use load::{Overrides, load, load_file, parse, transcription_engine_names};
pub use save::save;
pub use transcription::{TranscriptionEngineId, TranscriptionSettings};
pub(crate) use validate::parse_host as validate_host;
pub use validate::{FieldError, check};
pub use wyoming::{Network, WyomingSettings};

/// Environment variable names. Flags of the same meaning win over these.
pub mod env {
    pub const CONFIG: &str = "MURMUR_CONFIG";
    pub const DATA_DIR: &str = "MURMUR_DATA_DIR";
    pub const PORT: &str = "MURMUR_PORT";
    pub const ENGINE: &str = "MURMUR_ENGINE";
    pub const TRANSCRIPTION: &str = "MURMUR_TRANSCRIPTION";
    pub const LOG: &str = "MURMUR_LOG";
}

/// The default port of the OpenAI-compatible endpoint.
pub const DEFAULT_PORT: u16 = 19281;

/// The speeds Murmur speaks at (OpenAI's range): `[engine] speed` and a request's `speed`
/// are checked against this one range, and the page's speed fields take it from `about`.
pub const SPEED: std::ops::RangeInclusive<f64> = 0.25..=4.0;

/// [`SPEED`] in words: "0.25 to 4.0".
pub fn speed_range() -> String {
    format!("{:.2} to {:.1}", SPEED.start(), SPEED.end())
}

/// Everything a user can set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub proxy: ProxySettings,
    pub engine: EngineSettings,
    pub supervisor: SupervisorSettings,
    pub runtime: RuntimeSettings,
    pub transcription: TranscriptionSettings,
    pub wyoming: WyomingSettings,
    pub dictation: DictationSettings,
    pub read_aloud: ReadAloudSettings,
}

/// `[proxy]`: the endpoint clients talk to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// Address to bind. Anything but loopback requires `api_key`.
    pub host: String,
    pub port: u16,
    /// When set, `/v1/*` requires `Authorization: Bearer <api_key>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Host names accepted in the `Host` header besides loopback ones (DNS-rebinding guard).
    pub allowed_hosts: Vec<String>,
    /// Browser origins that may call the API (CORS). Empty: no browser page may.
    pub allowed_origins: Vec<String>,
    pub max_request_bytes: u64,
    pub max_response_bytes: u64,
    /// Bodies of other requests forwarded to the engine (uploads for transcription, say);
    /// each is read whole before it is sent.
    pub max_upload_bytes: u64,
    /// The longest speech `input` accepted, in characters (OpenAI's limit: 4096).
    pub max_input_chars: u64,
    /// Client connections open at once; more wait in the OS's queue.
    pub max_connections: u32,
    /// A request's headers must arrive within this long, and an idle kept-alive connection
    /// is closed after it.
    pub header_timeout_secs: u64,
    /// A request's body must arrive within this long (408 otherwise).
    pub body_timeout_secs: u64,
    pub upstream_timeout_secs: u64,
    /// A speech request that gets no audio from a managed engine within this long means the
    /// engine is stuck: the request gets a 503 and the engine is restarted. 0: never.
    pub first_audio_timeout_secs: u64,
    /// Requests in flight to the engine at once (MLX crashes under concurrency).
    pub max_concurrent_requests: u32,
    /// Requests waiting for the engine beyond those in flight; more get a 503.
    pub max_queue: u32,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// Whether listing models and voices needs `api_key` too. Off: Open WebUI and others
    /// never send a key for these, and fall back silently to OpenAI's names without them.
    pub discovery_requires_key: bool,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            api_key: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_request_bytes: 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_upload_bytes: 32 * 1024 * 1024,
            max_input_chars: 4096,
            max_connections: 512,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            upstream_timeout_secs: 600,
            first_audio_timeout_secs: 120,
            max_concurrent_requests: 1,
            max_queue: 32,
            shutdown_timeout_secs: 10,
            discovery_requires_key: false,
        }
    }
}

/// Which engine serves speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineId {
    /// Piper through Murmur's own OpenAI-compatible server; the default off Apple Silicon.
    Piper,
    /// `mlx_audio.server`; the default on Apple Silicon.
    MlxAudio,
    /// Kokoro-82M on ONNX Runtime through Murmur's own server, on every platform.
    Kokoro,
    /// Any OpenAI-compatible server Murmur launches from `[engine.custom]`.
    Custom,
    /// A server Murmur does not manage, at `[engine] url`.
    External,
}

impl EngineId {
    pub const ALL: [EngineId; 5] = [
        Self::Piper,
        Self::MlxAudio,
        Self::Kokoro,
        Self::Custom,
        Self::External,
    ];

    /// The name used in config files, flags and URLs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Piper => "piper",
            Self::MlxAudio => "mlx-audio",
            Self::Kokoro => "kokoro",
            Self::Custom => "custom",
            Self::External => "external",
        }
    }

    /// Parse a name as written in `--engine` or `MURMUR_ENGINE`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.as_str() == name)
    }

    /// `mlx-audio` on macOS arm64, `piper` everywhere else.
    pub fn platform_default() -> Self {
        if cfg!(all(target_os = "macos", target_arch = "aarch64")) {
            Self::MlxAudio
        } else {
            Self::Piper
        }
    }
}

impl Default for EngineId {
    fn default() -> Self {
        Self::platform_default()
    }
}

impl std::fmt::Display for EngineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The audio formats of OpenAI's speech API (the type lives with the audio pipeline).
pub use crate::audio::Format as AudioFormat;

/// `[supervisor]`: the engine's lifecycle. Defaults follow the openclaw-mlx-audio plugin,
/// except the start-up timeout (its 10 s is too short for a first model load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisorSettings {
    /// Warm the engine up in the background at launch instead of on the first request.
    pub auto_start: bool,
    pub restart_on_crash: bool,
    pub max_restarts: u32,
    pub restart_delay_ms: u64,
    pub healthy_reset_secs: u64,
    pub health_interval_secs: u64,
    pub health_timeout_secs: u64,
    pub health_failures_before_restart: u32,
    pub startup_timeout_secs: u64,
    pub stop_grace_secs: u64,
    /// Stop the engine after this long without speech requests; 0 keeps it loaded.
    pub idle_unload_secs: u64,
    /// Before calling an engine ready, ask it to speak a word: an engine whose probe answers
    /// but whose speech path is broken is a failed start, not a "ready" that hangs.
    pub speech_check: bool,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        Self {
            auto_start: true,
            restart_on_crash: true,
            max_restarts: 3,
            restart_delay_ms: 3000,
            healthy_reset_secs: 30,
            health_interval_secs: 30,
            health_timeout_secs: 5,
            health_failures_before_restart: 3,
            startup_timeout_secs: 120,
            stop_grace_secs: 5,
            idle_unload_secs: 0,
            speech_check: true,
        }
    }
}

/// `[runtime]`: how the engine's Python environment is provisioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Use this uv instead of finding or downloading one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uv_path: Option<PathBuf>,
    /// Force an interpreter (a path or a version request such as `3.12`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// PyPI's JSON API, or a mirror of it, used to download uv.
    pub pypi_url: String,
    /// Where uv downloads managed Pythons from (`UV_PYTHON_INSTALL_MIRROR`); unset: uv's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_install_mirror: Option<String>,
    /// The Hugging Face Hub, or a mirror of it (`HF_ENDPOINT`): where models are fetched.
    pub huggingface_url: String,
    /// spaCy's model releases, or a folder laid out like them: the English front end's
    /// `en_core_web_sm` (not on PyPI) is fetched from `<url>/<name>-<version>/<wheel>`.
    pub spacy_models_url: String,
    /// Kokoro's ONNX models (kokoro-onnx's release files), or a folder holding them.
    pub kokoro_models_url: String,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            uv_path: None,
            python: None,
            pypi_url: "https://pypi.org/pypi".into(),
            python_install_mirror: None,
            huggingface_url: "https://huggingface.co".into(),
            spacy_models_url: "https://github.com/explosion/spacy-models/releases/download".into(),
            kokoro_models_url:
                "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0"
                    .into(),
        }
    }
}
