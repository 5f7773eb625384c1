//! Which engine: the one that speaks or the one that listens, and who runs it.

use super::{Engine, effective_model, effective_voice, of, readiness_speech, transcription_engine};
use crate::config::{EngineId, Settings};
use crate::problem::Stage;

/// Who runs a capability's engine, as the settings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// The capability is off (`[transcription] engine = "off"`).
    Off,
    /// A server Murmur does not run (`external`): probed, then forwarded to.
    External,
    /// Murmur runs it under a supervisor.
    Murmur,
}

/// Which of Murmur's two engines: the one that speaks or the one that listens. Each runs
/// under its own supervisor (the same code, instantiated twice); this says which settings it
/// follows and which files are its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Speech,
    Transcription,
}

impl Capability {
    /// Every capability, in the order the status, the tray and the page show them.
    pub const ALL: [Self; 2] = [Self::Speech, Self::Transcription];

    /// Its name in Murmur's API (`/murmur/api/engines/{capability}/…`) and status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Speech => "speech",
            Self::Transcription => "transcription",
        }
    }

    /// Who runs its engine: nobody (off), a server of the user's, or Murmur.
    pub fn runner(self, settings: &Settings) -> Runner {
        use crate::config::TranscriptionEngineId;
        match self {
            Self::Speech => match settings.engine.id {
                EngineId::External => Runner::External,
                EngineId::Piper | EngineId::MlxAudio | EngineId::Kokoro | EngineId::Custom => {
                    Runner::Murmur
                }
            },
            Self::Transcription => match settings.transcription.engine {
                TranscriptionEngineId::Off => Runner::Off,
                TranscriptionEngineId::External => Runner::External,
                TranscriptionEngineId::Whisper
                | TranscriptionEngineId::MlxAudio
                | TranscriptionEngineId::Custom => Runner::Murmur,
            },
        }
    }

    /// Its engine's part of Murmur's status, unless it is off.
    pub fn status(self, status: &crate::status::Status) -> Option<&crate::status::Status> {
        status.of(self.as_str())
    }

    /// The settings section that configures it, for messages: `[engine]`, `[transcription]`.
    pub fn section(self) -> &'static str {
        match self {
            Self::Speech => "engine",
            Self::Transcription => "transcription",
        }
    }

    /// The engine `settings` configure for this capability.
    pub fn engine(self, settings: &Settings) -> &'static dyn Engine {
        match self {
            Self::Speech => of(settings.engine.id) as &dyn Engine,
            Self::Transcription => {
                transcription_engine(settings.transcription.engine) as &dyn Engine
            }
        }
    }

    /// Its pidfile and log are `<stem>.pid` and `logs/<stem>.log`.
    pub fn file_stem(self) -> &'static str {
        match self {
            Self::Speech => "engine",
            Self::Transcription => "transcription",
        }
    }

    /// For log lines: "engine" or "transcription engine".
    pub fn noun(self) -> &'static str {
        match self {
            Self::Speech => "engine",
            Self::Transcription => "transcription engine",
        }
    }

    /// The model requests get when they name none.
    pub fn model(self, settings: &Settings) -> Option<String> {
        match self {
            Self::Speech => effective_model(settings),
            Self::Transcription => settings.transcription.effective_model(),
        }
    }

    /// The voice requests get when they name none (speech only).
    pub fn voice(self, settings: &Settings) -> Option<String> {
        match self {
            Self::Speech => effective_voice(settings),
            Self::Transcription => None,
        }
    }

    /// Unload after this long without requests; 0: never.
    pub fn idle_unload_secs(self, settings: &Settings) -> u64 {
        match self {
            Self::Speech => settings.supervisor.idle_unload_secs,
            Self::Transcription => settings.transcription.idle_unload_secs,
        }
    }

    /// Warm up at launch rather than on the first request (transcription never does: most
    /// users speak more than they listen, and its model is large).
    pub fn auto_start(self, settings: &Settings) -> bool {
        match self {
            Self::Speech => settings.supervisor.auto_start,
            Self::Transcription => false,
        }
    }

    /// Whether going from `old` to `new` needs the engine launched again.
    pub fn relaunches(self, old: &Settings, new: &Settings) -> bool {
        match self {
            Self::Speech => old.engine.relaunches_for(&new.engine),
            Self::Transcription => old.transcription.relaunches_for(&new.transcription),
        }
    }

    /// Whether the engine is asked to speak before it is called ready.
    pub fn asks_first_words(self, settings: &Settings) -> bool {
        self == Self::Speech && settings.supervisor.speech_check
    }

    /// The speech asked of the engine before it is called ready, when it is asked for one.
    pub fn first_words(self, settings: &Settings) -> Option<bytes::Bytes> {
        self.asks_first_words(settings)
            .then(|| readiness_speech(settings))
    }

    /// The steps of the engine's warm-up, in order: its Python (if it runs in one), what it
    /// [prepares](Engine::prepares), its server, its first words (if asked for), ready.
    pub fn warmup_steps(self, settings: &Settings) -> Vec<Stage> {
        let engine = self.engine(settings);
        let mut steps = Vec::new();
        if engine.python_project(settings).is_some() {
            steps.extend([Stage::Uv, Stage::Python, Stage::Packages]);
        }
        steps.extend(engine.prepares());
        steps.push(Stage::Server);
        if self.asks_first_words(settings) {
            steps.push(Stage::Speech);
        }
        steps.push(Stage::Ready);
        steps
    }
}

/// A name that is no capability's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no engine {0:?}; use speech or transcription")]
pub struct NoSuchCapability(pub String);

impl std::str::FromStr for Capability {
    type Err = NoSuchCapability;

    fn from_str(name: &str) -> Result<Self, NoSuchCapability> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| NoSuchCapability(name.to_string()))
    }
}
