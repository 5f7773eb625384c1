//! Checking a speech request and filling what the client left out.
//!
//! Clients written for OpenAI hard-code its model and voice names; a local engine knows none
//! of them. So `tts-1` and friends mean "the configured model", OpenAI's voice names mean "the
//! configured voice", and missing fields are filled from settings. Fields Murmur does not know
//! are passed through untouched: engines have their own extensions.
//!
//! The client's `response_format` (OpenAI's default: mp3) and `stream_format` are Murmur's to
//! honour: an engine that hands Murmur raw audio is asked for that, and the audio pipeline
//! makes the format.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::Value;

use crate::api_error::{ApiError, Code};
use crate::audio::{EngineAudio, Format};
use crate::config::Settings;
use crate::engine;
use crate::language::{self, Voice};
pub use crate::speech_request::{OPENAI_MODELS, OPENAI_VOICES, SpeechRequest};

/// The values used for fields a request leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub model: Option<String>,
    pub voice: Option<String>,
    pub speed: f64,
    pub response_format: Format,
    /// `auto`, or a fixed code.
    pub lang_code: String,
    /// The voice for a text in another language, by primary language subtag.
    pub language_voices: BTreeMap<String, String>,
    /// What the engine answers with, so what to ask it for.
    pub audio: EngineAudio,
    /// Ask the engine to stream (`"stream": true`).
    pub stream: bool,
    /// The longest `input`, in characters.
    pub max_input_chars: u64,
    /// The engine loads whatever model a request names (mlx-audio): only the configured one
    /// (or an OpenAI name for it) is accepted.
    pub pinned_model: bool,
    /// Murmur runs the engine: fields naming files on its machine are dropped (no client
    /// should learn which files exist there through it).
    pub managed: bool,
}

/// A checked speech request: what to send the engine and what the client gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The request body for the engine.
    pub body: Bytes,
    /// The format the client asked for (or the default).
    pub format: Format,
    /// `stream_format: "sse"`: OpenAI's event stream instead of raw audio.
    pub sse: bool,
    /// The voice the engine is asked for, when known (told to the client in a header).
    pub voice: Option<String>,
    /// The text is Chinese or Japanese and its voice is Murmur's to choose: with the engine's
    /// voices (see [`check`]'s `voices`) it gets one that speaks it.
    pub voice_language: Option<&'static str>,
}

impl Defaults {
    /// From settings, with the engine's own model and voice when settings name none.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            model: engine::effective_model(settings),
            voice: engine::effective_voice(settings),
            speed: settings.engine.speed,
            response_format: settings.engine.response_format,
            lang_code: settings.engine.lang_code.clone(),
            language_voices: settings.engine.language_voices.clone(),
            audio: engine::audio(settings),
            stream: engine::asks_to_stream(settings),
            max_input_chars: settings.proxy.max_input_chars,
            pinned_model: engine::of(settings.engine.id).pins_model(),
            managed: settings.engine.id != crate::config::EngineId::External,
        }
    }
}

/// Check `request` against the settings and work out what to send the engine. `voices`, the
/// engine's installed voices, lets a Chinese or Japanese text get a voice that speaks it (ask
/// for them only when [`SpeechRequest::language`] says so and the voice is Murmur's to choose).
pub fn check(
    mut request: SpeechRequest,
    defaults: &Defaults,
    voices: Option<&[Voice]>,
) -> Result<Checked, ApiError> {
    check_input(request.input(), defaults.max_input_chars)?;
    let format = request.response_format.unwrap_or(defaults.response_format);
    let sse = request.sse;
    let replace_model = request.model_is_murmurs();
    if defaults.pinned_model
        && !replace_model
        && let Some(configured) = &defaults.model
        && request.model.as_ref() != Some(configured)
    {
        return Err(ApiError::invalid(
            "model",
            Code::ModelNotAvailable,
            format!(
                "this engine serves {configured:?} only; set [engine] model to use another model"
            ),
        ));
    }
    if defaults.managed {
        request.extra.retain(|key, value| !names_a_file(key, value));
    }
    if replace_model && let Some(default) = &defaults.model {
        request.model = Some(default.clone());
    }
    let replace_voice = request.voice_is_murmurs();
    let detected = request.language();
    let mut chosen = if replace_voice {
        defaults.voice.clone()
    } else {
        request.voice.clone()
    };
    if replace_voice && let (Some(wanted), Some(voices)) = (detected, voices) {
        chosen = super::voices::choose(wanted, chosen, &defaults.language_voices, voices)?;
    }
    if replace_voice && chosen.is_some() {
        request.voice = chosen.clone();
    }
    request.speed = Some(request.speed.unwrap_or(defaults.speed));
    // An engine that hands Murmur raw audio is asked for exactly that; Murmur encodes.
    request.response_format = Some(defaults.audio.request_format().unwrap_or(format));
    if defaults.stream {
        request.extra.insert("stream".into(), true.into());
    }
    if request.lang_code.is_none() {
        let code = if defaults.lang_code == "auto" {
            let voice_language = chosen.as_deref().and_then(language::kokoro_language);
            detected
                .or(voice_language)
                .and_then(language::kokoro_lang_code)
                .unwrap_or("a")
                .to_string()
        } else {
            defaults.lang_code.clone()
        };
        request.lang_code = Some(code);
    }
    Ok(Checked {
        body: request.to_body(),
        format,
        sse,
        voice: chosen,
        voice_language: detected.filter(|_| replace_voice),
    })
}

/// Fields of a speech request that name a file on the engine's machine: mlx-audio's
/// `ref_audio` (a voice to clone, read from disk), and any other extra field whose text is a
/// path. OpenAI's own fields are checked above and kept.
fn names_a_file(key: &str, value: &Value) -> bool {
    const OPENAI_FIELDS: [&str; 9] = [
        "input",
        "model",
        "voice",
        "instructions",
        "response_format",
        "speed",
        "stream_format",
        "lang_code",
        "stream",
    ];
    if OPENAI_FIELDS.contains(&key) {
        return false;
    }
    if key == "ref_audio" {
        return true;
    }
    value.as_str().is_some_and(|text| {
        let text = text.trim_start();
        text.starts_with('/')
            || text.starts_with('~')
            || text.starts_with("file:")
            || text.starts_with("\\\\")
            || text.contains("../")
            || text.as_bytes().get(1..3) == Some(b":\\")
    })
}

/// Text an engine can read: not longer than the limit, and no control characters but
/// whitespace (a NUL reaches a Python engine as a crash, not as a pause).
fn check_input(input: &str, max_chars: u64) -> Result<(), ApiError> {
    let chars = input.chars().count() as u64;
    if chars > max_chars {
        return Err(ApiError::invalid(
            "input",
            Code::InputTooLong,
            format!(
                "`input` has {chars} characters; the limit is {max_chars} (proxy.max_input_chars): split the text, or raise the limit"
            ),
        ));
    }
    if let Some((at, c)) = input
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ApiError::invalid(
            "input",
            Code::InvalidCharacters,
            format!(
                "`input` has the control character U+{:04X} at character {at}; remove it",
                u32::from(c)
            ),
        ));
    }
    // An engine makes no sound of text with nothing to read ("…", "🙂"): an empty answer
    // that would be a 502; the client's mistake is better told as one.
    if !input.chars().any(char::is_alphanumeric) {
        return Err(ApiError::invalid(
            "input",
            Code::NothingToSay,
            "`input` has no letters or digits to speak",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
