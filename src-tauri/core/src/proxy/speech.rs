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

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::api_error::ApiError;
use crate::audio::{EngineAudio, Format};
use crate::config::Settings;
use crate::engine;
use crate::language::{self, Voice};

/// Model names that OpenAI clients send.
pub const OPENAI_MODELS: [&str; 3] = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// Voice names that OpenAI's API documents (and OpenClaw, SillyTavern and the SDKs send).
pub const OPENAI_VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage",
    "shimmer", "verse",
];

/// The values used for fields a request leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub model: Option<String>,
    pub voice: Option<String>,
    pub speed: f64,
    pub response_format: Format,
    /// `auto`, or a fixed code.
    pub lang_code: String,
    /// What the engine answers with, so what to ask it for.
    pub audio: EngineAudio,
    /// The longest `input`, in characters.
    pub max_input_chars: u64,
}

/// A checked speech request: what to send the engine and what the client gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The request body for the engine.
    pub body: Bytes,
    /// The format the client asked for (or the default).
    pub format: Format,
    /// `stream_format: "sse"`: OpenAI's event stream instead of raw audio.
    pub sse: bool,
    /// The voice the engine is asked for, when known (told to the client in a header).
    pub voice: Option<String>,
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
            audio: engine::audio(settings),
            max_input_chars: settings.proxy.max_input_chars,
        }
    }
}

/// The language a request's text needs a voice for, when the voice is Murmur's to choose
/// (none named, or an OpenAI name) and the text is Chinese or Japanese: the caller then passes
/// the engine's voices to [`prepare`]. `None` for anything [`prepare`] would refuse.
pub fn voice_language(body: &[u8]) -> Option<&'static str> {
    let request: Map<String, Value> = serde_json::from_slice(body).ok()?;
    let named = match request.get("voice") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v.as_str()),
        Some(_) => return None,
    };
    if named.is_some_and(|v| !OPENAI_VOICES.contains(&v)) {
        return None;
    }
    language::detect(request.get("input")?.as_str()?)
}

/// Validate a speech request body and work out what to send the engine. `voices`, the
/// engine's installed voices, lets a Chinese or Japanese text get a voice that speaks it.
pub fn prepare(
    body: &[u8],
    defaults: &Defaults,
    voices: Option<&[Voice]>,
) -> Result<Prepared, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_json(format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(mut request) = value else {
        return Err(ApiError::bad_json("the request body must be a JSON object"));
    };

    let input = match request.get("input") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err(ApiError::invalid(
                "input",
                "empty_input",
                "`input` must not be empty",
            ));
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "input",
                "invalid_type",
                "`input` must be a string",
            ));
        }
        None => {
            return Err(ApiError::invalid(
                "input",
                "missing_input",
                "`input` is required",
            ));
        }
    };
    check_input(&input, defaults.max_input_chars)?;
    let model = optional_str(&request, "model")?;
    let voice = optional_str(&request, "voice")?;
    let lang = optional_str(&request, "lang_code")?;
    optional_str(&request, "instructions")?;
    let format = match optional_str(&request, "response_format")? {
        None => defaults.response_format,
        Some(name) => Format::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            ApiError::invalid(
                "response_format",
                "invalid_format",
                format!(
                    "`response_format` {name:?} is not one of {}",
                    names.join(", ")
                ),
            )
        })?,
    };
    let sse = match optional_str(&request, "stream_format")?.as_deref() {
        None | Some("audio") => false,
        Some("sse") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "stream_format",
                "invalid_stream_format",
                format!("`stream_format` {other:?} is not one of sse, audio"),
            ));
        }
    };
    request.remove("stream_format");
    match request.get("speed") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_f64().is_some_and(|s| (0.25..=4.0).contains(&s)) => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "speed",
                "invalid_speed",
                "`speed` must be a number from 0.25 to 4.0",
            ));
        }
    }

    let replace_model = model.as_deref().is_none_or(|m| OPENAI_MODELS.contains(&m));
    if replace_model && let Some(default) = &defaults.model {
        request.insert("model".into(), default.clone().into());
    }
    let replace_voice = voice.as_deref().is_none_or(|v| OPENAI_VOICES.contains(&v));
    let detected = language::detect(&input);
    let mut chosen = if replace_voice {
        defaults.voice.clone()
    } else {
        voice.clone()
    };
    if replace_voice && let (Some(wanted), Some(voices)) = (detected, voices) {
        chosen = voice_for(wanted, chosen, voices)?;
    }
    if replace_voice && let Some(chosen) = &chosen {
        request.insert("voice".into(), chosen.clone().into());
    }
    if request.get("speed").is_none_or(Value::is_null) {
        request.insert("speed".into(), defaults.speed.into());
    }
    // An engine that hands Murmur raw audio is asked for exactly that; Murmur encodes.
    let engine_format = defaults.audio.request_format().unwrap_or(format);
    request.insert("response_format".into(), engine_format.as_str().into());
    if lang.is_none() {
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
        request.insert("lang_code".into(), code.into());
    }
    let body = serde_json::to_vec(&request)
        .map(Bytes::from)
        .map_err(|e| ApiError::bad_json(format!("cannot re-encode the request: {e}")))?;
    Ok(Prepared {
        body,
        format,
        sse,
        voice: chosen,
    })
}

/// The voice for a text in `wanted` when the client left the voice to Murmur: `default` if it
/// speaks `wanted` (or its language is unknown), else the first installed voice that does.
/// No such voice is a 400: silence or a voice spelling out foreign letters is worse.
fn voice_for(
    wanted: &str,
    default: Option<String>,
    voices: &[Voice],
) -> Result<Option<String>, ApiError> {
    let default_language = default.as_deref().and_then(|id| {
        voices
            .iter()
            .find(|v| v.id == id)
            .and_then(|v| v.language.clone())
            .or_else(|| language::kokoro_language(id).map(String::from))
    });
    match default_language {
        None => Ok(default),
        Some(language) if language::primary(&language) == wanted => Ok(default),
        Some(_) => match voices.iter().find(|v| v.speaks(wanted)) {
            Some(voice) => Ok(Some(voice.id.clone())),
            None => {
                let installed: Vec<String> = voices
                    .iter()
                    .map(|v| match &v.language {
                        Some(l) => format!("{} ({l})", v.id),
                        None => v.id.clone(),
                    })
                    .collect();
                Err(ApiError::invalid(
                    "input",
                    "no_voice_for_language",
                    format!(
                        "the text is {} ({wanted}), and no installed voice speaks it (installed: {}); \
                         name a voice with `voice`, or use an engine with {} voices (MLX Audio's Kokoro has them)",
                        language::name(wanted),
                        if installed.is_empty() {
                            "none".to_string()
                        } else {
                            installed.join(", ")
                        },
                        language::name(wanted),
                    ),
                ))
            }
        },
    }
}

/// Text an engine can read: not longer than the limit, and no control characters but
/// whitespace (a NUL reaches a Python engine as a crash, not as a pause).
fn check_input(input: &str, max_chars: u64) -> Result<(), ApiError> {
    let chars = input.chars().count() as u64;
    if chars > max_chars {
        return Err(ApiError::invalid(
            "input",
            "input_too_long",
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
            "invalid_characters",
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
            "nothing_to_say",
            "`input` has no letters or digits to speak",
        ));
    }
    Ok(())
}

fn optional_str(
    request: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, ApiError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            key,
            "invalid_type",
            format!("`{key}` must be a string"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            model: Some("kokoro".into()),
            voice: Some("af_heart".into()),
            speed: 1.25,
            response_format: Format::Wav,
            lang_code: "auto".into(),
            audio: EngineAudio::Encoded,
            max_input_chars: 20,
        }
    }

    fn prepared(body: &str) -> Map<String, Value> {
        let out = prepare(body.as_bytes(), &defaults(), None).expect("valid request");
        serde_json::from_slice(&out.body).expect("json object")
    }

    #[test]
    fn an_engine_of_raw_audio_is_asked_for_it_and_the_client_format_kept() {
        let mut defaults = defaults();
        defaults.audio = EngineAudio::Pcm { rate: 22050 };
        defaults.response_format = Format::Mp3;
        let out = prepare(
            br#"{"input":"hi","stream_format":"sse","instructions":"calm"}"#,
            &defaults,
            None,
        )
        .expect("valid");
        assert_eq!((out.format, out.sse), (Format::Mp3, true));
        let sent: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
        assert_eq!(sent["response_format"], "pcm");
        assert_eq!(sent["instructions"], "calm");
        assert!(!sent.contains_key("stream_format"), "{sent:?}");
        defaults.audio = EngineAudio::Wav;
        let out = prepare(
            br#"{"input":"hi","response_format":"opus"}"#,
            &defaults,
            None,
        )
        .expect("ok");
        assert_eq!((out.format, out.sse), (Format::Opus, false));
        let sent: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
        assert_eq!(sent["response_format"], "wav");
    }

    #[test]
    fn whitespace_controls_pass_and_the_limit_counts_characters() {
        let out = prepared("{\"input\":\"one\\ttwo\\nthree\\r\"}");
        assert_eq!(out["input"], "one\ttwo\nthree\r");
        // 20 characters of 3 bytes each: within a 20-character limit.
        prepared(&format!(r#"{{"input":"{}"}}"#, "語".repeat(20)));
        let err = prepare(br#"{"input":"x\u0000"}"#, &defaults(), None).expect_err("NUL");
        assert_eq!(err.code, "invalid_characters");
    }

    #[test]
    fn every_openai_voice_means_the_configured_one() {
        for voice in OPENAI_VOICES {
            let out = prepared(&format!(r#"{{"input":"hi","voice":"{voice}"}}"#));
            assert_eq!(out["voice"], "af_heart", "{voice}");
        }
    }

    #[test]
    fn missing_fields_are_filled_and_unknown_ones_kept() {
        let out = prepared(r#"{"input":"Hello there.","extra":{"x":1}}"#);
        assert_eq!(out["model"], "kokoro");
        assert_eq!(out["voice"], "af_heart");
        assert_eq!(out["speed"], 1.25);
        assert_eq!(out["response_format"], "wav");
        assert_eq!(out["lang_code"], "a");
        assert_eq!(out["extra"]["x"], 1);
    }

    #[test]
    fn openai_names_become_the_configured_ones_but_others_stay() {
        let out = prepared(r#"{"input":"hi","model":"tts-1-hd","voice":"nova"}"#);
        assert_eq!(
            (out["model"].as_str(), out["voice"].as_str()),
            (Some("kokoro"), Some("af_heart"))
        );
        let out = prepared(
            r#"{"input":"hi","model":"mine","voice":"bf_emma","speed":2,"response_format":"pcm","lang_code":"b"}"#,
        );
        assert_eq!(out["model"], "mine");
        assert_eq!(out["voice"], "bf_emma");
        assert_eq!(out["speed"], 2);
        assert_eq!(out["response_format"], "pcm");
        assert_eq!(out["lang_code"], "b");
    }

    #[test]
    fn language_is_detected_from_the_text() {
        assert_eq!(
            prepared(r#"{"input":"こんにちは、世界"}"#)["lang_code"],
            "j"
        );
        assert_eq!(prepared(r#"{"input":"カタカナ"}"#)["lang_code"], "j");
        assert_eq!(prepared(r#"{"input":"你好"}"#)["lang_code"], "z");
        assert_eq!(prepared(r#"{"input":"Bonjour"}"#)["lang_code"], "a");
        assert_eq!(
            prepared(r#"{"input":"Hi","voice":"bf_emma"}"#)["lang_code"],
            "b",
            "a British voice reads English the British way"
        );
    }

    fn kokoro_voices() -> Vec<Voice> {
        ["af_heart", "bf_emma", "jf_alpha", "zf_xiaobei", "zm_yunxi"]
            .map(|id| Voice::new(id, id, None))
            .to_vec()
    }

    #[test]
    fn a_text_in_another_language_gets_a_voice_that_speaks_it() {
        let voices = kokoro_voices();
        let route = |body: &str| {
            let out = prepare(body.as_bytes(), &defaults(), Some(&voices)).expect("valid");
            let sent: Map<String, Value> = serde_json::from_slice(&out.body).expect("json");
            (out.voice, sent["voice"].clone(), sent["lang_code"].clone())
        };
        let (voice, sent, lang) = route(r#"{"input":"你好"}"#);
        assert_eq!(voice.as_deref(), Some("zf_xiaobei"));
        assert_eq!((sent, lang), ("zf_xiaobei".into(), "z".into()));
        let (voice, _, lang) = route(r#"{"input":"こんにちは","voice":"alloy"}"#);
        assert_eq!((voice.as_deref(), lang), (Some("jf_alpha"), "j".into()));
        // English with one character stays with the configured voice.
        let (voice, ..) = route(r#"{"input":"Sign: 愛 is love"}"#);
        assert_eq!(voice.as_deref(), Some("af_heart"));
        // A voice the client named is theirs, whatever the text.
        let (voice, ..) = route(r#"{"input":"你好","voice":"af_heart"}"#);
        assert_eq!(voice.as_deref(), Some("af_heart"));
        assert_eq!(
            voice_language(r#"{"input":"你好","voice":"af_heart"}"#.as_bytes()),
            None
        );
        assert_eq!(
            voice_language(r#"{"input":"你好","voice":"nova"}"#.as_bytes()),
            Some("zh")
        );
    }

    #[test]
    fn no_voice_for_the_language_is_a_400_that_says_so() {
        let piper = [Voice::new("joe", "Joe", Some("en_US"))];
        let mut defaults = defaults();
        defaults.voice = Some("joe".into());
        let err = prepare("{\"input\":\"你好\"}".as_bytes(), &defaults, Some(&piper))
            .expect_err("no Chinese voice");
        assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "no_voice_for_language");
        assert!(err.message.contains("Chinese (zh)"), "{}", err.message);
        assert!(err.message.contains("joe (en-US)"), "{}", err.message);
        // English is fine.
        prepare(br#"{"input":"Hello"}"#, &defaults, Some(&piper)).expect("English");
    }

    #[test]
    fn bad_requests_name_the_field() {
        let cases = [
            (r#"{"input":""}"#, Some("input")),
            (r#"{"input":"  "}"#, Some("input")),
            (r#"{"model":"tts-1"}"#, Some("input")),
            (r#"{"input":42}"#, Some("input")),
            (r#"{"input":"a","voice":7}"#, Some("voice")),
            (r#"{"input":"a","speed":9}"#, Some("speed")),
            (r#"{"input":"a","speed":"fast"}"#, Some("speed")),
            (
                r#"{"input":"a","response_format":"ogg"}"#,
                Some("response_format"),
            ),
            (
                r#"{"input":"a","stream_format":"chunks"}"#,
                Some("stream_format"),
            ),
            (r#"{"input":"a","instructions":5}"#, Some("instructions")),
            (r#"{"input":"hello\u0000world"}"#, Some("input")),
            (r#"{"input":"bell\u0007"}"#, Some("input")),
            (r#"{"input":"twenty-one characters"}"#, Some("input")),
            (r#"{"input":"... !?"}"#, Some("input")),
            (r#"["input"]"#, None),
            (r#"{"input":"a""#, None),
        ];
        for (body, param) in cases {
            let err = prepare(body.as_bytes(), &defaults(), None).expect_err(body);
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err.param, param, "{body}");
        }
    }
}
