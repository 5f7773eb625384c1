//! `[engine] id = "external"`: a server Murmur does not run (`[engine] url`). Murmur only
//! probes and forwards to it; what it sends back is passed through as it is. (Its backend is
//! `backend::external`.)

use super::{Engine, EngineSpec, SpeechEngine, TranscriptionEngine};
use crate::audio::EngineAudio;
use crate::config::{EngineId, Settings};

pub struct External;

impl Engine for External {
    fn spec(&self) -> EngineSpec {
        EngineSpec {
            id: EngineId::External.as_str(),
            display_name: "External server",
            default_model: None,
            default_voice: None,
        }
    }
}

impl SpeechEngine for External {
    fn audio(&self, _settings: &Settings) -> EngineAudio {
        EngineAudio::Encoded
    }
}

/// Whatever it answers is passed on: OpenAI's route, as the client sent it.
impl TranscriptionEngine for External {}
