//! `[engine]`: what speaks, with `[engine.kokoro]` and `[engine.custom]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{AudioFormat, EngineId};

/// `[engine]`: what speaks, and the request defaults Murmur fills in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    pub id: EngineId,
    /// Model sent when a request names none (or an OpenAI model name); unset: the engine's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Voice used when a request names none (or an OpenAI voice name); unset: the engine's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    pub speed: f64,
    /// Format used when a request names none: mp3, as OpenAI's API (Murmur encodes it).
    pub response_format: AudioFormat,
    /// `auto` detects from the text (kana → j, CJK → z, else a), as mlx-audio expects.
    pub lang_code: String,
    /// The voice for a text in another language than `voice`'s, by primary language subtag
    /// (`zh = "zf_xiaobei"`, `ja = "jf_alpha"`); a language with none here gets the first
    /// installed voice that speaks it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub language_voices: BTreeMap<String, String>,
    /// Where the voices installed from the catalog live (Piper: `.onnx` + `.onnx.json`;
    /// Kokoro: `<id>.bin`); unset: `<data-dir>/voices/<engine>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voices_dir: Option<PathBuf>,
    /// `id = "external"`: the server's base URL, e.g. `http://127.0.0.1:8000`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `id = "external"`: the path probed for readiness.
    pub probe_path: String,
    /// `id = "external"` without `[proxy] api_key`: pass the client's `Authorization` header
    /// on to the server (off: the server never sees what a client sent Murmur).
    pub forward_authorization: bool,
    pub custom: CustomEngine,
    pub kokoro: KokoroSettings,
}

/// `[engine.kokoro]`: the Kokoro engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KokoroSettings {
    /// `int8` (88 MB, faster on most CPUs) or `fp32` (310 MB, the reference).
    pub model: KokoroModel,
}

/// `[engine.kokoro] model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KokoroModel {
    #[default]
    Int8,
    Fp32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            id: EngineId::default(),
            model: None,
            voice: None,
            speed: 1.0,
            response_format: AudioFormat::Mp3,
            lang_code: "auto".into(),
            language_voices: BTreeMap::new(),
            voices_dir: None,
            url: None,
            probe_path: "/v1/models".into(),
            forward_authorization: false,
            custom: CustomEngine::default(),
            kokoro: KokoroSettings::default(),
        }
    }
}

impl EngineSettings {
    /// Whether going from `self` to `next` needs the engine started again: anything it is
    /// launched with changed. The defaults Murmur fills into requests (speed, voice, format,
    /// language) do not count: the next request uses them.
    pub fn relaunches_for(&self, next: &EngineSettings) -> bool {
        let launch = |e: &EngineSettings| EngineSettings {
            speed: 1.0,
            voice: None,
            response_format: AudioFormat::Mp3,
            lang_code: String::new(),
            language_voices: BTreeMap::new(),
            ..e.clone()
        };
        launch(self) != launch(next)
    }
}

/// `[engine.custom]`: any OpenAI-compatible server Murmur launches and supervises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomEngine {
    /// Program and arguments; `{host}`, `{port}` and `{data_dir}` are substituted, and
    /// `{python}` (with `python_project`) is the provisioned interpreter.
    pub command: Vec<String>,
    /// A uv project (`pyproject.toml` + `uv.lock`) Murmur provisions before the first start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_project: Option<PathBuf>,
    pub probe_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    /// What the server's speech responses hold: `encoded` (already the client's format,
    /// passed through), `wav`, or `pcm` (s16le mono at `sample_rate`); with `wav` or `pcm`
    /// Murmur asks for that and encodes every format itself.
    pub audio: CustomAudio,
    /// `audio = "pcm"`: the rate of the samples (an `X-Audio-Sample-Rate` header wins).
    pub sample_rate: u32,
}

/// `[engine.custom] audio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CustomAudio {
    #[default]
    Encoded,
    Wav,
    Pcm,
}

impl Default for CustomEngine {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            python_project: None,
            probe_path: "/v1/models".into(),
            cwd: None,
            env: BTreeMap::new(),
            audio: CustomAudio::Encoded,
            sample_rate: crate::audio::OUTPUT_RATE,
        }
    }
}
