//! `[transcription]`: what listens, and the limits on what it is sent.

use serde::{Deserialize, Serialize};

use super::CustomEngine;

/// Which engine serves transcription (`[transcription] engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TranscriptionEngineId {
    /// faster-whisper on CTranslate2 through Murmur's own server; the default off Apple
    /// Silicon.
    Whisper,
    /// `mlx_audio.server` with a Whisper model; the default on Apple Silicon.
    MlxAudio,
    /// Any OpenAI-compatible transcription server Murmur launches from
    /// `[transcription.custom]`.
    Custom,
    /// An OpenAI-compatible transcription server Murmur does not manage, at
    /// `[transcription] url`.
    External,
    /// No transcription: its routes answer 404.
    Off,
}

impl TranscriptionEngineId {
    pub const ALL: [TranscriptionEngineId; 5] = [
        Self::Whisper,
        Self::MlxAudio,
        Self::Custom,
        Self::External,
        Self::Off,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Whisper => "whisper",
            Self::MlxAudio => "mlx-audio",
            Self::Custom => "custom",
            Self::External => "external",
            Self::Off => "off",
        }
    }

    /// Parse a name as written in `--transcription` or `MURMUR_TRANSCRIPTION`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.as_str() == name)
    }

    /// `mlx-audio` on macOS arm64, `whisper` everywhere else.
    pub fn platform_default() -> Self {
        if cfg!(all(target_os = "macos", target_arch = "aarch64")) {
            Self::MlxAudio
        } else {
            Self::Whisper
        }
    }

    /// The model it uses when `[transcription] model` is unset: Whisper large-v3-turbo on
    /// MLX, `base` for faster-whisper (a good fit for a CPU); other servers choose their own.
    pub fn default_model(self) -> Option<&'static str> {
        match self {
            Self::Whisper => Some("base"),
            Self::MlxAudio => Some("mlx-community/whisper-large-v3-turbo"),
            Self::Custom | Self::External | Self::Off => None,
        }
    }
}

impl Default for TranscriptionEngineId {
    fn default() -> Self {
        Self::platform_default()
    }
}

impl std::fmt::Display for TranscriptionEngineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[transcription]`: what listens (`POST /v1/audio/transcriptions`, `/translations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscriptionSettings {
    pub engine: TranscriptionEngineId,
    /// Whisper: a catalog name (`tiny.en`, `base`, `large-v3-turbo`, …), a Hub repository id
    /// (`Systran/faster-whisper-small`), or a folder in faster-whisper's layout. MLX Audio: a
    /// Hub repository id. Custom and external servers: the `model` they are sent. Unset: the
    /// engine's own ([`TranscriptionEngineId::default_model`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The language requests that name none are read in; unset: detected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Unload the transcription engine after this long without requests; 0 keeps it loaded.
    pub idle_unload_secs: u64,
    /// Uploads larger than this many MB are refused (OpenAI's limit: 25).
    pub max_upload_mb: u64,
    /// Uploads whose decoded audio is longer than this are refused (a small file may hold
    /// hours of silence).
    pub max_audio_secs: u64,
    /// Live sessions (`/v1/realtime?intent=transcription`) open at once; more are refused.
    pub max_live_sessions: u64,
    /// A live session that sends nothing for this long is closed.
    pub live_idle_secs: u64,
    /// A live session is closed after this long, as OpenAI's are (60 min).
    pub max_live_session_secs: u64,
    /// `engine = "external"`: the server's base URL, e.g. `http://127.0.0.1:8000`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `engine = "external"`: the path probed for readiness.
    pub probe_path: String,
    /// `engine = "custom"`: the server Murmur launches (its `audio` and `sample_rate` are
    /// for speech and go unused here).
    pub custom: CustomEngine,
}

impl Default for TranscriptionSettings {
    fn default() -> Self {
        Self {
            engine: TranscriptionEngineId::default(),
            model: None,
            language: None,
            idle_unload_secs: 600,
            max_upload_mb: 25,
            max_audio_secs: 3 * 3600,
            max_live_sessions: 8,
            live_idle_secs: 120,
            max_live_session_secs: 3600,
            url: None,
            probe_path: "/v1/models".into(),
            custom: CustomEngine::default(),
        }
    }
}

impl TranscriptionSettings {
    /// The model requests are transcribed with: the configured one, else the engine's own.
    pub fn effective_model(&self) -> Option<String> {
        self.model
            .clone()
            .or(self.engine.default_model().map(String::from))
    }

    /// Whether going from `self` to `next` needs the engine started again: the defaults
    /// requests get (language) and the limits do not count.
    pub fn relaunches_for(&self, next: &TranscriptionSettings) -> bool {
        let launch = |t: &TranscriptionSettings| {
            (
                t.engine,
                t.effective_model(),
                t.url.clone(),
                t.probe_path.clone(),
                t.custom.clone(),
            )
        };
        launch(self) != launch(next)
    }
}
