//! A speech request, typed: OpenAI's fields as Rust values, every other field kept as the
//! client sent it (engines have their own extensions) and passed through.
//!
//! A client's body is parsed once ([`SpeechRequest::parse`], with an error that names the
//! field); Murmur's own requests (the page's Test speech, Wyoming, an engine's first words) are
//! built with [`SpeechRequest::new`]. Either way the engine gets [`SpeechRequest::to_body`].

use serde::Serialize;
use serde_json::{Map, Value};

use crate::api_error::{ApiError, Code};
use crate::audio::Format;
use crate::config::{SPEED, speed_range};
use crate::language;

/// Model names that OpenAI clients send.
pub const OPENAI_MODELS: [&str; 3] = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// Voice names that OpenAI's API documents (and OpenClaw, SillyTavern and the SDKs send).
pub const OPENAI_VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage",
    "shimmer", "verse",
];

/// `POST /v1/audio/speech`'s body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeechRequest {
    input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Format>,
    /// `stream_format: "sse"`: OpenAI's event stream instead of raw audio. Murmur's to honour,
    /// never sent to an engine.
    #[serde(skip)]
    pub sse: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// Kokoro's language code (mlx-audio's and Murmur's Kokoro server read it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang_code: Option<String>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The language `input` is written in, when it is one a voice must speak (Chinese,
    /// Japanese): read off the text once.
    #[serde(skip)]
    language: Option<&'static str>,
}

impl SpeechRequest {
    /// A request to say `input`; every other field left out.
    pub fn new(input: impl Into<String>) -> Self {
        let input = input.into();
        Self {
            language: language::detect(&input),
            input,
            model: None,
            voice: None,
            instructions: None,
            response_format: None,
            sse: false,
            speed: None,
            lang_code: None,
            extra: Map::new(),
        }
    }

    /// A client's body: a JSON object whose known fields have their types; `input` is there
    /// and not blank. (Its length and characters are checked against the settings later.)
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_json(format!("the request body is not valid JSON: {e}")))?;
        let Value::Object(mut fields) = value else {
            return Err(ApiError::bad_json("the request body must be a JSON object"));
        };
        let input = match fields.remove("input") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::String(_)) => {
                return Err(ApiError::invalid(
                    "input",
                    Code::EmptyInput,
                    "`input` must not be empty",
                ));
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    "input",
                    Code::InvalidType,
                    "`input` must be a string",
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    "input",
                    Code::MissingInput,
                    "`input` is required",
                ));
            }
        };
        let mut request = Self::new(input);
        request.model = take_str(&mut fields, "model")?;
        request.voice = take_str(&mut fields, "voice")?;
        request.lang_code = take_str(&mut fields, "lang_code")?;
        request.instructions = take_str(&mut fields, "instructions")?;
        request.response_format = match take_str(&mut fields, "response_format")? {
            None => None,
            Some(name) => Some(Format::from_name(&name).ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                ApiError::invalid(
                    "response_format",
                    Code::InvalidFormat,
                    format!(
                        "`response_format` {name:?} is not one of {}",
                        names.join(", ")
                    ),
                )
            })?),
        };
        request.sse = match take_str(&mut fields, "stream_format")?.as_deref() {
            None | Some("audio") => false,
            Some("sse") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    "stream_format",
                    Code::InvalidStreamFormat,
                    format!("`stream_format` {other:?} is not one of sse, audio"),
                ));
            }
        };
        request.speed = match fields.remove("speed") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_f64().is_some_and(|s| SPEED.contains(&s)) => n.as_f64(),
            Some(_) => {
                return Err(ApiError::invalid(
                    "speed",
                    Code::InvalidSpeed,
                    format!("`speed` must be a number from {}", speed_range()),
                ));
            }
        };
        request.extra = fields;
        Ok(request)
    }

    pub fn input(&self) -> &str {
        &self.input
    }

    /// The language the text is written in, when a voice must speak it (`zh`, `ja`).
    pub fn language(&self) -> Option<&'static str> {
        self.language
    }

    /// Whether the voice is Murmur's to choose: none named, or one of OpenAI's names.
    pub fn voice_is_murmurs(&self) -> bool {
        self.voice
            .as_deref()
            .is_none_or(|v| OPENAI_VOICES.contains(&v))
    }

    /// Whether the model is Murmur's to choose: none named, or one of OpenAI's names.
    pub fn model_is_murmurs(&self) -> bool {
        self.model
            .as_deref()
            .is_none_or(|m| OPENAI_MODELS.contains(&m))
    }

    /// The JSON an engine gets.
    pub fn to_body(&self) -> bytes::Bytes {
        // A struct of strings, numbers and JSON values always serialises.
        serde_json::to_vec(self).map_or_else(|_| bytes::Bytes::new(), bytes::Bytes::from)
    }
}

fn take_str(
    fields: &mut Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, ApiError> {
    match fields.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(
            key,
            Code::InvalidType,
            format!("`{key}` must be a string"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_fields_are_typed_and_the_rest_passed_through() {
        let request = SpeechRequest::parse(
            br#"{"input":"Hi","voice":"nova","speed":1.5,"response_format":"opus","stream_format":"sse","ref_audio":"x","extra":{"a":1}}"#,
        )
        .expect("valid");
        assert_eq!(request.input(), "Hi");
        assert_eq!(request.speed, Some(1.5));
        assert_eq!(request.response_format, Some(Format::Opus));
        assert!(request.sse && request.voice_is_murmurs() && request.model_is_murmurs());
        let body: Value = serde_json::from_slice(&request.to_body()).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"input":"Hi","voice":"nova","speed":1.5,"response_format":"opus","ref_audio":"x","extra":{"a":1}})
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        for (body, param, code) in [
            (r#"{}"#, "input", Code::MissingInput),
            (r#"{"input":" "}"#, "input", Code::EmptyInput),
            (r#"{"input":3}"#, "input", Code::InvalidType),
            (r#"{"input":"x","voice":3}"#, "voice", Code::InvalidType),
            (r#"{"input":"x","speed":9}"#, "speed", Code::InvalidSpeed),
            (
                r#"{"input":"x","response_format":"ogg"}"#,
                "response_format",
                Code::InvalidFormat,
            ),
            (
                r#"{"input":"x","stream_format":"ws"}"#,
                "stream_format",
                Code::InvalidStreamFormat,
            ),
        ] {
            let err = SpeechRequest::parse(body.as_bytes()).expect_err(body);
            assert_eq!((err.param, err.code), (Some(param), code), "{body}");
        }
        let err = SpeechRequest::parse(b"[1]").expect_err("not an object");
        assert_eq!(err.code, Code::InvalidJson);
    }

    #[test]
    fn the_text_language_is_read_once_on_creation() {
        assert_eq!(SpeechRequest::new("你好").language(), Some("zh"));
        assert_eq!(SpeechRequest::new("Hello").language(), None);
    }
}
