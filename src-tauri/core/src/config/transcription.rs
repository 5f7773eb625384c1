//! `[transcription]`: what listens, and the limits on what it is sent.

use serde::{Deserialize, Serialize};

/// Which engine serves transcription (`[transcription] engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TranscriberId {
    /// faster-whisper on CTranslate2 through Murmur's own server; the default off Apple
    /// Silicon.
    #[default]
    Whisper,
    /// No transcription: its routes answer 404.
    Off,
}

impl TranscriberId {
    pub const ALL: [TranscriberId; 2] = [Self::Whisper, Self::Off];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Whisper => "whisper",
            Self::Off => "off",
        }
    }
}

impl std::fmt::Display for TranscriberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[transcription]`: what listens (`POST /v1/audio/transcriptions`, `/translations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscriptionSettings {
    pub engine: TranscriberId,
    /// A catalog name (`tiny.en`, `base`, `large-v3-turbo`, …), a Hub repository id
    /// (`Systran/faster-whisper-small`), or a folder in faster-whisper's layout.
    pub model: String,
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
}

impl Default for TranscriptionSettings {
    fn default() -> Self {
        Self {
            engine: TranscriberId::default(),
            model: "base".into(),
            language: None,
            idle_unload_secs: 600,
            max_upload_mb: 25,
            max_audio_secs: 3 * 3600,
        }
    }
}

impl TranscriptionSettings {
    /// Whether going from `self` to `next` needs the engine started again: the defaults
    /// requests get (language) and the limits do not count.
    pub fn relaunches_for(&self, next: &TranscriptionSettings) -> bool {
        let launch = |t: &TranscriptionSettings| (t.engine, t.model.clone());
        launch(self) != launch(next)
    }
}
