//! Checking a speech request and filling what the client left out.
//!
//! Clients written for OpenAI hard-code its model and voice names; a local engine knows none
//! of them. So `tts-1` and friends mean "the configured model", OpenAI's voice names mean "the
//! configured voice", and missing fields are filled from settings. Fields Murmur does not know
//! are passed through untouched: engines have their own extensions.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::config::{AudioFormat, Settings};
use crate::engine;

/// Model names that OpenAI clients send.
pub const OPENAI_MODELS: [&str; 3] = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// Voice names that OpenAI clients send.
pub const OPENAI_VOICES: [&str; 11] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
];

const FORMATS: [&str; 6] = ["mp3", "opus", "aac", "flac", "wav", "pcm"];

/// The values used for fields a request leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub model: Option<String>,
    pub voice: Option<String>,
    pub speed: f64,
    pub response_format: AudioFormat,
    /// `auto`, or a fixed code.
    pub lang_code: String,
}

impl Defaults {
    /// From settings, with the engine's own model and voice when settings name none.
    pub fn from_settings(settings: &Settings) -> Self {
        let spec = engine::spec(settings.engine.id);
        Self {
            model: settings
                .engine
                .model
                .clone()
                .or(spec.default_model.map(String::from)),
            voice: settings
                .engine
                .voice
                .clone()
                .or(spec.default_voice.map(String::from)),
            speed: settings.engine.speed,
            response_format: settings.engine.response_format,
            lang_code: settings.engine.lang_code.clone(),
        }
    }
}

/// Validate a speech request body and return the body to send to the engine.
pub fn prepare(body: &[u8], defaults: &Defaults) -> Result<Bytes, ApiError> {
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
    let model = optional_str(&request, "model")?;
    let voice = optional_str(&request, "voice")?;
    let format = optional_str(&request, "response_format")?;
    let lang = optional_str(&request, "lang_code")?;
    if let Some(format) = &format
        && !FORMATS.contains(&format.as_str())
    {
        return Err(ApiError::invalid(
            "response_format",
            "invalid_format",
            format!(
                "`response_format` {format:?} is not one of {}",
                FORMATS.join(", ")
            ),
        ));
    }
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
    if replace_voice && let Some(default) = &defaults.voice {
        request.insert("voice".into(), default.clone().into());
    }
    if request.get("speed").is_none_or(Value::is_null) {
        request.insert("speed".into(), defaults.speed.into());
    }
    if format.is_none() {
        let name = serde_json::to_value(defaults.response_format).unwrap_or_else(|_| "wav".into());
        request.insert("response_format".into(), name);
    }
    if lang.is_none() {
        let code = if defaults.lang_code == "auto" {
            detect_lang(&input).to_string()
        } else {
            defaults.lang_code.clone()
        };
        request.insert("lang_code".into(), code.into());
    }
    serde_json::to_vec(&request)
        .map(Bytes::from)
        .map_err(|e| ApiError::bad_json(format!("cannot re-encode the request: {e}")))
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

/// Kokoro's language code for a text: `j` if it has kana, `z` if it has CJK ideographs,
/// otherwise `a` (American English).
pub fn detect_lang(text: &str) -> &'static str {
    let kana = |c: char| matches!(c, '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}');
    let cjk = |c: char| matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}');
    if text.chars().any(kana) {
        "j"
    } else if text.chars().any(cjk) {
        "z"
    } else {
        "a"
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
            response_format: AudioFormat::Wav,
            lang_code: "auto".into(),
        }
    }

    fn prepared(body: &str) -> Map<String, Value> {
        let out = prepare(body.as_bytes(), &defaults()).expect("valid request");
        serde_json::from_slice(&out).expect("json object")
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
        assert_eq!(detect_lang("こんにちは、世界"), "j");
        assert_eq!(detect_lang("カタカナ"), "j");
        assert_eq!(detect_lang("你好，世界"), "z");
        assert_eq!(detect_lang("Bonjour"), "a");
        assert_eq!(prepared(r#"{"input":"你好"}"#)["lang_code"], "z");
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
            (r#"["input"]"#, None),
            (r#"{"input":"a""#, None),
        ];
        for (body, param) in cases {
            let err = prepare(body.as_bytes(), &defaults()).expect_err(body);
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err.param, param, "{body}");
        }
    }
}
